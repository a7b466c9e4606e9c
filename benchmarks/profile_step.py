"""Where a training step's time goes, line by line (needs ``pip install line_profiler``).

    OPENBLAS_NUM_THREADS=1 python benchmarks/profile_step.py --dtype float32
    OPENBLAS_NUM_THREADS=1 python benchmarks/profile_step.py --dtype float64 --threads 1

Trains the paper's MNIST model (as in bench.py) for ``--steps`` minibatches
under line_profiler and prints, for the functions of one step, the time per
line. The profiler slows Python lines down, so read the shares, not the
absolute times; with ``--threads 2`` (the default) the decoder's update runs
on the helper thread, which line_profiler does not see, so Adagrad's lines
then show the encoder's update alone.
"""
import argparse
import time

import numpy as np
from line_profiler import LineProfiler

from aevb.runs import data
from aevb.core import distributions, layers, networks, optim, sgvb, train


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=int, default=2, choices=(1, 2))
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--data-dir", default=None)
    a = p.parse_args()

    dt = np.dtype(a.dtype)
    mnist = data.mnist("train_full", a.data_dir).with_binarization("dynamic")
    rng = np.random.default_rng(0)
    enc = networks.init_gaussian_mlp(784, 500, 20, rng, dtype=dt)
    dec = networks.init_bernoulli_mlp(20, 500, 784, rng, dtype=dt)
    trainer = train.Trainer(enc, dec, mnist, optim.Adagrad(0.01, warmup=0), rng=rng, dtype=dt,
                            threads=a.threads)
    trainer.run(20 * 100, eval_points=[])                      # warm-up

    lp = LineProfiler()
    for f in (train.Trainer.minibatch_step, sgvb.sgvb, sgvb._forward, sgvb.add_prior_gradient,
              sgvb.log_prior, sgvb.decoder_log_likelihood_forward,
              sgvb.decoder_log_likelihood_backward, networks.gaussian_mlp_forward,
              networks.gaussian_mlp_backward, networks.bernoulli_mlp_forward,
              networks.bernoulli_mlp_backward, layers.linear_forward, layers.linear_backward,
              layers.tanh_backward, distributions.bernoulli_log_likelihood_forward,
              distributions.bernoulli_log_likelihood_backward, optim.Optimizer.update,
              optim.Adagrad._update, data.Dataset.batch, data.binarize):
        lp.add_function(f)
    t0 = time.perf_counter()
    lp.enable()
    trainer.run(trainer.seen + a.steps * 100, eval_points=[])
    lp.disable()
    seconds = time.perf_counter() - t0
    print(f"{a.dtype}, threads={a.threads}: {1e3 * seconds / a.steps:.2f} ms per step "
          f"under the profiler ({a.steps} steps)")
    lp.print_stats(output_unit=1e-3, stripzeros=True)


if __name__ == "__main__":
    main()
