"""The checker itself: it must catch a wrong gradient and name the coordinate."""
import numpy as np
import pytest

from aevb.core.gradcheck import check_directional, check_gradient, numerical_gradient, rel_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    g = numerical_gradient(lambda: float(np.sum(np.sin(x) * x ** 2)), x)
    np.testing.assert_allclose(g, np.cos(x) * x ** 2 + 2 * x * np.sin(x), rtol=1e-10)
    np.testing.assert_array_equal(x, [0.3, -1.2, 2.0])         # restored


def test_check_gradient_names_the_wrong_coordinate():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    wrong = 2 * x
    wrong[1, 0] += 1e-3
    with pytest.raises(AssertionError, match=r"W\[1, 0\]"):
        check_gradient(lambda: float(np.sum(x ** 2)), x, wrong, "W")


def test_check_directional_catches_a_wrong_gradient():
    x = np.linspace(-1, 1, 50)
    f = lambda: float(np.sum(np.exp(x)))
    assert check_directional(f, [x], [np.exp(x)], rng=0) < 1e-9
    bad = np.exp(x)
    bad[7] *= 1.01
    with pytest.raises(AssertionError, match="direction 0"):
        check_directional(f, [x], [bad], rng=0)
    np.testing.assert_array_equal(x, np.linspace(-1, 1, 50))   # restored exactly


def test_rel_error_reports_index():
    err, idx = rel_error(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.2, 3.0]))
    assert idx == (1,) and err == pytest.approx(0.2 / 4.2)
