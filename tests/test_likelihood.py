"""log p(x): gradients, identities, and agreement with exact integration on real MNIST."""
import numpy as np
import pytest

from aevb import VAE
from aevb import data as D
from aevb import likelihood as LK
from aevb import networks as nets
from aevb.gradcheck import check_gradient
from aevb.sgvb import lower_bound


@pytest.mark.parametrize("kind,sigmoid", [("bernoulli", False), ("gaussian", False),
                                          ("gaussian", True)])
def test_log_joint_gradient_in_z(kind, sigmoid):
    rng = np.random.default_rng(0)
    init = nets.init_bernoulli_mlp if kind == "bernoulli" else nets.init_gaussian_mlp
    dec = init(3, 5, 7).map(lambda a: rng.normal(scale=0.5, size=a.shape))
    x = (rng.random((4, 7)) < 0.5).astype(float) if kind == "bernoulli" else rng.random((4, 7))
    z = rng.normal(size=(2, 4, 3))
    _, dz = LK.log_joint(dec, x, z, sigmoid, with_grad=True)
    check_gradient(lambda: float(LK.log_joint(dec, x, z, sigmoid).sum()), z, dz, "dz", tol=1e-7)


def _toy(rng):
    enc = nets.init_gaussian_mlp(7, 5, 3).map(lambda a: rng.normal(scale=0.5, size=a.shape))
    dec = nets.init_bernoulli_mlp(3, 5, 7).map(lambda a: rng.normal(scale=0.5, size=a.shape))
    return enc, dec, (rng.random((6, 7)) < 0.5).astype(float)


def test_importance_sampling_is_the_log_mean_of_estimator_a_weights():
    """log p(x) ~ logsumexp_k A_k - log K with A_k estimator A at the k-th draw.

    Catches: a missing -log K (K = 3 here: log 3 = 1.1 nats; K = 1 would hide it),
    an estimate that returns the mean of A_k (the ELBO) instead of its log-mean-exp.
    """
    rng = np.random.default_rng(1)
    enc, dec, x = _toy(rng)
    K = 3
    est = LK.importance_sampled(enc, dec, x, K, rng=7)
    eps = np.random.default_rng(7).standard_normal((K, 6, 3))
    a = np.stack([lower_bound(enc, dec, x, eps[k:k + 1], "A") for k in range(K)])   # (K, M)
    top = a.max(axis=0)
    expected = top + np.log(np.exp(a - top).sum(axis=0)) - np.log(K)
    np.testing.assert_allclose(est.log_px, expected, rtol=1e-12)
    assert np.all(est.log_px > a.mean(axis=0) + 1e-6)      # Jensen: strictly above the ELBO here


@pytest.mark.parametrize("logvar", [-30.0, -90.0])
def test_estimator_a_and_importance_sampling_in_float32_at_extreme_log_variance(logvar):
    """Catches: log q(z|x) from (z - mean)^2 exp(-logvar), which float32 gets 0.18 nats
    wrong at logvar = -30 and infinite at -90 (both estimators use it)."""
    rng = np.random.default_rng(3)
    enc, dec, x = _toy(rng)
    enc.W_logvar[...] = 0.0
    enc.b_logvar[...] = logvar
    eps = rng.standard_normal((2, 6, 3))
    a64 = lower_bound(enc, dec, x, eps, "A")
    a32 = lower_bound(enc.astype(np.float32), dec.astype(np.float32), x.astype(np.float32),
                      eps.astype(np.float32), "A")
    assert np.all(np.isfinite(a32))
    np.testing.assert_allclose(a32, a64, rtol=2e-6, atol=1e-3)
    is64 = LK.importance_sampled(enc, dec, x, 5, rng=4).log_px
    is32 = LK.importance_sampled(enc.astype(np.float32), dec.astype(np.float32), x, 5,
                                 rng=4).log_px
    assert np.all(np.isfinite(is32))
    np.testing.assert_allclose(is32, is64, rtol=2e-6, atol=1e-3)


def test_chunking_does_not_change_the_estimate():
    rng = np.random.default_rng(2)
    enc, dec, x = _toy(rng)
    a = LK.importance_sampled(enc, dec, x, 500, rng=3, max_rows=6 * 500)
    b = LK.importance_sampled(enc, dec, x, 500, rng=3, max_rows=6 * 7)     # 72 chunks
    np.testing.assert_allclose(a.log_px, b.log_px, rtol=1e-12)
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-9)


def test_grid_needs_two_latent_dimensions():
    enc, dec, x = _toy(np.random.default_rng(3))
    with pytest.raises(ValueError, match="2-D latent space"):
        LK.grid(dec, x)


# ------------------------------------------------------------------ real MNIST

def _trained(real_data_dir, n_latent):
    train = D.mnist("train", real_data_dir).with_binarization("dynamic")
    vae = VAE(n_latent, 100, budget=1_000_000, dtype="float32", rng=0).fit(train)
    return vae.encoder_params_.astype(np.float64), vae.decoder_params_.astype(np.float64)


@pytest.fixture(scope="module")
def model_2d(real_data_dir):
    return _trained(real_data_dir, 2)


@pytest.fixture(scope="module")
def digits(real_data_dir):
    return D.load_mnist("test", real_data_dir, binarize="fixed", rng=0)


@pytest.fixture(scope="module")
def exact(model_2d, digits):
    return LK.grid(model_2d[1], digits[:10])


@pytest.mark.slow
def test_grid_is_converged(model_2d, digits, exact):
    finer = LK.grid(model_2d[1], digits[:3], n_coarse=241, n_fine=401, cutoff=40.0, lim=7.0)
    np.testing.assert_allclose(finer, exact[:3], atol=1e-3)


@pytest.mark.slow
def test_both_estimators_match_exact_integration_digit_by_digit(model_2d, digits, exact):
    enc, dec = model_2d
    x = digits[:10]
    is_est = LK.importance_sampled(enc, dec, x, 5000, rng=1)
    hmc_est = LK.appendix_d(enc, dec, x, rng=2)
    assert np.max(np.abs(is_est.log_px - exact)) < 0.5, is_est.log_px - exact
    assert np.max(np.abs(hmc_est.log_px - exact)) < 0.5, hmc_est.log_px - exact
    assert abs(hmc_est.settings["accept_rate_mean"] - 0.9) < 0.1


@pytest.mark.slow
def test_importance_sampling_rises_towards_the_integral_with_k(model_2d, digits, exact):
    enc, dec = model_2d
    x = digits[:10]
    means = [LK.importance_sampled(enc, dec, x, k, rng=k).mean for k in (1, 10, 100, 1000, 5000)]
    gaps = exact.mean() - np.array(means)
    assert gaps[0] > 0.1                                  # K = 1 is an ELBO estimate: below
    assert np.all(np.diff(gaps) < 0.05), gaps             # non-increasing, up to MC noise
    assert abs(gaps[-1]) < 0.1, gaps


@pytest.mark.slow
def test_importance_sampling_is_never_below_the_elbo(model_2d, digits):
    """E[log p_K] >= ELBO for every K; checked per digit against a 2000-sample ELBO."""
    enc, dec = model_2d
    x = digits[:20]
    vae = VAE(2, 100)
    vae.encoder_params_, vae.decoder_params_ = enc, dec
    runs = np.stack([vae.score_samples(x, rng=r, n_mc_samples=1) for r in range(2000)])
    elbo, elbo_se = runs.mean(0), runs.std(0) / np.sqrt(len(runs))
    est = LK.importance_sampled(enc, dec, x, 1000, rng=4)
    assert np.all(est.log_px > elbo - 4 * (elbo_se + est.stderr)), (est.log_px - elbo)


@pytest.mark.slow
def test_estimators_agree_for_three_latent_dimensions(real_data_dir, digits):
    enc, dec = _trained(real_data_dir, 3)
    x = digits[:100]
    is_est = LK.importance_sampled(enc, dec, x, 5000, rng=5)
    hmc_est = LK.appendix_d(enc, dec, x, rng=6)
    assert abs(is_est.mean - hmc_est.mean) < 1.0, (is_est.mean, hmc_est.mean)
