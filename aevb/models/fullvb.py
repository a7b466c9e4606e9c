"""Full variational Bayes as a model object (Appendix F, Algorithm 2): :class:`FullVB`."""
import numpy as np

from .. import defaults as DF
from ..inference.fullvb import WeightPosterior
from ..inference.fullvb_train import FullVBTrainer, eq14_bound, expected_bound_samples
from ..io.checkpoint import container
from .checks import as_generator
from .vae import VAE


class FullVB(VAE):
    """Auto-encoder with a posterior over the decoder's parameters (Appendix F, Algorithm 2).

    Same parameters as :class:`aevb.VAE <aevb.models.vae.VAE>` (but ``posterior``: q(z|x) is the
    paper's Gaussian), plus ``init_logvar``, ``theta_draws`` and ``logvar_lr``
    (:class:`aevb.inference.fullvb_train.FullVBTrainer`).

    Attributes
    ----------
    encoder_params_ : GaussianMLPParams
    weight_posterior_ : aevb.inference.fullvb.WeightPosterior
        q(theta); ``decoder_params_`` is its mean mu_theta.
    n_train_ : int
        N of the data ``fit`` saw (for the eq. 14 bound).

    Examples
    --------
    >>> import numpy as np
    >>> from aevb import FullVB
    >>> X = (np.random.default_rng(0).random((200, 16)) < 0.3).astype(float)
    >>> fvb = FullVB(n_latent=2, n_hidden=8, budget=2000, rng=0).fit(X)
    >>> len(fvb.sample_decoders(3, rng=1))
    3
    """

    posterior = "gaussian"

    def __init__(self, n_latent=DF.N_LATENT, n_hidden=DF.N_HIDDEN["mnist"],
                 likelihood="bernoulli", *, sigmoid_mean=True, estimator=DF.ESTIMATOR,
                 n_mc_samples=DF.N_MC_SAMPLES, batch_size=DF.BATCH_SIZE,
                 optimizer=DF.OPTIMIZER, lr=None, adagrad_warmup=DF.ADAGRAD_WARMUP,
                 weight_decay=DF.WEIGHT_DECAY, budget=DF.BUDGET, sampling=DF.SAMPLING,
                 init_std=DF.INIT_STD, dtype=None, rng=None, progress=None,
                 init_logvar=DF.INIT_LOGVAR, theta_draws=None, logvar_lr=DF.LOGVAR_LR):
        self._store(locals())

    def make_trainer(self, data, dtype, threads=1):
        """:class:`aevb.inference.fullvb_train.FullVBTrainer` (Algorithm 2) over this model."""
        return FullVBTrainer(
            self.encoder_params_, self.decoder_params_, data, self.optimizer_,
            n_mc_samples=self.n_mc_samples, estimator=self.estimator,
            init_logvar=self.init_logvar, theta_draws=self.theta_draws,
            logvar_lr=self.logvar_lr, **self._trainer_settings(dtype, threads))

    def adopt_trainer(self, trainer):
        self.trainer_ = trainer
        self.weight_posterior_ = trainer.q
        self.n_train_ = len(trainer.data)

    def _is_fitted(self):
        return hasattr(self, "weight_posterior_")

    def bound(self, X, rng=None, n_train=None):
        """:func:`~aevb.inference.fullvb_train.eq14_bound` on ``X``: ``(bound, expected,
        kl_per_datapoint)``, N = ``n_train_`` by default."""
        self._check_fitted()
        return eq14_bound(self.encoder_params_, self.weight_posterior_,
                          self._as_dataset(X, fitted=True),
                          n_train or self.n_train_, rng, sigmoid_mean=self._sigmoid)

    def score_samples(self, X, rng=None):
        """L(theta, phi; x_i) per datapoint with theta ~ q(theta)
        (:func:`~aevb.inference.fullvb_train.expected_bound_samples`), (n,)."""
        self._check_fitted()
        return expected_bound_samples(self.encoder_params_, self.weight_posterior_,
                                      self._as_dataset(X, fitted=True), rng,
                                      sigmoid_mean=self._sigmoid)

    def score(self, X, rng=None):
        """The eq. 14 bound per datapoint on ``X``: mean of :meth:`score_samples` - KL(q(theta)||p) / N."""
        return self.bound(X, rng)[0]

    def _saved_state(self):
        """q(theta)'s log-variances (its mean is the decoder) and the N of the eq. 14 bound."""
        q = self.weight_posterior_
        return ({f"q_logvar.{k}": v for k, v in q.logvar.items()}, {"n_train": self.n_train_})

    def _restore_state(self, arrays, meta):
        dec = self.decoder_params_
        self.weight_posterior_ = WeightPosterior(dec, container(type(dec).__name__, "q_logvar",
                                                                arrays))
        self.n_train_ = int(meta["n_train"])

    def sample_decoders(self, n, rng=None):
        """``n`` draws theta ~ q(theta), each a decoder container like ``decoder_params_``."""
        self._check_fitted()
        rng = as_generator(rng)
        q = self.weight_posterior_
        return [q.sample(q.draw_zeta(1, rng)).map(lambda a: a[0]) for _ in range(n)]

    def decode(self, z, theta=None):
        """Decoder means at ``z`` (n, J) under ``theta`` (default: the posterior mean mu_theta)."""
        if theta is None:
            return super().decode(z)
        self._check_fitted()
        saved, self.decoder_params_ = self.decoder_params_, theta
        try:
            return super().decode(z)
        finally:
            self.decoder_params_ = saved

    def sample(self, n, rng=None):
        """``n`` draws from the predictive: z ~ N(0, I) and theta ~ q(theta) each; decoder means (n, D)."""
        rng = as_generator(rng)
        thetas = self.sample_decoders(n, rng)
        z = rng.standard_normal((n, self.n_latent))
        return np.stack([self.decode(z[i:i + 1], t)[0] for i, t in enumerate(thetas)])
