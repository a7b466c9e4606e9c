"""Section 2.4 families, the non-Gaussian posterior q(z|x) and the gradient-variance study."""
import math

import numpy as np
import pytest
from scipy import stats

from aevb.inference import families as F
from aevb.core import networks as nets
from aevb.inference import posterior as P
from aevb.io import checkpoint
from aevb.core import sgvb
from aevb.inference import variance
from aevb.io.datasets import Dataset
from aevb.core.gradcheck import check_gradient
from aevb.core.optim import Adagrad
from aevb.core.train import Trainer

L, M, J = 2, 3, 5
NAMES = sorted(F.FAMILIES)
LOC, LOG_SCALE = 0.8, 0.7   # scale 2.01: exp(log_scale / 2) or exp(2 log_scale) fail the KS test
N_KS = 20_000


def _params(fam, rng):
    """Non-degenerate parameters; the second (if any) of shape (J,) to exercise broadcasting."""
    shapes = [(M, J), (J,)][:len(fam.param_names)]
    return tuple(rng.normal(scale=0.6, size=s) for s in shapes)


def _log_scale(fam):
    """LOG_SCALE, or its negative for the Log-Normal, whose variance is unusable at sigma = 2."""
    return -LOG_SCALE if fam.name == "lognormal" else LOG_SCALE


def _scipy(fam):
    """The same distribution from scipy.stats, with (LOC, LOG_SCALE) or its own parameters."""
    s = math.exp(_log_scale(fam))
    return {"gaussian": stats.norm(LOC, s), "laplace": stats.laplace(LOC, s),
            "student-t": stats.t(fam.df if hasattr(fam, "df") else 5, LOC, s),
            "gumbel": stats.gumbel_r(LOC, s), "logistic": stats.logistic(LOC, s),
            "exponential": stats.expon(scale=1 / s),           # log_rate = LOG_SCALE
            "lognormal": stats.lognorm(s, scale=math.exp(LOC)),  # mu = LOC, log_sigma = LOG_SCALE
            }[fam.name]


def _scalar_params(fam):
    return (np.array([LOG_SCALE]),) if fam.name == "exponential" else \
        (np.array([LOC]), np.array([_log_scale(fam)]))


@pytest.mark.parametrize("name", NAMES)
def test_reparameterization_and_density_gradients(name):
    """Central differences in float64 for sample_backward, log_density_backward (z and params)
    and noise_log_density_backward; catches any wrong factor or sign in a backward, and a
    broadcast parameter whose gradient is not summed over the samples."""
    rng = np.random.default_rng(NAMES.index(name))
    fam = F.make_family(name)
    params = _params(fam, rng)
    eps = fam.draw_noise((L, M, J), rng)
    z, c = fam.sample_forward(params, eps)
    dz = rng.standard_normal(z.shape)
    for p, g, n in zip(params, fam.sample_backward(dz, c), fam.param_names):
        check_gradient(lambda: float(np.vdot(fam.sample_forward(params, eps)[0], dz)), p, g, n)
    logq, c = fam.log_density_forward(z, params)
    dl = rng.standard_normal(logq.shape)
    f = lambda: float(np.vdot(fam.log_density_forward(z, params)[0], dl))
    dzz, dps = fam.log_density_backward(dl, c)
    check_gradient(f, z, dzz, "z")
    for p, g, n in zip(params, dps, fam.param_names):
        check_gradient(f, p, g, n)
    _, c = fam.noise_log_density_forward(eps, params)
    f = lambda: float(np.vdot(fam.noise_log_density_forward(eps, params)[0], dl))
    for p, g, n in zip(params, fam.noise_log_density_backward(dl, c), fam.param_names):
        check_gradient(f, p, g, f"{n} at fixed eps")


@pytest.mark.parametrize("name", NAMES)
def test_log_density_against_scipy(name):
    """log q from the density formula and from the noise both equal scipy's logpdf summed over
    the last axis; catches a missing -log scale, a wrong normalizer, or a noise-side formula
    that differs from the density at the sampled point."""
    fam = F.make_family(name)
    params = tuple(np.broadcast_to(p, (1, 4)) for p in _scalar_params(fam))
    eps = fam.draw_noise((6, 1, 4), np.random.default_rng(1))
    z, _ = fam.sample_forward(params, eps)
    expected = _scipy(fam).logpdf(z).sum(axis=-1)
    np.testing.assert_allclose(fam.log_density_forward(z, params)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(fam.noise_log_density_forward(eps, params)[0], expected,
                               rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_samples_pass_ks_test_and_match_moments(name):
    """Samples z = g(eps) pass a KS test against scipy's CDF (fixed seed, n = 20,000), and their
    mean and variance match the closed forms within 5 standard errors; catches a sampler with
    the scale squared or square-rooted, a flipped location, the wrong noise (e.g. Gaussian noise
    for Laplace), or the minimum's Gumbel drawn for the maximum's (log(-log u) for -log(-log u))."""
    fam = F.make_family(name, **({"df": 10} if name == "student-t" else {}))
    rng = np.random.default_rng([15, NAMES.index(name)])
    z = fam.sample_forward(_scalar_params(fam), fam.draw_noise((N_KS, 1), rng))[0][:, 0]
    assert stats.kstest(z, _scipy(fam).cdf).pvalue > 1e-3
    s, g = math.exp(_log_scale(fam)), 0.5772156649015329
    mean, var = {  # closed forms written out, not taken from scipy
        "gaussian": (LOC, s * s), "laplace": (LOC, 2 * s * s),
        "student-t": (LOC, 10 / 8 * s * s), "gumbel": (LOC + g * s, math.pi ** 2 / 6 * s * s),
        "logistic": (LOC, math.pi ** 2 / 3 * s * s), "exponential": (1 / s, 1 / s ** 2),
        "lognormal": (math.exp(LOC + s * s / 2), (math.exp(s * s) - 1) * math.exp(2 * LOC + s * s)),
    }[name]
    n = z.size
    assert abs(z.mean() - mean) < 5 * math.sqrt(var / n)
    se_var = math.sqrt(np.mean((z - z.mean()) ** 4) / n)        # from the sample's 4th moment
    assert abs(z.var(ddof=1) - var) < 5 * se_var


def test_uniform_noise_stays_inside_the_interval_in_float32():
    """Uniform noise never reaches 0 or 1 in float32, where -log(-log u) would be infinite;
    catches casting a float64 uniform near 1 to float32 without clipping."""
    u = F.Gumbel().draw_noise((400_000,), np.random.default_rng(0), np.float32)
    assert u.dtype == np.float32 and 0 < u.min() and u.max() < 1
    z = F.Gumbel().sample_forward((np.float32(0), np.float32(0)), u)[0]
    assert np.isfinite(z).all()


def test_unknown_family_and_bad_posterior_are_errors():
    """A clear ValueError for an unknown name or a posterior whose support is not the real line."""
    with pytest.raises(ValueError, match="unknown family"):
        F.make_family("cauchyish")
    with pytest.raises(ValueError, match="real line"):
        P.posterior_family("lognormal")


# ------------------------------------------------------------------ the posterior q(z|x)

D, Hd = 7, 5


def _model(rng, likelihood="bernoulli"):
    draw = lambda a: rng.normal(scale=0.5, size=a.shape)
    enc = nets.init_gaussian_mlp(D, Hd, 3).map(draw)
    if likelihood == "bernoulli":
        dec = nets.init_bernoulli_mlp(3, Hd, D).map(draw)
        x = (rng.random((4, D)) < 0.4).astype(float)
    else:
        dec = nets.init_gaussian_mlp(3, Hd, D).map(draw)
        x = rng.random((4, D))
    return enc, dec, x


@pytest.mark.parametrize("likelihood,sigmoid_mean", [("bernoulli", False), ("gaussian", True)])
def test_gaussian_family_reproduces_estimator_a(likelihood, sigmoid_mean):
    """With the Gaussian family and the same eps, sgvb_family gives aevb.core.sgvb.sgvb's estimator
    A: bound, objective (with the M/N prior) and every gradient; catches a different objective
    (estimator B, a missing prior, log scale = logvar instead of logvar / 2)."""
    rng = np.random.default_rng(4)
    enc, dec, x = _model(rng, likelihood)
    eps = rng.standard_normal((3, 4, 3))
    a = sgvb.sgvb(enc, dec, x, eps, "A", n_data=40, sigmoid_mean=sigmoid_mean)
    b = P.sgvb_family(enc, dec, x, eps, "gaussian", n_data=40, sigmoid_mean=sigmoid_mean)
    np.testing.assert_allclose(b.bound, a.bound, rtol=1e-13)
    assert b.objective == pytest.approx(a.objective, rel=1e-13)
    for g, h in zip(a.denc.arrays() + a.ddec.arrays(), b.denc.arrays() + b.ddec.arrays()):
        np.testing.assert_allclose(h, g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", P.POSTERIORS)
def test_sgvb_family_gradients(name):
    """Every encoder and decoder gradient of sgvb_family against central differences (float64,
    L = 2, MAP prior on); catches a log-scale gradient not halved for the logvar head, or the
    fixed-eps term of log q dropped."""
    rng = np.random.default_rng([5, P.POSTERIORS.index(name)])
    enc, dec, x = _model(rng)
    fam = P.posterior_family(name)
    noise = fam.draw_noise((2, 4, 3), rng)
    res = P.sgvb_family(enc, dec, x, noise, name, n_data=40)
    loss = lambda: -P.sgvb_family(enc, dec, x, noise, name, n_data=40).objective
    for tag, params, grads in (("enc", enc, res.denc), ("dec", dec, res.ddec)):
        for n, a in params.items():
            check_gradient(loss, a, getattr(grads, n), f"{tag}.{n}", tol=1e-6)


def test_laplace_bound_written_out():
    """The Laplace-posterior bound equals eq. 6 written out by hand with scipy's Laplace density
    and z = mu + exp(logvar / 2) eps; catches what a gradient check cannot: the scale read as
    exp(logvar), log q taken at the wrong point, or log p(z) left out."""
    rng = np.random.default_rng(6)
    enc, dec, x = _model(rng)
    eps = F.Laplace().draw_noise((2, 4, 3), rng)
    h = np.tanh(x @ enc.W_h + enc.b_h)
    mu, logvar = h @ enc.W_mean + enc.b_mean, h @ enc.W_logvar + enc.b_logvar
    total = 0.0
    for l in range(2):
        z = mu + np.exp(logvar / 2) * eps[l]
        y = 1 / (1 + np.exp(-(np.tanh(z @ dec.W_h + dec.b_h) @ dec.W_logits + dec.b_logits)))
        logpx = np.sum(x * np.log(y) + (1 - x) * np.log(1 - y), axis=1)
        logpz = stats.norm.logpdf(z).sum(axis=1)
        logqz = stats.laplace.logpdf(z, mu, np.exp(logvar / 2)).sum(axis=1)
        total = total + (logpx + logpz - logqz) / 2
    np.testing.assert_allclose(P.lower_bound_family(enc, dec, x, eps, "laplace"), total,
                               rtol=1e-12)


def _toy_data(rng, n=60):
    return Dataset((rng.random((n, D)) * 255).astype(np.uint8), 1 / 255, (1, D))


def test_posterior_trainer_gaussian_is_the_trainer_with_estimator_a():
    """PosteriorTrainer(posterior='gaussian') takes the same steps as Trainer(estimator='A'),
    up to round-off (same noise stream, same objective; the sums are ordered differently, so
    not bitwise); catches a different objective, noise drawn
    differently, or a decoder or encoder update left out."""
    out = []
    for cls, kw in ((Trainer, {"estimator": "A"}), (P.PosteriorTrainer, {"posterior": "gaussian"})):
        rng = np.random.default_rng(7)
        enc, dec, _ = _model(np.random.default_rng(8))
        t = cls(enc, dec, _toy_data(rng), Adagrad(0.05, warmup=0), rng=rng, batch_size=5,
                threads=1, **kw)
        t.run(30)
        out.append(enc.arrays() + dec.arrays())
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_posterior_trainer_resumes_exactly_and_checks_its_settings(tmp_path):
    """A Laplace PosteriorTrainer restored from a checkpoint file (aevb.io.checkpoint) continues
    bitwise as if never stopped (its noise comes from the saved rng); a checkpoint of another
    posterior (or of the plain, Gaussian Trainer), estimator B, or an unknown posterior is a
    ValueError."""
    def make(posterior="laplace"):
        rng = np.random.default_rng(9)
        enc, dec, _ = _model(np.random.default_rng(10))
        return P.PosteriorTrainer(enc, dec, _toy_data(rng), Adagrad(0.05, warmup=0), rng=rng,
                                  batch_size=5, threads=1, posterior=posterior)
    a, b = make(), make()
    a.run(15)
    checkpoint.save(tmp_path / "c.npz", a.enc, a.dec, a.state_dict(), {})
    a.run(35)
    enc, dec, state, _ = checkpoint.load(tmp_path / "c.npz")
    for p, q in zip(b.enc.arrays() + b.dec.arrays(), enc.arrays() + dec.arrays()):
        p[...] = q
    b.load_state_dict(state)
    b.run(35)
    for p, q in zip(a.enc.arrays() + a.dec.arrays(), b.enc.arrays() + b.dec.arrays()):
        np.testing.assert_array_equal(p, q)
    with pytest.raises(ValueError, match="laplace posterior"):
        make("student-t").load_state_dict(state)
    with pytest.raises(ValueError, match="gaussian posterior"):
        make().load_state_dict({**state, "extra_meta": None})
    with pytest.raises(ValueError, match="estimator A"):
        r = np.random.default_rng(0)
        P.PosteriorTrainer(*_model(r)[:2], _toy_data(r), Adagrad(0.1), rng=r, estimator="B")
    with pytest.raises(ValueError, match="unknown family"):
        make("nope")


@pytest.mark.slow
def test_laplace_posterior_trains_on_mnist(real_data_dir):
    """A Laplace posterior trained for 30,000 samples on 2,000 real MNIST digits (N_z = 5, 100
    hidden) reaches a test bound (estimator A, fresh noise) above -195 nats, from about -544.
    Catches a wrong-sign gradient and an encoder that does not learn: with the encoder's update
    skipped, the decoder alone reaches about -201 here (and about -185 with it)."""
    from aevb.io import datasets as data
    train = data.mnist("train", real_data_dir)
    train = Dataset(train.images[:2000], train.scale, train.image_shape).with_binarization(
        "dynamic")
    test = data.mnist("test", real_data_dir).with_binarization("fixed", rng=0)
    test = Dataset(test.images[:500], 1.0, test.image_shape, binarize="fixed")
    rng = np.random.default_rng(11)
    enc = nets.init_gaussian_mlp(784, 100, 5, rng)
    dec = nets.init_bernoulli_mlp(5, 100, 784, rng)
    before = P.score_family(enc, dec, test, "laplace", rng=1)
    P.train_posterior(enc, dec, train, Adagrad(0.05, warmup=0), budget=30_000, rng=rng,
                      posterior="laplace")
    after = P.score_family(enc, dec, test, "laplace", rng=1)
    assert np.isfinite(after) and after > -195 and before < -500, (before, after)


# ------------------------------------------------------------------ the variance study

def test_gradient_variance_matches_a_direct_computation():
    """gradient_variance's per-group numbers equal np.var(ddof=1) and the squared mean of the
    gradients stacked by hand from the same noise stream; catches a biased (ddof=0) variance,
    groups mixed up, or a running sum that loses the first draw."""
    enc, dec, x = _model(np.random.default_rng(12))
    ests = ["score", "B", "A:laplace"]
    rows = variance.gradient_variance(enc, dec, x, ests, n_draws=6, n_mc_samples=2, rng=13)
    rng = np.random.default_rng(13)
    for est in ests:
        fam = variance.noise_family(est)
        G = [variance.encoder_gradient(enc, dec, x, fam.draw_noise((2, 4, 3), rng), est)
             for _ in range(6)]
        for name in enc.names():
            stack = np.stack([getattr(g, name) for g in G])
            row = next(r for r in rows if r["estimator"] == est and r["group"] == name)
            assert row["variance"] == pytest.approx(stack.var(axis=0, ddof=1).mean(), rel=1e-9)
            assert row["mean_sq"] == pytest.approx((stack.mean(axis=0) ** 2).mean(), rel=1e-9)
    assert "A:laplace" in variance.format_table(rows)


def test_gaussian_score_function_family_is_sgvb_score_function():
    """score_function_family with the Gaussian family equals aevb.core.sgvb.score_function_gradient
    (same eps); catches a sign error or the log-scale gradient not halved for the logvar head."""
    enc, dec, x = _model(np.random.default_rng(14))
    eps = np.random.default_rng(15).standard_normal((3, 4, 3))
    a = sgvb.score_function_gradient(enc, dec, x, eps)
    b = variance.score_function_family(enc, dec, x, eps, "gaussian")
    for g, h in zip(a.arrays(), b.arrays()):
        np.testing.assert_allclose(h, g, rtol=1e-10, atol=1e-13)


def test_laplace_score_function_and_reparameterized_gradients_agree_on_average():
    """For a Laplace posterior the score-function gradient and estimator A's reparameterized
    gradient are both unbiased for the same gradient: their means over 40,000 draws agree within
    5 standard errors on every encoder coordinate, and the score function's variance is larger;
    catches a reparameterization gradient or a log q score of the wrong scale (both biased)."""
    enc, dec, x = _model(np.random.default_rng(16))
    fam = F.Laplace()
    rng = np.random.default_rng(17)
    means = {"A:laplace": [], "score:laplace": []}
    for _ in range(20):
        noise = fam.draw_noise((2000, 4, 3), rng)
        for est in means:
            g = variance.encoder_gradient(enc, dec, x, noise, est)
            means[est].append(np.concatenate([a.ravel() for a in g.arrays()]))
    a, s = (np.array(means[e]) for e in means)
    se = np.sqrt((a.var(0, ddof=1) + s.var(0, ddof=1)) / 20)
    assert np.all(np.abs(a.mean(0) - s.mean(0)) < 5 * se + 1e-9)
    assert s.var(0).mean() > a.var(0).mean()


def test_bound_variance_matches_a_direct_computation():
    """bound_variance equals the per-datapoint variance (ddof=1) of single-sample bounds computed
    by hand from the same noise stream, and 'A' with 'A:gaussian' are the same estimator;
    catches the value of a different estimator reported, or L > 1 samples averaged in."""
    enc, dec, x = _model(np.random.default_rng(18))
    got = variance.bound_variance(enc, dec, x, ["B", "A:laplace"], n_draws=7, rng=19)
    rng = np.random.default_rng(19)
    vals = np.array([sgvb.lower_bound(enc, dec, x, rng.standard_normal((1, 4, 3)), "B")
                     for _ in range(7)])
    assert got["B"][0] == pytest.approx(vals.var(0, ddof=1).mean(), rel=1e-12)
    assert got["B"][1] == pytest.approx(vals.mean(), rel=1e-12)
    vals = np.array([P.lower_bound_family(enc, dec, x, F.Laplace().draw_noise((1, 4, 3), rng),
                                          "laplace") for _ in range(7)])
    assert got["A:laplace"][0] == pytest.approx(vals.var(0, ddof=1).mean(), rel=1e-12)
    a, g = (variance.bound_variance(enc, dec, x, [e], n_draws=7, rng=20)[e]
            for e in ("A", "A:gaussian"))
    assert a == pytest.approx(g, rel=1e-12)
    rows = [{"estimator": e, "group": "g", "variance": v} for e, v in (("A", 6.0), ("B", 2.0))]
    assert variance.ratios(rows, "A", "B") == {"g": 3.0}


def test_importance_sampled_family_is_the_logsumexp_of_single_sample_bounds():
    """importance_sampled_family equals logsumexp_k of single-sample (L = 1) bounds from the same
    noise stream, minus log K, across chunk boundaries; catches a missing -log K or a streaming
    log-sum-exp that drops a chunk."""
    enc, dec, x = _model(np.random.default_rng(21))
    got = P.importance_sampled_family(enc, dec, x, "student-t", n_samples=7, rng=22, chunk=3)
    rng, fam = np.random.default_rng(22), P.posterior_family("student-t")
    per_chunk = [fam.draw_noise((k, 4, 3), rng) for k in (3, 3, 1)]
    w = np.array([P.lower_bound_family(enc, dec, x, n[None], fam)
                  for noise in per_chunk for n in noise])                    # (7, M)
    expected = np.log(np.exp(w).sum(axis=0)) - np.log(7)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
