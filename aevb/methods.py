"""The one registry of training methods: name -> model class, settings check, evaluation.

``aevb train --method``, run folders (:mod:`aevb.runs`) and ``aevb reproduce``
all read :data:`METHODS`; each entry names the model class that trains it
(:mod:`aevb.models`, whose :meth:`~aevb.models.base.Model.make_trainer` gives
the trainer) and says what a run of it logs:

* ``aevb``: Algorithm 1 (:class:`aevb.VAE <aevb.models.vae.VAE>`), or with
  ``posterior`` other than ``gaussian`` the Section 2.4 families with
  estimator A. Logs the SGVB bound on the first 10,000 training points and on
  the test set.
* ``wake-sleep``: the paper's baseline
  (:class:`aevb.WakeSleep <aevb.models.wakesleep.WakeSleep>`). Logs the same
  SGVB bound (estimator B, fresh noise) with its encoder, which is what
  Figure 2 plots for it.
* ``mcem``: Monte Carlo EM, Appendix E (:class:`aevb.MCEM <aevb.models.mcem.MCEM>`). It has
  no encoder, so it has no bound to log: at each evaluation it logs the
  Appendix D estimate of log p(x) (:func:`aevb.baselines.mcem.log_likelihood`,
  the paper's settings: 50 HMC samples, 4 leapfrog steps, a kernel density)
  on the first ``MCEM_EVAL_POINTS`` training and test points, as
  ``train_log_px`` / ``test_log_px``; ``aevb evaluate --estimator hmc`` gives
  it on 1,000 points.
* ``full-vb``: Appendix F (:class:`aevb.FullVB <aevb.models.fullvb.FullVB>`). Logs the eq. 14
  bound per datapoint on the training points (the expected bound minus
  KL(q(theta) || p(theta)) / N) as ``train_bound`` and the expected bound on
  the test set as ``test_bound``; ``train_expected`` is the expected bound on
  the training points, the number to set beside AEVB's train bound.

Each method's settings that mean nothing for it are refused with a sentence
(:func:`check_method`), never silently ignored.
"""
import inspect
from dataclasses import dataclass

import numpy as np

from .inference.posterior import POSTERIORS
from .models import MCEM, VAE, FullVB, WakeSleep

MCEM_EVAL_POINTS = 100
FULL_VB_SETTINGS = ("theta_draws", "init_logvar", "logvar_lr")


@dataclass(frozen=True)
class Method:
    """One way of training the paper's model."""
    name: str
    model: type                     # the class in aevb.models
    summary: str
    uses_estimator: bool = True     # trains with an SGVB estimator (estimator, L)


#: Every training method by name (``aevb train --method``): one :class:`Method` each.
#:
#: :meta hide-value:
METHODS = {m.name: m for m in (
    Method("aevb", VAE, "Algorithm 1 (the default)"),
    Method("wake-sleep", WakeSleep, "the paper's baseline", uses_estimator=False),
    Method("mcem", MCEM, "Monte Carlo EM, Appendix E", uses_estimator=False),
    Method("full-vb", FullVB, "full variational Bayes, Appendix F"),
)}


def get(name):
    """The :class:`Method` called ``name``; a ValueError that lists the choices otherwise."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: choose from {', '.join(METHODS)}")
    return METHODS[name]


def check_method(config):
    """Refuse combinations of settings that mean nothing; returns the config."""
    method, posterior = config.get("method", "aevb"), config.get("posterior", "gaussian")
    m = get(method)
    if posterior not in POSTERIORS:
        raise ValueError(f"unknown posterior {posterior!r}: choose from {', '.join(POSTERIORS)}")
    if posterior != "gaussian":
        if method != "aevb":
            raise ValueError(f"--posterior {posterior} is for --method aevb only (the "
                             f"{method} method uses the paper's Gaussian q(z|x))")
        if config["estimator"] != "A":
            raise ValueError(f"a {posterior} posterior has no closed-form KL: it trains with "
                             f"estimator A (eq. 6); drop --estimator {config['estimator']}")
    if method != "full-vb" and any(k in config for k in FULL_VB_SETTINGS):
        raise ValueError("--theta-draws, --init-logvar and --logvar-lr are for --method "
                         "full-vb only; drop them")
    if not m.uses_estimator and (config["estimator"] != "B" or config["n_mc_samples"] != 1):
        raise ValueError(f"--estimator and --n-mc-samples mean nothing for --method {method}: "
                         f"it does not use an SGVB estimator to train; drop them")
    return config


def model_from_config(config):
    """The (unfitted) model object of a run config: its method's class with the run's settings."""
    cls = get(config.get("method", "aevb")).model
    names = inspect.signature(cls).parameters
    settings = {k: config[k] for k in names if k in config and k != "rng"}
    return cls(**settings, rng=config["seed"])


def evaluate(config, model, trainer, train_eval, test, rng):
    """One log record's measurements (module docstring), in nats per datapoint."""
    method = config.get("method", "aevb")
    if method == "mcem":
        from .inference.likelihood import PAPER
        from .baselines.mcem import log_likelihood
        rec = {}
        n = min(MCEM_EVAL_POINTS, len(train_eval))
        for name, data in (("train", train_eval), ("test", test)):
            x = data.batch(slice(0, n), np.float64, rng)
            z0 = trainer.z[:n] if name == "train" else None   # train_eval: the first rows
            est = log_likelihood(trainer.dec.astype(np.float64), x, rng, z0=z0,
                                 sigmoid_mean=model._sigmoid, **PAPER)
            rec[f"{name}_log_px"] = est.mean
        rec["accept_rate"] = trainer.n_accepted / max(1, trainer.n_transitions)
        rec["step_size_median"] = float(np.median(trainer.step_size))
        return rec
    if method == "full-vb":
        from .inference.fullvb_train import eq14_bound
        n = len(trainer.data)
        bound, train_expected, kl = eq14_bound(trainer.enc, trainer.q, train_eval, n, rng,
                                               sigmoid_mean=model._sigmoid)
        _, expected, _ = eq14_bound(trainer.enc, trainer.q, test, n, rng,
                                    sigmoid_mean=model._sigmoid)
        return {"train_bound": bound, "test_bound": expected, "train_expected": train_expected,
                "kl_weights_per_datapoint": kl}
    return {"train_bound": model.score(train_eval, rng=rng),
            "test_bound": model.score(test, rng=rng)}
