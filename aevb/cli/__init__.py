"""The ``aevb`` command line (nothing in aevb imports it).

    main.py          ``aevb train``, ``evaluate``, ``data``; the parser and :func:`main`
    types.py         argument types (whole numbers, budgets, seeds, ...), one sentence each
    reproduce.py     ``aevb reproduce`` (:mod:`aevb.reproduce`)
    adversarial.py   ``aevb adversarial`` (:mod:`aevb.adversarial`)

``aevb exercises`` is added by :mod:`aevb.exercises` itself.
"""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
