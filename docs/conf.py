"""Sphinx configuration of aevb's documentation site.

Build (offline, warnings as errors), from the repository's root::

    pip install ".[docs]"
    python -m sphinx -W --keep-going -j 2 -b html docs docs/_build/html

The notebooks are executed while the site is built, in quick mode (``AEVB_QUICK=1``) unless
``AEVB_QUICK=0`` is set, with the data of ``AEVB_DATA_DIR``. ``AEVB_DOCS_NOTEBOOKS=off`` skips
their execution (the pages then show code without outputs: for quick edits of the prose).
Everything under ``docs/generated/`` is written by the build (``_ext/aevb_docs.py``) and kept
out of git.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import aevb  # noqa: E402  (the installed package is what the API pages document)

project = "aevb"
author = "the aevb developers"
copyright = "2026, the aevb developers"
release = aevb.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_nb",
    "aevb_docs",                # the generated pages (API, notebooks, runs) and local MathJax
]

root_doc = "index"
exclude_patterns = ["_build", "generated/results", "generated/runs.md", "generated/bench.md",
                    "generated/horizon.md", "generated/catalogue.md", "Thumbs.db", ".DS_Store"]
# Every cross-reference must resolve (a docstring's :func:`name` included); the standard
# library and NumPy have no pages here (no intersphinx: the build makes no downloads).
nitpicky = True
nitpick_ignore_regex = [("py:class", r"(pathlib|argparse|numpy|np|os|json|concurrent|importlib)\..*")]

# -- the notebooks (MyST-NB) ---------------------------------------------------------------
os.environ.setdefault("AEVB_QUICK", "1")
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures as images
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
nb_execution_mode = "off" if os.environ.get("AEVB_DOCS_NOTEBOOKS") == "off" else "force"
nb_execution_timeout = int(os.environ.get("AEVB_NOTEBOOK_TIMEOUT", "600"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = False          # each notebook runs beside its copy (../results resolves)
nb_ipywidgets_js = {}                 # never load the widgets' JavaScript from a CDN
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# -- the API (autodoc + numpydoc) ------------------------------------------------------------
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- HTML --------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"aevb {release}"
html_static_path = []
html_last_updated_fmt = None
html_copy_source = False
