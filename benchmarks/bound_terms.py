"""The two terms of a run's bound on test images: E_q[log p(x|z)] and the KL per latent dimension.

Estimator B splits the bound into a reconstruction term and KL(q(z|x) || p(z))
in closed form (Appendix B); this prints both, and how the KL spreads over the
latent dimensions (a dimension whose KL is below 0.1 nat is one the model does
not use).

    python benchmarks/bound_terms.py results/runs/mnist-wake-sleep-nz200-h500

The first 2000 images of the run's own test set (as its log scores them),
one reconstruction draw per image, float64, one BLAS thread.
"""
import sys

import numpy as np
from threadpoolctl import threadpool_limits

from aevb.core import networks as nets
from aevb.core.sgvb import lower_bound
from aevb.io import checkpoint
from aevb.runs import config


def main(folder, n=2000):
    enc, dec = checkpoint.load_params(f"{folder}/params.npz")
    enc, dec = enc.astype(np.float64), dec.astype(np.float64)
    x = config.load_data(config.read_config(folder))[1].to_float(np.float64)[:n]
    (mean, logvar), _ = nets.gaussian_mlp_forward(enc, x)
    kl = 0.5 * (mean ** 2 + np.exp(logvar) - 1.0 - logvar)          # (n, J), Appendix B
    per_dim = kl.mean(axis=0)
    eps = np.random.default_rng(0).standard_normal((1, n, mean.shape[1]))
    bound = float(lower_bound(enc, dec, x, eps, "B").mean())
    used = per_dim > 0.1
    print(f"{folder}: first {n} test images, float64")
    print(f"  bound {bound:.1f} = reconstruction {bound + kl.sum(1).mean():.1f} "
          f"- KL {kl.sum(1).mean():.1f} nats")
    print(f"  {used.sum()} of {len(per_dim)} dimensions with KL > 0.1 nat; the largest: "
          + ", ".join(f"{v:.2f}" for v in np.sort(per_dim)[::-1][:5]))


if __name__ == "__main__":
    with threadpool_limits(1):
        for folder in sys.argv[1:]:
            main(folder)
