"""Monte Carlo EM (Appendix E), the paper's second baseline in Figure 3.

No encoder. Every training datapoint x_i keeps a latent sample z_i (an N x J
array of persistent chains, started from the prior p(z) = N(0, I)). For each
minibatch of M datapoints:

1. **E-step, by sampling:** one Hamiltonian Monte Carlo transition
   (:func:`aevb.inference.hmc.transition`) of the minibatch's chains, all at once,
   targeting p(z|x_i) through log p(x_i, z) and its gradient in z
   (:func:`aevb.inference.likelihood.log_joint`), with 10 leapfrog steps and a step
   size per datapoint tuned towards 90 % acceptance;
2. **M-step, partial:** 5 Adagrad updates of the decoder on the gradient of
   ``sum_i log p(x_i, z_i) + (M/N) log p(theta)`` at those z
   (:func:`aevb.baselines.wakesleep.joint_gradient`).

Choices where the paper is silent or ambiguous:

* "10 leapfrog steps" is taken as 10 position updates (10 gradient
  evaluations) between two momentum half steps (:func:`aevb.inference.hmc.leapfrog`).
  The authors' code makes a half step, then n full steps, then a half step,
  which moves the position n + 1 times; we use n = 10 position moves. One
  more gradient evaluation per transition is needed at the start, because
  the decoder changed since the chain was last visited.
* The step size eps_i of each datapoint is adapted after every transition
  of its chain, with a_i = min(1, exp(H_old - H_new)) the acceptance
  probability of the proposal::

      eps_i <- eps_i * 1.02 ** ((a_i - 0.9) / (1 - 0.9))

  i.e. times 1.02 after a sure acceptance, divided by 1.02^9 = 1.195 after a
  sure rejection; its fixed point is E[a_i] = 0.9. The authors' code adapts
  one step size shared by the minibatch, by a factor min(1.25, 1.02^M) up or
  down after comparing the minibatch's acceptance rate with 0.9; a step size
  per datapoint suits posteriors of different widths. The random sign of
  the step in the authors' code changes nothing (the momentum is symmetric)
  and is left out.
* Adagrad's counter advances once per weight update, so its warm-up
  (:class:`aevb.core.optim.Adagrad`, 100 steps) lasts 20 minibatches here.
* With ``sampling='replacement'`` a datapoint drawn twice in one minibatch
  runs two transitions from the same state and keeps the last one.

MCEM has no encoder, so it has no variational bound: measure it by its
marginal likelihood (:func:`log_likelihood`, the Appendix D estimator with
chains started from the persistent ones or from the prior).
:class:`aevb.MCEM <aevb.models.mcem.MCEM>` is the user-facing object.
"""
import math

import numpy as np

from ..inference.hmc import hmc, transition
from ..inference.likelihood import DENSITY, appendix_d_from, log_joint
from ..core.train import NonFiniteError, Trainer
from .wakesleep import joint_gradient

ADAPT_RATE = 1.02        # the authors' alpha
TARGET_ACCEPT = 0.9      # Appendix E


def adapt_step_size(step_size, accept_prob, target=TARGET_ACCEPT, rate=ADAPT_RATE):
    """Multiplicative step-size rule (module docstring): ``eps * rate ** ((a - target) / (1 - target))``."""
    return step_size * rate ** ((accept_prob - target) / (1.0 - target))


def e_step(dec, x, z, step_size, p, u, n_leapfrog=10, sigmoid_mean=False, adapt=True):
    """One batched HMC transition of the chains z_i ~ p(z|x_i), with its noise given.

    Parameters
    ----------
    dec : decoder parameters
    x : ndarray, shape (M, D)
    z : ndarray, shape (M, J)
        Current chain states.
    step_size : ndarray, shape (M,)
    p : ndarray, shape (M, J)
        Momenta ~ N(0, I).
    u : ndarray, shape (M,)
        Uniforms for the Metropolis test.
    adapt : bool
        Return step sizes adapted by :func:`adapt_step_size`, else unchanged.

    Returns
    -------
    z : ndarray (M, J); logp : log p(x_i, z_i) (M,); step_size : (M,);
    accept_prob : (M,); accepted : bool (M,)
    """
    def target(zz):
        return log_joint(dec, x, zz, sigmoid_mean, with_grad=True)
    logp, grad = target(z)
    z, logp, _, a, accepted = transition(target, z, logp, grad, step_size, p, u, n_leapfrog)
    if adapt:
        step_size = adapt_step_size(step_size, a)
    return z, logp, step_size, a, accepted


class MCEMTrainer(Trainer):
    """Monte Carlo EM through the machinery of Algorithm 1 (module docstring).

    Takes the keywords of :class:`aevb.core.train.Trainer` with ``enc=None`` (there
    is no encoder; ``n_mc_samples`` and ``estimator`` are not used), and
    ``n_leapfrog`` (10), ``n_updates`` (5, decoder updates per minibatch),
    ``step_size`` (0.1, the initial step size of every chain). The
    ``optimizer`` holds state for the decoder's arrays only.

    State besides Trainer's (in ``state_dict()["extra"]``): ``z`` (N, J), the
    persistent chains, drawn from the prior at construction, and
    ``step_size`` (N,); ``extra_meta`` counts transitions and acceptances.

    :meth:`minibatch_step` returns log p(x_i, z_i) at the new chain states
    (before the decoder's updates): not a bound.
    """

    def __init__(self, enc, dec, data, optimizer, *, rng, n_leapfrog=10, n_updates=5,
                 step_size=0.1, **settings):
        if enc is not None:
            raise ValueError("MCEM has no encoder: pass enc=None")
        super().__init__(enc, dec, data, optimizer, rng=rng, **settings)
        if int(n_leapfrog) < 1 or int(n_updates) < 1 or not step_size > 0:
            raise ValueError(f"n_leapfrog and n_updates must be >= 1 and step_size > 0, got "
                             f"{n_leapfrog}, {n_updates}, {step_size}")
        self.n_leapfrog, self.n_updates = int(n_leapfrog), int(n_updates)
        J = dec.W_h.shape[0]
        self.z = self.rng.standard_normal((len(data), J), dtype=self.dtype)    # from p(z)
        self.step_size = np.full(len(data), float(step_size))
        self.n_transitions, self.n_accepted = 0, 0

    def minibatch_step(self):
        idx = self.sampler.next()
        x = self.data.batch(idx, self.dtype, self.rng)                           # (M, D)
        J = self.z.shape[1]
        p = self.rng.standard_normal((len(idx), J), dtype=self.dtype)          # momenta
        u = self.rng.random(len(idx))
        z, logp, step, _, accepted = e_step(self.dec, x, self.z[idx], self.step_size[idx], p,
                                            u, self.n_leapfrog, self.sigmoid_mean)
        if not np.all(np.isfinite(logp)):
            raise NonFiniteError(
                f"log p(x, z) is not finite at step {self.step + 1} ({self.seen} training "
                f"samples evaluated); parameters and chains were left as they were before "
                f"this step. Likely causes: a step size too large, or data outside [0, 1].")
        n_data = len(self.data) if self.weight_decay else None
        dec = self.dec.arrays()
        for k in range(self.n_updates):                 # M-step: 5 updates at fixed z
            value, ddec = joint_gradient(self.dec, x, z, n_data, self.sigmoid_mean)
            if not math.isfinite(value):
                raise NonFiniteError(f"the complete-data log-likelihood is {value} at step "
                                     f"{self.step + 1}, update {k + 1}; the decoder may hold "
                                     f"{k} of this step's {self.n_updates} updates")
            self.optimizer.step(dec, ddec.arrays())
        self.z[idx] = z
        self.step_size[idx] = step
        self.n_transitions += len(idx)
        self.n_accepted += int(accepted.sum())
        self.seen += self.M
        return logp

    @property
    def accept_rate(self):
        """Fraction of all transitions so far that were accepted."""
        return self.n_accepted / max(self.n_transitions, 1)

    def check_finite(self):
        """Raise :class:`~aevb.core.train.NonFiniteError` if the decoder, the optimizer or the
        chains hold NaN or inf."""
        names = [f"decoder.{n}" for n in self.dec.names()] + ["chains z", "step sizes"]
        arrays = self.dec.arrays() + [self.z, self.step_size]
        bad = next((n for n, a in zip(names, arrays) if not np.isfinite(a).all()), None)
        if bad is None and self.optimizer.first_non_finite() is not None:
            bad = "optimizer state of " + names[self.optimizer.first_non_finite()]
        if bad is not None:
            raise NonFiniteError(f"{bad} holds NaN or infinity at step {self.step} "
                                 f"({self.seen} training samples evaluated)")

    def state_dict(self):
        d = super().state_dict()
        d["extra"] = {"z": self.z.copy(), "step_size": self.step_size.copy()}
        d["extra_meta"] = {"n_transitions": self.n_transitions, "n_accepted": self.n_accepted}
        return d

    def load_state_dict(self, d):
        super().load_state_dict(d)
        z, step = np.asarray(d["extra"]["z"]), np.asarray(d["extra"]["step_size"])
        if z.shape != self.z.shape or step.shape != self.step_size.shape:
            raise ValueError(f"the saved chains have shape {z.shape}, this data and model need "
                             f"{self.z.shape}: resume with the same data set and N_z")
        self.z, self.step_size = z.astype(self.dtype), step.astype(np.float64)
        meta = d.get("extra_meta") or {}
        self.n_transitions = int(meta.get("n_transitions", 0))
        self.n_accepted = int(meta.get("n_accepted", 0))


def log_likelihood(dec, x, rng=None, *, z0=None, n_samples=1000, n_chains=4, n_leapfrog=4,
                   burn_in=300, density=DENSITY, target_accept=0.9, sigmoid_mean=False,
                   n_starts=8):
    """The Appendix D estimate of log p(x) for a model without an encoder (MCEM's measure).

    As :func:`aevb.inference.likelihood.appendix_d` (HMC posterior samples, a density
    q(z) fitted to the first half of each chain, the reciprocal importance
    average over the second half), except where the chains start, which the
    paper does not say: from :func:`best_start`, the end of the best of
    ``n_starts`` tuned chains per datapoint (``z0[i]``, e.g. MCEM's persistent
    chain, if given, the others from the prior p(z)). Every chain of a datapoint
    starts there and is tuned again for ``burn_in`` iterations.

    Why: MCEM's posteriors are multimodal. On Figure 3's N_train = 1000 model at
    10^7 samples, the paper's settings with a single chain from the prior
    (``n_starts=1``) gave -179.3 nats on the first 100 test points, where
    importance sampling with a proposal built from eight long chains gave
    -137.3; with ``n_starts=8`` they give -140.9, and this function's defaults
    with a Gaussian fit (``density="gaussian"``, the default when that was
    measured) -138.3 (``benchmarks/check_mcem_likelihood.py``, output in
    ``results/figure3-checks/mcem-n1000-test.txt``).

    Parameters
    ----------
    dec : decoder parameters
    x : ndarray, shape (M, D)
    z0 : ndarray, shape (M, J), or None
    n_starts : int, candidate chains per datapoint (1: ``z0`` or one prior draw)

    Returns
    -------
    aevb.inference.likelihood.Estimate
    """
    rng = np.random.default_rng(rng)
    x = np.asarray(x, dtype=dec.dtype)
    C = int(n_chains)
    per_chain = -(-int(n_samples) // C)
    if per_chain < 4:
        raise ValueError(f"n_samples = {n_samples} gives fewer than 4 samples per chain with "
                         f"n_chains = {C}; use n_samples >= {4 * C}")
    if isinstance(n_starts, bool) or not isinstance(n_starts, (int, np.integer)) or n_starts < 1:
        raise ValueError(f"n_starts must be a whole number >= 1, got {n_starts!r}")
    start = best_start(dec, x, rng, z0=z0, n_starts=n_starts, n_leapfrog=n_leapfrog,
                       burn_in=burn_in, target_accept=target_accept, sigmoid_mean=sigmoid_mean)
    starts = np.repeat(start[None], C, axis=0)
    est = appendix_d_from(dec, x, starts, per_chain, rng, n_leapfrog=n_leapfrog,
                          burn_in=burn_in, density=density, target_accept=target_accept,
                          sigmoid_mean=sigmoid_mean)
    est.settings.update(start=("chains" if z0 is not None else "prior")
                        + (f", best of {n_starts}" if n_starts > 1 else ""), n_starts=n_starts)
    return est


def best_start(dec, x, rng, *, z0=None, n_starts=8, n_leapfrog=4, burn_in=300,
               target_accept=0.9, sigmoid_mean=False, n_scored=20):
    """Per datapoint, the last state of the best of ``n_starts`` HMC chains, (M, J).

    The candidates start at ``z0[i]`` (if given) and at draws from the prior, run
    ``burn_in`` tuned iterations and ``n_scored`` more; the best is the one with
    the highest mean log p(x, z) over those ``n_scored``: the mode a chain would
    otherwise have to find by itself. With ``n_starts=1`` it is ``z0`` (or one
    prior draw) unchanged, and no chain is run.
    """
    M, J = x.shape[0], dec.W_h.shape[0]
    starts = rng.standard_normal((n_starts, M, J)).astype(x.dtype)
    if z0 is not None:
        starts[0] = z0
    if n_starts == 1:
        return starts[0]
    xs = np.tile(x, (n_starts, 1))
    target = lambda z: log_joint(dec, xs, z, sigmoid_mean, with_grad=True)   # noqa: E731
    chain = hmc(target, starts.reshape(n_starts * M, J), n_scored, rng, n_leapfrog=n_leapfrog,
                burn_in=burn_in, target_accept=target_accept)
    score = log_joint(dec, xs, chain.samples, sigmoid_mean).reshape(n_scored, n_starts, M)
    best = score.mean(axis=0).argmax(axis=0)                                   # (M,)
    last = chain.samples[-1].reshape(n_starts, M, J)
    return last[best, np.arange(M)].astype(x.dtype)
