"""The notebooks: numbered walkthroughs, each a jupytext pair (NN_name.py in py:percent and
NN_name.ipynb without outputs) kept in sync, and each runs top to bottom, headless, in quick
mode (AEVB_QUICK=1) within a deadline.

Edit the .py side and run ``jupytext --sync notebooks/NN_name.py`` (notebooks/jupytext.toml
pairs the two formats).
"""
import io
import os
import re
import time
import tokenize
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SCRIPTS = sorted(p for p in NOTEBOOK_DIR.glob("*.py") if re.match(r"\d\d_", p.name))
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+$")
# A hang guard, not a speed test: the notebooks aim at well under a minute each in quick
# mode; a loaded CI machine may take a few times longer. Override with AEVB_NOTEBOOK_TIMEOUT.
NOTEBOOK_TIMEOUT = float(os.environ.get("AEVB_NOTEBOOK_TIMEOUT", "300"))


def _cells(path):
    """(cell type, source) of each cell as jupytext reads the file, either format."""
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_notebooks_are_numbered_contiguously_from_01():
    """Catches a gap or a duplicate in the numbering (a notebook renamed, lost or added
    twice), and a name that does not follow NN_lower_case."""
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"
    bad = [p.name for p in NOTEBOOKS if not NAME.match(p.stem)]
    assert not bad, f"notebook names must look like 01_the_bound.ipynb: {bad}"
    numbers = [int(NAME.match(p.stem).group(1)) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1)), \
        f"notebook numbers {numbers} are not 1, 2, ..., {len(NOTEBOOKS)} without gaps or repeats"


def test_every_notebook_has_its_text_pair():
    """Catches an .ipynb committed without its py:percent file (or the reverse), which
    leaves a notebook whose changes cannot be reviewed as text."""
    stems = {p.stem for p in NOTEBOOKS}
    scripts = {p.stem for p in SCRIPTS}
    assert stems - scripts == set(), f"notebooks without a paired .py: {sorted(stems - scripts)}"
    assert scripts - stems == set(), f".py notebooks without their .ipynb: {sorted(scripts - stems)}"
    for p in SCRIPTS:
        header = p.read_text().split("# %%", 1)[0]
        assert "format_name: percent" in header, f"{p.name} is not in jupytext's py:percent format"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_pair_is_in_sync(path):
    """Catches an edit made to one side of a pair only: every cell's type and source must
    be the same in the .ipynb and the .py (run ``jupytext --sync notebooks/<name>.py``)."""
    script = path.with_suffix(".py")
    if not script.exists():
        pytest.fail(f"{path.name} has no paired {script.name}")
    ipynb_cells = _cells(path)
    py_cells = _cells(script)
    for k, (a, b) in enumerate(zip(ipynb_cells, py_cells)):
        assert a == b, (f"{path.name} and {script.name} differ at cell {k}:\n"
                        f"ipynb: {a[1][:200]!r}\npy:    {b[1][:200]!r}\n"
                        f"run: jupytext --sync notebooks/{script.name}")
    assert len(ipynb_cells) == len(py_cells), \
        f"{path.name} has {len(ipynb_cells)} cells, {script.name} {len(py_cells)}: run jupytext --sync"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    """Catches a notebook saved after running it: outputs bloat diffs and go stale."""
    nb = nbformat.read(path, as_version=4)
    dirty = [k for k, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name} is committed with outputs in cells {dirty}: clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_quick_mode_and_one_statement_per_line(path):
    """Catches a notebook with no quick mode (CI would run its full budget) and statements
    joined by semicolons on one line (the notebooks are read line by line beside the paper)."""
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert any("AEVB_QUICK" in src for src in code), f"{path.name} never reads AEVB_QUICK"
    for k, src in enumerate(code):
        tokens = tokenize.generate_tokens(io.StringIO(src + "\n").readline)
        semis = [t.start[0] for t in tokens if t.type == tokenize.OP and t.string == ";"]
        assert not semis, (f"{path.name}, code cell {k}, line {semis[0]}: statements joined "
                           f"by ';' (one statement per line)")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, real_data_dir, monkeypatch):
    """Catches any cell that raises (including the notebooks' own asserts on what they
    measure) or hangs, e.g. an interactive widget waiting for a frontend, in a headless
    quick-mode run. One deadline covers the whole notebook."""
    import nbclient
    monkeypatch.setenv("AEVB_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("AEVB_DATA_DIR", os.fspath(real_data_dir))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + NOTEBOOK_TIMEOUT
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", startup_timeout=120,
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        resources={"metadata": {"path": os.fspath(path.parent)}})
    client.execute()
