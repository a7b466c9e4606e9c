"""log p(x): gradients, identities, and agreement with exact integration on real MNIST."""
import numpy as np
import pytest

from aevb import VAE
from aevb.io import datasets as D
from aevb.inference import likelihood as LK
from aevb.core import networks as nets
from aevb.core.gradcheck import check_gradient
from aevb.core.sgvb import lower_bound


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


def test_estimate_mean_and_its_standard_error_by_hand():
    """Catches: a standard error of the mean over datapoints without its 1/sqrt(n)."""
    est = LK.Estimate(np.array([-1.0, -2.0, -4.0, -5.0]), np.zeros(4), {})
    assert est.mean == -3.0
    assert est.sem == pytest.approx(np.sqrt(10 / 3) / 2, rel=1e-14)   # sample std / sqrt(4)
    assert np.isnan(LK.Estimate(np.array([-1.0]), np.zeros(1), {}).sem)


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


# ------------------------------------------------------------------ a tiny model, exact answers
# Three binary pixels, a 2-D latent space: all 8 images can be listed, and
# log p(x) = log E_{z ~ N(0, I)} p(x|z) is integrated exactly (to 1e-8) by 60 x 60
# Gauss-Hermite nodes, with the decoder written out here, not taken from aevb.

def _all_binary_images(D):
    return np.array(np.meshgrid(*[[0.0, 1.0]] * D, indexing="ij")).reshape(D, -1).T   # (2^D, D)


def _gauss_hermite_log_px(dec, x, n=60):
    u, w = np.polynomial.hermite_e.hermegauss(n)                  # nodes for exp(-u^2 / 2)
    w = w / np.sqrt(2 * np.pi)                                     # weights of N(0, 1)
    z = np.stack(np.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2)
    y = 1 / (1 + np.exp(-(np.tanh(z @ dec.W_h + dec.b_h) @ dec.W_logits + dec.b_logits)))
    p_x_given_z = np.prod(np.where(x[:, None, :] == 1, y, 1 - y), axis=-1)   # (2^D, n^2)
    return np.log(p_x_given_z @ np.outer(w, w).ravel())


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    dec = nets.init_bernoulli_mlp(2, 3, 3).map(lambda a: rng.normal(scale=1.0, size=a.shape))
    enc = nets.init_gaussian_mlp(3, 3, 2).map(lambda a: rng.normal(scale=0.3, size=a.shape))
    x = _all_binary_images(3)
    return enc, dec, x, _gauss_hermite_log_px(dec, x)


@pytest.fixture(scope="module")
def sharper():
    """Six pixels, decoder weights of scale 2: posteriors narrower than the prior and away
    from 0, so a density fit that is wrongly normalized or centred shows."""
    rng = np.random.default_rng(0)
    dec = nets.init_bernoulli_mlp(2, 3, 6).map(lambda a: rng.normal(scale=2.0, size=a.shape))
    enc = nets.init_gaussian_mlp(6, 3, 2).map(lambda a: rng.normal(scale=0.3, size=a.shape))
    x = (rng.random((8, 6)) < 0.5).astype(float)
    exact = _gauss_hermite_log_px(dec, x)
    np.testing.assert_allclose(LK.grid(dec, x), exact, rtol=0, atol=1e-6)   # both agree here
    return enc, dec, x, exact


def test_grid_matches_gauss_hermite_and_sums_to_one(tiny):
    """Catches: a grid integral without its cell area (+5.6 nats here),
    with the coarse cell's area, without the prior, or missing part of the mass."""
    _, dec, x, exact = tiny
    got = LK.grid(dec, x)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-6)
    assert abs(np.exp(got).sum() - 1.0) < 1e-6          # p(x) over all 8 images


def test_importance_sampling_matches_exact_integration(tiny):
    """Catches: a missing -log K (log 2000 = 7.6 nats) and an estimate that returns the
    ELBO instead of the log-mean of the weights (the ELBO is 0.2 to 0.75 nats below here,
    standard errors are below 0.025)."""
    enc, dec, x, exact = tiny
    est = LK.importance_sampled(enc, dec, x, 2000, rng=1)
    assert np.all(np.abs(est.log_px - exact) < 4 * est.stderr + 1e-3), \
        ((est.log_px - exact) / est.stderr)
    elbo = lower_bound(enc, dec, x, np.random.default_rng(2).standard_normal((2000, 8, 2)))
    assert np.max(exact - elbo) > 10 * np.max(est.stderr)   # the check can see the ELBO


def test_importance_sampling_standard_error_matches_the_spread_of_repeated_runs(tiny):
    """The reported standard error against the spread of 50 independent runs at K = 200.

    Catches: a standard error without its 1/sqrt(K), or from the spread of log w.
    """
    enc, dec, x, _ = tiny
    runs = [LK.importance_sampled(enc, dec, x, 200, rng=100 + r) for r in range(50)]
    spread = np.std([r.log_px for r in runs], axis=0, ddof=1)       # (8,)
    reported = np.mean([r.stderr for r in runs], axis=0)
    assert 0.85 < np.mean(spread / reported) < 1.15, spread / reported


@pytest.mark.parametrize("density", ["kde", "gaussian"])
def test_appendix_d_with_the_paper_settings_matches_exact_integration(sharper, density):
    """Appendix D with ``PAPER`` (50 samples, one chain, 4 leapfrog steps, a KDE) and with
    the Gaussian fit, on 30 copies of 8 images: the mean error is within 4 standard errors.

    Catches: fitting the density and evaluating it on the same half of the chain (the
    fitted density is too high at its own points), a wrong sign of the estimate, a KDE
    without its 1/n or with a bandwidth that grows with n (0.27 nats off), a Gaussian fit
    with half its log-determinant (0.23) or centred at -mean; standard errors are
    about 0.04.
    """
    enc, dec, x, exact = sharper
    R = 30
    est = LK.appendix_d(enc, dec, np.tile(x, (R, 1)), rng=10, **{**LK.PAPER, "density": density})
    err = est.log_px - np.tile(exact, R)
    se = err.std(ddof=1) / np.sqrt(len(err))
    assert abs(err.mean()) < 4 * se, (err.mean(), se)
    assert se < 0.1
    assert est.settings["density"] == density and est.settings["n_samples"] == 50


def _banana(rng, n, R, b=1.5):
    """Exact draws (n, R, 2) from z1 ~ N(0, 1), z2 | z1 ~ N(b (z1^2 - 1), 1), and its log density."""
    z1, e = rng.standard_normal((2, n, R))
    z = np.stack([z1, b * (z1 * z1 - 1) + e], axis=-1)

    def log_density(z):
        u, v = z[..., 0], z[..., 1] - b * (z[..., 0] ** 2 - 1)
        return -0.5 * (u * u + v * v) - np.log(2 * np.pi)
    return z, log_density


def test_the_default_density_is_the_one_measured_less_biased():
    """Appendix D's step 3 with EXACT posterior draws from a banana-shaped posterior of known
    log p(x) = -100, 40 repeats of 1,000 draws: the default density reads it within 0.1 nats
    on average (the KDE: +0.04), the Gaussian fit 0.2 nats high (benchmarks/appendix_d_density.py).

    Catches the default going back to the Gaussian fit, which puts mass where a non-Gaussian
    posterior has none, and an estimate without the normalization of q (off by its log-determinant)."""
    z, log_density = _banana(np.random.default_rng(0), 1000, 40)
    fit, use = z[:500], z[500:]
    log_px, stderr = LK.reciprocal_estimate(fit, use, -100.0 + log_density(use))
    assert LK.DENSITY == "kde"
    assert abs(log_px.mean() + 100) < 0.1, log_px.mean()
    assert np.all(stderr > 0) and np.all(np.isfinite(stderr))
    gaussian, _ = LK.reciprocal_estimate(fit, use, -100.0 + log_density(use), "gaussian")
    assert gaussian.mean() + 100 > 0.12, gaussian.mean()         # the bias the default avoids


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
