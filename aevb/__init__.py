"""aevb: Auto-Encoding Variational Bayes (Kingma & Welling, arXiv 1312.6114) in NumPy.

Every gradient is written by hand next to its forward computation and checked
by finite differences. The user-facing object is :class:`VAE`; the modules
follow the paper: layers, distributions, networks (Appendix C), sgvb
(Sections 2.3 and 3), optim, train (Algorithm 1), data, plotting, cli.
"""
__version__ = "0.1.0"

from . import (checkpoint, data, datafiles, distributions, gradcheck, hmc,  # noqa: E402
               layers, likelihood, networks, optim, plotting, sgvb, train)
from .model import VAE  # noqa: E402
from .baselines import MCEM, WakeSleep  # noqa: E402
from .fullvb_model import FullVB  # noqa: E402
from .runs import load_run  # noqa: E402

__all__ = ["VAE", "WakeSleep", "MCEM", "FullVB", "load_run", "__version__", "checkpoint", "data", "datafiles", "distributions",
           "gradcheck", "hmc", "layers", "likelihood", "networks", "optim", "plotting",
           "sgvb", "train"]
