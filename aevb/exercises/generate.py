"""The student version: the reference package with every solution region replaced by a stub.

A region is the lines between ``### BEGIN SOLUTION name`` and
``### END SOLUTION`` (the nbgrader / otter-grader convention, with the
exercise's name after the marker). In the student version the region becomes
one line at the marker's indentation::

    raise NotImplementedError("exercise 5 (kl): ...")

so signatures, docstrings and the code around the region stay as they are.
"""
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .registry import BY_NAME, EXERCISES

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
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


def make(dest, package=PACKAGE, overwrite=False):
    """Write the student version into ``dest``: ``dest/aevb/``, a test file and a README.

    Returns the number of regions replaced.
    """
    dest = Path(dest)
    target = dest / "aevb"
    src, tgt = Path(package).resolve(), target.resolve()
    if tgt == src or src in tgt.parents or tgt in src.parents:
        raise ValueError(f"{dest} would write over the reference package in {src}; "
                         f"choose a folder outside it")
    if target.exists():
        if not overwrite:
            raise ValueError(f"{target} exists; pass --overwrite to replace it")
        shutil.rmtree(target)
    regions = all_regions(package)
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in {r.path for r in regions}:
        rel = Path(path).relative_to(package)
        (target / rel).write_text(student_source(Path(path).read_text(), path))
    (dest / "test_exercises.py").write_text(TEST_FILE)
    table = "\n".join(f"{e.number:3d}. {e.name:20s} {e.title} ({e.paper}); in {e.where}"
                      for e in EXERCISES)
    (dest / "README.md").write_text(STUDENT_README.format(n=len(EXERCISES), table=table))
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
