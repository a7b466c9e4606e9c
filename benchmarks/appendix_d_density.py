"""Which density should Appendix D fit? Measured on posteriors whose log p(x) is known exactly.

Appendix D's estimator fits a density q(z) to half of the posterior samples
and averages q(z) / p(x, z) over the other half
(:func:`aevb.inference.likelihood.reciprocal_estimate`). Its error depends on
the density: wherever q puts mass the posterior lacks (past a steep edge,
off a curved ridge), q / p is large and the reciprocal average reads log p(x)
too high. This script separates that from HMC: the samples are EXACT draws
from three 2-D posteriors with a known normalizer,

* ``gaussian``: a correlated Gaussian (both fits are exact in the limit);
* ``skewed``: a skew-normal with shape 6 (a steep edge on one side) times N(0, 1);
* ``banana``: z1 ~ N(0, 1), z2 | z1 ~ N(b (z1^2 - 1), 1) with b = 1.5;

each scaled by exp(log_px) with log_px = -100, so the estimator should return
-100. For each density and sample size it reports the mean error over the
repeats (the bias), their spread, and the seconds per estimate.

    OPENBLAS_NUM_THREADS=1 python benchmarks/appendix_d_density.py [--repeats 40] [--json FILE]
"""
import argparse
import json
import time

import numpy as np
from scipy.special import log_ndtr

from aevb.inference.likelihood import reciprocal_estimate

LOG_PX = -100.0
LOG_2PI = np.log(2 * np.pi)


def _normal(z):
    return -0.5 * (z * z + LOG_2PI)


class Gaussian:
    """N(0, C) with C = [[1, 0.8], [0.8, 1]]: a correlated Gaussian."""
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])

    def sample(self, rng, n, M):
        return rng.multivariate_normal(np.zeros(2), self.cov, size=(n, M))

    def log_density(self, z):
        inv = np.linalg.inv(self.cov)
        q = np.einsum("...i,ij,...j->...", z, inv, z)
        return -0.5 * (q + np.log(np.linalg.det(self.cov)) + 2 * LOG_2PI)


class Skewed:
    """z1 skew-normal with shape a (2 phi(z) Phi(a z)), z2 ~ N(0, 1): a steep edge below z1 = 0."""
    a = 6.0

    def sample(self, rng, n, M):
        d = self.a / np.sqrt(1 + self.a ** 2)
        u0, u1, z2 = rng.standard_normal((3, n, M))
        return np.stack([d * np.abs(u0) + np.sqrt(1 - d * d) * u1, z2], axis=-1)

    def log_density(self, z):
        return np.log(2) + _normal(z[..., 0]) + log_ndtr(self.a * z[..., 0]) + _normal(z[..., 1])


class Banana:
    """z1 ~ N(0, 1), z2 | z1 ~ N(b (z1^2 - 1), 1): a curved ridge (the Jacobian of the shear is 1)."""
    b = 1.5

    def sample(self, rng, n, M):
        z1, e = rng.standard_normal((2, n, M))
        return np.stack([z1, self.b * (z1 * z1 - 1) + e], axis=-1)

    def log_density(self, z):
        z1, z2 = z[..., 0], z[..., 1]
        return _normal(z1) + _normal(z2 - self.b * (z1 * z1 - 1))


POSTERIORS = {"gaussian": Gaussian(), "skewed": Skewed(), "banana": Banana()}


def measure(posterior, density, n_samples, repeats, seed=0):
    """Errors of ``repeats`` estimates (one datapoint each, all in one call) and seconds per estimate."""
    rng = np.random.default_rng(seed)
    z = posterior.sample(rng, n_samples, repeats)                # (L, R, 2): R independent runs
    half = n_samples // 2
    fit, use = z[:half], z[half:]
    start = time.perf_counter()
    log_px, _ = reciprocal_estimate(fit, use, LOG_PX + posterior.log_density(use), density)
    seconds = (time.perf_counter() - start) / repeats
    return log_px - LOG_PX, seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--sizes", default="50,200,1000,4000")
    p.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    print(f"{'posterior':9s} {'density':8s} {'samples':>7s} {'bias':>8s} {'spread':>8s} "
          f"{'ms':>8s}   (nats; {args.repeats} repeats, exact posterior draws, float64)")
    for name, posterior in POSTERIORS.items():
        for density in ("gaussian", "kde"):
            for n in sizes:
                err, seconds = measure(posterior, density, n, args.repeats)
                rows.append({"posterior": name, "density": density, "n_samples": n,
                             "bias": float(err.mean()), "spread": float(err.std(ddof=1)),
                             "ms": 1e3 * seconds})
                r = rows[-1]
                print(f"{name:9s} {density:8s} {n:7d} {r['bias']:+8.3f} {r['spread']:8.3f} "
                      f"{r['ms']:8.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": "OPENBLAS_NUM_THREADS=1 python benchmarks/appendix_d_density.py",
                       "repeats": args.repeats, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
