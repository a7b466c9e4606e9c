"""``aevb reproduce``: the paper's Figures 2 to 5 as resumable sweeps of ordinary run folders.

    spec.py      the runs each figure needs (datasets, N_z, hidden units, methods, budgets)
    sweep.py     the sweep: manifest, state of each run read from its folder, engines, drawing
    engines.py   one run per job, on local processes (joblib) or a Dask cluster
    figures.py   Figures 2 to 5 and the table against the paper's values
    paper/       the paper's curves read from its PDF (figure2.csv, figure3.csv)

Importing them costs a few milliseconds: matplotlib, joblib and dask are
imported only when a figure is drawn or a sweep runs.
"""
from . import engines, figures, spec, sweep  # noqa: F401
from .spec import RunSpec, plan  # noqa: F401
from .sweep import sweep as run_sweep  # noqa: F401

__all__ = ["RunSpec", "plan", "run_sweep", "engines", "figures", "spec", "sweep"]
