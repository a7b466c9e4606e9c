"""The Appendix C networks: Gaussian MLP encoder, Bernoulli and Gaussian MLP decoders.

Appendix C.2 (Gaussian MLP, the encoder, and the Frey Face decoder)::

    h = tanh(z W_h + b_h),  mean = h W_mean + b_mean,  logvar = h W_logvar + b_logvar

Appendix C.1 (Bernoulli MLP, the MNIST decoder)::

    h = tanh(z W_h + b_h),  logits = h W_logits + b_logits,  y = sigmoid(logits)

Weights act on rows (``x @ W``), so each ``W`` here has shape (n_in, n_out): the
paper's W transposed. For Frey Face the paper constrains the decoder means to
(0, 1) "using a sigmoidal activation function at the decoder output"; pass
``sigmoid_mean=True`` for that.

Parameters live in small dataclasses whose fields are named after Appendix C;
gradients come back in the same container type.
"""
from dataclasses import dataclass, fields
from functools import cache

import numpy as np

from .layers import (linear_backward, linear_forward, sigmoid_backward,
                     sigmoid_forward, tanh_backward, tanh_forward)

INIT_STD = 0.01   # Section 5: parameters drawn from N(0, 0.01^2)


@cache
def _field_names(cls):                     # dataclasses.fields is slow for a per-step call
    return tuple(f.name for f in fields(cls))


class Params:
    """Behaviour shared by the parameter containers (fields are ndarrays)."""

    @classmethod
    def names(cls):
        """Field names in declaration order."""
        return list(_field_names(cls))

    def arrays(self):
        """The arrays, in field order (views, not copies)."""
        return [getattr(self, n) for n in self.names()]

    def items(self):
        return [(n, getattr(self, n)) for n in self.names()]

    def map(self, fn):
        """A new container with ``fn(array)`` for every field."""
        return type(self)(*[fn(a) for a in self.arrays()])

    def copy(self):
        return self.map(np.array)

    def zeros_like(self):
        return self.map(np.zeros_like)

    def astype(self, dtype):
        return self.map(lambda a: a.astype(dtype))

    @property
    def dtype(self):
        return self.arrays()[0].dtype

    @property
    def n_params(self):
        return sum(a.size for a in self.arrays())

    def weight_names(self):
        """Names of the weight matrices (the MAP prior applies to these only)."""
        return [n for n in self.names() if n.startswith("W_")]

    def shapes(self):
        return {n: a.shape for n, a in self.items()}


@dataclass
class GaussianMLPParams(Params):
    """Gaussian MLP (Appendix C.2): the encoder, and the Gaussian decoder.

    Shapes: ``W_h`` (n_in, H), ``b_h`` (H,), ``W_mean`` and ``W_logvar``
    (H, n_out), ``b_mean`` and ``b_logvar`` (n_out,).
    """
    W_h: np.ndarray
    b_h: np.ndarray
    W_mean: np.ndarray
    b_mean: np.ndarray
    W_logvar: np.ndarray
    b_logvar: np.ndarray

    @property
    def sizes(self):
        """(n_in, H, n_out)."""
        return self.W_h.shape[0], self.W_h.shape[1], self.W_mean.shape[1]


@dataclass
class BernoulliMLPParams(Params):
    """Bernoulli MLP decoder (Appendix C.1).

    Shapes: ``W_h`` (J, H), ``b_h`` (H,), ``W_logits`` (H, D), ``b_logits`` (D,).
    """
    W_h: np.ndarray
    b_h: np.ndarray
    W_logits: np.ndarray
    b_logits: np.ndarray

    @property
    def sizes(self):
        """(n_in, H, n_out)."""
        return self.W_h.shape[0], self.W_h.shape[1], self.W_logits.shape[1]


def _draw(rng, shape, std, dtype):
    return (std * rng.standard_normal(shape)).astype(dtype)


def init_gaussian_mlp(n_in, n_hidden, n_out, rng=None, std=INIT_STD, dtype=np.float64):
    """All parameters, biases included, from N(0, std^2) (Section 5: std = 0.01)."""
    rng = np.random.default_rng(rng)
    return GaussianMLPParams(
        _draw(rng, (n_in, n_hidden), std, dtype), _draw(rng, (n_hidden,), std, dtype),
        _draw(rng, (n_hidden, n_out), std, dtype), _draw(rng, (n_out,), std, dtype),
        _draw(rng, (n_hidden, n_out), std, dtype), _draw(rng, (n_out,), std, dtype))


def init_bernoulli_mlp(n_in, n_hidden, n_out, rng=None, std=INIT_STD, dtype=np.float64):
    """All parameters, biases included, from N(0, std^2) (Section 5: std = 0.01)."""
    rng = np.random.default_rng(rng)
    return BernoulliMLPParams(
        _draw(rng, (n_in, n_hidden), std, dtype), _draw(rng, (n_hidden,), std, dtype),
        _draw(rng, (n_hidden, n_out), std, dtype), _draw(rng, (n_out,), std, dtype))


def gaussian_mlp_forward(params, x, sigmoid_mean=False):
    """Gaussian MLP (Appendix C.2).

    Parameters
    ----------
    params : GaussianMLPParams
    x : ndarray, shape (..., n_in)
        Data (M, D) for the encoder; latent samples (L, M, J) for the decoder.
    sigmoid_mean : bool
        Squash the means into (0, 1), as the paper's Frey Face decoder does.

    Returns
    -------
    (mean, logvar) : ndarrays, shape (..., n_out)
    cache : tuple
    """
    a, c_h = linear_forward(x, params.W_h, params.b_h)          # (..., H)
    h, c_tanh = tanh_forward(a)
    mean, c_mean = linear_forward(h, params.W_mean, params.b_mean)  # (..., n_out)
    c_sig = None
    if sigmoid_mean:
        mean, c_sig = sigmoid_forward(mean)
    logvar, c_logvar = linear_forward(h, params.W_logvar, params.b_logvar)
    return (mean, logvar), (c_h, c_tanh, c_mean, c_sig, c_logvar)


def gaussian_mlp_backward(dmean, dlogvar, cache, need_dx=True):
    """Backward of :func:`gaussian_mlp_forward`.

    Returns
    -------
    dx : ndarray, shape (..., n_in), or None if not ``need_dx``
    grads : GaussianMLPParams
    """
    c_h, c_tanh, c_mean, c_sig, c_logvar = cache
    if c_sig is not None:
        dmean = sigmoid_backward(dmean, c_sig)
    dh, dW_mean, db_mean = linear_backward(dmean, c_mean)
    dh_lv, dW_logvar, db_logvar = linear_backward(dlogvar, c_logvar)
    dh += dh_lv
    da = tanh_backward(dh, c_tanh)
    dx, dW_h, db_h = linear_backward(da, c_h, need_dx)
    return dx, GaussianMLPParams(dW_h, db_h, dW_mean, db_mean, dW_logvar, db_logvar)


def bernoulli_mlp_forward(params, z):
    """Bernoulli MLP (Appendix C.1): the logits of p(x|z).

    Parameters
    ----------
    params : BernoulliMLPParams
    z : ndarray, shape (..., J)

    Returns
    -------
    logits : ndarray, shape (..., D); ``y = sigmoid(logits)``
    cache : tuple
    """
    a, c_h = linear_forward(z, params.W_h, params.b_h)          # (..., H)
    h, c_tanh = tanh_forward(a)
    logits, c_out = linear_forward(h, params.W_logits, params.b_logits)  # (..., D)
    return logits, (c_h, c_tanh, c_out)


def bernoulli_mlp_backward(dlogits, cache):
    """Backward of :func:`bernoulli_mlp_forward`; returns ``(dz, grads)``."""
    c_h, c_tanh, c_out = cache
    dh, dW_logits, db_logits = linear_backward(dlogits, c_out)
    da = tanh_backward(dh, c_tanh)
    dz, dW_h, db_h = linear_backward(da, c_h)
    return dz, BernoulliMLPParams(dW_h, db_h, dW_logits, db_logits)
