"""The SGVB estimators of the variational lower bound (Sections 2.3 and 3).

For one datapoint x with L noise draws eps_l and z_l = mean + sigma * eps_l:

* estimator A (eq. 6): ``(1/L) sum_l [log p(x|z_l) + log p(z_l) - log q(z_l|x)]``;
* estimator B (eq. 7, eq. 10 for the VAE):
  ``-KL(q(z|x) || p(z)) + (1/L) sum_l log p(x|z_l)``, the KL in closed form
  (Appendix B).

Over a minibatch of M points from a data set of N, eq. 8 estimates the
full-data bound by ``(N/M) sum_i L(x_i)``. Section 5 adds a MAP prior
p(theta) = N(0, I) on the weights (as in the authors' code: weight matrices
only, no biases). The quantity :func:`sgvb` returns as ``objective`` is eq. 8
plus log p(theta), multiplied by M/N::

    objective = sum_i L(x_i) + (M/N) log p(theta)

It has the same maximizer as eq. 8 + log p(theta); the factor M/N puts its
gradient on the per-minibatch scale at which the authors' Adagrad runs (the
README's "Choices the paper leaves open"). ``log p(theta)`` is taken without
its additive constant: ``-1/2 sum W^2``.

The pieces that turn log p(x|z_l) into the bound and back
(:func:`latent_forward`, :func:`latent_backward`, :func:`estimator_a_forward`,
:func:`minibatch_objective`) are shared with the other posteriors of Section
2.4 (:mod:`aevb.inference.posterior`) and with full VB (:mod:`aevb.inference.fullvb`).

The noise ``eps`` is an argument, so the bound is a deterministic function
of the parameters and can be checked by finite differences.
"""
from dataclasses import dataclass

import numpy as np

from .distributions import (bernoulli_log_likelihood_backward,
                            bernoulli_log_likelihood_forward,
                            gaussian_log_likelihood_backward,
                            gaussian_log_likelihood_forward,
                            kl_standard_normal_backward,
                            kl_standard_normal_forward,
                            posterior_log_density_backward,
                            posterior_log_density_forward,
                            reparameterize_backward, reparameterize_forward,
                            standard_normal_log_density_backward,
                            standard_normal_log_density_forward)
from .networks import (BernoulliMLPParams, GaussianMLPParams,
                       bernoulli_mlp_backward, bernoulli_mlp_forward,
                       gaussian_mlp_backward, gaussian_mlp_forward)

ESTIMATORS = ("A", "B")


@dataclass
class SGVBResult:
    """What :func:`sgvb` returns.

    Attributes
    ----------
    bound : ndarray, shape (M,)
        The estimate of L(theta, phi; x_i) for each datapoint, in nats.
    objective : float
        ``sum_i bound_i + (M/N) log p(theta)`` (module docstring).
    denc, ddec : parameter containers
        Gradients of the loss ``-objective`` for the encoder and decoder,
        in the containers' own types.
    """
    bound: np.ndarray
    objective: float
    denc: GaussianMLPParams
    ddec: object


def check_estimator(estimator):
    """Return the canonical estimator name or raise a ValueError that lists the choices."""
    name = str(estimator).upper()
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}: use 'A' (eq. 6) or 'B' (eq. 7/10)")
    return name


def decoder_log_likelihood_forward(dec, x, z, sigmoid_mean=False):
    """log p(x|z) for either decoder.

    Parameters
    ----------
    dec : BernoulliMLPParams or GaussianMLPParams
    x : ndarray, shape (M, D)
    z : ndarray, shape (L, M, J)
    sigmoid_mean : bool
        Gaussian decoder only: means squashed into (0, 1) (the Frey Face model).

    Returns
    -------
    logpx : ndarray, shape (L, M)
    cache : tuple
    """
    if isinstance(dec, BernoulliMLPParams):
        logits, c_net = bernoulli_mlp_forward(dec, z)             # (L, M, D)
        logpx, c_ll = bernoulli_log_likelihood_forward(x, logits)
    elif isinstance(dec, GaussianMLPParams):
        (mean, logvar), c_net = gaussian_mlp_forward(dec, z, sigmoid_mean)
        logpx, c_ll = gaussian_log_likelihood_forward(x, mean, logvar)
    else:
        raise TypeError(f"decoder parameters must be BernoulliMLPParams or "
                        f"GaussianMLPParams, not {type(dec).__name__}")
    return logpx, (type(dec), c_net, c_ll)


def decoder_log_likelihood_backward(dlogpx, cache):
    """Backward of :func:`decoder_log_likelihood_forward`; returns ``(dz, ddec)``."""
    kind, c_net, c_ll = cache
    if kind is BernoulliMLPParams:
        dlogits = bernoulli_log_likelihood_backward(dlogpx, c_ll)
        return bernoulli_mlp_backward(dlogits, c_net)
    _, dmean, dlogvar = gaussian_log_likelihood_backward(dlogpx, c_ll)
    return gaussian_mlp_backward(dmean, dlogvar, c_net)


def estimator_a_forward(logpx, z, logqz):
    """Eq. 6 per datapoint from its terms: ``mean_l [log p(x|z_l) + log p(z_l) - log q(z_l|x)]``.

    Parameters
    ----------
    logpx, logqz : ndarray, shape (L, M)
    z : ndarray, shape (L, M, J)

    Returns
    -------
    bound : ndarray (M,), and the cache for :func:`estimator_a_backward`
    """
    ### BEGIN SOLUTION estimator_a
    logpz, c_pz = standard_normal_log_density_forward(z)      # (L, M)
    bound = (logpx + logpz - logqz).mean(axis=0)
    ### END SOLUTION
    return bound, c_pz


def estimator_a_backward(dlogpx, dz, cache):
    """Backward of :func:`estimator_a_forward` given ``dlogpx`` (L, M), the loss gradient of
    each log p(x|z_l) term (the same for each of eq. 6's terms): adds log p(z)'s share to
    ``dz`` (L, M, J) in place and returns ``dlogqz`` (L, M)."""
    ### BEGIN SOLUTION estimator_a
    dz += standard_normal_log_density_backward(dlogpx, cache)
    dlogqz = -dlogpx
    ### END SOLUTION
    return dlogqz


def latent_forward(logpx, mean, logvar, z, eps, estimator):
    """The bound per datapoint (M,) from log p(x|z_l) (L, M) and the Gaussian q(z|x).

    Estimator B (eq. 7, eq. 10) subtracts the KL in closed form (Appendix B);
    estimator A (eq. 6) adds log p(z_l) - log q(z_l|x), with log q computed
    from ``eps`` (exact in float32). Returns ``(bound, cache)``.
    """
    if estimator == "B":                                          # eq. 7 / eq. 10
        ### BEGIN SOLUTION estimator_b
        kl, c_kl = kl_standard_normal_forward(mean, logvar)       # (M,)
        bound = logpx.mean(axis=0) - kl
        c_latent = c_kl
        ### END SOLUTION
    else:                                                         # eq. 6
        ### BEGIN SOLUTION estimator_a
        logqz, c_qz = posterior_log_density_forward(eps, logvar)  # from eps: exact in float32
        bound, c_pz = estimator_a_forward(logpx, z, logqz)
        c_latent = (c_pz, c_qz)
        ### END SOLUTION
    return bound, (estimator, c_latent)


def latent_backward(dlogpx, dz, cache):
    """Backward of :func:`latent_forward` at fixed ``eps``: ``(dmean, dlogvar)`` of q's own
    terms (the KL, or log q), and log p(z)'s share added to ``dz`` in place (estimator A)."""
    estimator, c_latent = cache
    M = dlogpx.shape[1]
    if estimator == "B":
        ### BEGIN SOLUTION estimator_b
        dmean, dlogvar = kl_standard_normal_backward(np.ones(M, dlogpx.dtype), c_latent)
        ### END SOLUTION
    else:
        ### BEGIN SOLUTION estimator_a
        c_pz, c_qz = c_latent
        dlogqz = estimator_a_backward(dlogpx, dz, c_pz)
        dlogvar = posterior_log_density_backward(dlogqz, c_qz)   # at fixed eps (its docstring)
        dmean = np.zeros_like(dlogvar)
        ### END SOLUTION
    return dmean, dlogvar


def _forward(enc, dec, x, eps, estimator, sigmoid_mean):
    estimator = check_estimator(estimator)
    (mean, logvar), c_enc = gaussian_mlp_forward(enc, x)          # (M, J) each
    z, c_rep = reparameterize_forward(mean, logvar, eps)          # (L, M, J)
    logpx, c_dec = decoder_log_likelihood_forward(dec, x, z, sigmoid_mean)  # (L, M)
    bound, c_latent = latent_forward(logpx, mean, logvar, z, eps, estimator)
    return bound, (c_enc, c_rep, c_dec, c_latent)


def lower_bound(enc, dec, x, eps, estimator="B", sigmoid_mean=False):
    """The per-datapoint SGVB estimate of the bound, forward only.

    Parameters
    ----------
    enc : GaussianMLPParams
    dec : BernoulliMLPParams or GaussianMLPParams
    x : ndarray, shape (M, D)
    eps : ndarray, shape (L, M, J)
    estimator : {'A', 'B'}

    Returns
    -------
    bound : ndarray, shape (M,)
    """
    return _forward(enc, dec, x, eps, estimator, sigmoid_mean)[0]


def log_prior(*containers):
    """MAP prior log p(theta) = -1/2 sum W^2 over the weight matrices (no constant).

    Its gradient is ``-W`` for each weight matrix and zero for the biases.
    """
    return -0.5 * sum(float(np.vdot(W, W)) for params in containers
                      for W in (getattr(params, n) for n in params.weight_names()))


def add_prior_gradient(params, grads, scale):
    """``grads += scale * W`` for each weight matrix: the loss gradient of ``-scale * log p(theta)``."""
    for name in params.weight_names():
        g = getattr(grads, name)
        g += scale * getattr(params, name)


def minibatch_estimate(bound, n_data):
    """Eq. 8: ``(N/M) sum_i L(x_i)``, the full-data bound estimated from M points."""
    ### BEGIN SOLUTION estimator_b
    bound = np.asarray(bound)
    return n_data / bound.shape[0] * float(bound.sum())
    ### END SOLUTION


def minibatch_objective(bound, L, n_data, *priors):
    """The objective of one minibatch and the loss gradient of each log p(x|z_l) term.

    Parameters
    ----------
    bound : ndarray (M,)
    L : int
        Noise draws per datapoint.
    n_data : int or None
        N: with it, ``objective = (M/N) [eq. 8 + log p(theta)]`` over the
        weights of ``priors`` (parameter containers); with None the plain
        ``sum_i bound_i``.

    Returns
    -------
    objective : float
    scale : float or None
        M/N, the weight of the prior's gradient (:func:`add_prior_gradient`).
    dlogpx : ndarray (L, M)
        d loss / d log p(x_i|z_l) for the loss ``-objective``.
    """
    M = bound.shape[0]
    ### BEGIN SOLUTION estimator_b
    scale = None if n_data is None else M / n_data     # MAP prior, scaled by M/N (module docstring)
    if scale is None:
        objective = float(bound.sum())
    else:                                              # (M/N) [eq. 8 + log p(theta)]
        objective = scale * (minibatch_estimate(bound, n_data) + log_prior(*priors))
    # loss = -sum_i bound_i, so d loss / d logpx_li = -1/L
    dlogpx = np.full((L, M), -1.0 / L, dtype=bound.dtype)
    ### END SOLUTION
    return objective, scale, dlogpx


def sgvb(enc, dec, x, eps, estimator="B", n_data=None, sigmoid_mean=False,
         decoder_ready=None):
    """Value and gradients of the SGVB objective on one minibatch (Algorithm 1).

    Parameters
    ----------
    enc : GaussianMLPParams
        Encoder q(z|x) (shapes (D, H), (H,), (H, J) ...).
    dec : BernoulliMLPParams or GaussianMLPParams
        Decoder p(x|z).
    x : ndarray, shape (M, D)
    eps : ndarray, shape (L, M, J)
        Standard-normal noise; L >= 1 samples per datapoint.
    estimator : {'A', 'B'}
        Eq. 6 or eq. 7/10.
    n_data : int or None
        N, the size of the training set. With N, the MAP prior enters as
        ``(M/N) log p(theta)`` (module docstring); with None there is no prior
        and the objective is the plain sum of the bounds.
    sigmoid_mean : bool
        Gaussian decoder only: means squashed into (0, 1).
    decoder_ready : callable(objective, ddec) or None
        Called once the objective and the decoder's gradient ``ddec`` are
        final, before the encoder's backward pass. That pass no longer reads
        the decoder's parameters, so the callback may start updating them
        (:class:`aevb.core.train.Trainer` does so on a second thread). If it
        raises, :func:`sgvb` stops and passes the exception on.

    Returns
    -------
    SGVBResult
        ``bound`` (M,), ``objective``, and the gradients ``denc``, ``ddec`` of
        the loss ``-objective``.
    """
    bound, (c_enc, c_rep, c_dec, c_latent) = _forward(enc, dec, x, eps, estimator, sigmoid_mean)
    objective, scale, dlogpx = minibatch_objective(bound, eps.shape[0], n_data, enc, dec)
    dz, ddec = decoder_log_likelihood_backward(dlogpx, c_dec)
    if scale is not None:
        add_prior_gradient(dec, ddec, scale)
    if decoder_ready is not None:
        decoder_ready(objective, ddec)
    dmean, dlogvar = latent_backward(dlogpx, dz, c_latent)
    dmean_rep, dlogvar_rep = reparameterize_backward(dz, c_rep)
    dmean += dmean_rep
    dlogvar += dlogvar_rep
    _, denc = gaussian_mlp_backward(dmean, dlogvar, c_enc, need_dx=False)   # x is data
    if scale is not None:
        add_prior_gradient(enc, denc, scale)
    return SGVBResult(bound, objective, denc, ddec)


def score_function_gradient(enc, dec, x, eps, sigmoid_mean=False):
    """Section 2.2's "naive" gradient of the bound for the encoder, for comparison.

    With z_l = mean + sigma * eps_l a draw from q(z|x) (not differentiated
    through) and f(z) = log p(x, z) - log q(z|x)::

        grad_phi L ~ (1/L) sum_l f(z_l) grad_phi log q(z_l|x)

    (the term E_q[grad_phi log q] is zero). Unbiased, but "exhibits very high
    variance" (Section 2.2); :func:`sgvb` gives the reparameterized gradient of
    the same quantity.

    Returns
    -------
    denc : GaussianMLPParams
        Gradient of the loss ``-sum_i L(x_i)`` (the sign convention of :func:`sgvb`).
    """
    (mean, logvar), c_enc = gaussian_mlp_forward(enc, x)
    z, _ = reparameterize_forward(mean, logvar, eps)              # (L, M, J)
    logpx, _ = decoder_log_likelihood_forward(dec, x, z, sigmoid_mean)
    logpz, _ = standard_normal_log_density_forward(z)
    logqz, c_qz = gaussian_log_likelihood_forward(z, mean, logvar)
    f = logpx + logpz - logqz                                     # (L, M)
    # d/d(mean, logvar) of sum_l f_l log q(z_l|x) / L at fixed z, negated for the loss
    _, dmean, dlogvar = gaussian_log_likelihood_backward(-f / eps.shape[0], c_qz)
    _, denc = gaussian_mlp_backward(dmean, dlogvar, c_enc)
    return denc
