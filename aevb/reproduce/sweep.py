"""``aevb reproduce``: the paper's Figures 2 to 5 as resumable sweeps of ordinary run folders.

A sweep is a list of :class:`~aevb.reproduce.spec.RunSpec` (one per curve), each trained in a
run folder made by :func:`aevb.runs.folder.start` or :func:`aevb.runs.folder.resume`, so
``aevb train --resume`` and ``aevb evaluate`` work on every one of them.
Folders are shared between figures (Figure 5's N_z = 20 model is Figure 2's).

    OUT/manifest.json          the runs, their state and the sweep's settings
    OUT/runs/NAME/             run folders (config.json, log.jsonl, checkpoint.npz, ...)
    OUT/runs/NAME/likelihood-curve.jsonl   Figure 3: Appendix D estimates at stages
    OUT/figure2.png ... table.csv, table.md   drawn by :mod:`aevb.reproduce.figures`

The state of a run is read from its folder, never trusted from the manifest:
re-running a sweep skips finished runs, resumes interrupted ones from their
checkpoints and extends finished ones when the budget grows, so a sweep
stopped at any moment loses at most one checkpoint interval per run.

Engines (:mod:`aevb.reproduce.engines`): local processes through joblib (loky), or a Dask cluster
(``--scheduler ADDRESS``, dask.distributed imported only then). Every worker
holds one BLAS thread (threadpoolctl), so N jobs on N cores do not
oversubscribe. Results are bitwise the same on either engine.
"""
import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

from .. import runs
from ..io import checkpoint as ckpt
from ..version import __version__
from . import stepsize
from .engines import Progress, connect, run_dask, run_local, seen, state
from .spec import plan

# ------------------------------------------------------------------ the manifest

def manifest_path(out):
    return Path(out) / "manifest.json"


def read_manifest(out):
    """The sweep manifest of ``out`` (``{"runs": {}}`` if there is none yet)."""
    path = manifest_path(out)
    if not path.is_file():
        return {"runs": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}); move it away to start a new "
                         f"manifest (the run folders keep their state)") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), dict):
        raise ValueError(f"{path} is not an aevb sweep manifest (a JSON object with 'runs'); "
                         f"move it away to start a new one (the run folders keep their state)")
    return manifest


def write_manifest(out, manifest):
    manifest["aevb_version"] = __version__
    manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ckpt.atomic_write_bytes(manifest_path(out), (json.dumps(manifest, indent=1) + "\n").encode())


def _entry(spec, out, run_state, result=None):
    folder = Path(out) / "runs" / spec.name
    d = asdict(spec)
    extra = d.pop("extra")
    entry = {**d, "dtype": extra.get("dtype"), "folder": f"runs/{spec.name}",
             "state": run_state, "samples": seen(folder)}
    meta = ckpt.read_meta(folder / "checkpoint.npz")
    if meta:
        entry["seconds"] = round(float(meta.get("seconds", 0)), 1)
    if result and result.get("error"):
        entry["error"] = result["error"]
    return entry


# ------------------------------------------------------------------ the sweep

class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it stops a sweep as Ctrl-C does."""


@contextlib.contextmanager
def _sigterm_interrupts():
    """Turn SIGTERM into :class:`Terminated` while the sweep trains (main thread only).

    Python's default for SIGTERM ends the process at once: the manifest stayed "running",
    and the loky workers, which are not in its way, trained on as orphans. Raised in the
    main thread, the exception makes joblib stop and kill its workers, as for Ctrl-C; a run
    loses at most what it trained since its last checkpoint.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


DEFAULT_OUT = "sweep"       # never the committed results/ (a fresh clone has no checkpoints)


@contextlib.contextmanager
def _sweep_lock(out, train, client):
    """One sweep writes a sweep folder at a time: its ``.lock``, as a run folder's (a second
    sweep on the same ``--out`` is refused with the first one's PID). Closes the client too."""
    fd = None
    try:
        if train:
            out.mkdir(parents=True, exist_ok=True)
            fd = runs.lock_folder(out)
        yield
    finally:
        if fd is not None:
            os.close(fd)
        if client is not None:
            client.close()


def step_size_mode(given, manifest, out):
    """The sweep's step-size mode: ``given``, else the one its manifest records, else ``rule``.

    A sweep folder keeps one mode: its curves are compared with each other and with the
    paper, so a second call with the other mode is refused.
    """
    recorded = manifest.get("sweep", {}).get("step_size") if manifest["runs"] else None
    if given is not None and given not in stepsize.MODES:
        raise ValueError(f"unknown step-size mode {given!r}: choose from "
                         f"{', '.join(stepsize.MODES)}")
    if given is not None and recorded is not None and given != recorded:
        raise ValueError(f"{out} is a sweep with --step-size {recorded}; give the same, or "
                         f"another --out for --step-size {given}")
    return given or recorded or ("fixed" if manifest["runs"] else "rule")


def _check_not_at_risk(todo, out):
    """Refuse, before anything is written, to train a run folder whose log cannot be extended."""
    for s in todo:
        folder = out / "runs" / s.name
        if (folder / "config.json").is_file():
            try:
                runs.check_resumable(folder)
            except runs.ResultsAtRisk as e:
                raise runs.ResultsAtRisk(
                    f"{e}. This sweep would do so for {s.name}: give it another --out (a "
                    f"run folder without its checkpoint, as the committed results/ are, "
                    f"cannot be extended)") from None


def _choose_step_sizes(specs, out, manifest):
    """The rule's choice for each spec (:mod:`.stepsize`): the specs with their chosen step size
    (those still waiting for a candidate are left out) and the evidence, by run name."""
    chosen, evidence = [], {}
    for s in specs:
        e = stepsize.choose(s, out, diverged=manifest.get("step_size_diverged", {}))
        evidence[s.name] = e
        if e["chosen"] is None:
            continue
        chosen.append(replace(s, lr=e["chosen"]))
        for c in stepsize.candidates(s):          # the candidates that lost are not curves
            if c.lr != e["chosen"]:
                manifest["runs"].pop(c.name, None)
    return chosen, evidence


def _record_choice(spec, out, evidence):
    """Write the rule's evidence into the chosen run's config.json (key ``step_size_rule``; not
    ``step_size``, which is MCEM's own setting: its HMC step size)."""
    folder = out / "runs" / spec.name
    path = folder / "config.json"
    if not path.is_file():
        return
    config = runs.read_config(folder)
    if isinstance(config.get("step_size"), dict):     # written under MCEM's own key before
        del config["step_size"]
    if config.get("step_size_rule") != evidence:
        fd = runs.lock_folder(folder)
        try:
            ckpt.write_json(path, {**config, "step_size_rule": evidence})
        finally:
            os.close(fd)


def sweep(figures, out=DEFAULT_OUT, *, jobs=None, scheduler=None, data_dir=None, download=None,
          progress=True, draw=True, train=True, echo=print, step_size=None, **filters):
    """Train every run ``figures`` need (:func:`~aevb.reproduce.spec.plan`), then draw the figures
    and the table.

    ``step_size="rule"`` (the default for a new sweep folder) chooses each run's step size by
    the paper's rule (:mod:`.stepsize`): first every candidate is trained to 5 x 10^5
    samples, then the chosen one goes on to the budget. ``"fixed"`` trains every run at its
    dataset's default step size (``aevb.defaults.LR``). ``None``: the folder's own mode.
    ``train=False`` only draws, from the folders as they are (while another sweep trains).
    Returns 0 when every supported run is done, 1 if a run failed, 130 if interrupted (143
    by SIGTERM, which stops a sweep as Ctrl-C does: the manifest says interrupted and no
    worker process outlives it).
    """
    jobs = jobs or os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    specs = plan(figures, **filters)
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: choose a sweep folder")
    if not train and not manifest_path(out).is_file():
        raise ValueError(f"--draw-only draws from a sweep folder (one with manifest.json), and "
                         f"{out} is not one: give the --out of a sweep")
    manifest = read_manifest(out)
    mode = step_size_mode(step_size, manifest, out)
    trials, continued = [], []
    if mode == "rule" and train:
        by_name = {c.name: c for s in specs for c in stepsize.candidates(s)}
        diverged = manifest.get("step_size_diverged", {})
        trials = [c for c in by_name.values() if c.name not in diverged and
                  stepsize.train_bound_at(out / "runs" / c.name, c.budget,
                                          stepsize.measure(c.method)) is None]
        for s in specs:               # the runs that may go on to the budget after the choice
            chosen = stepsize.choose(s, out, diverged=diverged)["chosen"]
            continued += [replace(s, lr=chosen)] if chosen is not None else \
                [replace(c, budget=s.budget) for c in stepsize.candidates(s)]
    elif train:
        continued = specs
    continued = [s for s in continued if state(s, out / "runs" / s.name) != "done"]
    _check_not_at_risk(trials + continued, out)         # before anything is written
    client = connect(scheduler) if scheduler and train else None   # before anything is written
    kw = {"data_dir": data_dir, "download": download, "trainer_threads": 1}
    with _sweep_lock(out, train, client):
        if train:
            (out / "runs").mkdir(parents=True, exist_ok=True)
        manifest["sweep"] = {"figures": list(figures), "jobs": jobs, "scheduler": scheduler,
                             "step_size": mode, "status": "running",
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        status = 0
        if trials:
            echo(f"choosing step sizes: training {len(trials)} candidates to "
                 f"{max(c.budget for c in trials):.0e} samples")
            status = _train(trials, trials, out, manifest, client, jobs, kw, progress, 0, echo,
                            candidates=True)
            if status in (130, 143):
                return _interrupted(out, manifest, train, echo, status)
        if mode == "rule":
            waiting = specs
            specs, evidence = _choose_step_sizes(specs, out, manifest)
            manifest["step_sizes"] = {**manifest.get("step_sizes", {}), **evidence}
            for s in waiting:
                if evidence[s.name]["chosen"] is None:
                    echo(f"{s.name}: no step size chosen yet (a candidate has not reached "
                         f"{evidence[s.name]['select_at']} samples)")
                    status = max(status, int(train))
        todo, n_done = [], 0
        for s in specs:
            st = state(s, out / "runs" / s.name)       # pending, interrupted, extend or done
            n_done += st == "done"
            manifest["runs"][s.name] = _entry(s, out, st)
            if st != "done" and train:
                todo.append(s)
        _check_not_at_risk(todo, out)      # (a choice made only now may continue another run)
        if mode == "rule" and train:
            for s in specs:
                _record_choice(s, out, manifest["step_sizes"][replace(s, lr=None).name])
        if train:                                     # --draw-only leaves the manifest alone
            write_manifest(out, manifest)
            echo(f"{n_done} of {len(specs)} runs already done; "
                 f"training {len(todo)} on {scheduler or f'{jobs} local processes'} ({out})")
        else:
            echo(f"drawing from the {len(specs)} run folders as they are ({n_done} done; {out})")
        status = max(status, _train(todo, specs, out, manifest, client, jobs, kw,
                                    progress and train, n_done, echo))
        if status in (130, 143):
            return _interrupted(out, manifest, train, echo, status)
        manifest["sweep"]["status"] = "finished" if status == 0 else "failed"
        if train:
            write_manifest(out, manifest)
        if draw:
            from . import figures as F
            for path in F.draw(out, figures, manifest):
                echo(f"wrote {path}")
        return status


def _interrupted(out, manifest, train, echo, status):
    manifest["sweep"]["status"] = "interrupted"
    if train:
        write_manifest(out, manifest)
    echo(f"interrupted; run the same command again to resume ({out})")
    return status


def _train(todo, specs, out, manifest, client, jobs, kw, progress, n_done, echo,
           candidates=False):
    """Train ``todo`` (some of ``specs``, which the progress bar counts) on the engine; returns
    the status. Curves get their manifest entries as they finish; ``candidates`` of the
    step-size rule get none, and one whose training blew up is recorded, not a failure."""
    if not todo:
        return 0
    # The most work left first, so that the last run does not train alone while the
    # other processes idle (longest-processing-time-first scheduling).
    todo = sorted(todo, key=lambda s: -s.work(seen(out / "runs" / s.name)))
    bar = Progress(specs, out, progress, done_runs=n_done)
    by_name = {s.name: s for s in todo}
    status, reported = 0, set()
    with _sigterm_interrupts():
        try:
            results = (run_dask(todo, out, client, kw) if client is not None
                       else run_local(todo, out, jobs, kw))
            for res in results:
                s = by_name[res["name"]]
                ok = res["state"] == "done"
                reported.add(s.name)
                if not candidates:
                    manifest["runs"][s.name] = _entry(s, out, res["state"], res)
                    write_manifest(out, manifest)
                bar.update(run_finished=ok)
                # a candidate of the step-size rule whose training blew up (RunError: a
                # FloatingPointError) is evidence, not a failure; the manifest keeps it
                diverged = candidates and (res.get("error") or "").startswith("RunError")
                if diverged:
                    manifest.setdefault("step_size_diverged", {})[s.name] = res["error"]
                if not ok and not diverged:
                    status = max(status, 130 if res["state"] == "interrupted" else 1)
                    why = f" ({res['error']})" if res.get("error") else ""
                    echo(f"{s.name}: {res['state']}{why}")
        except KeyboardInterrupt as e:
            status = 143 if isinstance(e, Terminated) else 130
        finally:
            bar.close()
            for s in todo:                       # the folders are the truth
                if s.name not in reported and not candidates:
                    manifest["runs"][s.name] = _entry(s, out, state(s, out / "runs" / s.name))
    return status
