"""The marginal likelihood log p(x): importance sampling, Appendix D, and exact 2-D integration.

* :func:`importance_sampled` (the modern cross-check): with z_k ~ q(z|x),
  ``log p(x) ~ logsumexp_k [log p(x, z_k) - log q(z_k|x)] - log K``.
  Its expectation rises with K towards log p(x) and is never below the ELBO.
* :func:`appendix_d` (the paper's estimator, Appendix D): posterior samples
  from HMC (:mod:`aevb.inference.hmc`); a density q(z) fitted to one half of them; then,
  with the other half, ``p(x) ~ [ (1/L) sum_l q(z_l) / (p(z_l) p(x|z_l)) ]^-1``,
  computed in log space. The paper found it reliable only for fewer than 5
  latent dimensions.
* :func:`grid` : log p(x) = log of the integral of p(x|z) p(z) over a fine
  grid, almost exact for a 2-D latent space; the reference the tests use.

Everything is vectorized over datapoints; ``log_joint`` gives log p(x, z) and
its gradient in z, by hand through the decoder.
"""
from dataclasses import dataclass

import numpy as np

from ..core.distributions import (posterior_log_density_forward,
                            standard_normal_log_density_backward,
                            standard_normal_log_density_forward)
from .hmc import hmc
from ..core.networks import gaussian_mlp_forward
from ..core.sgvb import decoder_log_likelihood_backward, decoder_log_likelihood_forward


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def log_joint(dec, x, z, sigmoid_mean=False, with_grad=False):
    """log p(x, z) = log p(x|z) + log p(z), and optionally its gradient in z.

    Parameters
    ----------
    dec : decoder parameters
    x : ndarray, shape (M, D)
    z : ndarray, shape (..., M, J)
    with_grad : bool

    Returns
    -------
    logp : ndarray, shape (..., M)
    dz : ndarray, shape (..., M, J), only if ``with_grad``:
        grad_z log p(x|z) (the decoder's backward pass in z) + grad_z log p(z) (= -z).
    """
    logpx, c_dec = decoder_log_likelihood_forward(dec, x, z, sigmoid_mean)
    log_prior_z, c_prior = standard_normal_log_density_forward(z)     # log p(z), N(0, I)
    if not with_grad:
        return logpx + log_prior_z
    ones = np.ones_like(logpx)
    dz, _ = decoder_log_likelihood_backward(ones, c_dec)
    dz += standard_normal_log_density_backward(ones, c_prior)
    return logpx + log_prior_z, dz


@dataclass
class Estimate:
    """Per-datapoint estimates of log p(x) in nats, their standard errors, and the settings."""
    log_px: np.ndarray
    stderr: np.ndarray
    settings: dict

    @property
    def mean(self):
        return float(np.mean(self.log_px))

    @property
    def sem(self):
        """Standard error of the mean over datapoints (spread of the data, not MC error)."""
        return float(np.std(self.log_px, ddof=1) / np.sqrt(len(self.log_px))) \
            if len(self.log_px) > 1 else float("nan")


def importance_sampled(enc, dec, x, n_samples=5000, rng=None, sigmoid_mean=False,
                       max_rows=20_000):
    """Importance-sampled log p(x) with the encoder q(z|x) as proposal.

    Parameters
    ----------
    enc, dec : parameter containers
    x : ndarray, shape (M, D)
    n_samples : int
        K (the literature uses 5000).
    max_rows : int
        Decoder rows (datapoints x samples) evaluated at once; bounds memory to
        about ``max_rows * (D + H) * 8 * 4`` bytes.

    Returns
    -------
    Estimate
        ``stderr`` is the delta-method standard error of each log estimate,
        ``std(w) / (sqrt(K) mean(w))`` with w the importance weights.
    """
    rng = np.random.default_rng(rng)
    x = np.asarray(x, dtype=enc.dtype)
    M, K = x.shape[0], int(n_samples)
    J = enc.W_mean.shape[1]
    (mean, logvar), _ = gaussian_mlp_forward(enc, x)            # (M, J)
    ### BEGIN SOLUTION importance_sampling
    # streaming log-sum-exp of log w and of 2 log w, per datapoint
    top = np.full(M, -np.inf)
    s1 = np.zeros(M)
    s2 = np.zeros(M)
    m_chunk = max(1, min(M, max_rows))
    k_chunk = max(1, max_rows // m_chunk)
    for i in range(0, M, m_chunk):
        rows = slice(i, i + m_chunk)
        for k in range(0, K, k_chunk):
            kk = min(k_chunk, K - k)
            eps = rng.standard_normal((kk, x[rows].shape[0], J)).astype(x.dtype)
            z = mean[rows] + np.exp(0.5 * logvar[rows]) * eps    # (kk, m, J)
            log_q, _ = posterior_log_density_forward(eps, logvar[rows])   # exact from eps
            log_w = (log_joint(dec, x[rows], z, sigmoid_mean) - log_q).astype(np.float64)
            new_top = np.maximum(top[rows], log_w.max(axis=0))
            scale = np.exp(top[rows] - new_top)
            s1[rows] = s1[rows] * scale + np.exp(log_w - new_top).sum(axis=0)
            s2[rows] = s2[rows] * scale ** 2 + np.exp(2 * (log_w - new_top)).sum(axis=0)
            top[rows] = new_top
    log_px = top + np.log(s1) - np.log(K)
    mean_w, mean_w2 = s1 / K, s2 / K                             # in units of exp(top)
    var_w = np.maximum(mean_w2 - mean_w ** 2, 0.0)
    stderr = np.sqrt(var_w / K) / mean_w
    ### END SOLUTION
    return Estimate(log_px, stderr, {"estimator": "is", "n_samples": K})


def _fit_density(fit, kind):
    """Per-datapoint density fitted to samples ``fit`` (n, M, J); returns log q(z) for z (n', M, J)."""
    n, M, J = fit.shape
    mu = fit.mean(axis=0)                                         # (M, J)
    centred = fit - mu
    cov = np.einsum("nmi,nmj->mij", centred, centred) / (n - 1)   # (M, J, J)
    cov += 1e-9 * np.eye(J)
    if kind == "gaussian":
        chol = np.linalg.cholesky(cov)                            # (M, J, J)
        log_det = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)

        def log_q(z):
            d = (z - mu)[..., None]                               # (n', M, J, 1)
            sol = np.linalg.solve(chol, d)[..., 0]                # L^-1 (z - mu)
            return -0.5 * (np.sum(sol ** 2, -1) + log_det + J * np.log(2 * np.pi))
        return log_q
    if kind == "kde":
        # Gaussian kernels with covariance h^2 cov, Scott's rule h = n^(-1/(J+4))
        h2 = n ** (-2.0 / (J + 4))
        chol = np.linalg.cholesky(h2 * cov)
        log_det = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)

        def log_q(z):
            out = np.empty(z.shape[:-1])
            for j, zj in enumerate(z):                            # one point per datapoint
                d = (zj - fit)[..., None]                         # (n, M, J, 1)
                sol = np.linalg.solve(chol, d)[..., 0]
                log_k = -0.5 * (np.sum(sol ** 2, -1) + log_det + J * np.log(2 * np.pi))
                out[j] = _logsumexp(log_k, axis=0) - np.log(n)
            return out
        return log_q
    raise ValueError(f"unknown density {kind!r}: use 'kde' or 'gaussian'")


PAPER = {"n_samples": 50, "n_chains": 1, "n_leapfrog": 4, "density": "kde"}   # Appendix D
N_CHAINS = 4                     # appendix_d's chains per datapoint by default
# The density Appendix D fits by default, chosen by measurement: with 1,000 exact posterior
# draws (benchmarks/appendix_d_density.py, 40 repeats, float64) a full-covariance Gaussian
# reads log p(x) 0.20 nats high on a banana-shaped posterior and 0.016 on a skewed one (its
# bias stays as the samples grow: it puts mass where the posterior has none), the KDE 0.04
# and -0.003 (it shrinks with more samples); on a Gaussian posterior both are unbiased, the
# Gaussian fit's spread 0.005 nats against the KDE's 0.015. The KDE costs O(n^2) per
# datapoint: about 30 ms at 1,000 samples (0.1 ms for the Gaussian), 0.7 s at 4,000,
# against roughly 0.3 s of HMC per datapoint at 1,000 samples on the paper's MNIST decoder.
DENSITY = "kde"


def appendix_d(enc, dec, x, n_samples=1000, rng=None, *, n_chains=N_CHAINS, n_leapfrog=4,
               burn_in=300, density=DENSITY, target_accept=0.9, sigmoid_mean=False):
    """The Appendix D marginal likelihood estimator.

    1. HMC draws ``n_samples`` posterior samples per datapoint from p(z|x),
       using grad_z log p(x, z) (:func:`log_joint`): ``n_chains`` chains per
       datapoint, the first started at the encoder's posterior mean and the
       others at draws from q(z|x), each tuned to ``target_accept`` during
       ``burn_in`` iterations and then run for ``n_samples / n_chains``.
    2. A density q(z) is fitted to the first half of every chain: ``kde``
       (Gaussian kernels, Scott's bandwidth, as in the authors' code; the
       default) or ``gaussian`` (full covariance). Measured with exact
       posterior draws (``DENSITY``), the Gaussian fit reads log p(x) too
       high wherever the posterior is not Gaussian (0.2 nats on a banana
       shape at 1,000 samples, and more samples do not remove it); the KDE's
       error shrinks with the samples, at O(n^2) cost (30 ms a datapoint at
       1,000 samples, 0.7 s at 4,000). The Gaussian fit is the cheaper and
       steadier one when the posterior is close to Gaussian.
    3. With the second halves: ``log p(x) = -[logsumexp_l (log q(z_l) - log p(x, z_l)) - log L]``.

    The paper's settings are in ``PAPER`` (50 samples, 4 leapfrog steps, a
    KDE, one chain); it found the estimator reliable only below 5 latent
    dimensions.

    Returns
    -------
    Estimate
        ``stderr`` is the delta-method standard error of the reciprocal
        importance-sampling average; it ignores autocorrelation within a
        chain, so it understates the error. ``settings`` include the HMC
        acceptance rates.
    """
    rng = np.random.default_rng(rng)
    x = np.asarray(x, dtype=dec.dtype)
    M, C = x.shape[0], int(n_chains)
    per_chain = -(-int(n_samples) // C)
    if per_chain < 2:
        raise ValueError(f"n_samples = {n_samples} gives fewer than 2 samples per chain "
                         f"with n_chains = {C}")
    (mean, logvar), _ = gaussian_mlp_forward(enc, x)             # (M, J)
    J = mean.shape[1]
    starts = np.repeat(mean[None], C, axis=0)                     # (C, M, J)
    starts[1:] += np.exp(0.5 * logvar) * rng.standard_normal((C - 1, M, J)).astype(x.dtype)
    return appendix_d_from(dec, x, starts, per_chain, rng, n_leapfrog=n_leapfrog,
                           burn_in=burn_in, density=density, target_accept=target_accept,
                           sigmoid_mean=sigmoid_mean)


def appendix_d_from(dec, x, starts, per_chain, rng, *, n_leapfrog=4, burn_in=300,
                    density=DENSITY, target_accept=0.9, sigmoid_mean=False):
    """Steps 1-3 of :func:`appendix_d` from given chain starts (C, M, J), ``per_chain`` samples each.

    :func:`appendix_d` starts the chains from the encoder;
    :func:`aevb.baselines.mcem.log_likelihood`, for a model without one, from the prior.
    """
    C, M, J = starts.shape
    xs = np.tile(x, (C, 1))                                       # chain c, datapoint i -> row c*M + i
    target = lambda z: log_joint(dec, xs, z, sigmoid_mean, with_grad=True)   # noqa: E731
    chain = hmc(target, starts.reshape(C * M, J), per_chain, rng, n_leapfrog=n_leapfrog,
                burn_in=burn_in, target_accept=target_accept)
    samples = chain.samples.reshape(per_chain, C, M, J)
    half = per_chain // 2
    fit = samples[:half].reshape(-1, M, J)                       # (C * half, M, J)
    use = samples[half:].reshape(-1, M, J)
    log_px, stderr = reciprocal_estimate(fit, use, log_joint(dec, x, use, sigmoid_mean), density)
    accept = chain.accept_rate.reshape(C, M)
    return Estimate(log_px, stderr, {
        "estimator": "hmc", "n_samples": per_chain * C, "n_chains": C,
        "n_leapfrog": n_leapfrog, "burn_in": burn_in, "density": density,
        "target_accept": target_accept, "accept_rate_mean": float(accept.mean()),
        "accept_rate_min": float(accept.min()),
        "step_size_median": float(np.median(chain.step_size))})


def reciprocal_estimate(fit, use, log_p_use, density=DENSITY):
    """Steps 2-3 of Appendix D from posterior samples: log p(x) and its standard error.

    Parameters
    ----------
    fit, use : ndarray, shapes (n, M, J) and (L, M, J)
        Posterior samples of z per datapoint: ``fit`` to fit the density
        q(z), ``use`` (other samples) to average over.
    log_p_use : ndarray, shape (L, M)
        log p(x, z) at ``use``.
    density : {'kde', 'gaussian'}
        The density fitted to ``fit`` (see :func:`appendix_d`).

    Returns
    -------
    log_px, stderr : ndarray, shape (M,)
        ``log p(x) = -[logsumexp_l (log q(z_l) - log p(x, z_l)) - log L]``
        (since E_p(z|x)[q(z) / p(x, z)] = 1 / p(x) for a normalized q), and
        the delta-method standard error of that average.
    """
    log_q = _fit_density(np.asarray(fit, np.float64), density)(np.asarray(use, np.float64))
    log_r = log_q - np.asarray(log_p_use, np.float64)            # (L, M)
    L = log_r.shape[0]
    log_mean_r = _logsumexp(log_r, axis=0) - np.log(L)
    r = np.exp(log_r - log_mean_r)                               # normalized ratios
    return -log_mean_r, r.std(axis=0, ddof=1) / np.sqrt(L)


def grid(dec, x, sigmoid_mean=False, lim=6.0, n_coarse=121, n_fine=201, cutoff=30.0):
    """log p(x) by numerical integration over z, for a 2-D latent space (the reference).

    A coarse grid over [-lim, lim]^2 finds where log p(x, z) is within
    ``cutoff`` nats of its maximum; a fine grid of ``n_fine`` x ``n_fine``
    midpoints over that box (one coarse cell wider on each side) gives
    ``log sum_ij p(x, z_ij) dA``. Mass outside the box is below exp(-cutoff)
    of the peak per unit area, and the prior's mass outside [-lim, lim]^2 is
    below 1e-8.

    Returns
    -------
    log_px : ndarray, shape (M,)
    """
    x = np.asarray(x, dtype=np.float64)
    dec = dec.astype(np.float64)
    if dec.W_h.shape[0] != 2:
        raise ValueError(f"grid integration needs a 2-D latent space, not {dec.W_h.shape[0]}-D")
    out = np.empty(x.shape[0])
    c = np.linspace(-lim, lim, n_coarse)
    step = c[1] - c[0]
    zc = np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 1, 2)
    for i in range(x.shape[0]):
        lp = log_joint(dec, x[i:i + 1], zc, sigmoid_mean)[:, 0]
        keep = zc[lp > lp.max() - cutoff, 0]
        lo, hi = keep.min(axis=0) - step, keep.max(axis=0) + step
        axes = [lo[d] + (np.arange(n_fine) + 0.5) * (hi[d] - lo[d]) / n_fine for d in (0, 1)]
        zf = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 1, 2)
        area = np.prod((hi - lo) / n_fine)
        out[i] = _logsumexp(log_joint(dec, x[i:i + 1], zf, sigmoid_mean)[:, 0], 0) + np.log(area)
    return out
