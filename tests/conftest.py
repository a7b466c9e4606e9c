"""Shared fixtures: no downloads ever, real data through AEVB_DATA_DIR, the slow marker."""
import os
import shutil
from pathlib import Path

import pytest

import aevb
from aevb.io import datasets as D


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true",
                     help="also run tests marked slow (the README's test command does)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    keep = [i for i in items if "slow" not in i.keywords]
    dropped = [i for i in items if "slow" in i.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """The tests never download: a missing file must be an error, not a fetch."""
    monkeypatch.setenv("AEVB_OFFLINE", "1")


@pytest.fixture(scope="session")
def real_data_dir():
    """The folder with the real MNIST and Frey Face files (AEVB_DATA_DIR).

    In CI (CI=true) a missing or unverified file fails the test; elsewhere it
    skips with a message saying how to enable it.
    """
    env = os.environ.get("AEVB_DATA_DIR")
    missing = [n for names in D.FILES.values() for n in names
               if not env or not (Path(env) / n).is_file()]
    if missing:
        msg = (f"real data not available (AEVB_DATA_DIR={env!r}; missing {missing}); "
               f"point AEVB_DATA_DIR at a folder holding the MNIST and Frey Face files")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return Path(env)


@pytest.fixture(scope="module")
def reference_copy(tmp_path_factory):
    """A copy of the installed aevb package (the reference solutions), in a temporary folder."""
    root = tmp_path_factory.mktemp("reference")
    shutil.copytree(Path(aevb.__file__).resolve().parent, root / "aevb",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root
