"""Checks of exercise 10: the importance-sampled log p(x), against exact integration.

With a 2-D latent space, ``aevb.inference.likelihood.grid`` integrates p(x|z) p(z) over
a fine grid, so the estimate has an almost exact reference; a second model
whose log p(x|z) is near -2400 nats shows whether the weights are summed with
log-sum-exp. The diagnoses (the mistaken estimators, computed) are hidden tests.
"""
import numpy as np

from .checks_models import _model
### BEGIN HIDDEN TESTS
from .checks_primitives import _textbook_gaussian
### END HIDDEN TESTS
from .registry import check, compare, diagnose, fail


# ---------------------------------------------------------------- 10. importance sampling
def _is_model(aevb, seed, bias=0.0):
    enc, dec, x, _ = _model(aevb, seed=seed, d=6, h=4, j=2, m=3, std=0.4)
    if bias:
        x[:] = 1.0
    dec.b_logits += bias                           # bias -400: log p(x|z) near -2400 nats
    return enc, dec, x


STDERR = "its delta-method standard error"
### BEGIN HIDDEN TESTS
STDERR = "std(w) / (sqrt(K) mean(w)) with w the importance weights"
IS_ELBO = ("the mean of log w, the ELBO-like average of estimator A, instead of log mean w: "
           "log p(x) ~ logsumexp_k log w_k - log K")
IS_FROM_PRIOR = ("z drawn from the prior p(z) but weighted as if drawn from q(z|x), "
                 "log w = log p(x, z) - log q(z|x) with z ~ p(z): draw z_k = mean + sigma eps_k")
IS_WITHOUT_LOG_Q = "the -log q(z_k|x) term is missing from log w = log p(x, z_k) - log q(z_k|x)"
IS_WITHOUT_LOG_PZ = ("log p(z_k) is missing from log w: log p(x, z_k) = log p(x|z_k) + log p(z_k), "
                     "then minus log q(z_k|x)")


def _lme(log_w):
    """log mean exp over axis 0, and its delta-method standard error std(w) / (sqrt(K) mean(w))."""
    K = log_w.shape[0]
    w = np.exp(log_w - log_w.max(axis=0))
    return np.log(w.mean(0)) + log_w.max(axis=0), w.std(0) / (np.sqrt(K) * w.mean(0))


def _is_mistakes(aevb, enc, dec, x, K, seed):
    """Known mistakes of importance_sampled: ``(label, value (M,), tolerance in nats)``.

    Each mistake is computed twice. With the draws ``default_rng(seed).standard_normal((K, M,
    J))``, those the reference and the plain way of writing it take from ``rng``: a student who
    draws so and makes the mistake gets the same numbers to rounding (tolerance 1e-6 nats). And,
    for the three mistakes whose expectation is finite, the limit of the mistaken estimator as
    K grows, by integration over the grid: a student who draws the noise another way gets it to
    within the Monte Carlo error, so the tolerance is max(0.05, 5 standard errors) (the right
    answer's own is 0.05). Such a value is offered only when it lies more than three of its
    tolerances from log p(x), on every datapoint. Without log p(z) the weights p(x|z) / q(z|x)
    have an infinite mean (p(x|z) does not decay in z), so that one has no limit to offer.
    """
    L = aevb.inference.likelihood
    (mean, logvar), _ = aevb.core.networks.gaussian_mlp_forward(enc, x)
    M, J = mean.shape
    sigma = np.exp(0.5 * logvar)

    def log_q(z):
        return -0.5 * ((((z - mean) / sigma) ** 2).sum(-1) + logvar.sum(-1) + J * np.log(2 * np.pi))

    def log_pz(z):
        return -0.5 * ((z * z).sum(-1) + J * np.log(2 * np.pi))

    eps = np.random.default_rng(seed).standard_normal((K, M, J))
    z = mean + sigma * eps
    log_pxz = L.log_joint(dec, x, z)                                   # log p(x, z_k), (K, M)
    lq = -0.5 * ((eps * eps).sum(-1) + logvar.sum(-1) + J * np.log(2 * np.pi))
    log_w = log_pxz - lq
    from_prior = L.log_joint(dec, x, eps) - log_q(eps)                  # z_k = eps_k ~ p(z)
    elbo_se = log_w.std(0) / np.sqrt(K)
    prior_lme, prior_se = _lme(from_prior)
    noq_lme, noq_se = _lme(log_pxz)
    out = [(IS_ELBO, log_w.mean(0), 1e-6), (IS_FROM_PRIOR, prior_lme, 1e-6),
           (IS_WITHOUT_LOG_Q, noq_lme, 1e-6), (IS_WITHOUT_LOG_PZ, _lme(log_w - log_pz(z))[0], 1e-6)]

    u = np.arange(-10.0, 10.0, 0.05) + 0.025                            # midpoints, J = 2
    zg = np.stack(np.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 1, J)
    zg = np.broadcast_to(zg, (zg.shape[0], M, J)).copy()               # (G, M, J)
    lpxz, lqg, lpg = L.log_joint(dec, x, zg), log_q(zg), log_pz(zg)
    dA = 0.05 ** 2

    def log_integral(log_f):
        return _logsumexp0(log_f) + np.log(dA)
    qw = np.exp(lqg - _logsumexp0(lqg))                                 # q on the grid, summing to 1
    limits = [(IS_ELBO, (qw * (lpxz - lqg)).sum(0), elbo_se),
              (IS_WITHOUT_LOG_Q, log_integral(lqg + lpxz), noq_se)]
    if np.all(np.exp(logvar) > 2 / 3):          # E_p[(p / q)^2] finite: the estimator settles
        limits.append((IS_FROM_PRIOR, log_integral(lpg + lpxz - lqg), prior_se))
    want = L.grid(dec, x)
    for label, value, se in limits:
        tol = np.maximum(0.05, 5 * se)
        if np.all(np.abs(value - want) > 3 * tol):
            out.append((label, value, tol))
    return out


def _logsumexp0(a):
    m = a.max(axis=0)
    return m + np.log(np.exp(a - m).sum(axis=0))


def _is_diagnosis(aevb, enc, dec, x, got, want, K, seed):
    d = np.asarray(got) - want
    (mean, logvar), _ = aevb.core.networks.gaussian_mlp_forward(enc, x)
    at_mean = aevb.inference.likelihood.log_joint(dec, x, mean) - _textbook_gaussian(mean, mean, np.exp(logvar))
    if rel_close(got, at_mean):
        return ("looks like: z = mean when scoring: every sample sits at the posterior mean, so the "
                "estimate is log p(x, mean) - log q(mean|x); draw z_k = mean + sigma eps_k")
    if np.all(np.abs(d - np.log(K)) < 0.1):
        return "looks like: the -log K is missing: the average of K weights is their sum / K"
    if np.all(np.abs(d + np.log(K)) < 0.1):
        return "looks like: log K subtracted twice"
    found = []
    for label, value, tol in _is_mistakes(aevb, enc, dec, x, K, seed):
        if label not in found and np.all(np.abs(np.asarray(got, float) - value) < tol):
            found.append(label)
    if found:
        return "looks like: " + "; or ".join(found)
    return diagnose(np.asarray(got, float), want)


def rel_close(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= 1e-8 * (np.abs(a) + np.abs(b))))
### END HIDDEN TESTS


def _is_against_grid(aevb, enc, dec, x, K, tol, what, seed):
    est = aevb.inference.likelihood.importance_sampled(enc, dec, x, n_samples=K, rng=seed)
    got = np.asarray(est.log_px, float)
    want = aevb.inference.likelihood.grid(dec, x)
    hint = ("Underflow: exp(log w) is 0 when log w is near -2400. Subtract the largest log-weight "
            "before exponentiating (log-sum-exp).")
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        compare("importance_sampling", f"log p(x) {what}", got, want, nonfinite_hint=hint)
    err = np.abs(got - want)
    i = int(np.argmax(err))
    if not err[i] < tol:
        diagnosis = "compare your code with the estimator term by term"
        ### BEGIN HIDDEN TESTS
        diagnosis = _is_diagnosis(aevb, enc, dec, x, got, want, K, seed)
        ### END HIDDEN TESTS
        fail("importance_sampling", f"log p(x) {what}",
             f"worst datapoint [{i}]: got {got[i]:.6g}, the integral over a grid gives "
             f"{want[i]:.6g} (off by {err[i]:.3g} nats > {tol}).\n  " + diagnosis)
    return est


@check("importance_sampling")
def is_agrees_with_exact_integral(aevb):
    enc, dec, x = _is_model(aevb, seed=40)
    est = _is_against_grid(aevb, enc, dec, x, 4000, 0.05, "(K = 4000, 2-D latent space)", seed=41)
    se = np.asarray(est.stderr, float)
    if se.shape != (3,) or not np.all(np.isfinite(se)) or not np.all(se > 0):
        fail("importance_sampling", "stderr", f"{se} must be finite and positive, one per "
             f"datapoint: {STDERR}")


@check("importance_sampling")
def is_uses_log_sum_exp(aevb):
    enc, dec, x = _is_model(aevb, seed=42, bias=-400.0)
    _is_against_grid(aevb, enc, dec, x, 2000, 0.05, "when log p(x|z) is near -2400 nats", seed=43)


@check("importance_sampling")
def is_stderr_matches_the_spread(aevb):
    """Monte Carlo: the reported standard error is close to the spread of repeated estimates."""
    enc, dec, x = _is_model(aevb, seed=44)
    runs = [aevb.inference.likelihood.importance_sampled(enc, dec, x, n_samples=100, rng=s) for s in range(30)]
    spread = np.std([r.log_px for r in runs], axis=0, ddof=1)
    reported = np.mean([r.stderr for r in runs], axis=0)
    ratio = reported / spread
    i = int(np.argmax(np.abs(np.log(ratio))))
    if not 0.5 < ratio[i] < 2.0:
        fail("importance_sampling", f"stderr of datapoint {i} (K = 100, 30 repeats)",
             f"reported {reported[i]:.3g} but the estimates spread by {spread[i]:.3g}: "
             f"stderr is {STDERR}")
