"""Running sweep jobs: one run folder per job, on joblib (loky) processes or a Dask cluster.

:func:`train_one` trains, resumes or extends one run (:class:`aevb.reproduce.spec.RunSpec`)
in the calling process with one BLAS thread, through :func:`aevb.runs.folder.start`
and :func:`aevb.runs.folder.resume`, and never raises: the outcome is a small dict.
The state of a run is read from its folder (:func:`state`), so a job that is
lost, killed or repeated only costs the samples since its last checkpoint.
A run folder is locked (``flock``) while a job trains it, so two sweeps
cannot train the same run at once.
"""
import fcntl
import json
import os
import threading
import time
from pathlib import Path

from .. import runs
from ..io import checkpoint as ckpt

CURVE_FILE = "likelihood-curve.jsonl"     # Figure 3: Appendix D estimates at stages


def seen(folder):
    """Training samples evaluated by the run in ``folder`` at its last checkpoint (0 if none)."""
    return int(ckpt.read_meta(Path(folder) / "checkpoint.npz").get("seen", 0))


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
        with lock, threadpool_limits(1):
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
                             download=download, overwrite=True, threads=threads)
        elif n < stage or not finished(folder):
            run = runs.resume(folder, budget=stage, data_dir=data_dir, download=download,
                              echo=_quiet, threads=threads)
        if run is not None:
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


# ------------------------------------------------------------------ engines

def run_local(todo, out, jobs, kw):
    """Results of :func:`train_one` as they finish, from ``jobs`` joblib (loky) processes."""
    from joblib import Parallel, delayed
    par = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    yield from par(delayed(train_one)(s, out, **kw) for s in todo)


def connect(address):
    """A Dask client of the scheduler at ``address``, or one sentence saying why there is none.

    Called before a sweep writes anything, so that a mistyped address or a scheduler that is
    not running leaves no sweep folder behind.
    """
    try:
        from dask.distributed import Client
    except ImportError:
        raise ValueError('--scheduler needs dask.distributed: pip install "aevb[cluster]"') \
            from None
    try:
        return Client(address, timeout="30s")
    except (OSError, ValueError, TypeError) as e:   # a bad address, or nobody listening
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"cannot reach a Dask scheduler at {address!r} ({reason}): start one "
                         f"with 'dask scheduler' and give the address it prints "
                         f"(tcp://HOST:8786)") from None


def run_dask(todo, out, client, kw):
    """The same through a Dask client (:func:`connect`); the workers must see ``out`` and the
    data."""
    from dask.distributed import as_completed
    futures = {client.submit(train_one, s, out, key=f"aevb-{s.name}-{time.time_ns()}",
                             pure=False, **kw): s for s in todo}
    for fut in as_completed(futures):
        try:
            yield fut.result()
        except Exception as e:          # a worker lost too often: its checkpoint stays
            yield {"name": futures[fut].name, "state": "failed",
                   "error": f"{type(e).__name__}: {e}".splitlines()[0]}


class Progress:
    """One tqdm bar for the sweep, fed from the run folders' checkpoints every second."""

    def __init__(self, specs, out, enabled, done_runs=0):
        self.specs, self.out = specs, Path(out)
        self.done_runs = done_runs
        self.stop, self.lock = threading.Event(), threading.Lock()
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
        with self.lock:                   # called by the polling thread and the sweep
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
