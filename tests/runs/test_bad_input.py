"""Broken state and bad settings are refused with one sentence, exit 2, and nothing changed.

Each case names the mistake it catches; the command-line ones run ``aevb`` in a child.
"""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from aevb import VAE


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


@pytest.mark.parametrize("content, words", [
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "it is not a NumPy .npz archive"),
    (b"PK\x03\x04 broken", "it is not a whole .npz archive"),
], ids=["png_renamed_npz", "torn_zip"])
def test_a_foreign_file_is_named_in_aevbs_words(tmp_path, content, words):
    """Catches NumPy's own advice reaching the user (for a PNG renamed .npz it says to load it
    with allow_pickle=True, which must never be done with a file one did not write)."""
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=words) as e:
        VAE.load(path)
    assert "allow_pickle" not in str(e.value)


def test_a_hand_edited_saved_model_is_refused_in_one_sentence(tmp_path):
    """Catches a TypeError or KeyError from a saved file whose settings were edited."""
    X = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(float)
    path = VAE(2, 3, budget=100, batch_size=10, rng=0).fit(X).save(tmp_path / "m.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["settings"]["learning_rate"] = meta["settings"].pop("lr")
    np.savez(tmp_path / "edited.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.raises(ValueError, match="holds settings VAE does not take \\(learning_rate\\)"):
        VAE.load(tmp_path / "edited.npz")


@pytest.mark.parametrize("where", ["config.json", "log.jsonl"])
def test_a_run_file_that_is_not_utf8_is_named(trained, tmp_path, where):
    """Catches a UnicodeDecodeError in Python's words for a run file in another encoding."""
    out = _copy(trained, tmp_path)
    (out / where).write_bytes((out / where).read_bytes().replace(b"{", b"\xff{", 1))
    before = _files(out)
    _one_sentence(aevb("train", "--resume", str(out)), where, "is not UTF-8 text")
    assert _files(out) == before


def test_a_negative_seed_is_refused_in_aevbs_words():
    """Catches NumPy's SeedSequence error for rng=-1."""
    with pytest.raises(ValueError, match="rng must be None, a whole number >= 0"):
        VAE(2, 3, rng=-1, budget=100, batch_size=10).fit(np.zeros((20, 4)))


def test_ctrl_c_during_evaluate_is_one_line_and_writes_nothing(trained, real_data_dir):
    """Catches a KeyboardInterrupt traceback from ``aevb evaluate`` (it runs for minutes)."""
    import signal
    import time
    # SIGINT as a terminal delivers it: a child of a background job inherits it ignored
    proc = subprocess.Popen([sys.executable, "-m", "aevb", "evaluate", str(trained),
                             "--estimator", "hmc", "--n-samples", "4000", "--n-points", "365",
                             "--data-dir", str(real_data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        time.sleep(3)                        # past the imports, into the estimate
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip() == "aevb evaluate: interrupted; nothing was written", err
    assert not list(trained.glob("likelihood-hmc*"))
