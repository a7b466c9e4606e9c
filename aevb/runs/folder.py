"""Run folders: start, checkpoint, interrupt and resume a training run exactly.

A run folder holds ``config.json`` (every setting, including the data
protocol), ``log.jsonl`` (one JSON object per evaluation), ``checkpoint.npz``
(:mod:`aevb.io.checkpoint`, rewritten atomically every ``checkpoint_every``
samples, on Ctrl-C or SIGTERM, and at the end), and when the run is finished
``params.npz``, ``samples.png`` and ``curve.png``.

Resuming restores the parameters, the optimizer, the minibatch order and both
random generators (training and evaluation), so a run that is interrupted and
resumed ends bitwise identical to one that never stopped (same machine, NumPy,
BLAS build and thread count). Log records written after the last checkpoint
are dropped on resume and written again, identically.
"""
import fcntl
import json
import os
import signal
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from .. import methods
from ..io import checkpoint as ckpt
from ..io.checkpoint import write_json
from .config import ARCHITECTURE, check_threads, load_data, read_config

RUN_FILES = ("config.json", "log.jsonl", "checkpoint.npz", "params.npz", "samples.png",
             "curve.png")
DIVERGED_NATS = 10.0         # a bound this far below the untrained model's stops a run


LOCK_FILE = ".lock"          # held (flock) by the one process that writes the folder


class FolderBusy(ValueError):
    """Another process holds the run folder's lock."""


def lock_folder(out):
    """Take run folder ``out``'s lock for this process; returns the open lock file.

    The lock is an exclusive ``flock`` on ``OUT/.lock``, which holds the owner's PID. The
    kernel releases it when the owner exits, however it exits, so the lock of a dead
    process is simply taken over, and the temporary files it left half written
    (:func:`aevb.io.checkpoint.atomic_write_bytes` names them per process) are removed. A
    live owner gets :class:`FolderBusy` with its PID.
    """
    fd = os.open(Path(out) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.read(fd, 32).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise FolderBusy(f"{out} is being written by process {owner}: wait for it to finish, "
                         f"or stop it first (a second writer would mix their results)") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    for stray in Path(out).glob(".*.tmp"):      # a killed writer's half-written file
        stray.unlink(missing_ok=True)
    return fd


def _holds_results(out):
    return any(p.name not in (LOCK_FILE, ".sweep.lock") for p in Path(out).iterdir())


class RunError(RuntimeError):
    """Training stopped on a failure; the last good checkpoint was kept."""


class DivergedError(FloatingPointError):
    """The bound fell below the untrained model's: the optimizer diverged."""


@contextmanager
def _stop_on_signals():
    """Turn SIGINT and SIGTERM into a request to stop after the current minibatch.

    Only the main thread may install signal handlers; in another thread (a
    Dask worker's task) training runs without them, and a lost task is resumed
    from its last checkpoint.
    """
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    handler = lambda signum, frame: received.append(signum)   # noqa: E731
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Run:
    """One run folder being trained; use :func:`start` or :func:`resume`."""

    def __init__(self, out, config, data_dir=None, download=None, threads=1):
        self.out, self.config = Path(out), config
        self.threads = check_threads(threads)
        self.train, self.test, self.train_eval = load_data(config, data_dir, download)
        c = config
        methods.check_method(c)
        self.model = methods.model_from_config(c)           # aevb.VAE, WakeSleep, MCEM, FullVB
        self.model.initialize(self.train.n_features, np.dtype(c["dtype"]))
        self.trainer = self.model.make_trainer(self.train, np.dtype(c["dtype"]), self.threads)
        self.model.adopt_trainer(self.trainer)
        self.eval_rng = np.random.default_rng([c["seed"], 1])   # never touches training noise
        self.t0 = time.perf_counter()
        self.lock = None                       # the folder's lock (start and resume take it)
        self.elapsed_before = 0.0
        self.initial_bound = None              # the first evaluation's (_check_divergence)
        self.below = False                     # the last evaluation was below it

    # -------------------------------------------------------------- pieces
    def evaluate(self, seen, step):
        rec = {"samples": seen, **methods.evaluate(self.config, self.model, self.trainer,
                                                      self.train_eval, self.test, self.eval_rng),
               "seconds": round(self.elapsed(), 2)}
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        self._check_divergence(rec)

    def _check_divergence(self, rec):
        """Stop a run whose model has become worse than the untrained one (after the warm-up).

        The first evaluation (after one minibatch, inside Adagrad's warm-up)
        scores the model as initialized. A bound more than ``DIVERGED_NATS`` below
        it at two evaluations in a row means the optimizer has thrown the model
        away: at the paper's largest step size, 0.1, the MNIST model's bound
        goes from -543 to about -2.5e8 right after the warm-up in float64 and
        never recovers (:class:`aevb.core.optim.Adagrad` says why). Stopping says
        so instead of finishing with a useless model and exit status 0. One
        evaluation below it is not enough: wake-sleep on MNIST N_z = 200 at step
        size 0.02 falls to -1020 at 2 x 10^4 samples, just after the warm-up, and
        is back at -258 at 5 x 10^4 and -181 at 2 x 10^5 (the evaluations are
        1-2-5 apart, so a dip has at least half as many samples again to recover; the log of
        ``aevb train --method wake-sleep --n-latent 200 --lr 0.02 --dtype float32 --budget 2e5``).
        """
        if "train_bound" not in rec:             # MCEM logs log p(x), not a bound
            return
        if self.initial_bound is None:
            self.initial_bound = rec["train_bound"]
            return
        was_below, self.below = self.below, self._below_untrained(rec)
        if self.below and was_below:
            raise DivergedError(
                f"training diverged: after {rec['samples']} training samples the bound on the "
                f"training points is {rec['train_bound']:.6g} nats, below the untrained "
                f"model's {self.initial_bound:.6g} at two evaluations in a row. Likely cause: a "
                f"step size too large for this model (--lr {self.config['lr']:g}; the paper "
                f"chose from 0.01, 0.02, 0.1).")

    def _below_untrained(self, rec):
        """True when ``rec``, after Adagrad's warm-up, is ``DIVERGED_NATS`` below the first."""
        c = self.config
        warmup = c.get("adagrad_warmup", 0) if c["optimizer"] == "adagrad" else 0
        return rec["samples"] > warmup * c["batch_size"] and \
            rec.get("train_bound", self.initial_bound) < self.initial_bound - DIVERGED_NATS

    def elapsed(self):
        return self.elapsed_before + time.perf_counter() - self.t0

    def save_checkpoint(self, seen=None, step=None):
        ckpt.save(self.out / "checkpoint.npz", self.model.encoder_params_,
                  self.model.decoder_params_, self.trainer.state_dict(),
                  {"config": self.config, "eval_rng": self.eval_rng.bit_generator.state,
                   "seconds": self.elapsed()})

    def finish(self):
        from ..plotting import plot_bound_curve, save_image_grid
        ckpt.save_params(self.out / "params.npz", self.model.encoder_params_,
                         self.model.decoder_params_)
        c = self.config
        save_image_grid(self.out / "samples.png", self.model.sample(100, rng=[c["seed"], 3]),
                        self.train.image_shape, 10)
        records = ckpt.read_log(self.out / "log.jsonl")
        plot_bound_curve(self.out / "curve.png", records,
                         f"{c['dataset']}, N_z = {c['n_latent']}, {c['n_hidden']} hidden")
        return records

    # -------------------------------------------------------------- the loop
    def run(self, progress=True, debug_nans=False, echo=print):
        """Train to the config's budget. Returns 0 when finished, 130/143 when stopped by a signal."""
        try:
            return self._run(progress, debug_nans, echo)
        finally:
            self.release()

    def release(self):
        """Give up the folder's lock (:func:`run` does when it returns or raises)."""
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None

    def _run(self, progress, debug_nans, echo):
        c = self.config
        errstate = (np.errstate(over="raise", invalid="raise", divide="raise") if debug_nans
                    else nullcontext())
        from threadpoolctl import threadpool_limits
        blas = threadpool_limits(limits=max(1, self.threads - 1))    # see check_threads
        with _stop_on_signals() as received, errstate, blas:
            try:
                finished = self.trainer.run(
                    c["budget"], callback=self.evaluate, progress=progress,
                    should_stop=lambda: bool(received), checkpoint_every=c["checkpoint_every"],
                    on_checkpoint=self.save_checkpoint)
                self.trainer.check_finite()       # never write a broken final checkpoint
            except FloatingPointError as e:
                kept = self.out / "checkpoint.npz"
                where = (f"the last good checkpoint is kept in {kept}" if kept.exists()
                         else "no checkpoint had been written yet")
                raise RunError(f"{e}\n{where}; to continue with other settings, start a new "
                               f"run (for example with a smaller --lr)") from None
        self.save_checkpoint()
        if not finished:
            name = signal.Signals(received[0]).name
            echo(f"stopped by {name} after {self.trainer.seen} training samples; checkpoint "
                 f"saved. Resume with: aevb train --resume {self.out}")
            return 128 + received[0]
        records = self.finish()
        last = records[-1] if records else None
        if last:
            shown = ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in last.items()
                              if k.endswith(("_bound", "_log_px")))
            echo(f"{last['samples']} training samples evaluated in {self.elapsed():.0f} s: "
                 f"{shown} nats per datapoint ({self.out})")
        return 0


def start(out, config, *, data_dir=None, download=None, overwrite=False, threads=1):
    """A new run in folder ``out``; refuses a folder that already holds files unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    refuse = ValueError(f"{out} already holds files; choose another folder, resume it "
                        f"with --resume, or pass --overwrite to replace its results")
    if out.exists() and _holds_results(out) and not overwrite:
        raise refuse
    run = Run(out, config, data_dir, download, threads)   # data errors surface before any write
    out.mkdir(parents=True, exist_ok=True)
    run.lock = lock_folder(out)
    if _holds_results(out) and not overwrite:
        run.release()                          # another process started it meanwhile
        raise refuse
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for old in out.glob("likelihood-*.json*"):       # the replaced run's results, Figure 3 curves
        old.unlink()
    write_json(out / "config.json", config)
    (out / "log.jsonl").write_text("")
    return run


class ResultsAtRisk(ValueError):
    """Continuing a run folder would throw away log records that no checkpoint can restore."""


def check_resumable(out):
    """Refuse a run folder that resuming would damage; reads, never writes.

    Its checkpoint must be of the model and method its config.json names (a hand-edited
    config once resumed an AEVB checkpoint as wake-sleep). And its log must not go further
    than its checkpoint can bring back:

    Resuming restarts from the last checkpoint (or from the beginning, without
    one) and drops the log records written after it; records up to one
    checkpoint interval past it are written again, bitwise the same. A log that
    goes further than that (a run folder copied without its checkpoint, such as
    the committed curves of ``results/``) would lose its curve: this raises
    :class:`ResultsAtRisk` with one sentence and the way out instead.
    """
    out = Path(out)
    config = read_config(out)
    meta = ckpt.read_meta(out / "checkpoint.npz")
    if meta:
        saved = {"method": "aevb", "posterior": "gaussian", **meta.get("config", {})}
        differ = [k for k in (*ARCHITECTURE, "method", "posterior")
                  if saved.get(k) != config.get(k)]
        if differ:
            raise ckpt.CheckpointError(
                f"{out / 'checkpoint.npz'} is from a different model than {out / 'config.json'} "
                f"({', '.join(f'{k}: {saved.get(k)!r} vs {config.get(k)!r}' for k in differ)})")
    records = ckpt.read_log(out / "log.jsonl")
    if not records:
        return
    seen = meta.get("seen", 0)
    last = max(r["samples"] for r in records)
    if last > seen + int(config.get("checkpoint_every") or 0):
        has = f"its checkpoint is at {seen}" if seen else "it has no checkpoint.npz"
        raise ResultsAtRisk(
            f"{out / 'log.jsonl'} records {last} training samples but {has}: continuing would "
            f"train it again from {seen} and replace its curve; train into a new folder "
            f"instead (the same seed and settings reproduce the curve bitwise)")


def resume(out, *, budget=None, data_dir=None, download=None, echo=print, threads=1):
    """Reopen run folder ``out`` at its last checkpoint (optionally with a new total budget).

    A run that stopped before its first checkpoint is started from the beginning.
    A folder whose log goes further than its checkpoint can restore is refused
    (:func:`check_resumable`).
    """
    out = Path(out)
    read_config(out)                          # not a run folder: say so before writing a lock
    check_resumable(out)                      # nor anything else: refusing writes nothing
    lock = lock_folder(out)
    try:
        run = _resume(out, lock, budget, data_dir, download, echo, threads)
    except BaseException:
        os.close(lock)
        raise
    if run is not None:
        return run
    # Stopped before its first checkpoint: a run is deterministic, so starting it over from
    # its config is the same as resuming it (start takes the lock again).
    os.close(lock)
    config = read_config(out)
    if budget is not None:
        config["budget"] = int(budget)
    echo(f"{out} stopped before its first checkpoint; starting it from the beginning")
    return start(out, config, data_dir=data_dir, download=download, overwrite=True,
                 threads=threads)


def _resume(out, lock, budget, data_dir, download, echo, threads):
    """:func:`resume` with the lock held: the Run, or None to start the run over."""
    config = read_config(out)                 # again, now that no other process writes it:
    check_resumable(out)                      # resume's checks ran before the lock was taken
    if not (out / "checkpoint.npz").is_file():
        return None
    enc, dec, state, meta = ckpt.load(out / "checkpoint.npz")
    if budget is not None and int(budget) < state["seen"]:
        raise ValueError(f"{out} has already evaluated {state['seen']} training samples; a "
                         f"budget of {int(budget)} is below that: give a larger --budget, or "
                         f"none to finish the run's own ({config.get('budget')})")
    if budget is not None:
        config["budget"] = int(budget)
    run = Run(out, config, data_dir, download, threads)
    run.lock = lock
    for mine, theirs, tag in ((run.model.encoder_params_, enc, "encoder"),
                              (run.model.decoder_params_, dec, "decoder")):
        if mine is None and theirs is None:         # MCEM has no encoder
            continue
        if type(mine) is not type(theirs) or mine.shapes() != theirs.shapes() \
                or mine.dtype != theirs.dtype:
            raise ckpt.CheckpointError(f"the {tag} in {out / 'checkpoint.npz'} does not fit the "
                                       f"architecture in config.json")
        for a, b in zip(mine.arrays(), theirs.arrays()):
            a[...] = b
    run.trainer.load_state_dict(state)
    run.eval_rng.bit_generator.state = meta["eval_rng"]
    run.elapsed_before = float(meta.get("seconds", 0.0))
    records = ckpt.read_log(out / "log.jsonl", upto=run.trainer.seen)
    run.initial_bound = records[0].get("train_bound") if records else None
    run.below = len(records) > 1 and run.initial_bound is not None and \
        run._below_untrained(records[-1])             # as _check_divergence left it
    ckpt.atomic_write_bytes(out / "log.jsonl",
                            "".join(json.dumps(r) + "\n" for r in records).encode())
    if budget is not None:
        write_json(out / "config.json", config)
    return run
