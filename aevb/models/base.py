"""What every model object shares: settings, their checks, the fit loop, save and load.

The four classes people touch (:class:`aevb.VAE <aevb.models.vae.VAE>`,
:class:`aevb.WakeSleep <aevb.models.wakesleep.WakeSleep>`,
:class:`aevb.MCEM <aevb.models.mcem.MCEM>`,
:class:`aevb.FullVB <aevb.models.fullvb.FullVB>`) follow scikit-learn's conventions:
``__init__`` only stores its arguments; ``fit`` returns ``self``; fitted
attributes end in ``_``; randomness comes in as ``rng`` (a seed or a
``numpy.random.Generator``). This base class owns what they have in common;
each subclass says what it trains (:meth:`Model.make_trainer`) and what it
scores.
"""
import inspect
import io
import json
import os
import sys
import zipfile

import numpy as np

from .. import defaults
from ..core import networks as nets
from ..core.layers import sigmoid
from ..core.optim import make_optimizer
from ..io import checkpoint
from ..io import datasets as _data
from .checks import as_generator, check_array, check_memory, check_settings

SCORE_CHUNK = 1000          # datapoints scored at once (score_samples' default chunk)


def watched():
    """True where a person is likely watching: a notebook kernel, or stderr on a terminal."""
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


class NotFittedError(ValueError):
    """A fitted model's method called before ``fit`` (or ``load``): a ``ValueError``, as
    scikit-learn's is and as every refusal of aevb's Python API is."""


class Model:
    """The shared part of the model classes (module docstring); not used on its own.

    A subclass lists every setting in its ``__init__`` signature (that is what
    :meth:`get_params`, :meth:`save` and ``repr`` read), stores them with
    ``_store``, and defines :meth:`make_trainer`. Subclasses with more
    fitted state than the two networks add it through ``_saved_state``,
    ``_restore_state`` and :meth:`adopt_trainer`.
    """

    has_encoder = True        # MCEM: False (the decoder alone)

    def _store(self, settings):
        for name in inspect.signature(type(self)).parameters:
            setattr(self, name, settings[name])

    # ------------------------------------------------------------ checks
    def _check_params(self):
        """Check every constructor argument (:func:`.checks.check_settings`)."""
        check_settings(self.get_params())

    @property
    def lr_(self):
        """The step size in use: ``lr``, or the default for the decoder (``aevb train``'s)."""
        return float(self.lr) if self.lr is not None else defaults.LR[self.likelihood]

    # ------------------------------------------------------------ parameters, repr
    def get_params(self):
        """The constructor's arguments, by name (scikit-learn's convention)."""
        return {k: getattr(self, k) for k in inspect.signature(type(self)).parameters}

    def __repr__(self):
        defaults_ = {k: p.default for k, p in inspect.signature(type(self)).parameters.items()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items()
                 if k in ("n_latent", "n_hidden", "likelihood") or not _same(v, defaults_[k])]
        fitted = (f"  # fitted, {self.n_samples_seen_} training samples"
                  if self._is_fitted() else "")
        return f"{type(self).__name__}({', '.join(shown)}){fitted}"

    def _is_fitted(self):
        return getattr(self, "decoder_params_", None) is not None

    def _check_fitted(self):
        if not self._is_fitted():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) "
                                 f"first")

    @property
    def _sigmoid(self):
        return self.likelihood == "gaussian" and self.sigmoid_mean

    # ------------------------------------------------------------ files
    def save(self, path):
        """Write the fitted model (settings and parameters) to one ``.npz`` file, atomically.

        :meth:`load` of the same class reads it back; ``rng`` is not saved
        (pass a new one to use).
        """
        self._check_fitted()
        if os.path.isdir(path):
            raise ValueError(f"{path} is a folder: give save() a file name, such as "
                             f"{os.path.join(path, 'model.npz')}")
        settings = {k: v for k, v in self.get_params().items() if k != "rng"}
        settings["dtype"] = None if settings["dtype"] is None else str(np.dtype(settings["dtype"]))
        arrays = checkpoint.param_arrays(self.encoder_params_, self.decoder_params_)
        extra_arrays, extra_meta = self._saved_state()
        arrays.update(extra_arrays)
        arrays["meta"] = np.array(json.dumps({"aevb_model": type(self).__name__,
                                              "settings": settings,
                                              "n_samples_seen": int(self.n_samples_seen_),
                                              **extra_meta}))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        checkpoint.atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path):
        """A fitted model from a file written by :meth:`save` (of this class)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in z.files if k != "meta"}
            settings = meta["settings"]
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path} is not a model saved by {cls.__name__}.save "
                             f"({checkpoint.why_unreadable(e)})") from None
        if not isinstance(meta, dict) or not isinstance(settings, dict):
            raise ValueError(f"{path} is not a model saved by {cls.__name__}.save (its meta "
                             f"entry is not aevb's)")
        kind = meta.get("aevb_model", "VAE")
        if kind != cls.__name__:
            raise ValueError(f"{path} was saved by {kind}.save, not {cls.__name__}.save: "
                             f"load it with aevb.{kind}.load")
        enc, dec = checkpoint.load_params(path)
        unknown = sorted(set(settings) - set(inspect.signature(cls).parameters))
        if unknown:
            raise ValueError(f"{path} holds settings {cls.__name__} does not take "
                             f"({', '.join(unknown)}): it was edited by hand or written by "
                             f"another version")
        model = cls(**settings)
        try:
            model._set_fitted(enc, dec, meta["n_samples_seen"])
            model._restore_state(arrays, meta)
        except (KeyError, TypeError) as e:
            raise ValueError(f"{path} is not a whole {cls.__name__} file (it lacks {e}): it was "
                             f"edited by hand or written by another version") from None
        return model

    def _saved_state(self):
        """More arrays and meta entries for :meth:`save` (none by default)."""
        return {}, {}

    def _restore_state(self, arrays, meta):
        """Read back what :meth:`_saved_state` wrote."""

    def _set_fitted(self, enc, dec, n_samples_seen=0):
        """Adopt trained parameter containers (a run folder's, a saved file's)."""
        self._check_params()
        expected_dec = nets.BernoulliMLPParams if self.likelihood == "bernoulli" \
            else nets.GaussianMLPParams
        fits = isinstance(dec, expected_dec) and dec.W_h.shape == (self.n_latent, self.n_hidden)
        if self.has_encoder:
            fits = fits and enc is not None and enc.W_mean.shape[1] == self.n_latent \
                and enc.W_h.shape[1] == self.n_hidden
        elif enc is not None:
            fits = False
        if not fits:
            enc_shapes = "none" if enc is None else enc.shapes()
            raise ValueError(f"the parameters do not fit {self!r}: encoder {enc_shapes}, "
                             f"decoder {type(dec).__name__} {dec.shapes()}")
        self.encoder_params_, self.decoder_params_ = enc, dec
        self.n_samples_seen_ = int(n_samples_seen)
        return self

    # ------------------------------------------------------------ data
    def _as_dataset(self, X, fitted=False):
        if not isinstance(X, _data.Dataset):
            X = check_array(X, self.likelihood, sigmoid_mean=self.sigmoid_mean)
            X = _data.Dataset(X, 1.0, (X.shape[1],), name="array")
        if fitted:
            self._check_width(X.n_features)
        return X

    def _check_width(self, D, name="X"):
        expected = self.decoder_params_.arrays()[-1].shape[-1]
        if D != expected:
            raise ValueError(f"{name} has {D} features per row but this model was fitted on "
                             f"{expected}: pass data of the same kind as in fit")

    # ------------------------------------------------------------ fitting
    def initialize(self, n_features, dtype=np.float64):
        """Draw fresh parameters (Section 5's N(0, 0.01^2)) for data of D = ``n_features``.

        The encoder is drawn first, then the decoder, from ``rng``; a model
        without an encoder (MCEM) draws and drops one, so that the methods
        compared in Figures 2 and 3 start from the same decoder for a seed.
        """
        self._check_params()
        D, H, J = n_features, self.n_hidden, self.n_latent
        check_memory(D, H, J, self.likelihood, np.dtype(dtype), batch_size=self.batch_size,
                     n_mc_samples=getattr(self, "n_mc_samples", 1), score_rows=SCORE_CHUNK)
        rng = np.random.default_rng(self.rng)
        self._rng = rng
        kw = dict(rng=rng, std=self.init_std, dtype=dtype)
        # Drawn even without an encoder (MCEM), so that every method of one seed starts
        # from the same decoder.
        enc = nets.init_gaussian_mlp(D, H, J, **kw)
        self.encoder_params_ = enc if self.has_encoder else None
        if self.likelihood == "bernoulli":
            self.decoder_params_ = nets.init_bernoulli_mlp(J, H, D, **kw)
        else:
            self.decoder_params_ = nets.init_gaussian_mlp(J, H, D, **kw)
        self.optimizer_ = make_optimizer(self.optimizer, self.lr_, self.adagrad_warmup)
        self.n_samples_seen_ = 0
        return self

    def make_trainer(self, data, dtype, threads=1):
        """The trainer (:class:`aevb.core.train.Trainer` or a subclass) of this model's method,
        over its freshly initialized parameters; run folders use it too."""
        raise NotImplementedError

    def _trainer_settings(self, dtype, threads):
        """The keywords every trainer takes, from this model's settings."""
        return dict(rng=self._rng, batch_size=self.batch_size, weight_decay=self.weight_decay,
                    sigmoid_mean=self._sigmoid, sampling=self.sampling, dtype=dtype,
                    threads=2 if threads >= 2 else 1)

    def adopt_trainer(self, trainer):
        """Keep what ``trainer`` (from :meth:`make_trainer`) holds besides the parameters
        (MCEM's chains, FullVB's q(theta)); called before and after training."""

    def fit(self, X, callback=None, eval_points=None):
        """Train from a fresh initialization to ``budget`` training samples.

        Parameters
        ----------
        X : ndarray of shape (N, D) with values in [0, 1], or aevb.io.datasets.Dataset
        callback : callable(model, samples_seen) or None
            Called at ``eval_points`` (default: 1, 2, 5 x 10^k samples).

        Returns
        -------
        self
        """
        self._check_params()
        data = self._as_dataset(X)
        dtype = np.dtype(self.dtype or (data.images.dtype if data.images.dtype != np.uint8
                                        else np.float64))
        self.initialize(data.n_features, dtype)
        trainer = self.make_trainer(data, dtype)
        self.adopt_trainer(trainer)

        def on_eval(seen, step):
            self.n_samples_seen_ = seen
            if callback is not None:
                callback(self, seen)
        trainer.run(self.budget, callback=on_eval, eval_points=eval_points,
                    progress=watched() if self.progress is None else self.progress)
        self.n_samples_seen_ = trainer.seen
        self.adopt_trainer(trainer)
        return self

    # ------------------------------------------------------------ the decoder
    def decode(self, z):
        """Decoder means for latent points ``z`` of shape (n, J): sigmoid(logits) or the Gaussian mean."""
        self._check_fitted()
        dec = self.decoder_params_
        z = np.asarray(z, dtype=dec.dtype)
        if z.ndim != 2 or z.shape[1] != self.n_latent or not np.all(np.isfinite(z)):
            raise ValueError(f"z must be a finite array of shape (n, {self.n_latent}), got "
                             f"shape {z.shape}")
        if isinstance(dec, nets.BernoulliMLPParams):
            return sigmoid(nets.bernoulli_mlp_forward(dec, z)[0])
        return nets.gaussian_mlp_forward(dec, z, self._sigmoid)[0][0]

    def sample(self, n, rng=None):
        """``n`` draws z ~ p(z) = N(0, I) shown as decoder means, shape (n, D)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"the number of samples must be an integer >= 1, got {n!r}")
        rng = as_generator(rng)
        self._check_fitted()
        self._check_memory(what=f"draw {n} samples", batch_size=0, sample_rows=int(n),
                           names={"sample_rows": "number of samples"})
        return self.decode(rng.standard_normal((n, self.n_latent)))

    def _check_memory(self, what, **sizes):
        """:func:`.checks.check_memory` for this fitted model."""
        dec = self.decoder_params_
        D = dec.arrays()[-1].shape[-1]
        check_memory(D, self.n_hidden, self.n_latent, self.likelihood, dec.dtype, what=what,
                     **sizes)
