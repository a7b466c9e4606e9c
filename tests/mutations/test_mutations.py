"""The harness of the one mutation catalogue (``catalogue.py``): every mutant must be caught.

A mutation with ``tests`` must fail those fast tests; one with an ``exercise``
must fail that exercise's checks with its ``diagnosis``. The slow test
copies ``aevb/`` into a temporary folder, applies one mutation, and runs only
those tests in a subprocess that imports the copy (checked, not assumed: the
editable install would otherwise win); pytest must report failed tests (exit
status 1), not a crash at collection (2) or a pass (0), and the output must not
show a NameError or the like (a mutant that merely breaks the code is not a
catch). A control runs the same tests on an unmutated copy: they must pass.

Run it with ``pytest --runslow tests/mutations``; a survivor is named by its
parameter id.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import aevb
from aevb import exercises as E

from catalogue import MUTATIONS, NAMES

PACKAGE = Path(aevb.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent.parent
TIMEOUT = 120          # seconds per mutant; the slowest needs about 3 on one core




def test_catalogue_matches_the_current_code():
    """Every mutation's text occurs exactly once, changes the code, and still compiles.

    Also: every named test exists, and the names are unique, so a survivor is named.
    """
    assert len(set(NAMES)) == len(NAMES)
    for m in MUTATIONS:
        assert m.tests or m.exercise, f"{m.name}: nobody is asked to catch it"
        assert (m.exercise is None) == (m.diagnosis is None), m.name
        source = (PACKAGE / m.file).read_text()
        mutated = m.apply(source)
        assert mutated != source, m.name
        compile(mutated, f"aevb/{m.file} ({m.name})", "exec")
        for node in m.tests:
            file, _, name = node.partition("::")
            assert f"def {name.split('[')[0]}(" in (TESTS / file).read_text(), (m.name, node)


PLUGIN = '''
import aevb

def pytest_sessionstart(session):
    with open({out!r}, "w") as f:
        f.write(aevb.__file__)
'''


def _run_on_a_copy(tmp_path, mutation, tests):
    """Copy aevb/, apply ``mutation`` (or none), run ``tests`` in a child; returns (rc, output)."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "aevb", ignore=shutil.ignore_patterns("__pycache__"))
    if mutation is not None:
        target = copy / "aevb" / mutation.file
        target.write_text(mutation.apply(target.read_text()))
    imported = tmp_path / "imported_from.txt"
    (copy / "mutant_check.py").write_text(PLUGIN.format(out=str(imported)))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env.update(PYTHONPATH=os.pathsep.join([str(copy)] + [p for p in [env.get("PYTHONPATH")] if p]),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-p", "mutant_check", *[str(TESTS / t) for t in tests]]
    label = mutation.name if mutation else "the unmutated copy"
    # cwd is not the checkout, so '' on sys.path cannot import the original. The child leads a
    # session of its own, so that a timeout ends what it started too (a sweep and its workers).
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{label}: its tests did not finish in {TIMEOUT} s")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)       # anything it left running
        except ProcessLookupError:
            pass
    out = stdout + stderr
    tail = "\n".join(out.splitlines()[-15:])
    assert imported.is_file(), f"{label}: the child never started its session:\n{tail}"
    assert Path(imported.read_text()).resolve() == (copy / "aevb" / "__init__.py").resolve(), \
        f"{label}: the child imported {imported.read_text()}, not the copy"
    return proc.returncode, out, tail


@pytest.mark.slow
def test_the_unmutated_copy_passes_every_catching_test(tmp_path):
    """The control: without a mutation the same tests pass, so no catch below is vacuous."""
    tests = sorted({t for m in MUTATIONS for t in m.tests})
    assert tests
    rc, _, tail = _run_on_a_copy(tmp_path, None, tests)
    assert rc == 0, f"the catching tests fail on the unmutated code:\n{tail}"


FAST = [m for m in MUTATIONS if m.tests]
EXERCISE = [m for m in MUTATIONS if m.exercise]


@pytest.mark.slow
@pytest.mark.parametrize("mutation", FAST, ids=[m.name for m in FAST])
def test_mutant_is_caught_by_the_fast_tests(mutation, tmp_path):
    rc, out, tail = _run_on_a_copy(tmp_path, mutation, mutation.tests)
    assert rc != 0, f"mutant {mutation.name} SURVIVED {mutation.tests}:\n{tail}"
    crash = re.search(r"\b(NameError|SyntaxError|IndentationError|ImportError|AttributeError"
                      r"|UnboundLocalError)\b", out)
    assert crash is None, f"mutant {mutation.name} broke the code ({crash[0]}), it was " \
                          f"not caught by a check:\n{tail}"
    assert rc == 1, (f"mutant {mutation.name}: pytest exited {rc} (an error, not a failing "
                     f"test):\n{tail}")


def test_catalogue_covers_the_named_mistakes():
    """The issue's catalogue: each named mistake has at least one mutation that must be caught."""
    diagnoses = " | ".join(m.diagnosis for m in EXERCISE)
    for mistake in ("standard deviation where log-variance is meant", "a missing 1/2",
                    "instead of the mean", "the wrong sign", "z = mean when scoring",
                    "Overflow for large logits"):
        assert mistake in diagnoses, mistake
    assert {m.exercise for m in EXERCISE} == {e.name for e in E.EXERCISES}


@pytest.mark.slow
@pytest.mark.parametrize("mutation", EXERCISE, ids=[m.name for m in EXERCISE])
def test_injected_mistake_is_caught_with_its_diagnosis(reference_copy, tmp_path, mutation):
    """Catches a check that misses the mistake, or that fails without naming it."""
    root = tmp_path / "mutant"
    shutil.copytree(reference_copy / "aevb", root / "aevb")
    exercise, edits, diagnosis = mutation.exercise, mutation.edits, mutation.diagnosis
    path = root / "aevb" / mutation.file
    text = path.read_text()
    regions = E.find_regions(text)
    lines = text.split("\n")
    for old, new in edits:
        assert text.count(old) == 1, old
        at = text[:text.index(old)].count("\n")
        assert any(r.name == exercise and r.begin < at < r.end for r in regions), \
            f"{old!r} is not inside a region of {exercise}"
        text = text.replace(old, new)
    del lines
    path.write_text(text)
    results = E.run_checks(E.load_package(root), [exercise])
    caught = [r for r in results if not r.passed]
    assert caught, f"no check of {exercise} fails"
    assert any(r.error == "ExerciseFailure" and diagnosis in r.message for r in caught), \
        [r.message for r in caught]
