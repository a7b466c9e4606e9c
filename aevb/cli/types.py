"""Argument types of the ``aevb`` command line: each turns a string into a checked value.

An argparse type raises :class:`argparse.ArgumentTypeError` with one sentence;
argparse prints it with the option's name and exits with status 2.
"""
import argparse

import numpy as np

from ..defaults import MAX_BUDGET


def positive_int(text):
    try:
        v = float(text)                  # accepts 1e6
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not np.isfinite(v) or v < 1 or v != int(v):
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1")
    return int(v)




def budget(text):
    v = positive_int(text)
    if v > MAX_BUDGET:
        raise argparse.ArgumentTypeError(
            f"{text} training samples is more than {MAX_BUDGET:.0e}, 100 times the paper's "
            f"longest curve; at about 17,000 samples a second (MNIST, float32, one core) "
            f"10^10 alone takes a week")
    return v


def seed(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 0")
    return v


def whole_number(text):
    if text.strip() in ("0", "0.0"):
        return 0
    return positive_int(text)


def finite_float(text, positive=False):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not np.isfinite(v) or (positive and not v > 0):
        what = "positive" if positive else "finite"
        raise argparse.ArgumentTypeError(f"{text!r} must be a {what} number")
    return v


def positive_float(text):
    return finite_float(text, positive=True)
