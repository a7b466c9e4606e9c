"""The VAE object (Section 3): a small scikit-learn-style front to Algorithm 1.

The defaults are the paper's MNIST settings (Section 5): M = 100, L = 1,
estimator B, Adagrad, tanh hidden units, 500 of them, parameters initialized
from N(0, 0.01^2), a MAP prior on the weights (:mod:`aevb.defaults`).
"""
import numpy as np

from .. import defaults as DF
from ..core import networks as nets
from ..core.sgvb import lower_bound
from ..core.train import Trainer
from .base import Model
from .checks import as_generator, available_memory, check_array, memory_needed


class VAE(Model):
    """Variational auto-encoder trained with AEVB (Algorithm 1).

    Parameters
    ----------
    n_latent : int
        J, the latent dimension (N_z in the paper).
    n_hidden : int
        H, hidden units of the encoder and the decoder (500 for MNIST, 200 for
        Frey Face in the paper).
    likelihood : {'bernoulli', 'gaussian'}
        The decoder: Bernoulli MLP (Appendix C.1) or Gaussian MLP (C.2).
    sigmoid_mean : bool
        Gaussian decoder only: squash the means into (0, 1), as the paper did
        for Frey Face.
    estimator : {'A', 'B'}
        Eq. 6 or eq. 7/10 for training.
    n_mc_samples : int
        L, noise draws per datapoint during training.
    batch_size : int
        M.
    optimizer : {'adagrad', 'sgd', 'adam'}
    lr : float or None
        Global step size; the paper chose from {0.01, 0.02, 0.1}. None picks
        what ``aevb train`` uses: 0.01 for the Bernoulli decoder (MNIST),
        0.02 for the Gaussian one (Frey Face).
    adagrad_warmup : int
        Adagrad's first steps that only accumulate squared gradients
        (:class:`aevb.core.optim.Adagrad`; 100, as in the authors' code).
    weight_decay : bool
        MAP prior N(0, I) on the weights, scaled by M/N (Section 5).
    budget : int
        Training samples evaluated by ``fit`` (the x axis of Figure 2), at
        most 10^10.
    sampling : {'shuffle', 'replacement'}
        How minibatches are drawn (:mod:`aevb.core.train`).
    init_std : float
        Standard deviation of the initial parameters (0.01 in the paper).
    dtype : None, 'float32' or 'float64'
        None follows the data given to ``fit``.
    rng : int, Generator or None
    progress : bool or None
        Show a progress bar during ``fit``; None (the default) shows one where
        a person is watching: in a notebook, or when stderr is a terminal.
    posterior : str
        q(z|x): ``'gaussian'`` (the paper's) or a Section 2.4 location-scale
        family of :mod:`aevb.inference.posterior` (``'laplace'``, ...), which
        has no closed-form KL and so trains with ``estimator='A'``.

    Attributes
    ----------
    encoder_params_ : GaussianMLPParams
    decoder_params_ : BernoulliMLPParams or GaussianMLPParams
    n_samples_seen_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from aevb import VAE
    >>> X = (np.random.default_rng(0).random((200, 16)) < 0.3).astype(float)
    >>> vae = VAE(n_latent=2, n_hidden=8, budget=2000, rng=0).fit(X)
    >>> vae.transform(X[:3]).shape
    (3, 2)
    >>> bool(vae.score(X, rng=1) < 0)
    True
    """

    def __init__(self, n_latent=DF.N_LATENT, n_hidden=DF.N_HIDDEN["mnist"],
                 likelihood="bernoulli", *, sigmoid_mean=True, estimator=DF.ESTIMATOR,
                 n_mc_samples=DF.N_MC_SAMPLES, batch_size=DF.BATCH_SIZE,
                 optimizer=DF.OPTIMIZER, lr=None, adagrad_warmup=DF.ADAGRAD_WARMUP,
                 weight_decay=DF.WEIGHT_DECAY, budget=DF.BUDGET, sampling=DF.SAMPLING,
                 init_std=DF.INIT_STD, dtype=None, rng=None, progress=None,
                 posterior=DF.POSTERIOR):
        self._store(locals())

    def make_trainer(self, data, dtype, threads=1):
        """Algorithm 1 (:class:`aevb.core.train.Trainer`), or with a non-Gaussian posterior
        :class:`aevb.inference.posterior.PosteriorTrainer`."""
        kw = dict(self._trainer_settings(dtype, threads), n_mc_samples=self.n_mc_samples,
                  estimator=self.estimator)
        enc, dec, opt = self.encoder_params_, self.decoder_params_, self.optimizer_
        if self.posterior == "gaussian":
            return Trainer(enc, dec, data, opt, **kw)
        from ..inference.posterior import PosteriorTrainer
        return PosteriorTrainer(enc, dec, data, opt, posterior=self.posterior, **kw)

    # ------------------------------------------------------------ using a fitted model
    def score_samples(self, X, rng=None, n_mc_samples=1, estimator="B", chunk=1000):
        """The lower bound of each datapoint, in nats (fresh noise, never z = mean).

        With a non-Gaussian posterior the bound is estimator A's (no closed-form KL).

        Returns
        -------
        bound : ndarray, shape (n,)
        """
        self._check_fitted()
        data = self._as_dataset(X, fitted=True)
        if isinstance(n_mc_samples, bool) or not isinstance(n_mc_samples, (int, np.integer)) \
                or n_mc_samples < 1:
            raise ValueError(f"n_mc_samples must be an integer >= 1, got {n_mc_samples!r}")
        rng = as_generator(rng)
        enc, dec = self.encoder_params_, self.decoder_params_
        dtype = enc.dtype
        chunk = self._score_chunk(min(chunk, len(data)), n_mc_samples)
        out = np.empty(len(data), dtype=np.float64)
        if self.posterior != "gaussian":
            from ..inference.posterior import lower_bound_family, posterior_family
            family = posterior_family(self.posterior)
        for start in range(0, len(data), chunk):
            x = data.batch(slice(start, start + chunk), dtype, rng)
            shape = (n_mc_samples, x.shape[0], self.n_latent)
            if self.posterior == "gaussian":
                eps = rng.standard_normal(shape, dtype=dtype)
                out[start:start + x.shape[0]] = lower_bound(enc, dec, x, eps, estimator,
                                                            self._sigmoid)
            else:
                noise = family.draw_noise(shape, rng, dtype)
                out[start:start + x.shape[0]] = lower_bound_family(enc, dec, x, noise, family,
                                                                   self._sigmoid)
        return out

    def _score_chunk(self, chunk, n_mc_samples):
        """The largest chunk of at most ``chunk`` points whose L noise draws fit in memory;
        one sentence if not even one point fits. (A smaller chunk draws the same kind of
        noise in another order: the score moves within its Monte Carlo error.)"""
        D = self.decoder_params_.arrays()[-1].shape[-1]
        have = available_memory()
        while chunk > 1 and have is not None and memory_needed(
                D, self.n_hidden, self.n_latent, self.likelihood, self.encoder_params_.dtype,
                batch_size=0, score_rows=chunk, score_samples=n_mc_samples) > have:
            chunk //= 2
        self._check_memory(what=f"score with {n_mc_samples} noise draws per point",
                           batch_size=0, score_rows=chunk, score_samples=n_mc_samples,
                           names={"score_samples": "n_mc_samples",
                                  "score_rows": "number of points scored at once"})
        return chunk

    def score(self, X, rng=None, n_mc_samples=1):
        """Mean lower bound per datapoint in nats (estimator B, fresh noise)."""
        return float(self.score_samples(X, rng, n_mc_samples).mean())

    def transform(self, X):
        """Posterior means E[z|x] under q(z|x) (the location of another family), shape (n, J)."""
        self._check_fitted()
        X = check_array(X, self.likelihood)
        self._check_width(X.shape[1])
        (mean, _), _ = nets.gaussian_mlp_forward(self.encoder_params_,
                                                 X.astype(self.encoder_params_.dtype))
        return mean
