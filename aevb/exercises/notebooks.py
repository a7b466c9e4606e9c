"""The handout's notebooks: the repository's walkthroughs, made safe to give to students.

The reference notebooks (``notebooks/NN_name.ipynb`` beside the package) print some of the
exercises' solutions with ``inspect.getsource``. :func:`handout_notebooks` writes copies into
``DEST/notebooks/`` that show none:

* every stored output is dropped (an output of ``inspect.getsource`` would be the answer);
* a first code cell puts the handout folder (``DEST``, holding the student's ``aevb/``) first
  on ``sys.path`` and refuses to go on with any other ``aevb``;
* before each cell that prints the source of a function holding a solution region, a
  markdown cell says that it prints the student's own code (the stub until it is written);
* a notebook that makes a handout of its own or writes an exercise's answer (notebook 11,
  about the exercises) is left out;
* the result is refused (ValueError) if a line of a solution region is left in a cell.

The handout carries ``.ipynb`` files only (students use Jupyter); no jupytext pairing. When
the package has no repository notebooks beside it (installed from a wheel: setup.cfg ships the
package only), nothing is written and the note returned says so.

Like the rest of this subpackage, this module imports only the standard library and its
siblings, so it can be loaded beside a student's copy of ``aevb``.
"""
import ast
import json
from pathlib import Path

from .generate import BEGIN, END, PACKAGE, all_regions
from .registry import BY_NAME

MARKER = "jupytext.toml"        # the repository's notebooks/ holds it; a handout's does not
GETSOURCE = ("getsource", "getsourcelines")
LEAVE_OUT = ("fill_stub", "exercises.make(")      # code that writes a handout or an answer
HANDOUT_CELL_ID = "aevb-handout"

FIRST_MARKDOWN = """\
**The handout's copy of this notebook.** It runs on the handout's own `aevb` (the folder \
above this one, where you write the exercises), not on an aevb installed elsewhere: the next \
cell puts that folder first on `sys.path` (for the subprocesses too) and stops if another \
`aevb` was imported first (restart the kernel then). Start Jupyter in the handout folder or in \
its `notebooks/`; from a terminal, `PYTHONPATH=.. python` in `notebooks/` does the same.

The cells that print the source of a function you write (they say so) show **your** code: the \
`raise NotImplementedError(...)` stub until you write it. A cell that calls an exercise you \
have not done yet stops with that `NotImplementedError`; do the exercise (`python -m aevb \
exercises check -k NAME` from the handout folder), then rerun the notebook. Notebooks 01, 02 \
and 04-10 need the MNIST or Frey Face files (`AEVB_DATA_DIR`); `AEVB_QUICK=1` runs each in \
about a minute."""

FIRST_CODE = """\
import os
import pathlib
import sys

HERE = pathlib.Path.cwd().resolve()
HANDOUT = next((p for p in (HERE, HERE.parent) if (p / "aevb" / "__init__.py").is_file()), None)
assert HANDOUT is not None, f"start this notebook in the handout folder or its notebooks/ (not {HERE})"
sys.path.insert(0, str(HANDOUT))
os.environ["PYTHONPATH"] = os.pathsep.join([str(HANDOUT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
import aevb  # noqa: E402

assert pathlib.Path(aevb.__file__).resolve().parent == HANDOUT / "aevb", \\
    f"this kernel imported aevb from {aevb.__file__}, not the handout's: restart the kernel"
print("aevb from", HANDOUT / "aevb")"""


def notebooks_folder(package=PACKAGE):
    """The repository's ``notebooks/`` beside ``package`` (the aevb/ folder), or None.

    It is the repository's when it holds ``jupytext.toml``: an installed wheel has no
    notebooks, and a handout's ``notebooks/`` has no jupytext pairing.
    """
    folder = Path(package).resolve().parent / "notebooks"
    return folder if (folder / MARKER).is_file() else None


def _module(path, package):
    rel = Path(path).resolve().relative_to(Path(package).resolve()).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["aevb", *parts])


def region_functions(regions, package=PACKAGE):
    """``{"aevb.core.distributions.kl_standard_normal_forward": ("kl",), ...}``.

    Each function (``module.qualname``) holding a solution region, with the exercises of its
    regions.
    """
    found = {}
    for path in sorted({Path(r.path) for r in regions}):
        mine = [r for r in regions if Path(r.path) == path]
        module = _module(path, package)

        def walk(node, prefix):
            for n in ast.iter_child_nodes(node):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    qual = prefix + n.name
                    if not isinstance(n, ast.ClassDef):
                        names = {r.name for r in mine if n.lineno <= r.begin + 1 <= n.end_lineno}
                        if names:
                            found.setdefault(f"{module}.{qual}", set()).update(names)
                    walk(n, qual + ".")
        walk(ast.parse(path.read_text()), "")
    return {k: tuple(sorted(v, key=lambda n: BY_NAME[n].number)) for k, v in found.items()}


def _reexports(package):
    """``{"aevb.VAE": "aevb.models.vae.VAE", ...}``: names a package's ``__init__`` imports."""
    out = {}
    for init in Path(package).rglob("__init__.py"):
        if "__pycache__" in init.parts:
            continue
        here = _module(init, package).split(".")
        for node in ast.walk(ast.parse(init.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[:len(here) - node.level + 1] + (node.module.split(".") if node.module else [])
                for a in node.names:
                    out[".".join(here + [a.asname or a.name])] = ".".join(base + [a.name])
    return out


def _aliases(tree):
    """The names a notebook's imports bind: ``{"dist": "aevb.core.distributions", ...}``."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _canonical(name, reexports):
    """Follow re-exports (``aevb.VAE.decode`` -> ``aevb.models.vae.VAE.decode``)."""
    for _ in range(10):
        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            head = ".".join(parts[:k])
            if head in reexports and reexports[head] != head:
                name = ".".join([reexports[head], *parts[k:]])
                break
        else:
            return name
    return name


def shown_functions(source, aliases, functions, reexports, package=PACKAGE):
    """The functions of ``functions`` whose source the code ``source`` prints.

    A call ``inspect.getsource(expr)`` names one when ``expr`` resolves (through the
    notebook's imports and the package's re-exports) to it; an ``expr`` that does not resolve
    to an ``aevb`` name counts when it ends with the function's qualified name (say a student
    package's ``student.core.distributions.kl_standard_normal_forward``).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:         # IPython magics: judge by the text
        return [f for f in functions if "getsource" in source and _split(f, package)[1] in source]
    shown = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        if (_dotted(node.func) or "").rsplit(".", 1)[-1] not in GETSOURCE:
            continue
        expr = _dotted(node.args[0])
        if expr is None:
            continue
        head, _, rest = expr.partition(".")
        full = _canonical(".".join(p for p in (aliases.get(head, head), rest) if p), reexports)
        for f in functions:
            qual = _split(f, package)[1]
            hit = full == f if full.startswith("aevb.") else (full == qual or full.endswith("." + qual))
            if hit and f not in shown:
                shown.append(f)
    return shown


def _text(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _cell(kind, text, k):
    cell = {"cell_type": kind, "id": f"{HANDOUT_CELL_ID}-{k}", "metadata": {},
            "source": text.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _note(functions, shown, package):
    names = [_split(f, package)[1] for f in shown]
    exercises = sorted({n for f in shown for n in functions[f]}, key=lambda n: BY_NAME[n].number)
    files = sorted({_split(f, package)[0] for f in shown})
    which = ", ".join(f"exercise {BY_NAME[n].number} ({n})" for n in exercises)
    return (f"**Your code.** In the handout the next cell prints your own "
            f"{', '.join(f'`{n}`' for n in names)} ({which}, in "
            f"{', '.join(f'[`aevb/{p}`](../aevb/{p})' for p in files)}), not the reference "
            f"solution: the `raise NotImplementedError(...)` stub until you write it. Check it "
            f"with {', '.join(f'`python -m aevb exercises check -k {n}`' for n in exercises)} "
            f"from the handout folder.")


def _split(function, package):
    """``"aevb.core.optim.Adagrad._update"`` -> ``("core/optim.py", "Adagrad._update")``."""
    parts = function.split(".")[1:]
    for k in range(len(parts) - 1, 0, -1):
        if Path(package, *parts[:k]).with_suffix(".py").is_file():
            return Path(*parts[:k]).with_suffix(".py").as_posix(), ".".join(parts[k:])
    return "/".join(parts[:-1]) + ".py", parts[-1]


def solution_lines(regions):
    """The code lines of the regions that occur nowhere else in their file (as in ``leaked_lines``)."""
    found = set()
    for path in sorted({Path(r.path) for r in regions}):
        lines = path.read_text().split("\n")
        inside = set()
        for r in regions:
            if Path(r.path) == path:
                inside.update(range(r.begin + 1, r.end))
        outside = {lines[i].strip() for i in range(len(lines)) if i not in inside}
        found |= {lines[i].strip() for i in inside} - outside
    return {s for s in found if len(s) > 6 and not s.startswith("#")}


def leaked_notebook_lines(folder, regions):
    """``["01_the_bound.ipynb, cell 3: <line>", ...]``: solution lines in the notebooks of ``folder``.

    Looks at every cell's source and every stored output (there should be none).
    """
    solution = solution_lines(regions)
    leaks = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        for k, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            texts = [_text(cell)] + [_text({"source": o.get("text", "")}) for o in cell.get("outputs", ())]
            for text in texts:
                leaks += [f"{path.name}, cell {k}: {s.strip()}" for s in text.split("\n")
                          if s.strip() in solution or s.strip().startswith((BEGIN, END))]
    return leaks


def handout_notebook(nb, functions, reexports, package=PACKAGE):
    """The handout's version of one notebook (the parsed .ipynb JSON; a new dict is returned).

    Returns ``(notebook, shown)``: ``shown`` lists the functions with regions whose source the
    notebook prints, or None when the notebook is to be left out (it writes a handout or an
    answer itself).
    """
    cells = nb["cells"]
    code = "\n".join(_text(c) for c in cells if c["cell_type"] == "code")
    if any(s in code for s in LEAVE_OUT):
        return None, None
    try:
        aliases = _aliases(ast.parse(code))
    except SyntaxError:
        aliases = {}
    out, shown_all = [], []
    for cell in cells:
        cell = dict(cell)
        cell["metadata"] = {key: v for key, v in cell.get("metadata", {}).items()
                            if key not in ("execution", "jupyter", "collapsed", "scrolled")}
        if cell["cell_type"] == "code":
            if not shown_all and not any(c["cell_type"] == "code" for c in out):
                out += [_cell("markdown", FIRST_MARKDOWN, "first"), _cell("code", FIRST_CODE, "path")]
            cell["outputs"] = []
            cell["execution_count"] = None
            shown = shown_functions(_text(cell), aliases, functions, reexports, package)
            if shown:
                out.append(_cell("markdown", _note(functions, shown, package), len(out)))
                shown_all += [f for f in shown if f not in shown_all]
        out.append(cell)
    metadata = {key: v for key, v in nb.get("metadata", {}).items() if key != "jupytext"}
    return {**nb, "metadata": metadata, "cells": out}, shown_all


def check_source(source):
    """``source`` as a Path if it holds notebooks ``NN_*.ipynb``; ValueError (one sentence) if not."""
    source = Path(source)
    if not source.is_dir() or not sorted(source.glob("[0-9][0-9]_*.ipynb")):
        raise ValueError(f"{source} holds no notebooks (01_the_bound.ipynb ...): give the "
                         f"notebooks/ folder of a clone of the aevb repository")
    return source


def handout_notebooks(dest, package=PACKAGE, regions=None, source=None):
    """Write the handout's notebooks into ``dest/notebooks/``; return a one-line note for the user.

    ``package`` is the reference ``aevb/`` folder that the handout is made from, ``regions``
    its solution regions (:func:`~aevb.exercises.generate.all_regions` of it when None).
    ``source`` is the folder of the repository's notebooks; by default ``notebooks/`` beside
    ``package`` (see :func:`notebooks_folder`), which an installed aevb does not have: then
    nothing is written and the note says so. Notebooks of the same names in
    ``dest/notebooks/`` are replaced. Raises ValueError, before writing anything, if
    ``source`` holds no notebooks or a copy would still hold a solution line.
    """
    source = notebooks_folder(package) if source is None else check_source(source)
    if source is None:
        return (f"notebooks: none written (no repository notebooks/ beside "
                f"{Path(package).resolve()}; an installed aevb does not ship them): pass "
                f"--notebooks CLONE/notebooks, the notebooks/ folder of a clone of the repository")
    regions = all_regions(package) if regions is None else regions
    functions = region_functions(regions, package)
    reexports = _reexports(package)
    written, left_out, n_shown = {}, [], 0
    for path in sorted(source.glob("[0-9][0-9]_*.ipynb")):
        nb, shown = handout_notebook(json.loads(path.read_text(encoding="utf-8")), functions, reexports, package)
        if nb is None:
            left_out.append(path.name)
            continue
        written[path.name] = nb
        n_shown += len(shown)
    target = Path(dest) / "notebooks"
    solution = solution_lines(regions)
    for name, nb in written.items():
        for k, cell in enumerate(nb["cells"]):
            bad = [s.strip() for s in _text(cell).split("\n") if s.strip() in solution]
            if bad:
                raise ValueError(f"{source / name}, cell {k} holds a line of a solution region "
                                 f"({bad[0]!r}); the handout would show it: edit the notebook")
    target.mkdir(parents=True, exist_ok=True)
    for name, nb in written.items():
        (target / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    note = (f"notebooks: {len(written)} written to {target} without outputs; {n_shown} function(s) "
            f"with exercises they print now show the student's code")
    if left_out:
        note += f"; left out (they write a handout or an answer): {', '.join(left_out)}"
    return note
