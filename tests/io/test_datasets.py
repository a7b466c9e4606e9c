"""aevb.io.datasets: every error path on tiny synthetic files, and the real files in CI."""
import gzip
import hashlib
import io

import numpy as np
import pytest
from pathlib import Path
import scipy.io

from aevb.io import datasets as D

IMAGES = "train-images-idx3-ubyte.gz"


def idx_bytes(array, magic=None):
    a = np.asarray(array, np.uint8)
    magic = 0x800 + a.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in a.shape)
    return header + a.tobytes()


def mat_bytes(**variables):
    buf = io.BytesIO()
    scipy.io.savemat(buf, variables)
    return buf.getvalue()


@pytest.fixture
def fake_checksums(monkeypatch):
    """Register synthetic payloads as the 'true' files so the read path can be exercised."""
    def register(name, payload):
        monkeypatch.setitem(D.CHECKSUMS, name, hashlib.sha256(payload).hexdigest())
    return register


# ------------------------------------------------------------------ parsing

def test_parse_idx_reads_shape_and_pixels():
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(D.parse_idx(idx_bytes(a), "f", 3), a)


def test_wrong_idx_magic_is_named():
    with pytest.raises(D.DataError, match=r"IDX magic number 2049 where 0x0803"):
        D.parse_idx(idx_bytes(np.zeros(5), magic=0x801), "f", 3)


def test_idx_with_missing_pixels_is_named():
    raw = idx_bytes(np.zeros((2, 3, 4)))[:-5]
    with pytest.raises(D.DataError, match=r"shape \(2, 3, 4\) \(24 bytes\) but the file holds 19"):
        D.parse_idx(raw, "f", 3)


def test_mat_without_ff_is_named():
    with pytest.raises(D.DataError, match=r"no variable 'ff' \(found \['faces'\]\)"):
        D.parse_frey(mat_bytes(faces=np.zeros((560, 3), np.uint8)), "f.mat")


def test_mat_with_wrong_pixel_count_is_named():
    with pytest.raises(D.DataError, match=r"'ff' has shape \(500, 3\)"):
        D.parse_frey(mat_bytes(ff=np.zeros((500, 3), np.uint8)), "f.mat")


def test_not_a_mat_file():
    with pytest.raises(D.DataError, match="not a readable MATLAB file"):
        D.parse_frey(b"hello, this is not MATLAB", "f.mat")


def test_parse_frey_gives_one_frame_per_row():
    ff = np.arange(560 * 3, dtype=np.uint32).reshape(560, 3) % 256
    out = D.parse_frey(mat_bytes(ff=ff.astype(np.uint8)), "f.mat")
    assert out.shape == (3, 560) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[1], ff[:, 1])


# ------------------------------------------------------------------ files on disk

def test_missing_file_offline_names_file_places_and_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVB_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(D.MissingDataError) as e:
        D.mnist("train", data_dir=tmp_path / "explicit")
    msg = str(e.value)
    for part in (IMAGES, str(tmp_path / "explicit" / IMAGES), str(tmp_path / "env" / IMAGES),
                 str(D.default_data_dir() / IMAGES), D.MIRRORS["mnist"][0] + IMAGES,
                 "AEVB_OFFLINE"):
        assert part in msg


def test_search_order_explicit_then_env_then_default_never_the_cwd(tmp_path, monkeypatch):
    """Catches: a default folder relative to the current directory (a notebook run from
    notebooks/ would download into notebooks/data, which git does not ignore)."""
    from aevb.io import datafiles
    default = tmp_path / "default"
    monkeypatch.setattr(datafiles, "default_data_dir", lambda: default)
    monkeypatch.setenv("AEVB_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    assert D.search_dirs(tmp_path / "x") == [tmp_path / "x", tmp_path / "env", default]
    for d in ("env", "default", "data"):
        (tmp_path / d).mkdir()
        (tmp_path / d / IMAGES).write_bytes(b"")
    assert D.locate(IMAGES) == tmp_path / "env" / IMAGES
    monkeypatch.delenv("AEVB_DATA_DIR")
    assert D.locate(IMAGES) == default / IMAGES          # not ./data


def test_default_folder_is_the_checkout_data_folder_else_xdg(tmp_path, monkeypatch):
    from aevb.io import datafiles
    monkeypatch.chdir(tmp_path)
    here = Path(datafiles.__file__).resolve().parents[2]
    if (here / "setup.cfg").is_file():
        assert datafiles.default_data_dir() == here / "data"
    monkeypatch.setattr(datafiles, "__file__", str(tmp_path / "site" / "aevb" / "runs" / "datafiles.py"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert datafiles.default_data_dir() == tmp_path / "xdg" / "aevb"


def test_failed_download_gives_advice_and_creates_no_folder(tmp_path):
    from aevb.io import datafiles
    target = tmp_path / "new" / "folder"
    with pytest.raises(D.MissingDataError, match="Without a network, copy") as e:
        datafiles.download_file(IMAGES, target, [(tmp_path / "nowhere").as_uri() + "/" + IMAGES])
    assert "AEVB_DATA_DIR" in str(e.value)
    assert not target.exists()


def test_truncated_gzip_is_named(tmp_path):
    blob = gzip.compress(idx_bytes(np.zeros((3, 28, 28))))
    (tmp_path / IMAGES).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(D.DataError, match="not a complete gzip file"):
        D.read_verified(tmp_path / IMAGES)


def test_checksum_mismatch_names_both_digests_and_the_file_is_not_used(tmp_path):
    payload = idx_bytes(np.zeros((3, 28, 28)))
    (tmp_path / IMAGES).write_bytes(gzip.compress(payload))
    with pytest.raises(D.ChecksumError) as e:
        D.mnist("train", data_dir=tmp_path)
    msg = str(e.value)
    assert D.CHECKSUMS[IMAGES] in msg and hashlib.sha256(payload).hexdigest() in msg
    assert str(tmp_path / IMAGES) in msg


def test_checksum_is_of_decompressed_bytes_whatever_the_gzip_settings(tmp_path, fake_checksums):
    payload = idx_bytes(np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256)
    fake_checksums(IMAGES, payload)
    for level in (1, 9):
        (tmp_path / IMAGES).write_bytes(gzip.compress(payload, compresslevel=level, mtime=level))
        assert D.read_verified(tmp_path / IMAGES) == payload


def test_download_is_atomic_and_verified(tmp_path, fake_checksums):
    payload = idx_bytes(np.ones((2, 28, 28)))
    fake_checksums(IMAGES, payload)
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.mkdir(), good.mkdir()
    (bad / IMAGES).write_bytes(gzip.compress(payload + b"x"))      # wrong bytes
    (good / IMAGES).write_bytes(gzip.compress(payload))
    dest = tmp_path / "dest"
    # Only corrupt mirrors: nothing appears under the final name, no temporary is left.
    with pytest.raises(D.MissingDataError, match="could not download"):
        D.download_file(IMAGES, dest, [(bad / IMAGES).as_uri(), (tmp_path / "nowhere").as_uri()])
    assert not dest.exists()                # no temporary left, not even the folder it made
    # The first mirror fails, the second is verified and renamed into place.
    path = D.download_file(IMAGES, dest, [(bad / IMAGES).as_uri(), (good / IMAGES).as_uri()])
    assert path == dest / IMAGES and D.read_verified(path) == payload
    assert sorted(p.name for p in dest.iterdir()) == [IMAGES]


def test_locate_downloads_only_when_allowed(tmp_path, fake_checksums, monkeypatch):
    monkeypatch.delenv("AEVB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    payload = idx_bytes(np.ones((2, 28, 28)))
    fake_checksums(IMAGES, payload)
    (tmp_path / IMAGES).write_bytes(gzip.compress(payload))
    mirrors = [tmp_path.as_uri() + "/"]
    dest = tmp_path / "dest"
    with pytest.raises(D.MissingDataError):          # AEVB_OFFLINE=1 in the tests
        D.locate(IMAGES, dest, mirrors=mirrors)
    assert not dest.exists()
    assert D.locate(IMAGES, dest, download=True, mirrors=mirrors) == dest / IMAGES


def test_binarization_modes():
    rng = np.random.default_rng(0)
    ds = D.Dataset(np.full((2000, 4), 51, np.uint8), 1 / 255, (2, 2))   # grey level 0.2
    grey = ds.batch(slice(None), np.float32)
    assert grey.dtype == np.float32 and np.allclose(grey, 0.2)
    dyn = ds.with_binarization("dynamic")
    a, b = dyn.batch(slice(None), np.float64, rng), dyn.batch(slice(None), np.float64, rng)
    assert set(np.unique(a)) <= {0.0, 1.0} and not np.array_equal(a, b)
    assert abs(a.mean() - 0.2) < 0.02
    f1, f2 = ds.with_binarization("fixed", rng=5), ds.with_binarization("fixed", rng=5)
    np.testing.assert_array_equal(f1.images, f2.images)
    assert f1.images.dtype == np.uint8 and f1.scale == 1.0
    with pytest.raises(ValueError, match="unknown binarization 'half'"):
        ds.with_binarization("half")


def test_unknown_split_and_dataset():
    with pytest.raises(ValueError, match="unknown MNIST split 'valid'"):
        D.mnist("valid")
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        D.load_dataset("cifar", "train")


# ------------------------------------------------------------------ the real files

def test_real_mnist_shapes_ranges_splits(real_data_dir):
    sizes = {"train": 50_000, "validation": 10_000, "test": 10_000, "train_full": 60_000}
    for split, n in sizes.items():
        x, y = D.load_mnist(split, data_dir=real_data_dir, dtype=np.float32, return_labels=True)
        assert x.shape == (n, 784) and x.dtype == np.float32 and y.shape == (n,)
        assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(10))
    full = D.mnist("train_full", real_data_dir).images
    np.testing.assert_array_equal(D.mnist("validation", real_data_dir).images, full[50_000:])
    assert D.mnist("train", real_data_dir).images.dtype == np.uint8   # held compactly


def test_real_frey_face(real_data_dir):
    x = D.load_frey_face("all", data_dir=real_data_dir)
    assert x.shape == (1965, 560) and x.dtype == np.float64
    assert 0.0 <= x.min() and x.max() <= 255 / 256
    train, test = D.load_frey_face("train", real_data_dir), D.load_frey_face("test", real_data_dir)
    assert train.shape == (1600, 560) and test.shape == (365, 560)
    held_out = D.frey_test_frames()
    assert held_out[:5].tolist() == [10, 12, 13, 14, 22]     # the documented split, pinned
    np.testing.assert_array_equal(test, x[held_out])
    np.testing.assert_array_equal(train, np.delete(x, held_out, axis=0))


def test_real_files_verify(real_data_dir):
    rows = D.status(real_data_dir)
    assert [r[3] for r in rows] == ["verified"] * 5, rows
