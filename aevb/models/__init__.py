"""The objects people touch, one module each on one small base class (:mod:`.base`).

    base.py        what they share: settings, the fit loop, save and load, decode and sample
    checks.py      the checks of settings, data and memory, one sentence each
    vae.py         :class:`~.vae.VAE`: AEVB, Algorithm 1 (Section 3)
    wakesleep.py   :class:`~.wakesleep.WakeSleep`: the paper's baseline (same networks as the VAE)
    mcem.py        :class:`~.mcem.MCEM`: Monte Carlo EM, Appendix E (a decoder, no encoder)
    fullvb.py      :class:`~.fullvb.FullVB`: full variational Bayes, Appendix F
"""
from .base import Model, NotFittedError, watched
from .checks import check_array, check_memory, check_settings, n_parameters
from .fullvb import FullVB
from .mcem import MCEM
from .vae import VAE
from .wakesleep import WakeSleep

MODELS = {cls.__name__: cls for cls in (VAE, WakeSleep, MCEM, FullVB)}

__all__ = ["Model", "NotFittedError", "VAE", "WakeSleep", "MCEM", "FullVB", "MODELS", "check_array",
           "check_memory", "check_settings", "n_parameters", "watched"]
