"""Full VB (Appendix F) trained: Algorithm 2 as a Trainer, the eq. 14 bound, and the FullVB object.

* :class:`FullVBTrainer`: :class:`aevb.core.train.Trainer` with q(theta) over the
  decoder's parameters; one step draws M datapoints, eps and S = ``theta_draws``
  zeta draws, and updates the encoder, mu_theta and log sigma_theta^2 with the
  gradient of :func:`aevb.inference.fullvb.full_vb` (Adagrad in the paper's settings).
* :func:`eq14_bound`: the bound of eq. 14 on log p(X), per datapoint.
* :class:`FullVB`: the scikit-learn-style front, like :class:`aevb.VAE`.
"""
import copy
import math

import numpy as np

from .fullvb import WeightPosterior, full_vb, kl_weights_forward
from ..core.layers import sigmoid
from ..model import VAE
from ..core.optim import WARMUP_STEPS, _check_lr
from ..core.networks import INIT_STD, BernoulliMLPParams, bernoulli_mlp_forward, gaussian_mlp_forward
from ..core.distributions import kl_standard_normal_forward
from ..core.sgvb import decoder_log_likelihood_forward
from ..core.train import NonFiniteError, Trainer

INIT_LOGVAR = -10.0      # sigma_theta = 0.0067 at the start, below the init std 0.01 of the means


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
            self.logvar_optimizer.lr = _check_lr(logvar_lr)
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
    data : aevb.runs.data.Dataset or ndarray (n, D)

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
    data : aevb.runs.data.Dataset or ndarray (n, D)
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


class FullVB(VAE):
    """Auto-encoder with a posterior over the decoder's parameters (Appendix F, Algorithm 2).

    Same parameters as :class:`aevb.VAE`, plus ``init_logvar``,
    ``theta_draws`` and ``logvar_lr`` (:class:`FullVBTrainer`).

    Attributes
    ----------
    encoder_params_ : GaussianMLPParams
    weight_posterior_ : aevb.inference.fullvb.WeightPosterior
        q(theta); ``decoder_params_`` is its mean mu_theta.
    n_train_ : int
        N of the data ``fit`` saw (for the eq. 14 bound).
    """

    def __init__(self, n_latent=20, n_hidden=500, likelihood="bernoulli", *,
                 sigmoid_mean=True, estimator="B", n_mc_samples=1, batch_size=100,
                 optimizer="adagrad", lr=None, adagrad_warmup=WARMUP_STEPS,
                 weight_decay=True, budget=1_000_000, sampling="shuffle",
                 init_std=INIT_STD, dtype=None, rng=None, progress=None,
                 init_logvar=INIT_LOGVAR, theta_draws=None, logvar_lr=None):
        super().__init__(n_latent, n_hidden, likelihood, sigmoid_mean=sigmoid_mean,
                         estimator=estimator, n_mc_samples=n_mc_samples,
                         batch_size=batch_size, optimizer=optimizer, lr=lr,
                         adagrad_warmup=adagrad_warmup, weight_decay=weight_decay,
                         budget=budget, sampling=sampling, init_std=init_std, dtype=dtype,
                         rng=rng, progress=progress)
        self.init_logvar = init_logvar
        self.theta_draws = theta_draws
        self.logvar_lr = logvar_lr

    def fit(self, X, callback=None, eval_points=None):
        """Train from a fresh initialization with Algorithm 2; returns ``self``."""
        data, dtype = self._start_fit(X)
        self.trainer_ = FullVBTrainer(
            self.encoder_params_, self.decoder_params_, data, self.optimizer_, rng=self._rng,
            batch_size=self.batch_size, n_mc_samples=self.n_mc_samples,
            estimator=self.estimator, weight_decay=self.weight_decay,
            sigmoid_mean=self._sigmoid, sampling=self.sampling, dtype=dtype,
            init_logvar=self.init_logvar, theta_draws=self.theta_draws, logvar_lr=self.logvar_lr)
        self.weight_posterior_ = self.trainer_.q
        self.n_train_ = len(data)

        def on_eval(seen, step):
            self.n_samples_seen_ = seen
            if callback is not None:
                callback(self, seen)
        self.trainer_.run(self.budget, callback=on_eval, eval_points=eval_points,
                          progress=self.progress)
        self.n_samples_seen_ = self.trainer_.seen
        return self

    def bound(self, X, rng=None, n_train=None):
        """:func:`eq14_bound` on ``X``: ``(bound, expected, kl_per_datapoint)``, N = ``n_train_`` by default."""
        self._check_fitted()
        return eq14_bound(self.encoder_params_, self.weight_posterior_,
                          self._as_dataset(X, fitted=True),
                          n_train or self.n_train_, rng, sigmoid_mean=self._sigmoid)

    def score_samples(self, X, rng=None):
        """L(theta, phi; x_i) per datapoint with theta ~ q(theta) (:func:`expected_bound_samples`), (n,)."""
        self._check_fitted()
        return expected_bound_samples(self.encoder_params_, self.weight_posterior_,
                                      self._as_dataset(X, fitted=True), rng,
                                      sigmoid_mean=self._sigmoid)

    def score(self, X, rng=None):
        """The eq. 14 bound per datapoint on ``X``: mean of :meth:`score_samples` - KL(q(theta)||p) / N."""
        return self.bound(X, rng)[0]

    def _check_fitted(self):
        if not hasattr(self, "weight_posterior_"):
            raise RuntimeError("this FullVB has no q(theta) yet: call fit(X) first")

    _SAVED_AS = "FullVB"

    def _saved_state(self):
        """q(theta)'s log-variances (its mean is the decoder) and the N of the eq. 14 bound."""
        q = self.weight_posterior_
        return ({f"q_logvar.{k}": v for k, v in q.logvar.items()}, {"n_train": self.n_train_})

    def _restore_state(self, arrays, meta):
        from ..runs.checkpoint import container
        dec = self.decoder_params_
        self.weight_posterior_ = WeightPosterior(dec, container(type(dec).__name__, "q_logvar",
                                                                arrays))
        self.n_train_ = int(meta["n_train"])

    def sample_decoders(self, n, rng=None):
        """``n`` draws theta ~ q(theta), each a decoder container like ``decoder_params_``."""
        self._check_fitted()
        rng = np.random.default_rng(rng)
        q = self.weight_posterior_
        return [q.sample(q.draw_zeta(1, rng)).map(lambda a: a[0]) for _ in range(n)]

    def decode(self, z, theta=None):
        """Decoder means at ``z`` (n, J) under ``theta`` (default: the posterior mean mu_theta)."""
        self._check_fitted()
        dec = self.decoder_params_ if theta is None else theta
        z = np.asarray(z, dtype=dec.dtype)
        if isinstance(dec, BernoulliMLPParams):
            return sigmoid(bernoulli_mlp_forward(dec, z)[0])
        return gaussian_mlp_forward(dec, z, self._sigmoid)[0][0]

    def sample(self, n, rng=None):
        """``n`` draws from the predictive: z ~ N(0, I) and theta ~ q(theta) each; decoder means (n, D)."""
        rng = np.random.default_rng(rng)
        thetas = self.sample_decoders(n, rng)
        z = rng.standard_normal((n, self.n_latent))
        return np.stack([self.decode(z[i:i + 1], t)[0] for i, t in enumerate(thetas)])
