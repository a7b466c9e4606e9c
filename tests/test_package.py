"""The package's layout: subpackages by role, and the names of aevb 0.1 that moved."""
import importlib

import pytest

import aevb


def test_every_moved_name_says_where_it_went_and_that_place_exists():
    """Catches a bare ModuleNotFoundError or AttributeError for code written against aevb 0.1
    or 0.2 (``aevb.sgvb``, ``aevb.runs.data``, ``aevb.experiments.figures``), and a MOVED entry
    pointing at a module that does not exist (a typo, or a later move). Each import runs in a
    fresh interpreter, where nothing has imported the old name before."""
    import subprocess
    import sys
    assert len(aevb.MOVED) >= 40
    for old, where in aevb.MOVED.items():
        new = where.split()[0]
        importlib.import_module(new)                       # the new home exists
        if old.count(".") == 1:
            with pytest.raises(AttributeError, match=f"{old} moved to {new}"):
                getattr(aevb, old.split(".")[1])
    code = ("import importlib, aevb\n"
            "for old in aevb.MOVED:\n"
            "    try:\n"
            "        importlib.import_module(old)\n"
            "    except ModuleNotFoundError as e:\n"
            "        parent = old.rpartition('.')[0]\n"
            "        first = parent if parent in aevb.MOVED else old   # a moved folder says first\n"
            "        assert str(e).startswith(f'{first} moved to {aevb.MOVED[first]} in aevb '), e\n"
            "    else:\n"
            "        raise AssertionError(f'{old} still imports')\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        aevb.nonsense


FLOORS = {"version": 0, "moved": 0, "defaults": 1, "core": 1, "exercises": 1, "plotting": 1,
          "inference": 2, "baselines": 3, "io": 3, "models": 4, "methods": 5, "runs": 6,
          "reproduce": 7, "adversarial": 7, "cli": 8, "__main__": 9}
PACKAGE = __import__("pathlib").Path(aevb.__file__).resolve().parent


def _modules():
    return sorted(".".join(("aevb",) + p.relative_to(PACKAGE).with_suffix("").parts)
                  .replace(".__init__", "") for p in PACKAGE.rglob("*.py"))


def _imports(name):
    """The aevb modules that module ``name`` imports, anywhere in its code (lazy ones too)."""
    import ast
    path = PACKAGE.joinpath(*name.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            mod = (f"{base}.{node.module}" if node.module else base) if node.level \
                else node.module
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant):
            found.add(node.args[0].value)
    return {m for m in found if m and m.startswith("aevb.") and m in _modules()}


def test_imports_run_downhill():
    """Catches an import that runs back up the layers, the cause of the old ``model`` <->
    ``runs`` cycle: core <- inference <- baselines, io <- models <- methods <- runs <-
    reproduce, adversarial <- cli (version, moved, defaults, plotting and exercises are low
    leaves). Read from the source, so lazy imports inside functions count too."""
    for name in _modules():
        if name == "aevb":
            continue
        floor = FLOORS[name.split(".")[1]]
        above = sorted(m for m in _imports(name) if m.split(".")[1] != name.split(".")[1]
                       and FLOORS[m.split(".")[1]] > floor)
        assert not above, f"{name} (floor {floor}) imports {above}, which stand above it"


def test_no_private_name_is_imported_from_another_subpackage():
    """Catches ``from ..core.train import _helper`` and the like: a name another subpackage
    needs is public, or lives where it is used."""
    import ast
    for name in _modules():
        path = PACKAGE.joinpath(*name.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                private = [a.name for a in node.names if a.name.startswith("_")
                           and not a.name.startswith("__")]
                assert not private, f"{name} imports the private {private} from {node.module}"


def test_every_module_imports_alone():
    """Catches a module that imports only after another was imported first (an import cycle
    that a package's ``__init__`` has to order by hand): each is imported first, in a fresh
    interpreter."""
    import subprocess
    import sys
    code = "import importlib, sys\nimportlib.import_module(sys.argv[1])"
    for name in _modules():
        if name == "aevb.__main__":
            continue
        out = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, f"{name} does not import alone: {out.stderr[-400:]}"


def test_import_aevb_reaches_every_subpackage_without_heavy_imports():
    """Catches a subpackage that needs its own import (``aevb.plotting`` after
    ``import aevb``, as the notebooks write) and matplotlib, joblib, dask or SciPy imported
    at ``import aevb`` (checked in a fresh interpreter)."""
    import subprocess
    import sys
    code = ("import sys, aevb; aevb.core.sgvb, aevb.inference.hmc, aevb.baselines.mcem, "
            "aevb.runs.folder, aevb.plotting, aevb.reproduce.sweep; "
            "print(sorted(m for m in ('matplotlib', 'joblib', 'dask', 'scipy', 'tqdm') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_file_of_the_package_is_ignored_by_git():
    """Catches a .gitignore rule that hides part of the package from commits: the scratch
    rule ``runs/`` once hid ``aevb/runs/__init__.py``, and a clean clone could not import
    aevb. Checked on the checkout that holds these tests (``git check-ignore --no-index``
    applies the rules whether or not a file is tracked)."""
    import subprocess
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        pytest.skip("the tests are not in a git checkout")
    files = [str(p.relative_to(root)) for p in (root / "aevb").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    out = subprocess.run(["git", "check-ignore", "--no-index", *files], cwd=root,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == "", f"ignored by git: {out.stdout}"
