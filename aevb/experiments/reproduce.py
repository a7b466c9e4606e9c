"""``aevb reproduce``: the paper's Figures 2 to 5 as resumable sweeps of ordinary run folders.

A sweep is a list of :class:`RunSpec` (one per curve), each trained in a run
folder made by :func:`aevb.runs.start` or :func:`aevb.runs.resume`, so
``aevb train --resume`` and ``aevb evaluate`` work on every one of them.
Folders are shared between figures (Figure 5's N_z = 20 model is Figure 2's).

    OUT/manifest.json          the runs, their state and the sweep's settings
    OUT/runs/NAME/             run folders (config.json, log.jsonl, checkpoint.npz, ...)
    OUT/runs/NAME/likelihood-curve.jsonl   Figure 3: Appendix D estimates at stages
    OUT/figure2.png ... table.csv, table.md   drawn by :mod:`aevb.experiments.figures`

The state of a run is read from its folder, never trusted from the manifest:
re-running a sweep skips finished runs, resumes interrupted ones from their
checkpoints and extends finished ones when the budget grows, so a sweep
stopped at any moment loses at most one checkpoint interval per run.

Engines (:mod:`aevb.experiments.engines`): local processes through joblib (loky), or a Dask cluster
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .. import __version__
from ..runs import checkpoint as ckpt
from .. import runs
from .engines import Progress, checkpoint_meta, run_dask, run_local, seen, state

FIGURES = ("figure2", "figure3", "figure4", "figure5")
DATASETS = ("mnist", "frey")
METHODS = ("aevb", "wake-sleep", "mcem")
FIGURE2_LATENT = {"mnist": (3, 5, 10, 20, 200), "frey": (2, 5, 10, 20)}
HIDDEN = {"mnist": 500, "frey": 200}
DEFAULT_BUDGET = {"figure2": 10**8, "figure3": 6 * 10**7, "figure4": 10**7, "figure5": 10**7}
FIG3_STAGES = (10**6, 5 * 10**6, 10**7, 3 * 10**7, 6 * 10**7)   # the paper's points, and 10^6
DTYPE = "float32"        # about twice as fast as float64; figures and table say so
PIXELS = {"mnist": 784, "frey": 560}
# Cost of one training sample relative to AEVB's, for ordering a sweep only (measured with
# benchmarks/bench_baselines.py: wake-sleep 1.3x, MCEM 7.4-8.0x).
METHOD_COST = {"aevb": 1.0, "wake-sleep": 1.3, "mcem": 8.0}


class Unsupported(ValueError):
    """A run this version of aevb.runs cannot make yet (a method or N_train it lacks)."""


@dataclass
class RunSpec:
    """One curve: a model, a method and a training budget (in samples evaluated)."""
    dataset: str
    n_latent: int
    n_hidden: int
    method: str = "aevb"
    n_train: int = None            # None: the dataset's standard training split
    budget: int = 10**6
    figures: tuple = ()
    stages: tuple = ()             # sample counts with an Appendix D estimate (Figure 3)
    extra: dict = field(default_factory=dict)   # more make_config settings (dtype, ...)

    @property
    def name(self):
        n = f"-n{self.n_train}" if self.n_train else ""
        return f"{self.dataset}-{self.method}-nz{self.n_latent}-h{self.n_hidden}{n}"

    def work(self, done=0):
        """A rough cost of training from ``done`` samples to the budget, for ordering only.

        Proportional to the samples left, the method's cost per sample and the size of
        the weight matrices (encoder D x H + H x 2 N_z, decoder N_z x H + H x 2 D at most).
        """
        size = self.n_hidden * (3 * PIXELS.get(self.dataset, 784) + 3 * self.n_latent)
        return max(self.budget - done, 0) * METHOD_COST.get(self.method, 1.0) * size

    def config(self):
        """The run's config from :func:`aevb.runs.make_config`; the method only if not aevb."""
        kw = dict(self.extra, n_latent=self.n_latent, n_hidden=self.n_hidden,
                  budget=self.budget)
        if self.method != "aevb":
            kw["method"] = self.method
        if self.n_train is not None:
            kw["n_train"] = self.n_train
        try:
            return runs.make_config(self.dataset, **kw)
        except TypeError:
            need = " and ".join(k for k in ("method", "n_train") if k in kw)
            raise Unsupported(f"aevb.runs.make_config does not take {need} yet") from None


def plan(figures, *, budget=None, datasets=None, n_latent=None, methods=None, n_hidden=None,
         **extra):
    """The runs behind ``figures`` after the filters; runs shared by figures are merged.

    ``extra`` are more settings of :func:`aevb.runs.make_config` (default: float32, a
    checkpoint every 10^6 samples or a tenth of the budget if less).
    """
    figures = check_choices("figure", figures, FIGURES)
    datasets = check_choices("dataset", datasets or DATASETS, DATASETS)
    methods = check_choices("method", methods or METHODS, METHODS)
    specs = {}

    def add(fig, dataset, nz, method="aevb", hidden=None, n_train=None):
        if dataset not in datasets or method not in methods or (n_latent and nz not in n_latent):
            return
        b = int(budget or DEFAULT_BUDGET[fig])
        stages = tuple(s for s in FIG3_STAGES if s < b) + (b,) if fig == "figure3" else ()
        settings = {"dtype": DTYPE, "checkpoint_every": min(10**6, max(100, b // 10)), **extra}
        s = RunSpec(dataset, nz, n_hidden or hidden or HIDDEN[dataset], method, n_train, b,
                    (fig,), stages, settings)
        old = specs.get(s.name)
        if old:
            s = replace(old, budget=max(old.budget, b), figures=old.figures + (fig,),
                        stages=tuple(sorted(set(old.stages + stages))))
        specs[s.name] = s

    for fig in figures:
        if fig == "figure2":
            for ds, nzs in FIGURE2_LATENT.items():
                for nz in nzs:
                    for m in ("aevb", "wake-sleep"):
                        add(fig, ds, nz, m)
        elif fig == "figure3":
            for n in (1000, None):          # None: the 50,000 training images
                for m in METHODS:
                    add(fig, "mnist", 3, m, 100, n)
        elif fig == "figure4":
            add(fig, "frey", 2)
            add(fig, "mnist", 2)
        else:
            for nz in (2, 5, 10, 20):
                add(fig, "mnist", nz)
    return list(specs.values())


def check_choices(what, given, allowed):
    given = [given] if isinstance(given, str) else list(given)
    bad = [g for g in given if g not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad[0]!r}: choose from {', '.join(allowed)}")
    return given


# ------------------------------------------------------------------ the manifest

def manifest_path(out):
    return Path(out) / "manifest.json"


def read_manifest(out):
    """The sweep manifest of ``out`` (``{"runs": {}}`` if there is none yet)."""
    path = manifest_path(out)
    if not path.is_file():
        return {"runs": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); move it away to start a new "
                         f"manifest (the run folders keep their state)") from None


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
    meta = checkpoint_meta(folder)
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


def sweep(figures, out="results", *, jobs=None, scheduler=None, data_dir=None, download=None,
          progress=True, draw=True, train=True, echo=print, **filters):
    """Train every run ``figures`` need (:func:`plan`), then draw the figures and the table.

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
    (out / "runs").mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out)
    todo, skipped, n_done = [], [], 0
    for s in specs:
        try:
            s.config()
        except Unsupported as e:
            skipped.append(s)
            manifest["runs"][s.name] = {**_entry(s, out, "unsupported"), "error": str(e)}
            continue
        st = state(s, out / "runs" / s.name)       # pending, interrupted, extend or done
        n_done += st == "done"
        manifest["runs"][s.name] = _entry(s, out, st)
        if st != "done" and train:
            todo.append(s)
    # The most work left first, so that the last run does not train alone while the
    # other processes idle (longest-processing-time-first scheduling).
    todo.sort(key=lambda s: -s.work(seen(out / "runs" / s.name)))
    manifest["sweep"] = {"figures": list(figures), "jobs": jobs, "scheduler": scheduler,
                         "status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if train:                                     # --draw-only leaves the manifest alone
        write_manifest(out, manifest)
    for s in skipped:
        echo(f"skipping {s.name}: {manifest['runs'][s.name]['error']}")
    echo(f"{n_done} of {len(specs)} runs already done; "
         f"training {len(todo)} on {scheduler or f'{jobs} local processes'} ({out})")
    kw = {"data_dir": data_dir, "download": download, "trainer_threads": 1}
    bar = Progress([s for s in specs if s not in skipped], out, progress,
                   done_runs=n_done)
    by_name = {s.name: s for s in specs}
    status, reported = 0, set()
    with _sigterm_interrupts():
        try:
            results = (run_dask(todo, out, scheduler, kw) if scheduler
                       else run_local(todo, out, jobs, kw))
            for res in results:
                s = by_name[res["name"]]
                ok = res["state"] == "done"
                reported.add(s.name)
                manifest["runs"][s.name] = _entry(s, out, res["state"], res)
                write_manifest(out, manifest)
                bar.update(run_finished=ok)
                if not ok:
                    status = max(status, 130 if res["state"] == "interrupted" else 1)
                    why = f" ({res['error']})" if res.get("error") else ""
                    echo(f"{s.name}: {res['state']}{why}")
        except KeyboardInterrupt as e:
            status = 143 if isinstance(e, Terminated) else 130
        finally:
            bar.close()
            for s in todo:                       # the folders are the truth
                if s.name not in reported:
                    manifest["runs"][s.name] = _entry(s, out, state(s, out / "runs" / s.name))
            manifest["sweep"]["status"] = ("finished" if status == 0 else "interrupted"
                                           if status in (130, 143) else "failed")
            if train:
                write_manifest(out, manifest)
    if status in (130, 143):
        echo(f"interrupted; run the same command again to resume ({out})")
        return status
    if draw:
        from . import figures as F
        for path in F.draw(out, figures, manifest):
            echo(f"wrote {path}")
    return status


# ------------------------------------------------------------------ the command line

def add_parser(subparsers):
    """``aevb reproduce FIGURE ...`` (registered through aevb.cli.EXTENSIONS)."""
    from ..cli import _budget, _positive_int
    r = subparsers.add_parser("reproduce", help="train and draw the paper's Figures 2-5 "
                              "(a resumable sweep on local cores or a Dask cluster)")
    r.add_argument("figure", help="figure2, figure3, figure4, figure5 or all")
    r.add_argument("--out", default="results", help="sweep folder (default: results)")
    r.add_argument("--budget", type=_budget, default=None,
                   help="training samples per curve (default: the paper's: 1e8 for Figure 2, "
                   "6e7 for Figure 3, 1e7 for the models of Figures 4 and 5)")
    r.add_argument("--datasets", nargs="+", default=None, metavar="NAME", help="mnist, frey")
    r.add_argument("--n-latent", nargs="+", type=_positive_int, default=None, metavar="N_Z")
    r.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   help="aevb, wake-sleep, mcem")
    r.add_argument("--n-hidden", type=_positive_int, default=None,
                   help="override the paper's hidden units (quick trials only)")
    r.add_argument("--dtype", choices=("float32", "float64"), default=DTYPE,
                   help="default float32 (about twice as fast as float64)")
    r.add_argument("--checkpoint-every", type=_positive_int, default=None,
                   help="training samples between checkpoints (default 1e6, or 1/10 of the "
                   "budget if smaller): at most this much is lost per run if killed")
    r.add_argument("--jobs", type=int, default=None,
                   help=f"local processes (default: the machine's {os.cpu_count()} cores)")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786) instead of local processes "
                   "(then --jobs is not used: each worker thread trains one run)")
    r.add_argument("--data-dir", default=None)
    r.add_argument("--offline", action="store_true", help="never download")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--draw-only", action="store_true",
                   help="train nothing: draw the figures and the table from the run folders "
                   "as they are (for example while a sweep is training)")
    r.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args):
    figures = FIGURES if args.figure == "all" else check_choices("figure", args.figure,
                                                                 FIGURES + ("all",))
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1, got {args.jobs}")
    every = {"checkpoint_every": args.checkpoint_every} if args.checkpoint_every else {}
    return sweep(figures, args.out, jobs=args.jobs, scheduler=args.scheduler,
                 data_dir=args.data_dir, download=False if args.offline else None,
                 progress=not args.no_progress, budget=args.budget, datasets=args.datasets,
                 n_latent=args.n_latent, methods=args.methods, n_hidden=args.n_hidden,
                 dtype=args.dtype, train=not args.draw_only, **every)
