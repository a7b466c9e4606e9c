"""``aevb reproduce``: the paper's Figures 2 to 5 as resumable sweeps of ordinary run folders.

A sweep is a list of :class:`RunSpec` (one per curve), each trained in a run
folder made by :func:`aevb.runs.start` or :func:`aevb.runs.resume`, so
``aevb train --resume`` and ``aevb evaluate`` work on every one of them.
Folders are shared between figures (Figure 5's N_z = 20 model is Figure 2's).

    OUT/manifest.json          the runs, their state and the sweep's settings
    OUT/runs/NAME/             run folders (config.json, log.jsonl, checkpoint.npz, ...)
    OUT/runs/NAME/likelihood-curve.jsonl   Figure 3: Appendix D estimates at stages
    OUT/figure2.png ... table.csv, table.md   drawn by :mod:`aevb.figures`

The state of a run is read from its folder, never trusted from the manifest:
re-running a sweep skips finished runs, resumes interrupted ones from their
checkpoints and extends finished ones when the budget grows, so a sweep
stopped at any moment loses at most one checkpoint interval per run.

Engines: local processes through joblib (loky), or a Dask cluster
(``--scheduler ADDRESS``, dask.distributed imported only then). Every worker
holds one BLAS thread (threadpoolctl), so N jobs on N cores do not
oversubscribe. Results are bitwise the same on either engine.
"""
import fcntl
import json
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import __version__
from . import checkpoint as ckpt
from . import runs

FIGURES = ("figure2", "figure3", "figure4", "figure5")
DATASETS = ("mnist", "frey")
METHODS = ("aevb", "wake-sleep", "mcem")
FIGURE2_LATENT = {"mnist": (3, 5, 10, 20, 200), "frey": (2, 5, 10, 20)}
HIDDEN = {"mnist": 500, "frey": 200}
DEFAULT_BUDGET = {"figure2": 10**8, "figure3": 6 * 10**7, "figure4": 10**7, "figure5": 10**7}
FIG3_STAGES = (10**6, 2 * 10**6, 5 * 10**6, 10**7, 2 * 10**7, 3 * 10**7, 5 * 10**7, 6 * 10**7)
CURVE_FILE = "likelihood-curve.jsonl"
DTYPE = "float32"        # about twice as fast as float64; figures and table say so


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


# ------------------------------------------------------------------ run folders

def seen(folder):
    """Training samples evaluated by the run in ``folder`` at its last checkpoint (0 if none)."""
    try:
        with np.load(Path(folder) / "checkpoint.npz", allow_pickle=False) as z:
            return int(json.loads(str(z["meta"]))["seen"])
    except (OSError, KeyError, ValueError, EOFError):
        return 0


def curve_records(folder):
    """Figure 3's Appendix D estimates of a run, one record per stage."""
    return ckpt.read_log(Path(folder) / CURVE_FILE)


def finished(folder):
    """True when the run's params.npz is at least as new as its last checkpoint."""
    folder = Path(folder)
    params, check = folder / "params.npz", folder / "checkpoint.npz"
    return params.is_file() and check.is_file() and \
        params.stat().st_mtime_ns >= check.stat().st_mtime_ns


def state(spec, folder):
    """``pending``, ``interrupted``, ``extend`` or ``done`` for ``spec`` in ``folder``."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return "pending"
    n, done = seen(folder), finished(folder)
    if n < spec.budget:
        return "extend" if done else "interrupted"
    if not done:
        return "interrupted"
    if spec.stages and spec.stages[-1] not in {r["samples"] for r in curve_records(folder)}:
        return "interrupted"
    return "done"


@contextmanager
def _signals_in_main_thread_only():
    """Run.run installs signal handlers, which only the main thread may do (Dask runs tasks
    in worker threads): there, training runs without them; a lost task is resumed."""
    original = runs._stop_on_signals

    @contextmanager
    def maybe(*a):
        if threading.current_thread() is threading.main_thread():
            with original(*a) as received:
                yield received
        else:
            yield []
    runs._stop_on_signals = maybe
    try:
        yield
    finally:
        runs._stop_on_signals = original


def _quiet(*args, **kwargs):
    pass


def _undo_malloc_trim():
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc map and
    unmap every large NumPy temporary: element-wise NumPy ran 10x slower in a worker (CPU
    time, measured). Raise the trim and mmap thresholds of this process back (glibc only)."""
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 256 << 20)        # M_TRIM_THRESHOLD
        libc.mallopt(-3, 64 << 20)         # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def train_one(spec, out, data_dir=None, download=None, trainer_threads=1):
    """Train (or resume, or extend) one run to its budget in this process; never raises.

    Returns a dict with ``name``, ``state`` (``done``, ``interrupted``, ``failed``),
    ``samples``, ``seconds`` and ``error``.
    """
    from threadpoolctl import threadpool_limits
    _undo_malloc_trim()
    folder = Path(out) / "runs" / spec.name
    t0 = time.perf_counter()
    result = {"name": spec.name, "state": "failed", "samples": 0, "error": None}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / ".sweep.lock", "w")      # released when this process ends
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"{folder} is being trained by another process") from None
        with lock, threadpool_limits(1), _signals_in_main_thread_only():
            result["state"] = _train_stages(spec, folder, data_dir, download, trainer_threads)
    except Exception as e:              # reported in the manifest; the checkpoint is kept
        result["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
    result["samples"] = seen(folder)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _train_stages(spec, folder, data_dir, download, threads):
    """Train to each stage in turn (Figure 3: with an Appendix D estimate after each)."""
    config = spec.config()
    if (folder / "config.json").is_file():
        old = runs.read_config(folder)
        defaults = {"method": "aevb", "n_train": None}
        differ = [k for k in (*runs.ARCHITECTURE, *defaults)
                  if old.get(k, defaults.get(k)) != config.get(k, defaults.get(k))]
        if differ:
            raise ValueError(f"{folder} holds a run with other settings ({', '.join(differ)}); "
                             f"move it away or choose another --out")
    else:
        (folder / CURVE_FILE).unlink(missing_ok=True)
    for stage in (spec.stages or (spec.budget,)):
        n = seen(folder)
        if n > stage:
            continue                      # trained past this stage earlier: nothing to add
        run = None
        if not (folder / "config.json").is_file():
            run = runs.start(folder, {**config, "budget": stage}, data_dir=data_dir,
                             download=download, overwrite=True)
        elif n < stage or not finished(folder):
            run = runs.resume(folder, budget=stage, data_dir=data_dir, download=download,
                              echo=_quiet)
        if run is not None:
            run.trainer.threads = threads      # bitwise the same results with 1 or 2
            if run.run(progress=False, echo=_quiet) != 0:
                return "interrupted"
        if spec.stages and stage not in {r["samples"] for r in curve_records(folder)}:
            est = runs.evaluate_likelihood(folder, "hmc", splits=("train", "test"), paper=True,
                                           data_dir=data_dir, download=download)
            rec = {"samples": stage, **{f"{s}_log_px": v["log_px_mean"]
                                        for s, v in est["splits"].items()},
                   **{f"{s}_sem": v["log_px_sem"] for s, v in est["splits"].items()}}
            with open(folder / CURVE_FILE, "a") as f:
                f.write(json.dumps(rec) + "\n")
    return "done"


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
    d.pop("extra")
    entry = {**d, "folder": f"runs/{spec.name}", "state": run_state, "samples": seen(folder)}
    if (folder / "checkpoint.npz").is_file():
        with np.load(folder / "checkpoint.npz", allow_pickle=False) as z:
            entry["seconds"] = round(float(json.loads(str(z["meta"])).get("seconds", 0)), 1)
    if result and result.get("error"):
        entry["error"] = result["error"]
    return entry


# ------------------------------------------------------------------ engines

def _local(todo, out, jobs, kw):
    """Results of :func:`train_one` as they finish, from ``jobs`` joblib (loky) processes."""
    from joblib import Parallel, delayed
    par = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    yield from par(delayed(train_one)(s, out, **kw) for s in todo)


def _dask(todo, out, address, kw):
    """The same through a Dask scheduler; the workers must see ``out`` and the data."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ValueError('--scheduler needs dask.distributed: pip install "aevb[cluster]"') \
            from None
    with Client(address, timeout="30s") as client:
        futures = {client.submit(train_one, s, out, key=f"aevb-{s.name}-{time.time_ns()}",
                                 pure=False, **kw): s for s in todo}
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as e:          # a worker lost too often: its checkpoint stays
                yield {"name": futures[fut].name, "state": "failed",
                       "error": f"{type(e).__name__}: {e}".splitlines()[0]}


class _Progress:
    """One tqdm bar for the sweep, fed from the run folders' checkpoints every second."""

    def __init__(self, specs, out, enabled):
        self.specs, self.out = specs, Path(out)
        self.done_runs = 0
        self.stop = threading.Event()
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=sum(s.budget for s in specs), initial=self._samples(),
                            unit="samples", unit_scale=True, dynamic_ncols=True)
            self._show()
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()

    def _samples(self):
        return sum(min(seen(self.out / "runs" / s.name), s.budget) for s in self.specs)

    def _show(self):
        self.bar.set_postfix_str(f"runs {self.done_runs}/{len(self.specs)} done")

    def _poll(self):
        while not self.stop.wait(1.0):
            self.update()

    def update(self, run_finished=False):
        self.done_runs += run_finished
        if self.bar is not None:
            self.bar.update(max(0, self._samples() - self.bar.n))
            self._show()

    def close(self):
        self.stop.set()
        if self.bar is not None:
            self.thread.join(timeout=5)
            self.update()
            self.bar.close()


# ------------------------------------------------------------------ the sweep

def sweep(figures, out="results", *, jobs=None, scheduler=None, data_dir=None, download=None,
          progress=True, draw=True, echo=print, **filters):
    """Train every run ``figures`` need (:func:`plan`), then draw the figures and the table.

    Returns 0 when every supported run is done, 1 if a run failed, 130 if interrupted.
    """
    jobs = jobs or os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    specs = plan(figures, **filters)
    out = Path(out).absolute()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out)
    todo, skipped = [], []
    for s in specs:
        try:
            s.config()
        except Unsupported as e:
            skipped.append(s)
            manifest["runs"][s.name] = {**_entry(s, out, "unsupported"), "error": str(e)}
            continue
        st = state(s, out / "runs" / s.name)
        manifest["runs"][s.name] = _entry(s, out, "running" if st != "done" else st)
        if st != "done":
            todo.append(s)
    manifest["sweep"] = {"figures": list(figures), "jobs": jobs, "scheduler": scheduler,
                         "status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_manifest(out, manifest)
    for s in skipped:
        echo(f"skipping {s.name}: {manifest['runs'][s.name]['error']}")
    echo(f"{len(specs) - len(todo) - len(skipped)} of {len(specs)} runs already done; "
         f"training {len(todo)} on {scheduler or f'{jobs} local processes'} ({out})")
    kw = {"data_dir": data_dir, "download": download, "trainer_threads": 1}
    bar = _Progress([s for s in specs if s not in skipped], out, progress)
    by_name = {s.name: s for s in specs}
    status = 0
    try:
        results = _dask(todo, out, scheduler, kw) if scheduler else _local(todo, out, jobs, kw)
        for res in results:
            s = by_name[res["name"]]
            ok = res["state"] == "done"
            manifest["runs"][s.name] = _entry(s, out, res["state"], res)
            write_manifest(out, manifest)
            bar.update(run_finished=ok)
            if not ok:
                status = max(status, 130 if res["state"] == "interrupted" else 1)
                echo(f"{s.name}: {res['state']}" + (f" ({res['error']})" if res.get("error")
                                                    else ""))
    except KeyboardInterrupt:
        status = 130
    finally:
        bar.close()
        for s in todo:                       # the folders are the truth
            if manifest["runs"][s.name]["state"] == "running":
                manifest["runs"][s.name] = _entry(s, out, state(s, out / "runs" / s.name))
        manifest["sweep"]["status"] = {0: "finished", 130: "interrupted"}.get(status, "failed")
        write_manifest(out, manifest)
    if status == 130:
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
    from .cli import _positive_int
    r = subparsers.add_parser("reproduce", help="train and draw the paper's Figures 2-5 "
                              "(a resumable sweep on local cores or a Dask cluster)")
    r.add_argument("figure", help="figure2, figure3, figure4, figure5 or all")
    r.add_argument("--out", default="results", help="sweep folder (default: results)")
    r.add_argument("--budget", type=_positive_int, default=None,
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
                   help="a Dask scheduler (tcp://host:8786) instead of local processes")
    r.add_argument("--data-dir", default=None)
    r.add_argument("--offline", action="store_true", help="never download")
    r.add_argument("--no-progress", action="store_true")
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
                 dtype=args.dtype, **every)
