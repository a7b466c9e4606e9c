"""The exercises kept honest: the reference passes, the student version fails, the checks catch.

* the reference passes every check, in-process;
* a freshly generated student version fails every exercise, and only with
  NotImplementedError;
* every BEGIN has its END, every exercise has a region, no solution line
  reaches the student version;
* a student version with one exercise solved by hand (written differently
  from the reference) passes that exercise alone;
* (slow) each mistake of the catalogue, injected into a copy of the
  reference, is caught by a check of its exercise with its diagnosis;
* (slow) the ``aevb exercises`` command end to end, its checks in a child
  process (``test_grading.py`` has points, isolation and ``grade``).
"""
import json
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import aevb
from aevb import exercises as E
from aevb.exercises.generate import PACKAGE


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A fresh student version and the package loaded from it."""
    root = tmp_path_factory.mktemp("student")
    E.make(root)
    return root


def _by_exercise(results):
    out = {}
    for r in results:
        out.setdefault(r.check.exercise.name, []).append(r)
    return out


def test_reference_passes_every_check():
    """A check that fails on the reference is a wrong check (or a broken reference)."""
    failed = [(r.check.id, r.message) for r in E.run_checks(aevb) if not r.passed]
    assert not failed, failed
    assert {c.exercise.name for c in E.CHECKS} == {e.name for e in E.EXERCISES}
    assert len(E.EXERCISES) >= 10


def test_student_version_fails_every_exercise_with_not_implemented(student):
    """Catches a region that was not replaced, or a stub that raises something else."""
    results = _by_exercise(E.run_checks(E.load_package(student)))
    assert set(results) == {e.name for e in E.EXERCISES}
    for name, rs in results.items():
        assert all(not r.passed for r in rs), name
        assert {r.error for r in rs} == {"NotImplementedError"}, [(r.check.id, r.message) for r in rs]


def test_every_region_is_closed_and_nothing_leaks(student):
    """Catches an unmatched marker, an exercise without a region, and solution code in the handout."""
    regions = E.all_regions()
    assert {r.name for r in regions} == {e.name for e in E.EXERCISES}
    assert E.leaked_lines(student) == []
    for path in (student / "aevb").rglob("*.py"):
        py_compile.compile(str(path), doraise=True)
        if "exercises" not in path.parts:
            assert "### BEGIN SOLUTION" not in path.read_text(), path
    stubs = sum(p.read_text().count("raise NotImplementedError(\"exercise ")
                for p in (student / "aevb").rglob("*.py") if "exercises" not in p.parts)
    assert stubs == len(regions)
    for bad, what in [("### BEGIN SOLUTION kl\nx = 1\n", "has no"),
                      ("x = 1\n### END SOLUTION\n", "without a BEGIN"),
                      ("### BEGIN SOLUTION kl\n### BEGIN SOLUTION kl\n", "inside the region"),
                      ("### BEGIN SOLUTION nope\n### END SOLUTION\n", "unknown exercise"),
                      ("    ### BEGIN SOLUTION kl\n### END SOLUTION\n", "not indented")]:
        with pytest.raises(ValueError, match=what):
            E.find_regions(bad)


def test_solution_lines_repeated_elsewhere_are_reported(student, reference_copy):
    """Catches a handout whose other modules give a solution away without the instructor knowing:
    every line they repeat verbatim is listed by solutions_elsewhere (which `make` prints)."""
    regions = E.all_regions()
    solution_files = {(r.name, Path(r.path).resolve().relative_to(PACKAGE.resolve()).as_posix())
                      for r in regions}
    for name, exercise, line in E.solutions_elsewhere():
        assert (exercise, name) not in solution_files
        assert line in (student / "aevb" / name).read_text()
    kl = next(r for r in regions if r.name == "kl")
    line = max(kl.path.read_text().split("\n")[kl.begin + 1:kl.end], key=len).split("#")[0].strip()
    repeat = reference_copy / "aevb" / "zz_repeat.py"
    repeat.write_text(f"def f(mean, logvar, var):\n    {line}\n")
    try:
        assert ("zz_repeat.py", "kl", line) in E.solutions_elsewhere(reference_copy / "aevb")
    finally:
        repeat.unlink()


def test_make_never_writes_over_the_reference(reference_copy):
    """Catches `aevb exercises make . --overwrite` run in the repository deleting the reference
    (tried on a copy, so a broken guard cannot delete the real one)."""
    package = reference_copy / "aevb"
    for dest in (reference_copy, package, package / "exercises"):
        with pytest.raises(ValueError, match="reference package"):
            E.make(dest, package=package, overwrite=True)
    assert (package / "core/distributions.py").is_file()


def test_stub_keeps_signature_and_docstring():
    """Catches a generator that drops the code around a region."""
    src = ('def f(a, b):\n    """Doc."""\n    c = a\n    ### BEGIN SOLUTION tanh\n'
           '    return a + b\n    ### END SOLUTION\n')
    out = E.student_source(src)
    assert out.startswith('def f(a, b):\n    """Doc."""\n    c = a\n    raise NotImplementedError(')
    assert "exercise 2 (tanh)" in out and "return a + b" not in out


def test_failure_names_exercise_quantity_coordinate_and_mistake():
    """Catches a diagnosis that loses the exercise, the coordinate or the mistake's name."""
    from aevb.exercises.registry import compare
    want = np.array([[1.0, 2.0], [3.0, -4.0]])
    with pytest.raises(E.ExerciseFailure) as e:
        compare("kl", "dlogvar", 2 * want, want)
    assert "exercise 5 (kl), dlogvar" in str(e.value) and "a missing 1/2" in str(e.value)
    got = want + np.array([[1e-3, 0.0], [0.0, 1.0]])
    with pytest.raises(E.ExerciseFailure, match=r"worst coordinate \[1, 1\]: got -3, expected -4"):
        compare("kl", "dlogvar", got, want)
    with pytest.raises(E.ExerciseFailure, match="transposed"):
        compare("linear", "dW", np.ones((3, 2)), np.ones((2, 3)))


# A hand-written KL (Appendix B), deliberately unlike the reference: its own cache, expm1-free,
# a different order of operations.
KL_BY_HAND = {
    "forward": ["    s2 = np.exp(logvar)",
                "    kl = 0.5 * np.sum(s2 + mean ** 2 - logvar - 1.0, axis=1)",
                "    return kl, (mean, logvar)"],
    "backward": ["    m, lv = cache",
                 "    g = np.expand_dims(dout, 1)",
                 "    return g * m, g * (np.exp(lv) - 1.0) / 2.0"],
}
ADAGRAD_BY_HAND = ["        acc = state[0]",
                   "        acc += g ** 2",
                   "        if self.t > self.warmup:",
                   "            p[...] = p - self.lr * g / (np.sqrt(acc) + self.eps)"]


def _solve(root, filename, stub_marker, bodies):
    """Replace the stubs of one exercise, in order, with hand-written bodies."""
    path = root / "aevb" / filename
    lines = path.read_text().split("\n")
    at = [i for i, s in enumerate(lines) if stub_marker in s]
    assert len(at) == len(bodies)
    for i, body in reversed(list(zip(at, bodies))):
        lines[i:i + 1] = body
    path.write_text("\n".join(lines))


def test_one_exercise_solved_by_hand_passes_alone(tmp_path):
    """Catches checks that need the reference's private cache layout, or that pass for stubs."""
    E.make(tmp_path)
    _solve(tmp_path, "core/distributions.py", '"exercise 5 (kl)', [KL_BY_HAND["forward"],
                                                             KL_BY_HAND["backward"]])
    _solve(tmp_path, "core/optim.py", '"exercise 9 (adagrad)', [ADAGRAD_BY_HAND])
    results = _by_exercise(E.run_checks(E.load_package(tmp_path)))
    for name, rs in results.items():
        if name in ("kl", "adagrad"):
            assert all(r.passed for r in rs), [(r.check.id, r.message) for r in rs]
        else:
            assert not any(r.passed for r in rs), name


def test_adagrad_with_eps_inside_the_square_root_is_accepted(tmp_path):
    """Catches a tolerance tighter than the formula allows: sqrt(G + eps) is as right as
    sqrt(G) + eps, and was refused with "got -0.061781864, expected -0.061781864"."""
    E.make(tmp_path)
    inside = ADAGRAD_BY_HAND[:-1] + [
        "            p[...] = p - self.lr * g / np.sqrt(acc + self.eps)"]
    _solve(tmp_path, "core/optim.py", '"exercise 9 (adagrad)', [inside])
    rs = _by_exercise(E.run_checks(E.load_package(tmp_path), ["adagrad"]))["adagrad"]
    assert all(r.passed for r in rs), [(r.check.id, r.message) for r in rs]


def test_a_failure_prints_enough_digits_to_see_the_difference():
    """Catches "got -0.061781864, expected -0.061781864": the two numbers must differ as shown."""
    from aevb.exercises.registry import compare
    with pytest.raises(E.ExerciseFailure) as e:
        compare("adagrad", "a value", np.array([-0.0617818641234]),
                np.array([-0.0617818643210]), tol=1e-12)
    got, expected = e.value.args[0].split("got ")[1].split(", expected ")
    assert got != expected.split(" ")[0], e.value.args[0]


def test_a_later_exercise_names_the_earlier_one_to_fix(reference_copy, tmp_path):
    """Catches "compare your code with the equation term by term" for exercise 7 when its
    checks fail only because exercise 2 (tanh, which the encoder calls) is wrong."""
    root = tmp_path / "student"
    shutil.copytree(reference_copy / "aevb", root / "aevb")
    layers = root / "aevb" / "core" / "layers.py"
    layers.write_text(layers.read_text().replace("return dout * (1.0 - h * h)",
                                                 "return -dout * (1.0 - h * h)"))
    rs = E.run_checks(E.load_package(root), ["estimator_b"])
    failed = [r for r in rs if not r.passed]
    assert failed, "exercise 7's checks do not notice a wrong tanh backward"
    assert all(r.message.startswith("exercise 7 (estimator_b) fails because exercise 2 (tanh) "
                                    "does: fix it first.") for r in failed), failed[0].message


# ---------------------------------------------------------------------- the command
def _aevb(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "aevb", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_command_make_and_check(tmp_path, capsys):
    """Catches a check command that imports the installed reference instead of DIR, loses the
    verdict, hangs on an endless loop, or fails every exercise (with a traceback) when one
    module of the submission does not import."""
    from aevb.cli import main
    assert main(["exercises", "make", str(tmp_path)]) == 0
    assert main(["exercises", "check", str(tmp_path / "nowhere")]) == 2
    assert "aevb exercises make" in capsys.readouterr().err
    res = _aevb("exercises", "check", str(tmp_path), "-k", "kl", "--json", str(tmp_path / "r.json"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "exercise  5 kl                   FAIL" in res.stdout and "not done yet" in res.stdout
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["passed"] == 0 and [e["name"] for e in summary["exercises"]] == ["kl"]
    _solve(tmp_path, "core/distributions.py", '"exercise 5 (kl)', [KL_BY_HAND["forward"],
                                                             KL_BY_HAND["backward"]])
    res = _aevb("exercises", "check", str(tmp_path), "-k", "kl")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "exercise  5 kl                   pass  (2/2 checks, 10/10 points)" in res.stdout, \
        res.stdout
    E.fill_stub(tmp_path, "tanh", ["while True:\n    pass"])          # an endless loop
    res = _aevb("exercises", "check", str(tmp_path), "-k", "2", "--timeout", "3")
    assert res.returncode == 1 and "did not finish within 3 s" in res.stderr, res.stderr
    (tmp_path / "aevb" / "core/layers.py").write_text("def broken(:\n")     # does not import
    res = _aevb("exercises", "check", str(tmp_path), "--json", str(tmp_path / "e.json"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "exercise 1 (linear) cannot run: aevb/core/layers.py has a syntax error at line 1 " \
           "(invalid syntax)" in res.stdout, res.stdout
    assert "Traceback" not in res.stdout + res.stderr
    kl = [e for e in json.loads((tmp_path / "e.json").read_text())["exercises"] if e["name"] == "kl"]
    assert kl[0]["passed"], "a module that does not import failed an exercise that never uses it"


def test_select_by_number_name_or_check():
    """Catches '-k 1' selecting exercises 10 and 11 too."""
    assert {c.exercise.number for c in E.select(["1"])} == {1}
    assert {c.exercise.name for c in E.select(["kl", "9"])} == {"kl", "adagrad"}
    assert [c.name for c in E.select(["integrates"])] == ["gaussian_density_integrates_to_one"]


def test_no_named_mistake_matches_the_right_answer(monkeypatch):
    """Catches an alternative that equals the right value at the checks' inputs: it would name a
    mistake for an answer that is only slightly off, or hide behind the tolerance. Every
    alternative of every check, run on the reference, must differ from the right value by at least
    1000 times the tolerance of the diagnosis (1e-6) at some coordinate."""
    from aevb.exercises import checks_baselines, checks_likelihood, checks_models, \
        checks_primitives, registry
    seen = []
    original = registry.compare

    def recording(ex, quantity, got, want, *args, alternatives=(), floor=1e-8, **kw):
        seen.extend((ex, quantity, label, np.asarray(alt, float), np.asarray(want, float), floor)
                    for label, alt in alternatives)
        return original(ex, quantity, got, want, *args, alternatives=alternatives, floor=floor,
                        **kw)
    for module in (registry, checks_primitives, checks_models, checks_likelihood, checks_baselines):
        monkeypatch.setattr(module, "compare", recording, raising=False)
    results = E.run_checks(aevb)
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    assert len(seen) > 40
    close = [(ex, quantity, label) for ex, quantity, label, alt, want, floor in seen
             if alt.shape == want.shape and registry.rel_error(alt, want, floor)[0] < 1e-3]
    assert not close, close


def test_importance_sampling_mistakes_lie_far_from_the_right_answer():
    """Catches a named importance-sampling mistake that a right estimate could match: each lies,
    on every datapoint, more than three of its tolerances from the grid's log p(x) and from the
    reference's own estimate (which passes the check within 0.05 nats)."""
    from aevb.exercises.checks_likelihood import IS_ELBO, IS_FROM_PRIOR, IS_WITHOUT_LOG_PZ, \
        IS_WITHOUT_LOG_Q, _is_mistakes, _is_model
    for seed, bias, K, rng in ((40, 0.0, 4000, 41), (42, -400.0, 2000, 43)):
        enc, dec, x = _is_model(aevb, seed=seed, bias=bias)
        want = aevb.inference.likelihood.grid(dec, x)
        est = aevb.inference.likelihood.importance_sampled(enc, dec, x, n_samples=K, rng=rng).log_px
        mistakes = _is_mistakes(aevb, enc, dec, x, K, rng)
        # the same draws for all four; the limits for all but the one without log p(z)
        assert [m[0] for m in mistakes] == [IS_ELBO, IS_FROM_PRIOR, IS_WITHOUT_LOG_Q,
                                            IS_WITHOUT_LOG_PZ, IS_ELBO, IS_WITHOUT_LOG_Q,
                                            IS_FROM_PRIOR], seed
        for label, value, tol in mistakes:
            margin = np.maximum(3 * tol, 0.1)
            assert np.all(np.abs(value - want) > margin), (seed, label, value - want)
            assert np.all(np.abs(value - est) > margin), (seed, label, value - est)
