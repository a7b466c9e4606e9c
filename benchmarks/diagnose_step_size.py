"""What happens right after Adagrad's warm-up at a large step size (optim.Adagrad's docstring).

    python benchmarks/diagnose_step_size.py [--lr 0.1] [--dtype float64] [--steps 140]

Trains the paper's MNIST model (N_z = 20, 500 hidden, Adagrad with its
100-step warm-up) and prints, at a few steps after the warm-up, the
minibatch bound and the range of the encoder's outputs on 500 test digits,
then the median sqrt(G) of each parameter array at the end of the warm-up.
Needs AEVB_DATA_DIR (or the default data folder).
"""
import argparse

import numpy as np

from aevb import methods, runs
from aevb.core import networks as nets
from aevb.core.train import Trainer


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--steps", type=int, default=140)
    a = p.parse_args()
    cfg = runs.make_config("mnist", n_latent=20, lr=a.lr, dtype=a.dtype)
    train, test, _ = runs.load_data(cfg)
    vae = methods.model_from_config({**cfg, "seed": 0})
    vae.initialize(train.n_features, np.dtype(a.dtype))
    tr = Trainer(vae.encoder_params_, vae.decoder_params_, train, vae.optimizer_, rng=vae._rng,
                 dtype=a.dtype)
    x = test.batch(slice(0, 500), np.dtype(a.dtype), np.random.default_rng(0))
    names = [f"encoder.{k}" for k in tr.enc.names()] + [f"decoder.{k}" for k in tr.dec.names()]
    warmup = cfg["adagrad_warmup"]
    scale = {}
    with np.errstate(all="ignore"):
        for step in range(1, a.steps + 1):
            bound = tr.minibatch_step()
            if step == warmup:
                scale = {n: float(np.median(np.sqrt(s[0])))
                         for n, s in zip(names, tr.optimizer.state)}
            if step in (warmup, warmup + 1, warmup + 2, warmup + 5, warmup + 10, a.steps):
                (mean, logvar), _ = nets.gaussian_mlp_forward(tr.enc, x)
                print(f"step {step}: minibatch bound {bound.mean():.4g}; encoder |mean| max "
                      f"{np.abs(mean).max():.3g}, logvar in [{logvar.min():.3g}, "
                      f"{logvar.max():.3g}]")
    print("median sqrt(G) at the end of the warm-up:",
          ", ".join(f"{n} {v:.3g}" for n, v in scale.items()))


if __name__ == "__main__":
    main()
