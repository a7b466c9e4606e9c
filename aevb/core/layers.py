"""Stateless layers with hand-written backprop (the building blocks of Appendix C).

Contract (used by every module of aevb):

* ``*_forward(inputs...) -> (out, cache)``;
* ``*_backward(dout, cache) -> gradients`` that mirror the forward's inputs.

Batches are rows: ``x`` has shape (..., n_in) and a linear layer computes
``x @ W + b`` with ``W`` of shape (n_in, n_out). The paper writes ``W x + b`` on
column vectors, so our ``W`` is the paper's W transposed. Leading axes are
batch axes: the decoder takes ``z`` of shape (L, M, J) and the same code
handles it.
"""
import numpy as np


def linear_forward(x, W, b):
    """Affine map ``x @ W + b``.

    Parameters
    ----------
    x : ndarray, shape (..., n_in)
    W : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)

    Returns
    -------
    out : ndarray, shape (..., n_out)
    cache : tuple
    """
    out = x @ W
    out += b
    return out, (x, W)


def linear_backward(dout, cache, need_dx=True):
    """Backward of :func:`linear_forward`.

    ``need_dx=False`` skips ``dx`` (returned as None): the encoder's input is
    data, and that product is a sixth of a training step's arithmetic.

    Returns
    -------
    dx : ndarray, shape (..., n_in), or None
    dW : ndarray, shape (n_in, n_out)
    db : ndarray, shape (n_out,)
    """
    ### BEGIN SOLUTION linear
    x, W = cache
    n_in, n_out = W.shape
    dout2 = dout.reshape(-1, n_out)            # (batch, n_out)
    dW = x.reshape(-1, n_in).T @ dout2         # (n_in, n_out)
    db = dout2.sum(axis=0)
    dx = dout @ W.T if need_dx else None       # (..., n_in)
    return dx, dW, db
    ### END SOLUTION


def tanh_forward(x):
    """Element-wise tanh, the hidden activation of Appendix C."""
    h = np.tanh(x)
    return h, h


def tanh_backward(dout, cache):
    """Backward of :func:`tanh_forward`: ``dout * (1 - tanh(x)**2)``."""
    ### BEGIN SOLUTION tanh
    h = cache
    return dout * (1.0 - h * h)
    ### END SOLUTION


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, evaluated without overflow."""
    return sigmoid_from_exp(x, np.exp(-np.abs(x)))


def sigmoid_from_exp(x, e):
    """``sigmoid(x)`` given ``e = exp(-|x|)`` (in [0, 1], so nothing overflows).

    ``s = e / (1 + e)`` is ``sigmoid(-|x|)``: the answer where x < 0, with full
    relative precision in that tail, and ``1 - s`` where x >= 0. Both cases
    are computed as ``s + [x >= 0] * (1 - 2 s)`` rather than selected per
    element (``np.where``), which is several times slower when the signs of
    ``x`` are mixed. Where x < 0 the second term is exactly 0.
    """
    s = e / (1.0 + e)                         # sigmoid(-|x|)
    y = np.multiply(s, -2.0)
    y += 1.0                                  # 1 - 2 s: sigmoid(|x|) - sigmoid(-|x|)
    y *= x >= 0
    y += s
    return y


def sigmoid_forward(x):
    """Element-wise logistic sigmoid (the Frey Face decoder's mean activation)."""
    y = sigmoid(x)
    return y, y


def sigmoid_backward(dout, cache):
    """Backward of :func:`sigmoid_forward`: ``dout * y * (1 - y)``."""
    y = cache
    return dout * y * (1.0 - y)
