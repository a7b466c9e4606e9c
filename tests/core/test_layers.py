"""Finite-difference checks and forward checks for aevb.core.layers."""
import numpy as np
import pytest

from aevb.core import layers
from aevb.core.gradcheck import check_gradient


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_linear_forward_is_x_at_W_plus_b(rng):
    x, W, b = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    out, _ = layers.linear_forward(x, W, b)
    expected = np.array([[sum(x[i, k] * W[k, j] for k in range(3)) + b[j] for j in range(4)]
                         for i in range(5)])
    np.testing.assert_allclose(out, expected, rtol=1e-13)


@pytest.mark.parametrize("lead", [(5,), (3, 5)])
def test_linear_backward(rng, lead):
    x, W, b = rng.normal(size=lead + (3,)), rng.normal(size=(3, 7)), rng.normal(size=7)
    dout = rng.normal(size=lead + (7,))
    out, cache = layers.linear_forward(x, W, b)
    dx, dW, db = layers.linear_backward(dout, cache)
    f = lambda: float(np.sum(layers.linear_forward(x, W, b)[0] * dout))
    check_gradient(f, x, dx, "dx")
    check_gradient(f, W, dW, "dW")
    check_gradient(f, b, db, "db")


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_activation_backward(rng, name):
    fwd, bwd = getattr(layers, f"{name}_forward"), getattr(layers, f"{name}_backward")
    x, dout = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))   # unsaturated
    _, cache = fwd(x)
    f = lambda: float(np.sum(fwd(x)[0] * dout))
    check_gradient(f, x, bwd(dout, cache), f"d{name}")


def test_sigmoid_matches_definition_and_never_overflows():
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.5, 30.0, 800.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layers.sigmoid(x)
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(y, expected, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-7), (np.float64, 1e-15)])
def test_sigmoid_from_exp_in_both_tails_and_dtypes(rng, dtype, rtol):
    x = (rng.normal(scale=20, size=1000)).astype(dtype)          # mixed signs, deep tails
    x[:3] = [0, -0.0, 1e-30]
    y = layers.sigmoid_from_exp(x, np.exp(-np.abs(x)))
    assert y.dtype == dtype
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-x64))
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=0)   # relative, also where y ~ 1e-9
    assert y[0] == y[1] == 0.5
