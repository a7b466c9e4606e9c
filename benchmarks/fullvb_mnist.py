"""Full VB (Appendix F) on MNIST: the eq. 14 bound per datapoint against training samples.

Same data protocol, initialization (seed), step size and Adagrad warm-up as
``aevb train --dataset mnist`` (aevb.runs.make_config), so the numbers sit
next to an AEVB run with the same settings. Writes ``OUT/log.jsonl`` (one
record per evaluation point) and ``OUT/result.json``.

    OPENBLAS_NUM_THREADS=1 nice -n 10 python benchmarks/fullvb_mnist.py \\
        --out /tmp/fullvb --n-latent 20 --budget 1e6 --dtype float32 --theta-draws 1

Logged per evaluation: ``train_bound`` (eq. 14 bound on log p(X) / N on the
first 10,000 training points, N = 50,000), ``train_expected`` and
``test_expected`` (mean_i E_q(theta) L(theta, phi; x_i): the number to set
next to AEVB's bounds), ``kl_theta_per_datapoint``.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from aevb import runs
from aevb.inference.fullvb_train import INIT_LOGVAR, FullVBTrainer, eq14_bound
from aevb import methods


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n-latent", type=int, default=20)
    p.add_argument("--n-hidden", type=int, default=500)
    p.add_argument("--budget", type=float, default=1e6)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--theta-draws", type=int, default=None,
                   help="S, zeta draws per minibatch of 100 (default 100: Algorithm 2)")
    p.add_argument("--init-logvar", type=float, default=INIT_LOGVAR)
    p.add_argument("--logvar-lr", type=float, default=None,
                   help="Adagrad step size for log sigma_theta^2 (default: the global 0.01)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    c = runs.make_config("mnist", n_latent=a.n_latent, n_hidden=a.n_hidden, budget=int(a.budget),
                         dtype=a.dtype, seed=a.seed)
    train, test, train_eval = runs.load_data(c)
    vae = methods.model_from_config(c)          # a VAE with the run config's settings
    vae.initialize(train.n_features, np.dtype(c["dtype"]))
    trainer = FullVBTrainer(
        vae.encoder_params_, vae.decoder_params_, train, vae.optimizer_, rng=vae._rng,
        batch_size=c["batch_size"], n_mc_samples=c["n_mc_samples"], estimator=c["estimator"],
        weight_decay=c["weight_decay"], sampling=c["sampling"], dtype=c["dtype"],
        init_logvar=a.init_logvar, theta_draws=a.theta_draws, logvar_lr=a.logvar_lr)
    eval_rng = np.random.default_rng([c["seed"], 1])
    t0 = time.perf_counter()
    log = open(out / "log.jsonl", "w")

    def evaluate(seen, step):
        bound, train_expected, kl = eq14_bound(trainer.enc, trainer.q, train_eval, len(train),
                                               eval_rng)
        _, test_expected, _ = eq14_bound(trainer.enc, trainer.q, test, len(train), eval_rng)
        sigma = np.concatenate([np.exp(0.5 * lv).ravel() for lv in trainer.q.logvar.arrays()])
        rec = {"samples": seen, "train_bound": bound, "train_expected": train_expected,
               "test_expected": test_expected, "kl_theta_per_datapoint": kl,
               "sigma_theta_median": float(np.median(sigma)),
               "seconds": round(time.perf_counter() - t0, 1)}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(rec, flush=True)
    trainer.run(c["budget"], callback=evaluate)
    res = {"config": c, "theta_draws": trainer.theta_draws, "init_logvar": a.init_logvar,
           "logvar_lr": a.logvar_lr,
           "final": json.loads((out / "log.jsonl").read_text().splitlines()[-1])}
    (out / "result.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
