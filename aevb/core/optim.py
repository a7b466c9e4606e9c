"""Optimizers for Algorithm 1: Adagrad as the paper used it, plus SGD and Adam.

Each optimizer updates a list of parameter arrays in place from a list of
gradients of the *loss* (it minimizes; the loss is minus the bound). State is
held per array and can be saved and restored (``state_dict``).

Section 5: "stepsizes were adapted with Adagrad"; the global step size was
chosen from {0.01, 0.02, 0.1} (``PAPER_STEP_SIZES``).
"""
import numpy as np

PAPER_STEP_SIZES = (0.01, 0.02, 0.1)
WARMUP_STEPS = 100      # Adagrad: steps that only accumulate g^2 (the authors' code)


def check_lr(lr):
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"step size must be a positive number, got {lr!r}; "
                         f"the paper chose from {PAPER_STEP_SIZES}")
    return float(lr)


class Optimizer:
    """Base class: per-array state, created on the first step."""

    def __init__(self, lr):
        self.lr = check_lr(lr)
        self.state = None
        self.work = None
        self.t = 0

    def _init_state(self, params):
        raise NotImplementedError

    def step(self, params, grads):
        """Update each array of ``params`` in place, using ``grads`` (same shapes)."""
        if len(params) != len(grads):
            raise ValueError(f"{len(params)} parameter arrays but {len(grads)} gradients")
        self.begin_step(params)
        self.update(params, grads)

    def begin_step(self, params):
        """Start a step over all of ``params``; :meth:`update` then does it, whole or in parts.

        A step in parts lets a caller update some arrays while the gradients of
        others are still being computed (see :class:`aevb.core.train.Trainer`).
        """
        if self.state is None:
            self.state = self._init_state(params)
        if self.work is None:                 # scratch arrays, reused every step; not state
            self.work = [np.empty_like(p) for p in params]
        if len(params) != len(self.state):
            raise ValueError(f"this optimizer holds state for {len(self.state)} parameter "
                             f"arrays, not {len(params)}")
        self.t += 1

    def update(self, params, grads, first=0):
        """Update arrays ``first, first + 1, ...`` of the current step (see :meth:`begin_step`).

        Parts of one step that touch different arrays may run on different
        threads at the same time.
        """
        for i, (p, g) in enumerate(zip(params, grads), start=first):
            self._update(p, g, self.state[i], self.work[i])

    def state_dict(self):
        """Arrays and counters needed to resume exactly."""
        return {"t": self.t, "state": None if self.state is None
                else [[a.copy() for a in s] for s in self.state]}

    def load_state_dict(self, d):
        self.t = int(d["t"])
        self.state = None if d["state"] is None else [[np.array(a) for a in s] for s in d["state"]]

    def first_non_finite(self):
        """Index of the first parameter array whose state holds NaN or infinity, else None.

        A float32 accumulator of g^2 overflows to infinity when ``|g| > 1.8e19``;
        the parameters it serves then freeze without any NaN appearing, so
        :class:`aevb.core.train.Trainer` checks this before every checkpoint.
        """
        for i, arrays in enumerate(self.state or []):
            if any(not np.isfinite(a).all() for a in arrays):
                return i
        return None


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011), diagonal, no momentum.

    For each parameter array theta with loss gradient g, at every step::

        G     <- G + g * g                          (G starts at initial_accumulator)
        theta <- theta - lr * g / (sqrt(G) + eps)

    The accumulator is updated *before* it is used, so the first step is
    ``lr * g / (sqrt(G0 + g^2) + eps)``. ``eps`` sits outside the square root
    (as in PyTorch). The default ``initial_accumulator = 0.01`` damps the first
    steps of parameters whose gradients are tiny; PyTorch's default is 0.

    **Warm-up** (``warmup`` steps, 100 by default): the first steps only add
    g^2 to G and leave the parameters alone, as the authors' 2014 code did.
    Without it the first updates of a freshly initialized VAE are each about
    ``lr`` per parameter (G is still 0.01 while ``|g|`` is large). With it, G
    starts near 100 E[g^2] for every coordinate whose gradient is steady, and
    the first updates are about ``lr / 10``. The paper does not mention it;
    it is a departure from a plain reading of "Adagrad" that the authors'
    code makes too.

    What it does not fix, measured on the paper's MNIST model (N_z = 20) with
    ``python benchmarks/diagnose_step_size.py --lr 0.1``: the encoder's
    gradients are small during the warm-up (they pass through a decoder still
    at its initialization), so its accumulators stay small (median sqrt(G) of
    ``W_h`` 0.1 against 3 to 472 in the decoder), and once the decoder learns,
    each encoder weight moves by about ``lr`` per step, and the hundreds of
    inputs of each unit add the moves up: five steps after the warm-up the
    encoder's means reach 20 and its log-variances -28 to +25, and the bound
    is about -3e12. At lr = 0.01
    the same five steps take the means to 5 and the log-variances to +-2.6,
    and training recovers. In float32 at lr = 0.1 an accumulator overflows.
    :mod:`aevb.runs` stops such a run with a clear error (a bound below the
    untrained model's, or a non-finite accumulator:
    :meth:`Optimizer.first_non_finite`) instead of finishing it.

    Parameters
    ----------
    lr : float
        Global step size; the paper chose from {0.01, 0.02, 0.1}.
    initial_accumulator : float, >= 0
    eps : float, >= 0
    warmup : int, >= 0
        Steps that only accumulate (0 for plain Adagrad).
    """

    def __init__(self, lr=0.01, initial_accumulator=0.01, eps=1e-8, warmup=WARMUP_STEPS):
        super().__init__(lr)
        if initial_accumulator < 0 or eps < 0:
            raise ValueError("initial_accumulator and eps must be >= 0")
        if initial_accumulator == 0 and eps == 0:
            raise ValueError("initial_accumulator and eps cannot both be 0 "
                             "(the first step would divide by zero where g = 0)")
        if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
            raise ValueError(f"warmup must be a whole number of steps >= 0, got {warmup!r}")
        self.initial_accumulator = float(initial_accumulator)
        self.eps = float(eps)
        self.warmup = int(warmup)

    def _init_state(self, params):
        return [[np.full_like(p, self.initial_accumulator)] for p in params]

    def _update(self, p, g, state, tmp):
        ### BEGIN SOLUTION adagrad
        (G,) = state
        np.multiply(g, g, out=tmp)
        G += tmp                              # G <- G + g^2
        if self.t <= self.warmup:             # warm-up: accumulate only (class docstring)
            return
        np.sqrt(G, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp                              # theta <- theta - lr g / (sqrt(G) + eps)
        ### END SOLUTION


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``theta <- theta - lr * g``."""

    def _init_state(self, params):
        return [[] for _ in params]

    def _update(self, p, g, state, tmp):
        np.multiply(g, self.lr, out=tmp)
        p -= tmp


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, for comparison.

    ``m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
    theta <- theta - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _init_state(self, params):
        return [[np.zeros_like(p), np.zeros_like(p)] for p in params]

    def _update(self, p, g, state, tmp):
        m, v = state
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** self.t)
        v_hat = v / (1 - self.beta2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"adagrad": Adagrad, "sgd": SGD, "adam": Adam}


def make_optimizer(name, lr, warmup=WARMUP_STEPS):
    """Build an optimizer by name ('adagrad', 'sgd', 'adam'); ``warmup`` is Adagrad's."""
    try:
        cls = OPTIMIZERS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown optimizer {name!r}: choose from {sorted(OPTIMIZERS)}") from None
    if cls is Adagrad:
        return cls(lr=lr, warmup=warmup)
    return cls(lr=lr)
