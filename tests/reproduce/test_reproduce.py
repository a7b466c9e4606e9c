"""aevb reproduce: sweep plans, resumable sweeps on joblib and Dask, figures and the table."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aevb.reproduce import engines as E
from aevb.reproduce import figures as F
from aevb.reproduce import spec as S
from aevb.reproduce import sweep as R
from aevb import runs
from aevb.io import checkpoint as ckpt
from aevb.cli import main

# Every run at its dataset's step size (--step-size fixed): the rule trains three candidates
# per run; test_step_size.py tests it.
TINY = dict(datasets=["frey"], n_latent=[2, 5], methods=["aevb"], budget=10_000, n_hidden=20,
            checkpoint_every=2_000, step_size="fixed")
TINY_ARGS = ["--datasets", "frey", "--n-latent", "2", "5", "--methods", "aevb", "--budget",
             "1e4", "--n-hidden", "20", "--checkpoint-every", "2000", "--no-progress",
             "--step-size", "fixed"]


def log_without_seconds(folder):
    return [json.dumps({k: v for k, v in r.items() if k != "seconds"})
            for r in ckpt.read_log(Path(folder) / "log.jsonl")]


def assert_same_runs(a, b):
    """Logs (without wall times) and final parameters bitwise equal, run by run."""
    names = sorted(p.name for p in (Path(a) / "runs").iterdir())
    assert names == sorted(p.name for p in (Path(b) / "runs").iterdir()) and names
    for name in names:
        fa, fb = Path(a) / "runs" / name, Path(b) / "runs" / name
        assert log_without_seconds(fa) == log_without_seconds(fb), name
        with np.load(fa / "params.npz") as pa, np.load(fb / "params.npz") as pb:
            assert sorted(pa.files) == sorted(pb.files)
            for k in pa.files:
                assert pa[k].dtype == pb[k].dtype and pa[k].tobytes() == pb[k].tobytes(), \
                    f"{name}: {k} differs"


# ------------------------------------------------------------------ fast: plans and input

def test_figure2_plan_has_the_papers_18_curves():
    """Catches a missing or duplicated curve, or the wrong hidden units or default budget."""
    specs = S.plan(["figure2"])
    assert len(specs) == 18 == len({s.name for s in specs})
    assert {(s.dataset, s.n_latent) for s in specs} == {
        ("mnist", n) for n in (3, 5, 10, 20, 200)} | {("frey", n) for n in (2, 5, 10, 20)}
    assert all(s.n_hidden == {"mnist": 500, "frey": 200}[s.dataset] for s in specs)
    assert {s.method for s in specs} == {"aevb", "wake-sleep"}
    assert all(s.budget == 10**8 for s in specs)


def test_figures_share_runs_and_take_the_larger_budget():
    """Catches training Figure 5's N_z = 20 model twice, or a shared run cut to the smaller
    budget."""
    specs = {s.name: s for s in S.plan(list(S.FIGURES), methods=["aevb"])}
    nz20 = specs["mnist-aevb-nz20-h500"]
    assert set(nz20.figures) == {"figure2", "figure5"} and nz20.budget == 10**8
    assert set(specs["frey-aevb-nz2-h200"].figures) == {"figure2", "figure4"}
    assert specs["mnist-aevb-nz2-h500"].budget == 10**7
    fig3 = [s for s in specs.values() if "figure3" in s.figures]
    assert {s.n_train for s in fig3} == {1000, None} and all(s.n_hidden == 100 for s in fig3)
    assert all(s.stages[-1] == s.budget and list(s.stages) == sorted(s.stages) for s in fig3)


def test_method_reaches_make_config_only_when_not_aevb(monkeypatch):
    """Catches writing method='aevb' into every config (the default need not be spelt out),
    or dropping the method or N_train of a baseline."""
    seen = []
    monkeypatch.setattr(runs, "make_config", lambda dataset, **kw: seen.append(kw) or {})
    S.RunSpec("mnist", 3, 100).config()
    S.RunSpec("mnist", 3, 100, method="wake-sleep", n_train=1000).config()
    assert "method" not in seen[0] and "n_train" not in seen[0]
    assert seen[1]["method"] == "wake-sleep" and seen[1]["n_train"] == 1000


def test_sweep_starts_the_runs_with_the_most_work_left_first(tmp_path, monkeypatch):
    """Catches ordering by budget alone (at equal budgets an MCEM run, 8x an AEVB sample,
    would start last and train alone at the end) or ignoring the samples a run already has
    (a run 90 % done would start before fresh ones)."""
    order = []
    monkeypatch.setattr(R, "run_local", lambda todo, out, jobs, kw: order.extend(
        s.name for s in todo) or iter(()))
    part_done = "mnist-aevb-nz3-h500"
    monkeypatch.setattr(R, "seen", lambda folder: 9 * 10**6 if Path(folder).name == part_done
                        else 0)
    R.sweep(["figure2", "figure3"], tmp_path, budget=10**7, datasets=["mnist"], n_latent=[3],
            progress=False, draw=False, echo=lambda *a: None, step_size="fixed")
    assert order[:2] == ["mnist-mcem-nz3-h100-n1000", "mnist-mcem-nz3-h100"]
    assert order[2] == "mnist-wake-sleep-nz3-h500"          # 1.3x the cost, 5x the size
    assert order[-1] == part_done and len(order) == 8


def test_paper_value_is_taken_within_ten_percent_of_the_budget():
    """Catches comparing against a point read far from 10^8 (a curve that ends at 3.3 x 10^7)."""
    assert F.paper_at({97_700_000: 1.0, 10**7: 2.0}, 10**8) == 1.0
    assert F.paper_at({33_100_000: 1.0}, 10**8) is None
    rows = F.paper_values("figure2")
    assert len(rows) > 100 and {r["method"] for r in rows} == {"aevb", "wake-sleep"}


@pytest.mark.parametrize("argv, words", [
    (["figure9"], "unknown figure 'figure9'"),
    (["figure2", "--jobs", "0"], "--jobs must be"),
    (["figure2", "--datasets", "cifar"], "unknown dataset 'cifar'"),
    (["all", "--methods", "vae"], "unknown method 'vae'"),
])
def test_bad_input_is_one_sentence_and_exit_2(argv, words, tmp_path, capsys):
    """Catches a traceback or a silent sweep of something else for a mistyped argument."""
    assert main(["reproduce", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aevb reproduce: error:") and words in err and "\n" not in err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ slow: real sweeps

@pytest.fixture(scope="module")
def reference(real_data_dir, tmp_path_factory):
    """A tiny uninterrupted sweep (2 Frey runs x 10^4 samples) on 2 local processes."""
    out = tmp_path_factory.mktemp("ref")
    status = R.sweep(["figure2", "figure4"], out, jobs=2, progress=False, echo=lambda *a: None,
                     **TINY)
    assert status == 0
    return out


@pytest.mark.slow
def test_rerun_does_no_training(reference, capsys):
    """Catches a finished run trained again (or restarted) by a second identical command,
    or --draw-only training or rewriting the manifest."""
    files = sorted((reference / "runs").glob("*/*.npz")) + sorted(
        (reference / "runs").glob("*/log.jsonl"))
    before = [p.stat().st_mtime_ns for p in files]
    assert main(["reproduce", "figure2", "--out", str(reference), *TINY_ARGS]) == 0
    assert "2 of 2 runs already done; training 0" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in files] == before
    manifest = R.read_manifest(reference)
    assert {e["state"] for e in manifest["runs"].values()} == {"done"}
    assert all(e["samples"] == 10_000 for e in manifest["runs"].values())
    text = (reference / "manifest.json").read_bytes()       # --draw-only with a larger budget
    args = [a if a != "1e4" else "2e4" for a in TINY_ARGS]
    assert main(["reproduce", "figure2", "--out", str(reference), *args, "--draw-only"]) == 0
    assert [p.stat().st_mtime_ns for p in files] == before
    assert (reference / "manifest.json").read_bytes() == text


def _unlocked(folders):
    """True when no process holds a run folder's sweep lock (its worker has exited)."""
    import fcntl
    for f in folders:
        if (f / ".sweep.lock").exists():
            with open(f / ".sweep.lock") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
    return True


def _sweep_in_a_child(out):
    """The tiny sweep as a command in a new session, with slow checkpoints (time to signal
    it between them); returns the process and the run folders."""
    env = dict(os.environ, AEVB_TEST_PAUSE_IN_SAVE="0.15")
    proc = subprocess.Popen([sys.executable, "-m", "aevb", "reproduce", "figure2", "--out",
                             str(out), "--jobs", "2", *TINY_ARGS], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, [out / "runs" / s.name for s in S.plan(["figure2"], **TINY)]


def _wait(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_sweep_killed_and_restarted_equals_an_uninterrupted_one(reference, tmp_path):
    """Catches a resume that loses or repeats samples, a torn checkpoint or log, or a worker
    that outlives a killed sweep: SIGKILL to the whole sweep (parent and loky workers) after
    the first checkpoints, then the same command again; logs and parameters bitwise equal."""
    out = tmp_path / "killed"
    proc, folders = _sweep_in_a_child(out)
    try:
        _wait(lambda: any(R.seen(f) >= 2_000 for f in folders), 60, "a first checkpoint")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    at_kill = [R.seen(f) for f in folders]
    assert min(at_kill) < 10_000, f"both runs finished before the kill ({at_kill})"
    # every worker died with the sweep: the run folders' locks are free again
    _wait(lambda: _unlocked(folders), 30, "the killed workers to release their runs")
    assert R.sweep(["figure2", "figure4"], out, jobs=2, progress=False, echo=lambda *a: None,
                   **TINY) == 0
    assert_same_runs(reference, out)


@pytest.mark.slow
def test_sigterm_stops_the_sweep_and_its_workers(reference, tmp_path):
    """Catches Python's default SIGTERM (the parent dies at once, the manifest still says
    "running" and the loky workers train on as orphans) and a resume that differs after it:
    SIGTERM to the sweep's parent only, after the first checkpoints."""
    out = tmp_path / "terminated"
    proc, folders = _sweep_in_a_child(out)
    try:
        _wait(lambda: any(R.seen(f) >= 2_000 for f in folders), 60, "a first checkpoint")
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=60)
        assert status == 143, f"the sweep ended with {status} on SIGTERM, not 143"
        assert R.read_manifest(out)["sweep"]["status"] == "interrupted"
        _wait(lambda: _unlocked(folders), 30, "the workers to stop with the sweep")
        at_stop = [(f / "log.jsonl").read_bytes() for f in folders]
        assert min(R.seen(f) for f in folders) < 10_000, "both runs finished before SIGTERM"
        time.sleep(2)                        # an orphan would have checkpointed since
        assert [(f / "log.jsonl").read_bytes() for f in folders] == at_stop
    finally:                                 # never leave an orphan training
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
    assert R.sweep(["figure2", "figure4"], out, jobs=2, progress=False, echo=lambda *a: None,
                   **TINY) == 0
    assert_same_runs(reference, out)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_logs(reference, tmp_path):
    """Catches an engine-dependent result (BLAS threads, signal handling in worker threads,
    paths) by running the same sweep through dask.distributed with two worker processes."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        status = R.sweep(["figure2", "figure4"], tmp_path / "dask", progress=False,
                         scheduler=cluster.scheduler_address, echo=lambda *a: None, **TINY)
    assert status == 0
    assert_same_runs(reference, tmp_path / "dask")


@pytest.mark.slow
def test_figures_and_table_come_from_the_run_folders(reference, tmp_path):
    """Catches a table number that is not the log's, or a figure that is not drawn."""
    for name in ("figure2.png", "figure4.png", "table.csv", "table.md"):
        assert (reference / name).stat().st_size > 0, name
    with open(reference / "table.csv") as f:
        rows = list(csv.DictReader(f))
    manifest = R.read_manifest(reference)
    checked = 0
    for e in manifest["runs"].values():
        last = ckpt.read_log(reference / e["folder"] / "log.jsonl")[-1]
        for split in ("train", "test"):
            row = [r for r in rows if r["dataset"] == e["dataset"] and r["split"] == split
                   and int(r["n_latent"]) == e["n_latent"] and int(r["samples"]) == 10_000]
            assert len(row) == 1 and float(row[0]["ours"]) == last[f"{split}_bound"]
            assert row[0]["paper"] == ""          # 20 hidden units: not the paper's model
            checked += 1
    assert checked == 4
    fake = {"runs": {k: dict(e, figures=["figure5"]) for k, e in manifest["runs"].items()}}
    assert F.figure5(reference, fake, tmp_path / "f5.png").stat().st_size > 0


@pytest.mark.slow
def test_figure3_estimates_are_taken_at_each_stage(real_data_dir, tmp_path, monkeypatch):
    """Catches an Appendix D estimate taken from the wrong parameters (not the stage's), a
    stage skipped or repeated on resume, N_train = 1000 not reaching the run's config, or
    staged training whose log differs from a run trained straight to the budget."""
    monkeypatch.setattr(S, "FIG3_STAGES", (2_000, 5_000))
    calls = []

    def fake_estimate(folder, estimator, *, splits, paper, **kw):
        assert estimator == "hmc" and paper and tuple(splits) == ("train", "test")
        _, dec, source = runs.load_params(folder)
        calls.append(R.seen(folder))
        value = float(dec.b_logits.sum())         # a function of the stage's parameters
        return {"splits": {s: {"log_px_mean": value, "log_px_sem": 0.0} for s in splits}}
    monkeypatch.setattr(runs, "evaluate_likelihood", fake_estimate)
    spec, = [s for s in S.plan(["figure3"], methods=["aevb"], budget=10_000, n_hidden=20,
                               checkpoint_every=1_000) if s.n_train == 1000]
    assert spec.stages == (2_000, 5_000, 10_000)
    assert E.train_one(spec, tmp_path / "s")["state"] == "done"
    folder = tmp_path / "s" / "runs" / spec.name
    assert runs.read_config(folder)["n_train"] == 1000
    recs = E.curve_records(folder)
    assert [r["samples"] for r in recs] == [2_000, 5_000, 10_000] == calls
    straight = tmp_path / "straight"
    runs.start(straight, runs.make_config("mnist", n_latent=3, n_hidden=20, budget=10_000,
                                          dtype="float32", checkpoint_every=1_000,
                                          n_train=1000)).run(progress=False, echo=lambda *a: 0)
    assert log_without_seconds(straight) == log_without_seconds(folder)
    with np.load(straight / "params.npz") as z:
        assert recs[-1]["test_log_px"] == float(z["decoder.b_logits"].sum())
    assert R.state(spec, folder) == "done"
    assert E.train_one(spec, tmp_path / "s")["state"] == "done" and len(calls) == 3


RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_extending_the_committed_curves_refuses_and_changes_nothing(tmp_path):
    """Catches a sweep that restarts a curve it cannot continue: the committed results/ has logs
    but no checkpoints, and the README's extend-a-panel command, run from a fresh clone, once
    replaced a 10^7-sample log with a new one at 2 x 10^5 within 25 s. It must refuse with one
    sentence, exit 2, and leave every file as it was."""
    if not (RESULTS / "runs").is_dir():
        pytest.skip("the committed results/ is not beside these tests")
    clone = tmp_path / "clone"
    shutil.copytree(RESULTS, clone / "results")
    before = {p: p.read_bytes() for p in (clone / "results").rglob("*") if p.is_file()}
    try:                # refusing takes a second or two; training would take an hour
        proc = subprocess.run(
            [sys.executable, "-m", "aevb", "reproduce", "figure2", "--datasets", "frey",
             "--n-latent", "2", "--methods", "aevb", "--budget", "2e7", "--out", "results",
             "--no-progress"], cwd=clone, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the sweep did not refuse within 60 s: it is training the committed curve")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert "frey-aevb-nz2-h200/log.jsonl records 10000000 training samples but it has no " \
           "checkpoint.npz" in err and "another --out" in err, err
    after = {p: p.read_bytes() for p in (clone / "results").rglob("*") if p.is_file()}
    assert after == before


def test_the_default_sweep_folder_is_not_the_committed_results():
    """Catches a default --out that points at the committed results/ (where a sweep once
    overwrote the curves), and one that git would pick up as new files."""
    from aevb.cli.main import build_parser
    args = build_parser().parse_args(["reproduce", "figure2"])
    assert Path(args.out).resolve() != Path("results").resolve() and args.out == R.DEFAULT_OUT
    root = RESULTS.parent
    if (root / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "--no-index", f"{args.out}/x"],
                                 cwd=root, capture_output=True, text=True, timeout=60)
        assert ignored.returncode == 0, f"git would track {args.out}/"


def test_draw_only_refuses_a_folder_that_is_not_a_sweep(tmp_path):
    """Catches --draw-only writing figures and tables into any folder it is given (a run
    folder included)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "aevb", "reproduce", "all", "--draw-only",
                           "--out", str(run)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "is not one: give the --out of a sweep" in proc.stderr
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


def test_a_bad_scheduler_address_is_one_sentence_and_writes_nothing(tmp_path):
    """Catches a sweep that creates its folder, manifest and run folders before finding out
    that the Dask scheduler it was given cannot be reached (a mistyped address left a sweep
    folder behind), and a sweep that falls back to local processes instead."""
    pytest.importorskip("dask.distributed")
    out = tmp_path / "sweep"
    r = subprocess.run([sys.executable, "-m", "aevb", "reproduce", "figure2", "--datasets",
                        "frey", "--n-latent", "2", "--methods", "aevb", "--budget", "1e4",
                        "--scheduler", "not-an-address", "--out", str(out), "--no-progress"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "cannot reach a Dask scheduler" in r.stderr
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


def test_a_second_sweep_on_the_same_folder_is_refused(tmp_path):
    """Catches two sweeps writing one sweep folder (their manifests overwrite each other, and
    each reports the other's runs as failed): the second is refused with the first one's PID,
    and writes nothing."""
    from aevb.runs import lock_folder
    out = tmp_path / "sweep"
    out.mkdir()
    fd = lock_folder(out)                 # as a running sweep holds it
    try:
        r = subprocess.run([sys.executable, "-m", "aevb", "reproduce", "figure2", "--datasets",
                            "frey", "--n-latent", "2", "--methods", "aevb", "--budget", "1e4",
                            "--out", str(out), "--no-progress"],
                           capture_output=True, text=True, timeout=120)
    finally:
        os.close(fd)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert f"is being written by process {os.getpid()}" in r.stderr
    assert sorted(p.name for p in out.rglob("*")) == [".lock"]
