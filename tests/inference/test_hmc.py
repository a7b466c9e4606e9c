"""HMC leaves its target invariant and tunes its step size."""
import numpy as np

from aevb.inference.hmc import hmc

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 2.0]])
PREC = np.linalg.inv(COV)


def gaussian_target(z):
    d = z - MEAN
    return -0.5 * np.einsum("mi,ij,mj->m", d, PREC, d), -d @ PREC


def test_exact_invariance_when_started_in_the_target():
    """Chains started at exact draws stay distributed as the target (no tuning, fixed step).

    Catches: a Metropolis test that accepts too often (always, or with the kinetic
    energy's sign flipped): at step 1.0 the leapfrog's energy error is large enough
    that five such iterations inflate the covariance by about 0.2, against 0.06 allowed.
    Every kept sample is checked, so a sample slot left unwritten shows too.
    """
    rng = np.random.default_rng(0)
    M = 20_000
    z0 = rng.multivariate_normal(MEAN, COV, size=M)
    res = hmc(gaussian_target, z0, 5, rng, step_size=1.0, burn_in=0, n_leapfrog=3)
    se = np.sqrt(np.diag(COV) / M)
    for z in res.samples:
        assert np.all(np.abs(z.mean(0) - MEAN) < 4 * se), z.mean(0)
        np.testing.assert_allclose(np.cov(z.T), COV, atol=0.06)
    assert not np.allclose(res.samples[0], z0)           # it did move
    assert 0.3 < res.accept_rate.mean() < 1.0


def test_thinning_keeps_every_thin_th_iteration_after_burn_in():
    """Catches: ``thin`` ignored, or counted from the start instead of from the end of burn-in."""
    z0 = np.zeros((7, 2))
    every = hmc(gaussian_target, z0, 9, np.random.default_rng(3), burn_in=5)
    third = hmc(gaussian_target, z0, 3, np.random.default_rng(3), burn_in=5, thin=3)
    np.testing.assert_array_equal(third.samples, every.samples[::3])


def test_moments_from_a_bad_start_with_tuning():
    rng = np.random.default_rng(1)
    M = 500
    res = hmc(gaussian_target, np.full((M, 2), 10.0), 200, rng, burn_in=200,
              target_accept=0.9, step_size=0.05)
    z = res.samples.reshape(-1, 2)
    np.testing.assert_allclose(z.mean(0), MEAN, atol=0.05)
    np.testing.assert_allclose(np.cov(z.T), COV, rtol=0.06, atol=0.03)
    assert abs(res.accept_rate.mean() - 0.9) < 0.05, res.accept_rate.mean()
    assert res.step_size.shape == (M,)


def broken_far_away(z):
    """The Gaussian target, but NaN beyond |z_j| > 30 (a decoder that overflows far out)."""
    logp, grad = gaussian_target(z)
    far = np.abs(z).max(axis=1) > 30
    return np.where(far, np.nan, logp), np.where(far[:, None], np.nan, grad)


def test_divergent_proposals_are_rejected_not_propagated():
    """Catches: a divergent proposal (NaN log-density) that reaches the step-size tuning.

    The first step size, 100, sends every trajectory into the NaN region. Without the
    guard, Metropolis still rejects (NaN < u is False) but dual averaging turns NaN into
    every chain's step size, so nothing ever moves again; with it, tuning recovers and
    the chains sample the target. Burn-in must be > 0 here: with burn-in 0 the guard
    cannot show.
    """
    rng = np.random.default_rng(2)
    with np.errstate(invalid="ignore", over="ignore"):
        res = hmc(broken_far_away, np.zeros((50, 2)), 100, rng, step_size=100.0, burn_in=100)
    assert np.all(np.isfinite(res.samples))
    assert np.all(np.isfinite(res.step_size)) and np.all(res.step_size < 5), res.step_size
    assert res.accept_rate.mean() > 0.5, res.accept_rate.mean()
    np.testing.assert_allclose(res.samples.reshape(-1, 2).mean(0), MEAN, atol=0.2)
