"""Files: the datasets and the formats a run writes. Imports NumPy and :mod:`aevb.core` only.

    datafiles.py   MNIST and Frey Face files: where they are looked for, download, SHA-256, parsing
    datasets.py    :class:`~.datasets.Dataset`: splits, scaling, binarization (``load_mnist``, ...)
    checkpoint.py  atomic checkpoints and parameter files (.npz), JSON, the torn-line-safe log
"""
from . import checkpoint, datafiles, datasets
from .datasets import Dataset, load_dataset, load_frey_face, load_mnist

__all__ = ["checkpoint", "datafiles", "datasets", "Dataset", "load_dataset", "load_mnist",
           "load_frey_face"]
