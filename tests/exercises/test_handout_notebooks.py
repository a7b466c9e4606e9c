"""The handout's notebooks (aevb.exercises.notebooks) and the notebooks' "Exercises for the reader".

The handout's copies must show no reference solution: no stored output, no line of a solution
region, a first cell that makes them run on the handout's own ``aevb``, and a note before each
cell that prints the source of a function holding an exercise. The reference notebooks 01-10
each end with a section naming the exercises whose code they call.
"""
import ast
import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from aevb.exercises import generate
from aevb.exercises import notebooks as hn
from aevb.exercises.registry import BY_NAME, EXERCISES

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
READER = "## Exercises for the reader"
NAMED = re.compile(r"exercise (\d+) \((\w+)\)")
STUDENT = "# written by the student"
# The exercises whose solution regions each notebook executes in a quick-mode run
# (AEVB_QUICK=1), measured once by tracing the lines of every region while the notebook ran.
# A notebook's reader section may name only these: it must not send a reader to an exercise
# the notebook never runs. Nearly every notebook trains a VAE, which runs estimator B and
# everything under it, so the sections name the exercises each notebook is about.
CALLED = {
    "01_the_bound": {"linear", "tanh", "bernoulli", "gaussian", "kl", "reparameterize",
                     "estimator_b", "adagrad"},
    "02_reparameterization": {"linear", "tanh", "bernoulli", "gaussian", "kl", "reparameterize",
                              "estimator_b", "estimator_a", "adagrad"},
    "03_every_gradient": {"linear", "tanh", "bernoulli", "gaussian", "kl", "reparameterize",
                          "estimator_b", "estimator_a"},
    "04_training_mnist": {"linear", "tanh", "bernoulli", "kl", "reparameterize", "estimator_b",
                          "adagrad"},
    "05_manifolds": {"linear", "tanh", "bernoulli", "gaussian", "kl", "reparameterize",
                     "estimator_b", "adagrad"},
    "06_marginal_likelihood": {"linear", "tanh", "bernoulli", "kl", "reparameterize",
                               "estimator_b", "adagrad", "importance_sampling"},
    "07_baselines": {"linear", "tanh", "bernoulli", "gaussian", "kl", "reparameterize",
                     "estimator_b", "adagrad", "sleep_phase"},
    "08_adversarial_examples": {"linear", "tanh", "bernoulli", "kl", "reparameterize",
                                "estimator_b", "adagrad"},
    "09_reparameterization_families": {"linear", "tanh", "bernoulli", "gaussian", "kl",
                                       "reparameterize", "estimator_b", "estimator_a", "adagrad"},
    "10_full_vb": {"linear", "tanh", "bernoulli", "kl", "reparameterize", "estimator_b",
                   "estimator_a", "adagrad"},
}


@pytest.fixture(scope="module")
def regions():
    return generate.all_regions()


@pytest.fixture(scope="module")
def handout(tmp_path_factory, regions):
    """A fresh handout (package, README, tests) with its notebooks."""
    dest = tmp_path_factory.mktemp("handout")
    generate.make(dest, notebooks=NOTEBOOK_DIR)
    note = hn.handout_notebooks(dest, generate.PACKAGE, regions, source=NOTEBOOK_DIR)
    return dest, note


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_the_handout_carries_notebooks_01_to_10_without_outputs(handout):
    """Catches a stored output reaching the handout (an ``inspect.getsource`` output of a
    solved function is the answer), a notebook lost on the way, and notebook 11 (which makes
    a handout of its own and writes exercise 5's answer) handed out."""
    dest, note = handout
    names = sorted(p.name for p in (dest / "notebooks").glob("*.ipynb"))
    expected = sorted(p.name for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")
                      if not p.name.startswith("11_"))
    assert names == expected, (names, note)
    assert "11_exercises.ipynb" in note and "10 written" in note, note
    assert not list((dest / "notebooks").glob("*.py")), "the handout carries .ipynb only"
    for name in names:
        nb = json.loads((dest / "notebooks" / name).read_text(encoding="utf-8"))
        assert "jupytext" not in nb["metadata"], f"{name} is still paired by jupytext"
        dirty = [k for k, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
                 and (c["outputs"] or c["execution_count"] is not None)]
        assert not dirty, f"{name} carries outputs in cells {dirty}"


def test_the_handout_notebooks_are_valid(handout):
    """Catches a cell written in a shape Jupyter refuses (a missing field, a bad cell id)."""
    nbformat = pytest.importorskip("nbformat")
    dest, _ = handout
    for path in sorted((dest / "notebooks").glob("*.ipynb")):
        nbformat.validate(nbformat.read(path, as_version=4))
        ids = [c["id"] for c in _cells(path)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate cell ids"


def test_no_solution_line_reaches_the_handout_notebooks(handout, regions, tmp_path):
    """Catches a notebook cell that repeats a line of a solution region; the control: a line
    planted in a copy is found."""
    dest, _ = handout
    assert hn.leaked_notebook_lines(dest / "notebooks", regions) == []
    line = sorted(hn.solution_lines([r for r in regions if r.name == "kl"]))[0]
    copy = tmp_path / "nb"
    shutil.copytree(dest / "notebooks", copy)
    path = copy / "03_every_gradient.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][-1]["source"] = ["x = 1\n", f"    {line}\n"]
    path.write_text(json.dumps(nb), encoding="utf-8")
    leaks = hn.leaked_notebook_lines(copy, regions)
    assert leaks and line in leaks[0], leaks


def test_a_notebook_holding_a_solution_line_is_refused(tmp_path, regions):
    """Catches the handout being written although a reference notebook spells out a solution:
    ``handout_notebooks`` refuses, before writing anything."""
    repo = tmp_path / "repo"
    shutil.copytree(generate.PACKAGE, repo / "aevb", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "notebooks").mkdir()
    (repo / "notebooks" / hn.MARKER).write_text("")
    shutil.copy(NOTEBOOK_DIR / "03_every_gradient.ipynb", repo / "notebooks")
    path = repo / "notebooks" / "03_every_gradient.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    line = sorted(hn.solution_lines([r for r in regions if r.name == "linear"]))[0]
    nb["cells"][-1]["source"] = [line + "\n"]
    path.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(ValueError, match="solution region"):
        hn.handout_notebooks(tmp_path / "out", repo / "aevb")
    assert not (tmp_path / "out").exists()


def test_every_cell_printing_an_exercise_function_says_it_shows_the_students_code(handout, regions):
    """Catches a cell that prints the source of a function holding a solution region with no
    note that it is the student's code, and the detection finding nothing (the reference
    notebooks print at least the KL and Adagrad functions)."""
    dest, _ = handout
    functions = hn.region_functions(regions)
    reexports = hn._reexports(generate.PACKAGE)
    seen = set()
    for path in sorted((dest / "notebooks").glob("*.ipynb")):
        cells = _cells(path)
        code = "\n".join(_text(c) for c in cells if c["cell_type"] == "code")
        aliases = hn._aliases(ast.parse(code))
        for k, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            shown = hn.shown_functions(_text(cell), aliases, functions, reexports)
            if not shown:
                continue
            seen.update(shown)
            before = _text(cells[k - 1])
            assert before.startswith("**Your code.**"), f"{path.name}, cell {k}: no note before it"
            for f in shown:
                assert f.rsplit(".", 1)[1] in before, (path.name, k, f)
                for name in functions[f]:
                    assert f"exercise {BY_NAME[name].number} ({name})" in before, (path.name, k)
                    assert f"-k {name}`" in before, (path.name, k)
    assert {"aevb.core.distributions.kl_standard_normal_forward",
            "aevb.core.optim.Adagrad._update",
            "aevb.inference.likelihood.importance_sampled"} <= seen, seen


def test_getsource_detection_follows_aliases_and_reexports():
    """Catches a call the rewrite would miss: an imported alias, a re-exported name, a
    method; and a same-named function of another module taken for an exercise's."""
    functions = {"aevb.core.distributions.kl_standard_normal_forward": ("kl",),
                 "aevb.core.optim.Adagrad._update": ("adagrad",)}
    code = ("import inspect\nimport aevb\nfrom aevb.core import distributions as dist\n"
            "from aevb import Adagrad\n")
    aliases = hn._aliases(ast.parse(code))
    reexports = {"aevb.Adagrad": "aevb.core.optim.Adagrad"}

    def shown(src):
        return hn.shown_functions(src, aliases, functions, reexports)
    assert shown("print(inspect.getsource(dist.kl_standard_normal_forward))") == \
        ["aevb.core.distributions.kl_standard_normal_forward"]
    assert shown("print(inspect.getsource(aevb.Adagrad._update))") == ["aevb.core.optim.Adagrad._update"]
    assert shown("s = inspect.getsource(student.core.distributions.kl_standard_normal_forward)")
    assert shown("print(inspect.getsource(aevb.inference.fullvb.kl_standard_normal_forward))") == []
    assert shown("print(dist.kl_standard_normal_forward(m, v))") == []


def test_the_path_cell_runs_before_aevb_is_imported(handout):
    """Catches a handout notebook importing aevb before the cell that puts the handout first
    on sys.path: it would run (and print) the installed reference."""
    dest, _ = handout
    for path in sorted((dest / "notebooks").glob("*.ipynb")):
        code = [c for c in _cells(path) if c["cell_type"] == "code"]
        assert code[0]["id"] == f"{hn.HANDOUT_CELL_ID}-path", path.name
        assert "sys.path.insert(0" in _text(code[0]) and "assert" in _text(code[0])


def test_without_the_repository_notebooks_nothing_is_written(reference_copy, tmp_path):
    """Catches an error (or a half-written folder) when the package is installed without the
    repository's notebooks/ (from a wheel): a quiet no-op whose note says why."""
    note = hn.handout_notebooks(tmp_path / "handout", reference_copy / "aevb")
    assert "none written" in note and "repository" in note, note
    assert not (tmp_path / "handout").exists()


def test_the_module_imports_only_the_standard_library_and_its_siblings():
    """Catches an import of the rest of aevb (or of a third-party package) in the module,
    which must load beside a student's copy of the package."""
    tree = ast.parse(Path(hn.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1, f"from {'.' * node.level}{node.module} import ...: only siblings"
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


READER_NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.py") if int(p.name[:2]) <= 10)


@pytest.mark.parametrize("path", READER_NOTEBOOKS, ids=[p.stem for p in READER_NOTEBOOKS])
def test_each_notebook_ends_with_exercises_for_the_reader(path, regions):
    """Catches a notebook 01-10 without its closing "Exercises for the reader", and a section
    that names an exercise the registry does not have (a wrong number for a name), points to
    a file that does not hold its regions, gives the wrong ``check -k`` command, or names an
    exercise the notebook never runs."""
    jupytext = pytest.importorskip("jupytext")
    cells = jupytext.read(path).cells
    last = cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith(READER), \
        f"{path.name} does not end with a markdown cell starting {READER!r}"
    text = last.source
    questions = [line for line in text.splitlines() if re.match(r"\d\. ", line)]
    assert 2 <= len(questions) <= 3, f"{path.name}: {len(questions)} numbered questions"
    named = NAMED.findall(text)
    assert named, f"{path.name}'s section names no exercise as 'exercise N (name)'"
    files = {name: {Path(r.path).relative_to(generate.PACKAGE).as_posix()
                    for r in regions if r.name == name} for name in BY_NAME}
    for number, name in named:
        assert name in BY_NAME and BY_NAME[name].number == int(number), \
            f"{path.name}: exercise {number} ({name}) is not in the registry"
        line = next(s for s in text.splitlines() if f"exercise {number} ({name})" in s)
        linked = set(re.findall(r"\(\.\./aevb/([\w/]+\.py)\)", line))
        assert linked and linked <= files[name], (path.name, name, linked, files[name])
        assert f"`python -m aevb exercises check -k {name}`" in line, (path.name, name)
        if path.stem in CALLED:
            assert name in CALLED[path.stem], f"{path.name} never runs exercise {name}'s code"
    assert {n for _, n in named} <= {e.name for e in EXERCISES}


def _fill_with_marked_reference(root, regions):
    """Fill every stub of the handout in ``root`` with the reference's region, marked."""
    for e in EXERCISES:
        bodies = []
        for r in (r for r in regions if r.name == e.name):
            lines = Path(r.path).read_text().split("\n")[r.begin + 1:r.end]
            body = [s[len(r.indent):] if s.startswith(r.indent) else s.lstrip() for s in lines]
            bodies.append("\n".join([f"{STUDENT}: exercise {e.number}", *body]))
        generate.fill_stub(root, e.name, bodies)


def test_a_handout_notebook_prints_the_students_code(tmp_path, regions, monkeypatch):
    """Catches the handout's notebook 03 printing the reference solutions: run on a handout
    whose exercises are filled in (the reference's code, each marked as the student's), with
    the reference aevb installed in the kernel, every "Your code" cell must print the
    student's marked code and no solution marker, and the notebook must run. (Notebook 03
    needs no data and no training: a few seconds, kernel start included.)"""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    generate.make(tmp_path, notebooks=NOTEBOOK_DIR)
    _fill_with_marked_reference(tmp_path, regions)
    for name in ("AEVB_QUICK", "MPLBACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.setenv(name, {"AEVB_QUICK": "1", "MPLBACKEND": "Agg"}.get(name, "1"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    path = tmp_path / "notebooks" / "03_every_gradient.ipynb"
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + 300
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", startup_timeout=120,
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    printed = 0
    for k, cell in enumerate(nb.cells):
        out = "".join(o.get("text", "") for o in cell.get("outputs", ()))
        assert generate.BEGIN not in out, f"cell {k} printed the reference's solution region"
        if k and nb.cells[k - 1].source.startswith("**Your code.**"):
            assert STUDENT in out, f"cell {k} did not print the student's code:\n{out[:500]}"
            printed += 1
    assert printed >= 5, printed
    first = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert str(tmp_path.resolve() / "aevb") in first, first
