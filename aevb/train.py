"""Algorithm 1: the minibatch AEVB loop.

    repeat
        X_M <- random minibatch of M datapoints
        eps <- L random draws from p(eps) = N(0, I) per datapoint
        g   <- gradient of the minibatch estimator (eq. 8, + MAP prior)
        theta, phi <- update with g (Adagrad in the paper)
    until the budget of training samples is spent

The loop knows nothing about the :class:`aevb.VAE` object or the command line;
it updates the parameter containers in place and calls ``callback`` at the
evaluation points, which are counted in training samples evaluated (the x
axis of the paper's Figure 2).

Minibatches (``sampling``): ``shuffle`` walks through a fresh permutation of
the data each epoch (the remainder of N/M is dropped); ``replacement`` draws M
indices uniformly with replacement at every step, like the authors' code.
"""
import math

import numpy as np

from .sgvb import sgvb

SAMPLING = ("shuffle", "replacement")


class NonFiniteError(FloatingPointError):
    """The objective became NaN or infinite; parameters were not updated."""


def log_schedule(budget, batch_size):
    """Evaluation points 1, 2, 5 x 10^k (in samples, multiples of M) up to and including the budget."""
    points, k = set(), 0
    while 10 ** k <= budget:
        for m in (1, 2, 5):
            n = m * 10 ** k
            if batch_size <= n <= budget:
                points.add(batch_size * (n // batch_size))
        k += 1
    points.add(batch_size * math.ceil(budget / batch_size))
    return sorted(points)


class MinibatchSampler:
    """Indices of successive minibatches (module docstring, ``sampling``)."""

    def __init__(self, n, batch_size, sampling, rng):
        if sampling not in SAMPLING:
            raise ValueError(f"unknown sampling {sampling!r}: choose from {SAMPLING}")
        if not 1 <= batch_size <= n:
            raise ValueError(f"minibatch size M = {batch_size} must be between 1 and the "
                             f"number of datapoints N = {n}")
        self.n, self.batch_size, self.sampling, self.rng = n, batch_size, sampling, rng
        self.order, self.pos = None, n

    def next(self):
        M = self.batch_size
        if self.sampling == "replacement":
            return self.rng.integers(0, self.n, M)
        if self.pos + M > self.n:
            self.order, self.pos = self.rng.permutation(self.n), 0
        idx = self.order[self.pos:self.pos + M]
        self.pos += M
        return np.sort(idx)          # sorted rows gather faster; the batch is a set


def train(enc, dec, data, optimizer, *, budget, rng, batch_size=100, n_mc_samples=1,
          estimator="B", weight_decay=True, sigmoid_mean=False, sampling="shuffle",
          dtype=np.float64, callback=None, eval_points=None, progress=False):
    """Run Algorithm 1 on ``data``, updating ``enc`` and ``dec`` in place.

    Parameters
    ----------
    enc, dec : parameter containers (:mod:`aevb.networks`)
    data : aevb.data.Dataset
        N datapoints; minibatches are converted to ``dtype`` as they are drawn.
    optimizer : aevb.optim.Optimizer
    budget : int
        Training samples to evaluate (the number of steps is budget / M, rounded up).
    rng : numpy.random.Generator
        Draws the minibatches, the noise eps and any dynamic binarization.
    batch_size : int
        M (100 in the paper).
    n_mc_samples : int
        L, noise draws per datapoint (1 in the paper).
    estimator : {'A', 'B'}
    weight_decay : bool
        Include the MAP prior p(theta) = N(0, I) on the weights (Section 5).
    callback : callable(samples_seen, step) or None
        Called at each of ``eval_points`` (default :func:`log_schedule`).

    Returns
    -------
    samples_seen : int
    """
    N = len(data)
    J = enc.W_mean.shape[1]
    M, L = int(batch_size), int(n_mc_samples)
    if L < 1:
        raise ValueError(f"n_mc_samples (L) must be >= 1, got {L}")
    sampler = MinibatchSampler(N, M, sampling, rng)
    n_steps = math.ceil(budget / M)
    points = list(eval_points if eval_points is not None else log_schedule(budget, M))
    params = enc.arrays() + dec.arrays()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_steps * M, unit="samples", unit_scale=True, dynamic_ncols=True)
    seen = 0
    try:
        for step in range(1, n_steps + 1):
            x = data.batch(sampler.next(), dtype, rng)                 # (M, D)
            eps = rng.standard_normal((L, M, J), dtype=dtype)          # (L, M, J)
            res = sgvb(enc, dec, x, eps, estimator,
                       n_data=N if weight_decay else None, sigmoid_mean=sigmoid_mean)
            if not math.isfinite(res.objective):
                raise NonFiniteError(
                    f"the objective is {res.objective} at step {step} ({seen} training samples "
                    f"evaluated); parameters were left as they were before this step. Likely "
                    f"causes: a step size too large for this model, or data outside [0, 1].")
            optimizer.step(params, res.denc.arrays() + res.ddec.arrays())
            seen += M
            if bar is not None:
                bar.update(M)
                if step % 50 == 0:
                    bar.set_postfix(bound=f"{res.bound.mean():.2f}")
            while points and seen >= points[0]:
                points.pop(0)
                if callback is not None:
                    callback(seen, step)
    finally:
        if bar is not None:
            bar.close()
    return seen
