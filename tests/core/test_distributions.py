"""Backward checks and independent forward checks for aevb.core.distributions."""
import math

import numpy as np
import pytest

from aevb.core import distributions as dist
from aevb.core.gradcheck import check_gradient


@pytest.fixture
def rng():
    return np.random.default_rng(99)


def test_bernoulli_log_likelihood_matches_explicit_formula(rng):
    x = (rng.random((5, 7)) < 0.5).astype(float)
    x[0] = rng.random(7)                         # grey levels are allowed too
    logits = rng.normal(scale=3, size=(2, 5, 7))
    out, _ = dist.bernoulli_log_likelihood_forward(x, logits)
    y = 1 / (1 + np.exp(-logits))
    expected = (x * np.log(y) + (1 - x) * np.log(1 - y)).sum(-1)   # Appendix C.1
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_bernoulli_log_likelihood_float32_matches_float64(rng):
    x = (rng.random((5, 7)) < 0.5).astype(np.float32)
    logits = rng.normal(scale=3, size=(2, 5, 7)).astype(np.float32)
    out, cache = dist.bernoulli_log_likelihood_forward(x, logits)
    out64, cache64 = dist.bernoulli_log_likelihood_forward(x.astype(float), logits.astype(float))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, out64, rtol=1e-6)
    dout = rng.normal(size=(2, 5))
    g = dist.bernoulli_log_likelihood_backward(dout.astype(np.float32), cache)
    g64 = dist.bernoulli_log_likelihood_backward(dout, cache64)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, g64, rtol=1e-6, atol=1e-7)


def test_bernoulli_log_likelihood_is_finite_for_huge_logits():
    x = np.array([[1.0, 0.0, 1.0, 0.0]])
    logits = np.array([[800.0, -800.0, -800.0, 800.0]])
    out, _ = dist.bernoulli_log_likelihood_forward(x, logits)
    np.testing.assert_allclose(out, [-1600.0])


def test_bernoulli_backward(rng):
    x = (rng.random((5, 7)) < 0.5).astype(float)
    logits, dout = rng.normal(size=(3, 5, 7)), rng.normal(size=(3, 5))
    _, cache = dist.bernoulli_log_likelihood_forward(x, logits)
    f = lambda: float(np.sum(dist.bernoulli_log_likelihood_forward(x, logits)[0] * dout))
    check_gradient(f, logits, dist.bernoulli_log_likelihood_backward(dout, cache), "dlogits")


def test_gaussian_log_likelihood_matches_explicit_formula(rng):
    x, mean, logvar = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    out, _ = dist.gaussian_log_likelihood_forward(x, mean, logvar)
    sd = np.exp(0.5 * logvar)
    expected = np.array([sum(-math.log(sd[i, j] * math.sqrt(2 * math.pi))
                             - (x[i, j] - mean[i, j]) ** 2 / (2 * sd[i, j] ** 2)
                             for j in range(3)) for i in range(5)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("x_shape,param_shape", [((5, 3), (5, 3)), ((2, 5, 3), (5, 3)),
                                                 ((2, 5, 3), (1, 3))])
def test_gaussian_backward_with_broadcasting(rng, x_shape, param_shape):
    """Catches: a broadcast gradient not summed back over leading or size-1 axes."""
    x = rng.normal(size=x_shape)
    mean, logvar = rng.normal(size=param_shape), rng.normal(scale=0.5, size=param_shape)
    dout = rng.normal(size=x_shape[:-1])
    _, cache = dist.gaussian_log_likelihood_forward(x, mean, logvar)
    dx, dmean, dlogvar = dist.gaussian_log_likelihood_backward(dout, cache)
    f = lambda: float(np.sum(dist.gaussian_log_likelihood_forward(x, mean, logvar)[0] * dout))
    check_gradient(f, x, dx, "dx")
    check_gradient(f, mean, dmean, "dmean")
    check_gradient(f, logvar, dlogvar, "dlogvar")


def test_standard_normal_log_density(rng):
    z, dout = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5))
    out, cache = dist.standard_normal_log_density_forward(z)
    ref, _ = dist.gaussian_log_likelihood_forward(z, 0.0 * z, 0.0 * z)
    np.testing.assert_allclose(out, ref, rtol=1e-13)
    f = lambda: float(np.sum(dist.standard_normal_log_density_forward(z)[0] * dout))
    check_gradient(f, z, dist.standard_normal_log_density_backward(dout, cache), "dz")


def test_kl_backward(rng):
    mean, logvar, dout = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=5)
    _, cache = dist.kl_standard_normal_forward(mean, logvar)
    dmean, dlogvar = dist.kl_standard_normal_backward(dout, cache)
    f = lambda: float(np.sum(dist.kl_standard_normal_forward(mean, logvar)[0] * dout))
    check_gradient(f, mean, dmean, "dmean")
    check_gradient(f, logvar, dlogvar, "dlogvar")


def test_kl_matches_monte_carlo_average(rng):
    """Appendix B in closed form against E_q[log q(z) - log p(z)] by sampling."""
    mean = np.array([[0.3, -1.2, 2.0]])
    logvar = np.array([[-0.7, 0.4, -2.0]])
    kl, _ = dist.kl_standard_normal_forward(mean, logvar)
    n = 400_000
    z = mean + np.exp(0.5 * logvar) * rng.standard_normal((n, 3))
    log_q = dist.gaussian_log_likelihood_forward(z, mean, logvar)[0]
    log_p = dist.standard_normal_log_density_forward(z)[0]
    samples = log_q - log_p
    stderr = samples.std() / math.sqrt(n)
    assert abs(samples.mean() - kl[0]) < 4 * stderr, (samples.mean(), kl[0], stderr)
    assert kl[0] > 0


def test_kl_is_zero_at_the_prior_and_right_by_hand_away_from_it():
    """Catches: a KL that is not zero at q = p, and any factor (a missing 1/2, sigma for
    sigma^2), which zero at the prior alone cannot see.

    At mean 1, sigma^2 = 2 (one unit): KL = 1/2 (2 + 1 - 1 - log 2) = 0.65342640972...;
    at mean -2, sigma^2 = e^-1: 1/2 (e^-1 + 4 - 1 + 1) = 2.18393972058...
    """
    kl, _ = dist.kl_standard_normal_forward(np.zeros((2, 4)), np.zeros((2, 4)))
    np.testing.assert_array_equal(kl, 0.0)
    kl, _ = dist.kl_standard_normal_forward(np.array([[1.0, -2.0]]),
                                            np.array([[math.log(2.0), -1.0]]))
    np.testing.assert_allclose(kl, [0.6534264097200273 + 2.1839397205857212], rtol=1e-14)


def test_reparameterized_samples_have_the_right_moments(rng):
    """sigma = exp(logvar / 2): the standard deviation, not the variance."""
    mean = np.array([[1.5, -0.5]])
    logvar = np.array([[np.log(4.0), np.log(0.09)]])   # sd 2 and 0.3
    eps = rng.standard_normal((200_000, 1, 2))
    z, _ = dist.reparameterize_forward(mean, logvar, eps)
    np.testing.assert_allclose(z.mean(axis=(0, 1)), [1.5, -0.5], atol=0.02)
    np.testing.assert_allclose(z.std(axis=(0, 1)), [2.0, 0.3], rtol=0.01)


def test_reparameterize_backward(rng):
    mean, logvar = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    eps, dz = rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5, 3))
    _, cache = dist.reparameterize_forward(mean, logvar, eps)
    dmean, dlogvar = dist.reparameterize_backward(dz, cache)
    f = lambda: float(np.sum(dist.reparameterize_forward(mean, logvar, eps)[0] * dz))
    check_gradient(f, mean, dmean, "dmean")
    check_gradient(f, logvar, dlogvar, "dlogvar")


def test_posterior_log_density_from_eps_equals_the_gaussian_density(rng):
    """Catches: a wrong constant or sign in the eps form of log q(z|x) (estimator A)."""
    mean, logvar = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    eps = rng.normal(size=(4, 5, 3))
    z = mean + np.exp(0.5 * logvar) * eps
    expected = dist.gaussian_log_likelihood_forward(z, mean, logvar)[0]
    np.testing.assert_allclose(dist.posterior_log_density_forward(eps, logvar)[0], expected,
                               rtol=1e-12)


def test_posterior_log_density_backward(rng):
    logvar, eps, dout = rng.normal(size=(5, 3)), rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5))
    _, cache = dist.posterior_log_density_forward(eps, logvar)
    f = lambda: float(np.sum(dist.posterior_log_density_forward(eps, logvar)[0] * dout))
    check_gradient(f, logvar, dist.posterior_log_density_backward(dout, cache), "dlogvar")


@pytest.mark.parametrize("logvar", [-30.0, -90.0, 40.0])
def test_posterior_log_density_is_exact_in_float32_at_extreme_log_variances(rng, logvar):
    """Catches: log q formed from (z - mean)^2 exp(-logvar), 0.18 nats off in float32 at
    logvar = -30 and infinite at -90."""
    eps = rng.normal(size=(2, 3, 4))
    lv = np.full((3, 4), logvar)
    exact = -0.5 * ((eps ** 2).sum(-1) + 4 * logvar + 4 * math.log(2 * math.pi))
    got = dist.posterior_log_density_forward(eps.astype(np.float32), lv.astype(np.float32))[0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, exact, rtol=1e-6)
