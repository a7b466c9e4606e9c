"""Run folders that survive: exact resume, signals, SIGKILL, torn logs, NaNs, bad input."""
import json
import shutil
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aevb.io import checkpoint as ckpt
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


def run_cli(*args, env=None, timeout=240):
    """Run ``aevb ARGS`` to the end, with a deadline; returns (exit status, stdout, stderr)."""
    try:
        r = subprocess.run([sys.executable, "-m", "aevb", *args], capture_output=True,
                           text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"aevb {' '.join(args)} did not end within {timeout} s: {e.stderr!r}")
    return r.returncode, r.stdout, r.stderr


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


def _inode(path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _wait(condition, p, deadline, what):
    """Poll ``condition`` until true, the process ends, or ``deadline``: never hang."""
    while not condition():
        if p.poll() is not None:
            return False
        if time.monotonic() > deadline:
            p.kill()
            p.wait()
            pytest.fail(f"gave up after the test's deadline waiting for {what}; the machine "
                        f"may be overloaded")
        time.sleep(0.02)
    return True


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(real_data_dir, tmp_path):
    """Kill -9 repeatedly (once in the middle of writing a checkpoint), resume each time.

    Catches: a checkpoint that is not atomic (a torn file under its final name),
    state missing from the checkpoint (the resumed run drifts from the reference),
    log records written twice or lost across a crash. Each kill comes only after
    the run has written a new checkpoint since it was (re)started, a random
    0-0.5 s later, so the run makes progress however slow the machine is; the
    number of kills is bounded and every wait has a deadline.
    """
    args = SMALL + ["--budget", "30000", "--checkpoint-every", "2000", "--seed", "5",
                    "--data-dir", str(real_data_dir)]
    deadline = time.monotonic() + 480
    ref = tmp_path / "ref"
    p = cli("train", "--out", str(ref), *args)
    try:
        out, err = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail(f"the reference run did not finish in 240 s: {p.communicate()}")
    assert p.returncode == 0, err

    out = tmp_path / "killed"
    ckpt_file = out / "checkpoint.npz"
    tmp_exists = lambda: bool(list(out.glob(".checkpoint.npz.*.tmp")))   # noqa: E731
    rng = np.random.default_rng(0)
    # First attempt: kill while a checkpoint is half written (the save pauses half-way).
    p = cli("train", "--out", str(out), *args, env=dict(os.environ, AEVB_TEST_PAUSE_IN_SAVE="3"))
    assert _wait(tmp_exists, p, deadline, "the first checkpoint write"), p.communicate()
    p.kill()
    p.wait()
    assert not ckpt_file.exists()                      # the torn write never took its name
    # A run killed before its first checkpoint resumes from the beginning.
    p = cli("train", "--resume", str(out), "--no-progress")
    kills, seen_before, max_kills = 0, 0, 4
    while kills < max_kills:
        before = _inode(ckpt_file)
        if not _wait(lambda: _inode(ckpt_file) not in (None, before), p, deadline,
                     "a new checkpoint"):
            break                                      # the run finished first
        time.sleep(rng.uniform(0, 0.5))
        if p.poll() is not None:
            break
        p.kill()
        p.wait()
        kills += 1
        # After every crash: a loadable checkpoint and a readable log, nothing lost
        # beyond what came after the last checkpoint.
        _, _, state, _ = ckpt.load(ckpt_file)
        assert state["seen"] > seen_before and state["seen"] % 2000 == 0
        seen_before = state["seen"]
        records = ckpt.read_log(out / "log.jsonl")
        assert [r["samples"] for r in records] == sorted(r["samples"] for r in records)
        p = cli("train", "--resume", str(out), "--no-progress")
    try:
        _, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("the last resumed run did not finish before the test's deadline")
    assert p.returncode == 0, err
    assert kills >= 2, "the run finished before it could be killed twice"
    assert_same_params(params_of(ref), params_of(out))
    assert log_of(ref) == log_of(out)


def test_sigterm_checkpoints_and_says_how_to_resume(real_data_dir, tmp_path):
    out = tmp_path / "run"
    p = cli("train", "--out", str(out), *SMALL, "--budget", "1e7", "--data-dir",
            str(real_data_dir))
    log = out / "log.jsonl"
    started = _wait(lambda: log.exists() and log.read_text(), p, time.monotonic() + 180,
                    "the first evaluation")
    assert started, p.communicate()
    p.send_signal(signal.SIGTERM)
    try:
        stdout, _ = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("the run did not stop within 120 s of SIGTERM")
    assert p.returncode == 128 + signal.SIGTERM
    assert f"Resume with: aevb train --resume {out}" in stdout
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
    code, _, err = run_cli("train", "--out", str(out), *SMALL, "--optimizer", "sgd", "--lr",
                           "50", "--checkpoint-every", "100", "--budget", "1e5", "--data-dir",
                           str(real_data_dir))
    assert code == 1
    assert "training failed: the objective is" in err and "at step" in err
    assert "step size too large" in err and "last good checkpoint is kept" in err
    _, _, state, _ = ckpt.load(out / "checkpoint.npz")
    assert state["seen"] >= 100 and not (out / "params.npz").exists()


def test_debug_nans_raises_at_the_first_invalid_operation(real_data_dir, tmp_path):
    code, _, err = run_cli("train", "--out", str(tmp_path / "r"), *SMALL, "--optimizer", "sgd",
                           "--lr", "50", "--budget", "1e5", "--debug-nans", "--data-dir",
                           str(real_data_dir))
    assert code == 1 and "encountered in" in err


# ------------------------------------------------------------ the bad-input catalogue

def test_resume_without_checkpoint_starts_from_the_beginning(real_data_dir, tmp_path):
    """A run killed before its first checkpoint: --resume starts it over (it is deterministic)."""
    config = small_config(budget=1000, seed=3)
    runs.start(tmp_path / "ref", config, data_dir=real_data_dir).run(progress=False, echo=str)
    out = tmp_path / "early"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(config))
    (out / "log.jsonl").write_text('{"samples": 100, "train_bound": 1.0, "test_bound": 1.0}\n')
    code, stdout, err = run_cli("train", "--resume", str(out), "--no-progress", "--data-dir",
                                str(real_data_dir))
    assert code == 0, err
    assert "starting it from the beginning" in stdout
    assert_same_params(params_of(tmp_path / "ref"), params_of(out))
    assert log_of(tmp_path / "ref") == log_of(out)
    code, _, err = run_cli("train", "--resume", str(tmp_path / "nothing"))
    assert code == 2 and "is not an aevb run folder" in err


def test_resume_refuses_settings_it_would_ignore(tmp_path):
    code, _, err = run_cli("train", "--resume", str(tmp_path), "--n-latent", "5")
    assert code == 2 and "drop --n-latent" in err


def test_checkpoint_from_another_architecture(real_data_dir, tmp_path):
    out = tmp_path / "run"
    runs.start(out, small_config(budget=500), data_dir=real_data_dir).run(progress=False, echo=str)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "n_latent": 7}))
    before = (out / "checkpoint.npz").read_bytes()
    code, _, err = run_cli("train", "--resume", str(out), "--data-dir", str(real_data_dir))
    assert code == 2 and "from a different model" in err
    assert (out / "checkpoint.npz").read_bytes() == before


def test_corrupt_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(small_config()))
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 garbage")
    code, _, err = run_cli("train", "--resume", str(tmp_path))
    assert code == 2 and "is not a readable aevb checkpoint" in err
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"PK\x03\x04 garbage"


# ------------------------------------------------------------ faults and more bad input

def _main(argv, capsys):
    from aevb.cli import main
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_full_disk_during_a_checkpoint_leaves_the_previous_one_and_no_stray_file(
        real_data_dir, tmp_path, monkeypatch, capsys):
    """Catches: a temporary file left behind, or the good checkpoint replaced, when a write
    fails (ENOSPC), and a traceback instead of one sentence with exit status 2."""
    import errno
    out = tmp_path / "run"
    runs.start(out, small_config(budget=1000), data_dir=real_data_dir).run(progress=False, echo=str)
    before = (out / "checkpoint.npz").read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(ckpt.os, "fsync", full)
    code, _, err = _main(["train", "--resume", str(out), "--budget", "2000", "--no-progress",
                          "--data-dir", str(real_data_dir)], capsys)
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "checkpoint.npz").read_bytes() == before
    assert not list(out.glob(".*.tmp"))


def test_read_only_output_folder_is_one_sentence(tmp_path, monkeypatch, capsys, real_data_dir):
    """Catches: a traceback from mkdir/open on a read-only file system."""
    import errno
    from pathlib import Path

    def read_only(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(self))
    monkeypatch.setattr(Path, "mkdir", read_only)
    code, _, err = _main(["train", "--out", str(tmp_path / "ro" / "run"), *SMALL,
                          "--budget", "1000", "--data-dir", str(real_data_dir)], capsys)
    assert code == 2 and "Read-only file system" in err and str(tmp_path / "ro") in err
    assert len(err.strip().splitlines()) == 1


def test_evaluate_on_a_read_only_folder_prints_the_result_and_says_it_is_not_saved(
        real_data_dir, tmp_path, monkeypatch, capsys):
    import errno
    out = tmp_path / "run"
    runs.start(out, small_config(budget=1000), data_dir=real_data_dir).run(progress=False, echo=str)

    def read_only(path, obj):
        raise OSError(errno.EROFS, "Read-only file system", str(path))
    from aevb.runs import evaluation
    monkeypatch.setattr(evaluation, "write_json", read_only)
    code, stdout, err = _main(["evaluate", str(out), "--n-points", "20", "--n-samples", "10",
                               "--data-dir", str(real_data_dir)], capsys)
    assert code == 2 and "test: log p(x) = " in stdout
    assert "could not write" in err and "not saved" in err and "Traceback" not in err
    assert not (out / "likelihood-is.json").exists()


def test_log_line_that_is_json_but_not_a_record(tmp_path):
    (tmp_path / "log.jsonl").write_text('{"samples": 100, "train_bound": -1}\n[1, 2]\n')
    with pytest.raises(ckpt.CheckpointError, match="record 2, is not an aevb log record"):
        ckpt.read_log(tmp_path / "log.jsonl")


def test_resume_with_a_budget_below_the_samples_seen_is_refused(real_data_dir, tmp_path):
    """Catches: silent success that rewrites config.json with a budget already passed."""
    out = tmp_path / "run"
    runs.start(out, small_config(budget=1000), data_dir=real_data_dir).run(progress=False, echo=str)
    config = (out / "config.json").read_bytes()
    code, _, err = run_cli("train", "--resume", str(out), "--budget", "500", "--data-dir",
                           str(real_data_dir))
    assert code == 2 and "has already evaluated 1000 training samples" in err
    assert (out / "config.json").read_bytes() == config


def test_overwrite_removes_the_old_runs_likelihood_files(real_data_dir, tmp_path):
    out = tmp_path / "run"
    runs.start(out, small_config(budget=500), data_dir=real_data_dir).run(progress=False, echo=str)
    (out / "likelihood-is.json").write_text("{}")
    (out / "likelihood-curve.jsonl").write_text("{}\n")          # aevb reproduce's Figure 3 stages
    runs.start(out, small_config(budget=500), data_dir=real_data_dir, overwrite=True)
    assert not (out / "likelihood-is.json").exists()
    assert not (out / "likelihood-curve.jsonl").exists()


@pytest.mark.parametrize("args, flag", [
    (["--seed", "-1"], "--seed"), (["--budget", "1e30"], "--budget"),
    (["--n-latent", "0"], "--n-latent"), (["--lr", "fast"], "--lr"),
    (["--adagrad-warmup", "-3"], "--adagrad-warmup"), (["--threads", "0"], "--threads")])
def test_bad_flags_name_the_flag(tmp_path, args, flag):
    code, _, err = run_cli("train", "--out", str(tmp_path / "r"), *args)
    assert code == 2 and f"argument {flag}" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_a_model_too_large_for_memory_is_refused_before_allocating(real_data_dir, tmp_path):
    """Catches: a MemoryError traceback (or the machine swapping) for --n-latent 1e9."""
    code, _, err = run_cli("train", "--out", str(tmp_path / "r"), "--n-latent", "1e9",
                           "--data-dir", str(real_data_dir))
    assert code == 2 and "to train, a model" in err and "choose a smaller n_latent (--n-latent)" in err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_papers_largest_step_size_ends_well_or_stops_clearly(real_data_dir, tmp_path, dtype):
    """lr = 0.1 on the paper's MNIST model (issue: float32 froze 499 parameters and exited 0
    with a bound near -458; float64 diverged). Either the run ends with finite optimizer
    state and a bound above the untrained model's, or it stops with exit status 1, a clear
    message, and no params.npz."""
    out = tmp_path / "run"
    code, _, err = run_cli("train", "--out", str(out), "--dataset", "mnist", "--n-latent", "20",
                           "--budget", "3e4", "--dtype", dtype, "--lr", "0.1", "--no-progress",
                           "--checkpoint-every", "1e4", "--data-dir", str(real_data_dir),
                           timeout=400)
    records = ckpt.read_log(out / "log.jsonl")
    if code == 0:
        _, _, state, _ = ckpt.load(out / "checkpoint.npz")
        assert all(np.isfinite(a).all() for s in state["optimizer"]["state"] for a in s)
        assert records[-1]["train_bound"] > records[0]["train_bound"]
    else:
        assert code == 1, err
        assert "training failed" in err and ("diverged" in err or "NaN or infinity" in err)
        assert "Traceback" not in err and not (out / "params.npz").exists()
        if (out / "checkpoint.npz").exists():          # the kept checkpoint is a finite one
            enc, dec, state, _ = ckpt.load(out / "checkpoint.npz")
            assert all(np.isfinite(a).all() for a in enc.arrays() + dec.arrays())


def test_resume_refuses_a_log_its_checkpoint_cannot_restore(tmp_path):
    """Catches ``aevb train --resume`` on a folder whose curve goes further than its checkpoint
    (here: a committed curve, no checkpoint at all): it would train again from 0 and cut the
    log. One sentence, exit 2, nothing changed."""
    committed = Path(__file__).resolve().parents[2] / "results" / "runs" / "frey-aevb-nz2-h200"
    if not committed.is_dir():
        pytest.skip("the committed results/ is not beside these tests")
    out = tmp_path / "run"
    shutil.copytree(committed, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(runs.ResultsAtRisk, match="records 10000000 training samples but it has "
                                                 "no checkpoint.npz"):
        runs.resume(out)
    r = subprocess.run([sys.executable, "-m", "aevb", "train", "--resume", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow
def test_a_second_writer_is_refused_and_the_first_ends_as_a_lone_run(real_data_dir, tmp_path):
    """Catches two processes sharing a run folder (both once exited 0 with an interleaved log, a
    config of one seed and a checkpoint of the other): the second gets one sentence naming the
    first's PID and exit 2, whether it starts (another seed) or resumes; the first finishes
    bitwise equal to a run that was alone."""
    args = ["--dataset", "frey", "--n-latent", "2", "--budget", "3e4", "--checkpoint-every",
            "1e4", "--no-progress", "--data-dir", str(real_data_dir)]
    lone = tmp_path / "lone"
    assert run_cli("train", "--out", str(lone), *args)[0] == 0
    out = tmp_path / "shared"
    first = subprocess.Popen([sys.executable, "-m", "aevb", "train", "--out", str(out), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "log.jsonl").is_file() or not (out / ".lock").is_file() or \
                not (out / ".lock").read_text().strip():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first writer did not start within 120 s"
            time.sleep(0.05)
        for second in (["--out", str(out), "--overwrite", "--seed", "1", *args],
                       ["--resume", str(out), "--no-progress"]):
            code, _, err = run_cli("train", *second)
            if first.poll() is not None:
                pytest.skip("the first run finished before the second could try (a fast machine)")
            assert code == 2, err
            assert f"is being written by process {first.pid}" in err and err.count("\n") == 1
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err
    assert_same_params(params_of(lone), params_of(out))
    assert log_of(lone) == log_of(out)
    assert json.loads((out / "config.json").read_text())["seed"] == 0


def test_the_folder_lock_refuses_a_second_holder_and_is_taken_over_once_free(tmp_path):
    """Catches a lock that does not exclude (two writers in one folder), one that names no
    owner, one that a dead owner leaves stuck, and a dead writer's half-written temporary
    file left in the folder."""
    (tmp_path / ".checkpoint.npz.999999.tmp").write_bytes(b"half")
    fd = runs.lock_folder(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(runs.FolderBusy, match=f"is being written by process {os.getpid()}"):
        runs.lock_folder(tmp_path)
    os.close(fd)                                  # as when the owner exits, however it exits
    os.close(runs.lock_folder(tmp_path))


def test_make_config_refuses_mnist_settings_for_frey_rather_than_ignoring_them():
    """Catches ``make_config("frey", binarize="dynamic")`` (or ``full_train=True``) returning a
    config with ``binarize="none"`` and the Frey split: a setting asked for and silently not
    used. MNIST keeps its default, dynamic binarization, when none is given."""
    for kw, says in (({"binarize": "dynamic"}, "binarize='dynamic' is for dataset 'mnist' only"),
                     ({"binarize": "fixed"}, "binarize='fixed' is for dataset 'mnist' only"),
                     ({"full_train": True}, "full_train=True is for dataset 'mnist' only")):
        with pytest.raises(ValueError, match=says):
            runs.make_config("frey", **kw)
    assert runs.make_config("frey")["binarize"] == runs.make_config("frey", binarize="none")[
        "binarize"] == "none"
    assert runs.make_config("mnist")["binarize"] == "dynamic"
    assert runs.make_config("mnist", binarize="fixed")["binarize"] == "fixed"


def test_a_thresholded_test_set_changes_the_test_bound_and_nothing_else(real_data_dir, tmp_path):
    """Catches ``test_binarize="threshold"`` recorded in config.json but not used (the test
    bound equal to the seeded draw's), a threshold other than grey level > 0.5, and a test
    binarization that draws from the training's random stream (the training curve changed).
    The thresholded digits are checked against the raw uint8 pixels (>= 128 of 255)."""
    from aevb.io import datasets as D
    logs = {}
    for mode in ("fixed", "threshold"):
        config = small_config(budget=1000, test_binarize=mode)
        assert config["test_binarize"] == mode
        runs.start(tmp_path / mode, config, data_dir=real_data_dir).run(progress=False,
                                                                        echo=str)
        assert runs.read_config(tmp_path / mode)["test_binarize"] == mode
        logs[mode] = log_of(tmp_path / mode)
    assert [r["train_bound"] for r in logs["fixed"]] == [r["train_bound"]
                                                          for r in logs["threshold"]]
    assert all(a["test_bound"] != b["test_bound"] for a, b in zip(*logs.values()))
    _, test, _ = runs.load_data(small_config(test_binarize="threshold"), real_data_dir)
    raw = D.mnist("test", real_data_dir).images
    np.testing.assert_array_equal(test.images, (raw >= 128).astype(np.uint8))
    assert test.binarize == "threshold" and test.scale == 1.0


def test_test_binarize_is_refused_where_it_cannot_apply(tmp_path):
    """Catches ``test_binarize`` silently dropped: for Frey Face (grey levels), with
    ``binarize="none"`` (grey test digits), an unknown mode, and a config.json whose value
    make_config could not have written; on the command line one sentence and exit 2. A config
    from before the setting reads as the seeded draw it had."""
    for kw, says in (({"dataset": "frey", "test_binarize": "threshold"},
                      "test_binarize='threshold' is for dataset 'mnist' only"),
                     ({"binarize": "none", "test_binarize": "fixed"},
                      "test_binarize='fixed' needs binarized training digits"),
                     ({"test_binarize": "otsu"}, "unknown binarization 'otsu'")):
        with pytest.raises(ValueError, match=says):
            runs.make_config(**{"dataset": "mnist", **kw})
    assert runs.make_config("mnist", binarize="none")["test_binarize"] == "none"
    assert runs.make_config("frey")["test_binarize"] == "none"
    out = tmp_path / "run"
    out.mkdir()
    old = {k: v for k, v in small_config().items() if k != "test_binarize"}
    (out / "config.json").write_text(json.dumps(old))
    assert runs.read_config(out)["test_binarize"] == "fixed"
    (out / "config.json").write_text(json.dumps({**old, "test_binarize": "threshold ",}))
    with pytest.raises(ckpt.CheckpointError, match="test_binarize is 'threshold '; with "
                                                   "binarize 'dynamic' it must be one of"):
        runs.read_config(out)
    code, _, err = run_cli("train", "--out", str(tmp_path / "frey"), "--dataset", "frey",
                           "--test-binarize", "threshold", "--budget", "100")
    assert code == 2 and err.count("\n") == 1 and "--test-binarize is for --dataset mnist" in err
    assert not (tmp_path / "frey").exists()
