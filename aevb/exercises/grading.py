"""Running the checks in child processes, scoring them, and grading a folder of submissions.

:func:`run_child` runs a selection of checks against ``root/aevb`` in a child
process (:mod:`.isolate`) that leads a process group of its own, with a
deadline: on a timeout the whole group is killed, and every wait has a
deadline too. ``aevb exercises check`` runs one child for everything it
selects; :func:`grade_submission` runs one child per exercise, so that a hang
costs only that exercise and a module that does not import costs only the
exercises that use it.

:func:`grade` grades every sub-folder of a folder and writes ``grades.csv``,
``feedback/NAME.md`` and, per submission, ``NAME/results.json`` in the format
Gradescope's autograder reads.

The checks are this package's own unless a folder of checks is given
(:func:`load_checks`: the hidden set that ``aevb exercises make
--hidden-checks DIR`` wrote, or an instructor's own); every function that
needs the registry takes it as ``checks``, so points, blame and the columns
of ``grades.csv`` always come from the checks that ran.
"""
import csv
import importlib.util
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import isolate, registry

DEFAULT_TIMEOUT = 60.0      # seconds per exercise when grading
FEEDBACK = "feedback"       # OUT/feedback/NAME.md; so no submission may be called that


class GradeInputError(ValueError):
    """The command line names something that cannot be graded; the message says what to do."""


class ChildTimeout(RuntimeError):
    """The child did not finish within its time limit (and was killed)."""


@dataclass(frozen=True)
class CheckSet:
    """A set of checks: its registry module (exercises, checks, points) and the folder it lives in."""
    registry: object
    where: Path


OWN = CheckSet(registry, isolate.HERE)
_loaded = {}
_counter = itertools.count()


def load_checks(where=None):
    """The checks in folder ``where`` (``None``: this package's own), as a :class:`CheckSet`.

    A :class:`CheckSet` is returned as it is.

    ``where`` is a copy of ``aevb/exercises`` (what ``aevb exercises make
    --hidden-checks DIR`` writes). It is imported under a name of its own, so
    it never replaces the installed checks; ValueError (one sentence) for a
    folder that is not a set of checks or does not import.
    """
    if where is None:
        return OWN
    if isinstance(where, CheckSet):
        return where
    folder = Path(where).resolve()
    if folder == isolate.HERE:
        return OWN
    if folder in _loaded:
        return _loaded[folder]
    if not folder.is_dir():
        raise ValueError(f"{where} is not a folder: give the folder of checks that "
                         f"`aevb exercises make HANDOUT --hidden-checks {where}` wrote")
    missing = [n for n in ("__init__.py", "registry.py", "isolate.py") if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"{where} is not a folder of checks (it has no {missing[0]}): write one "
                         f"with `aevb exercises make HANDOUT --hidden-checks {where}`")
    name = f"aevb_exercise_checks_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[m]
        where_ = f" (line {e.lineno} of {Path(e.filename).name})" if isinstance(e, SyntaxError) \
            else ""
        raise ValueError(f"the checks in {where} do not import: {type(e).__name__}: "
                         f"{getattr(e, 'msg', e)}{where_}; fix them or write them again with "
                         f"`aevb exercises make HANDOUT --hidden-checks DIR`") from None
    _loaded[folder] = CheckSet(module.registry, folder)
    return _loaded[folder]


def check_timeout(timeout):
    """``timeout`` as a float if it is a positive, finite number of seconds; ValueError if not."""
    try:
        t = float(timeout)
    except (TypeError, ValueError):
        t = float("nan")
    if isinstance(timeout, bool) or not (0 < t < float("inf")):
        raise ValueError(f"the time limit must be a positive number of seconds, got {timeout!r}")
    return t


def _kill_group(proc):
    """Kill the child's process group (what the student's code started too)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass


def run_child(root, numbers=(), names=(), needs=False, timeout=DEFAULT_TIMEOUT, checks=None):
    """Run the selected checks against ``root/aevb`` in a child; return its records.

    The child runs the checks of ``checks`` (a :class:`CheckSet` or a folder,
    see :func:`load_checks`; default: this package's own).

    ``numbers`` selects whole exercises, ``names`` works as ``check -k`` (both
    empty: every check). Raises :class:`ChildTimeout` after ``timeout`` seconds
    (the child's whole process group is killed), RuntimeError when the child
    stops without writing its records.
    """
    root = Path(root).resolve()
    checks = load_checks(checks)
    with tempfile.TemporaryDirectory(prefix="aevb-exercises-") as tmp:
        out, log = Path(tmp) / "records.json", Path(tmp) / "output.txt"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH"))
                                             if p)}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        argv = isolate.command_line(root, out, numbers, names, needs, where=checks.where)
        with open(log, "w") as sink:
            proc = subprocess.Popen(argv, cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                    stdout=sink, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass                    # killed but not reaped: nothing more to wait for
        if timed_out:
            raise ChildTimeout(f"did not finish within {timeout:g} s")
        if not out.is_file():
            tail = log.read_text(errors="replace").strip()[-1500:]
            raise RuntimeError(f"the checks stopped without a result (exit status "
                               f"{proc.returncode}){': ' + tail if tail else ''}")
        data = json.loads(out.read_text())
    if "error" in data:
        raise RuntimeError(data["error"])
    return data["records"]


def failed_records(exercise, message, error, checks=OWN):
    """One failed record per check of ``exercise``, all with ``message``."""
    return [{"id": c.id, "exercise": exercise.name, "number": exercise.number, "check": c.name,
             "passed": False, "error": error, "message": message, "selected": True}
            for c in checks.registry.CHECKS if c.exercise is exercise]


def blame(records, checks=OWN):
    """Pass the blame on through ``needs``: prefix the failures of an exercise that builds on a
    failing one with "exercise 7 (estimator_b) fails because exercise 2 (tanh) does: fix it first."

    An exercise not done yet (its own stub raised) is left as it is. Changes
    ``records`` in place and returns it.
    """
    failing = {r["number"] for r in records if not r["passed"]}
    for r in records:
        if r["passed"] or (r["error"] == "NotImplementedError" and "is not done yet" in r["message"]):
            continue
        ex = checks.registry.BY_NAME[r["exercise"]]
        culprit = next((n for n in ex.needs if n in failing), None)
        if culprit is not None and "fails because exercise" not in r["message"]:
            other = next(e for e in checks.registry.EXERCISES if e.number == culprit)
            r["message"] = (f"exercise {ex.number} ({ex.name}) fails because exercise {culprit} "
                            f"({other.name}) does: fix it first. {r['message']}")
    return records


def summarize(records, checks=OWN):
    """Per exercise, in the registry's order: its verdict, its checks and its points.

    A list of dicts (number, name, title, passed, checks_passed, checks,
    points, max_points, results); only the exercises with selected records appear.
    ``checks`` is the :class:`CheckSet` that produced the records.
    """
    reg = checks.registry
    by_id = {c.id: c for c in reg.CHECKS}
    out = []
    for e in reg.EXERCISES:
        rs = [r for r in records if r["number"] == e.number and r.get("selected", True)]
        if not rs:
            continue
        for r in rs:
            r["max_points"] = round(reg.check_points(by_id[r["id"]]), 4)
            r["points"] = r["max_points"] if r["passed"] else 0.0
        out.append({"number": e.number, "name": e.name, "title": e.title,
                    "passed": all(r["passed"] for r in rs),
                    "checks_passed": sum(r["passed"] for r in rs), "checks": len(rs),
                    "points": _round(sum(r["points"] for r in rs)),
                    "max_points": _round(sum(r["max_points"] for r in rs)),
                    "results": rs, "failures": [r for r in rs if not r["passed"]]})
    return out


def _round(x):
    return round(float(x) + 0.0, 2)


def fmt(x):
    """Points as people write them: 10, 3.33, 6.67."""
    return f"{_round(x):g}"


def grade_submission(root, timeout=DEFAULT_TIMEOUT, exercises=None, checks=None):
    """Check ``root/aevb`` one exercise per child process; return the summary (see :func:`summarize`).

    A hang or a crash costs only the exercise whose child it happened in (each
    child has ``timeout`` seconds); the blame is then passed on through
    ``needs``. ``exercises`` grades a subset (the tests use it); ``checks`` is
    a folder of checks or a :class:`CheckSet` (default: this package's own).
    """
    checks = load_checks(checks)
    records = []
    for e in exercises or checks.registry.EXERCISES:
        try:
            records += [r for r in run_child(root, numbers=[e.number], timeout=timeout,
                                             checks=checks)
                        if r["number"] == e.number]
        except ChildTimeout:
            records += failed_records(e, (
                f"exercise {e.number} ({e.name}) did not finish within {timeout:g} s and was "
                f"stopped: look for an endless loop (a loop whose condition never changes) in "
                f"{e.where}."), "Timeout", checks)
        except RuntimeError as err:
            records += failed_records(e, f"exercise {e.number} ({e.name}): {err}", "Crash",
                                      checks)
    return summarize(blame(records, checks), checks)


# ---------------------------------------------------------------------- grading a class
def submissions(folder, out):
    """The submission folders of ``folder``, after checking the command line.

    Raises :class:`GradeInputError` (one sentence) for a missing or empty
    folder, a sub-folder that is not a handout, or an ``out`` that exists and
    is not empty; nothing is written.
    """
    folder, out = Path(folder), Path(out)
    if not folder.exists():
        raise GradeInputError(f"{folder} does not exist: give the folder that holds one "
                              f"sub-folder per submission")
    if not folder.is_dir():
        raise GradeInputError(f"{folder} is a file, not a folder: give the folder that holds "
                              f"one sub-folder per submission")
    if (folder / "aevb" / "__init__.py").is_file():
        raise GradeInputError(f"{folder} is one submission (it holds aevb/), not a folder of "
                              f"submissions: put it in a folder of its own, or check it with "
                              f"`aevb exercises check {folder}`")
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs:
        raise GradeInputError(f"{folder} holds no sub-folders: put each submission (a handout "
                              f"folder as `aevb exercises make` writes it) in a folder of its own")
    bad = [p for p in subs if not (p / "aevb" / "__init__.py").is_file()]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise GradeInputError(f"{bad[0]}{more} is not a handout: it has no aevb/__init__.py, "
                              f"and every sub-folder of {folder} must hold a submission's aevb/ "
                              f"as `aevb exercises make` writes it")
    if any(p.name == FEEDBACK for p in subs):
        raise GradeInputError(f"a submission is called {FEEDBACK!r}, which is where the feedback "
                              f"files go: rename that folder")
    o, f = out.resolve(), folder.resolve()
    if o == f or f in o.parents:
        raise GradeInputError(f"{out} is inside {folder}, where it would be taken for a "
                              f"submission: write the grades somewhere else")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GradeInputError(f"{out} exists and is not empty: give a new or empty folder for "
                              f"the grades, so that old results are not mixed with new ones")
    return subs


def feedback_text(name, summary):
    """The feedback for one submission, in Markdown: each exercise's points, outcome and diagnosis."""
    total, top = sum(s["points"] for s in summary), sum(s["max_points"] for s in summary)
    lines = [f"# Feedback for {name}", "",
             f"Your score is {fmt(total)} out of {fmt(top)} points.", ""]
    for s in summary:
        lines += [f"## Exercise {s['number']} ({s['name']}): {fmt(s['points'])} / "
                  f"{fmt(s['max_points'])} points", "", exercise_text(s), ""]
    return "\n".join(lines)


def exercise_text(s):
    """The outcome of one exercise in plain sentences (shared by the feedback and results.json)."""
    if s["passed"]:
        return f"All {s['checks']} checks pass."
    lines = [f"{s['checks_passed']} of {s['checks']} checks pass."]
    groups = {}
    for r in s["failures"]:
        groups.setdefault(r["message"], []).append(r)
    for message, rs in groups.items():
        lost = sum(r["max_points"] for r in rs)
        names = ", ".join(r["check"] for r in rs)
        text = message.replace("\n", "\n  ")
        lines.append(f"- {names} ({fmt(lost)} points lost): {text}")
    return "\n".join(lines)


def gradescope(summary):
    """The ``results.json`` of Gradescope's autograder: the score and one test per exercise."""
    total, top = sum(s["points"] for s in summary), sum(s["max_points"] for s in summary)
    return {"score": _round(total),
            "output": f"{fmt(total)} out of {fmt(top)} points.",
            "visibility": "visible",
            "tests": [{"name": f"exercise {s['number']} ({s['name']}): {s['title']}",
                       "number": str(s["number"]), "score": s["points"],
                       "max_score": s["max_points"], "output": exercise_text(s)}
                      for s in summary]}


def grades_csv(graded, checks=OWN):
    """``grades.csv``: a "Points Possible" row, then one row per submission; a column per exercise,
    then ``score`` and ``max_score``."""
    exercises = checks.registry.EXERCISES
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["submission", *(e.name for e in exercises), "score", "max_score"])
    top = checks.registry.max_score(exercises)
    w.writerow(["Points Possible", *(fmt(e.points) for e in exercises), fmt(top), fmt(top)])
    for name, summary in graded:
        points = {s["name"]: s["points"] for s in summary}
        w.writerow([name, *(fmt(points.get(e.name, 0)) for e in exercises),
                    fmt(sum(points.values())), fmt(top)])
    return buf.getvalue()


def write_outputs(out, graded, checks=OWN):
    """Write everything into a staging folder beside ``out``, then move it into place.

    So an interrupted run leaves no partial output.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (stage / "grades.csv").write_text(grades_csv(graded, checks))
        (stage / FEEDBACK).mkdir()
        for name, summary in graded:
            (stage / FEEDBACK / f"{name}.md").write_text(feedback_text(name, summary))
            (stage / name).mkdir()
            (stage / name / "results.json").write_text(json.dumps(gradescope(summary), indent=1))
        if out.exists():
            out.rmdir()                 # checked empty by submissions()
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def grade(folder, out, timeout=DEFAULT_TIMEOUT, progress=None, checks=None):
    """Grade every submission in ``folder``; write ``out``; return ``[(name, summary), ...]``.

    ``progress(name, summary)`` is called after each submission; ``checks`` is
    a folder of checks (default: this package's own, see :func:`load_checks`).
    """
    subs = submissions(folder, out)
    try:
        timeout = check_timeout(timeout)
        checks = load_checks(checks)
        for c in checks.registry.CHECKS:
            checks.registry.check_points(c)     # points that do not add up: say so first
    except ValueError as e:
        raise GradeInputError(str(e)) from None
    graded = []
    for sub in subs:
        summary = grade_submission(sub, timeout=timeout, checks=checks)
        graded.append((sub.name, summary))
        if progress:
            progress(sub.name, summary)
    write_outputs(out, graded, checks)
    return graded
