"""MNIST and Frey Face: find, download, verify, read, split and binarize.

The paper trains on both (Section 5) but does not state its data protocol;
the choices here are explicit, switchable, and recorded in every run's config.

Where files are looked for, in order:

1. an explicit ``data_dir`` argument (``--data-dir`` on the command line);
2. the ``AEVB_DATA_DIR`` environment variable;
3. ``data/`` under the current directory (the project's ``data/`` folder when
   run from the project root).

A file is used only after the SHA-256 of its *decompressed* bytes matches
(``CHECKSUMS``), so a copy from any mirror passes whatever its gzip settings.
A missing file is downloaded, if allowed, from a list of mirrors into the
first of those folders, written under a temporary name and renamed only once
verified. Downloads are off when ``download=False`` or ``AEVB_OFFLINE=1``.

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
level) each time a minibatch is used; ``fixed`` draws once, with a seed.
"""
import gzip
import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

CHECKSUMS = {   # SHA-256 of the decompressed bytes (.gz) or of the file (.mat)
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "frey_rawface.mat": "265a83a23adb081755cd3de375509828e690324d1d60f076b8ecebc840d59c64",
}
MIRRORS = {      # tried in order; each is a folder URL
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "frey": ["https://cs.nyu.edu/~roweis/data/",
             "https://www.cs.nyu.edu/~roweis/data/"],
}
DATASETS = ("mnist", "frey")
FILES = {"mnist": ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                   "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
         "frey": ["frey_rawface.mat"]}
BINARIZE = ("none", "dynamic", "fixed")
MNIST_SPLITS = ("train", "validation", "test", "train_full")
FREY_SPLITS = ("train", "test", "all")
N_MNIST_TRAIN = 50_000
N_FREY_TRAIN = 1_600
MNIST_SCALE = 1.0 / 255.0
FREY_SCALE = 1.0 / 256.0     # the authors' code divides by 256


class DataError(Exception):
    """A dataset file is missing, corrupt, or not what it claims to be."""


class MissingDataError(DataError, FileNotFoundError):
    """A file is in none of the places searched and could not be downloaded."""


class ChecksumError(DataError):
    """A file's SHA-256 does not match; the file is not used."""


# ---------------------------------------------------------------- locating files

def search_dirs(data_dir=None):
    """Folders searched for dataset files, in order (module docstring)."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    env = os.environ.get("AEVB_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(Path.cwd() / "data")
    return dirs


def downloads_allowed(download=None):
    """``download`` if given, else False when ``AEVB_OFFLINE`` is set to 1/true/yes."""
    if download is not None:
        return bool(download)
    return os.environ.get("AEVB_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def _dataset_of(filename):
    return next(d for d, names in FILES.items() if filename in names)


def locate(filename, data_dir=None, download=None, mirrors=None):
    """Path of a dataset file, downloading it if it is missing and allowed.

    The first folder of :func:`search_dirs` that holds the file wins; its
    checksum is verified when the file is read (:func:`read_verified`).
    """
    dirs = search_dirs(data_dir)
    for d in dirs:
        if (d / filename).is_file():
            return d / filename
    urls = [m + filename for m in (mirrors or MIRRORS[_dataset_of(filename)])]
    if not downloads_allowed(download):
        looked = "\n".join(f"  {d / filename}" for d in dirs)
        raise MissingDataError(
            f"{filename} not found; looked in:\n{looked}\n"
            f"Downloads are off (download=False or AEVB_OFFLINE=1). Get it from one of\n"
            + "\n".join(f"  {u}" for u in urls)
            + "\nand put it in one of those folders, or point AEVB_DATA_DIR / --data-dir at it.")
    return download_file(filename, dirs[0], urls)


def download_file(filename, folder, urls, timeout=60):
    """Download ``filename`` into ``folder`` from the first URL that gives verified bytes.

    Each attempt writes to a temporary file in ``folder`` and renames it to
    ``filename`` only after the checksum matches, so a failed or interrupted
    download never leaves a file under the final name.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                shutil.copyfileobj(r, out)
                out.flush()
                os.fsync(out.fileno())
            read_verified(Path(tmp), name=filename)
            os.replace(tmp, folder / filename)
            return folder / filename
        except (OSError, DataError) as e:       # URLError is an OSError
            errors.append(f"  {url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise MissingDataError(f"could not download {filename} into {folder}:\n" + "\n".join(errors))


# ---------------------------------------------------------------- reading files

_CACHE = {}


def read_verified(path, name=None):
    """The (decompressed) bytes of a dataset file, after checking their SHA-256.

    ``name`` is the file's canonical name (defaults to ``path.name``); it picks
    the checksum and whether to gunzip.
    """
    path = Path(path)
    name = name or path.name
    if name not in CHECKSUMS:
        raise DataError(f"{name} is not a known dataset file ({', '.join(CHECKSUMS)})")
    raw = path.read_bytes()
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path} is not a complete gzip file ({e}); it is probably "
                            f"truncated: delete it and download it again") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CHECKSUMS[name]:
        raise ChecksumError(f"{path} has the wrong SHA-256 and was not used:\n"
                            f"  expected {CHECKSUMS[name]}\n  actual   {digest}\n"
                            f"delete it and download it again")
    return raw


def parse_idx(raw, path, ndim):
    """Parse IDX bytes (unsigned bytes, ``ndim`` dimensions) into a uint8 array."""
    magic = 0x800 + ndim
    got = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if got != magic:
        raise DataError(f"{path}: IDX magic number {got!r} where {magic:#06x} was expected "
                        f"(unsigned bytes, {ndim} dimensions); is this the right file?")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(f"{path}: header says shape {shape} ({int(np.prod(shape))} bytes) "
                        f"but the file holds {len(raw) - header} bytes of data")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def parse_frey(raw, path):
    """Parse frey_rawface.mat bytes into (1965, 560) uint8, one 28 x 20 frame a row."""
    from scipy.io import loadmat   # SciPy reads MATLAB files; only needed here
    try:
        mat = loadmat(io.BytesIO(raw))
    except Exception as e:          # scipy raises several types for a bad .mat
        raise DataError(f"{path} is not a readable MATLAB file: {e}") from None
    if "ff" not in mat:
        found = [k for k in mat if not k.startswith("__")]
        raise DataError(f"{path} has no variable 'ff' (found {found}); expected Frey Face "
                        f"as a 560 x n uint8 matrix")
    ff = np.asarray(mat["ff"])
    if ff.ndim != 2 or ff.shape[0] != 560:
        raise DataError(f"{path}: 'ff' has shape {ff.shape}; expected 560 pixels (28 x 20) "
                        f"per column")
    return np.ascontiguousarray(ff.T.astype(np.uint8))        # (n, 560)


def _read(filename, data_dir, download, parse):
    path = locate(filename, data_dir, download)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        array = parse(read_verified(path, filename), path)
        array.flags.writeable = False
        _CACHE[key] = array
    return _CACHE[key]


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
        """This data binarized by ``mode`` (``none``, ``dynamic`` or ``fixed``).

        ``fixed`` draws every pixel once from Bernoulli(grey level) with ``rng``
        and stores the result as uint8 0/1.
        """
        mode = check_binarize(mode)
        if mode == "fixed":
            rng = np.random.default_rng(rng)
            bits = np.empty(self.images.shape, np.uint8)
            for start in range(0, len(self), 10_000):     # never a float copy of it all
                rows = slice(start, start + 10_000)
                bits[rows] = binarize(self.batch(rows, np.float64), rng)
            return replace(self, images=bits, scale=1.0, binarize="fixed")
        return replace(self, binarize=mode)


def check_binarize(mode):
    if mode not in BINARIZE:
        raise ValueError(f"unknown binarization {mode!r}: choose from {BINARIZE}")
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
    """:func:`mnist` or :func:`frey_face` by name."""
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


def status(data_dir=None):
    """For each dataset file: where it was found (or None) and whether it verifies."""
    rows = []
    for dataset, names in FILES.items():
        for name in names:
            found = next((d / name for d in search_dirs(data_dir) if (d / name).is_file()), None)
            verdict = "missing"
            if found is not None:
                try:
                    read_verified(found, name)
                    verdict = "verified"
                except DataError as e:
                    verdict = f"BAD: {str(e).splitlines()[0]}"
            rows.append((dataset, name, found, verdict))
    return rows
