"""The objects people touch, one module each on one small base class (:mod:`.base`).

    base.py        settings and their checks, the fit loop, save and load, decode and sample
    vae.py         :class:`VAE`: AEVB, Algorithm 1 (Section 3)
    wakesleep.py   :class:`WakeSleep`: the paper's baseline (same networks as the VAE)
    mcem.py        :class:`MCEM`: Monte Carlo EM, Appendix E (a decoder, no encoder)
    fullvb.py      :class:`FullVB`: full variational Bayes, Appendix F
"""
from .base import Model, check_array, check_memory, n_parameters, watched
from .fullvb import FullVB
from .mcem import MCEM
from .vae import VAE
from .wakesleep import WakeSleep

MODELS = {cls.__name__: cls for cls in (VAE, WakeSleep, MCEM, FullVB)}

__all__ = ["Model", "VAE", "WakeSleep", "MCEM", "FullVB", "MODELS", "check_array",
           "check_memory", "n_parameters", "watched"]
