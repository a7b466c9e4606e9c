"""Course exercises generated from the reference code, and checks that teach.

* :mod:`.registry`: the eleven exercises, the check framework and its diagnoses;
* :mod:`.checks_primitives` (1-6), :mod:`.checks_models` (7-9),
  :mod:`.checks_likelihood` (10), :mod:`.checks_baselines` (11): the checks;
* :mod:`.generate`: ``### BEGIN SOLUTION name`` / ``### END SOLUTION`` regions,
  the student version, the lint;
* :mod:`.command`: ``aevb exercises make DIR`` and ``aevb exercises check [DIR]``.

The instructor's guide is exercises/README.md at the top of the repository.
This subpackage imports only NumPy and the standard library, so the
instructor's checks can be loaded beside a student's copy of ``aevb``.
"""
from . import checks_baselines, checks_likelihood, checks_models, checks_primitives  # registers
from .command import add_parser, check_folder, load_package
from .generate import (all_regions, fill_stub, find_regions, leaked_lines, make,
                       solutions_elsewhere, student_source)
from .registry import (CHECKS, EXERCISES, Exercise, ExerciseFailure, Result, run_checks,
                       run_one, select)

__all__ = ["CHECKS", "EXERCISES", "Exercise", "ExerciseFailure", "Result", "add_parser",
           "all_regions", "check_folder", "fill_stub", "find_regions", "leaked_lines",
           "load_package", "make", "run_checks", "run_one", "select", "solutions_elsewhere",
           "student_source", "checks_baselines", "checks_likelihood", "checks_models",
           "checks_primitives"]
