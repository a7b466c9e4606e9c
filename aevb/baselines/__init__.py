"""The paper's baselines, trained through the same run folders as AEVB.

    wakesleep.py       the wake-sleep algorithm (Hinton et al. 1995)
    mcem.py            Monte Carlo EM with HMC in the E-step
    estimators.py      :class:`WakeSleep` and :class:`MCEM`, with :class:`aevb.VAE`'s interface
"""
from . import mcem, wakesleep  # noqa: F401
from .estimators import MCEM, WakeSleep  # noqa: F401

__all__ = ["MCEM", "WakeSleep", "mcem", "wakesleep"]
