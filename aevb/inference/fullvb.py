"""Full variational Bayes (Appendix F): a posterior over the decoder's parameters too.

The decoder's parameters theta get a factorized Gaussian posterior and a
standard-normal hyperprior (Appendix F.1)::

    q_phi(theta) = N(theta; mean, exp(logvar) I),   theta = mean + sigma * zeta,  zeta ~ N(0, I)
    p_alpha(theta) = N(theta; 0, I)

(Appendix F.1 writes p_alpha(theta) = N(z; 0, I); it means theta.) The
variational parameters phi are now the encoder's *and* ``mean``, ``logvar``
of :class:`WeightPosterior`. The bound on log p_alpha(X) (eq. 14) is::

    L(phi; X) = E_q(theta)[ sum_i L(theta, phi; x_i) ] - KL(q(theta) || p_alpha(theta))

with L(theta, phi; x_i) the per-datapoint bound of Section 2. Algorithm 2
estimates its gradient from L draws of (x, eps, zeta), each with its own x,
eps and zeta, of the per-sample function of eq. 21::

    f = N (log p_theta(x|z) + log p(z) - log q(z|x)) + log p_alpha(theta) - log q(theta)

and F.1 (eq. 24) gives the lower-variance version with both KL terms in
closed form: ``N (-KL(q(z|x) || p(z)) + log p_theta(x|z)) - KL(q(theta) || p(theta))``.

**Scaling** (as in :mod:`aevb.core.sgvb`): over a minibatch of M points from N,
:func:`full_vb` returns ``objective = (M/N) x`` [the eq. 21/24 estimate of
L(phi; X) from L = M samples]::

    objective = sum_i L(theta_(i), phi; x_i) - (M/N) KL(q(theta) || p(theta))     (eq. 24)

the datapoint terms once each, the KL over theta (a once-per-data-set term)
times M/N. **Reported**: the eq. 14 bound per datapoint, L(phi; X) / N =
mean_i E_q(theta) L(theta, phi; x_i) - KL(q(theta) || p(theta)) / N
(:func:`~aevb.inference.fullvb_train.eq14_bound`).

**zeta per sample.** ``zeta`` carries S draws; the M rows of the minibatch
are split into S contiguous groups of M/S rows and group s uses theta_s.
S = M is Algorithm 2 as written (a fresh zeta for every x); S < M shares a
draw between M/S points, which estimates the same objective without bias at
a fraction of the cost (S x n_params normal draws per step) but with more
variance: a departure, recorded by the trainer's ``theta_draws``.

The hyperprior covers every decoder parameter, biases included (the MAP
prior of Section 5 covers weights only).
"""
from dataclasses import dataclass

import numpy as np

from ..core.distributions import (kl_standard_normal_backward, kl_standard_normal_forward,
                                  reparameterize_backward, reparameterize_forward)
from ..core.networks import gaussian_mlp_backward, gaussian_mlp_forward
from ..core.sgvb import (add_prior_gradient, check_estimator, decoder_log_likelihood_backward,
                         decoder_log_likelihood_forward, latent_backward, latent_forward,
                         log_prior)


@dataclass
class WeightPosterior:
    """q(theta) = N(mean, exp(logvar) I) over the decoder's parameters (Appendix F.1).

    Attributes
    ----------
    mean, logvar : BernoulliMLPParams or GaussianMLPParams
        Same type and shapes as the decoder; ``mean`` is mu_theta, ``logvar``
        is log sigma_theta^2, element by element.
    """
    mean: object
    logvar: object

    @classmethod
    def around(cls, dec, logvar=-10.0):
        """q(theta) centred on the decoder ``dec`` (shared, not copied) with a constant logvar."""
        return cls(dec, dec.map(lambda a: np.full_like(a, logvar)))

    @property
    def n_params(self):
        return self.mean.n_params

    def arrays(self):
        """``mean`` arrays then ``logvar`` arrays (the optimizer's order)."""
        return self.mean.arrays() + self.logvar.arrays()

    def draw_zeta(self, n_draws, rng):
        """S = ``n_draws`` standard-normal draws per parameter: a container, fields
        ``(S, *shape)``."""
        return self.mean.map(lambda a: rng.standard_normal((n_draws,) + a.shape, dtype=a.dtype))

    def sample(self, zeta):
        """theta = mean + sigma * zeta, fields ``(S, *shape)``; forward only."""
        return weight_sample_forward(self, zeta)[0]

    def std(self):
        return self.logvar.map(lambda lv: np.exp(0.5 * lv))


def weight_sample_forward(q, zeta):
    """theta_s = mean + exp(logvar / 2) * zeta_s (Appendix F.1), field by field.

    Parameters
    ----------
    q : WeightPosterior
    zeta : decoder container, fields of shape ``(S, *shape)``

    Returns
    -------
    theta : decoder container, fields ``(S, *shape)``
    cache : list of per-field caches
    """
    out = [reparameterize_forward(m, lv, e) for m, lv, e
           in zip(q.mean.arrays(), q.logvar.arrays(), zeta.arrays())]
    return type(q.mean)(*[o[0] for o in out]), [o[1] for o in out]


def weight_sample_backward(dtheta, cache, kind):
    """Backward of :func:`weight_sample_forward`: sums over the S draws.

    ``dmean = sum_s dtheta_s``, ``dlogvar = sigma / 2 * sum_s dtheta_s * zeta_s``;
    both returned as containers of type ``kind``.
    """
    g = [reparameterize_backward(d, c) for d, c in zip(dtheta.arrays(), cache)]
    return kind(*[a for a, _ in g]), kind(*[b for _, b in g])


def kl_weights_forward(q):
    """KL(q(theta) || N(0, I)) = -1/2 sum_k (1 + logvar_k - mean_k^2 - exp(logvar_k)) (eq. 24).

    Returns ``(kl, cache)`` with ``kl`` a float summed over every parameter.
    """
    parts = [kl_standard_normal_forward(m.reshape(1, -1), lv.reshape(1, -1))
             for m, lv in zip(q.mean.arrays(), q.logvar.arrays())]
    return float(sum(k[0] for k, _ in parts)), [c for _, c in parts]


def kl_weights_backward(dkl, cache, q):
    """Backward of :func:`kl_weights_forward`: ``dmean = dkl mean``, ``dlogvar = dkl (sigma^2 - 1) / 2``."""
    d = np.full(1, dkl, dtype=q.mean.dtype)
    g = [kl_standard_normal_backward(d, c) for c in cache]
    kind = type(q.mean)
    return (kind(*[a.reshape(m.shape) for (a, _), m in zip(g, q.mean.arrays())]),
            kind(*[b.reshape(m.shape) for (_, b), m in zip(g, q.mean.arrays())]))


def log_joint_weights(theta, zeta, q):
    """Eq. 21's ``log p_alpha(theta_s) - log q(theta_s)`` for each draw, shape (S,).

    log q(theta_s) is computed from zeta (``(theta - mean) / sigma = zeta``),
    as :func:`aevb.core.distributions.posterior_log_density_forward` does for z.
    """
    S = zeta.arrays()[0].shape[0]
    out = np.zeros(S, dtype=q.mean.dtype)
    for t, e, lv in zip(theta.arrays(), zeta.arrays(), q.logvar.arrays()):
        t2, e2 = t.reshape(S, -1), e.reshape(S, -1)
        out += -0.5 * (t2 * t2).sum(axis=1) + 0.5 * ((e2 * e2).sum(axis=1) + lv.sum())
    return out                      # the two log(2 pi) terms cancel


@dataclass
class FullVBResult:
    """What :func:`full_vb` returns.

    Attributes
    ----------
    bound : ndarray (M,)
        L(theta_(i), phi; x_i) for each datapoint at its own theta draw.
    objective : float
        ``sum_i bound_i + (M/N) * theta_term`` (module docstring), plus
        ``(M/N) log p(phi_enc)`` if ``encoder_prior``.
    kl_theta : float
        KL(q(theta) || p(theta)) in closed form (reported with every estimator).
    denc, dmean, dlogvar : containers
        Gradients of the loss ``-objective``.
    """
    bound: np.ndarray
    objective: float
    kl_theta: float
    denc: object
    dmean: object
    dlogvar: object


def full_vb(enc, q, x, eps, zeta, n_data, estimator="B", sigmoid_mean=False,
            encoder_prior=False):
    """Value and hand-written gradients of the Appendix F objective on one minibatch.

    Parameters
    ----------
    enc : GaussianMLPParams
        The encoder q(z|x).
    q : WeightPosterior
        q(theta) over the decoder's parameters.
    x : ndarray (M, D)
    eps : ndarray (L, M, J)
        Noise for z = mean + sigma * eps (L = 1 in Algorithm 2).
    zeta : decoder container, fields ``(S, *shape)``
        Noise for theta; S must divide M (module docstring, "zeta per sample").
    n_data : int
        N, the training set size (scales the theta term by M/N).
    estimator : {'A', 'B'}
        'A': eq. 21, log p(z) - log q(z|x) and log p(theta) - log q(theta)
        sampled; 'B': eq. 24, both KL terms in closed form.
    encoder_prior : bool
        Add the Section 5 MAP prior (M/N) log p(W) on the encoder's weights
        (not part of the eq. 14 bound; off by default).

    Returns
    -------
    FullVBResult
    """
    estimator = check_estimator(estimator)
    M, L = x.shape[0], eps.shape[0]
    S = zeta.arrays()[0].shape[0]
    if S < 1 or M % S:
        raise ValueError(f"zeta holds {S} draws, which does not divide the minibatch of "
                         f"M = {M}; use a number of draws that divides M")
    scale = M / float(n_data)                                     # (M/N), module docstring
    (mean, logvar), c_enc = gaussian_mlp_forward(enc, x)          # (M, J) each
    z, c_rep = reparameterize_forward(mean, logvar, eps)          # (L, M, J)
    theta, c_theta = weight_sample_forward(q, zeta)               # fields (S, *shape)
    G = M // S                                                    # rows per theta draw
    logpx = np.empty((L, M), dtype=z.dtype)
    caches = []
    for s in range(S):                                            # decoder at theta_s, its rows
        rows = slice(s * G, (s + 1) * G)
        logpx[:, rows], c = decoder_log_likelihood_forward(
            theta.map(lambda a: a[s]), x[rows], z[:, rows], sigmoid_mean)
        caches.append(c)
    # the z-part: eq. 24's closed-form KL (B) or eq. 21's sampled terms (A), as in eq. 7 / 6
    bound, c_latent = latent_forward(logpx, mean, logvar, z, eps, estimator)
    kl_theta, c_klt = kl_weights_forward(q)
    theta_term = -kl_theta if estimator == "B" else float(log_joint_weights(theta, zeta, q).mean())
    objective = float(bound.sum()) + scale * theta_term
    if encoder_prior:
        objective += scale * log_prior(enc)

    # backward: loss = -objective
    dlogpx = np.full((L, M), -1.0 / L, dtype=z.dtype)
    dz = np.empty_like(z)
    dtheta = theta.map(np.empty_like)
    for s, c in enumerate(caches):
        rows = slice(s * G, (s + 1) * G)
        dz[:, rows], g = decoder_log_likelihood_backward(dlogpx[:, rows], c)
        for dst, src in zip(dtheta.arrays(), g.arrays()):
            dst[s] = src
    if estimator == "A":                          # d(-(M/N) mean_s log p(theta_s)) / dtheta_s
        for dt, t in zip(dtheta.arrays(), theta.arrays()):
            dt += (scale / S) * t
    dmean, dlogvar = weight_sample_backward(dtheta, c_theta, type(q.mean))
    if estimator == "B":                                          # + (M/N) KL(q(theta) || p(theta))
        dm_kl, dlv_kl = kl_weights_backward(scale, c_klt, q)
        for a, b in zip(dmean.arrays() + dlogvar.arrays(), dm_kl.arrays() + dlv_kl.arrays()):
            a += b
    else:                                         # + (M/N) mean_s log q(theta_s) at fixed zeta
        for a in dlogvar.arrays():
            a -= 0.5 * scale
    dm, dlv = latent_backward(dlogpx, dz, c_latent)
    dm_rep, dlv_rep = reparameterize_backward(dz, c_rep)
    _, denc = gaussian_mlp_backward(dm + dm_rep, dlv + dlv_rep, c_enc, need_dx=False)
    if encoder_prior:
        add_prior_gradient(enc, denc, scale)
    return FullVBResult(bound, objective, kl_theta, denc, dmean, dlogvar)

