"""The child process that runs checks against a student's copy of ``aevb``.

``aevb exercises check`` and ``aevb exercises grade`` never import a
submission into their own process: they start ``python -c BOOTSTRAP`` (see
:func:`command_line`), which loads these, the instructor's, checks from their
folder under the name ``aevb_exercise_checks``, imports the submission's
``aevb`` and calls :func:`main`. Only the standard library and NumPy are
used, so no pytest is needed.

A module of the submission that does not import (a syntax error, or an
exception at import time) does not stop the others: :class:`TolerantFinder`
keeps it as a placeholder whose names stand for the problem, so only the
checks that use it fail, and they say "aevb/core/optim.py has a syntax error
at line 57 (invalid syntax)" instead of a traceback. The results go to a JSON
file, one record per check.
"""
import importlib.abc
import importlib.machinery
import json
import os
import sys
import traceback
from pathlib import Path

from .registry import CHECKS, Result, run_one, select

BOOTSTRAP = """\
import importlib.util, sys
where = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "aevb_exercise_checks", where + "/__init__.py", submodule_search_locations=[where])
checks = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = checks
spec.loader.exec_module(checks)
from aevb_exercise_checks import isolate
sys.exit(isolate.main(sys.argv[2:]))
"""

HERE = Path(__file__).resolve().parent
TOUCHED = []        # the problems of broken modules met since the last reset


def command_line(root, out, numbers=(), names=(), needs=False, where=HERE):
    """The argv of a child that checks ``root/aevb`` and writes the records to ``out``.

    ``where`` is the folder of the checks the child loads (default: these).

    ``numbers`` selects whole exercises; ``names`` works as ``check -k``; with
    ``needs`` the child also runs, for a failing exercise, the exercises it
    builds on (records marked ``"selected": false``) so that the blame can be
    passed on.
    """
    spec = ",".join([*(f"#{n}" for n in numbers), *names])
    return [sys.executable, "-c", BOOTSTRAP, str(where), str(root), str(out), spec,
            "needs" if needs else "alone"]


class BrokenModuleError(ImportError):
    """A name from a module of the submission that could not be imported was used."""


def _fail(problem):
    TOUCHED.append(problem)
    raise BrokenModuleError(problem)


class Broken:
    """Stands for a name taken from a broken module; using it raises :class:`BrokenModuleError`.

    Taking the name (``from .optim import Adagrad``) succeeds, so that the
    modules importing it still import; calling it, indexing it, iterating,
    subclassing it or doing arithmetic with it does not.
    """

    def __init__(self, problem, name):
        self._problem, self._name = problem, name

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        TOUCHED.append(self._problem)
        return Broken(self._problem, f"{self._name}.{attr}")

    def __repr__(self):
        return f"<{self._name}: {self._problem}>"

    def _use(self, *args, **kwargs):
        _fail(self._problem)

    __call__ = __getitem__ = __setitem__ = __iter__ = __len__ = __bool__ = _use
    __mro_entries__ = __instancecheck__ = __subclasscheck__ = __array__ = _use
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _use
    __rtruediv__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __neg__ = _use
    __lt__ = __le__ = __gt__ = __ge__ = __float__ = __int__ = __index__ = _use


def _problem(exc, path, root):
    """One sentence saying why the module at ``path`` does not import (file and line, no traceback)."""
    def rel(p):
        try:
            return Path(p).resolve().relative_to(root).as_posix()
        except (ValueError, OSError, TypeError):
            return str(p)
    if isinstance(exc, BrokenModuleError):
        return str(exc)                           # the root cause, passed on unchanged
    if isinstance(exc, SyntaxError):
        kind = "an indentation error" if isinstance(exc, IndentationError) else "a syntax error"
        return (f"{rel(exc.filename or path)} has {kind} at line {exc.lineno} ({exc.msg}), "
                f"so it cannot be imported")
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if str(root) in str(Path(f.filename).resolve())] or \
        traceback.extract_tb(exc.__traceback__)[-1:]
    where = f" at {rel(frames[-1].filename)}, line {frames[-1].lineno}" if frames else ""
    return (f"importing {rel(path)} raised {type(exc).__name__}: {exc}{where}, so it cannot "
            f"be imported")


class _TolerantLoader(importlib.abc.Loader):
    def __init__(self, inner, root):
        self.inner, self.root = inner, root

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        try:
            self.inner.exec_module(module)
        except (Exception, SystemExit) as e:
            problem = _problem(e, module.__spec__.origin, self.root)
            name = module.__name__

            def __getattr__(attr):
                if attr.startswith("__"):
                    raise AttributeError(attr)
                TOUCHED.append(problem)
                return Broken(problem, f"{name}.{attr}")
            module.__getattr__ = __getattr__
            module.__aevb_problem__ = problem


class TolerantFinder(importlib.abc.MetaPathFinder):
    """Finds ``aevb`` in ``root`` only, and loads its modules so that a broken one stays a placeholder."""

    def __init__(self, root):
        self.root = Path(root).resolve()

    def find_spec(self, name, path=None, target=None):
        if name != "aevb" and not name.startswith("aevb."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(
            name, [str(self.root)] if name == "aevb" else path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _TolerantLoader(spec.loader, self.root)
        return spec


def _record(result, root, selected=True):
    chk = result.check
    message = result.message.replace(str(root) + os.sep, "")
    return {"id": chk.id, "exercise": chk.exercise.name, "number": chk.exercise.number,
            "check": chk.name, "passed": result.passed, "error": result.error,
            "message": message, "selected": selected}


def run_isolated(chk, aevb, root):
    """:func:`~aevb.exercises.registry.run_one`, with a failure caused by a broken module said in one sentence."""
    del TOUCHED[:]
    try:
        result = run_one(chk, aevb)
    except SystemExit as e:
        ex = chk.exercise
        result = Result(chk, False, f"exercise {ex.number} ({ex.name}): your code called "
                        f"sys.exit({e.code!r}); return a value instead", "SystemExit")
    if not result.passed and TOUCHED and result.error != "NotImplementedError":
        ex = chk.exercise
        result.message = f"exercise {ex.number} ({ex.name}) cannot run: {TOUCHED[0]}."
        result.error = "BrokenModule"
    return _record(result, root)


def main(argv):
    """``ROOT OUT SPEC MODE``: check ``ROOT/aevb``, write the records to ``OUT`` (JSON)."""
    root, out, spec, mode = Path(argv[0]).resolve(), Path(argv[1]), argv[2], argv[3]
    sys.dont_write_bytecode = True                # grading leaves the submission as it was
    sys.meta_path.insert(0, TolerantFinder(root))
    for name in [m for m in sys.modules if m == "aevb" or m.startswith("aevb.")]:
        del sys.modules[name]
    import aevb
    here = Path(aevb.__file__).resolve()
    if root not in here.parents:
        Path(out).write_text(json.dumps({"error": f"the package under test is {here}, "
                                                  f"not the copy in {root}"}))
        return 1
    del TOUCHED[:]
    parts = [p for p in spec.split(",") if p]
    numbers = {int(p[1:]) for p in parts if p.startswith("#")}
    names = [p for p in parts if not p.startswith("#")]
    chosen = [c for c in CHECKS if c.exercise.number in numbers] if numbers else []
    if names or not numbers:
        chosen += [c for c in select(names) if c not in chosen]
    chosen.sort(key=lambda c: c.exercise.number)
    records = [run_isolated(c, aevb, root) for c in chosen]
    if mode == "needs":
        done = {r["number"] for r in records}
        failing = [c.exercise for c, r in zip(chosen, records) if not r["passed"]]
        for ex in failing:
            for n in ex.needs:
                if n not in done:
                    done.add(n)
                    records += [{**run_isolated(c, aevb, root), "selected": False}
                                for c in CHECKS if c.exercise.number == n]
    tmp = Path(str(out) + ".tmp")
    tmp.write_text(json.dumps({"records": records}))
    os.replace(tmp, out)
    return 0
