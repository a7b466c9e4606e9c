"""Full VB (Appendix F) trained: Algorithm 2 as a Trainer, and the eq. 14 bound.

* :class:`FullVBTrainer`: :class:`aevb.core.train.Trainer` with q(theta) over the
  decoder's parameters; one step draws M datapoints, eps and S = ``theta_draws``
  zeta draws, and updates the encoder, mu_theta and log sigma_theta^2 with the
  gradient of :func:`aevb.inference.fullvb.full_vb` (Adagrad in the paper's settings).
* :func:`eq14_bound`: the bound of eq. 14 on log p(X), per datapoint.

The model object people touch is :class:`aevb.FullVB <aevb.models.fullvb.FullVB>`
(:mod:`aevb.models.fullvb`).
"""
import copy
import math

import numpy as np

from .fullvb import WeightPosterior, full_vb, kl_weights_forward
from ..core.optim import check_lr
from ..core.networks import gaussian_mlp_forward
from ..core.distributions import kl_standard_normal_forward
from ..core.sgvb import decoder_log_likelihood_forward
from ..core.train import NonFiniteError, Trainer
from ..defaults import INIT_LOGVAR


class FullVBTrainer(Trainer):
    """Algorithm 2 (Appendix F) in the loop of :class:`aevb.core.train.Trainer`.

    Same keywords as :class:`~aevb.core.train.Trainer`, plus:

    Parameters
    ----------
    dec : decoder container
        The initial mu_theta; it *is* ``self.q.mean`` and is updated in place,
        so run folders and checkpoints save mu_theta as "the decoder".
    init_logvar : float
        log sigma_theta^2 of every parameter at the start.
    theta_draws : int or None
        S, zeta draws per minibatch (:mod:`aevb.inference.fullvb`, "zeta per sample");
        None means S = M, a fresh theta for every datapoint as in Algorithm 2.
    logvar_lr : float or None
        Step size for log sigma_theta^2 (None: the optimizer's). Its gradient,
        (M/N)(sigma^2 - 1)/2 from the KL plus a noisy data term, is small
        against its noise, so with Adagrad it moves slowly at the global step.
    weight_decay : bool
        Here the Section 5 MAP prior applies to the *encoder's* weights only;
        the decoder has the hyperprior p(theta) = N(0, I) instead.

    ``optimizer`` updates the encoder and mu_theta; a copy of it (same class
    and settings, fresh state) updates log sigma_theta^2. Its state and the
    logvars go into ``state_dict()["extra"]``. ``threads`` is accepted and
    ignored (one thread).
    """

    def __init__(self, enc, dec, data, optimizer, *, init_logvar=INIT_LOGVAR, theta_draws=None,
                 logvar_lr=None, **kw):
        super().__init__(enc, dec, data, optimizer, **kw)
        S = self.M if theta_draws is None else theta_draws
        if isinstance(S, bool) or not isinstance(S, (int, np.integer)) or S < 1 or self.M % S:
            raise ValueError(f"theta_draws must be a whole number that divides the minibatch "
                             f"size M = {self.M} (or None for M), got {theta_draws!r}")
        self.theta_draws, self.init_logvar = int(S), float(init_logvar)
        self.q = WeightPosterior.around(dec, init_logvar)
        self.logvar_optimizer = copy.deepcopy(optimizer)
        self.logvar_optimizer.load_state_dict({"t": 0, "state": None})
        if logvar_lr is not None:
            self.logvar_optimizer.lr = check_lr(logvar_lr)
        self.last = None

    def minibatch_step(self):
        """One step of Algorithm 2 on M datapoints; returns their bounds L(theta_(i), phi; x_i) (M,)."""
        J = self.enc.W_mean.shape[1]
        x = self.data.batch(self.sampler.next(), self.dtype, self.rng)         # (M, D)
        eps = self.rng.standard_normal((self.L, self.M, J), dtype=self.dtype)  # (L, M, J)
        zeta = self.q.draw_zeta(self.theta_draws, self.rng)                    # fields (S, ...)
        res = full_vb(self.enc, self.q, x, eps, zeta, len(self.data), self.estimator,
                      self.sigmoid_mean, encoder_prior=self.weight_decay)
        if not math.isfinite(res.objective):
            raise NonFiniteError(f"the full-VB objective is {res.objective} at step "
                                 f"{self.step + 1}; parameters were left as they were. Try a "
                                 f"smaller step size or a smaller init_logvar.")
        self.optimizer.step(self.enc.arrays() + self.q.mean.arrays(),
                            res.denc.arrays() + res.dmean.arrays())
        self.logvar_optimizer.step(self.q.logvar.arrays(), res.dlogvar.arrays())
        self.seen += self.M
        self.last = res
        return res.bound

    def check_finite(self):
        super().check_finite()
        for name, a in self.q.logvar.items():
            if not np.isfinite(a).all():
                raise NonFiniteError(f"the parameter logvar.{name} of q(theta) holds NaN or "
                                     f"infinity at step {self.step}; try a smaller --lr")
        if self.logvar_optimizer.first_non_finite() is not None:
            raise NonFiniteError(f"the optimizer state of q(theta)'s logvar holds NaN or "
                                 f"infinity at step {self.step}; try a smaller --lr")

    def state_dict(self):
        d = super().state_dict()
        opt = self.logvar_optimizer.state_dict()
        extra = {f"logvar.{n}": a.copy() for n, a in self.q.logvar.items()}
        for i, arrays in enumerate(opt["state"] or []):
            for k, a in enumerate(arrays):
                extra[f"logvar_optimizer.{i}.{k}"] = a.copy()
        d["extra"] = extra
        d["extra_meta"] = {"logvar_optimizer_t": opt["t"], "theta_draws": self.theta_draws,
                           "logvar_optimizer_has_state": opt["state"] is not None,
                           "init_logvar": self.init_logvar}
        return d

    def load_state_dict(self, d):
        super().load_state_dict(d)
        extra, meta = d["extra"], d["extra_meta"]
        for n, a in self.q.logvar.items():
            np.copyto(a, extra[f"logvar.{n}"])
        state = None
        if meta["logvar_optimizer_has_state"]:
            state = [[extra[f"logvar_optimizer.{i}.{k}"]
                      for k in range(sum(1 for key in extra
                                         if key.startswith(f"logvar_optimizer.{i}.")))]
                     for i in range(len(self.q.logvar.names()))]
        self.logvar_optimizer.load_state_dict({"t": meta["logvar_optimizer_t"], "state": state})


def expected_bound_samples(enc, q, data, rng, rows_per_theta=100, chunk=1000,
                           sigmoid_mean=False):
    """L(theta_b, phi; x_i) for every point, each block of ``rows_per_theta`` points at its own theta draw.

    One eps per point (z-part by estimator B, Appendix B), one theta ~ q(theta)
    per block: the mean is unbiased for mean_i E_q(theta) L(theta, phi; x_i).

    Parameters
    ----------
    data : aevb.io.datasets.Dataset or ndarray (n, D)

    Returns
    -------
    bound : ndarray (n,), float64
    """
    rng = np.random.default_rng(rng)
    dtype = enc.dtype
    out = np.empty(len(data))
    for start in range(0, len(data), chunk):
        rows = slice(start, start + chunk)
        x = (data.batch(rows, dtype, rng) if hasattr(data, "batch")
             else np.asarray(data[rows], dtype))                                 # (m, D)
        (mean, logvar), _ = gaussian_mlp_forward(enc, x)                       # (m, J)
        z = mean + np.exp(0.5 * logvar) * rng.standard_normal(mean.shape, dtype=dtype)
        logpx = np.empty(x.shape[0])
        for s in range(0, x.shape[0], rows_per_theta):
            theta = q.sample(q.draw_zeta(1, rng)).map(lambda a: a[0])
            logpx[s:s + rows_per_theta] = decoder_log_likelihood_forward(
                theta, x[s:s + rows_per_theta], z[s:s + rows_per_theta], sigmoid_mean)[0]
        out[rows] = logpx - kl_standard_normal_forward(mean, logvar)[0]        # eq. 24's z-part
    return out


def eq14_bound(enc, q, data, n_train, rng, rows_per_theta=100, chunk=1000, sigmoid_mean=False):
    """The eq. 14 bound per datapoint: mean_i E_q(theta) L(theta, phi; x_i) - KL(q(theta) || p) / N.

    Parameters
    ----------
    data : aevb.io.datasets.Dataset or ndarray (n, D)
    n_train : int
        N of the training set (the KL over theta is divided by it).

    Returns
    -------
    bound : float
        ``expected - kl_per_datapoint``: on the training set, the eq. 14
        bound on log p(X) divided by N, in nats per datapoint.
    expected : float
        mean_i E_q(theta) L(theta, phi; x_i) (:func:`expected_bound_samples`).
        On held-out points it is a lower bound on mean_i log of the
        predictive density int q(theta) p_theta(x) dtheta (Jensen twice),
        the number to set next to AEVB's test bound.
    kl_per_datapoint : float
        KL(q(theta) || p(theta)) / N.
    """
    expected = float(expected_bound_samples(enc, q, data, rng, rows_per_theta, chunk,
                                            sigmoid_mean).mean())
    kl = kl_weights_forward(q)[0] / n_train
    return expected - kl, expected, kl
