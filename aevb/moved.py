"""Where the modules of aevb 0.1 and 0.2 went (:data:`MOVED`), with one sentence for old code.

Importing an old name (``import aevb.runs.data``) or reading it as an
attribute (``aevb.sgvb``) raises an error that names the new place, instead
of a bare ModuleNotFoundError or AttributeError. Imports nothing of aevb.
"""
import importlib.abc
import sys

from .version import __version__

#: Where the modules of aevb 0.1 and 0.2 went: importing an old name (or reading it as an
#: attribute) gives one sentence that names the new place, instead of a bare error.
#:
#: :meta hide-value:
MOVED = {
    **{f"aevb.{m}": f"aevb.core.{m}" for m in ("distributions", "gradcheck", "layers",
                                               "networks", "optim", "sgvb", "train")},
    **{f"aevb.{m}": f"aevb.inference.{m}" for m in ("families", "fullvb", "hmc", "likelihood",
                                                    "posterior", "variance")},
    **{f"aevb.{m}": f"aevb.baselines.{m}" for m in ("mcem", "wakesleep")},
    "aevb.model": "aevb.models.vae", "aevb.runconfig": "aevb.runs.config",
    "aevb.data": "aevb.io.datasets", "aevb.datafiles": "aevb.io.datafiles",
    "aevb.checkpoint": "aevb.io.checkpoint", "aevb.evaluation": "aevb.runs.evaluation",
    "aevb.runs.data": "aevb.io.datasets", "aevb.runs.datafiles": "aevb.io.datafiles",
    "aevb.runs.checkpoint": "aevb.io.checkpoint", "aevb.runs.methods": "aevb.methods",
    "aevb.fullvb_model": "aevb.inference.fullvb_train (FullVB: aevb.models.fullvb)",
    "aevb.inference.fullvb_model": "aevb.inference.fullvb_train (FullVB: aevb.models.fullvb)",
    "aevb.baselines.estimators": "aevb.models (WakeSleep, MCEM)",
    "aevb.experiments": "aevb.reproduce (the sweeps and figures) and aevb.adversarial",
    "aevb.experiments.reproduce": "aevb.reproduce.sweep and aevb.reproduce.spec",
    "aevb.experiments.engines": "aevb.reproduce.engines",
    "aevb.experiments.figures": "aevb.reproduce.figures",
    "aevb.experiments.plotting": "aevb.plotting",
    "aevb.experiments.classifier": "aevb.adversarial.classifier",
    "aevb.experiments.adversarial": "aevb.adversarial.attack",
    "aevb.experiments.adversarial_tables": "aevb.adversarial.tables",
    **{f"aevb.{m}": f"aevb.reproduce.{m}" for m in ("engines", "figures")},
    "aevb.classifier": "aevb.adversarial.classifier",
    "aevb.adversarial_tables": "aevb.adversarial.tables",
}


def _moved(name):
    return (f"{name} moved to {MOVED[name]} in aevb {__version__}: import it from there "
            f"(the README's file map lists every module)")


class _MovedModules(importlib.abc.MetaPathFinder):
    """Answers an import of a moved module with :func:`_moved`'s sentence."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            raise ModuleNotFoundError(_moved(fullname), name=fullname)
        return None


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())


def module_getattr(name):
    """``aevb.__getattr__``: an old module name as an attribute gets ``_moved``'s sentence."""
    if f"aevb.{name}" in MOVED:
        raise AttributeError(_moved(f"aevb.{name}"))
    raise AttributeError(f"module 'aevb' has no attribute {name!r}")
