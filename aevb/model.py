"""The VAE object (Section 3): a small scikit-learn-style front to Algorithm 1.

``__init__`` only stores its arguments; ``fit`` returns ``self``; fitted
attributes end in ``_``; randomness comes in as ``rng`` (a seed or a
``numpy.random.Generator``). The defaults are the paper's MNIST settings
(Section 5): M = 100, L = 1, estimator B, Adagrad, tanh hidden units, 500 of
them, parameters initialized from N(0, 0.01^2), a MAP prior on the weights.
"""
import inspect
import io
import json
import os
import sys
import zipfile

import numpy as np

from .runs import data as _data
from .core import networks as nets
from .core.layers import sigmoid
from .core.optim import WARMUP_STEPS, make_optimizer
from .core.sgvb import check_estimator, lower_bound
from .core.train import SAMPLING, train

LIKELIHOODS = ("bernoulli", "gaussian")


def check_array(X, likelihood, name="X"):
    """Validate data for the model, with a message that says how to fix it.

    Returns ``X`` as an array of float32 or float64 with shape (n, D).
    """
    X = np.asarray(X)
    if X.ndim == 3:
        n, a, b = X.shape
        raise ValueError(f"{name} has shape {X.shape}: one image per row is expected; "
                         f"use {name}.reshape({n}, {a * b})")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_datapoints, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if X.dtype == np.bool_:
        return X.astype(np.float64)           # binary pixels: exactly {0, 1}
    if X.dtype == np.uint8:
        raise ValueError(f"{name} is uint8 (0..255); the model expects floats in [0, 1]: "
                         f"use {name} / 255.0 (the paper's Frey Face scaling is / 256)")
    if X.dtype not in (np.float32, np.float64):
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise ValueError(f"{name} has dtype {X.dtype}; expected float32 or float64")
        X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinity (first at row "
                         f"{int(np.argwhere(~np.isfinite(X))[0, 0])})")
    if likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
        raise ValueError(f"{name} has values in [{X.min():g}, {X.max():g}]; the Bernoulli "
                         f"decoder needs values in [0, 1] (binary pixels or grey levels)")
    return X


def _watched():
    """True where a person is likely watching: a notebook kernel, or stderr on a terminal."""
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


def n_parameters(D, H, J, likelihood="bernoulli"):
    """Number of parameters of the Appendix C encoder and decoder."""
    encoder = D * H + H + 2 * (H * J + J)
    decoder = J * H + H + (1 if likelihood == "bernoulli" else 2) * (H * D + D)
    return encoder + decoder


def available_memory():
    """Bytes of memory available to a new allocation (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(D, H, J, likelihood, dtype, batch_size=100):
    """Refuse, before allocating anything, a model that cannot fit in memory.

    Training holds each parameter four times (the value, its gradient,
    Adagrad's accumulator and a scratch array) plus a minibatch's activations.
    """
    need = (4 * n_parameters(D, H, J, likelihood) + 8 * batch_size * (D + H + J)) \
        * np.dtype(dtype).itemsize
    have = available_memory()
    if have is not None and need > have:
        raise ValueError(
            f"a model with D = {D}, H = {H} hidden units and J = {J} latent units needs about "
            f"{need / 2**30:.3g} GiB to train, and this machine has {have / 2**30:.3g} GiB "
            f"available: choose a smaller n_latent (--n-latent) or n_hidden (--n-hidden)")


class VAE:
    """Variational auto-encoder trained with AEVB (Algorithm 1).

    Parameters
    ----------
    n_latent : int
        J, the latent dimension (N_z in the paper).
    n_hidden : int
        H, hidden units of the encoder and the decoder (500 for MNIST, 200 for
        Frey Face in the paper).
    likelihood : {'bernoulli', 'gaussian'}
        The decoder: Bernoulli MLP (Appendix C.1) or Gaussian MLP (C.2).
    sigmoid_mean : bool
        Gaussian decoder only: squash the means into (0, 1), as the paper did
        for Frey Face.
    estimator : {'A', 'B'}
        Eq. 6 or eq. 7/10 for training.
    n_mc_samples : int
        L, noise draws per datapoint during training.
    batch_size : int
        M.
    optimizer : {'adagrad', 'sgd', 'adam'}
    lr : float or None
        Global step size; the paper chose from {0.01, 0.02, 0.1}. None picks
        what ``aevb train`` uses: 0.01 for the Bernoulli decoder (MNIST),
        0.02 for the Gaussian one (Frey Face).
    adagrad_warmup : int
        Adagrad's first steps that only accumulate squared gradients
        (:class:`aevb.core.optim.Adagrad`; 100, as in the authors' code).
    weight_decay : bool
        MAP prior N(0, I) on the weights, scaled by M/N (Section 5).
    budget : int
        Training samples evaluated by ``fit`` (the x axis of Figure 2).
    sampling : {'shuffle', 'replacement'}
        How minibatches are drawn (:mod:`aevb.core.train`).
    init_std : float
        Standard deviation of the initial parameters (0.01 in the paper).
    dtype : None, 'float32' or 'float64'
        None follows the data given to ``fit``.
    rng : int, Generator or None
    progress : bool or None
        Show a progress bar during ``fit``; None (the default) shows one where
        a person is watching: in a notebook, or when stderr is a terminal.

    Attributes
    ----------
    encoder_params_ : GaussianMLPParams
    decoder_params_ : BernoulliMLPParams or GaussianMLPParams
    n_samples_seen_ : int
    """

    def __init__(self, n_latent=20, n_hidden=500, likelihood="bernoulli", *,
                 sigmoid_mean=True, estimator="B", n_mc_samples=1, batch_size=100,
                 optimizer="adagrad", lr=None, adagrad_warmup=WARMUP_STEPS,
                 weight_decay=True, budget=1_000_000,
                 sampling="shuffle", init_std=nets.INIT_STD, dtype=None, rng=None,
                 progress=None):
        self.n_latent = n_latent
        self.n_hidden = n_hidden
        self.likelihood = likelihood
        self.sigmoid_mean = sigmoid_mean
        self.estimator = estimator
        self.n_mc_samples = n_mc_samples
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.adagrad_warmup = adagrad_warmup
        self.weight_decay = weight_decay
        self.budget = budget
        self.sampling = sampling
        self.init_std = init_std
        self.dtype = dtype
        self.rng = rng
        self.progress = progress

    # ------------------------------------------------------------ checks
    def _check_params(self):
        """Check every constructor argument; one sentence for the first that is wrong."""
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {self.likelihood!r}: choose from {LIKELIHOODS}")
        for name in ("n_latent", "n_hidden", "batch_size", "n_mc_samples", "budget"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        w = self.adagrad_warmup
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 0:
            raise ValueError(f"adagrad_warmup must be an integer >= 0, got {w!r}")
        check_estimator(self.estimator)
        if self.dtype is not None and str(np.dtype(self.dtype) if isinstance(
                self.dtype, (type, np.dtype)) else self.dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32', 'float64' or None, got {self.dtype!r}")
        for name in ("lr", "init_std"):
            v = getattr(self, name)
            if name == "lr" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(v) or v <= 0:
                what = "step size (lr)" if name == "lr" else name
                raise ValueError(f"{what} must be a positive number, got {v!r}")
        for name in ("sigmoid_mean", "weight_decay", "progress"):
            v = getattr(self, name)
            if not isinstance(v, (bool, np.bool_)) and not (name == "progress" and v is None):
                raise ValueError(f"{name} must be True or False, got {v!r}")
        if self.sampling not in SAMPLING:
            raise ValueError(f"unknown sampling {self.sampling!r}: choose from {SAMPLING}")
        make_optimizer(self.optimizer, 0.01)         # raises for an unknown name

    @property
    def lr_(self):
        """The step size in use: ``lr``, or the default for the decoder (``aevb train``'s)."""
        if self.lr is not None:
            return float(self.lr)
        return 0.01 if self.likelihood == "bernoulli" else 0.02

    # ------------------------------------------------------------ parameters, repr, files
    def get_params(self):
        """The constructor's arguments, by name (scikit-learn's convention)."""
        return {k: getattr(self, k) for k in inspect.signature(type(self)).parameters}

    def __repr__(self):
        defaults = {k: p.default for k, p in inspect.signature(type(self)).parameters.items()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items()
                 if k in ("n_latent", "n_hidden", "likelihood") or not _same(v, defaults[k])]
        fitted = (f"  # fitted, {self.n_samples_seen_} training samples"
                  if hasattr(self, "encoder_params_") else "")
        return f"{type(self).__name__}({', '.join(shown)}){fitted}"

    # What a saved file says it holds; a subclass with more state than the two networks
    # (FullVB's q(theta)) names itself and adds it through _saved_state / _restore_state.
    _SAVED_AS = "VAE"

    def save(self, path):
        """Write the fitted model (settings and parameters) to one ``.npz`` file, atomically.

        :meth:`load` reads it back; ``rng`` is not saved (pass a new one to use).
        """
        self._check_fitted()
        from .runs import checkpoint
        settings = {k: v for k, v in self.get_params().items() if k != "rng"}
        settings["dtype"] = None if settings["dtype"] is None else str(np.dtype(settings["dtype"]))
        arrays = checkpoint.param_arrays(self.encoder_params_, self.decoder_params_)
        extra_arrays, extra_meta = self._saved_state()
        arrays.update(extra_arrays)
        arrays["meta"] = np.array(json.dumps({"aevb_model": self._SAVED_AS, "settings": settings,
                                              "n_samples_seen": int(self.n_samples_seen_),
                                              **extra_meta}))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        checkpoint.atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path):
        """A fitted model from a file written by :meth:`save` (of this class)."""
        from .runs import checkpoint
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in z.files if k != "meta"}
            settings = meta["settings"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path} is not a model saved by VAE.save ({type(e).__name__}: "
                             f"{e})") from None
        kind = meta.get("aevb_model", "VAE")
        if kind != cls._SAVED_AS:
            raise ValueError(f"{path} was saved by {kind}.save, not {cls._SAVED_AS}.save: "
                             f"load it with aevb.{kind}.load")
        enc, dec = checkpoint.load_params(path)
        model = cls(**settings)
        model._set_fitted(enc, dec, meta["n_samples_seen"])
        model._restore_state(arrays, meta)
        return model

    def _saved_state(self):
        """More arrays and meta entries for :meth:`save` (none for a VAE)."""
        return {}, {}

    def _restore_state(self, arrays, meta):
        """Read back what :meth:`_saved_state` wrote."""

    def _set_fitted(self, enc, dec, n_samples_seen=0):
        """Adopt trained parameter containers (a run folder's, a saved file's)."""
        self._check_params()
        expected_dec = nets.BernoulliMLPParams if self.likelihood == "bernoulli" \
            else nets.GaussianMLPParams
        if not isinstance(dec, expected_dec) or enc.W_mean.shape[1] != self.n_latent \
                or enc.W_h.shape[1] != self.n_hidden:
            raise ValueError(f"the parameters do not fit {self!r}: encoder {enc.shapes()}, "
                             f"decoder {type(dec).__name__}")
        self.encoder_params_, self.decoder_params_ = enc, dec
        self.n_samples_seen_ = int(n_samples_seen)
        return self

    @property
    def _sigmoid(self):
        return self.likelihood == "gaussian" and self.sigmoid_mean

    def _check_fitted(self):
        if not hasattr(self, "encoder_params_"):
            raise RuntimeError("this VAE is not fitted yet: call fit(X) first")

    def _as_dataset(self, X, fitted=False):
        if not isinstance(X, _data.Dataset):
            X = check_array(X, self.likelihood)
            X = _data.Dataset(X, 1.0, (X.shape[1],), name="array")
        if fitted:
            self._check_width(X.n_features)
        return X

    def _check_width(self, D, name="X"):
        expected = self.encoder_params_.W_h.shape[0]
        if D != expected:
            raise ValueError(f"{name} has {D} features per row but this model was fitted on "
                             f"{expected}: pass data of the same kind as in fit")

    # ------------------------------------------------------------ fitting
    def initialize(self, n_features, dtype=np.float64):
        """Draw fresh parameters (Section 5) for data of D = ``n_features``."""
        self._check_params()
        D, H, J = n_features, self.n_hidden, self.n_latent
        check_memory(D, H, J, self.likelihood, np.dtype(dtype), self.batch_size)
        rng = np.random.default_rng(self.rng)
        self._rng = rng
        kw = dict(rng=rng, std=self.init_std, dtype=dtype)
        self.encoder_params_ = nets.init_gaussian_mlp(D, H, J, **kw)
        if self.likelihood == "bernoulli":
            self.decoder_params_ = nets.init_bernoulli_mlp(J, H, D, **kw)
        else:
            self.decoder_params_ = nets.init_gaussian_mlp(J, H, D, **kw)
        self.optimizer_ = make_optimizer(self.optimizer, self.lr_, self.adagrad_warmup)
        self.n_samples_seen_ = 0
        return self

    def fit(self, X, callback=None, eval_points=None):
        """Train from a fresh initialization with Algorithm 1.

        Parameters
        ----------
        X : ndarray of shape (N, D) with values in [0, 1], or aevb.runs.data.Dataset
        callback : callable(vae, samples_seen) or None
            Called at ``eval_points`` (default: 1, 2, 5 x 10^k samples).

        Returns
        -------
        self
        """
        data, dtype = self._start_fit(X)

        def on_eval(seen, step):
            self.n_samples_seen_ = seen
            if callback is not None:
                callback(self, seen)
        self.n_samples_seen_ = train(
            self.encoder_params_, self.decoder_params_, data, self.optimizer_,
            budget=self.budget, rng=self._rng, batch_size=self.batch_size,
            n_mc_samples=self.n_mc_samples, estimator=self.estimator,
            weight_decay=self.weight_decay, sigmoid_mean=self._sigmoid,
            sampling=self.sampling, dtype=dtype, callback=on_eval,
            eval_points=eval_points, progress=_watched() if self.progress is None
            else self.progress)
        return self

    def _start_fit(self, X):
        """Check the settings and ``X``, draw fresh parameters; returns (dataset, dtype)."""
        self._check_params()
        data = self._as_dataset(X)
        dtype = np.dtype(self.dtype or (data.images.dtype if data.images.dtype != np.uint8
                                        else np.float64))
        self.initialize(data.n_features, dtype)
        return data, dtype

    # ------------------------------------------------------------ using a fitted model
    def score_samples(self, X, rng=None, n_mc_samples=1, estimator="B", chunk=1000):
        """The lower bound of each datapoint, in nats (fresh noise, never z = mean).

        Returns
        -------
        bound : ndarray, shape (n,)
        """
        self._check_fitted()
        data = self._as_dataset(X, fitted=True)
        if isinstance(n_mc_samples, bool) or not isinstance(n_mc_samples, (int, np.integer)) \
                or n_mc_samples < 1:
            raise ValueError(f"n_mc_samples must be an integer >= 1, got {n_mc_samples!r}")
        rng = np.random.default_rng(rng)
        enc, dec = self.encoder_params_, self.decoder_params_
        dtype = enc.dtype
        out = np.empty(len(data), dtype=np.float64)
        for start in range(0, len(data), chunk):
            x = data.batch(slice(start, start + chunk), dtype, rng)
            eps = rng.standard_normal((n_mc_samples, x.shape[0], self.n_latent), dtype=dtype)
            out[start:start + x.shape[0]] = lower_bound(enc, dec, x, eps, estimator, self._sigmoid)
        return out

    def score(self, X, rng=None, n_mc_samples=1):
        """Mean lower bound per datapoint in nats (estimator B, fresh noise)."""
        return float(self.score_samples(X, rng, n_mc_samples).mean())

    def transform(self, X):
        """Posterior means E[z|x] under q(z|x), shape (n, J)."""
        self._check_fitted()
        X = check_array(X, self.likelihood)
        self._check_width(X.shape[1])
        (mean, _), _ = nets.gaussian_mlp_forward(self.encoder_params_,
                                                 X.astype(self.encoder_params_.dtype))
        return mean

    def decode(self, z):
        """Decoder means for latent points ``z`` of shape (n, J): sigmoid(logits) or the Gaussian mean."""
        self._check_fitted()
        z = np.asarray(z, dtype=self.decoder_params_.dtype)
        if z.ndim != 2 or z.shape[1] != self.n_latent or not np.all(np.isfinite(z)):
            raise ValueError(f"z must be a finite array of shape (n, {self.n_latent}), got "
                             f"shape {z.shape}")
        dec = self.decoder_params_
        if isinstance(dec, nets.BernoulliMLPParams):
            return sigmoid(nets.bernoulli_mlp_forward(dec, z)[0])
        return nets.gaussian_mlp_forward(dec, z, self._sigmoid)[0][0]

    def sample(self, n, rng=None):
        """``n`` draws z ~ p(z) = N(0, I) shown as decoder means, shape (n, D)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"the number of samples must be an integer >= 1, got {n!r}")
        rng = np.random.default_rng(rng)
        self._check_fitted()
        return self.decode(rng.standard_normal((n, self.n_latent)))
