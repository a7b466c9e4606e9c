"""The paper's experiments: sweeps, figures, tables, and the award's runner-up.

    reproduce.py       ``aevb reproduce``: the runs behind Figures 2 to 5, as sweeps
    engines.py         running a sweep's runs on local processes (joblib) or Dask
    figures.py         Figures 2 to 5 and the table against the paper's values
    plotting.py        image grids and curves (matplotlib imported only when drawing)
    paper/             the paper's curves read from its PDF (figure2.csv, figure3.csv)
    classifier.py      the classifiers of the adversarial-examples tables
    adversarial.py, adversarial_tables.py   ``aevb adversarial`` (Szegedy et al. 2014)

Importing them costs a few milliseconds: matplotlib, joblib and dask are imported
only when a figure is drawn or a sweep runs.
"""
from . import (adversarial, adversarial_tables, classifier, engines, figures,  # noqa: F401
               plotting, reproduce)

__all__ = ["adversarial", "adversarial_tables", "classifier", "engines", "figures",
           "plotting", "reproduce"]
