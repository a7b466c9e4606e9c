"""Course exercises generated from the reference code, and checks that teach.

* :mod:`.registry`: the eleven exercises, the check framework and its diagnoses;
* :mod:`.checks_primitives` (1-6), :mod:`.checks_models` (7-9),
  :mod:`.checks_likelihood` (10), :mod:`.checks_baselines` (11): the checks;
* :mod:`.generate`: ``### BEGIN SOLUTION name`` / ``### END SOLUTION`` regions,
  the student version, the lint;
* :mod:`.command`: ``aevb exercises make DIR``, ``check [DIR]``, ``grade SUBMISSIONS_DIR``;
* :mod:`.grading`: the checks in child processes with time limits, points, and grading a
  folder of submissions (``grades.csv``, feedback, Gradescope's ``results.json``);
* :mod:`.isolate`: the child process, where a module that does not import fails only the
  checks that use it.

The instructor's guide is exercises/README.md at the top of the repository.
This subpackage imports only NumPy and the standard library, so the
instructor's checks can be loaded beside a student's copy of ``aevb``.
"""
from . import checks_baselines, checks_likelihood, checks_models, checks_primitives  # registers
from .command import add_parser, check_folder, load_package
from .grading import grade, grade_submission, run_child, summarize
from .generate import (all_regions, fill_stub, find_regions, leaked_lines, make,
                       solutions_elsewhere, student_source)
from .registry import (CHECKS, EXERCISES, Exercise, ExerciseFailure, Result, check_points,
                       max_score, run_checks, run_one, select)

__all__ = ["CHECKS", "EXERCISES", "Exercise", "ExerciseFailure", "Result", "add_parser",
           "all_regions", "check_folder", "check_points", "fill_stub", "find_regions", "grade",
           "grade_submission", "leaked_lines", "load_package", "make", "max_score", "run_checks",
           "run_child", "run_one", "select", "solutions_elsewhere", "summarize",
           "student_source", "checks_baselines", "checks_likelihood", "checks_models",
           "checks_primitives"]
