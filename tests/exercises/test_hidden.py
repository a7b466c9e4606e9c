"""Hidden checks: the handout carries the visible checks only; the instructor grades with all.

* ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` (nbgrader's markers) are parsed
  strictly and the visible part must still compile;
* the handout's ``aevb/exercises`` holds no line of a hidden test, every exercise keeps at
  least one visible check, and the visible checks pass the reference and fail the stubs;
* ``make --hidden-checks DIR`` writes the whole set; ``check --checks DIR`` and ``grade
  --checks DIR`` run it, with its points, even where it differs from the installed checks;
* a mistake that only a hidden check sees passes the handout's checks and fails the
  hidden ones (so the hidden set is what is graded, not a copy of the visible one);
* bad folders get one sentence, exit status 2, and nothing written.
"""
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aevb import exercises as E
from aevb.cli import main
from aevb.exercises import generate as G
from aevb.exercises.grading import load_checks

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"   # installed, aevb has none
SQRT_LINE = "        np.sqrt(G, out=tmp)\n"


def _aevb(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "aevb", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    """A handout and the hidden checks, as ``make --hidden-checks`` writes them."""
    root = tmp_path_factory.mktemp("hidden")
    E.make(root / "handout", hidden_checks=root / "checks", notebooks=NOTEBOOKS)
    return root / "handout", root / "checks"


# ---------------------------------------------------------------------- the markers
def test_hidden_parts_are_left_out_and_the_markers_parsed_strictly():
    """Catches the hidden lines (or their markers) reaching the handout, and a stray or
    nested marker, or a hidden part that cuts a statement in two, passing unnoticed."""
    text = ("x = 1\n"
            "### BEGIN HIDDEN TESTS\n"
            "secret = 2\n"
            "### END HIDDEN TESTS\n"
            "def f():\n"
            "    y = [1,\n"
            "         ### BEGIN HIDDEN TESTS\n"
            "         2,\n"
            "         ### END HIDDEN TESTS\n"
            "         ]\n"
            "    return y\n")
    out = G.visible_source(text)
    assert out == "x = 1\ndef f():\n    y = [1,\n         ]\n    return y\n"
    assert G.hidden_regions(text) == [(1, 3), (6, 8)]
    for bad, says in (("### BEGIN HIDDEN TESTS\nx = 1\n", "has no"),
                      ("x = 1\n### END HIDDEN TESTS\n", "without"),
                      ("### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n",
                       "inside the hidden part"),
                      ("if x:\n    ### BEGIN HIDDEN TESTS\n    y = 1\n### END HIDDEN TESTS\n",
                       "not indented like"),
                      ("if x:\n### BEGIN HIDDEN TESTS\n    y = 1\n### END HIDDEN TESTS\n",
                       "does not compile")):
        with pytest.raises(ValueError, match=says):
            G.visible_source(bad, "checks_x.py")


def test_the_check_modules_mark_hidden_tests():
    """Catches the markers being removed from the check modules (the handout would then carry
    every expected formula again) or placed so that the visible part does not compile."""
    marked = {p.name: len(G.hidden_regions(p.read_text(), p)) for p in G.check_files()}
    for name in ("checks_primitives.py", "checks_models.py", "checks_likelihood.py",
                 "checks_baselines.py"):
        assert marked[name] > 0, name
    for p in G.check_files():
        G.visible_source(p.read_text(), p)


# ---------------------------------------------------------------------- the handout
def test_the_handout_carries_the_visible_checks_only(handout):
    """Catches a hidden test's line (an expected formula, a mistaken value, a hint) reaching the
    handout, an exercise left with no visible check (its students could check nothing), and a
    handout without its notebooks 01-10."""
    root, hidden = handout
    assert G.hidden_lines(root) == []
    for p in G.check_files():
        copy = (root / "aevb" / "exercises" / p.name).read_text()
        assert not G.hidden_regions(copy) and not any(
            line.strip().startswith(G.HIDDEN_END) for line in copy.split("\n")), p.name
        assert (hidden / p.name).read_text() == p.read_text(), p.name
    visible, everything = load_checks(root / "aevb" / "exercises"), load_checks(hidden)
    ids = {c.id for c in visible.registry.CHECKS}
    all_ids = {c.id for c in everything.registry.CHECKS}
    assert ids < all_ids, "the handout has no hidden checks left out, or invents its own"
    assert all_ids == {c.id for c in E.CHECKS}
    for e in E.EXERCISES:
        assert any(c.exercise.number == e.number for c in visible.registry.CHECKS), e.name
    books = sorted(p.name for p in (root / "notebooks").glob("*.ipynb"))
    assert len(books) == 10 and books[0].startswith("01_") and books[-1].startswith("10_"), books


def test_the_visible_checks_pass_the_reference_and_fail_the_stubs(handout, reference_copy):
    """Catches a visible check that the hidden parts' removal broke (a NameError, a check that
    cannot pass) and one that passes without any code written (it would check nothing)."""
    root, _ = handout
    visible = root / "aevb" / "exercises"
    records = E.check_folder(reference_copy, checks=visible, timeout=600)
    bad = [(r["id"], r["message"]) for r in records if not r["passed"]]
    assert not bad, bad
    records = E.check_folder(root, checks=visible, timeout=600)
    assert records and all(not r["passed"] and r["error"] == "NotImplementedError"
                           for r in records), [(r["id"], r["message"][:80]) for r in records]


def test_a_mistake_only_a_hidden_check_sees(handout, tmp_path):
    """Catches `check --checks DIR` running the installed (or the handout's) checks instead of
    DIR's: Adagrad without the square root still leaves the parameters still during the
    warm-up, which is all the visible check asks, and only the hidden checks name the mistake."""
    _, hidden = handout
    sub = tmp_path / "student"
    E.make(sub)
    src = Path(E.generate.PACKAGE) / "core" / "optim.py"
    assert src.read_text().count(SQRT_LINE) == 1
    (sub / "aevb" / "core" / "optim.py").write_text(
        src.read_text().replace(SQRT_LINE, "        np.copyto(tmp, G)\n"))
    mine = _aevb("exercises", "check", "-k", "adagrad", cwd=sub)       # the handout's own checks
    assert mine.returncode == 0, mine.stdout + mine.stderr
    assert "exercise  9 adagrad              pass" in mine.stdout
    graded = _aevb("exercises", "check", str(sub), "--checks", str(hidden), "-k", "adagrad")
    assert graded.returncode == 1, graded.stdout + graded.stderr
    assert "no square root of the accumulator" in graded.stdout
    # and the other way round: the installed (whole) set must not stand in for a visible one
    visible = _aevb("exercises", "check", str(sub), "--checks", str(sub / "aevb" / "exercises"),
                    "-k", "adagrad")
    assert visible.returncode == 0, visible.stdout + visible.stderr


def test_grade_uses_the_points_of_the_checks_given(handout, tmp_path, reference_copy):
    """Catches `grade --checks DIR` scoring with the installed registry: an instructor who
    weighs exercise 5 at 20 points in DIR must see 20 in grades.csv and a total of 120."""
    _, hidden = handout
    mine = tmp_path / "mine"
    shutil.copytree(hidden, mine)
    reg = mine / "registry.py"
    old = 'Exercise(5, "kl", "KL(q(z|x) || p(z)) forward and backward", "Appendix B, eq. 10",\n'
    assert reg.read_text().count(old) == 1
    reg.write_text(reg.read_text().replace(
        old + '             "distributions.kl_standard_normal_forward/backward"),',
        old + '             "distributions.kl_standard_normal_forward/backward", points=20),'))
    subs = tmp_path / "class"
    shutil.copytree(reference_copy, subs / "alice")
    out = tmp_path / "grades"
    assert main(["exercises", "grade", str(subs), "--out", str(out), "--checks", str(mine)]) == 0
    rows = list(csv.reader((out / "grades.csv").open()))
    kl = rows[0].index("kl")
    assert rows[1][kl] == "20" and rows[1][-1] == "120", rows
    assert rows[2][kl] == "20" and rows[2][-2:] == ["120", "120"], rows


# ---------------------------------------------------------------------- bad input
def test_bad_checks_folders_get_one_sentence_and_exit_2(handout, tmp_path, capsys):
    """Catches a --checks folder that is missing, is not a set of checks, or does not import
    giving a traceback, and `make --hidden-checks` inside the handout (it would hand the
    hidden checks out) or into a non-empty folder, or `make --notebooks` at a folder without
    notebooks, writing anything."""
    root, hidden = handout
    broken = tmp_path / "broken"
    shutil.copytree(hidden, broken)
    (broken / "checks_models.py").write_text("def oops(:\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "__init__.py").write_text("")
    for folder, says in ((tmp_path / "nowhere", "is not a folder"),
                         (plain, "is not a folder of checks (it has no registry.py)"),
                         (broken, "do not import: SyntaxError")):
        for argv in (["exercises", "check", str(root), "--checks", str(folder)],
                     ["exercises", "grade", str(tmp_path / "class"), "--out",
                      str(tmp_path / "out"), "--checks", str(folder)]):
            if argv[1] == "grade":
                shutil.copytree(root, tmp_path / "class" / "alice", dirs_exist_ok=True)
            assert main(argv) == 2, argv
            err = capsys.readouterr().err.strip()
            assert says in err and "\n" not in err and "Traceback" not in err, err
            assert not (tmp_path / "out").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("keep me")
    for dest, flags, says in ((tmp_path / "h1", ["--hidden-checks", str(tmp_path / "h1" / "c")],
                               "inside the handout"),
                              (tmp_path / "h2", ["--hidden-checks", str(full)],
                               "exists and is not empty"),
                              (tmp_path / "h3", ["--notebooks", str(plain)], "holds no notebooks")):
        assert main(["exercises", "make", str(dest), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and "\n" not in err, err
        assert not dest.exists()
    assert [p.name for p in full.iterdir()] == ["keep.txt"]


def test_bad_time_limits_and_file_paths_get_one_sentence_and_exit_2(handout, tmp_path):
    """Catches a time limit of 0, -1 or nan being accepted (`grade --timeout 0` graded every
    exercise as a timeout and wrote the grades, exit 0) and `make` into a file path being told
    to free some disk space; in Python, check_folder and grade refuse such limits too."""
    root, _ = handout
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    subs = tmp_path / "class"
    shutil.copytree(root, subs / "alice")
    for argv, says in (
            (["exercises", "check", str(root), "--timeout", "-1"], "positive number of seconds"),
            (["exercises", "check", str(root), "--timeout", "nan"], "positive number of seconds"),
            (["exercises", "grade", str(subs), "--out", str(tmp_path / "g"), "--timeout", "0"],
             "positive number of seconds"),
            (["exercises", "make", str(a_file)], "is a file"),
            (["exercises", "make", str(tmp_path / "h"), "--hidden-checks", str(a_file)],
             "is a file")):
        res = _aevb(*argv)
        err = res.stderr.strip()
        assert res.returncode == 2, (argv, res.stdout, err)
        assert says in err and "\n" not in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "g").exists() and not (tmp_path / "h").exists()
    assert a_file.read_text() == "keep me"
    for bad in (0, -1.0, float("nan"), float("inf"), True, "soon"):
        with pytest.raises(ValueError, match="positive number of seconds"):
            E.check_folder(root, timeout=bad)
        with pytest.raises(ValueError, match="positive number of seconds"):
            E.grade(subs, tmp_path / "g", timeout=bad)
    assert not (tmp_path / "g").exists()
