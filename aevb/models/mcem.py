"""Monte Carlo EM as a model object (Appendix E): :class:`MCEM`, a decoder without an encoder."""
import numpy as np

from .. import defaults as DF
from ..baselines.mcem import MCEMTrainer, log_likelihood
from .base import Model


class MCEM(Model):
    """The decoder of :class:`aevb.VAE <aevb.models.vae.VAE>`, without an encoder, trained by Monte
    Carlo EM.

    Takes VAE's parameters except ``estimator``, ``n_mc_samples`` and
    ``posterior`` (MCEM has none of them), and ``n_leapfrog`` (10),
    ``n_updates`` (5), ``step_size`` (0.1): see
    :class:`aevb.baselines.mcem.MCEMTrainer`. ``score`` is the marginal
    likelihood estimated by :func:`aevb.baselines.mcem.log_likelihood`: there
    is no bound without an encoder, and so no ``transform`` either (posterior
    samples come from :func:`aevb.inference.hmc.hmc` on
    :func:`aevb.inference.likelihood.log_joint`).

    Attributes
    ----------
    decoder_params_ : BernoulliMLPParams or GaussianMLPParams
    encoder_params_ : None
    chains_ : ndarray (N, J), the persistent latent samples after ``fit``
    step_sizes_ : ndarray (N,)
    accept_rate_ : float, over all transitions of ``fit``
    n_samples_seen_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from aevb import MCEM
    >>> X = (np.random.default_rng(0).random((100, 16)) < 0.3).astype(float)
    >>> em = MCEM(n_latent=2, n_hidden=8, budget=500, rng=0).fit(X)
    >>> em.chains_.shape
    (100, 2)
    """

    has_encoder = False

    def __init__(self, n_latent=DF.N_LATENT, n_hidden=DF.N_HIDDEN["mnist"],
                 likelihood="bernoulli", *, sigmoid_mean=True, batch_size=DF.BATCH_SIZE,
                 optimizer=DF.OPTIMIZER, lr=None, adagrad_warmup=DF.ADAGRAD_WARMUP,
                 weight_decay=DF.WEIGHT_DECAY, budget=DF.BUDGET, sampling=DF.SAMPLING,
                 init_std=DF.INIT_STD, dtype=None, rng=None, progress=None, n_leapfrog=10,
                 n_updates=5, step_size=0.1):
        self._store(locals())

    def make_trainer(self, data, dtype, threads=1):
        """:class:`aevb.baselines.mcem.MCEMTrainer` over this model's decoder."""
        return MCEMTrainer(None, self.decoder_params_, data, self.optimizer_,
                           n_leapfrog=self.n_leapfrog, n_updates=self.n_updates,
                           step_size=self.step_size, **self._trainer_settings(dtype, threads))

    def adopt_trainer(self, trainer):
        self.chains_, self.step_sizes_ = trainer.z, trainer.step_size
        self.accept_rate_ = trainer.accept_rate

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

    def score_samples(self, X, rng=None, z0=None, **settings):
        """log p(x) of each row by :func:`aevb.baselines.mcem.log_likelihood` (``settings`` are
        its keywords)."""
        self._check_fitted()
        X = self._as_dataset(X, fitted=True).to_float(self.decoder_params_.dtype)
        return log_likelihood(self.decoder_params_, X, rng, z0=z0, sigmoid_mean=self._sigmoid,
                              **settings).log_px

    def score(self, X, rng=None, z0=None, **settings):
        """Mean estimated log p(x) per datapoint, in nats (not a bound)."""
        return float(np.mean(self.score_samples(X, rng, z0, **settings)))
