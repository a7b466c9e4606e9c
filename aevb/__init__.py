"""aevb: Auto-Encoding Variational Bayes (Kingma & Welling, arXiv 1312.6114) in NumPy.

Every gradient is written by hand next to its forward computation and checked
by finite differences. The user-facing objects are :class:`VAE` and, for the
paper's baselines and its appendix, :class:`WakeSleep`, :class:`MCEM` and
:class:`FullVB`. The modules are grouped by role (the README has the file map):

    aevb.core          the paper's mathematics: layers, distributions, networks, SGVB,
                       Adagrad, finite differences, the training loop
    aevb.inference     marginal likelihoods, HMC, other posteriors, full VB (Appendix F)
    aevb.baselines     wake-sleep and Monte Carlo EM
    aevb.runs          datasets, run folders, checkpoints, configs, evaluations
    aevb.experiments   ``aevb reproduce``, figures, tables, adversarial examples
    aevb.exercises     course exercises cut from this code
"""
__version__ = "0.2.0"

# The order matters: aevb.runs imports aevb.model (a run folder holds a VAE), which
# imports aevb.runs.data while aevb.runs is still being imported; aevb.inference and
# aevb.baselines import aevb.model too.
from . import core  # noqa: E402
from . import runs  # noqa: E402
from .model import VAE  # noqa: E402
from . import baselines, inference  # noqa: E402
from . import experiments  # noqa: E402
from .baselines import MCEM, WakeSleep  # noqa: E402
from .inference.fullvb_model import FullVB  # noqa: E402
from .runs import load_run  # noqa: E402

# Where the modules of aevb 0.1 went, for a clear error instead of a bare AttributeError.
MOVED = {
    **{m: "core" for m in ("distributions", "gradcheck", "layers", "networks", "optim",
                           "sgvb", "train")},
    **{m: "inference" for m in ("families", "fullvb", "fullvb_model", "hmc", "likelihood",
                                "posterior", "variance")},
    **{m: "baselines" for m in ("mcem", "wakesleep")},
    **{m: "experiments" for m in ("adversarial", "adversarial_tables", "classifier",
                                  "engines", "figures", "plotting", "reproduce")},
    **{m: "runs" for m in ("checkpoint", "data", "datafiles", "evaluation", "methods")},
    "runconfig": "runs.config",
}


def __getattr__(name):
    if name in MOVED:
        where = MOVED[name] if "." in MOVED[name] else f"{MOVED[name]}.{name}"
        raise AttributeError(f"aevb.{name} moved to aevb.{where} in aevb 0.2: "
                             f"use 'from aevb.{where.rpartition('.')[0]} import "
                             f"{where.rpartition('.')[2]}'")
    raise AttributeError(f"module 'aevb' has no attribute {name!r}")


__all__ = ["VAE", "WakeSleep", "MCEM", "FullVB", "load_run", "__version__", "core",
           "inference", "baselines", "runs", "experiments"]
