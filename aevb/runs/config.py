"""The settings of a run (config.json): defaults from the paper, the data they select.

:func:`make_config` writes down every choice a run depends on, including the
ones the paper leaves open (split, binarization, Adagrad's warm-up) and the
training method; :func:`load_data` turns a config into datasets;
:func:`read_config` reads a run folder's config, filling in keys that older
versions did not write with the values those versions used.
"""
import json
from pathlib import Path

import numpy as np

from .. import defaults as DF
from ..io import checkpoint as ckpt
from ..io import datasets as D
from ..version import __version__

N_TRAIN_EVAL = 10_000        # training points scored at each evaluation
ARCHITECTURE = ("dataset", "n_latent", "n_hidden", "likelihood", "sigmoid_mean", "dtype")


def make_config(dataset="mnist", *, n_latent=DF.N_LATENT, n_hidden=None,
                estimator=DF.ESTIMATOR, n_mc_samples=DF.N_MC_SAMPLES, batch_size=DF.BATCH_SIZE,
                optimizer=DF.OPTIMIZER, lr=None, adagrad_warmup=DF.ADAGRAD_WARMUP,
                budget=DF.BUDGET, binarize=DF.BINARIZE, full_train=False, sampling=DF.SAMPLING,
                weight_decay=DF.WEIGHT_DECAY, dtype=DF.RUN_DTYPE, seed=DF.SEED,
                checkpoint_every=DF.CHECKPOINT_EVERY, method=DF.METHOD,
                posterior=DF.POSTERIOR, n_train=None, theta_draws=DF.THETA_DRAWS,
                init_logvar=DF.INIT_LOGVAR, logvar_lr=DF.LOGVAR_LR):
    """A complete, JSON-ready run config with the paper's defaults per dataset.

    Defaults come from :mod:`aevb.defaults`. ``method`` is one of
    :data:`aevb.methods.METHODS`; ``posterior`` a family
    of :mod:`aevb.inference.posterior` (``aevb`` only; non-Gaussian ones train with
    estimator A); ``n_train`` keeps only the first ``n_train`` training images
    (Figure 3's N_train = 1000), None keeps the whole split. ``theta_draws``,
    ``init_logvar`` and ``logvar_lr`` are full VB's (:class:`aevb.inference.fullvb_train.FullVBTrainer`;
    one theta draw per minibatch by default, as Algorithm 2's one per datapoint costs
    M times more).
    """
    if dataset not in D.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose from {D.DATASETS}")
    if n_train is not None and (isinstance(n_train, bool) or not isinstance(n_train, int)
                                or n_train < 1):
        raise ValueError(f"n_train must be a whole number >= 1 or None, got {n_train!r}")
    mnist = dataset == "mnist"
    likelihood = "bernoulli" if mnist else "gaussian"
    return {"aevb_version": __version__, "dataset": dataset, "method": method,
            "posterior": posterior, "n_train": n_train,
            **({"theta_draws": theta_draws, "init_logvar": init_logvar, "logvar_lr": logvar_lr}
               if method == "full-vb" else {}),
            "train_split": ("train_full" if full_train else "train") if mnist else "train",
            "binarize": D.check_binarize(binarize) if mnist else "none",
            "scale": D.MNIST_SCALE if mnist else D.FREY_SCALE,
            "n_latent": n_latent, "n_hidden": n_hidden or DF.N_HIDDEN[dataset],
            "likelihood": likelihood, "sigmoid_mean": True,
            "estimator": estimator, "n_mc_samples": n_mc_samples, "batch_size": batch_size,
            "optimizer": optimizer, "lr": lr or DF.LR[likelihood],
            "adagrad_warmup": int(adagrad_warmup),
            "weight_decay": weight_decay, "budget": int(budget), "sampling": sampling,
            "init_std": DF.INIT_STD, "dtype": dtype, "seed": seed,
            "checkpoint_every": int(checkpoint_every), "n_train_eval": N_TRAIN_EVAL}


def n_train(config):
    """N, the number of training points the config's data has (for --epochs)."""
    if config["dataset"] == "frey":
        n = D.N_FREY_TRAIN
    else:
        n = 60_000 if config["train_split"] == "train_full" else D.N_MNIST_TRAIN
    return min(n, config.get("n_train") or n)


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
    if config.get("n_train"):
        if config["n_train"] > len(train):
            raise ValueError(f"n_train = {config['n_train']} is more than the {len(train)} "
                             f"training images of {config['dataset']}")
        train = D.Dataset(train.images[:config["n_train"]], train.scale, train.image_shape,
                          name=train.name, split=train.split, binarize=train.binarize)
    n = min(config["n_train_eval"], len(train))
    train_eval = D.Dataset(train.images[:n], train.scale, train.image_shape, name=train.name,
                           split=train.split, binarize=train.binarize)
    return train, test, train_eval


def check_threads(threads):
    """The number of cores a run uses: 1 (the default), or n >= 2.

    1 runs everything on one core: one BLAS thread, parameter updates in turn.
    n >= 2 gives BLAS n - 1 threads and updates the decoder on a helper thread
    (:mod:`aevb.core.train`). Measured on the project's 2-core machine with two other
    CPU-bound processes running, 1 degraded least (README, "Threads"); on a
    quiet machine 2 gains a few per cent. Results are bitwise the same with or
    without the helper thread; a different BLAS thread count changes them in
    the last bits.
    """
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r}")
    return int(threads)


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
    config.setdefault("method", "aevb")         # ... before the baselines
    config.setdefault("posterior", "gaussian")
    config.setdefault("n_train", None)
    return config
