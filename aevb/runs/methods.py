"""The training methods a run folder can hold, and what each one logs (``aevb train --method``).

* ``aevb``: Algorithm 1 (:class:`aevb.core.train.Trainer`), or with ``posterior``
  other than ``gaussian`` the Section 2.4 families with estimator A
  (:class:`aevb.inference.posterior.PosteriorTrainer`). Logs the SGVB bound on the
  first 10,000 training points and on the test set.
* ``wake-sleep``: the paper's baseline (:class:`aevb.baselines.wakesleep.WakeSleepTrainer`).
  Logs the same SGVB bound (estimator B, fresh noise) with its encoder,
  which is what Figure 2 plots for it.
* ``mcem``: Monte Carlo EM, Appendix E (:class:`aevb.baselines.mcem.MCEMTrainer`). It
  has no encoder, so it has no bound to log: at each evaluation it logs the
  Appendix D estimate of log p(x) (:func:`aevb.baselines.mcem.log_likelihood`, the
  paper's settings: 50 HMC samples, 4 leapfrog steps, a kernel density) on
  the first ``MCEM_EVAL_POINTS`` training and test points, as
  ``train_log_px`` / ``test_log_px``; ``aevb evaluate --estimator hmc`` gives
  it on 1,000 points.
* ``full-vb``: Appendix F (:class:`aevb.inference.fullvb_model.FullVBTrainer`). Logs
  the eq. 14 bound per datapoint on the training points (the expected bound
  minus KL(q(theta) || p(theta)) / N) as ``train_bound`` and the expected
  bound on the test set as ``test_bound``; ``train_expected`` is the
  expected bound on the training points, the number to set beside AEVB's
  train bound (module :mod:`aevb.inference.fullvb_model`).

Each method's settings that mean nothing for it are refused with a sentence
(:func:`check_method`), never silently ignored.
"""
import numpy as np

METHODS = ("aevb", "wake-sleep", "mcem", "full-vb")
MCEM_EVAL_POINTS = 100


def check_method(config):
    """Refuse combinations of settings that mean nothing; returns the config."""
    method, posterior = config.get("method", "aevb"), config.get("posterior", "gaussian")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose from {', '.join(METHODS)}")
    from ..inference.posterior import POSTERIORS
    if posterior not in POSTERIORS:
        raise ValueError(f"unknown posterior {posterior!r}: choose from {', '.join(POSTERIORS)}")
    if posterior != "gaussian":
        if method != "aevb":
            raise ValueError(f"--posterior {posterior} is for --method aevb only (the "
                             f"{method} method uses the paper's Gaussian q(z|x))")
        if config["estimator"] != "A":
            raise ValueError(f"a {posterior} posterior has no closed-form KL: it trains with "
                             f"estimator A (eq. 6); drop --estimator {config['estimator']}")
    if method != "full-vb" and any(k in config for k in ("theta_draws", "init_logvar",
                                                          "logvar_lr")):
        raise ValueError("--theta-draws, --init-logvar and --logvar-lr are for --method "
                         "full-vb only; drop them")
    if method in ("wake-sleep", "mcem") and (config["estimator"] != "B"
                                             or config["n_mc_samples"] != 1):
        raise ValueError(f"--estimator and --n-mc-samples mean nothing for --method {method}: "
                         f"it does not use an SGVB estimator to train; drop them")
    return config


def has_encoder(config):
    return config.get("method", "aevb") != "mcem"


def make_trainer(config, vae, train, threads):
    """The trainer for ``config["method"]`` over ``vae``'s fresh parameters."""
    c = config
    settings = dict(rng=vae._rng, batch_size=c["batch_size"], weight_decay=c["weight_decay"],
                    sigmoid_mean=vae._sigmoid, sampling=c["sampling"], dtype=c["dtype"],
                    threads=2 if threads >= 2 else 1)
    method = c.get("method", "aevb")
    enc, dec, opt = vae.encoder_params_, vae.decoder_params_, vae.optimizer_
    if method == "aevb" and c.get("posterior", "gaussian") == "gaussian":
        from ..core.train import Trainer
        return Trainer(enc, dec, train, opt, n_mc_samples=c["n_mc_samples"],
                       estimator=c["estimator"], **settings)
    if method == "aevb":
        from ..inference.posterior import PosteriorTrainer
        return PosteriorTrainer(enc, dec, train, opt, posterior=c["posterior"],
                                n_mc_samples=c["n_mc_samples"], estimator="A", **settings)
    if method == "wake-sleep":
        from ..baselines.wakesleep import WakeSleepTrainer
        return WakeSleepTrainer(enc, dec, train, opt, **settings)
    if method == "mcem":
        from ..baselines.mcem import MCEMTrainer
        return MCEMTrainer(None, dec, train, opt, **settings)
    from ..inference.fullvb_model import FullVBTrainer
    return FullVBTrainer(enc, dec, train, opt, n_mc_samples=c["n_mc_samples"],
                         estimator=c["estimator"], theta_draws=c["theta_draws"],
                         init_logvar=c["init_logvar"], logvar_lr=c["logvar_lr"], **settings)


def evaluate(config, vae, trainer, train_eval, test, rng):
    """One log record's measurements (module docstring), in nats per datapoint."""
    method = config.get("method", "aevb")
    if method == "mcem":
        from ..inference.likelihood import PAPER
        from ..baselines.mcem import log_likelihood
        rec = {}
        n = min(MCEM_EVAL_POINTS, len(train_eval))
        for name, data in (("train", train_eval), ("test", test)):
            x = data.batch(slice(0, n), np.float64, rng)
            z0 = trainer.z[:n] if name == "train" else None   # train_eval: the first rows
            est = log_likelihood(trainer.dec.astype(np.float64), x, rng, z0=z0,
                                 sigmoid_mean=vae._sigmoid, **PAPER)
            rec[f"{name}_log_px"] = est.mean
        rec["accept_rate"] = trainer.n_accepted / max(1, trainer.n_transitions)
        rec["step_size_median"] = float(np.median(trainer.step_size))
        return rec
    if method == "full-vb":
        from ..inference.fullvb_model import eq14_bound
        n = len(trainer.data)
        bound, train_expected, kl = eq14_bound(trainer.enc, trainer.q, train_eval, n, rng,
                                               sigmoid_mean=vae._sigmoid)
        _, expected, _ = eq14_bound(trainer.enc, trainer.q, test, n, rng,
                                    sigmoid_mean=vae._sigmoid)
        return {"train_bound": bound, "test_bound": expected, "train_expected": train_expected,
                "kl_weights_per_datapoint": kl}
    if config.get("posterior", "gaussian") != "gaussian":
        from ..inference.posterior import score_family
        return {name: score_family(vae.encoder_params_, vae.decoder_params_, data,
                                   config["posterior"], rng, sigmoid_mean=vae._sigmoid)
                for name, data in (("train_bound", train_eval), ("test_bound", test))}
    return {"train_bound": vae.score(train_eval, rng=rng), "test_bound": vae.score(test, rng=rng)}
