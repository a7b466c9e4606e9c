"""Points, isolation and ``aevb exercises grade``: a class graded fairly in one command.

* every check has points and each exercise's checks add up to its total;
  ``check --json`` lists the exercises in the registry's order with points and a score;
* ``check`` runs without pytest installed;
* a module that does not import costs only the exercises that use it, said in one
  sentence with its file and line; a hang costs only its exercise;
* bad command lines get one sentence, exit status 2 and no output;
* (slow) the issue's class of four submissions (complete, one exercise wrong, a syntax
  error in optim.py, an endless loop in Adagrad) grades in one command: full marks,
  then three partial scores, four feedback files, a CSV and Gradescope's results.json.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aevb import exercises as E
from aevb.cli import main
from aevb.exercises.registry import BY_NAME, CHECKS, Check, Exercise

OPTIM_LINE = "        (G,) = state\n"          # the first line of the Adagrad exercise's region
KL_LINE = "kl = -0.5 * (1.0 + logvar - mean * mean - var).sum(axis=-1)"


def _aevb(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "aevb", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _edit(root, file, old, new):
    """Replace the one occurrence of ``old`` in ``root/aevb/file`` (a student's mistake)."""
    path = root / "aevb" / file
    text = path.read_text()
    assert text.count(old) == 1, (file, old)
    path.write_text(text.replace(old, new))


def solved_handout(root):
    """A handout as `make` writes it, with every stub filled in with the reference's code."""
    E.make(root)
    regions = E.all_regions()
    for e in E.EXERCISES:
        bodies = [textwrap.dedent("\n".join(Path(r.path).read_text().split("\n")[r.begin + 1:r.end]))
                  for r in regions if r.name == e.name]
        E.fill_stub(root, e.name, bodies)
    return root


@pytest.fixture
def submission(reference_copy, tmp_path):
    """A complete submission (a copy of the reference) that a test may break."""
    root = tmp_path / "submission"
    shutil.copytree(reference_copy / "aevb", root / "aevb")
    return root


# ---------------------------------------------------------------------- points
def test_the_checks_of_each_exercise_add_up_to_its_points():
    """Catches points that do not add up (every check earning the whole exercise's points, say),
    and a named share that exceeds the exercise's total going unnoticed."""
    for e in E.EXERCISES:
        mine = [c for c in E.CHECKS if c.exercise is e]
        assert mine, e.name
        assert sum(E.check_points(c) for c in mine) == pytest.approx(e.points), e.name
    assert E.max_score() == sum(e.points for e in E.EXERCISES) == 110
    linear = [c for c in E.CHECKS if c.exercise.name == "linear"]
    assert [E.check_points(c) for c in linear] == [5.0, 5.0]
    fake = Exercise(99, "fake", "a fake", "none", "nowhere", points=4)
    extra = [Check(fake, "a", None, points=3), Check(fake, "b", None), Check(fake, "c", None)]
    CHECKS.extend(extra)
    try:
        assert [E.check_points(c) for c in extra] == [3.0, 0.5, 0.5]
        CHECKS.append(Check(fake, "d", None, points=2))
        with pytest.raises(ValueError, match="name 5 points but the exercise is worth 4"):
            E.check_points(extra[1])
    finally:
        CHECKS[:] = [c for c in CHECKS if c.exercise.number != 99]


def test_check_json_lists_exercises_in_registry_order_with_points(tmp_path):
    """Catches a JSON report in alphabetical order (importance_sampling, sleep_phase, tanh)
    or without the points earned, the points possible and the score."""
    out = tmp_path / "r.json"
    res = _aevb("exercises", "check", "--reference", "-k", "sleep_phase", "-k", "tanh",
                "-k", "importance_sampling", "--json", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(out.read_text())
    assert [e["number"] for e in data["exercises"]] == [2, 10, 11]
    assert [e["name"] for e in data["exercises"]] == ["tanh", "importance_sampling", "sleep_phase"]
    assert all(e["points"] == e["max_points"] == 10 for e in data["exercises"])
    assert data["score"] == data["max_score"] == 30
    assert "10/10 points" in res.stdout and "score 30/30" in res.stdout


def test_check_runs_without_pytest(tmp_path):
    """Catches `aevb exercises check` failing with "No module named pytest" where pytest is
    not installed (it is only a test extra): the checks must run in plain Python."""
    blocker = tmp_path / "no_pytest"
    (blocker / "pytest").mkdir(parents=True)
    (blocker / "pytest" / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named pytest", name="pytest")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(blocker)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    probe = subprocess.run([sys.executable, "-c", "import pytest"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert probe.returncode != 0 and "No module named pytest" in probe.stderr
    res = _aevb("exercises", "check", "--reference", "-k", "tanh", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "exercise  2 tanh                 pass" in res.stdout
    assert "pytest" not in res.stdout + res.stderr


# ---------------------------------------------------------------------- isolation
def test_a_syntax_error_costs_only_the_exercises_that_use_the_module(submission):
    """Catches a syntax error in optim.py failing every exercise (a row of blanks and a 30-line
    traceback): only Adagrad uses it, and its failure is one sentence with file and line."""
    _edit(submission, "core/optim.py", OPTIM_LINE, OPTIM_LINE.rstrip("\n") + ":\n")
    records = E.run_child(submission, timeout=120)
    failed = {r["exercise"] for r in records if not r["passed"]}
    assert failed == {"adagrad"}, [(r["id"], r["message"]) for r in records if not r["passed"]]
    for r in records:
        if not r["passed"]:
            assert r["message"].startswith("exercise 9 (adagrad) cannot run: aevb/core/optim.py "
                                           "has a syntax error at line "), r["message"]
            assert "\n" not in r["message"] and "Traceback" not in r["message"]


def test_a_hang_costs_only_its_exercise(submission):
    """Catches grading all exercises in one process: an endless loop in Adagrad must cost
    only exercise 9 (stopped after its own time limit), not every exercise after it."""
    _edit(submission, "core/optim.py", OPTIM_LINE, OPTIM_LINE + "        while True:\n"
                                                  "            pass\n")
    summary = E.grade_submission(submission, timeout=3,
                                 exercises=[BY_NAME["tanh"], BY_NAME["adagrad"]])
    by_name = {s["name"]: s for s in summary}
    assert by_name["tanh"]["points"] == 10 and by_name["tanh"]["passed"], by_name["tanh"]
    assert by_name["adagrad"]["points"] == 0
    assert all("did not finish within 3 s" in r["message"] for r in by_name["adagrad"]["failures"])


def test_blame_is_passed_on_through_needs():
    """Catches the grader losing the "fails because exercise N does: fix it first" of `check`."""
    records = E.grading.failed_records(BY_NAME["tanh"], "exercise 2 (tanh): wrong", "ExerciseFailure")
    records += E.grading.failed_records(BY_NAME["estimator_b"], "exercise 7 (estimator_b): off",
                                      "ExerciseFailure")
    E.grading.blame(records)
    seven = [r for r in records if r["number"] == 7]
    assert all(r["message"].startswith("exercise 7 (estimator_b) fails because exercise 2 "
                                       "(tanh) does: fix it first.") for r in seven)


# ---------------------------------------------------------------------- bad input
def _bad_inputs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    (mixed / "alice" / "aevb").mkdir(parents=True)
    (mixed / "alice" / "aevb" / "__init__.py").write_text("")
    (mixed / "bob").mkdir()
    (mixed / "bob" / "notes.txt").write_text("not a handout")
    single = tmp_path / "single"
    (single / "aevb").mkdir(parents=True)
    (single / "aevb" / "__init__.py").write_text("")
    good = tmp_path / "good"
    (good / "alice" / "aevb").mkdir(parents=True)
    (good / "alice" / "aevb" / "__init__.py").write_text("")
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.csv").write_text("keep me")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    return [(tmp_path / "nowhere", tmp_path / "out1", "does not exist"),
            (a_file, tmp_path / "out2", "is a file, not a folder"),
            (empty, tmp_path / "out3", "holds no sub-folders"),
            (mixed, tmp_path / "out4", "bob is not a handout"),
            (single, tmp_path / "out5", "is one submission"),
            (good, full, "exists and is not empty"),
            (good, good / "grades", "is inside")]


def test_bad_input_gets_one_sentence_exit_2_and_no_output(tmp_path, capsys):
    """Catches a missing or empty folder, a sub-folder that is not a handout, a single
    submission given as the class, or an OUT holding other files producing a traceback,
    a partial OUT, or grades mixed into old files."""
    for submissions, out, says in _bad_inputs(tmp_path):
        before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        assert main(["exercises", "grade", str(submissions), "--out", str(out)]) == 2, says
        err = capsys.readouterr().err.strip()
        assert says in err, (says, err)
        assert err.startswith("aevb exercises grade: ") and "\n" not in err, err
        assert "Traceback" not in err
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, says
    assert (tmp_path / "full" / "old.csv").read_text() == "keep me"


# ---------------------------------------------------------------------- the class of four
@pytest.mark.slow
def test_a_class_of_four_grades_in_one_command(tmp_path):
    """Catches the issue's failures of grading: a syntax error in optim.py or an endless loop
    in Adagrad costing the whole submission, a wrong exercise costing more than it and what
    builds on it, a feedback file with a traceback or without the blame, a CSV out of
    exercise order, and a results.json Gradescope cannot read."""
    subs = tmp_path / "submissions"
    for name in ("complete", "wrong_kl", "syntax_optim", "hang_adagrad"):
        solved_handout(subs / name)
    _edit(subs / "wrong_kl", "core/distributions.py", KL_LINE, KL_LINE.replace("-0.5", "0.5"))
    _edit(subs / "syntax_optim", "core/optim.py", OPTIM_LINE, OPTIM_LINE.rstrip("\n") + ":\n")
    _edit(subs / "hang_adagrad", "core/optim.py", OPTIM_LINE,
          OPTIM_LINE + "        while True:\n            pass\n")
    out = tmp_path / "grades"
    res = _aevb("exercises", "grade", str(subs), "--out", str(out), "--timeout", "20")
    assert res.returncode == 0, res.stdout + res.stderr
    print(res.stdout)

    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert list(rows[0]) == ["submission", *(e.name for e in E.EXERCISES), "score", "max_score"]
    assert rows[0]["submission"] == "Points Possible" and rows[0]["score"] == "110"
    scores = {r["submission"]: float(r["score"]) for r in rows[1:]}
    assert set(scores) == {"complete", "wrong_kl", "syntax_optim", "hang_adagrad"}
    assert scores["complete"] == 110
    for name in ("wrong_kl", "syntax_optim", "hang_adagrad"):
        assert 0 < scores[name] < 110, (name, scores)
    row = {r["submission"]: r for r in rows}
    assert row["syntax_optim"]["adagrad"] == row["hang_adagrad"]["adagrad"] == "0"
    assert scores["syntax_optim"] == scores["hang_adagrad"] == 100
    assert row["wrong_kl"]["kl"] == "0" and row["wrong_kl"]["linear"] == "10"

    feedback = sorted(p.name for p in (out / "feedback").iterdir())
    assert feedback == ["complete.md", "hang_adagrad.md", "syntax_optim.md", "wrong_kl.md"]
    text = {p.stem: p.read_text() for p in (out / "feedback").iterdir()}
    assert "Your score is 110 out of 110 points." in text["complete"]
    assert "aevb/core/optim.py has a syntax error at line " in text["syntax_optim"]
    assert "Traceback" not in "".join(text.values())
    assert "did not finish within 20 s" in text["hang_adagrad"]
    assert "the wrong sign" in text["wrong_kl"]
    assert "exercise 7 (estimator_b) fails because exercise 5 (kl) does: fix it first" \
        in text["wrong_kl"]

    for name, score in scores.items():
        results = json.loads((out / name / "results.json").read_text())
        assert results["score"] == pytest.approx(score)
        assert [t["number"] for t in results["tests"]] == [str(e.number) for e in E.EXERCISES]
        for t in results["tests"]:
            assert {"name", "score", "max_score", "output"} <= set(t)
            assert 0 <= t["score"] <= t["max_score"]
        assert sum(t["score"] for t in results["tests"]) == pytest.approx(score)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["grades.csv", "feedback", *scores])
    assert not list(subs.rglob("__pycache__")), "grading wrote into the submissions"
