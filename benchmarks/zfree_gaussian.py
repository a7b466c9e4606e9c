"""The best Frey Face model that ignores z: a per-pixel Gaussian fitted to the training split.

    python benchmarks/zfree_gaussian.py [--data-dir DIR]

A decoder whose output does not depend on z makes KL(q(z|x) || p(z)) = 0 optimal, so its bound
is its log-likelihood; the best such Gaussian decoder has each pixel's mean and variance at
their maximum-likelihood values on the training split (aevb's split and scaling,
``aevb.io.datasets.load_frey_face``). Prints its log-likelihood per datapoint, in nats, on the
training and test splits: the value a Figure 2 curve sits at while its model ignores z.
"""
import argparse

import numpy as np

from aevb.core.distributions import gaussian_log_likelihood_forward
from aevb.io.datasets import load_frey_face


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    train = load_frey_face("train", data_dir=args.data_dir, dtype=np.float64)
    test = load_frey_face("test", data_dir=args.data_dir, dtype=np.float64)
    mean = train.mean(axis=0)
    logvar = np.log(train.var(axis=0))
    for name, x in (("train", train), ("test", test)):
        ll, _ = gaussian_log_likelihood_forward(x, mean, logvar)
        print(f"{name}: {ll.mean():.1f} nats per datapoint ({len(x)} frames, float64)")


if __name__ == "__main__":
    main()
