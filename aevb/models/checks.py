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


def check_array(X, likelihood, name="X"):
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
    return X


def n_parameters(D, H, J, likelihood="bernoulli"):
    """Number of parameters of the Appendix C encoder and decoder."""
    encoder = D * H + H + 2 * (H * J + J)
    decoder = J * H + H + (1 if likelihood == "bernoulli" else 2) * (H * D + D)
    return encoder + decoder


def available_memory():
    """Bytes of memory available to a new allocation (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(D, H, J, likelihood, dtype, batch_size=100):
    """Refuse, before allocating anything, a model that cannot fit in memory.

    Training holds each parameter four times (the value, its gradient,
    Adagrad's accumulator and a scratch array) plus a minibatch's activations.
    """
    need = (4 * n_parameters(D, H, J, likelihood) + 8 * batch_size * (D + H + J)) \
        * np.dtype(dtype).itemsize
    have = available_memory()
    if have is not None and need > have:
        raise ValueError(
            f"a model with D = {D}, H = {H} hidden units and J = {J} latent units needs about "
            f"{need / 2**30:.3g} GiB to train, and this machine has {have / 2**30:.3g} GiB "
            f"available: choose a smaller n_latent (--n-latent) or n_hidden (--n-hidden)")


def _is_int(v, low):
    return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= low


def _is_positive(v):
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) \
        and bool(np.isfinite(v)) and v > 0


# Every setting a model class may take, with its check: (test, what it must be). A class
# checks the settings its constructor has; ``None`` passes where the entry says so.
WHOLE = (lambda v: _is_int(v, 1), "an integer >= 1")
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
