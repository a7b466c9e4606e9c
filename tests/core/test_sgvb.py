"""SGVB estimators A and B: full-objective gradient checks and forward checks."""
import math

import numpy as np
import pytest

from aevb.core import networks as nets
from aevb.core import sgvb
from aevb.core.gradcheck import check_directional, check_gradient

D, H, J, M = 9, 5, 3, 4


def _model(rng, likelihood):
    """Non-degenerate parameters (scale 0.5): the paper's 0.01 would hide bugs."""
    draw = lambda a: rng.normal(scale=0.5, size=a.shape)
    enc = nets.init_gaussian_mlp(D, H, J).map(draw)
    if likelihood == "bernoulli":
        dec = nets.init_bernoulli_mlp(J, H, D).map(draw)
        x = (rng.random((M, D)) < 0.4).astype(float)
    else:
        dec = nets.init_gaussian_mlp(J, H, D).map(draw)
        x = rng.random((M, D))
    return enc, dec, x


CASES = [(lik, est, L, sig, n)
         for lik, sig in [("bernoulli", False), ("gaussian", False), ("gaussian", True)]
         for est in "AB" for L in (1, 3) for n in (None, 50)]


@pytest.mark.parametrize("likelihood,estimator,L,sigmoid_mean,n_data", CASES)
def test_objective_gradients(likelihood, estimator, L, sigmoid_mean, n_data):
    rng = np.random.default_rng(CASES.index((likelihood, estimator, L, sigmoid_mean, n_data)))
    enc, dec, x = _model(rng, likelihood)
    eps = rng.standard_normal((L, M, J))
    res = sgvb.sgvb(enc, dec, x, eps, estimator, n_data=n_data, sigmoid_mean=sigmoid_mean)
    loss = lambda: -sgvb.sgvb(enc, dec, x, eps, estimator, n_data=n_data,
                              sigmoid_mean=sigmoid_mean).objective
    assert isinstance(res.denc, nets.GaussianMLPParams) and isinstance(res.ddec, type(dec))
    for tag, params, grads in (("enc", enc, res.denc), ("dec", dec, res.ddec)):
        for name, a in params.items():
            check_gradient(loss, a, getattr(grads, name), f"{tag}.{name}", tol=1e-6)
    check_directional(loss, enc.arrays() + dec.arrays(), res.denc.arrays() + res.ddec.arrays(),
                      rng=0, tol=1e-6)


def test_estimator_b_matches_eq_10_written_out():
    rng = np.random.default_rng(3)
    enc, dec, x = _model(rng, "bernoulli")
    eps = rng.standard_normal((2, M, J))
    h = np.tanh(x @ enc.W_h + enc.b_h)
    mu, logvar = h @ enc.W_mean + enc.b_mean, h @ enc.W_logvar + enc.b_logvar
    neg_kl = 0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar), axis=1)   # Appendix B
    rec = 0.0
    for l in range(2):
        z = mu + np.exp(logvar / 2) * eps[l]
        y = 1 / (1 + np.exp(-(np.tanh(z @ dec.W_h + dec.b_h) @ dec.W_logits + dec.b_logits)))
        rec = rec + np.sum(x * np.log(y) + (1 - x) * np.log(1 - y), axis=1) / 2
    np.testing.assert_allclose(sgvb.lower_bound(enc, dec, x, eps, "B"), neg_kl + rec, rtol=1e-12)


def test_estimator_a_log_q_term_is_the_gaussian_entropy_form():
    """log q(z|x) at z = mu + sigma eps equals -1/2 sum(log 2pi + logvar + eps^2)."""
    rng = np.random.default_rng(4)
    enc, dec, x = _model(rng, "gaussian")
    eps = rng.standard_normal((3, M, J))
    (mu, logvar), _ = nets.gaussian_mlp_forward(enc, x)
    z = mu + np.exp(logvar / 2) * eps
    log_pz = -0.5 * np.sum(z ** 2 + math.log(2 * math.pi), axis=-1)
    log_qz = -0.5 * np.sum(math.log(2 * math.pi) + logvar + eps ** 2, axis=-1)
    (m, lv), _ = nets.gaussian_mlp_forward(dec, z)
    log_px = -0.5 * np.sum(math.log(2 * math.pi) + lv + (x - m) ** 2 / np.exp(lv), axis=-1)
    np.testing.assert_allclose(sgvb.lower_bound(enc, dec, x, eps, "A"),
                               (log_px + log_pz - log_qz).mean(0), rtol=1e-12)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_estimators_a_and_b_agree_in_expectation_and_b_has_less_variance(likelihood):
    rng = np.random.default_rng(5)
    enc, dec, x = _model(rng, likelihood)
    eps = rng.standard_normal((20_000, M, J))
    a = np.stack([sgvb.lower_bound(enc, dec, x, e[None], "A") for e in eps[:4000]])
    b = np.stack([sgvb.lower_bound(enc, dec, x, e[None], "B") for e in eps[:4000]])
    stderr = np.sqrt(a.var(0) / len(a) + b.var(0) / len(b))
    assert np.all(np.abs(a.mean(0) - b.mean(0)) < 5 * stderr), (a.mean(0), b.mean(0), stderr)
    assert np.all(b.var(0) < a.var(0))
    # Each L-sample estimate is the mean of its L single-sample terms.
    np.testing.assert_allclose(sgvb.lower_bound(enc, dec, x, eps[:7], "A"), a[:7].mean(0),
                               rtol=1e-12)


def test_weight_decay_term_alone():
    """objective(N) - objective(None) = (M/N) * (-1/2 sum of squared weights), biases free."""
    rng = np.random.default_rng(6)
    enc, dec, x = _model(rng, "bernoulli")
    eps = rng.standard_normal((1, M, J))
    n = 1000
    with_prior = sgvb.sgvb(enc, dec, x, eps, n_data=n)
    without = sgvb.sgvb(enc, dec, x, eps, n_data=None)
    sq = sum(np.sum(W ** 2) for W in (enc.W_h, enc.W_mean, enc.W_logvar, dec.W_h, dec.W_logits))
    assert math.isclose(with_prior.objective - without.objective, -0.5 * M / n * sq, rel_tol=1e-10)
    np.testing.assert_allclose(with_prior.denc.W_mean - without.denc.W_mean, M / n * enc.W_mean,
                               rtol=1e-9)
    np.testing.assert_array_equal(with_prior.ddec.b_logits, without.ddec.b_logits)
    np.testing.assert_array_equal(with_prior.bound, without.bound)


def test_minibatch_estimate_is_eq_8():
    assert sgvb.minibatch_estimate(np.array([-1.0, -2.0, -3.0, -6.0]), 100) == -300.0


def test_float32_follows_the_parameters():
    rng = np.random.default_rng(8)
    enc, dec, x = _model(rng, "bernoulli")
    enc, dec, x = enc.astype(np.float32), dec.astype(np.float32), x.astype(np.float32)
    eps = rng.standard_normal((1, M, J)).astype(np.float32)
    res = sgvb.sgvb(enc, dec, x, eps, n_data=100)
    assert res.bound.dtype == np.float32
    assert all(g.dtype == np.float32 for g in res.denc.arrays() + res.ddec.arrays())


def test_unknown_estimator_is_a_clear_error():
    rng = np.random.default_rng(9)
    enc, dec, x = _model(rng, "bernoulli")
    with pytest.raises(ValueError, match="unknown estimator 'C'"):
        sgvb.lower_bound(enc, dec, x, np.zeros((1, M, J)), "C")


def test_score_function_gradient_is_unbiased_but_noisier():
    """Both estimate the same gradient: their means agree within Monte Carlo error.

    L = 2 and both the mean's and the log-variance's weights, so that a missing 1/L and a
    wrong sign of log q in f (which moves only the log-variance's gradient) show.
    """
    rng = np.random.default_rng(10)
    enc, dec, x = _model(rng, "bernoulli")
    R = 10_000
    eps = rng.standard_normal((R, 2, M, J))
    naive = [sgvb.score_function_gradient(enc, dec, x, e) for e in eps]
    reparam = [sgvb.sgvb(enc, dec, x, e, "A").denc for e in eps[:2000]]
    for name in ("W_mean", "W_logvar"):
        a = np.stack([getattr(g, name) for g in naive])
        b = np.stack([getattr(g, name) for g in reparam])
        se = np.sqrt(a.var(0) / R + b.var(0) / 2000)
        assert np.all(np.abs(a.mean(0) - b.mean(0)) < 5 * se), name
        assert a.var(0).mean() > 10 * b.var(0).mean(), name


@pytest.mark.parametrize("estimator", ["A", "B"])
def test_decoder_ready_hook_sees_the_final_decoder_gradient(estimator):
    rng = np.random.default_rng(7)
    enc, dec, x = _model(rng, "bernoulli")
    eps = rng.standard_normal((2, M, J))
    plain = sgvb.sgvb(enc, dec, x, eps, estimator, n_data=50)
    calls, dec2 = [], dec.copy()

    def ready(objective, ddec):
        calls.append((objective, [a.copy() for a in ddec.arrays()]))
        for a in dec2.arrays():         # as if the decoder were updated meanwhile
            a[...] = 0.0

    hooked = sgvb.sgvb(enc, dec2, x, eps, estimator, n_data=50, decoder_ready=ready)
    assert len(calls) == 1 and calls[0][0] == plain.objective == hooked.objective
    for a, b, c in zip(calls[0][1], plain.ddec.arrays(), hooked.ddec.arrays()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # the encoder's backward pass did not read the decoder's (now zeroed) parameters
    for a, b in zip(plain.denc.arrays(), hooked.denc.arrays()):
        np.testing.assert_array_equal(a, b)


def test_decoder_ready_hook_can_stop_the_computation():
    rng = np.random.default_rng(8)
    enc, dec, x = _model(rng, "gaussian")

    def refuse(objective, ddec):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        sgvb.sgvb(enc, dec, x, rng.standard_normal((1, M, J)), decoder_ready=refuse)
