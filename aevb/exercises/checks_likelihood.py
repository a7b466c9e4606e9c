"""Checks of exercise 10: the importance-sampled log p(x), against exact integration.

With a 2-D latent space, ``aevb.inference.likelihood.grid`` integrates p(x|z) p(z) over
a fine grid, so the estimate has an almost exact reference; a second model
whose log p(x|z) is near -2400 nats shows whether the weights are summed with
log-sum-exp.
"""
import numpy as np

from .checks_models import _model
from .checks_primitives import _textbook_gaussian
from .registry import check, compare, diagnose, fail


# ---------------------------------------------------------------- 10. importance sampling
def _is_model(aevb, seed, bias=0.0):
    enc, dec, x, _ = _model(aevb, seed=seed, d=6, h=4, j=2, m=3, std=0.4)
    if bias:
        x[:] = 1.0
    dec.b_logits += bias                           # bias -400: log p(x|z) near -2400 nats
    return enc, dec, x


def _is_diagnosis(aevb, enc, dec, x, got, want, K):
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
    return diagnose(np.asarray(got, float), want)


def rel_close(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= 1e-8 * (np.abs(a) + np.abs(b))))


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
        fail("importance_sampling", f"log p(x) {what}",
             f"worst datapoint [{i}]: got {got[i]:.6g}, the integral over a grid gives "
             f"{want[i]:.6g} (off by {err[i]:.3g} nats > {tol}).\n  "
             + _is_diagnosis(aevb, enc, dec, x, got, want, K))
    return est


@check("importance_sampling")
def is_agrees_with_exact_integral(aevb):
    enc, dec, x = _is_model(aevb, seed=40)
    est = _is_against_grid(aevb, enc, dec, x, 4000, 0.05, "(K = 4000, 2-D latent space)", seed=41)
    se = np.asarray(est.stderr, float)
    if se.shape != (3,) or not np.all(np.isfinite(se)) or not np.all(se > 0):
        fail("importance_sampling", "stderr", f"{se} must be finite and positive, one per "
             "datapoint: std(w) / (sqrt(K) mean(w))")


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
             f"stderr = std(w) / (sqrt(K) mean(w)) with w the importance weights")
