"""Checks of exercises 1-6: the layers, the densities, the KL and the reparameterization.

Every backward is compared with central differences in float64 (small odd
shapes, a random upstream gradient, non-degenerate inputs). Every forward is
compared with a quantity computed another way: the paper's formula written
directly, a numerical integral, or a Monte Carlo average, because a gradient
check cannot catch a wrong forward.
"""
import numpy as np

from .registry import check, compare, fail, gradient

OVERFLOW = ("Overflow for large logits: exp(l) overflows for l > 709, and log(sigmoid(l)) "
            "is log(0) once sigmoid rounds to 0 or 1. Write log(1 + exp(l)) as "
            "max(l, 0) + log1p(exp(-|l|)).")


def _rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- 1. linear
@check("linear")
def backward_matches_finite_differences(aevb):
    rng = _rng(1)
    x = rng.standard_normal((2, 3, 5))              # leading axes (L, M), as the decoder uses
    W = rng.standard_normal((5, 4))
    b = rng.standard_normal(4)
    dout = rng.standard_normal((2, 3, 4))
    _, cache = aevb.core.layers.linear_forward(x, W, b)
    dx, dW, db = aevb.core.layers.linear_backward(dout, cache)

    def f():
        return float(np.sum(aevb.core.layers.linear_forward(x, W, b)[0] * dout))
    gradient("linear", "dx", f, x, dx)
    gradient("linear", "dW", f, W, dW, factors={1 / 6: "the mean over the 6 rows instead of the sum"},
             ### BEGIN HIDDEN TESTS
             hint="every row of x contributes x_row^T dout_row to dW",
             ### END HIDDEN TESTS
             )
    gradient("linear", "db", f, b, db, factors={1 / 6: "the mean over the 6 rows instead of the sum"},
             ### BEGIN HIDDEN TESTS
             hint="b is added to every row, so db sums dout over all rows",
             ### END HIDDEN TESTS
             )


### BEGIN HIDDEN TESTS
@check("linear")
def need_dx_false_skips_dx(aevb):
    rng = _rng(2)
    x, W, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((3, 2))
    _, cache = aevb.core.layers.linear_forward(x, W, b)
    dx, dW, db = aevb.core.layers.linear_backward(dout, cache, need_dx=False)
    if dx is not None:
        fail("linear", "dx with need_dx=False", "should be None (the encoder's input is data)")
    compare("linear", "dW with need_dx=False", dW, x.T @ dout)
### END HIDDEN TESTS


# ---------------------------------------------------------------- 2. tanh
@check("tanh")
def tanh_backward_matches_finite_differences(aevb):
    rng = _rng(3)
    x = rng.uniform(-2, 2, (3, 7))
    dout = rng.standard_normal((3, 7))
    h, cache = aevb.core.layers.tanh_forward(x)
    dx = aevb.core.layers.tanh_backward(dout, cache)

    def f():
        return float(np.sum(aevb.core.layers.tanh_forward(x)[0] * dout))
    gradient("tanh", "dx", f, x, dx,
             ### BEGIN HIDDEN TESTS
             alternatives=[
        ("tanh applied twice: the cache already holds h = tanh(x), so d tanh/dx = 1 - h^2",
         dout * (1 - np.tanh(h) ** 2)),
        ("1 - h instead of 1 - h^2", dout * (1 - h)),
        ("1 - x^2: the derivative is 1 - tanh(x)^2, in terms of the output h", dout * (1 - x * x))],
             ### END HIDDEN TESTS
             )


# ---------------------------------------------------------------- 3. Bernoulli
### BEGIN HIDDEN TESTS
def _paper_bernoulli(x, logits):
    """Appendix C.1 as written: sum_i x_i log y_i + (1 - x_i) log(1 - y_i), y = sigmoid(l)."""
    y = 1.0 / (1.0 + np.exp(-logits))
    return np.sum(x * np.log(y) + (1 - x) * np.log(1 - y), axis=-1)


@check("bernoulli")
def bernoulli_forward_matches_appendix_c1(aevb):
    rng = _rng(4)
    x = (rng.random((4, 6)) < 0.5).astype(float)
    x[0] = rng.random(6)                            # grey levels are allowed too
    logits = rng.uniform(-4, 4, (2, 4, 6))          # (L, M, D), moderate: the formula is exact here
    out, _ = aevb.core.distributions.bernoulli_log_likelihood_forward(x, logits)
    want = _paper_bernoulli(x, logits)
    compare("bernoulli", "log p(x|z), shape (L, M)", out, want, tol=1e-10, alternatives=[
        ("x and 1 - x swapped", _paper_bernoulli(1 - x, logits)),
        ("the sum over pixels is missing a term or is a mean", want / 6)],
        hint="log p(x|z) = sum_i x_i l_i - log(1 + exp(l_i)); it is <= 0 for binary x")
### END HIDDEN TESTS


@check("bernoulli")
def bernoulli_stable_for_large_logits(aevb):
    logits = np.array([[800.0, -800.0, 40.0, -40.0, 710.0, -710.0]])
    x = np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0]])
    # per element: x l - softplus(l), with softplus(l) = l for l >> 0 and exp(l) for l << 0
    want = np.array([-80.0 - 2 * np.log1p(np.exp(-40.0))])
    out, cache = aevb.core.distributions.bernoulli_log_likelihood_forward(x, logits)
    compare("bernoulli", "log p(x|z) at logits of +-40, +-710, +-800", out, want, tol=1e-12,
            nonfinite_hint=OVERFLOW, hint=OVERFLOW)
    ### BEGIN HIDDEN TESTS
    dlogits = aevb.core.distributions.bernoulli_log_likelihood_backward(np.ones(1), cache)
    sig = 0.5 * (1.0 + np.tanh(0.5 * logits))      # sigmoid, computed without exp
    compare("bernoulli", "dlogits at large |logits|", dlogits, x - sig, tol=1e-12,
            nonfinite_hint=OVERFLOW, hint=OVERFLOW)
    ### END HIDDEN TESTS


@check("bernoulli")
def bernoulli_backward_matches_finite_differences(aevb):
    rng = _rng(5)
    x = (rng.random((4, 5)) < 0.5).astype(float)
    logits = rng.uniform(-3, 3, (3, 4, 5))
    dout = rng.standard_normal((3, 4))
    _, cache = aevb.core.distributions.bernoulli_log_likelihood_forward(x, logits)
    dlogits = aevb.core.distributions.bernoulli_log_likelihood_backward(dout, cache)

    def f():
        return float(np.sum(aevb.core.distributions.bernoulli_log_likelihood_forward(x, logits)[0] * dout))
    gradient("bernoulli", "dlogits", f, logits, dlogits,
             ### BEGIN HIDDEN TESTS
             hint="d/dl [x l - log(1 + exp(l))] = x - sigmoid(l), times the upstream dout",
             ### END HIDDEN TESTS
             )


# ---------------------------------------------------------------- 4. Gaussian
### BEGIN HIDDEN TESTS
def _textbook_gaussian(x, mean, var):
    """log N(x; mean, var) = sum -1/2 log(2 pi var) - (x - mean)^2 / (2 var), var given directly."""
    return np.sum(-0.5 * np.log(2 * np.pi * var) - (x - mean) ** 2 / (2 * var), axis=-1)


def _gaussian_slots(d2, log_term, inv_var_term):
    """-1/2 sum (log 2 pi + log_term + d2 inv_var_term): the formula with chosen slots filled."""
    return np.sum(-0.5 * (np.log(2 * np.pi) + log_term + d2 * inv_var_term), axis=-1)


@check("gaussian")
def gaussian_forward_matches_density(aevb):
    rng = _rng(6)
    x = rng.standard_normal((2, 3, 5))              # (L, M, D) against mean, logvar (M, D)
    mean = rng.standard_normal((3, 5))
    logvar = rng.uniform(-2, 2, (3, 5))
    out, _ = aevb.core.distributions.gaussian_log_likelihood_forward(x, mean, logvar)
    var = np.exp(logvar)
    d2 = (x - mean) ** 2
    compare("gaussian", "log N(x; mean, exp(logvar)), shape (L, M)", out,
            _textbook_gaussian(x, mean, var), tol=1e-10, alternatives=[
                ("standard deviation where log-variance is meant: exp(logvar) used as sigma",
                 _textbook_gaussian(x, mean, var ** 2)),
                ("exp(logvar / 2), the standard deviation, used as the variance",
                 _textbook_gaussian(x, mean, np.sqrt(var))),
                ("a missing 1/2 in front of log(2 pi sigma^2)",
                 np.sum(-np.log(2 * np.pi * var) - d2 / (2 * var), axis=-1)),
                ("a missing 1/2 in front of (x - mean)^2 / sigma^2",
                 np.sum(-0.5 * np.log(2 * np.pi * var) - d2 / var, axis=-1)),
                ("the log 2 pi constant is missing",
                 np.sum(-0.5 * logvar - d2 / (2 * var), axis=-1)),
                # one slot wrong, the other right: -1/2 (log 2 pi + [logvar] + d^2 [exp(-logvar)])
                ("log sigma (logvar / 2) in the log term only, where log sigma^2 = logvar belongs",
                 _gaussian_slots(d2, logvar / 2, 1 / var)),
                ("sigma (exp(logvar / 2)) in the quadratic term only: (x - mean)^2 / sigma "
                 "where (x - mean)^2 / sigma^2 belongs", _gaussian_slots(d2, logvar, 1 / np.sqrt(var))),
                ("exp(logvar) used as sigma in the log term only: 2 logvar where logvar belongs",
                 _gaussian_slots(d2, 2 * logvar, 1 / var)),
                ("exp(logvar) used as sigma in the quadratic term only: (x - mean)^2 / exp(2 logvar)",
                 _gaussian_slots(d2, logvar, 1 / var ** 2)),
                ("(x - mean)^2 times exp(logvar) instead of divided by it: exp(-logvar) is 1 / sigma^2",
                 _gaussian_slots(d2, logvar, var))],
            hint="log N = -1/2 sum_j [log 2 pi + logvar_j + (x_j - mean_j)^2 exp(-logvar_j)]")
### END HIDDEN TESTS


@check("gaussian")
def gaussian_density_integrates_to_one(aevb):
    t = np.linspace(-40.0, 40.0, 80001)[:, None]    # a 1-D density on a fine grid
    out, _ = aevb.core.distributions.gaussian_log_likelihood_forward(t, np.array([0.7]),
                                                                np.array([1.3]))
    total = float(np.sum(np.exp(out)) * (t[1, 0] - t[0, 0]))
    compare("gaussian", "the integral of exp(log N(x; 0.7, exp(1.3))) over x", total, 1.0,
            tol=1e-6,
            ### BEGIN HIDDEN TESTS
            alternatives=[
                ("the log 2 pi constant is missing", np.sqrt(2 * np.pi)),
                # the integrals of the one-slot mistakes of gaussian_forward_matches_density
                ("log sigma (logvar / 2) in the log term only, where log sigma^2 = logvar belongs",
                 np.exp(1.3 / 4)),
                ("sigma (exp(logvar / 2)) in the quadratic term only: (x - mean)^2 / sigma "
                 "where (x - mean)^2 / sigma^2 belongs", np.exp(-1.3 / 4)),
                ("(x - mean)^2 times exp(logvar) instead of divided by it: exp(-logvar) is 1 / sigma^2",
                 np.exp(-1.3))],
            ### END HIDDEN TESTS
            hint="a density integrates to 1: check the normalizing constant")


@check("gaussian")
def gaussian_backward_matches_finite_differences(aevb):
    rng = _rng(7)
    x = rng.standard_normal((2, 3, 4))
    mean = rng.standard_normal((3, 4))
    logvar = rng.uniform(-1.5, 1.5, (3, 4))
    dout = rng.standard_normal((2, 3))
    _, cache = aevb.core.distributions.gaussian_log_likelihood_forward(x, mean, logvar)
    dx, dmean, dlogvar = aevb.core.distributions.gaussian_log_likelihood_backward(dout, cache)

    def f():
        return float(np.sum(aevb.core.distributions.gaussian_log_likelihood_forward(x, mean, logvar)[0]
                            * dout))
    hint = "mean and logvar were broadcast over the L axis of x: sum their gradients over it"
    gradient("gaussian", "dx", f, x, dx)
    gradient("gaussian", "dmean", f, mean, dmean, hint=hint)
    gradient("gaussian", "dlogvar", f, logvar, dlogvar, hint=hint
             ### BEGIN HIDDEN TESTS
             + "; d/dlogvar of -1/2 [logvar + d^2 exp(-logvar)] = 1/2 (d^2 exp(-logvar) - 1)"
             ### END HIDDEN TESTS
             )


# ---------------------------------------------------------------- 5. KL
def _kl_by_integration(mean, var):
    """KL(N(mean, var) || N(0, 1)) per coordinate by the trapezoid rule on +-10 sd.

    The integrand is smooth and decays like a Gaussian, so the trapezoid rule
    with steps of sd / 20 is exact to rounding error.
    """
    sd = np.sqrt(var)
    u = np.linspace(-10.0, 10.0, 401)                 # in units of sd around the mean
    z = mean[..., None] + sd[..., None] * u           # (..., 4001)
    log_q = -0.5 * u ** 2 - np.log(sd[..., None]) - 0.5 * np.log(2 * np.pi)
    log_p = -0.5 * z ** 2 - 0.5 * np.log(2 * np.pi)
    integrand = np.exp(log_q) * (log_q - log_p)
    return np.sum(0.5 * (integrand[..., 1:] + integrand[..., :-1]) * np.diff(z, axis=-1), axis=-1)


### BEGIN HIDDEN TESTS
def _kl_slots(log_term, mean_term, var_term, one=1.0):
    """KL = -1/2 sum_j (1 + log_term - mean_term - var_term): Appendix B with chosen slots."""
    return -0.5 * np.sum(one + log_term - mean_term - var_term, axis=-1)
### END HIDDEN TESTS


@check("kl")
def kl_forward_matches_numerical_integral(aevb):
    rng = _rng(8)
    mean = rng.standard_normal((4, 3))
    logvar = rng.uniform(-1.5, 1.5, (4, 3))
    kl, _ = aevb.core.distributions.kl_standard_normal_forward(mean, logvar)
    var = np.exp(logvar)
    compare("kl", "KL(q || p), shape (M,)", kl, _kl_by_integration(mean, var).sum(-1), tol=1e-8,
            factors={-1.0: "the wrong sign: Appendix B gives -KL; this function returns KL >= 0"},
            ### BEGIN HIDDEN TESTS
            alternatives=[
                ("standard deviation where log-variance is meant: exp(logvar) used as sigma",
                 _kl_by_integration(mean, var ** 2).sum(-1)),
                ("exp(logvar / 2), the standard deviation, used as the variance",
                 _kl_by_integration(mean, np.sqrt(var)).sum(-1)),
                # one slot of Appendix B wrong, the others right (the closed form: a mistaken
                # value need not be computed independently)
                ("sigma (exp(logvar / 2)) in the exp(logvar) term only, where sigma^2 belongs",
                 _kl_slots(logvar, mean * mean, np.sqrt(var))),
                ("log sigma (logvar / 2) in the logvar term only, where log sigma^2 = logvar belongs",
                 _kl_slots(logvar / 2, mean * mean, var)),
                ("exp(logvar) used as sigma in the exp(logvar) term only: its square exp(2 logvar) "
                 "where exp(logvar) belongs", _kl_slots(logvar, mean * mean, var ** 2)),
                ("exp(logvar) used as sigma in the logvar term only: 2 logvar where logvar belongs",
                 _kl_slots(2 * logvar, mean * mean, var)),
                ("mean instead of mean^2", _kl_slots(logvar, mean, var)),
                ("the constant 1 is missing: 1/2 sum_j (1 + logvar_j - ...)",
                 _kl_slots(logvar, mean * mean, var, one=0.0))],
            hint="-KL = 1/2 sum_j (1 + logvar_j - mean_j^2 - exp(logvar_j)) (Appendix B)",
            ### END HIDDEN TESTS
            )


@check("kl")
def kl_backward_matches_finite_differences(aevb):
    rng = _rng(9)
    mean = rng.standard_normal((5, 3))
    logvar = rng.uniform(-1.5, 1.5, (5, 3))
    dout = rng.standard_normal(5)
    _, cache = aevb.core.distributions.kl_standard_normal_forward(mean, logvar)
    dmean, dlogvar = aevb.core.distributions.kl_standard_normal_backward(dout, cache)

    def f():
        return float(np.sum(aevb.core.distributions.kl_standard_normal_forward(mean, logvar)[0] * dout))
    gradient("kl", "dmean", f, mean, dmean)
    gradient("kl", "dlogvar", f, logvar, dlogvar,
             ### BEGIN HIDDEN TESTS
             alternatives=[
        ("the derivative in the variance, not in the log-variance (chain rule: d var/d logvar = var)",
         dout[:, None] * 0.5 * (1 - 1 / np.exp(logvar)))],
             ### END HIDDEN TESTS
             )


# ---------------------------------------------------------------- 6. reparameterization
### BEGIN HIDDEN TESTS
@check("reparameterize")
def z_is_mean_plus_sigma_eps(aevb):
    rng = _rng(10)
    mean = rng.standard_normal((3, 4))
    logvar = rng.uniform(-2, 2, (3, 4))
    eps = rng.standard_normal((2, 3, 4))            # L = 2 samples
    z, _ = aevb.core.distributions.reparameterize_forward(mean, logvar, eps)
    compare("reparameterize", "z = mean + sigma * eps, shape (L, M, J)", z,
            mean + np.sqrt(np.exp(logvar)) * eps, tol=1e-10, alternatives=[
                ("standard deviation where log-variance is meant: exp(logvar) is the variance, "
                 "sigma = exp(logvar / 2) (a missing 1/2)", mean + np.exp(logvar) * eps),
                ("logvar used as the standard deviation", mean + logvar * eps),
                ("log sigma (logvar / 2) used as the standard deviation: sigma = exp(logvar / 2)",
                 mean + logvar / 2 * eps),
                ("exp(-logvar / 2) = 1 / sigma used as the standard deviation (the sign of the "
                 "exponent)", mean + np.exp(-logvar / 2) * eps),
                ("z = mean: the noise is ignored", np.broadcast_to(mean, eps.shape))])
### END HIDDEN TESTS


@check("reparameterize")
def z_has_the_posterior_moments(aevb):
    """Monte Carlo: over many eps, z has mean ``mean`` and variance exp(logvar)."""
    rng = _rng(11)
    mean = np.array([[0.5, -1.0, 2.0]])
    logvar = np.array([[-1.0, 0.3, 1.2]])
    n = 20000
    eps = rng.standard_normal((n, 1, 3))
    z, _ = aevb.core.distributions.reparameterize_forward(mean, logvar, eps)
    z = np.asarray(z).reshape(n, 3)
    var = np.exp(logvar[0])
    se_var = var * np.sqrt(2.0 / n)                 # standard error of a sample variance
    worst = np.abs(z.var(axis=0) - var) / se_var
    j = int(np.argmax(worst))
    if worst[j] > 6:
        fail("reparameterize", f"Monte Carlo variance of z[:, {j}] over {n} draws",
             f"{z.var(axis=0)[j]:.4g}, but q(z|x) has variance exp(logvar) = {var[j]:.4g} "
             f"({worst[j]:.0f} standard errors away). Standard deviation where log-variance "
             f"is meant? sigma = exp(logvar / 2).")
    se_mean = np.sqrt(var / n)
    worst = np.abs(z.mean(axis=0) - mean[0]) / se_mean
    j = int(np.argmax(worst))
    if worst[j] > 6:
        fail("reparameterize", f"Monte Carlo mean of z[:, {j}]",
             f"{z.mean(axis=0)[j]:.4g}, expected {mean[0, j]:.4g}")


@check("reparameterize")
def reparameterize_backward_matches_finite_differences(aevb):
    rng = _rng(12)
    mean = rng.standard_normal((3, 4))
    logvar = rng.uniform(-1.5, 1.5, (3, 4))
    eps = rng.standard_normal((2, 3, 4))
    dz = rng.standard_normal((2, 3, 4))
    _, cache = aevb.core.distributions.reparameterize_forward(mean, logvar, eps)
    dmean, dlogvar = aevb.core.distributions.reparameterize_backward(dz, cache)

    def f():
        return float(np.sum(aevb.core.distributions.reparameterize_forward(mean, logvar, eps)[0] * dz))
    factors = {0.5: "the mean over the L = 2 samples instead of the sum (each z_l uses the same "
                    "mean and logvar), or a 1/2 too many"}
    gradient("reparameterize", "dmean", f, mean, dmean, factors=factors)
    gradient("reparameterize", "dlogvar", f, logvar, dlogvar, factors=factors,
             ### BEGIN HIDDEN TESTS
             alternatives=[
        ("the factor sigma is missing: d sigma / d logvar = sigma / 2, so d z / d logvar = "
         "sigma eps / 2, not eps / 2", 0.5 * (dz * eps).sum(axis=0))],
             hint="d z_l / d logvar = sigma eps_l / 2, summed over the L samples",
             ### END HIDDEN TESTS
             )
