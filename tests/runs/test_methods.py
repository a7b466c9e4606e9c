"""Every training method through the run-folder machinery: exact resume, what is logged, bad input."""
import signal
import subprocess
import sys

import numpy as np
import pytest

import aevb

from aevb.io import checkpoint as ckpt
from aevb import methods
from aevb import runs

SETTINGS = [("wake-sleep", "gaussian"), ("mcem", "gaussian"), ("full-vb", "gaussian"),
            ("aevb", "laplace")]


def config_for(method, posterior, **kw):
    settings = dict(n_latent=2, n_hidden=10, budget=1500, checkpoint_every=500, method=method,
                    posterior=posterior, adagrad_warmup=2, n_train=2000,
                    estimator="A" if posterior != "gaussian" else "B")
    return runs.make_config("mnist", **{**settings, **kw})


def log_of(folder):
    return [{k: v for k, v in r.items() if k != "seconds"}
            for r in ckpt.read_log(folder / "log.jsonl")]


@pytest.fixture
def few_eval_points(monkeypatch):
    monkeypatch.setattr(methods, "MCEM_EVAL_POINTS", 10)    # MCEM's HMC estimate: keep it small


@pytest.mark.slow
@pytest.mark.parametrize("method, posterior", SETTINGS)
def test_each_method_resumes_bitwise_and_logs_what_it_measures(real_data_dir, tmp_path, method,
                                                               posterior, few_eval_points):
    """Catches: trainer state missing from the checkpoint (MCEM's chains and step sizes, full
    VB's log-variances and second optimizer, a family's noise stream), a made-up bound for
    MCEM, and the wrong evaluation for a method."""
    config = config_for(method, posterior, seed=4)
    ref = tmp_path / "ref"
    assert runs.start(ref, config, data_dir=real_data_dir).run(progress=False, echo=str) == 0
    out = tmp_path / "stopped"
    run = runs.start(out, config, data_dir=real_data_dir)
    evaluate = run.evaluate

    def evaluate_then_interrupt(seen, step):
        evaluate(seen, step)
        if seen == 1000:                              # after the checkpoint at 500
            signal.raise_signal(signal.SIGINT)
    run.evaluate = evaluate_then_interrupt
    assert run.run(progress=False, echo=str) == 128 + signal.SIGINT
    assert runs.resume(out, data_dir=real_data_dir).run(progress=False, echo=str) == 0
    assert log_of(ref) == log_of(out)
    with np.load(ref / "params.npz") as a, np.load(out / "params.npz") as b:
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    keys = set(log_of(ref)[-1]) - {"samples"}
    if method == "mcem":
        assert keys == {"train_log_px", "test_log_px", "accept_rate", "step_size_median"}
        assert 0 < log_of(ref)[-1]["accept_rate"] <= 1
        assert not any(k.startswith("encoder.") for k in np.load(ref / "params.npz").files)
    else:
        assert {"train_bound", "test_bound"} <= keys
    first, last = log_of(ref)[0], log_of(ref)[-1]
    measure = "train_log_px" if method == "mcem" else "train_bound"
    assert last[measure] > first[measure], (first, last)


@pytest.mark.parametrize("args, message", [
    (["--method", "mcem", "--estimator", "A"], "mean nothing for --method mcem"),
    (["--method", "wake-sleep", "--n-mc-samples", "3"], "mean nothing for --method wake-sleep"),
    (["--method", "wake-sleep", "--posterior", "laplace"], "is for --method aevb only"),
    (["--posterior", "laplace", "--estimator", "B"], "trains with estimator A"),
    (["--method", "gradient-descent"], "argument --method: invalid choice"),
    (["--theta-draws", "4"], "--theta-draws are for --method full-vb only"),
    (["--method", "full-vb", "--init-logvar", "nan"], "argument --init-logvar: 'nan' must be"),
])
def test_settings_that_mean_nothing_for_a_method_are_refused(tmp_path, args, message):
    r = subprocess.run([sys.executable, "-m", "aevb", "train", "--out", str(tmp_path / "r"),
                        *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()


def test_mcem_run_refuses_importance_sampling_and_loads_as_mcem(real_data_dir, tmp_path,
                                                                few_eval_points):
    out = tmp_path / "mcem"
    config = config_for("mcem", "gaussian", budget=200)
    runs.start(out, config, data_dir=real_data_dir).run(progress=False, echo=str)
    with pytest.raises(ValueError, match="no encoder to propose from"):
        runs.evaluate_likelihood(out, "is", data_dir=real_data_dir)
    model = runs.load_run(out)          # the run's class, with its chains from the checkpoint
    assert type(model) is aevb.MCEM and model.encoder_params_ is None
    # Training points start from the best of MCEM's own chain for them and prior draws (an
    # overfit model's posteriors are narrow: chains from the prior alone measured -162 where
    # -126 was right); test points from the best of 8 prior draws.
    res = runs.evaluate_likelihood(out, "hmc", splits=("train", "test"), n_points=8, paper=True,
                                   data_dir=real_data_dir)
    assert res["splits"]["train"]["start"] == "chains, best of 8"
    assert res["splits"]["test"]["start"] == "prior, best of 8"
    assert model.chains_.shape == (2000, 2) and np.all(np.isfinite(model.chains_))


def test_n_train_keeps_the_first_images(real_data_dir):
    """Figure 3's N_train = 1000: the first 1000 training images, and N = 1000 in eq. 8."""
    config = runs.make_config("mnist", n_train=1000)
    train, _, train_eval = runs.load_data(config, real_data_dir)
    full, _, _ = runs.load_data(runs.make_config("mnist"), real_data_dir)
    assert len(train) == 1000 == runs.n_train(config) and len(train_eval) == 1000
    np.testing.assert_array_equal(train.images, full.images[:1000])
    with pytest.raises(ValueError, match="more than the 1965|more than the"):
        runs.load_data(runs.make_config("frey", n_train=5000), real_data_dir)
