"""Inference beyond the bound: marginal likelihoods, HMC, other posteriors, full VB.

Its modules::

    likelihood.py      log p(x): importance sampling, Appendix D, exact integration on a grid
    hmc.py             Hamiltonian Monte Carlo (Appendix D's sampler, MCEM's E-step)
    families.py        Section 2.4's three routes to a reparameterization
    posterior.py       SGVB with a non-Gaussian q(z|x) (--posterior)
    variance.py        the variance of the gradient estimators
    fullvb.py          Appendix F: a posterior over the decoder's weights (eqs. 21, 24)
    fullvb_train.py    Algorithm 2 as a trainer, and the eq. 14 bound (the object: aevb.FullVB)
"""
from . import families, fullvb, fullvb_train, hmc, likelihood, posterior, variance  # noqa: F401

__all__ = ["families", "fullvb", "fullvb_train", "hmc", "likelihood", "posterior", "variance"]
