"""MNIST and Frey Face: find, download, verify, read, split and binarize.

The paper trains on both (Section 5) but does not state its data protocol;
the choices here are explicit, switchable, and recorded in every run's config.

Files are found, downloaded, verified and parsed by :mod:`aevb.io.datafiles`
(re-exported here); this module turns them into datasets.

Splits (``split=``):

* MNIST ``train``: the first 50,000 official training images; ``validation``:
  the last 10,000; ``test``: the official 10,000; ``train_full``: all 60,000.
  (Figure 3's N_train = 50000 suggests this split.)
* Frey Face: 1,965 frames of 28 x 20, scaled by 1/256 as the authors' code
  does (so values lie in [0, 255/256]). ``test``: 365 frames chosen at random
  once, ``train``: the other 1,600 (the authors' code also holds out 365 of
  a shuffled set), ``all``: 1,965, in the file's order. The choice is fixed:
  frames are ordered by the raw 64-bit outputs of ``numpy.random.PCG64(2014)``,
  a stream NumPy keeps stable across versions, and the first 365 are held out
  (:func:`frey_test_frames`). Frames are video stills, so held-out frames have
  close neighbours in the training set, as in the paper's split.

Binarization (``BINARIZE``), MNIST only: ``none`` uses grey levels as
Bernoulli means; ``dynamic`` draws every pixel afresh from Bernoulli(grey
level) each time a minibatch is used; ``fixed`` draws once, with a seed;
``threshold`` sets a pixel to 1 where its grey level is above 0.5. A run's
training digits take one of ``BINARIZE`` and its test digits one of
``TEST_BINARIZE`` (the paper states neither).
"""
from dataclasses import dataclass, replace

import numpy as np

from .datafiles import (CHECKSUMS, DATASETS, FILES, MIRRORS, ChecksumError, DataError,
                        MissingDataError, _read, download_file, downloads_allowed, locate,
                        default_data_dir, parse_frey, parse_idx, read_verified, search_dirs,
                        status)

__all__ = [  # the datasets, and the file handling of aevb.io.datafiles re-exported
    "Dataset", "mnist", "frey_face", "load_dataset", "load_mnist", "load_frey_face",
    "binarize", "check_binarize", "frey_test_frames", "BINARIZE", "TEST_BINARIZE", "MNIST_SPLITS",
    "FREY_SPLITS", "DATASETS", "CHECKSUMS", "FILES", "MIRRORS", "DataError",
    "MissingDataError", "ChecksumError", "download_file", "downloads_allowed", "locate",
    "parse_frey", "parse_idx", "read_verified", "search_dirs", "status", "default_data_dir"]
BINARIZE = ("none", "dynamic", "fixed")          # the training digits (--binarize)
TEST_BINARIZE = ("fixed", "threshold")           # the test digits (--test-binarize)
_MODES = BINARIZE + ("threshold",)
MNIST_SPLITS = ("train", "validation", "test", "train_full")
FREY_SPLITS = ("train", "test", "all")
N_MNIST_TRAIN = 50_000
N_FREY_TRAIN = 1_600
MNIST_SCALE = 1.0 / 255.0
FREY_SCALE = 1.0 / 256.0     # the authors' code divides by 256


# ---------------------------------------------------------------- datasets

@dataclass
class Dataset:
    """A dataset held once, compactly; converted to floats a minibatch at a time.

    Attributes
    ----------
    images : ndarray, shape (n, D)
        uint8 pixels (or floats already in [0, 1], then ``scale`` is 1).
    scale : float
        ``images * scale`` lies in [0, 1].
    image_shape : tuple
        (28, 28) for MNIST, (28, 20) for Frey Face.
    labels : ndarray of shape (n,), or None
    name, split : str
    binarize : str
        How this data is binarized (``BINARIZE``); ``dynamic`` means each
        minibatch is drawn afresh by :meth:`batch`.
    """
    images: np.ndarray
    scale: float
    image_shape: tuple
    labels: object = None
    name: str = ""
    split: str = ""
    binarize: str = "none"

    def __len__(self):
        return self.images.shape[0]

    @property
    def n_features(self):
        return self.images.shape[1]

    def batch(self, idx, dtype=np.float64, rng=None):
        """Rows ``idx`` as floats in [0, 1] of ``dtype``, binarized afresh if dynamic."""
        x = self.images[idx].astype(dtype)
        if self.scale != 1.0:
            x *= self.scale
        if self.binarize == "dynamic":
            x = binarize(x, rng)
        return x

    def to_float(self, dtype=np.float64):
        """All rows as floats (for a small set; training uses :meth:`batch`)."""
        return self.batch(slice(None), dtype)

    def with_binarization(self, mode, rng=None):
        """This data binarized by ``mode`` (``none``, ``dynamic``, ``fixed`` or ``threshold``).

        ``fixed`` draws every pixel once from Bernoulli(grey level) with ``rng``,
        ``threshold`` keeps the pixels whose grey level is above 0.5; both store
        the result as uint8 0/1.
        """
        mode = check_binarize(mode, _MODES)
        if mode in ("fixed", "threshold"):
            rng = np.random.default_rng(rng)
            bits = np.empty(self.images.shape, np.uint8)
            for start in range(0, len(self), 1000):       # never a float copy of it all
                rows = slice(start, start + 1000)
                grey = self.batch(rows, np.float64)
                bits[rows] = binarize(grey, rng) if mode == "fixed" else grey > 0.5
            return replace(self, images=bits, scale=1.0, binarize=mode)
        return replace(self, binarize=mode)


def check_binarize(mode, allowed=BINARIZE):
    if mode not in allowed:
        raise ValueError(f"unknown binarization {mode!r}: choose from {allowed}")
    return mode


def binarize(x, rng=None):
    """A Bernoulli draw of every pixel: 1 with probability ``x`` (float32 or float64)."""
    rng = np.random.default_rng(rng)
    return (rng.random(x.shape, dtype=x.dtype) < x).astype(x.dtype)


def mnist(split="train", data_dir=None, download=None):
    """MNIST as a uint8 :class:`Dataset` of shape (n, 784), with labels."""
    if split not in MNIST_SPLITS:
        raise ValueError(f"unknown MNIST split {split!r}: choose from {MNIST_SPLITS}")
    prefix = "t10k" if split == "test" else "train"
    images = _read(f"{prefix}-images-idx3-ubyte.gz", data_dir, download,
                   lambda raw, p: parse_idx(raw, p, 3))
    labels = _read(f"{prefix}-labels-idx1-ubyte.gz", data_dir, download,
                   lambda raw, p: parse_idx(raw, p, 1))
    if images.shape[1:] != (28, 28) or labels.shape[0] != images.shape[0]:
        raise DataError(f"MNIST {prefix} files hold images {images.shape} and labels "
                        f"{labels.shape}; expected (n, 28, 28) and (n,)")
    rows = {"train": slice(0, N_MNIST_TRAIN), "validation": slice(N_MNIST_TRAIN, None)
            }.get(split, slice(None))
    images = images.reshape(-1, 784)[rows]
    return Dataset(images, MNIST_SCALE, (28, 28), labels[rows], "mnist", split)


def frey_face(split="train", data_dir=None, download=None):
    """Frey Face as a uint8 :class:`Dataset` of shape (n, 560), scaled by 1/256."""
    if split not in FREY_SPLITS:
        raise ValueError(f"unknown Frey Face split {split!r}: choose from {FREY_SPLITS}")
    images = _read("frey_rawface.mat", data_dir, download, parse_frey)
    if split != "all":
        test = np.zeros(len(images), bool)
        test[frey_test_frames(len(images))] = True
        images = images[test if split == "test" else ~test]
    return Dataset(images, FREY_SCALE, (28, 20), None, "frey", split)


def frey_test_frames(n=1965, n_test=1965 - N_FREY_TRAIN):
    """Indices (sorted) of the held-out Frey Face frames (module docstring)."""
    order = np.argsort(np.random.PCG64(2014).random_raw(n), kind="stable")
    return np.sort(order[:n_test])


def load_dataset(name, split, data_dir=None, download=None):
    """:func:`~aevb.io.datasets.mnist` or :func:`~aevb.io.datasets.frey_face` by name."""
    if name == "mnist":
        return mnist(split, data_dir, download)
    if name == "frey":
        return frey_face(split, data_dir, download)
    raise ValueError(f"unknown dataset {name!r}: choose from {DATASETS}")


def load_mnist(split="train", data_dir=None, dtype=np.float64, binarize="none", rng=None,
               return_labels=False, download=None):
    """MNIST as floats in [0, 1], shape (n, 784).

    ``binarize`` is ``none`` (grey levels) or ``fixed`` (one Bernoulli draw
    with ``rng``); ``dynamic`` applies to training minibatches, not to a
    returned array, so it is refused here.
    """
    if check_binarize(binarize) == "dynamic":
        raise ValueError("binarize='dynamic' redraws each minibatch during training; "
                         "load_mnist returns one array: use 'none' or 'fixed'")
    data = mnist(split, data_dir, download).with_binarization(binarize, rng)
    x = data.to_float(dtype)
    return (x, np.array(data.labels)) if return_labels else x


def load_frey_face(split="train", data_dir=None, dtype=np.float64, download=None):
    """Frey Face as floats in [0, 255/256], shape (n, 560)."""
    return frey_face(split, data_dir, download).to_float(dtype)
