"""The award's runner-up, Szegedy et al. (arXiv 1312.6199), on aevb's hand-written layers.

    classifier.py   the classifiers of Table 1 (softmax MLPs, one on a VAE's encoder)
    attack.py       adversarial examples by box-constrained L-BFGS (Section 4.1)
    tables.py       Tables 1 and 2 and the examples figure (``aevb adversarial``)

A side project: nothing else in aevb imports it (the ``aevb adversarial``
command loads it when it runs).
"""
from . import attack, classifier, tables  # noqa: F401

__all__ = ["attack", "classifier", "tables"]
