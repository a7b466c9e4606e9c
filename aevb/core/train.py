"""Algorithm 1: the minibatch AEVB loop.

In outline::

    repeat
        X_M <- random minibatch of M datapoints
        eps <- L random draws from p(eps) = N(0, I) per datapoint
        g   <- gradient of the minibatch estimator (eq. 8, + MAP prior)
        theta, phi <- update with g (Adagrad in the paper)
    until the budget of training samples is spent

The loop knows nothing about the :class:`aevb.VAE <aevb.models.vae.VAE>` object or
the command line; it updates the parameter containers in place and calls ``callback`` at the
evaluation points, which are counted in training samples evaluated (the x
axis of the paper's Figure 2).

Minibatches (``sampling``): ``shuffle`` walks through a fresh permutation of
the data each epoch (the remainder of N/M is dropped); ``replacement`` draws M
indices uniformly with replacement at every step, like the authors' code.

Speed: the parameter update runs outside BLAS, and on a machine with two
cores the second is idle then. With ``threads=2`` the decoder's update runs
on a helper thread while the encoder's backward pass is computed (the
``decoder_ready`` hook of :func:`aevb.core.sgvb.sgvb`), and the encoder's update
follows on the calling thread. Each array is still updated by the same
operations, so the result is bitwise the same as with ``threads=1``.
"""
import contextlib
import contextvars
import math
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .sgvb import sgvb

SAMPLING = ("shuffle", "replacement")
DEFAULT_THREADS = 1     # the helper thread is opt-in: see aevb.runs.check_threads
_HELPER = []            # one helper thread, shared by all trainers, started when first needed


def helper_thread():
    """The helper thread that updates the decoder when ``threads=2`` (started when first needed)."""
    if not _HELPER:
        _HELPER.append(ThreadPoolExecutor(1, thread_name_prefix="aevb-update"))
    return _HELPER[0]


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
        if batch_size < 1:
            raise ValueError(f"minibatch size M must be >= 1, got {batch_size}")
        if batch_size > n:
            raise ValueError(f"minibatch size M = {batch_size} is larger than the data set "
                             f"(N = {n}); use a smaller batch size")
        self.n, self.batch_size, self.sampling, self.rng = n, batch_size, sampling, rng
        self.order, self.pos = np.arange(0), n

    def next(self):
        M = self.batch_size
        if self.sampling == "replacement":
            return self.rng.integers(0, self.n, M)
        if self.pos + M > self.n:
            self.order, self.pos = self.rng.permutation(self.n), 0
        idx = self.order[self.pos:self.pos + M]
        self.pos += M
        return np.sort(idx)          # sorted rows gather faster; the batch is a set

    def state_dict(self):
        return {"order": self.order.copy(), "pos": self.pos}

    def load_state_dict(self, d):
        self.order, self.pos = np.asarray(d["order"], dtype=np.int64), int(d["pos"])


class Trainer:
    """Algorithm 1 with its whole state in one place, so a run can stop and resume exactly.

    Parameters
    ----------
    enc, dec : parameter containers (:mod:`aevb.core.networks`), updated in place
    data : aevb.io.datasets.Dataset
        N datapoints; minibatches are converted to ``dtype`` as they are drawn.
    optimizer : aevb.core.optim.Optimizer
    rng : numpy.random.Generator
        Draws the minibatches, the noise eps and any dynamic binarization.
    batch_size : int
        M (100 in the paper).
    n_mc_samples : int
        L, noise draws per datapoint (1 in the paper).
    estimator : {'A', 'B'}
    weight_decay : bool
        Include the MAP prior p(theta) = N(0, I) on the weights (Section 5).
    sigmoid_mean : bool
        Gaussian decoder with means squashed into (0, 1).
    sampling : {'shuffle', 'replacement'}
    dtype : float32 or float64
    threads : {1, 2} or None
        2 updates the decoder on a helper thread during the encoder's
        backward pass (module docstring); None means 1, which degrades least
        on a busy machine (:func:`aevb.runs.config.check_threads`). The results do
        not depend on it.

    Attributes
    ----------
    seen : int
        Training samples evaluated so far (``step`` = seen / M).
    """

    def __init__(self, enc, dec, data, optimizer, *, rng, batch_size=100, n_mc_samples=1,
                 estimator="B", weight_decay=True, sigmoid_mean=False, sampling="shuffle",
                 dtype=np.float64, threads=None):
        if int(n_mc_samples) < 1:
            raise ValueError(f"n_mc_samples (L) must be >= 1, got {n_mc_samples}")
        if threads is None:
            threads = DEFAULT_THREADS
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
                or threads not in (1, 2):
            raise ValueError(f"threads must be 1 or 2 (or None for {DEFAULT_THREADS} on this "
                             f"machine), got {threads!r}")
        self.threads = threads
        self.enc, self.dec, self.data, self.optimizer, self.rng = enc, dec, data, optimizer, rng
        self.M, self.L = int(batch_size), int(n_mc_samples)
        self.estimator, self.weight_decay = estimator, weight_decay
        self.sigmoid_mean, self.dtype = sigmoid_mean, np.dtype(dtype)
        self.sampler = MinibatchSampler(len(data), self.M, sampling, rng)
        self.seen = 0

    @property
    def step(self):
        """Minibatch updates so far (every step evaluates M samples)."""
        return self.seen // self.M

    def minibatch_step(self):
        """One pass of Algorithm 1's loop body; returns the minibatch's bounds (M,).

        A non-finite objective raises :class:`~aevb.core.train.NonFiniteError`
        before anything is updated. The decoder's update starts before the
        encoder's backward pass, so an error raised later in the step (a FloatingPointError under
        ``np.errstate(... = "raise")``, as with ``aevb train --debug-nans``)
        leaves the decoder updated and the encoder not; :mod:`aevb.runs` then
        keeps the last checkpoint on disk and writes nothing from memory.

        A method that trains the same encoder and decoder with another
        objective overrides :meth:`~aevb.core.train.Trainer.draw_noise` and
        :meth:`~aevb.core.train.Trainer.objective` only
        (:class:`aevb.inference.posterior.PosteriorTrainer`).
        """
        J = self.enc.W_mean.shape[1]
        x = self.data.batch(self.sampler.next(), self.dtype, self.rng)         # (M, D)
        noise = self.draw_noise(J)                                             # (L, M, J)
        with self.updates() as pending:
            def decoder_ready(objective, ddec):   # called before the encoder's backward pass
                if not math.isfinite(objective):
                    raise NonFiniteError(
                        f"the objective is {objective} at step {self.step + 1} ({self.seen} "
                        f"training samples evaluated){self.non_finite_hint}; parameters were "
                        f"left as they were before this step. Likely causes: a step size too "
                        f"large for this model, or data outside [0, 1].")
                self.update_decoder(ddec, pending)
            res = self.objective(x, noise, decoder_ready)
            self.optimizer.update(self.enc.arrays(), res.denc.arrays())
        self.seen += self.M
        return res.bound

    non_finite_hint = ""            # more words for the error of a non-finite objective

    def draw_noise(self, J):
        """eps ~ N(0, I), shape (L, M, J) (Section 2.4's Gaussian case)."""
        return self.rng.standard_normal((self.L, self.M, J), dtype=self.dtype)

    def objective(self, x, noise, decoder_ready):
        """The SGVB gradient of eq. 8 plus the prior (:func:`aevb.core.sgvb.sgvb`)."""
        return sgvb(self.enc, self.dec, x, noise, self.estimator,
                    n_data=len(self.data) if self.weight_decay else None,
                    sigmoid_mean=self.sigmoid_mean, decoder_ready=decoder_ready)

    @contextlib.contextmanager
    def updates(self):
        """A step's parameter updates: yields the list of pending helper-thread updates, and
        waits for them on the way out (re-raising a helper's error)."""
        pending = []
        try:
            yield pending
        finally:
            for p in pending:
                p.result()

    def update_decoder(self, ddec, pending):
        """Begin the optimizer's step and update the decoder with ``ddec``: on the helper
        thread with ``threads=2`` (appended to ``pending``), else here. The encoder's update
        follows with ``self.optimizer.update(self.enc.arrays(), denc.arrays())``."""
        enc, dec = self.enc.arrays(), self.dec.arrays()
        self.optimizer.begin_step(enc + dec)
        if self.threads == 2:
            pending.append(helper_thread().submit(   # in this thread's context: np.errstate holds
                contextvars.copy_context().run, self.optimizer.update, dec, ddec.arrays(),
                len(enc)))
        else:
            self.optimizer.update(dec, ddec.arrays(), len(enc))

    def run(self, budget, *, callback=None, eval_points=None, progress=False,
            should_stop=None, checkpoint_every=None, on_checkpoint=None):
        """Train until ``budget`` training samples have been evaluated in total.

        Parameters
        ----------
        budget : int
            Total training samples (counting those of earlier calls); the
            last step may overshoot by less than M.
        callback : callable(seen, step) or None
            Called when ``seen`` passes each of ``eval_points`` (default
            :func:`log_schedule`); points already passed are skipped.
        should_stop : callable() -> bool, or None
            Checked after every minibatch; True ends the run early (used for
            Ctrl-C and SIGTERM).
        checkpoint_every : int or None
            Call ``on_checkpoint(seen, step)`` each time ``seen`` crosses a
            multiple of it.

        Returns
        -------
        finished : bool
            False if ``should_stop`` ended the run early.
        """
        n_steps = max(0, math.ceil((budget - self.seen) / self.M))
        points = [p for p in (eval_points if eval_points is not None
                              else log_schedule(budget, self.M)) if p > self.seen]
        bar = None
        if progress:
            from tqdm.auto import tqdm
            # to a file or a pipe (a log, CI), a line a minute instead of ten a second
            shown = "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", bool)())
            bar = tqdm(total=n_steps * self.M, unit="samples", unit_scale=True,
                       dynamic_ncols=True, mininterval=0.1 if shown else 60)
        try:
            for _ in range(n_steps):
                before = self.seen
                bound = self.minibatch_step()
                if bar is not None:
                    bar.update(self.M)
                    if self.step % 50 == 0:
                        bar.set_postfix(bound=f"{bound.mean():.2f}")
                while points and self.seen >= points[0]:
                    points.pop(0)
                    if callback is not None:
                        callback(self.seen, self.step)
                if checkpoint_every and self.seen // checkpoint_every > before // checkpoint_every:
                    self.check_finite()
                    on_checkpoint(self.seen, self.step)
                if should_stop is not None and should_stop():
                    return False
        finally:
            if bar is not None:
                bar.close()
        return True

    def check_finite(self):
        """Raise :class:`~aevb.core.train.NonFiniteError` if a parameter or the optimizer's state
        is NaN or infinite.

        The objective is checked at every step; this catches what it cannot
        see, such as an Adagrad accumulator overflowed to infinity, which
        freezes its parameters silently. :meth:`~aevb.core.train.Trainer.run`
        calls it before every checkpoint, so a checkpoint never holds a broken state.
        """
        arrays = self.enc.arrays() + self.dec.arrays()
        names = ([f"encoder.{n}" for n in self.enc.names()]
                 + [f"decoder.{n}" for n in self.dec.names()])
        bad = next((n for n, a in zip(names, arrays) if not np.isfinite(a).all()), None)
        what = "parameter"
        if bad is None and self.optimizer.first_non_finite() is not None:
            bad, what = names[self.optimizer.first_non_finite()], "optimizer state of"
        if bad is not None:
            raise NonFiniteError(
                f"the {what} {bad} holds NaN or infinity at step {self.step} ({self.seen} "
                f"training samples evaluated). Likely causes: a step size too large for this "
                f"model, or float32 overflow (try --dtype float64 or a smaller --lr).")

    def state_dict(self):
        """Everything besides the parameters needed to continue bitwise identically."""
        return {"seen": self.seen, "step": self.step,
                "rng": self.rng.bit_generator.state,
                "sampler": self.sampler.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, d):
        """Restore what :meth:`~aevb.core.train.Trainer.state_dict` returned."""
        self.seen = int(d["seen"])
        self.rng.bit_generator.state = d["rng"]
        self.sampler.load_state_dict(d["sampler"])
        self.optimizer.load_state_dict(d["optimizer"])


def train(enc, dec, data, optimizer, *, budget, rng, callback=None, eval_points=None,
          progress=False, **settings):
    """Run Algorithm 1 on ``data`` from the start, updating ``enc`` and ``dec`` in place.

    ``settings`` are those of :class:`Trainer`; ``budget``, ``callback``,
    ``eval_points`` and ``progress`` those of :meth:`Trainer.run`.

    Returns
    -------
    samples_seen : int
    """
    trainer = Trainer(enc, dec, data, optimizer, rng=rng, **settings)
    trainer.run(budget, callback=callback, eval_points=eval_points, progress=progress)
    return trainer.seen
