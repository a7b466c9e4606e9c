"""The wake-sleep algorithm, the paper's baseline in Figures 2 and 3 (Section 5).

Same encoder q(z|x), decoder p(x|z), initialization, Adagrad and minibatch
size as AEVB ("We employed the same encoder ... for the wake-sleep algorithm
and the variational auto-encoder"); only the gradients differ:

* **wake phase** (decoder): z_i = mean + sigma * eps_i drawn from q(z|x_i) and
  then held fixed as if it were data (no gradient reaches the encoder);
  ascend ``sum_i log p(x_i, z_i) + (M/N) log p(theta)``;
* **sleep phase** (encoder): M "dreams" from the generative model,
  z ~ p(z) = N(0, I) and x ~ p(x|z) (a Bernoulli sample, or a Gaussian one
  for the Gaussian decoder); ascend ``sum log q(z|x) + (M/N) log p(phi)`` on
  the dreams.

AEVB ascends one objective, the bound, in both parameter sets. Wake-sleep
does not: the wake phase is the bound's gradient in theta (the bound is
``E_q[log p(x, z)] + const`` in theta), but the sleep phase fits q to the
model's own posterior in the wrong direction, KL(p || q) averaged over
dreams, instead of KL(q || p) averaged over the data, so no single function
has both updates as its gradient. What Figure 2 plots for it is the ordinary
SGVB bound of its encoder and decoder (:meth:`aevb.VAE.score <aevb.models.vae.VAE.score>`;
:class:`aevb.WakeSleep <aevb.models.wakesleep.WakeSleep>` is the user-facing object).

The noise (eps for the wake phase, z and the uniforms or normals of the
dreams) is an argument of every function checked by finite differences, as
in :func:`aevb.core.sgvb.sgvb`. Losses and signs follow :mod:`aevb.core.sgvb`: values
are "higher is better", gradients are those of the loss, minus the value.
"""
import math

import numpy as np

from ..core.distributions import (gaussian_log_likelihood_backward, gaussian_log_likelihood_forward,
                            posterior_log_density_forward, standard_normal_log_density_forward)
from ..core.layers import sigmoid
from ..core.networks import (BernoulliMLPParams, bernoulli_mlp_forward, gaussian_mlp_backward,
                       gaussian_mlp_forward)
from ..core.sgvb import (add_prior_gradient, decoder_log_likelihood_backward,
                   decoder_log_likelihood_forward, log_prior)
from ..core.train import NonFiniteError, Trainer


def _joint(dec, x, z, n_data, sigmoid_mean):
    """log p(x_i, z_li) (L, M), the value (1/L) sum_li + (M/N) log p(theta), and its loss gradient."""
    logpx, c_dec = decoder_log_likelihood_forward(dec, x, z, sigmoid_mean)   # (L, M)
    logpz, _ = standard_normal_log_density_forward(z)         # no theta in it: no backward
    logp = logpx + logpz
    L, M = logp.shape
    value = float(logp.sum()) / L
    dlogpx = np.full((L, M), -1.0 / L, dtype=logp.dtype)      # loss = -value
    _, ddec = decoder_log_likelihood_backward(dlogpx, c_dec)
    if n_data is not None:                                    # MAP prior, M/N as in aevb.core.sgvb
        value += M / n_data * log_prior(dec)
        add_prior_gradient(dec, ddec, M / n_data)
    return logp, value, ddec


def joint_gradient(dec, x, z, n_data=None, sigmoid_mean=False):
    """Decoder gradient of the complete-data log-likelihood at fixed z (wake phase, MCEM's M-step).

    Parameters
    ----------
    dec : BernoulliMLPParams or GaussianMLPParams
    x : ndarray, shape (M, D)
    z : ndarray, shape (L, M, J) or (M, J)
        Latent values, treated as data.
    n_data : int or None
        N; with it the MAP prior enters as ``(M/N) log p(theta)`` (weights only).
    sigmoid_mean : bool

    Returns
    -------
    value : float
        ``(1/L) sum_l sum_i log p(x_i, z_li) [+ (M/N) log p(theta)]``.
    ddec : container like ``dec``
        Gradient of the loss ``-value``.
    """
    z = z[None] if z.ndim == 2 else z
    _, value, ddec = _joint(dec, x, z, n_data, sigmoid_mean)
    return value, ddec


def _wake(enc, dec, x, eps, n_data, sigmoid_mean):
    (mean, logvar), _ = gaussian_mlp_forward(enc, x)          # (M, J); no encoder backward
    z = mean + np.exp(0.5 * logvar) * eps                     # (L, M, J), data from here on
    logp, value, ddec = _joint(dec, x, z, n_data, sigmoid_mean)
    logq, _ = posterior_log_density_forward(eps, logvar)      # (L, M)
    return value, ddec, (logp - logq).mean(axis=0)            # eq. 6 on the wake sample


def wake_phase(enc, dec, x, eps, n_data=None, sigmoid_mean=False):
    """Wake phase: the decoder's gradient of log p(x, z) with z ~ q(z|x) held fixed.

    Parameters
    ----------
    enc : GaussianMLPParams
    dec : BernoulliMLPParams or GaussianMLPParams
    x : ndarray, shape (M, D)
    eps : ndarray, shape (L, M, J)
        Standard-normal noise; ``z = mean + exp(logvar / 2) * eps`` (L = 1 in the paper).
    n_data : int or None
        N, for the MAP prior ``(M/N) log p(theta)`` on the decoder's weights.

    Returns
    -------
    value : float
        ``(1/L) sum_li log p(x_i, z_li) [+ (M/N) log p(theta)]``.
    ddec : container like ``dec``
        Gradient of the loss ``-value`` in the decoder's parameters.
    """
    value, ddec, _ = _wake(enc, dec, x, eps, n_data, sigmoid_mean)
    return value, ddec


def dream_noise(dec, n, rng, dtype=np.float64):
    """The noise for ``n`` dreams: z ~ N(0, I) (n, J) and uniforms (Bernoulli) or normals (n, D)."""
    J, D = dec.W_h.shape[0], dec.arrays()[-1].shape[0]     # last field: b_logits or b_logvar (D,)
    z = rng.standard_normal((n, J), dtype=dtype)
    if isinstance(dec, BernoulliMLPParams):
        return z, rng.random((n, D), dtype=dtype)
    return z, rng.standard_normal((n, D), dtype=dtype)


def dream(dec, z, noise, sigmoid_mean=False):
    """x ~ p(x|z) with explicit noise: a dream of the generative model (sleep phase).

    Parameters
    ----------
    dec : BernoulliMLPParams or GaussianMLPParams
    z : ndarray, shape (M, J)
        Latent values (z ~ N(0, I) for a dream).
    noise : ndarray, shape (M, D)
        Uniforms on [0, 1) for the Bernoulli decoder (x = 1 where u < sigmoid(logits));
        standard normals for the Gaussian decoder (x = mean + exp(logvar / 2) * noise).

    Returns
    -------
    x : ndarray, shape (M, D)
    """
    if isinstance(dec, BernoulliMLPParams):
        logits, _ = bernoulli_mlp_forward(dec, z)
        return (noise < sigmoid(logits)).astype(logits.dtype)     # a Bernoulli sample
    (mean, logvar), _ = gaussian_mlp_forward(dec, z, sigmoid_mean)
    return mean + np.exp(0.5 * logvar) * noise                    # sigma, not sigma^2


def _sleep_forward(enc, x_dream, z_dream):
    (mean, logvar), c_enc = gaussian_mlp_forward(enc, x_dream)     # (M, J)
    logq, c_q = gaussian_log_likelihood_forward(z_dream, mean, logvar)   # (M,)
    return float(logq.sum()), (c_enc, c_q)


def _sleep_backward(enc, cache, n_data):
    c_enc, c_q = cache
    M = c_q[0].shape[0]
    ### BEGIN SOLUTION sleep_phase
    _, dmean, dlogvar = gaussian_log_likelihood_backward(-np.ones(M, c_q[0].dtype), c_q)
    ### END SOLUTION
    _, denc = gaussian_mlp_backward(dmean, dlogvar, c_enc, need_dx=False)   # x is a dream: data
    ### BEGIN SOLUTION sleep_phase
    if n_data is not None:
        add_prior_gradient(enc, denc, M / n_data)
    ### END SOLUTION
    return denc


def sleep_phase(enc, x_dream, z_dream, n_data=None):
    """Sleep phase: the encoder's gradient of log q(z|x) on dreams (x, z) of the generative model.

    Parameters
    ----------
    enc : GaussianMLPParams
    x_dream : ndarray, shape (M, D)
    z_dream : ndarray, shape (M, J)
    n_data : int or None
        N, for the MAP prior ``(M/N) log p(phi)`` on the encoder's weights
        (M = the number of dreams).

    Returns
    -------
    value : float
        ``sum_i log q(z_i|x_i) [+ (M/N) log p(phi)]``.
    denc : GaussianMLPParams
        Gradient of the loss ``-value``.
    """
    value, cache = _sleep_forward(enc, x_dream, z_dream)
    if n_data is not None:
        value += z_dream.shape[0] / n_data * log_prior(enc)
    return value, _sleep_backward(enc, cache, n_data)


class WakeSleepTrainer(Trainer):
    """Wake-sleep through the machinery of Algorithm 1 (:class:`aevb.core.train.Trainer`).

    The constructor takes the keywords of :class:`~aevb.core.train.Trainer` and
    ``n_dreams`` (default M). ``estimator`` is not used: wake-sleep has no
    estimator of the bound in its updates. One step:

    1. draw the minibatch x, eps (L, M, J), and the noise of ``n_dreams`` dreams;
    2. wake phase at the current parameters: ``ddec``;
    3. dreams from the current decoder, and the sleep phase's value;
    4. one optimizer step over the encoder's and decoder's arrays: the decoder
       with the wake gradient (on the helper thread when ``threads=2``) while
       the sleep gradient is computed, then the encoder with it.

    Both phases thus see the parameters of the start of the step (the dreams
    come from the decoder before its wake update), a simultaneous update.
    Adagrad keeps one accumulator per array, so the decoder's (wake) and the
    encoder's (sleep) squared gradients are summed separately under one step
    size, as in the paper's comparison; its warm-up counts steps of both.

    :meth:`minibatch_step` returns the single-sample estimator-A bound of each
    datapoint at the wake sample (what the authors' code plotted); evaluate
    with :func:`aevb.core.sgvb.lower_bound` (fresh noise) for Figure 2.
    """

    def __init__(self, enc, dec, data, optimizer, *, n_dreams=None, **settings):
        super().__init__(enc, dec, data, optimizer, **settings)
        self.n_dreams = self.M if n_dreams is None else int(n_dreams)
        if self.n_dreams < 1:
            raise ValueError(f"n_dreams must be >= 1, got {n_dreams!r}")

    def minibatch_step(self):
        J = self.enc.W_mean.shape[1]
        x = self.data.batch(self.sampler.next(), self.dtype, self.rng)          # (M, D)
        eps = self.rng.standard_normal((self.L, self.M, J), dtype=self.dtype)   # (L, M, J)
        z_dream, noise = dream_noise(self.dec, self.n_dreams, self.rng, self.dtype)
        n_data = len(self.data) if self.weight_decay else None
        wake, ddec, bound = _wake(self.enc, self.dec, x, eps, n_data, self.sigmoid_mean)
        x_dream = dream(self.dec, z_dream, noise, self.sigmoid_mean)            # (M_d, D)
        sleep, cache = _sleep_forward(self.enc, x_dream, z_dream)
        if not (math.isfinite(wake) and math.isfinite(sleep)):
            raise NonFiniteError(
                f"the wake-phase value is {wake} and the sleep-phase value {sleep} at step "
                f"{self.step + 1} ({self.seen} training samples evaluated); parameters were "
                f"left as they were before this step. Likely causes: a step size too large "
                f"for this model, or data outside [0, 1].")
        with self.updates() as pending:
            self.update_decoder(ddec, pending)     # the sleep phase reads no decoder parameter
            denc = _sleep_backward(self.enc, cache, n_data)
            self.optimizer.update(self.enc.arrays(), denc.arrays())
        self.seen += self.M
        return bound


__all__ = ["WakeSleepTrainer", "dream", "dream_noise",
           "joint_gradient", "sleep_phase", "wake_phase"]
