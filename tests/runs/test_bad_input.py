"""Broken state and bad settings are refused with one sentence, exit 2, and nothing changed.

Each case names the mistake it catches; the command-line ones run ``aevb`` in a child.
"""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from aevb import VAE, runs


def aevb(*args, env=None, timeout=240):
    return subprocess.run([sys.executable, "-m", "aevb", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def trained(real_data_dir, tmp_path_factory):
    """A small finished Frey Face run with a checkpoint."""
    out = tmp_path_factory.mktemp("bad") / "run"
    r = aevb("train", "--out", str(out), "--dataset", "frey", "--n-latent", "2", "--budget",
             "400", "--no-progress", "--data-dir", str(real_data_dir))
    assert r.returncode == 0, r.stderr
    return out


def _copy(trained, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    (out / ".lock").unlink(missing_ok=True)
    return out


def _files(out):
    return {p.name: p.read_bytes() for p in out.iterdir()}


def _one_sentence(r, *words):
    err = r.stderr.strip()
    assert r.returncode == 2, err[-500:]
    assert "Traceback" not in err and err.count("\n") == 0, err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(method="wake-sleep"), ("method: 'aevb' vs 'wake-sleep'",)),
    (lambda c: c.update(learning_rate=c.pop("lr")), ("the setting 'lr' is missing",)),
    (lambda c: c.update(budget=1e30), ("budget is 1e+30",)),
    (lambda c: c.update(n_latent="2"), ("n_latent is '2', of the wrong type",)),
    (lambda c: c.update(dtype="float16"), ("dtype is 'float16'",)),
], ids=["method_changed", "key_renamed", "budget_1e30", "n_latent_text", "dtype"])
def test_an_edited_config_is_refused_on_resume(trained, tmp_path, edit, words):
    """Catches a hand-edited config.json that resumes as something else (an AEVB checkpoint
    trained on as wake-sleep), a renamed key ending in KeyError: 'lr', and a budget of 1e30
    that trains without end."""
    out = _copy(trained, tmp_path)
    config = json.loads((out / "config.json").read_text())
    edit(config)
    (out / "config.json").write_text(json.dumps(config))
    before = _files(out)
    _one_sentence(aevb("train", "--resume", str(out), "--budget", "800"), "config.json", *words)
    assert _files(out) == before


def test_a_data_dir_that_does_not_exist_is_refused_even_with_aevb_data_dir(real_data_dir,
                                                                           tmp_path):
    """Catches an explicit --data-dir that is silently ignored for $AEVB_DATA_DIR (the run
    trained on the other folder and exited 0)."""
    import os
    env = dict(os.environ, AEVB_DATA_DIR=str(real_data_dir))
    r = aevb("train", "--out", str(tmp_path / "r"), "--dataset", "frey", "--budget", "200",
             "--data-dir", str(tmp_path / "nowhere"), env=env)
    _one_sentence(r, "nowhere given with --data-dir does not exist")
    assert not (tmp_path / "r").exists()


def test_more_threads_than_cores_are_refused(real_data_dir, tmp_path):
    """Catches --threads 1000 (a 4 s run took 401 s); the run is tiny, so that a missing check
    shows as a run that finishes, not as a test that hangs."""
    _one_sentence(aevb("train", "--out", str(tmp_path / "r"), "--threads", "1000", "--dataset",
                       "frey", "--n-latent", "2", "--budget", "100", "--no-progress",
                       "--data-dir", str(real_data_dir), timeout=100),
                  "more than this machine's")
    assert not (tmp_path / "r").exists()


def test_gaussian_data_above_one_is_refused_with_the_squashed_means():
    """Catches fitting data the sigmoid-squashed Gaussian means cannot reach."""
    X = np.random.default_rng(0).random((30, 4)) * 2
    with pytest.raises(ValueError, match="means are squashed into \\(0, 1\\)"):
        VAE(2, 3, "gaussian", budget=100, batch_size=10).fit(X)
    VAE(2, 3, "gaussian", sigmoid_mean=False, budget=100, batch_size=10).fit(X)


def test_a_saved_model_with_nan_parameters_is_refused(tmp_path):
    """Catches NaN (or complex) parameters loading into a model that then scores NaN."""
    X = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(float)
    path = VAE(2, 3, budget=100, batch_size=10, rng=0).fit(X).save(tmp_path / "m.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    for bad in (np.nan, 1j):
        broken = dict(arrays)
        broken["decoder.W_h"] = broken["decoder.W_h"] + bad
        np.savez(tmp_path / "bad.npz", **broken)
        with pytest.raises(ValueError, match="decoder.W_h (holds NaN|has dtype complex)"):
            VAE.load(tmp_path / "bad.npz")
    assert runs  # the run-folder API refuses through the same reader (aevb.io.checkpoint)
