"""The paper's mathematics, each backward pass written by hand beside its forward.

Its modules::

    layers.py          linear, tanh, sigmoid (Appendix C)
    distributions.py   Bernoulli and Gaussian log-likelihoods, the KL of Appendix B, the
                       reparameterization z = mean + sigma * eps (Section 2.4)
    networks.py        the encoder and decoder MLPs (Appendix C.1, C.2)
    sgvb.py            the SGVB estimators A and B (eqs. 6 to 8) and their gradients
    optim.py           Adagrad (Section 5), with the authors' warm-up
    gradcheck.py       finite differences for every backward pass
    train.py           Algorithm 1: the minibatch AEVB loop (class Trainer)
"""
from . import distributions, gradcheck, layers, networks, optim, sgvb, train  # noqa: F401

__all__ = ["distributions", "gradcheck", "layers", "networks", "optim", "sgvb", "train"]
