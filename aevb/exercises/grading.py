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
"""
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from . import isolate
from .registry import BY_NAME, CHECKS, EXERCISES, check_points, max_score

DEFAULT_TIMEOUT = 60.0      # seconds per exercise when grading
FEEDBACK = "feedback"       # OUT/feedback/NAME.md; so no submission may be called that


class GradeInputError(ValueError):
    """The command line names something that cannot be graded; the message says what to do."""


class ChildTimeout(RuntimeError):
    """The child did not finish within its time limit (and was killed)."""


def _kill_group(proc):
    """Kill the child's process group (what the student's code started too)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass


def run_child(root, numbers=(), names=(), needs=False, timeout=DEFAULT_TIMEOUT):
    """Run the selected checks against ``root/aevb`` in a child; return its records.

    ``numbers`` selects whole exercises, ``names`` works as ``check -k`` (both
    empty: every check). Raises :class:`ChildTimeout` after ``timeout`` seconds
    (the child's whole process group is killed), RuntimeError when the child
    stops without writing its records.
    """
    root = Path(root).resolve()
    with tempfile.TemporaryDirectory(prefix="aevb-exercises-") as tmp:
        out, log = Path(tmp) / "records.json", Path(tmp) / "output.txt"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH"))
                                             if p)}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        argv = isolate.command_line(root, out, numbers, names, needs)
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


def failed_records(exercise, message, error):
    """One failed record per check of ``exercise``, all with ``message``."""
    return [{"id": c.id, "exercise": exercise.name, "number": exercise.number, "check": c.name,
             "passed": False, "error": error, "message": message, "selected": True}
            for c in CHECKS if c.exercise is exercise]


def blame(records):
    """Pass the blame on through ``needs``: prefix the failures of an exercise that builds on a
    failing one with "exercise 7 (estimator_b) fails because exercise 2 (tanh) does: fix it first."

    An exercise not done yet (its own stub raised) is left as it is. Changes
    ``records`` in place and returns it.
    """
    failing = {r["number"] for r in records if not r["passed"]}
    for r in records:
        if r["passed"] or (r["error"] == "NotImplementedError" and "is not done yet" in r["message"]):
            continue
        ex = BY_NAME[r["exercise"]]
        culprit = next((n for n in ex.needs if n in failing), None)
        if culprit is not None and "fails because exercise" not in r["message"]:
            other = next(e for e in EXERCISES if e.number == culprit)
            r["message"] = (f"exercise {ex.number} ({ex.name}) fails because exercise {culprit} "
                            f"({other.name}) does: fix it first. {r['message']}")
    return records


def summarize(records):
    """Per exercise, in the registry's order: its verdict, its checks and its points.

    A list of dicts (number, name, title, passed, checks_passed, checks,
    points, max_points, results); only the exercises with selected records appear.
    """
    by_id = {c.id: c for c in CHECKS}
    out = []
    for e in EXERCISES:
        rs = [r for r in records if r["number"] == e.number and r.get("selected", True)]
        if not rs:
            continue
        for r in rs:
            r["max_points"] = round(check_points(by_id[r["id"]]), 4)
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


def grade_submission(root, timeout=DEFAULT_TIMEOUT, exercises=EXERCISES):
    """Check ``root/aevb`` one exercise per child process; return the summary (see :func:`summarize`).

    A hang or a crash costs only the exercise whose child it happened in (each
    child has ``timeout`` seconds); the blame is then passed on through
    ``needs``. ``exercises`` grades a subset (the tests use it).
    """
    records = []
    for e in exercises:
        try:
            records += [r for r in run_child(root, numbers=[e.number], timeout=timeout)
                        if r["number"] == e.number]
        except ChildTimeout:
            records += failed_records(e, (
                f"exercise {e.number} ({e.name}) did not finish within {timeout:g} s and was "
                f"stopped: look for an endless loop (a loop whose condition never changes) in "
                f"{e.where}."), "Timeout")
        except RuntimeError as err:
            records += failed_records(e, f"exercise {e.number} ({e.name}): {err}", "Crash")
    return summarize(blame(records))


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


def grades_csv(graded):
    """``grades.csv``: a "Points Possible" row, then one row per submission; a column per exercise,
    then ``score`` and ``max_score``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["submission", *(e.name for e in EXERCISES), "score", "max_score"])
    top = max_score()
    w.writerow(["Points Possible", *(fmt(e.points) for e in EXERCISES), fmt(top), fmt(top)])
    for name, summary in graded:
        points = {s["name"]: s["points"] for s in summary}
        w.writerow([name, *(fmt(points.get(e.name, 0)) for e in EXERCISES),
                    fmt(sum(points.values())), fmt(top)])
    return buf.getvalue()


def write_outputs(out, graded):
    """Write everything into a staging folder beside ``out``, then move it into place.

    So an interrupted run leaves no partial output.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (stage / "grades.csv").write_text(grades_csv(graded))
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


def grade(folder, out, timeout=DEFAULT_TIMEOUT, progress=None):
    """Grade every submission in ``folder``; write ``out``; return ``[(name, summary), ...]``.

    ``progress(name, summary)`` is called after each submission.
    """
    subs = submissions(folder, out)
    for c in CHECKS:
        check_points(c)                 # points that do not add up: say so before grading
    graded = []
    for sub in subs:
        summary = grade_submission(sub, timeout=timeout)
        graded.append((sub.name, summary))
        if progress:
            progress(sub.name, summary)
    write_outputs(out, graded)
    return graded
