"""``aevb exercises``: make a student version, check one, grade many.

``check`` runs pytest in a subprocess (with a timeout) whose ``import aevb``
finds the student's copy first, while the checks themselves come from this,
the instructor's, installation. :func:`load_package` does the same in-process
for tests: it imports a copy of the package under a name of its own.
"""
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from .generate import PACKAGE, TEST_FILE, make, solutions_elsewhere
from .registry import EXERCISES, select

HERE = Path(__file__).resolve().parent
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


def _records(xml_path, selected):
    by_id = {c.id: c for c in selected}
    out = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        name = case.get("name", "")
        cid = name[name.find("[") + 1:-1] if "[" in name else name
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        chk = by_id.get(cid)
        if chk is None:                     # a collection error: the package does not import
            text = (bad.get("message", "") + "\n" + (bad.text or "")) if bad is not None else ""
            raise RuntimeError(f"the checks could not start: {text.strip()[-1500:]}")
        msg = "" if bad is None else (bad.get("message") or bad.text or "").strip()
        msg = msg[len("Failed: "):] if msg.startswith("Failed: ") else msg
        error = msg[1:msg.index("]")] if msg.startswith("[") and "]" in msg else ""
        msg = msg[msg.index("]") + 2:] if error else msg
        if case.find("skipped") is not None:
            msg, error = "skipped", "skipped"
        out.append({"id": cid, "exercise": chk.exercise.name, "number": chk.exercise.number,
                    "check": chk.name, "passed": bad is None and error != "skipped",
                    "error": error, "message": msg})
    return out


def check_folder(root, names=None, timeout=600.0):
    """Run the selected checks against ``root/aevb`` in a pytest subprocess.

    Returns a list of records (dicts: id, exercise, number, check, passed,
    error, message); raises RuntimeError if the package does not import or
    the run exceeds ``timeout`` seconds.
    """
    root = Path(root).resolve()
    if not (root / "aevb" / "__init__.py").is_file():
        raise ValueError(f"{root} has no aevb/ package: make one with `aevb exercises make {root}`")
    selected = select(names)
    if not selected:
        raise ValueError(f"no check matches {names}; exercises: "
                         f"{', '.join(e.name for e in EXERCISES)}")
    with tempfile.TemporaryDirectory(prefix="aevb-exercises-") as tmp:
        test = Path(tmp) / "test_exercises.py"
        test.write_text(TEST_FILE)
        env = {**os.environ, "AEVB_EXERCISE_CHECKS": str(HERE),
               "AEVB_EXERCISE_SELECT": ",".join(names or ()),
               "AEVB_EXERCISE_ROOT": str(root),
               "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
               "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
        cmd = [sys.executable, "-m", "pytest", str(test), "-q", "-p", "no:cacheprovider",
               "--rootdir", tmp, "-c", os.devnull, "--junitxml", str(Path(tmp) / "r.xml")]
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the checks did not finish within {timeout:g} s "
                               f"(an endless loop in the code under test?)") from None
        xml = Path(tmp) / "r.xml"
        if not xml.is_file():
            raise RuntimeError(f"pytest wrote no results (exit {proc.returncode}): "
                               f"{(proc.stdout + proc.stderr).strip()[-1500:]}")
        return _records(xml, selected)


def summarize(records):
    """Per exercise: passed (all checks pass), the checks and the failure messages."""
    out = {}
    for e in EXERCISES:
        rs = [r for r in records if r["exercise"] == e.name]
        if rs:
            out[e.name] = {"number": e.number, "passed": all(r["passed"] for r in rs),
                           "checks_passed": sum(r["passed"] for r in rs), "checks": len(rs),
                           "failures": [r for r in rs if not r["passed"]]}
    return out


def report(summary, stream=sys.stdout):
    for name, s in summary.items():
        verdict = "pass" if s["passed"] else "FAIL"
        print(f"exercise {s['number']:2d} {name:20s} {verdict}  "
              f"({s['checks_passed']}/{s['checks']} checks)", file=stream)
        seen = set()
        for r in s["failures"]:
            if r["message"] in seen:
                continue
            seen.add(r["message"])
            print(f"    {r['check']}: " + r["message"].replace("\n", "\n    "), file=stream)
    done = sum(s["passed"] for s in summary.values())
    print(f"{done}/{len(summary)} exercises pass", file=stream)


def cmd_make(args):
    n = make(args.dir, overwrite=args.overwrite)
    print(f"wrote {args.dir}/aevb with {n} solution regions replaced by stubs "
          f"({len(EXERCISES)} exercises); check with: aevb exercises check {args.dir}")
    elsewhere = solutions_elsewhere()
    if elsewhere:
        print("note: these modules are handed out unchanged and repeat solution lines "
              "(delete or edit them in the handout if that matters for your course):")
        for name, exercise, line in elsewhere:
            print(f"    {name}: {exercise}: {line}")
    return 0


def cmd_check(args):
    root = PACKAGE.parent if args.reference else Path(args.dir)
    try:
        records = check_folder(root, args.k, timeout=args.timeout)
    except RuntimeError as e:
        print(f"aevb exercises check: {root}: {e}", file=sys.stderr)
        if args.json:
            Path(args.json).write_text(json.dumps({"dir": str(root), "error": str(e)}, indent=1))
        return 1
    summary = summarize(records)
    report(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"dir": str(root), "passed": sum(s["passed"] for s in summary.values()),
             "total": len(summary), "exercises": summary}, indent=1))
    return 0 if all(s["passed"] for s in summary.values()) else 1


def cmd_list(args):
    for e in EXERCISES:
        needs = f"; builds on {', '.join(map(str, e.needs))}" if e.needs else ""
        print(f"{e.number:3d} {e.name:20s} {e.title} [{e.paper}] in {e.where}{needs}")
    return 0


def add_parser(subparsers):
    """Add ``aevb exercises {make,check,list}`` (the cli module's EXTENSIONS hook)."""
    p = subparsers.add_parser("exercises", help="course exercises: make a student version, "
                              "check one")
    sub = p.add_subparsers(dest="exercises_command", required=True)
    m = sub.add_parser("make", help="write a student version of the package into DIR")
    m.add_argument("dir", metavar="DIR")
    m.add_argument("--overwrite", action="store_true", help="replace DIR/aevb if it exists")
    m.set_defaults(func=cmd_make)
    c = sub.add_parser("check", help="run the exercises' checks against DIR/aevb")
    c.add_argument("dir", metavar="DIR", nargs="?", default=".",
                   help="folder holding the student's aevb/ (default: the current one)")
    c.add_argument("-k", action="append", metavar="NAME",
                   help="only this exercise (name, number, or part of a check's name); repeatable")
    c.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    c.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    c.add_argument("--reference", action="store_true",
                   help="check the installed reference package instead of DIR")
    c.set_defaults(func=cmd_check)
    li = sub.add_parser("list", help="the exercises, the equations they cover, where they are")
    li.set_defaults(func=cmd_list)
    return p
