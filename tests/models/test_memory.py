"""Memory: every allocation that scales is estimated and refused, with one sentence, before it is made.

The command-line cases run in a child process whose address space is capped with
``ulimit -v`` (RLIMIT_AS, 3 GiB), so they prove the check on any machine: without it
the child would die with a MemoryError traceback (or, without the cap, the kernel
would kill it, as ``--n-latent 1000000 --n-hidden 20`` once did on this 24 GiB machine).
"""
import resource
import subprocess
import sys

import numpy as np
import pytest

from aevb import VAE
from aevb.models import checks

CAP = 3 << 30


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def _train(tmp_path, data_dir, *flags):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "aevb", "train", "--out", str(out),
                           "--data-dir", str(data_dir), "--budget", "200", "--no-progress",
                           *flags], capture_output=True, text=True, timeout=300,
                          preexec_fn=_capped)
    return proc, out


@pytest.mark.parametrize("flags, setting", [
    (("--n-latent", "1000000", "--n-hidden", "20"), "--n-latent"),
    (("--n-mc-samples", "100000"), "--n-mc-samples"),
    (("--batch-size", "1e7"), "--batch-size"),
    (("--n-hidden", "1000000"), "--n-hidden"),
], ids=["n_latent", "n_mc_samples", "batch_size", "n_hidden"])
def test_training_that_cannot_fit_is_refused_under_ulimit(real_data_dir, tmp_path, flags,
                                                          setting):
    """Catches an allocation the estimate misses (a MemoryError traceback under the cap, the
    machine taken down without it) and a sentence that names another setting than the one
    to lower; nothing is written."""
    proc, out = _train(tmp_path, real_data_dir, *flags)
    err = proc.stderr.strip()
    assert proc.returncode == 2, err[-600:]
    assert "Traceback" not in err and "MemoryError" not in err and err.count("\n") == 0, err
    assert "GiB available: choose a smaller" in err and setting in err, err
    assert not out.exists()


def test_a_model_that_fits_trains_under_the_same_cap(real_data_dir, tmp_path):
    """Catches an estimate so large that it refuses what fits (the paper's MNIST model)."""
    proc, out = _train(tmp_path, real_data_dir, "--n-latent", "20")
    assert proc.returncode == 0, proc.stderr[-800:]
    assert (out / "params.npz").is_file()


@pytest.fixture(scope="module")
def vae():
    X = (np.random.default_rng(0).random((50, 12)) < 0.4).astype(np.float64)
    return VAE(n_latent=2, n_hidden=5, budget=100, batch_size=10, rng=0).fit(X), X


def test_sampling_and_scoring_too_much_is_refused_before_allocating(vae, monkeypatch):
    """Catches ``sample(10**10)`` and ``score(X, n_mc_samples=10**6)`` ending in MemoryError:
    with 1 GiB available both say which number to lower."""
    model, X = vae
    monkeypatch.setattr(checks, "available_memory", lambda: 1 << 30)
    import aevb.models.vae as vae_module
    monkeypatch.setattr(vae_module, "available_memory", lambda: 1 << 30)
    with pytest.raises(ValueError, match="to draw 10000000000 samples.* choose a smaller "
                                         "number of samples"):
        model.sample(10**10)
    with pytest.raises(ValueError, match="choose a smaller n_mc_samples"):
        model.score(X, n_mc_samples=10**8)
    assert model.sample(3, rng=0).shape == (3, 12)        # what fits still works


def test_scoring_shrinks_its_chunk_to_what_fits(vae, monkeypatch):
    """Catches a score that refuses many noise draws when fewer points at once would fit."""
    model, X = vae
    need_all = checks.memory_needed(12, 5, 2, dtype=np.float64, batch_size=0, score_rows=50,
                                    score_samples=1000)
    need_one = checks.memory_needed(12, 5, 2, dtype=np.float64, batch_size=0, score_rows=1,
                                    score_samples=1000)
    have = (need_one + need_all) // 8
    import aevb.models.vae as vae_module
    monkeypatch.setattr(checks, "available_memory", lambda: have)
    monkeypatch.setattr(vae_module, "available_memory", lambda: have)
    assert model._score_chunk(50, 1000) < 50
    assert np.isfinite(model.score(X, rng=0, n_mc_samples=1000))


def test_the_estimate_covers_what_a_step_and_a_chunk_allocate():
    """Catches a per-row coefficient set too low: tracemalloc's peak of one training step and
    of one scored chunk, on models dominated by J, by H and by D in turn, stays below the
    estimate."""
    import tracemalloc
    from aevb.io.datasets import Dataset
    for D, H, J in ((64, 4, 3000), (64, 600, 3), (3000, 4, 3)):
        X = (np.random.default_rng(0).random((200, D)) < 0.3).astype(np.float64)
        model = VAE(n_latent=J, n_hidden=H, batch_size=50, n_mc_samples=2, rng=0)
        tracemalloc.start()
        model.initialize(D, np.float64)
        trainer = model.make_trainer(Dataset(X, 1.0, (D,)), np.float64)
        tracemalloc.reset_peak()
        trainer.minibatch_step()
        trainer.minibatch_step()
        step = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        model.score_samples(X, rng=0, n_mc_samples=3, chunk=200)
        score = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        assert step <= checks.memory_needed(D, H, J, batch_size=50, n_mc_samples=2), (D, H, J)
        assert score <= checks.memory_needed(D, H, J, batch_size=0, score_rows=200,
                                             score_samples=3), (D, H, J)


def test_evaluate_refuses_more_posterior_samples_than_fit(real_data_dir, tmp_path):
    """Catches ``aevb evaluate`` allocating Appendix D's samples unchecked (it had no memory
    check at all): one sentence naming --n-samples, exit 2, no result file."""
    proc, out = _train(tmp_path, real_data_dir, "--dataset", "frey", "--n-latent", "2")
    assert proc.returncode == 0, proc.stderr[-600:]
    ev = subprocess.run([sys.executable, "-m", "aevb", "evaluate", str(out), "--estimator",
                         "hmc", "--n-samples", "1e9", "--n-points", "365", "--data-dir",
                         str(real_data_dir)], capture_output=True, text=True, timeout=300,
                        preexec_fn=_capped)
    err = ev.stderr.strip()
    assert ev.returncode == 2 and err.count("\n") == 0 and "Traceback" not in err, err
    assert "choose a smaller number of samples (--n-samples)" in err, err
    assert not list(out.glob("likelihood-*"))
