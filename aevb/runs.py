"""Run folders: start, checkpoint, interrupt and resume a training run exactly.

A run folder holds ``config.json`` (every setting, including the data
protocol), ``log.jsonl`` (one JSON object per evaluation), ``checkpoint.npz``
(:mod:`aevb.checkpoint`, rewritten atomically every ``checkpoint_every``
samples, on Ctrl-C or SIGTERM, and at the end), and when the run is finished
``params.npz``, ``samples.png`` and ``curve.png``.

Resuming restores the parameters, the optimizer, the minibatch order and both
random generators (training and evaluation), so a run that is interrupted and
resumed ends bitwise identical to one that never stopped (same machine, NumPy,
BLAS build and thread count). Log records written after the last checkpoint
are dropped on resume and written again, identically.
"""
import json
import signal
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from . import __version__
from . import checkpoint as ckpt
from . import data as D
from .model import VAE
from .optim import WARMUP_STEPS
from .train import Trainer

RUN_FILES = ("config.json", "log.jsonl", "checkpoint.npz", "params.npz", "samples.png",
             "curve.png")
N_TRAIN_EVAL = 10_000        # training points scored at each evaluation
ELBO_DRAWS = 100             # aevb evaluate: noise draws per point for the ELBO it prints
VAE_SETTINGS = ("n_latent", "n_hidden", "likelihood", "sigmoid_mean", "estimator",
                "n_mc_samples", "batch_size", "optimizer", "lr", "adagrad_warmup",
                "weight_decay", "budget", "sampling", "init_std", "dtype")
ARCHITECTURE = ("dataset", "n_latent", "n_hidden", "likelihood", "sigmoid_mean", "dtype")


DIVERGED_NATS = 10.0         # a bound this far below the untrained model's stops a run


class RunError(RuntimeError):
    """Training stopped on a failure; the last good checkpoint was kept."""


class DivergedError(FloatingPointError):
    """The bound fell below the untrained model's: the optimizer diverged."""


def make_config(dataset="mnist", *, n_latent=20, n_hidden=None, estimator="B", n_mc_samples=1,
                batch_size=100, optimizer="adagrad", lr=None, adagrad_warmup=WARMUP_STEPS,
                budget=1_000_000,
                binarize="dynamic", full_train=False, sampling="shuffle", weight_decay=True,
                dtype="float64", seed=0, checkpoint_every=100_000):
    """A complete, JSON-ready run config with the paper's defaults per dataset."""
    if dataset not in D.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose from {D.DATASETS}")
    mnist = dataset == "mnist"
    return {"aevb_version": __version__, "dataset": dataset,
            "train_split": ("train_full" if full_train else "train") if mnist else "train",
            "binarize": D.check_binarize(binarize) if mnist else "none",
            "scale": D.MNIST_SCALE if mnist else D.FREY_SCALE,
            "n_latent": n_latent, "n_hidden": n_hidden or (500 if mnist else 200),
            "likelihood": "bernoulli" if mnist else "gaussian", "sigmoid_mean": True,
            "estimator": estimator, "n_mc_samples": n_mc_samples, "batch_size": batch_size,
            "optimizer": optimizer, "lr": lr or (0.01 if mnist else 0.02),
            "adagrad_warmup": int(adagrad_warmup),
            "weight_decay": weight_decay, "budget": int(budget), "sampling": sampling,
            "init_std": 0.01, "dtype": dtype, "seed": seed,
            "checkpoint_every": int(checkpoint_every), "n_train_eval": N_TRAIN_EVAL}


def n_train(config):
    """N, the number of training points the config's data has (for --epochs)."""
    if config["dataset"] == "frey":
        return D.N_FREY_TRAIN
    return 60_000 if config["train_split"] == "train_full" else D.N_MNIST_TRAIN


def load_data(config, data_dir=None, download=None):
    """(train, test, train_eval) Datasets as the config says; test binarized once, seeded."""
    if config["dataset"] == "mnist":
        train = D.mnist(config["train_split"], data_dir, download)
        test = D.mnist("test", data_dir, download)
        train = train.with_binarization(config["binarize"])
        test = test.with_binarization("none" if config["binarize"] == "none" else "fixed",
                                      rng=[config["seed"], 2])
    else:
        train, test = (D.frey_face(s, data_dir, download) for s in ("train", "test"))
    n = min(config["n_train_eval"], len(train))
    train_eval = D.Dataset(train.images[:n], train.scale, train.image_shape, name=train.name,
                           split=train.split, binarize=train.binarize)
    return train, test, train_eval


def _write_json(path, obj):
    ckpt.atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


@contextmanager
def _stop_on_signals():
    """Turn SIGINT and SIGTERM into a request to stop after the current minibatch."""
    received = []
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
        self.vae = VAE(**{k: c[k] for k in VAE_SETTINGS}, rng=c["seed"])
        self.vae.initialize(self.train.n_features, np.dtype(c["dtype"]))
        self.trainer = Trainer(
            self.vae.encoder_params_, self.vae.decoder_params_, self.train, self.vae.optimizer_,
            rng=self.vae._rng, batch_size=c["batch_size"], n_mc_samples=c["n_mc_samples"],
            estimator=c["estimator"], weight_decay=c["weight_decay"],
            sigmoid_mean=self.vae._sigmoid, sampling=c["sampling"], dtype=c["dtype"],
            threads=2 if self.threads >= 2 else 1)
        self.eval_rng = np.random.default_rng([c["seed"], 1])   # never touches training noise
        self.t0 = time.perf_counter()
        self.elapsed_before = 0.0
        self.initial_bound = None              # the first evaluation's (_check_divergence)

    # -------------------------------------------------------------- pieces
    def evaluate(self, seen, step):
        rec = {"samples": seen, "train_bound": self.vae.score(self.train_eval, rng=self.eval_rng),
               "test_bound": self.vae.score(self.test, rng=self.eval_rng),
               "seconds": round(self.elapsed(), 2)}
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        self._check_divergence(rec)

    def _check_divergence(self, rec):
        """Stop a run whose model has become worse than the untrained one (after the warm-up).

        The first evaluation (after one minibatch, inside Adagrad's warm-up)
        scores the model as initialized. A bound that later falls more than
        ``DIVERGED_NATS`` below it means the optimizer has thrown the model
        away: at the paper's largest step size, 0.1, the MNIST model's bound
        goes from -543 to about -2.5e8 right after the warm-up in float64 and
        never recovers. Stopping says so instead of finishing with a useless
        model and exit status 0.
        """
        if self.initial_bound is None:
            self.initial_bound = rec["train_bound"]
            return
        warmup = self.config.get("adagrad_warmup", 0) if self.config["optimizer"] == "adagrad" \
            else 0
        if rec["samples"] > warmup * self.config["batch_size"] and \
                rec["train_bound"] < self.initial_bound - DIVERGED_NATS:
            raise DivergedError(
                f"training diverged: after {rec['samples']} training samples the bound on the "
                f"training points is {rec['train_bound']:.6g} nats, below the untrained "
                f"model's {self.initial_bound:.6g}. Likely cause: a step size too large for "
                f"this model (--lr {self.config['lr']:g}; the paper chose from 0.01, 0.02, 0.1).")

    def elapsed(self):
        return self.elapsed_before + time.perf_counter() - self.t0

    def save_checkpoint(self, seen=None, step=None):
        ckpt.save(self.out / "checkpoint.npz", self.vae.encoder_params_,
                  self.vae.decoder_params_, self.trainer.state_dict(),
                  {"config": self.config, "eval_rng": self.eval_rng.bit_generator.state,
                   "seconds": self.elapsed()})

    def finish(self):
        from .plotting import plot_bound_curve, save_image_grid
        ckpt.save_params(self.out / "params.npz", self.vae.encoder_params_,
                         self.vae.decoder_params_)
        c = self.config
        save_image_grid(self.out / "samples.png", self.vae.sample(100, rng=[c["seed"], 3]),
                        self.train.image_shape, 10)
        records = ckpt.read_log(self.out / "log.jsonl")
        plot_bound_curve(self.out / "curve.png", records,
                         f"{c['dataset']}, N_z = {c['n_latent']}, {c['n_hidden']} hidden")
        return records

    # -------------------------------------------------------------- the loop
    def run(self, progress=True, debug_nans=False, echo=print):
        """Train to the config's budget. Returns 0 when finished, 130/143 when stopped by a signal."""
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
            echo(f"{last['samples']} training samples evaluated in {self.elapsed():.0f} s: "
                 f"train bound {last['train_bound']:.2f}, test bound {last['test_bound']:.2f} "
                 f"nats per datapoint ({self.out})")
        return 0


def check_threads(threads):
    """The number of cores a run uses: 1 (the default), or n >= 2.

    1 runs everything on one core: one BLAS thread, parameter updates in turn.
    n >= 2 gives BLAS n - 1 threads and updates the decoder on a helper thread
    (:mod:`aevb.train`). Measured on the project's 2-core machine with two other
    CPU-bound processes running, 1 degraded least (README, "Threads"); on a
    quiet machine 2 gains a few per cent. Results are bitwise the same with or
    without the helper thread; a different BLAS thread count changes them in
    the last bits.
    """
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r}")
    return int(threads)


def start(out, config, *, data_dir=None, download=None, overwrite=False, threads=1):
    """A new run in folder ``out``; refuses a folder that already holds files unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(f"{out} already holds files; choose another folder, resume it "
                             f"with --resume, or pass --overwrite to replace its results")
    run = Run(out, config, data_dir, download, threads)   # data errors surface before any write
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for old in out.glob("likelihood-*.json"):        # results of the run being replaced
        old.unlink()
    _write_json(out / "config.json", config)
    (out / "log.jsonl").write_text("")
    return run


def read_config(out):
    """The config.json of run folder ``out``."""
    path = Path(out) / "config.json"
    if not path.is_file():
        raise ckpt.CheckpointError(f"{out} is not an aevb run folder (no config.json)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ckpt.CheckpointError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ckpt.CheckpointError(f"{path} is not an aevb run config (not a JSON object)")
    config.setdefault("adagrad_warmup", 0)      # runs from before the warm-up existed
    return config


def resume(out, *, budget=None, data_dir=None, download=None, echo=print, threads=1):
    """Reopen run folder ``out`` at its last checkpoint (optionally with a new total budget).

    A run that stopped before its first checkpoint is started from the beginning.
    """
    out = Path(out)
    config = read_config(out)
    if not (out / "checkpoint.npz").is_file():
        # Stopped before its first checkpoint: a run is deterministic, so starting it
        # over from its config is the same as resuming it.
        if budget is not None:
            config["budget"] = int(budget)
        echo(f"{out} stopped before its first checkpoint; starting it from the beginning")
        return start(out, config, data_dir=data_dir, download=download, overwrite=True,
                     threads=threads)
    enc, dec, state, meta = ckpt.load(out / "checkpoint.npz")
    if budget is not None and int(budget) < state["seen"]:
        raise ValueError(f"{out} has already evaluated {state['seen']} training samples; a "
                         f"budget of {int(budget)} is below that: give a larger --budget, or "
                         f"none to finish the run's own ({config.get('budget')})")
    saved = meta.get("config", {})
    differ = [k for k in ARCHITECTURE if saved.get(k) != config.get(k)]
    if differ:
        raise ckpt.CheckpointError(
            f"{out / 'checkpoint.npz'} is from a different model than {out / 'config.json'} "
            f"({', '.join(f'{k}: {saved.get(k)!r} vs {config.get(k)!r}' for k in differ)})")
    if budget is not None:
        config["budget"] = int(budget)
    run = Run(out, config, data_dir, download, threads)
    for mine, theirs, tag in ((run.vae.encoder_params_, enc, "encoder"),
                              (run.vae.decoder_params_, dec, "decoder")):
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
    run.initial_bound = records[0]["train_bound"] if records else None
    ckpt.atomic_write_bytes(out / "log.jsonl",
                            "".join(json.dumps(r) + "\n" for r in records).encode())
    if budget is not None:
        _write_json(out / "config.json", config)
    return run


def load_params(out):
    """(encoder, decoder, source) of a run: params.npz if finished, else its checkpoint."""
    out = Path(out)
    if (out / "params.npz").is_file():
        return (*ckpt.load_params(out / "params.npz"), "params.npz")
    if (out / "checkpoint.npz").is_file():
        enc, dec, state, _ = ckpt.load(out / "checkpoint.npz")
        return enc, dec, f"checkpoint.npz at {state['seen']} training samples"
    raise ckpt.CheckpointError(f"{out} holds neither params.npz nor checkpoint.npz")


def load_run(out):
    """A fitted :class:`aevb.VAE` from run folder ``out`` (params.npz, else its checkpoint).

    Its settings are the run's (config.json); ``n_samples_seen_`` says how far
    it was trained.
    """
    config = read_config(out)
    enc, dec, source = load_params(out)
    seen = config["budget"]
    if source.startswith("checkpoint"):
        seen = ckpt.load(Path(out) / "checkpoint.npz")[2]["seen"]
    vae = VAE(**{k: config[k] for k in VAE_SETTINGS}, rng=config["seed"])
    return vae._set_fitted(enc, dec, seen)


def evaluate_likelihood(out, estimator="is", *, splits=("test",), n_points=1000,
                        n_samples=None, paper=False, seed=0, data_dir=None, download=None):
    """Estimate log p(x) on the first ``n_points`` of each split; write likelihood-EST[-paper].json.

    ``estimator`` is ``is`` (importance sampling, K = ``n_samples``, default
    5000) or ``hmc`` (Appendix D, ``n_samples`` posterior samples, default
    1000; ``paper=True`` uses the paper's settings). MNIST points are
    binarized once with a seed (the test set exactly as during training).
    """
    from . import likelihood as LK
    if estimator not in ("is", "hmc"):
        raise ValueError(f"unknown estimator {estimator!r}: use 'is' or 'hmc'")
    out = Path(out)
    config = read_config(out)
    enc, dec, source = load_params(out)
    train, test, _ = load_data(config, data_dir, download)
    vae = VAE(config["n_latent"], config["n_hidden"], config["likelihood"],
              sigmoid_mean=config["sigmoid_mean"])._set_fitted(enc, dec)
    sigmoid = vae._sigmoid
    result = {"estimator": estimator, "params": source, "seed": seed, "splits": {}}
    rng = np.random.default_rng(seed)
    for split in splits:
        data = {"train": train, "test": test}[split]
        data = D.Dataset(data.images[:n_points], data.scale, data.image_shape,
                         binarize=data.binarize)
        if data.binarize == "dynamic":
            data = data.with_binarization("fixed", rng=[config["seed"], 4])
        x = data.to_float(np.float64)
        t0 = time.perf_counter()
        if estimator == "is":
            est = LK.importance_sampled(enc, dec, x, n_samples or 5000, rng, sigmoid)
        else:
            kw = dict(LK.PAPER) if paper else {"n_samples": n_samples or 1000}
            est = LK.appendix_d(enc, dec, x, rng=rng, sigmoid_mean=sigmoid, **kw)
        seconds = time.perf_counter() - t0
        result["settings"] = est.settings
        elbo = vae.score_samples(x, rng=rng, n_mc_samples=ELBO_DRAWS)
        result["splits"][split] = {
            "n_points": len(x), "log_px_mean": est.mean, "log_px_sem": est.sem,
            "mc_stderr_mean": float(np.mean(est.stderr)),
            "elbo_mean": float(elbo.mean()), "elbo_draws": ELBO_DRAWS,
            "seconds": round(seconds, 2)}
    result["file"] = f"likelihood-{estimator}{'-paper' if paper else ''}.json"
    try:
        _write_json(out / result["file"], result)
    except OSError as e:
        result["write_error"] = f"could not write {out / result['file']} ({e.strerror})"
    return result
