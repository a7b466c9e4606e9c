"""The exercises, and the machinery that turns a wrong answer into a diagnosis.

An exercise is a set of regions of the reference library, each between a
``### BEGIN SOLUTION name`` and an ``### END SOLUTION`` comment line, plus the
checks registered for it here with :func:`check`. A check receives the package
under test (the reference ``aevb`` or a student's copy) and raises
:class:`ExerciseFailure` with a message that says which exercise, which
quantity, the worst coordinate, and which common mistake the answer looks like.

This subpackage imports nothing from the rest of ``aevb`` (only NumPy), so the
instructor's checks can be loaded beside a student's copy of the package.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Exercise:
    number: int
    name: str
    title: str
    paper: str          # the equation or section it implements
    where: str          # the functions holding its regions
    needs: tuple = ()   # exercises its checks call through
    points: float = 10  # what the exercise is worth; its checks share it (see check_points)


EXERCISES = (
    Exercise(1, "linear", "linear layer backward", "Appendix C: h W + b",
             "layers.linear_backward"),
    Exercise(2, "tanh", "tanh backward", "Appendix C: h = tanh(z W + b)",
             "layers.tanh_backward"),
    Exercise(3, "bernoulli", "Bernoulli log-likelihood from logits and its backward",
             "Appendix C.1", "distributions.bernoulli_log_likelihood_forward/backward"),
    Exercise(4, "gaussian", "Gaussian log-likelihood with log-variance and its backward",
             "Appendix C.2", "distributions.gaussian_log_likelihood_forward/backward"),
    Exercise(5, "kl", "KL(q(z|x) || p(z)) forward and backward", "Appendix B, eq. 10",
             "distributions.kl_standard_normal_forward/backward"),
    Exercise(6, "reparameterize", "the reparameterization z = mean + sigma * eps and its backward",
             "Section 2.4, eq. 10", "distributions.reparameterize_forward/backward"),
    Exercise(7, "estimator_b", "estimator B on a minibatch, with the eq. 8 scaling and the MAP prior",
             "eq. 7, eq. 10, eq. 8",
             "sgvb.latent_forward/backward, sgvb.minibatch_estimate, sgvb.minibatch_objective",
             needs=(1, 2, 3, 5, 6)),
    Exercise(8, "estimator_a", "estimator A (the generic SGVB estimator)", "eq. 6",
             "sgvb.estimator_a_forward/backward, sgvb.latent_forward/backward",
             needs=(1, 2, 3, 6, 7)),
    Exercise(9, "adagrad", "one Adagrad step (with the warm-up)", "Section 5",
             "optim.Adagrad._update"),
    Exercise(10, "importance_sampling", "importance-sampled log p(x) with log-sum-exp",
             "Section 5 (marginal likelihood), Appendix D", "likelihood.importance_sampled",
             needs=(3,)),
    Exercise(11, "sleep_phase", "the wake-sleep sleep-phase gradient of sum log q(z|x) on dreams",
             "Section 5 (the wake-sleep baseline)", "wakesleep._sleep_backward",
             needs=(1, 2, 4)),
)
BY_NAME = {e.name: e for e in EXERCISES}


class ExerciseFailure(AssertionError):
    """A check failed; the message is written for the student."""


@dataclass(frozen=True)
class Check:
    exercise: Exercise
    name: str
    func: object = field(compare=False)
    points: float = None    # None: an equal share of what the exercise's other checks leave

    @property
    def id(self):
        return f"{self.exercise.number:02d}_{self.exercise.name}-{self.name}"


CHECKS = []


def check(exercise_name, points=None):
    """Decorator: register ``func(aevb)`` as a check of the named exercise.

    ``points`` is what passing it earns; without it the check gets an equal share of
    the exercise's ``points`` left over by its checks that name theirs.
    """
    def register(func):
        CHECKS.append(Check(BY_NAME[exercise_name], func.__name__, func, points))
        return func
    return register


def check_points(chk):
    """The points ``chk`` earns when it passes.

    The checks of one exercise add up to the exercise's ``points``: those that
    name their points keep them, the others share the rest equally. Raises
    ValueError when the named points exceed the exercise's total.
    """
    ex = chk.exercise
    mine = [c for c in CHECKS if c.exercise is ex]
    named = sum(c.points for c in mine if c.points is not None)
    shared = [c for c in mine if c.points is None]
    if named > ex.points + 1e-9 or (not shared and abs(named - ex.points) > 1e-9):
        raise ValueError(f"the checks of exercise {ex.number} ({ex.name}) name {named:g} points "
                         f"but the exercise is worth {ex.points:g}; make them add up in "
                         f"aevb/exercises/registry.py or the check modules")
    if chk.points is not None:
        return float(chk.points)
    return (ex.points - named) / len(shared)


def max_score(exercises=EXERCISES):
    """The points of all ``exercises`` together (110 with the default 10 each)."""
    return float(sum(e.points for e in exercises))


def fail(ex, quantity, text):
    e = BY_NAME[ex]
    raise ExerciseFailure(f"exercise {e.number} ({e.name}), {quantity}: {text}")


def rel_error(a, b, floor=1e-8):
    """Worst element-wise relative error and its index."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    if a.size == 0:
        return 0.0, ()
    err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)
    err = np.where(np.isnan(err), np.inf, err)
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    return float(err[i]), tuple(int(k) for k in i)


GENERIC_FACTORS = {-1.0: "the wrong sign",
                   2.0: "twice the answer: a missing 1/2",
                   0.5: "half the answer: a 1/2 too many"}


def diagnose(got, want, factors=None, alternatives=(), tol=1e-6, floor=1e-8):
    """Name the mistake ``got`` looks like, or say that none is known."""
    found = []
    for label, alt in alternatives:
        alt = np.asarray(alt, np.float64)
        if alt.shape == got.shape and np.all(np.isfinite(alt)) and rel_error(got, alt, floor)[0] < tol:
            found.append(label)
    for f, label in {**GENERIC_FACTORS, **(factors or {})}.items():
        if rel_error(got, f * want, floor)[0] < tol:
            found.append(f"{label} (your values are {f:g} x the right ones)")
    if found:
        return "looks like: " + "; or ".join(found)
    return "no mistake from the catalogue matches; compare your code with the equation term by term"


def compare(ex, quantity, got, want, tol=1e-7, factors=None, alternatives=(), hint="",
            nonfinite_hint="", floor=1e-8):
    """Raise :class:`ExerciseFailure` unless ``got`` matches ``want`` (same shape, relative ``tol``)."""
    if got is None:
        fail(ex, quantity, "your code returned None")
    try:
        got = np.asarray(got, np.float64)
    except (TypeError, ValueError):
        fail(ex, quantity, f"expected an array of shape {np.shape(want)}, got {type(got).__name__}")
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        extra = ""
        if got.shape == want.shape[::-1] and got.ndim > 1:
            extra = " It looks transposed: a gradient has the shape of what it is the gradient of."
        elif got.ndim > want.ndim:
            extra = (" It has extra leading axes: sum the gradient over the axes the input was "
                     "broadcast along (samples L, batch rows).")
        fail(ex, quantity, f"shape {got.shape}, expected {want.shape}.{extra} {hint}".rstrip())
    bad = ~np.isfinite(got)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        fail(ex, quantity, f"not finite at {list(i)} ({got[i]}) where the right value is "
             f"{want[i]:.6g}. {nonfinite_hint or 'An overflow or a log of 0?'}")
    err, i = rel_error(got, want, floor)
    if err < tol:
        return err
    d = next((d for d in range(8, 17) if f"{got[i]:.{d}g}" != f"{want[i]:.{d}g}"), 17)
    fail(ex, quantity, f"worst coordinate {list(i)}: got {got[i]:.{d}g}, expected {want[i]:.{d}g} "
         f"(relative error {err:.2g} > {tol:g}).\n  "
         f"{diagnose(got, want, factors, alternatives, floor=floor)}"
         + (f"\n  hint: {hint}" if hint else ""))


def numerical_gradient(f, x, h=1e-5):
    """Central differences of the scalar ``f()`` in the float64 array ``x`` (perturbed in place)."""
    grad = np.zeros(x.shape)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        g[i] = (fp - fm) / (2 * h)
    return grad


def gradient(ex, quantity, f, x, analytic, tol=1e-6, factors=None, alternatives=(), hint=""):
    """Compare ``analytic`` with finite differences of ``f`` in ``x`` (float64)."""
    numeric = numerical_gradient(f, x)
    note = "the finite differences are taken of YOUR forward: if its check fails, fix it first"
    compare(ex, f"{quantity} (against finite differences)", analytic, numeric, tol=tol,
            factors=factors, alternatives=alternatives, floor=1e-4,
            hint=f"{hint}; {note}" if hint else note)


@dataclass
class Result:
    check: Check
    passed: bool
    message: str = ""
    error: str = ""          # the exception type's name when it failed


def run_one(chk, aevb):
    """Run one check; return a :class:`Result` (never raises for a student's error)."""
    ex = chk.exercise
    try:
        with np.errstate(all="ignore"):
            chk.func(aevb)
    except ExerciseFailure as e:
        return Result(chk, False, str(e), "ExerciseFailure")
    except NotImplementedError as e:
        text = str(e)
        if text.startswith(f"exercise {ex.number} "):
            msg = (f"exercise {ex.number} ({ex.name}) is not done yet (NotImplementedError): "
                   f"{ex.title} [{ex.paper}], in {ex.where}")
        else:
            msg = (f"exercise {ex.number} ({ex.name}) is blocked: its check calls code that is "
                   f"not written yet ({text}). It builds on exercises "
                   f"{', '.join(map(str, ex.needs)) or 'none'}: do those first.")
        return Result(chk, False, msg, "NotImplementedError")
    except Exception as e:          # a student's code may raise anything
        import traceback
        last = traceback.extract_tb(e.__traceback__)[-1]
        return Result(chk, False, f"exercise {ex.number} ({ex.name}): your code raised "
                      f"{type(e).__name__}: {e} (at {last.filename}:{last.lineno}, "
                      f"{last.line})", type(e).__name__)
    return Result(chk, True)


def select(names=None):
    """The checks whose exercise name, number or check id contains one of ``names``."""
    names = [str(n).lower() for n in names or ()]
    chosen = [c for c in CHECKS if not names or any(
        n == str(c.exercise.number) if n.isdigit() else n in c.id.lower() for n in names)]
    return sorted(chosen, key=lambda c: c.exercise.number)      # stable: file order within one


def run_checks(aevb, names=None):
    """Run the selected checks in-process against the package ``aevb``.

    A failing exercise whose checks call through other exercises (``needs``) is blamed on
    the first of those that fails too (run here if not selected): its messages then begin
    "exercise 7 fails because exercise 2 does: fix it first".
    """
    results = [run_one(c, aevb) for c in select(names)]
    verdict = {}                                  # exercise number -> all its checks pass

    def passes(number):
        if number not in verdict:
            mine = [r for r in results if r.check.exercise.number == number]
            if not mine:
                mine = [run_one(c, aevb) for c in CHECKS if c.exercise.number == number]
            verdict[number] = all(r.passed for r in mine)
        return verdict[number]

    for r in results:
        ex = r.check.exercise
        if r.passed or r.error == "NotImplementedError" and "is not done yet" in r.message:
            continue
        culprit = next((n for n in ex.needs if not passes(n)), None)
        if culprit is not None:
            other = next(e for e in EXERCISES if e.number == culprit)
            r.message = (f"exercise {ex.number} ({ex.name}) fails because exercise {culprit} "
                         f"({other.name}) does: fix it first. {r.message}")
    return results
