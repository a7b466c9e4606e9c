"""Finite-difference gradient checks (float64).

* :func:`numerical_gradient`: central differences (fourth order), coordinate by coordinate;
* :func:`rel_error`: the worst element-wise relative error and where it is;
* :func:`check_gradient`: asserts, naming the failing coordinate;
* :func:`check_directional`: compares the directional derivative along random
  directions with ``<grad, v>``, cheap enough for a whole MNIST-sized model.
"""
import numpy as np


def _central_difference(f_at, h):
    """Fourth-order central difference of t -> f_at(t) at t = 0."""
    return (-f_at(2 * h) + 8.0 * f_at(h) - 8.0 * f_at(-h) + f_at(-2 * h)) / (12.0 * h)


def numerical_gradient(f, x, h=1e-4):
    """Central-difference gradient of the scalar ``f()`` with respect to array ``x``.

    Uses the fourth-order central stencil
    ``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h``: its truncation error is
    O(h^4), so a larger ``h`` can be used and round-off (about
    ``1e-16 |f| / h``) stays small even for coordinates whose gradient is tiny.

    ``x`` is perturbed in place and restored; ``f`` takes no arguments and must
    read ``x`` (closures over the parameter containers do).
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)            # a view: perturbs x itself
    g = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]

        def f_at(t):
            flat[i] = old + t
            return f()
        g[i] = _central_difference(f_at, h)
        flat[i] = old
    return grad


def rel_error(a, b, floor=1e-4):
    """Worst element-wise relative error ``|a-b| / max(|a|+|b|, floor)``.

    The floor matters only for coordinates whose gradient is below ``floor``
    in magnitude, such as the exact zeros of a weight fed by a pixel that is 0
    in every datapoint: the finite difference there is round-off (about
    ``1e-16 |f| / h``, 1e-11 to 1e-10 for the objectives in the tests), which
    no relative error can judge. With the default floor 1e-4 and a tolerance
    of 1e-6 such coordinates must agree to 1e-10 in absolute terms.

    Returns ``(error, index)`` with the index (a tuple) of the worst element.
    """
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)
    if err.size == 0:
        return 0.0, ()
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    return float(err[i]), tuple(int(k) for k in i)


def check_gradient(f, x, analytic, name="x", tol=1e-7, h=1e-4, floor=1e-4):
    """Assert that ``analytic`` matches the central differences of ``f`` w.r.t. ``x``.

    Returns the relative error; raises AssertionError naming the worst
    coordinate and both values.
    """
    if np.shape(analytic) != np.shape(x):
        raise AssertionError(f"{name}: gradient shape {np.shape(analytic)} != "
                             f"parameter shape {np.shape(x)}")
    numeric = numerical_gradient(f, x, h)
    err, idx = rel_error(analytic, numeric, floor)
    if not err < tol:
        raise AssertionError(
            f"{name}{list(idx)}: analytic {np.asarray(analytic)[idx]:.10g} vs numeric "
            f"{numeric[idx]:.10g}, relative error {err:.3g} >= {tol:g}")
    return err


def check_directional(f, arrays, grads, rng=None, n_directions=3, tol=1e-6, h=1e-4):
    """Check ``grads`` along random directions v: the derivative of f(x + t v) at 0 vs <g, v>.

    Parameters
    ----------
    f : callable returning a float; reads ``arrays``
    arrays, grads : lists of ndarrays (e.g. ``params.arrays()``)

    Returns the worst relative error; raises AssertionError if it is ``>= tol``.
    The arrays are restored exactly afterwards.
    """
    rng = np.random.default_rng(rng)
    worst = 0.0
    saved = [a.copy() for a in arrays]
    try:
        for k in range(n_directions):
            vs = [rng.standard_normal(a.shape) for a in arrays]
            expected = sum(float(np.vdot(g, v)) for g, v in zip(grads, vs))

            def f_at(t):
                for a, s, v in zip(arrays, saved, vs):
                    np.add(s, t * v, out=a)
                return f()
            numeric = _central_difference(f_at, h)
            err = abs(numeric - expected) / max(abs(numeric) + abs(expected), 1e-12)
            if not err < tol:
                raise AssertionError(f"direction {k}: <grad, v> = {expected:.10g} vs numeric "
                                     f"{numeric:.10g}, relative error {err:.3g} >= {tol:g}")
            worst = max(worst, err)
    finally:
        for a, s in zip(arrays, saved):
            a[...] = s
    return worst
