"""aevb: Auto-Encoding Variational Bayes (Kingma & Welling, arXiv 1312.6114) in NumPy.

Every gradient is written by hand next to its forward computation and checked
by finite differences. The user-facing objects are :class:`VAE` and, for the
paper's baselines and its appendix, :class:`WakeSleep`, :class:`MCEM` and
:class:`FullVB`; the modules follow the paper (the README has the file map).
"""
__version__ = "0.1.0"

from . import (checkpoint, data, datafiles, distributions, families, gradcheck,  # noqa: E402
               hmc, layers, likelihood, networks, optim, plotting, posterior, sgvb, train,
               variance)
from .model import VAE  # noqa: E402
from .baselines import MCEM, WakeSleep  # noqa: E402
from .fullvb_model import FullVB  # noqa: E402
from .runs import load_run  # noqa: E402

__all__ = ["VAE", "WakeSleep", "MCEM", "FullVB", "load_run", "__version__", "checkpoint",
           "data", "datafiles", "distributions", "families", "gradcheck", "hmc", "layers",
           "likelihood", "networks", "optim", "plotting", "posterior", "sgvb", "train",
           "variance"]
