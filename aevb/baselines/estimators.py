"""The baselines as user-facing objects next to :class:`aevb.model.VAE` (Section 5, Appendix E).

* :class:`WakeSleep`: the same encoder and decoder as the VAE, trained by the
  wake-sleep algorithm (:mod:`aevb.baselines.wakesleep`);
* :class:`MCEM`: the decoder alone, trained by Monte Carlo EM (:mod:`aevb.baselines.mcem`).

Both follow VAE's conventions (scikit-learn's): ``__init__`` only stores its
arguments, ``fit`` returns ``self``, fitted attributes end in ``_``, and the
randomness comes in as ``rng``.
"""
import numpy as np

from ..core import networks as nets
from .mcem import MCEMTrainer, log_likelihood
from ..model import VAE, _watched
from ..core.optim import WARMUP_STEPS, make_optimizer
from .wakesleep import WakeSleepTrainer


class WakeSleep(VAE):
    """The VAE of :class:`aevb.model.VAE` trained by wake-sleep instead of AEVB.

    Takes VAE's parameters except ``estimator`` (wake-sleep's updates use
    none), and ``n_dreams`` (None: the minibatch size M). ``score`` is the
    SGVB bound of the fitted encoder and decoder (estimator B, fresh noise),
    which is what the paper plots for wake-sleep.
    """

    _SAVED_AS = "WakeSleep"

    def __init__(self, n_latent=20, n_hidden=500, likelihood="bernoulli", *,
                 sigmoid_mean=True, n_mc_samples=1, batch_size=100, optimizer="adagrad",
                 lr=None, adagrad_warmup=WARMUP_STEPS, weight_decay=True, budget=1_000_000,
                 sampling="shuffle", init_std=nets.INIT_STD, dtype=None, rng=None, progress=None,
                 n_dreams=None):
        super().__init__(n_latent, n_hidden, likelihood, sigmoid_mean=sigmoid_mean,
                         n_mc_samples=n_mc_samples, batch_size=batch_size, optimizer=optimizer,
                         lr=lr, adagrad_warmup=adagrad_warmup, weight_decay=weight_decay,
                         budget=budget, sampling=sampling, init_std=init_std, dtype=dtype,
                         rng=rng, progress=progress)
        self.n_dreams = n_dreams

    def fit(self, X, callback=None, eval_points=None):
        """Train from a fresh initialization by wake-sleep; returns self."""
        data, dtype = self._start_fit(X)
        trainer = WakeSleepTrainer(
            self.encoder_params_, self.decoder_params_, data, self.optimizer_, rng=self._rng,
            batch_size=self.batch_size, n_mc_samples=self.n_mc_samples,
            weight_decay=self.weight_decay, sigmoid_mean=self._sigmoid,
            sampling=self.sampling, dtype=dtype, n_dreams=self.n_dreams)
        return _run(self, trainer, callback, eval_points)


class MCEM(VAE):
    """The decoder of :class:`aevb.model.VAE`, without an encoder, trained by Monte Carlo EM.

    Takes VAE's parameters except ``estimator`` and ``n_mc_samples`` (MCEM has
    neither), and ``n_leapfrog`` (10), ``n_updates`` (5), ``step_size`` (0.1):
    see :class:`MCEMTrainer`. ``score`` is the marginal likelihood estimated
    by :func:`log_likelihood`: there is no bound without an encoder.

    Attributes
    ----------
    decoder_params_ : BernoulliMLPParams or GaussianMLPParams
    encoder_params_ : None
    chains_ : ndarray (N, J), the persistent latent samples after ``fit``
    step_sizes_ : ndarray (N,)
    accept_rate_ : float, over all transitions of ``fit``
    n_samples_seen_ : int
    """

    def __init__(self, n_latent=20, n_hidden=500, likelihood="bernoulli", *,
                 sigmoid_mean=True, batch_size=100, optimizer="adagrad", lr=None,
                 adagrad_warmup=WARMUP_STEPS, weight_decay=True, budget=1_000_000,
                 sampling="shuffle", init_std=nets.INIT_STD, dtype=None, rng=None,
                 progress=None, n_leapfrog=10, n_updates=5, step_size=0.1):
        super().__init__(n_latent, n_hidden, likelihood, sigmoid_mean=sigmoid_mean,
                         batch_size=batch_size, optimizer=optimizer, lr=lr,
                         adagrad_warmup=adagrad_warmup, weight_decay=weight_decay,
                         budget=budget, sampling=sampling, init_std=init_std, dtype=dtype,
                         rng=rng, progress=progress)
        self.n_leapfrog = n_leapfrog
        self.n_updates = n_updates
        self.step_size = step_size

    _SAVED_AS = "MCEM"

    def _check_fitted(self):
        if getattr(self, "decoder_params_", None) is None:
            raise RuntimeError("this MCEM is not fitted yet: call fit(X) first")

    def _set_fitted(self, enc, dec, n_samples_seen=0):
        """Adopt a trained decoder (a saved file's); MCEM has no encoder."""
        self._check_params()
        expected = nets.BernoulliMLPParams if self.likelihood == "bernoulli" \
            else nets.GaussianMLPParams
        if enc is not None or not isinstance(dec, expected) or \
                dec.W_h.shape != (self.n_latent, self.n_hidden):
            raise ValueError(f"the parameters do not fit {self!r}: decoder "
                             f"{type(dec).__name__} {dec.shapes()}")
        self.encoder_params_, self.decoder_params_ = None, dec
        self.n_samples_seen_ = int(n_samples_seen)
        return self

    def _saved_state(self):
        """The persistent chains and their step sizes, and the acceptance rate (pass
        ``chains_`` as ``z0`` to :meth:`score` on the training points)."""
        if not hasattr(self, "chains_"):
            return {}, {}
        return ({"mcem.chains": self.chains_, "mcem.step_sizes": self.step_sizes_},
                {"accept_rate": float(self.accept_rate_)})

    def _restore_state(self, arrays, meta):
        if "mcem.chains" in arrays:
            self.chains_, self.step_sizes_ = arrays["mcem.chains"], arrays["mcem.step_sizes"]
            self.accept_rate_ = meta["accept_rate"]

    def initialize(self, n_features, dtype=np.float64):
        """Draw a fresh decoder (Section 5's N(0, 0.01^2)); there is no encoder."""
        self._check_params()
        self._rng = rng = np.random.default_rng(self.rng)
        init = nets.init_bernoulli_mlp if self.likelihood == "bernoulli" else nets.init_gaussian_mlp
        self.encoder_params_ = None
        self.decoder_params_ = init(self.n_latent, self.n_hidden, n_features, rng=rng,
                                    std=self.init_std, dtype=dtype)
        self.optimizer_ = make_optimizer(self.optimizer, self.lr_, self.adagrad_warmup)
        self.n_samples_seen_ = 0
        return self

    def fit(self, X, callback=None, eval_points=None):
        """Train from a fresh initialization by Monte Carlo EM; returns self."""
        data, dtype = self._start_fit(X)
        trainer = MCEMTrainer(
            None, self.decoder_params_, data, self.optimizer_, rng=self._rng,
            batch_size=self.batch_size, weight_decay=self.weight_decay,
            sigmoid_mean=self._sigmoid, sampling=self.sampling, dtype=dtype,
            n_leapfrog=self.n_leapfrog, n_updates=self.n_updates, step_size=self.step_size)
        _run(self, trainer, callback, eval_points)
        self.chains_, self.step_sizes_ = trainer.z, trainer.step_size
        self.accept_rate_ = trainer.accept_rate
        return self

    def score_samples(self, X, rng=None, z0=None, **settings):
        """log p(x) of each row by :func:`log_likelihood` (``settings`` are its keywords)."""
        self._check_fitted()
        X = self._as_dataset(X).to_float(self.decoder_params_.dtype)
        D = self.decoder_params_.arrays()[-1].shape[0]
        if X.shape[1] != D:
            raise ValueError(f"X has {X.shape[1]} features per row but this model was fitted "
                             f"on {D}: pass data of the same kind as in fit")
        return log_likelihood(self.decoder_params_, X, rng, z0=z0, sigmoid_mean=self._sigmoid,
                              **settings).log_px

    def score(self, X, rng=None, z0=None, **settings):
        """Mean estimated log p(x) per datapoint, in nats (not a bound)."""
        return float(np.mean(self.score_samples(X, rng, z0, **settings)))

    def transform(self, X):
        raise NotImplementedError("MCEM has no encoder, so no posterior means: draw posterior "
                                  "samples with aevb.inference.hmc.hmc on aevb.inference.likelihood.log_joint")


def _run(model, trainer, callback, eval_points):
    """Run ``trainer`` to ``model.budget`` as VAE.fit does; returns ``model``."""
    def on_eval(seen, step):
        model.n_samples_seen_ = seen
        if callback is not None:
            callback(model, seen)
    trainer.run(model.budget, callback=on_eval, eval_points=eval_points,
                progress=_watched() if model.progress is None else model.progress)
    model.n_samples_seen_ = trainer.seen
    return model
