"""Wake-sleep as a model object (the paper's baseline, Section 5): :class:`WakeSleep`."""
from .. import defaults as DF
from ..baselines.wakesleep import WakeSleepTrainer
from .vae import VAE


class WakeSleep(VAE):
    """The VAE of :class:`aevb.VAE <aevb.models.vae.VAE>` (same encoder and decoder) trained by
    wake-sleep instead of AEVB.

    Takes VAE's parameters except ``estimator`` and ``posterior`` (wake-sleep's
    updates use no SGVB estimator; its q(z|x) is the paper's Gaussian), and
    ``n_dreams`` (None: the minibatch size M). ``score`` is the SGVB bound of
    the fitted encoder and decoder (estimator B, fresh noise), which is what
    the paper plots for wake-sleep (:mod:`aevb.baselines.wakesleep`).

    Examples
    --------
    >>> import numpy as np
    >>> from aevb import WakeSleep
    >>> X = (np.random.default_rng(0).random((200, 16)) < 0.3).astype(float)
    >>> ws = WakeSleep(n_latent=2, n_hidden=8, budget=2000, rng=0).fit(X)
    >>> ws.sample(4, rng=1).shape
    (4, 16)
    """

    estimator, posterior = "B", "gaussian"     # fixed: what score and transform use

    def __init__(self, n_latent=DF.N_LATENT, n_hidden=DF.N_HIDDEN["mnist"],
                 likelihood="bernoulli", *, sigmoid_mean=True, n_mc_samples=DF.N_MC_SAMPLES,
                 batch_size=DF.BATCH_SIZE, optimizer=DF.OPTIMIZER, lr=None,
                 adagrad_warmup=DF.ADAGRAD_WARMUP, weight_decay=DF.WEIGHT_DECAY,
                 budget=DF.BUDGET, sampling=DF.SAMPLING, init_std=DF.INIT_STD, dtype=None,
                 rng=None, progress=None, n_dreams=None):
        self._store(locals())

    def make_trainer(self, data, dtype, threads=1):
        """:class:`aevb.baselines.wakesleep.WakeSleepTrainer` over this model's parameters."""
        return WakeSleepTrainer(self.encoder_params_, self.decoder_params_, data,
                                self.optimizer_, n_mc_samples=self.n_mc_samples,
                                n_dreams=self.n_dreams, **self._trainer_settings(dtype, threads))
