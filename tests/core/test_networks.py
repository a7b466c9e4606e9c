"""Appendix C networks: forward against the equations, backward by finite differences."""
import numpy as np
import pytest

from aevb.core import networks as nets
from aevb.core.gradcheck import check_gradient

D, H, J = 7, 5, 3


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _nondegenerate(params, rng):
    """Scale 0.5 instead of the paper's 0.01: zeros and tiny weights hide bugs."""
    return params.map(lambda a: rng.normal(scale=0.5, size=a.shape))


def test_init_follows_section_5(rng):
    enc = nets.init_gaussian_mlp(784, 500, 20, rng=0)
    for name, a in enc.items():
        assert abs(a.std() - 0.01) < 0.002, name            # std 0.01, not variance 0.01
        assert a.dtype == np.float64
    assert enc.W_h.shape == (784, 500) and enc.W_mean.shape == (500, 20)
    dec = nets.init_bernoulli_mlp(20, 500, 784, rng=0, dtype=np.float32)
    assert dec.W_logits.shape == (500, 784) and dec.dtype == np.float32
    assert nets.GaussianMLPParams.names() == ["W_h", "b_h", "W_mean", "b_mean", "W_logvar", "b_logvar"]
    assert nets.BernoulliMLPParams.names() == ["W_h", "b_h", "W_logits", "b_logits"]
    assert dec.weight_names() == ["W_h", "W_logits"]


@pytest.mark.parametrize("sigmoid_mean", [False, True])
def test_gaussian_mlp_forward_matches_appendix_c2(rng, sigmoid_mean):
    p = _nondegenerate(nets.init_gaussian_mlp(D, H, J), rng)
    x = rng.random((4, D))
    (mean, logvar), _ = nets.gaussian_mlp_forward(p, x, sigmoid_mean)
    h = np.tanh(x @ p.W_h + p.b_h)
    ref_mean = h @ p.W_mean + p.b_mean
    if sigmoid_mean:
        ref_mean = 1 / (1 + np.exp(-ref_mean))
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-13)
    np.testing.assert_allclose(logvar, h @ p.W_logvar + p.b_logvar, rtol=1e-13)


@pytest.mark.parametrize("sigmoid_mean", [False, True])
def test_gaussian_mlp_backward(rng, sigmoid_mean):
    p = _nondegenerate(nets.init_gaussian_mlp(D, H, J), rng)
    x = rng.normal(size=(2, 3, D))
    dmean, dlogvar = rng.normal(size=(2, 3, J)), rng.normal(size=(2, 3, J))
    _, cache = nets.gaussian_mlp_forward(p, x, sigmoid_mean)
    dx, grads = nets.gaussian_mlp_backward(dmean, dlogvar, cache)

    def f():
        (m, lv), _ = nets.gaussian_mlp_forward(p, x, sigmoid_mean)
        return float(np.sum(m * dmean) + np.sum(lv * dlogvar))
    check_gradient(f, x, dx, "dx", tol=1e-6)
    for name, a in p.items():
        check_gradient(f, a, getattr(grads, name), name, tol=1e-6)


def test_bernoulli_mlp_forward_and_backward(rng):
    p = _nondegenerate(nets.init_bernoulli_mlp(J, H, D), rng)
    z, dlogits = rng.normal(size=(2, 3, J)), rng.normal(size=(2, 3, D))
    logits, cache = nets.bernoulli_mlp_forward(p, z)
    np.testing.assert_allclose(logits, np.tanh(z @ p.W_h + p.b_h) @ p.W_logits + p.b_logits,
                               rtol=1e-13)
    dz, grads = nets.bernoulli_mlp_backward(dlogits, cache)
    assert isinstance(grads, nets.BernoulliMLPParams)
    f = lambda: float(np.sum(nets.bernoulli_mlp_forward(p, z)[0] * dlogits))
    check_gradient(f, z, dz, "dz", tol=1e-6)
    for name, a in p.items():
        check_gradient(f, a, getattr(grads, name), name, tol=1e-6)
