"""A non-Gaussian posterior q(z|x) for the VAE, trained with estimator A (eq. 6, Section 2.4).

The paper's encoder is Gaussian, and estimator B (eq. 7) needs the KL term in
closed form. Any location-scale family of :mod:`aevb.inference.families` whose support
is the real line can take the Gaussian's place with estimator A, which only
needs samples and log q:

    L(x) ~ (1/L) sum_l log p(x|z_l) + log p(z_l) - log q(z_l|x),
    z_l = loc + scale * y(eps_l),  eps_l ~ p(eps)

The encoder is unchanged: the Gaussian MLP of Appendix C.2 and its
:class:`aevb.core.networks.GaussianMLPParams` container. Its two heads are read as

* ``W_mean, b_mean``   -> the location, ``loc``;
* ``W_logvar, b_logvar`` -> ``2 log scale = log scale^2``, so that for the
  Gaussian family this is exactly eq. 10's ``logvar`` and the model is the
  paper's. (For Laplace the variance is 2 scale^2, for Student's t with nu
  degrees of freedom nu / (nu - 2) scale^2: the head keeps its name but is
  the log of the squared scale, not of the variance.)

With ``posterior="gaussian"`` :func:`sgvb_family` computes the same bound and
gradients as :func:`aevb.core.sgvb.sgvb` with estimator A, and the same noise.
"""

import numpy as np

from ..core.networks import gaussian_mlp_backward, gaussian_mlp_forward
from ..core.sgvb import (SGVBResult, add_prior_gradient, decoder_log_likelihood_backward,
                         decoder_log_likelihood_forward, estimator_a_backward,
                         estimator_a_forward, minibatch_objective)
from ..core.train import Trainer
from .families import FAMILIES, LocationScale, make_family
from .likelihood import log_joint

POSTERIORS = tuple(n for n, c in FAMILIES.items() if issubclass(c, LocationScale))


def posterior_family(name):
    """The family for ``--posterior NAME``: a location-scale family on the real line."""
    family = make_family(name)
    if family.name not in POSTERIORS:
        raise ValueError(f"{family.name!r} cannot be the posterior q(z|x): its support is not "
                         f"the real line or it has no location and scale; choose from {POSTERIORS}")
    return family


def _forward(enc, dec, x, noise, family, sigmoid_mean):
    (mean, logvar), c_enc = gaussian_mlp_forward(enc, x)             # (M, J) each
    params = (mean, 0.5 * logvar)                  # loc, log scale (module docstring)
    z, c_s = family.sample_forward(params, noise)                     # (L, M, J)
    logpx, c_dec = decoder_log_likelihood_forward(dec, x, z, sigmoid_mean)  # (L, M)
    logqz, c_qz = family.noise_log_density_forward(noise, params)     # from the noise, exact
    bound, c_a = estimator_a_forward(logpx, z, logqz)                 # eq. 6, (M,)
    return bound, (c_enc, c_s, c_dec, c_a, c_qz)


def lower_bound_family(enc, dec, x, noise, family, sigmoid_mean=False):
    """Estimator A of the bound with posterior ``family``, forward only; shape (M,)."""
    return _forward(enc, dec, x, noise, posterior_family(family), sigmoid_mean)[0]


def sgvb_family(enc, dec, x, noise, family, n_data=None, sigmoid_mean=False,
                decoder_ready=None):
    """Value and gradients of estimator A (eq. 6) with the posterior ``family``.

    Parameters
    ----------
    enc : GaussianMLPParams
        Encoder; its heads give loc and 2 log scale (module docstring).
    dec : BernoulliMLPParams or GaussianMLPParams
    x : ndarray, shape (M, D)
    noise : ndarray, shape (L, M, J)
        Draws of the family's noise p(eps) (``family.draw_noise``).
    family : str or aevb.inference.families.LocationScale
        One of ``POSTERIORS``.
    n_data, sigmoid_mean, decoder_ready
        As in :func:`aevb.core.sgvb.sgvb` (the MAP prior scaled by M/N, the
        Gaussian decoder's squashed means, the hook for the decoder's update).

    Returns
    -------
    SGVBResult
        ``bound`` (M,), ``objective`` and the gradients of the loss
        ``-objective``, with the sign and scale of :func:`aevb.core.sgvb.sgvb`.
    """
    family = posterior_family(family)
    bound, (c_enc, c_s, c_dec, c_a, c_qz) = _forward(enc, dec, x, noise, family, sigmoid_mean)
    objective, scale, dlogpx = minibatch_objective(bound, noise.shape[0], n_data, enc, dec)
    dz, ddec = decoder_log_likelihood_backward(dlogpx, c_dec)
    if scale is not None:
        add_prior_gradient(dec, ddec, scale)
    if decoder_ready is not None:
        decoder_ready(objective, ddec)
    dlogqz = estimator_a_backward(dlogpx, dz, c_a)                    # log p(z)'s share into dz
    dloc, dlog_scale = family.noise_log_density_backward(dlogqz, c_qz)   # at fixed noise
    dloc_s, dlog_scale_s = family.sample_backward(dz, c_s)               # through z
    dmean = dloc + dloc_s
    dlogvar = 0.5 * (dlog_scale + dlog_scale_s)                       # log scale = logvar / 2
    _, denc = gaussian_mlp_backward(dmean, dlogvar, c_enc, need_dx=False)   # x is data
    if scale is not None:
        add_prior_gradient(enc, denc, scale)
    return SGVBResult(bound, objective, denc, ddec)


def score_family(enc, dec, data, family, rng=None, n_mc_samples=1, sigmoid_mean=False,
                 chunk=1000):
    """Mean estimator-A bound per datapoint over a whole :class:`aevb.io.datasets.Dataset`, fresh noise.

    Never z = loc: every datapoint gets ``n_mc_samples`` new noise draws.
    """
    family = posterior_family(family)
    rng = np.random.default_rng(rng)
    dtype, J = enc.dtype, enc.W_mean.shape[1]
    total = 0.0
    for start in range(0, len(data), chunk):
        x = data.batch(slice(start, start + chunk), dtype, rng)
        noise = family.draw_noise((n_mc_samples, x.shape[0], J), rng, dtype)
        total += float(lower_bound_family(enc, dec, x, noise, family, sigmoid_mean)
                       .astype(np.float64).sum())
    return total / len(data)


def importance_sampled_family(enc, dec, x, family, n_samples=1000, rng=None,
                              sigmoid_mean=False, chunk=100):
    """log p(x) by importance sampling with the posterior ``family`` as proposal, shape (M,).

    ``logsumexp_k [log p(x, z_k) - log q(z_k|x)] - log K`` with z_k drawn from
    q(z|x) of that family, K = ``n_samples`` in chunks of ``chunk`` samples.
    Its expectation is at least the bound of eq. 6 and rises with K towards
    log p(x): an independent check that a family's bound is a bound.
    """
    family = posterior_family(family)
    rng = np.random.default_rng(rng)
    J = enc.W_mean.shape[1]
    (mean, logvar), _ = gaussian_mlp_forward(enc, x)                 # (M, J) each
    params = (mean, 0.5 * logvar)                                     # loc, log scale
    top, total = np.full(x.shape[0], -np.inf), np.zeros(x.shape[0])
    for k in range(0, n_samples, chunk):
        noise = family.draw_noise((min(chunk, n_samples - k), x.shape[0], J), rng, enc.dtype)
        z, _ = family.sample_forward(params, noise)                   # (K', M, J)
        log_w = (log_joint(dec, x, z, sigmoid_mean)
                 - family.noise_log_density_forward(noise, params)[0]).astype(np.float64)
        new_top = np.maximum(top, log_w.max(axis=0))
        total = total * np.exp(top - new_top) + np.exp(log_w - new_top).sum(axis=0)
        top = new_top
    return top + np.log(total) - np.log(n_samples)


class PosteriorTrainer(Trainer):
    """Algorithm 1 with the posterior q(z|x) from ``posterior`` and estimator A.

    The constructor takes the keywords of :class:`aevb.core.train.Trainer` and
    ``posterior`` (one of ``POSTERIORS``, default ``'laplace'``). The
    estimator is always A (eq. 6): no family but the Gaussian has the KL of
    eq. 7 in closed form here, and the Gaussian with B is the plain Trainer.
    The noise is drawn from the family's p(eps) by the trainer's ``rng``,
    so runs resume bitwise exactly like the plain Trainer's.
    """

    def __init__(self, enc, dec, data, optimizer, *, rng, posterior="laplace",
                 estimator="A", **settings):
        if str(estimator).upper() != "A":
            raise ValueError(f"a {posterior} posterior trains with estimator A (eq. 6) only, "
                             f"got {estimator!r}; use aevb.core.train.Trainer for estimator B")
        super().__init__(enc, dec, data, optimizer, rng=rng, estimator="A", **settings)
        self.family = posterior_family(posterior)

    def draw_noise(self, J):
        """The family's noise, shape (L, M, J)."""
        return self.family.draw_noise((self.L, self.M, J), self.rng, self.dtype)

    def objective(self, x, noise, decoder_ready):
        """Estimator A with the family's q(z|x) (:func:`sgvb_family`)."""
        return sgvb_family(self.enc, self.dec, x, noise, self.family,
                           n_data=len(self.data) if self.weight_decay else None,
                           sigmoid_mean=self.sigmoid_mean, decoder_ready=decoder_ready)

    @property
    def non_finite_hint(self):
        return f" with a {self.family.name} posterior"

    def state_dict(self):
        d = super().state_dict()
        d["extra_meta"] = {"posterior": self.family.name}
        return d

    def load_state_dict(self, d):
        saved = (d.get("extra_meta") or {}).get("posterior", "gaussian")  # plain Trainer: Gaussian
        if saved != self.family.name:
            raise ValueError(f"this checkpoint was trained with a {saved} posterior, not "
                             f"{self.family.name}; resume it with posterior={saved!r}")
        super().load_state_dict(d)


def train_posterior(enc, dec, data, optimizer, *, budget, rng, posterior="laplace",
                    callback=None, eval_points=None, progress=False, **settings):
    """Algorithm 1 with a posterior family (as :func:`aevb.core.train.train`); returns samples seen.

    ``settings`` are those of :class:`PosteriorTrainer`; ``enc`` and ``dec``
    are updated in place.
    """
    trainer = PosteriorTrainer(enc, dec, data, optimizer, rng=rng, posterior=posterior,
                               **settings)
    trainer.run(budget, callback=callback, eval_points=eval_points, progress=progress)
    return trainer.seen
