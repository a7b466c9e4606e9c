"""A trained MNIST run's test bound under three binarizations of the test digits.

The paper does not say how its test set was binarized. A run scores one random
binarization of the test digits, drawn once from its seed (``aevb.runs.config.load_data``);
this prints the bound of the same model on that set, on another random draw, and
on the digits thresholded at 0.5 (estimator B, mean of three noise draws, float64,
one BLAS thread):

    python benchmarks/binarization_check.py results/runs/mnist-aevb-nz3-h500
"""
import sys

import numpy as np
from threadpoolctl import threadpool_limits

from aevb.core.sgvb import lower_bound
from aevb.runs import checkpoint, config
from aevb.io import datasets as D


def main(folder):
    enc, dec = checkpoint.load_params(f"{folder}/params.npz")
    enc, dec = enc.astype(np.float64), dec.astype(np.float64)
    grey = D.mnist("test").images.astype(np.float64) / 255.0
    rng = np.random.default_rng(0)
    sets = [("the run's own test set (one random binarization, from its seed)",
             config.load_data(config.read_config(folder))[1].to_float(np.float64)),
            ("another random binarization", (rng.random(grey.shape) < grey).astype(np.float64)),
            ("thresholded at 0.5", (grey > 0.5).astype(np.float64))]
    print(f"{folder}: test bound, 10,000 digits")
    for name, x in sets:
        J = enc.W_mean.shape[1]
        b = np.mean([lower_bound(enc, dec, x, rng.standard_normal((1, len(x), J)), "B").mean()
                     for _ in range(3)])
        print(f"  {b:8.2f}  {name}")


if __name__ == "__main__":
    with threadpool_limits(1):
        main(sys.argv[1])
