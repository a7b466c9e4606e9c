"""Dataset files: where they are looked for, how they are downloaded, verified and parsed.

Where files are looked for, in order:

1. an explicit ``data_dir`` argument (``--data-dir`` on the command line);
2. the ``AEVB_DATA_DIR`` environment variable;
3. the default folder (:func:`default_data_dir`): the project's ``data/``
   folder when aevb is imported from a source checkout, else
   ``$XDG_DATA_HOME/aevb`` (``~/.local/share/aevb``). Never a folder relative
   to the current directory, so a notebook run from ``notebooks/`` uses the
   same files as the command line.

A file is used only after the SHA-256 of its *decompressed* bytes matches
(``CHECKSUMS``), so a copy from any mirror passes whatever its gzip settings.
A missing file is downloaded, if allowed, from a list of mirrors into the
first of those folders, written under a temporary name and renamed only once
verified. Downloads are off when ``download=False`` or ``AEVB_OFFLINE=1``.
"""
import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zlib
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
    dirs.append(default_data_dir())
    return dirs


def default_data_dir():
    """The project's ``data/`` in a source checkout, else ``$XDG_DATA_HOME/aevb``."""
    root = Path(__file__).resolve().parents[2]         # aevb/runs/datafiles.py -> checkout
    if (root / "setup.cfg").is_file() and (root / "data" / "README.md").is_file():
        return root / "data"
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg).expanduser() / "aevb"


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
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MissingDataError(f"{filename} is missing and cannot be downloaded into {folder} "
                               f"({e.strerror}); set AEVB_DATA_DIR or --data-dir to a folder "
                               f"that holds the dataset files or that you can write to") from None
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
    if created:
        shutil.rmtree(folder, ignore_errors=True)     # leave no empty folder behind
    raise MissingDataError(
        f"could not download {filename} into {folder}:\n" + "\n".join(errors)
        + f"\nWithout a network, copy {filename} (from one of those addresses, or from "
          f"another machine) into {folder}, or point AEVB_DATA_DIR or --data-dir at a "
          f"folder that holds it; data/README.md in the project lists the files and their "
          f"checksums.")


# ---------------------------------------------------------------- reading files

_CACHE = {}


def _gunzip(path, chunk=1 << 20):
    """Decompress a one-member gzip file a chunk at a time into one preallocated buffer.

    The size comes from the gzip trailer, so the file is never held twice over
    (``gzip.decompress`` would keep the compressed bytes, the output and its
    growing intermediate buffers at once: about twice the data at peak).
    """
    compressed = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(compressed - 4, 0))
        size = int.from_bytes(f.read(4), "little")          # ISIZE: length mod 2^32
        if size > 1100 * compressed + 2 ** 20:              # deflate expands at most ~1032x
            raise EOFError("its trailer gives an impossible length")
        f.seek(0)
        out, pos = bytearray(size), 0
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        for block in iter(lambda: f.read(chunk), b""):
            piece = d.decompress(block)
            if pos + len(piece) > size:
                raise EOFError("it holds more data than its trailer says")
            out[pos:pos + len(piece)] = piece
            pos += len(piece)
            if d.eof:
                break
    if not d.eof or pos != size:
        raise EOFError(f"the compressed stream ends early ({pos} of {size} bytes)")
    if d.unused_data.strip(b"\0"):
        raise EOFError("it has more than one gzip member; recompress it as one")
    return out


def read_verified(path, name=None):
    """The (decompressed) bytes of a dataset file, after checking their SHA-256.

    ``name`` is the file's canonical name (defaults to ``path.name``); it picks
    the checksum and whether to gunzip.
    """
    path = Path(path)
    name = name or path.name
    if name not in CHECKSUMS:
        raise DataError(f"{name} is not a known dataset file ({', '.join(CHECKSUMS)})")
    if name.endswith(".gz"):
        try:
            raw = _gunzip(path)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path} is not a complete gzip file ({e}); it is probably "
                            f"truncated: delete it and download it again") from None
    else:
        raw = path.read_bytes()
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
