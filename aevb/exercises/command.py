"""``aevb exercises``: make a student version, check one, grade many.

``check`` and ``grade`` run the checks in a child process (:mod:`.isolate`,
plain Python: no pytest needed) whose ``import aevb`` finds the student's
copy, while the checks themselves come from this, the instructor's,
installation, or from a folder of checks given with ``--checks`` (the
hidden set ``make --hidden-checks DIR`` wrote). ``check`` runs one child for
everything it selects; ``grade`` one per exercise with its own time limit
(:mod:`.grading`).
:func:`load_package` imports a copy of the package in-process, for tests.
"""
import argparse
import importlib.util
import itertools
import json
import os
import sys
from pathlib import Path

from .generate import PACKAGE, make, solutions_elsewhere
from .grading import (DEFAULT_TIMEOUT, ChildTimeout, GradeInputError, blame, check_timeout, fmt,
                      grade, load_checks, run_child, summarize)
from .registry import EXERCISES

_counter = itertools.count()


def load_package(root, name=None):
    """Import ``root/aevb`` in-process as a new top-level package (default name ``aevb_copy_N``)."""
    name = name or f"aevb_copy_{next(_counter)}_{os.getpid()}"
    init = Path(root) / "aevb" / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init,
                                                  submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def check_folder(root, names=None, timeout=600.0, checks=None):
    """Run the selected checks against ``root/aevb`` in one child process.

    Returns a list of records (dicts: id, exercise, number, check, passed,
    error, message), in the registry's order, with the blame passed on through
    ``needs``; raises RuntimeError if the run exceeds ``timeout`` seconds or
    stops without a result. A module of the copy that does not import fails
    only the checks that use it, with a message naming its file and line.
    ``checks`` is a folder of checks (default: this package's own; see
    :func:`~aevb.exercises.grading.load_checks`).
    """
    root = Path(root).resolve()
    if not (root / "aevb" / "__init__.py").is_file():
        raise ValueError(f"{root} has no aevb/ package: make one with `aevb exercises make {root}`")
    timeout = check_timeout(timeout)
    checks = load_checks(checks)
    if not checks.registry.select(names):
        raise ValueError(f"no check matches {names}; exercises: "
                         f"{', '.join(e.name for e in checks.registry.EXERCISES)}")
    try:
        records = run_child(root, names=list(names or ()), needs=True, timeout=timeout,
                            checks=checks)
    except ChildTimeout:
        raise RuntimeError(f"the checks did not finish within {timeout:g} s (an endless loop "
                           f"in the code under test? `aevb exercises grade` gives each "
                           f"exercise its own time limit)") from None
    return [r for r in blame(records, checks) if r.get("selected", True)]


def report(summary, stream=sys.stdout):
    """Print one line per exercise (verdict, checks, points) and its diagnoses."""
    for s in summary:
        verdict = "pass" if s["passed"] else "FAIL"
        print(f"exercise {s['number']:2d} {s['name']:20s} {verdict}  "
              f"({s['checks_passed']}/{s['checks']} checks, "
              f"{fmt(s['points'])}/{fmt(s['max_points'])} points)", file=stream)
        seen = set()
        for r in s["failures"]:
            if r["message"] in seen:
                continue
            seen.add(r["message"])
            print(f"    {r['check']}: " + r["message"].replace("\n", "\n    "), file=stream)
    done = sum(s["passed"] for s in summary)
    print(f"{done}/{len(summary)} exercises pass; score "
          f"{fmt(sum(s['points'] for s in summary))}/{fmt(sum(s['max_points'] for s in summary))}",
          file=stream)


def cmd_make(args):
    n = make(args.dir, overwrite=args.overwrite, hidden_checks=args.hidden_checks,
             notebooks=args.notebooks)
    shown, everything = (len(load_checks(Path(args.dir) / "aevb" / "exercises").registry.CHECKS),
                         len(load_checks().registry.CHECKS))
    print(f"wrote {args.dir}/aevb with {n} solution regions replaced by stubs "
          f"({len(EXERCISES)} exercises) and {shown} of the {everything} checks (the visible "
          f"ones); check with: aevb exercises check {args.dir}")
    books = sorted((Path(args.dir) / "notebooks").glob("*.ipynb"))
    print(f"wrote {len(books)} notebooks to {Path(args.dir) / 'notebooks'} (without outputs; they "
          f"run on the handout's aevb)" if books else
          "wrote no notebooks: this aevb is installed without the repository's notebooks/; "
          "pass --notebooks CLONE/notebooks to include them")
    if args.hidden_checks:
        print(f"wrote all {everything} checks to {args.hidden_checks}; grade with: "
              f"aevb exercises grade SUBMISSIONS_DIR --checks {args.hidden_checks} --out OUT")
    elsewhere = solutions_elsewhere()
    if elsewhere:
        print("note: these modules are handed out unchanged and repeat solution lines "
              "(delete or edit them in the handout if that matters for your course):")
        for name, exercise, line in elsewhere:
            print(f"    {name}: {exercise}: {line}")
    return 0


def cmd_check(args):
    root = PACKAGE.parent if args.reference else Path(args.dir)
    checks = load_checks(args.checks)
    try:
        records = check_folder(root, args.k, timeout=args.timeout, checks=checks)
    except RuntimeError as e:
        print(f"aevb exercises check: {root}: {e}", file=sys.stderr)
        if args.json:
            Path(args.json).write_text(json.dumps({"dir": str(root), "error": str(e)}, indent=1))
        return 1
    summary = summarize(records, checks)
    report(summary)
    if args.json:
        exercises = [{k: v for k, v in s.items() if k != "results"} for s in summary]
        Path(args.json).write_text(json.dumps(
            {"dir": str(root), "passed": sum(s["passed"] for s in summary),
             "total": len(summary), "score": round(sum(s["points"] for s in summary), 2),
             "max_score": round(sum(s["max_points"] for s in summary), 2),
             "exercises": exercises}, indent=1))
    return 0 if all(s["passed"] for s in summary) else 1


def cmd_grade(args):
    def progress(name, summary):
        print(f"{name:24s} {fmt(sum(s['points'] for s in summary)):>6s} / "
              f"{fmt(sum(s['max_points'] for s in summary))}", flush=True)
    try:
        graded = grade(args.submissions, args.out, timeout=args.timeout, progress=progress,
                       checks=args.checks)
    except GradeInputError as e:
        print(f"aevb exercises grade: {e}", file=sys.stderr)
        return 2
    print(f"wrote {Path(args.out) / 'grades.csv'}, {len(graded)} feedback files in "
          f"{Path(args.out) / 'feedback'} and {len(graded)} Gradescope results "
          f"({Path(args.out) / 'NAME' / 'results.json'})")
    return 0


def cmd_list(args):
    for e in EXERCISES:
        needs = f"; builds on {', '.join(map(str, e.needs))}" if e.needs else ""
        print(f"{e.number:3d} {e.name:20s} {e.title} [{e.paper}] in {e.where}{needs}")
    return 0


def _seconds(text):
    """argparse type of ``--timeout``: a positive number of seconds."""
    try:
        return check_timeout(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds") from None


def add_parser(subparsers):
    """Add ``aevb exercises {make,check,grade,list}`` (the cli module's EXTENSIONS hook)."""
    p = subparsers.add_parser("exercises", help="course exercises: make a student version, "
                              "check one, grade many")
    sub = p.add_subparsers(dest="exercises_command", required=True)
    m = sub.add_parser("make", help="write a student version of the package into DIR")
    m.add_argument("dir", metavar="DIR")
    m.add_argument("--overwrite", action="store_true", help="replace DIR/aevb if it exists")
    m.add_argument("--notebooks", metavar="NOTEBOOKS_DIR",
                   help="the repository's notebooks/ folder to hand out (default: the one beside "
                        "this aevb, when it runs from a clone)")
    m.add_argument("--hidden-checks", metavar="CHECKS_DIR",
                   help="also write the whole set of checks (the hidden ones too) into this new "
                        "or empty folder, outside DIR, for check/grade --checks")
    m.set_defaults(func=cmd_make)
    c = sub.add_parser("check", help="run the exercises' checks against DIR/aevb")
    c.add_argument("dir", metavar="DIR", nargs="?", default=".",
                   help="folder holding the student's aevb/ (default: the current one)")
    c.add_argument("-k", action="append", metavar="NAME",
                   help="only this exercise (name, number, or part of a check's name); repeatable")
    c.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    c.add_argument("--timeout", type=_seconds, default=600.0, help="seconds (default 600)")
    c.add_argument("--reference", action="store_true",
                   help="check the installed reference package instead of DIR")
    c.add_argument("--checks", metavar="CHECKS_DIR",
                   help="run the checks in this folder (from make --hidden-checks) instead of "
                        "the installed ones")
    c.set_defaults(func=cmd_check)
    g = sub.add_parser("grade", help="grade a folder of submissions, one exercise per child "
                       "process with its own time limit")
    g.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                   help="folder holding one sub-folder per submission (each a filled-in handout)")
    g.add_argument("--out", required=True, metavar="OUT",
                   help="new or empty folder for grades.csv, feedback/NAME.md and NAME/results.json")
    g.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT,
                   help=f"seconds per exercise of a submission (default {DEFAULT_TIMEOUT:g})")
    g.add_argument("--checks", metavar="CHECKS_DIR",
                   help="grade with the checks in this folder (from make --hidden-checks) "
                        "instead of the installed ones")
    g.set_defaults(func=cmd_grade)
    li = sub.add_parser("list", help="the exercises, the equations they cover, where they are")
    li.set_defaults(func=cmd_list)
    return p
