"""The settings of a run (config.json): defaults from the paper, the data they select.

:func:`make_config` writes down every choice a run depends on, including the
ones the paper leaves open (split, binarization, Adagrad's warm-up) and the
training method; :func:`load_data` turns a config into datasets;
:func:`read_config` reads a run folder's config, filling in keys that older
versions did not write with the values those versions used.
"""
import json
import os
from pathlib import Path

import numpy as np

from .. import defaults as DF
from .. import methods
from ..io import checkpoint as ckpt
from ..io import datasets as D
from ..version import __version__

N_TRAIN_EVAL = 10_000        # training points scored at each evaluation
ARCHITECTURE = ("dataset", "n_latent", "n_hidden", "likelihood", "sigmoid_mean", "dtype")


def make_config(dataset="mnist", *, n_latent=DF.N_LATENT, n_hidden=None,
                estimator=DF.ESTIMATOR, n_mc_samples=DF.N_MC_SAMPLES, batch_size=DF.BATCH_SIZE,
                optimizer=DF.OPTIMIZER, lr=None, adagrad_warmup=DF.ADAGRAD_WARMUP,
                budget=DF.BUDGET, binarize=None, test_binarize=None, full_train=False,
                sampling=DF.SAMPLING,
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
    M times more). ``binarize`` (None: ``aevb.defaults.BINARIZE``), ``test_binarize``
    (None: ``aevb.defaults.TEST_BINARIZE``; ``fixed`` is one Bernoulli draw from the run's
    seed, ``threshold`` the grey levels above 0.5) and ``full_train`` are MNIST's: Frey Face
    is grey levels with its own split, so for it they are refused rather than ignored. With
    ``binarize="none"`` the test digits are grey levels too, and ``test_binarize`` is refused.
    """
    if dataset not in D.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose from {D.DATASETS}")
    if n_train is not None and (isinstance(n_train, bool) or not isinstance(n_train, int)
                                or n_train < 1):
        raise ValueError(f"n_train must be a whole number >= 1 or None, got {n_train!r}")
    mnist = dataset == "mnist"
    if not mnist and (binarize not in (None, "none") or test_binarize is not None
                      or full_train):
        given = ("binarize=" + repr(binarize) if binarize not in (None, "none") else
                 "test_binarize=" + repr(test_binarize) if test_binarize is not None else
                 "full_train=True")
        raise ValueError(f"{given} is for dataset 'mnist' only (Frey Face is grey levels with "
                         f"its own split); leave it out")
    binarize = D.check_binarize(binarize or DF.BINARIZE) if mnist else "none"
    if binarize == "none" and test_binarize is not None:
        raise ValueError(f"test_binarize={test_binarize!r} needs binarized training digits: "
                         f"with binarize='none' the test digits are grey levels too; leave it out")
    if binarize != "none":
        test_binarize = D.check_binarize(test_binarize or DF.TEST_BINARIZE, D.TEST_BINARIZE)
    likelihood = "bernoulli" if mnist else "gaussian"
    return {"aevb_version": __version__, "dataset": dataset, "method": method,
            "posterior": posterior, "n_train": n_train,
            **({"theta_draws": theta_draws, "init_logvar": init_logvar, "logvar_lr": logvar_lr}
               if method == "full-vb" else {}),
            "train_split": ("train_full" if full_train else "train") if mnist else "train",
            "binarize": binarize, "test_binarize": test_binarize or "none",
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


def _old_test_binarize(config):
    """The test binarization of a config made before ``test_binarize`` existed."""
    return "none" if config.get("binarize") == "none" else "fixed"


def load_data(config, data_dir=None, download=None):
    """(train, test, train_eval) Datasets as the config says; the test digits binarized once.

    A config without ``test_binarize`` (made before it existed) had the seeded draw."""
    if config["dataset"] == "mnist":
        train = D.mnist(config["train_split"], data_dir, download)
        test = D.mnist("test", data_dir, download)
        train = train.with_binarization(config["binarize"])
        test = test.with_binarization(config.get("test_binarize", _old_test_binarize(config)),
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
    cores = os.cpu_count() or 1
    if threads > cores:
        raise ValueError(f"threads = {threads} is more than this machine's {cores} cores: "
                         f"more threads than cores only wait for each other (use at most "
                         f"{cores})")
    return int(threads)


def read_config(out):
    """The config.json of run folder ``out``."""
    path = Path(out) / "config.json"
    if not path.is_file():
        raise ckpt.CheckpointError(f"{out} is not an aevb run folder (no config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ckpt.CheckpointError(f"{path} is not UTF-8 text, so not an aevb run config") \
            from None
    except json.JSONDecodeError as e:
        raise ckpt.CheckpointError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ckpt.CheckpointError(f"{path} is not an aevb run config (not a JSON object)")
    config.setdefault("adagrad_warmup", 0)      # runs from before the warm-up existed
    config.setdefault("method", "aevb")         # ... before the baselines
    config.setdefault("posterior", "gaussian")
    config.setdefault("n_train", None)
    config.setdefault("test_binarize", _old_test_binarize(config))
    check_config(config, path)
    return config


def check_config(config, path="config.json"):
    """Refuse a config that :func:`make_config` could not have written: one sentence naming the
    file and the field (a missing or renamed key, a value of the wrong type or range)."""
    where = f"{path}: "
    if config.get("dataset") not in D.DATASETS:
        raise ckpt.CheckpointError(f"{where}dataset is {config.get('dataset')!r}; it must be one "
                                   f"of {', '.join(D.DATASETS)}")
    method = config.get("method")
    if method not in methods.METHODS:
        raise ckpt.CheckpointError(f"{where}method is {method!r}; it must be one of "
                                   f"{', '.join(methods.METHODS)}")
    reference = make_config(config["dataset"], method=method)
    for key, default in reference.items():
        if key not in config:
            raise ckpt.CheckpointError(f"{where}the setting {key!r} is missing (was it renamed "
                                       f"or deleted?); restore it or start a new run")
        value = config[key]
        ok = (isinstance(value, bool) == isinstance(default, bool) and
              (value is None or default is None or isinstance(value, type(default))
               or isinstance(default, float) and isinstance(value, int)))
        if not ok:
            raise ckpt.CheckpointError(f"{where}{key} is {value!r}, of the wrong type for it "
                                       f"(like {default!r}); restore it or start a new run")
    for key in ("n_latent", "n_hidden", "batch_size", "n_mc_samples", "budget",
                "checkpoint_every", "n_train_eval"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ckpt.CheckpointError(f"{where}{key} is {config[key]!r}; it must be a whole "
                                       f"number >= 1")
    if config["budget"] > DF.MAX_BUDGET:
        raise ckpt.CheckpointError(f"{where}budget is {config['budget']:.3g} training samples, "
                                   f"more than the limit of {DF.MAX_BUDGET:.0e}")
    for key in ("lr", "init_std"):
        if not (isinstance(config[key], (int, float)) and 0 < config[key] < float("inf")):
            raise ckpt.CheckpointError(f"{where}{key} is {config[key]!r}; it must be a positive "
                                       f"number")
    if config["dtype"] not in ("float32", "float64"):
        raise ckpt.CheckpointError(f"{where}dtype is {config['dtype']!r}; it must be float32 "
                                   f"or float64")
    test_modes = D.TEST_BINARIZE if config["binarize"] != "none" else ("none",)
    if config["test_binarize"] not in test_modes:
        raise ckpt.CheckpointError(f"{where}test_binarize is {config['test_binarize']!r}; with "
                                   f"binarize {config['binarize']!r} it must be one of "
                                   f"{', '.join(test_modes)}")
    try:
        methods.check_method(config)
    except ValueError as e:
        raise ckpt.CheckpointError(f"{where}{e}") from None
