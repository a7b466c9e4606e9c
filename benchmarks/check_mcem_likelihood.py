"""Check the Appendix D estimates of a model without an encoder (an MCEM run folder).

MCEM has no q(z|x) to propose from, so its log p(x) comes from HMC chains alone,
and its posteriors are multimodal. This script compares, on the first N points
of a split:

1. Appendix D with the paper's settings (one chain, 50 samples, a KDE), the chain
   started from one prior draw (``n_starts=1``; on training points MCEM's own
   chain), which is what aevb did before;
2. the same from the best of 8 tuned chains (``n_starts=8``, aevb's default now);
3. ``aevb evaluate``'s default (4 chains, 1000 samples, a Gaussian fit), best of 8;
4. importance sampling, which needs no density fit to be right: K draws from a
   mixture of multivariate t distributions (4 degrees of freedom, covariance x 1.5^2),
   one per chain of 8 long HMC chains per datapoint (1000 tuned iterations, 200
   samples each); its effective sample size says whether the proposal covers the
   posterior.

    python benchmarks/check_mcem_likelihood.py results/runs/mnist-mcem-nz3-h100-n1000 \\
        --split test --n-points 100

One BLAS thread, float64; a few minutes per 100 points.
"""
import argparse
import time

import numpy as np
from scipy import stats
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from aevb.baselines.mcem import log_likelihood
from aevb.inference.hmc import hmc
from aevb.inference.likelihood import PAPER, log_joint
from aevb.runs import checkpoint, config
from aevb.io import datasets as D


def importance_sampled(dec, x, z0, rng, n_chains=8, per_chain=200, burn_in=1000, K=4000):
    """log p(x) per row by importance sampling from a t mixture fitted to long chains."""
    M, J = x.shape[0], dec.W_h.shape[0]
    starts = rng.standard_normal((n_chains, M, J))
    if z0 is not None:
        starts[0] = z0
    xs = np.tile(x, (n_chains, 1))
    chain = hmc(lambda z: log_joint(dec, xs, z, with_grad=True), starts.reshape(-1, J),
                per_chain, rng, n_leapfrog=4, burn_in=burn_in)
    s = chain.samples.reshape(per_chain, n_chains, M, J)
    est, ess = np.empty(M), np.empty(M)
    for i in range(M):
        comps = [stats.multivariate_t(loc=s[:, c, i].mean(0), df=4,
                                      shape=np.cov(s[:, c, i].T) * 1.5 ** 2 + 1e-6 * np.eye(J))
                 for c in range(n_chains)]
        counts = np.bincount(rng.integers(n_chains, size=K), minlength=n_chains)
        z = np.concatenate([comps[c].rvs(size=int(k), random_state=rng).reshape(-1, J)
                            for c, k in enumerate(counts) if k])
        log_r = logsumexp([c.logpdf(z) for c in comps], axis=0) - np.log(n_chains)
        log_w = log_joint(dec, x[i:i + 1], z[:, None, :])[:, 0] - log_r
        est[i] = logsumexp(log_w) - np.log(K)
        w = np.exp(log_w - log_w.max())
        ess[i] = w.sum() ** 2 / (w ** 2).sum()
    return est, ess


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--split", choices=("train", "test"), default="test")
    ap.add_argument("--n-points", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = config.read_config(args.run)
    _, dec = checkpoint.load_params(f"{args.run}/params.npz")
    dec = dec.astype(np.float64)
    train, test, _ = config.load_data(cfg)
    data = {"train": train, "test": test}[args.split]
    data = D.Dataset(data.images[:args.n_points], data.scale, data.image_shape,
                     binarize=data.binarize)
    if data.binarize == "dynamic":                    # as aevb evaluate does
        data = data.with_binarization("fixed", rng=[cfg["seed"], 4])
    x = data.to_float(np.float64)
    z0 = None
    if args.split == "train":
        with np.load(f"{args.run}/checkpoint.npz") as z:
            z0 = z["extra.z"][:len(x)].astype(np.float64)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    rows = [("Appendix D, the paper's settings, one start (aevb before)",
             log_likelihood(dec, x, rng, z0=z0, n_starts=1, **PAPER).log_px),
            ("Appendix D, the paper's settings, best of 8 starts (aevb now)",
             log_likelihood(dec, x, rng, z0=z0, **PAPER).log_px),
            ("Appendix D, 4 chains, 1000 samples, a Gaussian fit, best of 8",
             log_likelihood(dec, x, rng, z0=z0, density="gaussian").log_px)]
    est, ess = importance_sampled(dec, x, z0, rng)
    print(f"{args.run}, {args.split}, first {len(x)} points, seed {args.seed}, float64, "
          f"one BLAS thread ({time.perf_counter() - t0:.0f} s)")
    for name, v in rows:
        print(f"  {v.mean():8.2f}  {name}")
    print(f"  {est.mean():8.2f}  importance sampling from a t mixture on 8 long chains, K = "
          f"4000 (effective sample size: median {np.median(ess):.0f}, min {ess.min():.0f})")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
