"""MNIST bound of a non-Gaussian posterior q(z|x) next to the Gaussian's, same budget.

Trains the paper's MNIST model with :class:`aevb.inference.posterior.PosteriorTrainer`
(estimator A, eq. 6) and the settings of ``aevb train`` (aevb.runs.make_config:
Adagrad lr 0.01 with its warm-up, M = 100, L = 1, dynamic binarization, MAP
prior, seed 0), then scores the test set (binarized once, as aevb train does)
with estimator A and the family's own fresh noise. With ``--gaussian-run`` it
scores that ``aevb train`` run folder's parameters the same way (the Gaussian
family with estimator A is exactly aevb.core.sgvb's estimator A) and by estimator B.
On the first ``--is-points`` test digits it also estimates log p(x) by
importance sampling with each model's own posterior as proposal (K samples),
next to the bound on the same digits: a check that each bound is below it.

Usage (one BLAS thread, below other work)::

    OPENBLAS_NUM_THREADS=1 nice -n 10 python benchmarks/posterior_bound.py \\
        --posterior laplace --n-latent 20 --budget 1e6 --dtype float32 \\
        --gaussian-run RUN_DIR --save laplace.npz --json out.json
"""
import argparse
import json
import time

import numpy as np

from aevb import runs
from aevb import methods
from aevb.io.checkpoint import save_params
from aevb.io.datasets import Dataset
from aevb.inference.posterior import (POSTERIORS, PosteriorTrainer, importance_sampled_family,
                            score_family)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--posterior", choices=POSTERIORS, default="laplace")
    p.add_argument("--n-latent", type=int, default=20)
    p.add_argument("--budget", type=float, default=1e6)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-draws", type=int, default=5,
                   help="independent passes over the test set, each with fresh noise")
    p.add_argument("--gaussian-run", default=None, help="an aevb train run folder to score too")
    p.add_argument("--is-points", type=int, default=500,
                   help="test points for the importance-sampled log p(x) (0: skip)")
    p.add_argument("--is-samples", type=int, default=1000, help="K for importance sampling")
    p.add_argument("--save", default=None, help="write the trained parameters here (.npz)")
    p.add_argument("--json", default=None, help="write the numbers here")
    a = p.parse_args(argv)
    c = runs.make_config("mnist", n_latent=a.n_latent, estimator="A", budget=int(a.budget),
                         dtype=a.dtype, seed=a.seed)
    train, test, _ = runs.load_data(c)
    vae = methods.model_from_config(c)          # a VAE with the run config's settings
    vae.initialize(train.n_features, np.dtype(c["dtype"]))
    trainer = PosteriorTrainer(
        vae.encoder_params_, vae.decoder_params_, train, vae.optimizer_, rng=vae._rng,
        posterior=a.posterior, batch_size=c["batch_size"], n_mc_samples=c["n_mc_samples"],
        weight_decay=c["weight_decay"], sigmoid_mean=vae._sigmoid, sampling=c["sampling"],
        dtype=c["dtype"])
    eval_rng = np.random.default_rng([c["seed"], 1])
    log = []

    def evaluate(seen, step):
        log.append({"samples": seen, "test_bound": score_family(
            vae.encoder_params_, vae.decoder_params_, test, a.posterior, eval_rng)})
        print(json.dumps(log[-1]), flush=True)

    t0 = time.perf_counter()
    trainer.run(c["budget"], callback=evaluate)
    seconds = time.perf_counter() - t0
    out = {"config": c, "posterior": a.posterior, "seconds": round(seconds, 1), "log": log,
           "test_bound_A": _scores(vae.encoder_params_, vae.decoder_params_, test,
                                   a.posterior, a.eval_draws)}
    if a.save:
        save_params(a.save, vae.encoder_params_, vae.decoder_params_)
    x_is = test.batch(slice(0, a.is_points), np.dtype(c["dtype"])) if a.is_points else None
    if x_is is not None:
        out["test_is_log_px"] = _is(vae.encoder_params_, vae.decoder_params_, x_is,
                                    a.posterior, a.is_samples)
    if a.gaussian_run:
        enc, dec, source = runs.load_params(a.gaussian_run)
        out["gaussian_run"] = f"{a.gaussian_run} ({source})"
        out["gaussian_test_bound_A"] = _scores(enc, dec, test, "gaussian", a.eval_draws)
        g = runs.load_run(a.gaussian_run)
        out["gaussian_test_bound_B"] = g.score(test, rng=[a.seed, 5])
        if x_is is not None:
            out["gaussian_test_is_log_px"] = _is(enc, dec, x_is, "gaussian", a.is_samples)
    print(json.dumps({k: v for k, v in out.items() if k not in ("config", "log")}, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


def _is(enc, dec, x, family, n_samples):
    """Importance-sampled log p(x) on ``x`` with the family as proposal, and the bound there."""
    lp = importance_sampled_family(enc, dec, x, family, n_samples, rng=[8, 0])
    bound = score_family(enc, dec, Dataset(x, 1.0, (28, 28)), family, rng=[8, 1],
                         n_mc_samples=100)
    return {"points": int(x.shape[0]), "K": n_samples, "log_px": float(lp.mean()),
            "bound_L100_same_points": bound}


def _scores(enc, dec, test, family, draws):
    """Mean and spread over ``draws`` passes of the test set, each with fresh noise."""
    s = [score_family(enc, dec, test, family, rng=[7, k]) for k in range(draws)]
    return {"mean": float(np.mean(s)), "std_over_passes": float(np.std(s, ddof=1)), "passes": s}


if __name__ == "__main__":
    main()
