"""Hybrid (Hamiltonian) Monte Carlo for a batch of independent chains (Appendix D, E).

The target is any log-density given with its gradient, evaluated for M chains
at once (one chain per datapoint when sampling the posteriors p(z|x_i)).
Each iteration draws a momentum p ~ N(0, I), runs ``n_leapfrog`` leapfrog
steps of size eps on ``H(z, p) = -log pi(z) + |p|^2 / 2``, and accepts per chain
with probability min(1, exp(H_old - H_new)) (Metropolis), so pi is left
invariant for any fixed eps.

During burn-in each chain's step size is tuned towards a target acceptance
rate (the paper uses 90%) by dual averaging (Hoffman & Gelman 2014, Sec.
3.2.1): with a_t the chain's acceptance probability at iteration t,

    Hbar_t    = (1 - 1/(t + t0)) Hbar_{t-1} + (target - a_t) / (t + t0)
    log eps_t = mu - sqrt(t) / gamma * Hbar_t,       mu = log(10 eps_0)
    log ebar_t = t^-kappa log eps_t + (1 - t^-kappa) log ebar_{t-1}

(gamma = 0.05, t0 = 10, kappa = 0.75). When burn-in ends the step size is
fixed at ebar, and samples are kept only afterwards, so the kept samples come
from a fixed, valid HMC kernel.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class HMCResult:
    """Samples (S, M, J); acceptance rate after burn-in (M,); final step sizes (M,)."""
    samples: np.ndarray
    accept_rate: np.ndarray
    step_size: np.ndarray


def leapfrog(z, p, eps, grad, log_prob_and_grad, n_steps):
    """``n_steps`` leapfrog steps of size ``eps`` (M, 1); returns (z, p, log_prob, grad)."""
    p = p + 0.5 * eps * grad                 # half step for the momentum
    for k in range(n_steps):
        z = z + eps * p                      # full step for the position
        logp, grad = log_prob_and_grad(z)
        p = p + (eps if k < n_steps - 1 else 0.5 * eps) * grad
    return z, p, logp, grad


def transition(log_prob_and_grad, z, logp, grad, step_size, p, u, n_leapfrog):
    """One HMC transition of M chains at once, with its noise given (Appendix D, E).

    ``n_leapfrog`` leapfrog steps of :func:`leapfrog` (``n_leapfrog`` position
    updates and gradient evaluations, between two momentum half steps), then a
    Metropolis test per chain: accept where ``log u < H_old - H_new`` with
    ``H = -log pi(z) + |p|^2 / 2``. A proposal whose energy is not finite is
    rejected.

    Parameters
    ----------
    log_prob_and_grad : callable z (M, J) -> (log pi (M,), d log pi / dz (M, J))
    z, grad : ndarray, shape (M, J)
        Current states and the gradient of log pi there.
    logp : ndarray, shape (M,)
        log pi at ``z``.
    step_size : float or ndarray (M,)
        One step size per chain.
    p : ndarray, shape (M, J)
        Momenta drawn from N(0, I).
    u : ndarray, shape (M,)
        Uniforms on [0, 1) for the Metropolis test.
    n_leapfrog : int

    Returns
    -------
    z, logp, grad : the new states (the old ones where rejected)
    accept_prob : ndarray (M,), ``min(1, exp(H_old - H_new))``
    accepted : ndarray of bool (M,)
    """
    M = z.shape[0]
    eps = np.broadcast_to(np.asarray(step_size, np.float64), (M,))[:, None].astype(z.dtype)
    z_new, p_new, logp_new, grad_new = leapfrog(z, p, eps, grad, log_prob_and_grad, n_leapfrog)
    # H = -log pi + |p|^2 / 2; accept with probability min(1, exp(H_old - H_new))
    log_ratio = (logp_new - 0.5 * np.sum(p_new * p_new, axis=1)) \
        - (logp - 0.5 * np.sum(p * p, axis=1))
    log_ratio = np.where(np.isfinite(log_ratio), log_ratio, -np.inf)   # diverged: reject
    accept = np.log(u) < log_ratio
    z = np.where(accept[:, None], z_new, z)
    logp = np.where(accept, logp_new, logp)
    grad = np.where(accept[:, None], grad_new, grad)
    return z, logp, grad, np.exp(np.minimum(log_ratio, 0.0)), accept


def hmc(log_prob_and_grad, z0, n_samples, rng=None, *, n_leapfrog=4, step_size=0.05,
        burn_in=100, target_accept=0.9, thin=1):
    """Run M HMC chains in parallel.

    Parameters
    ----------
    log_prob_and_grad : callable z (M, J) -> (log pi(z) (M,), d log pi / dz (M, J))
        Unnormalized log target and its gradient.
    z0 : ndarray, shape (M, J)
        Starting points (the encoder's posterior means are a good choice).
    n_samples : int
        S, samples kept per chain after burn-in.
    n_leapfrog : int
        Leapfrog steps per iteration (4 in the paper's Appendix D, 10 in Appendix E).
    step_size : float or ndarray (M,)
        Initial step size.
    burn_in : int
        Iterations during which the step size is tuned and nothing is kept.
    target_accept : float
        Acceptance rate the tuning aims at.
    thin : int
        Keep every ``thin``-th iteration after burn-in.

    Returns
    -------
    HMCResult
    """
    rng = np.random.default_rng(rng)
    z = np.asarray(z0)
    z = z.astype(np.float64) if z.dtype.kind != "f" else z.copy()
    M = z.shape[0]
    log_eps = np.log(np.broadcast_to(np.asarray(step_size, np.float64), (M,))).copy()
    mu, h_bar, log_eps_bar = np.log(10.0) + log_eps, np.zeros(M), log_eps.copy()
    logp, grad = log_prob_and_grad(z)
    samples = np.empty((n_samples,) + z.shape, z.dtype)
    accepted = np.zeros(M)
    kept, t, n_after = 0, 0, 0
    while kept < n_samples:
        p = rng.standard_normal(z.shape).astype(z.dtype, copy=False)
        u = rng.random(M)
        z, logp, grad, a, accept = transition(log_prob_and_grad, z, logp, grad, np.exp(log_eps),
                                              p, u, n_leapfrog)
        if t < burn_in:                                   # dual averaging (docstring)
            n = t + 1
            h_bar += ((target_accept - a) - h_bar) / (n + 10.0)
            log_eps = mu - np.sqrt(n) / 0.05 * h_bar
            w = n ** -0.75
            log_eps_bar = w * log_eps + (1 - w) * log_eps_bar
            if n == burn_in:
                log_eps = log_eps_bar.copy()
        else:
            accepted += accept
            n_after += 1
            if (t - burn_in) % thin == 0:
                samples[kept] = z
                kept += 1
        t += 1
    return HMCResult(samples, accepted / n_after, np.exp(log_eps))
