"""The student version: the reference package with every solution region replaced by a stub.

A region is the lines between ``### BEGIN SOLUTION name`` and
``### END SOLUTION`` (the nbgrader / otter-grader convention, with the
exercise's name after the marker). In the student version the region becomes
one line at the marker's indentation::

    raise NotImplementedError("exercise 5 (kl): ...")

so signatures, docstrings and the code around the region stay as they are.

The checks follow nbgrader's convention for hidden tests: the lines of
``aevb/exercises/`` between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` (whole checks, or the parts of a check that would
give the formula away: the expected values, the mistaken values a diagnosis
matches, the hints) are left out of the handout's copy, which keeps the
visible checks. ``make(..., hidden_checks=DIR)`` writes the whole set to
``DIR`` for ``aevb exercises check --checks DIR`` and ``grade --checks DIR``.
"""
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .registry import BY_NAME, EXERCISES

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CHECKS_DIR = Path(__file__).resolve().parent            # the instructor's checks (this folder)
PACKAGE = Path(__file__).resolve().parent.parent        # the aevb/ folder holding the regions
SKIP = ("exercises",)                                    # folders never scanned (this one)

TEST_FILE = '''"""The aevb exercise checks: run ``aevb exercises check`` (or ``pytest`` in this folder).

The package under test is the ``aevb`` that Python imports (this folder's copy,
put first on the path by ``aevb exercises check``); the checks come from
AEVB_EXERCISE_CHECKS (a path to an ``exercises`` folder) when it is set, else
from the package's own ``aevb/exercises``.
"""
import importlib.util
import os
import sys

import pytest

import aevb


def _checks():
    where = os.environ.get("AEVB_EXERCISE_CHECKS")
    if not where:
        from aevb import exercises
        return exercises
    spec = importlib.util.spec_from_file_location(
        "aevb_exercise_checks", os.path.join(where, "__init__.py"),
        submodule_search_locations=[where])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


EX = _checks()
ROOT = os.environ.get("AEVB_EXERCISE_ROOT")
NAMES = [n for n in os.environ.get("AEVB_EXERCISE_SELECT", "").split(",") if n]


@pytest.mark.parametrize("chk", EX.select(NAMES), ids=lambda c: c.id)
def test_exercise(chk):
    here = os.path.realpath(os.path.dirname(aevb.__file__))
    if ROOT and os.path.commonpath([here, os.path.realpath(ROOT)]) != os.path.realpath(ROOT):
        pytest.fail(f"[setup] the package under test is {here}, not the copy in {ROOT}",
                    pytrace=False)
    result = EX.run_one(chk, aevb)
    if not result.passed:
        pytest.fail(f"[{result.error}] {result.message}", pytrace=False)
'''

STUDENT_README = """# aevb exercises

This folder holds a copy of the aevb package in which {n} exercises are left
for you: every place that raises `NotImplementedError("exercise N (name): ...")`.
Write your code there, in place of the `raise` line; keep the signature.

From this folder:

    python -m aevb exercises check            # all exercises, pass/FAIL with a diagnosis
    python -m aevb exercises check -k kl      # one exercise (name, number, or part of a check's name)
    python -m aevb exercises list             # what each exercise covers
    python -m pytest test_exercises.py        # the same checks through pytest, if installed

`notebooks/` holds the course's notebooks 01-10, without their outputs: run
them in Jupyter (started in this folder or in `notebooks/`) and they use your
code; a cell that prints a function you write prints yours.

The checks in `aevb/exercises/` are the visible part of your instructor's
checks: they say what is checked (gradients against finite differences, the
shapes, the properties every answer must have), not the formula. Your
instructor may grade with more.

Exercises, in order (the later ones call the earlier ones):

{table}
"""


@dataclass
class Region:
    path: Path
    name: str
    begin: int          # 0-based line index of the BEGIN marker
    end: int            # 0-based line index of the END marker
    indent: str


def find_regions(text, path="<text>"):
    """Parse the regions of one file; ValueError for an unmatched or unknown marker."""
    regions, open_ = [], None
    for i, line in enumerate(text.split("\n")):
        s = line.strip()
        if s.startswith(BEGIN):
            if open_ is not None:
                raise ValueError(f"{path}:{i + 1}: BEGIN SOLUTION inside the region opened "
                                 f"at line {open_.begin + 1}; close it with {END!r} first")
            name = s[len(BEGIN):].strip()
            if name not in BY_NAME:
                raise ValueError(f"{path}:{i + 1}: unknown exercise {name!r} after {BEGIN!r}; "
                                 f"use one of {sorted(BY_NAME)}")
            open_ = Region(Path(path), name, i, -1, re.match(r"\s*", line).group(0))
        elif s.startswith(END):
            if open_ is None:
                raise ValueError(f"{path}:{i + 1}: {END!r} without a BEGIN SOLUTION before it")
            if re.match(r"\s*", line).group(0) != open_.indent:
                raise ValueError(f"{path}:{i + 1}: END SOLUTION is not indented like its BEGIN "
                                 f"at line {open_.begin + 1}")
            open_.end = i
            regions.append(open_)
            open_ = None
    if open_ is not None:
        raise ValueError(f"{path}:{open_.begin + 1}: BEGIN SOLUTION {open_.name} has no "
                         f"{END!r}")
    return regions


def hidden_regions(text, path="<text>"):
    """The ``(begin, end)`` line indices (0-based, markers included) of the hidden parts of a check module.

    ValueError for a marker without its partner, a nested one, or an END not
    indented like its BEGIN.
    """
    found, open_ = [], None
    for i, line in enumerate(text.split("\n")):
        s, indent = line.strip(), re.match(r"\s*", line).group(0)
        if s.startswith(HIDDEN_BEGIN):
            if open_ is not None:
                raise ValueError(f"{path}:{i + 1}: {HIDDEN_BEGIN!r} inside the hidden part "
                                 f"opened at line {open_[0] + 1}; close it first")
            open_ = (i, indent)
        elif s.startswith(HIDDEN_END):
            if open_ is None:
                raise ValueError(f"{path}:{i + 1}: {HIDDEN_END!r} without a {HIDDEN_BEGIN!r} "
                                 f"before it")
            if indent != open_[1]:
                raise ValueError(f"{path}:{i + 1}: {HIDDEN_END!r} is not indented like its "
                                 f"BEGIN at line {open_[0] + 1}")
            found.append((open_[0], i))
            open_ = None
    if open_ is not None:
        raise ValueError(f"{path}:{open_[0] + 1}: {HIDDEN_BEGIN!r} has no {HIDDEN_END!r}")
    return found


def visible_source(text, path="<text>"):
    """``text`` without its hidden parts (markers included): the handout's copy of a check module.

    ValueError if what is left does not compile (a hidden part that cuts a
    statement in two).
    """
    lines = text.split("\n")
    for begin, end in reversed(hidden_regions(text, path)):
        del lines[begin:end + 1]
    out = "\n".join(lines)
    try:
        compile(out, f"{path} (visible part)", "exec")
    except SyntaxError as e:
        raise ValueError(f"{path}: without its hidden tests the module does not compile "
                         f"(line {e.lineno} of the visible part: {e.msg}); put the markers "
                         f"around whole statements or whole items of a list") from None
    return out


def check_files(where=CHECKS_DIR):
    """The modules of a checks folder (``aevb/exercises`` or one written by ``make --hidden-checks``)."""
    return sorted(p for p in Path(where).glob("*.py"))


def hidden_lines(student_dir, where=CHECKS_DIR):
    """Code lines of the hidden tests that appear in the handout's checks (should be none).

    A line counts when it is code longer than a few characters that does not
    also occur in the visible part of the same module.
    """
    leaks = []
    for path in check_files(where):
        text = path.read_text()
        lines = text.split("\n")
        inside = set()
        for begin, end in hidden_regions(text, path):
            inside.update(range(begin + 1, end))
        visible = {lines[i].strip() for i in range(len(lines)) if i not in inside}
        hidden = {lines[i].strip() for i in inside} - visible
        hidden = {h for h in hidden if len(h) > 6 and not h.startswith("#")}
        copy = Path(student_dir) / "aevb" / "exercises" / path.name
        if copy.is_file():
            body = {s.strip() for s in copy.read_text().split("\n")}
            leaks += [f"{copy}: {h}" for h in sorted(hidden & body)]
    return leaks


def _empty_or_new(folder, what):
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file: give a new or empty folder for {what}")
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} exists and is not empty: give a new or empty folder "
                         f"for {what}")


def stub_line(name, indent):
    e = BY_NAME[name]
    return (f'{indent}raise NotImplementedError("exercise {e.number} ({e.name}): {e.title} '
            f'[{e.paper}]; check it with: aevb exercises check -k {e.name}")')


def student_source(text, path="<text>"):
    """``text`` with every region replaced by its stub."""
    lines = text.split("\n")
    for r in reversed(find_regions(text, path)):
        lines[r.begin:r.end + 1] = [stub_line(r.name, r.indent)]
    return "\n".join(lines)


def package_files(package=PACKAGE):
    return sorted(p for p in Path(package).rglob("*.py")
                  if not set(p.relative_to(package).parts[:-1]) & set(SKIP)
                  and "__pycache__" not in p.parts)


def all_regions(package=PACKAGE):
    """Every region of the package, checked: each exercise has at least one."""
    regions = [r for p in package_files(package) for r in find_regions(p.read_text(), p)]
    missing = [e.name for e in EXERCISES if e.name not in {r.name for r in regions}]
    if missing:
        raise ValueError(f"no solution region for exercise(s) {missing} in {package}")
    return regions


def make(dest, package=PACKAGE, overwrite=False, hidden_checks=None, notebooks=None):
    """Write the student version into ``dest``: ``dest/aevb/``, a test file, a README and the notebooks.

    ``dest/notebooks/`` holds notebooks 01-10 without outputs, run on the
    handout's own ``aevb`` (:func:`~aevb.exercises.notebooks.handout_notebooks`),
    taken from ``notebooks`` (default: the repository's ``notebooks/`` beside
    ``package``; none when the package is installed without them).

    The handout's ``aevb/exercises/`` holds the visible checks only (the
    hidden tests left out, see :func:`visible_source`). With ``hidden_checks``
    (a new or empty folder outside ``dest``), the whole set of checks is
    written there too, for ``aevb exercises check --checks`` and ``grade
    --checks``. Everything is checked before anything is written. Returns the
    number of regions replaced.
    """
    dest = Path(dest)
    target = dest / "aevb"
    src, tgt = Path(package).resolve(), target.resolve()
    if tgt == src or src in tgt.parents or tgt in src.parents:
        raise ValueError(f"{dest} would write over the reference package in {src}; "
                         f"choose a folder outside it")
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest} is a file: give a new folder (or one holding a handout) for "
                         f"the handout")
    if target.exists() and not overwrite:
        raise ValueError(f"{target} exists; pass --overwrite to replace it")
    if hidden_checks is not None:
        hid, d = Path(hidden_checks).resolve(), dest.resolve()
        if hid == d or d in hid.parents:
            raise ValueError(f"{hidden_checks} is inside the handout {dest}, so the hidden "
                             f"checks would be handed out: write them somewhere else")
        if hid == src or src in hid.parents:
            raise ValueError(f"{hidden_checks} is inside the reference package {src}; "
                             f"choose a folder outside it")
        _empty_or_new(hidden_checks, "the hidden checks")
    from .notebooks import check_source, handout_notebooks      # they import this module
    if notebooks is not None:
        check_source(notebooks)
    regions = all_regions(package)
    checks = Path(package) / "exercises"
    visible = {p.name: visible_source(p.read_text(), p) for p in check_files(checks)}
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in {r.path for r in regions}:
        rel = Path(path).relative_to(package)
        (target / rel).write_text(student_source(Path(path).read_text(), path))
    for name, text in visible.items():
        (target / "exercises" / name).write_text(text)
    (dest / "test_exercises.py").write_text(TEST_FILE)
    table = "\n".join(f"{e.number:3d}. {e.name:20s} {e.title} ({e.paper}); in {e.where}"
                      for e in EXERCISES)
    (dest / "README.md").write_text(STUDENT_README.format(n=len(EXERCISES), table=table))
    handout_notebooks(dest, package, regions, source=notebooks)
    if hidden_checks is not None:
        shutil.copytree(checks, hidden_checks, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return len(regions)


def leaked_lines(student_dir, package=PACKAGE):
    """Solution lines that appear in the student version (should be none).

    A line counts when it is code (not blank, not a comment, longer than a
    few characters) and does not also occur outside the regions of the
    reference.
    """
    leaks = []
    for path in package_files(package):
        text = path.read_text()
        lines = text.split("\n")
        inside = set()
        for r in find_regions(text, path):
            inside.update(range(r.begin + 1, r.end))
        outside = {lines[i].strip() for i in range(len(lines)) if i not in inside}
        solution = {lines[i].strip() for i in inside} - outside
        solution = {s for s in solution if len(s) > 6 and not s.startswith("#")}
        student = Path(student_dir) / "aevb" / path.relative_to(package)
        body = {s.strip() for s in student.read_text().split("\n")}
        leaks += [f"{student}: {s}" for s in sorted(solution & body)]
    for extra in Path(student_dir).rglob("*.py"):
        if "exercises" in extra.parts:
            body = {s.strip() for s in extra.read_text().split("\n")}
            for path in package_files(package):
                text = path.read_text()
                lines = text.split("\n")
                for r in find_regions(text, path):
                    for s in lines[r.begin + 1:r.end]:
                        s = s.strip()
                        if len(s) > 20 and not s.startswith("#") and s in body:
                            leaks.append(f"{extra}: {s}")
    return leaks


def fill_stub(root, name, bodies):
    """Write a student's answer: replace the stubs of exercise ``name`` in ``root/aevb``.

    ``bodies`` holds one block of code per stub, in the order of the files'
    paths and then of their lines, written without indentation (each line
    gets the stub's). Returns the files changed.
    """
    e = BY_NAME[name]
    tag = f'NotImplementedError("exercise {e.number} ({e.name})'
    at = []
    for path in package_files(Path(root) / "aevb"):
        lines = path.read_text().split("\n")
        at += [(path, i) for i, s in enumerate(lines) if tag in s]
    if len(at) != len(bodies):
        raise ValueError(f"exercise {name} has {len(at)} stub(s) left in {root}, "
                         f"but {len(bodies)} block(s) of code were given")
    for path in sorted({p for p, _ in at}, reverse=True):
        lines = path.read_text().split("\n")
        for (p, i), body in reversed([(a, b) for a, b in zip(at, bodies) if a[0] == path]):
            indent = re.match(r"\s*", lines[i]).group(0)
            lines[i:i + 1] = [indent + s if s.strip() else "" for s in body.strip("\n").split("\n")]
        path.write_text("\n".join(lines))
    return sorted({p for p, _ in at})


def solutions_elsewhere(package=PACKAGE, min_length=25):
    """Solution lines that other modules of the package repeat verbatim.

    Those modules are handed out unchanged (other parts of the library import
    them), so a student can find these lines there. Returns a list of
    ``(file, exercise, line)``, the file relative to the package (``inference/posterior.py``);
    ``aevb exercises make`` prints it.
    """
    package = Path(package)

    def rel(path):
        return Path(path).resolve().relative_to(package.resolve()).as_posix()
    solution = {}
    for r in all_regions(package):
        for line in Path(r.path).read_text().split("\n")[r.begin + 1:r.end]:
            code = line.split("#")[0].strip()
            if len(code) >= min_length:
                solution.setdefault(code, (r.name, rel(r.path)))
    found = []
    for path in package_files(package):
        for line in sorted({s.split("#")[0].strip() for s in path.read_text().split("\n")}):
            if line in solution and solution[line][1] != rel(path):
                found.append((rel(path), solution[line][0], line))
    return found
