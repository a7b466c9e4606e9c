"""Checks of a model's settings, data and memory, each failing with one sentence that says what to do.

:func:`check_settings` checks a model's constructor arguments against one
table (:data:`SETTINGS`), so the four model classes refuse bad values in the
same words; :func:`check_array` the data given to ``fit`` and ``score``;
:func:`check_memory` refuses, before anything is allocated, a model that
cannot fit in memory.
"""
import os

import numpy as np

from .. import defaults
from ..core.optim import make_optimizer
from ..core.sgvb import check_estimator
from ..core.train import SAMPLING

LIKELIHOODS = ("bernoulli", "gaussian")


def check_array(X, likelihood, name="X", sigmoid_mean=False):
    """Validate data for the model, with a message that says how to fix it.

    Returns ``X`` as an array of float32 or float64 with shape (n, D).
    """
    X = np.asarray(X)
    if X.ndim == 3:
        n, a, b = X.shape
        raise ValueError(f"{name} has shape {X.shape}: one image per row is expected; "
                         f"use {name}.reshape({n}, {a * b})")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_datapoints, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if X.dtype == np.bool_:
        return X.astype(np.float64)           # binary pixels: exactly {0, 1}
    if X.dtype == np.uint8:
        raise ValueError(f"{name} is uint8 (0..255); the model expects floats in [0, 1]: "
                         f"use {name} / 255.0 (the paper's Frey Face scaling is / 256)")
    if X.dtype not in (np.float32, np.float64):
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise ValueError(f"{name} has dtype {X.dtype}; expected float32 or float64")
        X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinity (first at row "
                         f"{int(np.argwhere(~np.isfinite(X))[0, 0])})")
    if likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
        raise ValueError(f"{name} has values in [{X.min():g}, {X.max():g}]; the Bernoulli "
                         f"decoder needs values in [0, 1] (binary pixels or grey levels)")
    if likelihood == "gaussian" and sigmoid_mean and (X.min() < 0 or X.max() > 1):
        raise ValueError(f"{name} has values in [{X.min():g}, {X.max():g}], but the Gaussian "
                         f"decoder's means are squashed into (0, 1) (sigmoid_mean=True, as the "
                         f"paper did for Frey Face): scale the data into [0, 1], or pass "
                         f"sigmoid_mean=False")
    return X


def n_parameters(D, H, J, likelihood="bernoulli"):
    """Number of parameters of the Appendix C encoder and decoder."""
    encoder = D * H + H + 2 * (H * J + J)
    decoder = J * H + H + (1 if likelihood == "bernoulli" else 2) * (H * D + D)
    return encoder + decoder


def available_memory():
    """Bytes a new allocation can take: MemAvailable, and no more than an address-space limit
    (``ulimit -v``) leaves; None if neither is known."""
    have = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    have = int(line.split()[1]) * 1024
    except OSError:
        pass
    if have is None:
        try:
            have = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            used = 0
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmSize:"):
                        used = int(line.split()[1]) * 1024
            left = max(0, limit - used)
            have = left if have is None else min(have, left)
    except (ImportError, OSError, ValueError):
        pass
    return have


# Arrays alive at the peak of one step or one scored chunk, per row and unit of width,
# measured with tracemalloc on the Appendix C networks (each dominated by one of J, H, D in
# turn) and rounded up by about half: training (L rows of M, and M rows), scoring (L rows of
# the chunk), drawing decoder means (n rows).
STEP_PER_SAMPLE = {"J": 6, "H": 8, "D": 6}         # x L x M
STEP_PER_POINT = {"J": 10, "H": 16, "D": 2}        # x M
SCORE_PER_SAMPLE = {"J": 12, "H": 8, "D": 8}       # x L x chunk
SAMPLE_PER_ROW = {"J": 2, "H": 4, "D": 4}          # x n
PARAMETER_COPIES = 4            # value, gradient, Adagrad's accumulator, a scratch array
POSTERIOR_SAMPLE_COPIES = 4     # Appendix D: the samples, the halves, the density's work


def _width(per, D, H, J):
    return per["J"] * J + per["H"] * H + per["D"] * D


def memory_needed(D, H, J, likelihood="bernoulli", dtype=np.float64, *, batch_size=100,
                  n_mc_samples=1, score_rows=0, score_samples=1, sample_rows=0,
                  posterior_samples=0):
    """Bytes at the peak of training or using a model of these sizes, an upper estimate.

    The parameters (``PARAMETER_COPIES`` times) plus the largest of one training step
    (M = ``batch_size``, L = ``n_mc_samples``; none if ``batch_size`` is 0), one scored
    chunk (``score_rows`` points, ``score_samples`` noise draws or HMC chains each, and
    ``posterior_samples`` stored latent points each, as Appendix D keeps them) and drawing
    ``sample_rows`` decoder means.
    """
    work = max(batch_size * (n_mc_samples * _width(STEP_PER_SAMPLE, D, H, J)
                             + _width(STEP_PER_POINT, D, H, J)),
               score_rows * (score_samples * _width(SCORE_PER_SAMPLE, D, H, J)
                             + POSTERIOR_SAMPLE_COPIES * posterior_samples * J),
               sample_rows * _width(SAMPLE_PER_ROW, D, H, J))
    return (PARAMETER_COPIES * n_parameters(D, H, J, likelihood) + work) * np.dtype(dtype).itemsize


def check_memory(D, H, J, likelihood, dtype, *, what="train", names=None, **sizes):
    """Refuse, before allocating anything, what cannot fit in the memory available.

    ``sizes`` are :func:`~aevb.models.checks.memory_needed`'s keywords. The one sentence
    says what was asked, what it needs, what is available, and which setting to lower: the
    one whose setting to 1 would save the most (``names`` maps a keyword to the words the
    user knows it by). Returns the bytes needed.
    """
    need = memory_needed(D, H, J, likelihood, dtype, **sizes)
    have = available_memory()
    if have is None or need <= have:
        return need
    names = {"n_latent": "n_latent (--n-latent)", "n_hidden": "n_hidden (--n-hidden)",
             "batch_size": "batch_size (--batch-size)",
             "n_mc_samples": "n_mc_samples (--n-mc-samples)", **(names or {})}
    dims = {"n_latent": J, "n_hidden": H}
    saved = {}
    for key in ("n_latent", "n_hidden", *sizes):
        if key in dims:
            small = memory_needed(D, **{"H": H, "J": J, ("J" if key == "n_latent" else "H"): 1},
                                  likelihood=likelihood, dtype=dtype, **sizes)
        elif sizes[key] > 1:
            small = memory_needed(D, H, J, likelihood, dtype, **{**sizes, key: 1})
        else:
            continue
        saved[names.get(key, key)] = need - small
    name = max(saved, key=saved.get)
    raise ValueError(
        f"to {what}, a model with D = {D}, H = {H} hidden units and J = {J} latent units "
        f"needs about {need / 2**30:.3g} GiB and this machine has {have / 2**30:.3g} GiB "
        f"available: choose a smaller {name}")


def _is_int(v, low):
    return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= low


def _is_positive(v):
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) \
        and bool(np.isfinite(v)) and v > 0


WHOLE = (lambda v: _is_int(v, 1), "an integer >= 1")
#: Every setting a model class may take, with its check: (test, what it must be). A class
#: checks the settings its constructor has; ``None`` passes where the entry says so.
#:
#: :meta hide-value:
SETTINGS = {
    "n_latent": WHOLE, "n_hidden": WHOLE, "batch_size": WHOLE, "n_mc_samples": WHOLE,
    "budget": (lambda v: _is_int(v, 1) and v <= defaults.MAX_BUDGET,
               f"an integer >= 1 and at most {defaults.MAX_BUDGET:.0e}"),
    "n_leapfrog": WHOLE, "n_updates": WHOLE,
    "n_dreams": (lambda v: v is None or _is_int(v, 1), "an integer >= 1 or None"),
    "theta_draws": (lambda v: v is None or _is_int(v, 1), "an integer >= 1 or None"),
    "adagrad_warmup": (lambda v: _is_int(v, 0), "an integer >= 0"),
    "lr": (lambda v: v is None or _is_positive(v), "a positive number"),
    "logvar_lr": (lambda v: v is None or _is_positive(v), "a positive number or None"),
    "init_std": (_is_positive, "a positive number"),
    "step_size": (_is_positive, "a positive number"),
    "init_logvar": (lambda v: not isinstance(v, bool) and isinstance(
        v, (int, float, np.integer, np.floating)) and bool(np.isfinite(v)), "a finite number"),
    "sigmoid_mean": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "weight_decay": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "progress": (lambda v: v is None or isinstance(v, (bool, np.bool_)), "True or False"),
}
CHOICES = {"likelihood": LIKELIHOODS, "sampling": SAMPLING}


def check_rng(rng):
    """Refuse what ``numpy.random.default_rng`` would not take as a seed, in one sentence."""
    if not (rng is None or isinstance(rng, np.random.Generator) or _is_int(rng, 0) or (
            isinstance(rng, (list, tuple)) and rng and all(_is_int(r, 0) for r in rng))):
        raise ValueError(f"rng must be None, a whole number >= 0 (a seed), a list of them, or "
                         f"a numpy.random.Generator, got {rng!r}")
    return rng


def as_generator(rng):
    """``numpy.random.default_rng(rng)`` once :func:`check_rng` has accepted ``rng``."""
    return np.random.default_rng(check_rng(rng))


def check_settings(params):
    """Check a model's constructor arguments (``get_params()``); one sentence for the first that
    is wrong."""
    for name, value in params.items():
        if name in CHOICES and value not in CHOICES[name]:
            raise ValueError(f"unknown {name} {value!r}: choose from {CHOICES[name]}")
        if name in SETTINGS and not SETTINGS[name][0](value):
            what = "step size (lr)" if name == "lr" else name
            raise ValueError(f"{what} must be {SETTINGS[name][1]}, got {value!r}")
    if "estimator" in params:
        check_estimator(params["estimator"])
    check_rng(params.get("rng"))
    dtype = params["dtype"]
    if dtype is not None and str(np.dtype(dtype) if isinstance(dtype, (type, np.dtype))
                                 else dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32', 'float64' or None, got {dtype!r}")
    if "posterior" in params:
        from ..inference.posterior import POSTERIORS
        posterior = params["posterior"]
        if posterior not in POSTERIORS:
            raise ValueError(f"unknown posterior {posterior!r}: choose from "
                             f"{', '.join(POSTERIORS)}")
        if posterior != "gaussian" and params["estimator"] != "A":
            raise ValueError(f"a {posterior} posterior has no closed-form KL: it "
                             f"trains with estimator A (eq. 6); pass estimator='A'")
    make_optimizer(params["optimizer"], 0.01)         # raises for an unknown name
