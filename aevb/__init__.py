"""aevb: Auto-Encoding Variational Bayes (Kingma & Welling, arXiv 1312.6114) in NumPy.

Every gradient is written by hand next to its forward computation and checked
by finite differences. The user-facing objects are
:class:`~aevb.models.vae.VAE` and, for the paper's baselines and its appendix,
:class:`~aevb.models.wakesleep.WakeSleep`, :class:`~aevb.models.mcem.MCEM` and
:class:`~aevb.models.fullvb.FullVB`. Imports run downhill only, from the
mathematics up to the command line (the README has the file map)::

    aevb.core          the paper's mathematics: layers, distributions, networks, SGVB,
                       Adagrad, finite differences, the training loop (Algorithm 1)
    aevb.inference     marginal likelihoods, HMC, other posteriors, full VB (Appendix F)
    aevb.baselines     wake-sleep and Monte Carlo EM: their updates and trainers
    aevb.io            the datasets and the file formats (checkpoints, logs)
    aevb.models        the objects people touch: VAE, WakeSleep, MCEM, FullVB
    aevb.methods       the registry of training methods; aevb.defaults, the default settings
    aevb.runs          run folders: configs, training, resume, load_run, aevb evaluate
    aevb.reproduce     aevb reproduce: the paper's figures as sweeps
    aevb.plotting      image grids and curves (matplotlib imported only when drawing)
    aevb.adversarial   the award's runner-up (Szegedy et al.), a side project
    aevb.exercises     course exercises cut from this code
    aevb.cli           the aevb command
"""
from .version import __version__
from . import core, inference, baselines, io, models, defaults, methods, runs  # noqa: F401
from . import plotting, reproduce  # noqa: F401
from .models import FullVB, MCEM, VAE, WakeSleep  # noqa: F401
from .runs import load_run  # noqa: F401
from .moved import MOVED, module_getattr as __getattr__  # noqa: F401 (0.1 and 0.2 names)

__all__ = ["VAE", "WakeSleep", "MCEM", "FullVB", "load_run", "__version__", "core",
           "inference", "baselines", "io", "models", "methods", "defaults", "runs",
           "plotting", "reproduce"]
