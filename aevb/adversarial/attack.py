"""Adversarial examples by box-constrained L-BFGS (Szegedy et al., arXiv 1312.6199, Section 4.1).

For an image x in [0, 1]^m, a classifier f and a target label l != f(x), the
paper looks for the smallest r with f(x + r) = l and x + r in [0, 1]^m. It
approximates it by minimizing, for a penalty c > 0::

    c |r| + loss_f(x + r, l)   subject to   x + r in [0, 1]^m,

with box-constrained L-BFGS, and a line search over c for "the minimum c > 0
for which the minimizer r of the following problem satisfies f(x + r) = l".
Here:

* :func:`box_lbfgs`: one minimization with ``scipy.optimize.minimize(method=
  "L-BFGS-B", bounds=[(0, 1)] * m)`` over x' = x + r, the gradient by hand
  (:func:`aevb.adversarial.classifier.input_gradient`). **Departure**: the penalty is
  c ||r||^2 (squared Euclidean norm), smooth at r = 0 where L-BFGS starts,
  instead of the paper's unsquared ``|r|``;
* :func:`attack`: the line search over c (powers of 10, then bisection in
  log c), keeping the successful x' of least distortion; every result is
  verified: ``predict(x') == l`` and x' in [0, 1]^m;
* :func:`distortion`: the paper's measure sqrt(sum (x' - x)^2 / n);
* :func:`aevb.cli.adversarial.add_parser`: the ``aevb adversarial`` command (tables in
  :mod:`aevb.adversarial.tables`).

Larger c means a smaller perturbation; the search wants the *largest* c that
still reaches the target (the paper's "minimum c" refers to the opposite
weighting, c on the loss, and describes the same point).
"""
from dataclasses import dataclass

import numpy as np

from .classifier import N_CLASSES, input_gradient


def distortion(x_adv, x):
    """The paper's distortion ``sqrt(sum_i (x'_i - x_i)^2 / n)`` over the n pixels (last axis)."""
    r = np.asarray(x_adv, np.float64) - np.asarray(x, np.float64)
    return np.sqrt(np.mean(r * r, axis=-1))


def check_image(x, label=None, target=None):
    """Validate one image (D,) and its labels; a ValueError with one sentence if wrong."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"the image must be one flat vector of pixels, got shape {x.shape}; "
                         f"use x.reshape(-1)")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError(f"the image has values in [{np.nanmin(x):g}, {np.nanmax(x):g}]; the "
                         f"attack keeps x + r in [0, 1]^m, so scale the image into [0, 1] first")
    for what, v in (("label", label), ("target", target)):
        if v is not None and not (isinstance(v, (int, np.integer)) and 0 <= v < N_CLASSES):
            raise ValueError(f"the {what} must be a class 0..{N_CLASSES - 1}, got {v!r}")
    if label is not None and target is not None and int(label) == int(target):
        raise ValueError(f"the target {target} equals the true label; choose another class "
                         f"for the adversarial example to reach")
    return x


def attack_objective(model, x, target, c):
    """The function x' -> (c ||x' - x||^2 + loss_f(x', target), its gradient) that L-BFGS-B minimizes."""
    labels = np.array([target])

    def objective(z):                                 # z = x' = x + r, shape (D,)
        loss, dz = input_gradient(model, z[None, :], labels)
        r = z - x
        return c * float(r @ r) + loss, 2.0 * c * r + dz[0]
    return objective


def box_lbfgs(model, x, target, c, maxiter=500):
    """Minimize ``c ||x' - x||^2 + loss_f(x', target)`` over x' in [0, 1]^m (L-BFGS-B).

    Parameters
    ----------
    model : aevb.adversarial.classifier.MLPClassifier
    x : ndarray, shape (D,), values in [0, 1]
    target : int
    c : float > 0
        Penalty on the perturbation (module docstring: squared norm).

    Returns
    -------
    x_adv : ndarray, shape (D,), in [0, 1]
    """
    from scipy.optimize import minimize               # SciPy only where the attack runs
    res = minimize(attack_objective(model, x, target, c), x.copy(), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, 1.0)] * x.size, options={"maxiter": maxiter})
    return res.x                        # L-BFGS-B keeps its iterates in the box (checked by attack)


@dataclass
class AttackResult:
    """An adversarial example, verified: ``predicted == target`` and ``x_adv`` in [0, 1]^m.

    ``success`` is False if no c tried reached the target; then ``x_adv`` is x,
    ``distortion`` is NaN and ``predicted`` is the model's label of x.
    """
    x_adv: np.ndarray
    target: int
    predicted: int
    distortion: float
    c: float
    success: bool
    n_minimizations: int


def attack(model, x, label, target, c0=1.0, c_min=1e-6, c_max=1e6, n_bisect=8):
    """The minimum-distortion perturbation that makes ``model`` say ``target`` (line search over c).

    From ``c0``, c is multiplied (or divided) by 10 until one value reaches
    the target and the next does not; then ``n_bisect`` bisections in log c
    between the two. Of all minimizers that reach the target, the one with
    the least :func:`distortion` is returned.

    Parameters
    ----------
    model : aevb.adversarial.classifier.MLPClassifier
    x : ndarray, shape (D,), values in [0, 1]
    label : int
        The true label (the target must differ from it).
    target : int

    Returns
    -------
    AttackResult
    """
    x = check_image(x, int(label), int(target))
    best, tried = None, {}

    def trial(c):
        x_adv = box_lbfgs(model, x, target, c)
        ok = int(model.predict(x_adv[None, :])[0]) == target and 0 <= x_adv.min() \
            and x_adv.max() <= 1
        tried[c] = ok
        nonlocal best
        if ok and (best is None or distortion(x_adv, x) < best[1]):
            best = (x_adv, float(distortion(x_adv, x)), c)
        return ok

    c = c0
    if trial(c):                                      # reached: raise c until it fails
        while c < c_max and trial(c * 10):
            c *= 10
        lo, hi = c, c * 10
    else:                                             # not reached: lower c until it works
        while c > c_min and not trial(c / 10):
            c /= 10
        lo, hi = c / 10, c
    if best is not None and hi <= c_max:
        for _ in range(n_bisect):                    # lo reaches the target, hi does not
            mid = np.sqrt(lo * hi)
            lo, hi = (mid, hi) if trial(mid) else (lo, mid)
    if best is None:
        return AttackResult(x, int(target), int(model.predict(x[None, :])[0]), float("nan"),
                            float("nan"), False, len(tried))
    x_adv, dist, c_best = best
    return AttackResult(x_adv, int(target), int(target), dist, c_best, True, len(tried))


# ---------------------------------------------------------------- the command
