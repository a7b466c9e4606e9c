"""The paper's baselines (Section 5, Appendix E): their updates and trainers.

    wakesleep.py       the wake-sleep algorithm (Hinton et al. 1995)
    mcem.py            Monte Carlo EM with HMC in the E-step

The objects people touch are :class:`aevb.WakeSleep <aevb.models.wakesleep.WakeSleep>` and
:class:`aevb.MCEM <aevb.models.mcem.MCEM>` (:mod:`aevb.models`).
"""
from . import mcem, wakesleep  # noqa: F401

__all__ = ["mcem", "wakesleep"]
