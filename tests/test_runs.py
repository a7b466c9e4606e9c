"""Run folders that survive: exact resume, signals, SIGKILL, torn logs, NaNs, bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from aevb import checkpoint as ckpt
from aevb import runs

SMALL = ["--dataset", "mnist", "--n-latent", "3", "--n-hidden", "20", "--no-progress"]


def small_config(**kw):
    return runs.make_config("mnist", **{"n_latent": 3, "n_hidden": 20, "budget": 3000,
                                        "checkpoint_every": 500, **kw})


def params_of(folder):
    with np.load(folder / "params.npz") as z:
        return {k: z[k] for k in z.files}


def log_of(folder):
    return [{k: v for k, v in r.items() if k != "seconds"}
            for r in ckpt.read_log(folder / "log.jsonl")]


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def cli(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "aevb", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_interrupted_and_resumed_run_is_bitwise_identical(real_data_dir, tmp_path, dtype):
    config = small_config(dtype=dtype, seed=11)
    ref = tmp_path / "ref"
    assert runs.start(ref, config, data_dir=real_data_dir).run(progress=False, echo=str) == 0

    out = tmp_path / "stopped"
    run = runs.start(out, config, data_dir=real_data_dir)
    evaluate = run.evaluate

    def evaluate_then_interrupt(seen, step):      # Ctrl-C arrives between two minibatches
        evaluate(seen, step)
        if seen == 1000:
            signal.raise_signal(signal.SIGINT)
    run.evaluate = evaluate_then_interrupt
    messages = []
    assert run.run(progress=False, echo=messages.append) == 128 + signal.SIGINT
    assert "Resume with: aevb train --resume" in messages[0]
    assert not (out / "params.npz").exists()
    assert runs.resume(out, data_dir=real_data_dir).run(progress=False, echo=str) == 0

    assert_same_params(params_of(ref), params_of(out))
    assert log_of(ref) == log_of(out)


def test_resume_can_extend_the_budget(real_data_dir, tmp_path):
    config = small_config(budget=2000)
    runs.start(tmp_path / "a", config, data_dir=real_data_dir).run(progress=False, echo=str)
    runs.resume(tmp_path / "a", budget=3000, data_dir=real_data_dir).run(progress=False, echo=str)
    runs.start(tmp_path / "b", small_config(budget=3000), data_dir=real_data_dir).run(
        progress=False, echo=str)
    assert_same_params(params_of(tmp_path / "a"), params_of(tmp_path / "b"))
    assert json.loads((tmp_path / "a" / "config.json").read_text())["budget"] == 3000


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(real_data_dir, tmp_path):
    """Kill -9 repeatedly (once in the middle of writing a checkpoint), resume each time."""
    args = SMALL + ["--budget", "60000", "--checkpoint-every", "2000", "--seed", "5",
                    "--data-dir", str(real_data_dir)]
    ref = tmp_path / "ref"
    p = cli("train", "--out", str(ref), *args)
    assert p.wait() == 0, p.stderr.read()

    out = tmp_path / "killed"
    rng = np.random.default_rng(0)
    env = dict(os.environ, AEVB_TEST_PAUSE_IN_SAVE="2")
    # First attempt: kill while a checkpoint is half written (the save pauses half-way).
    p = cli("train", "--out", str(out), *args, env=env)
    tmp = out / ".checkpoint.npz.tmp"
    deadline = time.time() + 60
    while not tmp.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert tmp.exists(), "the run never started writing a checkpoint"
    p.kill()
    p.wait()
    assert not (out / "checkpoint.npz").exists()       # the torn write never took its name
    p = cli("train", "--out", str(out), "--overwrite", *args)   # nothing to resume: start over
    kills, seen_before = 0, 0
    while True:
        time.sleep(rng.uniform(0.5, 2.5))
        if p.poll() is not None:
            break
        p.kill()
        p.wait()
        kills += 1
        # After every crash: a loadable checkpoint and a readable log, nothing lost
        # beyond what came after the last checkpoint.
        if (out / "checkpoint.npz").exists():
            _, _, state, _ = ckpt.load(out / "checkpoint.npz")
            assert state["seen"] >= seen_before and state["seen"] % 2000 == 0
            seen_before = state["seen"]
            records = ckpt.read_log(out / "log.jsonl")
            assert [r["samples"] for r in records] == sorted(r["samples"] for r in records)
            p = cli("train", "--resume", str(out), "--no-progress")
        else:
            p = cli("train", "--out", str(out), "--overwrite", *args)
    assert p.returncode == 0, p.stderr.read()
    assert kills >= 2, "the run finished before it could be killed often enough"
    assert_same_params(params_of(ref), params_of(out))
    assert log_of(ref) == log_of(out)


def test_sigterm_checkpoints_and_says_how_to_resume(real_data_dir, tmp_path):
    out = tmp_path / "run"
    p = cli("train", "--out", str(out), *SMALL, "--budget", "1e7", "--data-dir",
            str(real_data_dir))
    deadline = time.time() + 60
    while not (out / "log.jsonl").exists() or not (out / "log.jsonl").read_text():
        assert time.time() < deadline and p.poll() is None
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 128 + signal.SIGTERM
    assert f"Resume with: aevb train --resume {out}" in p.stdout.read()
    _, _, state, _ = ckpt.load(out / "checkpoint.npz")
    assert state["seen"] > 0


def test_torn_last_log_line_is_dropped_on_resume(real_data_dir, tmp_path):
    out = tmp_path / "run"
    runs.start(out, small_config(budget=1000), data_dir=real_data_dir).run(progress=False, echo=str)
    good = (out / "log.jsonl").read_text()
    (out / "log.jsonl").write_text(good + '{"samples": 2000, "train_bo')
    assert len(ckpt.read_log(out / "log.jsonl")) == len(good.splitlines())
    runs.resume(out, budget=2000, data_dir=real_data_dir).run(progress=False, echo=str)
    records = ckpt.read_log(out / "log.jsonl")
    assert [r["samples"] for r in records][-2:] == [1000, 2000]
    (out / "log.jsonl").write_text("not json\n" + good)
    with pytest.raises(ckpt.CheckpointError, match="line 1, is not valid JSON"):
        ckpt.read_log(out / "log.jsonl")


def test_non_finite_objective_stops_and_keeps_the_last_checkpoint(real_data_dir, tmp_path):
    out = tmp_path / "run"
    p = cli("train", "--out", str(out), *SMALL, "--optimizer", "sgd", "--lr", "50",
            "--checkpoint-every", "100", "--budget", "1e5", "--data-dir", str(real_data_dir))
    assert p.wait() == 1
    err = p.stderr.read()
    assert "training failed: the objective is" in err and "at step" in err
    assert "step size too large" in err and "last good checkpoint is kept" in err
    _, _, state, _ = ckpt.load(out / "checkpoint.npz")
    assert state["seen"] >= 100 and not (out / "params.npz").exists()


def test_debug_nans_raises_at_the_first_invalid_operation(real_data_dir, tmp_path):
    p = cli("train", "--out", str(tmp_path / "r"), *SMALL, "--optimizer", "sgd", "--lr", "50",
            "--budget", "1e5", "--debug-nans", "--data-dir", str(real_data_dir))
    assert p.wait() == 1
    assert "encountered in" in p.stderr.read()


# ------------------------------------------------------------ the bad-input catalogue

def test_resume_without_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(small_config()))
    p = cli("train", "--resume", str(tmp_path))
    assert p.wait() == 2 and "has no checkpoint.npz to resume from" in p.stderr.read()
    p = cli("train", "--resume", str(tmp_path / "nothing"))
    assert p.wait() == 2 and "is not an aevb run folder" in p.stderr.read()


def test_resume_refuses_settings_it_would_ignore(tmp_path):
    p = cli("train", "--resume", str(tmp_path), "--n-latent", "5")
    assert p.wait() == 2 and "drop --n-latent" in p.stderr.read()


def test_checkpoint_from_another_architecture(real_data_dir, tmp_path):
    out = tmp_path / "run"
    runs.start(out, small_config(budget=500), data_dir=real_data_dir).run(progress=False, echo=str)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "n_latent": 7}))
    before = (out / "checkpoint.npz").read_bytes()
    p = cli("train", "--resume", str(out), "--data-dir", str(real_data_dir))
    assert p.wait() == 2 and "from a different model" in p.stderr.read()
    assert (out / "checkpoint.npz").read_bytes() == before


def test_corrupt_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(small_config()))
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 garbage")
    p = cli("train", "--resume", str(tmp_path))
    assert p.wait() == 2 and "is not a readable aevb checkpoint" in p.stderr.read()
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"PK\x03\x04 garbage"
