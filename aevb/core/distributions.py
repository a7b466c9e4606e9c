"""Log-densities, the Appendix B KL term and the Section 2.4 reparameterization.

Every function here is a forward/backward pair in the sense of
:mod:`aevb.core.layers`. Densities are summed over their last axis (pixels or latent
units), so a forward of shape (..., D) returns one number per datapoint,
shape (...). Names follow the paper: ``mean``, ``logvar`` (log sigma squared),
``logits``, ``eps``, ``z``.

Numerics: the Bernoulli log-likelihood is computed from logits,
``x * l - log(1 + exp(l))``, never as the log of a sigmoid; the Gaussian uses
``exp(-logvar)``, never a division by an exponential.
"""
import numpy as np

from .layers import sigmoid_from_exp

LOG_2PI = float(np.log(2.0 * np.pi))


def bernoulli_log_likelihood_forward(x, logits):
    """log p(x|z) for the Bernoulli MLP decoder (Appendix C.1).

    ``sum_i x_i log y_i + (1 - x_i) log(1 - y_i)`` with ``y = sigmoid(logits)``,
    written as ``sum_i x_i * l_i - log(1 + exp(l_i))`` with the softplus
    evaluated stably as ``max(l, 0) + log1p(exp(-|l|))``. ``x`` may be binary or
    grey levels in [0, 1] (then it is the cross-entropy of Bernoulli means).

    Parameters
    ----------
    x : ndarray, shape (M, D)
        Data; broadcast against the leading sample axis of ``logits``.
    logits : ndarray, shape (..., M, D)

    Returns
    -------
    out : ndarray, shape (..., M)
    cache : tuple
    """
    ### BEGIN SOLUTION bernoulli
    relu = np.abs(logits)
    e = np.exp(-relu)                             # exp(-|l|) in (0, 1], never overflows
    relu += logits
    relu *= 0.5                                   # max(l, 0) = (l + |l|) / 2, exact in floating point
    softplus = np.log1p(e)
    softplus += relu                              # log(1 + exp(l)) = max(l, 0) + log(1 + exp(-|l|))
    out = np.einsum("...d,...d->...", x, logits) - softplus.sum(axis=-1)  # sum_i x_i l_i - softplus(l_i)
    return out, (x, logits, e)
    ### END SOLUTION


def bernoulli_log_likelihood_backward(dout, cache):
    """Backward of :func:`bernoulli_log_likelihood_forward`.

    ``x`` is data and gets no gradient; returns ``dlogits`` of shape
    (..., M, D): ``dout * (x - sigmoid(logits))``.
    """
    ### BEGIN SOLUTION bernoulli
    x, logits, e = cache
    dlogits = sigmoid_from_exp(logits, e)             # sigmoid(logits), reusing exp(-|l|)
    np.subtract(x, dlogits, out=dlogits)              # x - sigmoid(logits)
    dlogits *= dout[..., None]
    return dlogits
    ### END SOLUTION


def gaussian_log_likelihood_forward(x, mean, logvar):
    """Diagonal Gaussian log-density ``log N(x; mean, exp(logvar) I)``.

    Used for the Gaussian MLP decoder (Appendix C.2) and for log q(z|x) in
    estimator A.

    Parameters
    ----------
    x, mean, logvar : ndarray, broadcastable, last axis of size D or J

    Returns
    -------
    out : ndarray, the broadcast shape without its last axis
    cache : tuple
    """
    ### BEGIN SOLUTION gaussian
    diff = x - mean
    inv_var = np.exp(-logvar)
    out = -0.5 * (LOG_2PI + logvar + diff * diff * inv_var).sum(axis=-1)
    return out, (diff, inv_var, np.shape(x), np.shape(mean), np.shape(logvar))
    ### END SOLUTION


def sum_to_shape(g, shape):
    """Sum a broadcast gradient back to the shape of the input it came from."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def gaussian_log_likelihood_backward(dout, cache):
    """Backward of :func:`gaussian_log_likelihood_forward`.

    Returns
    -------
    dx, dmean, dlogvar : ndarray
        Shaped like the inputs (broadcast axes are summed):
        ``dmean = dout (x - mean) exp(-logvar) = -dx`` and
        ``dlogvar = dout (((x - mean)^2 exp(-logvar)) - 1) / 2``.
    """
    ### BEGIN SOLUTION gaussian
    diff, inv_var, x_shape, mean_shape, logvar_shape = cache
    d = dout[..., None]
    dmean = d * diff * inv_var
    dlogvar = 0.5 * d * (diff * diff * inv_var - 1.0)
    return (sum_to_shape(-dmean, x_shape), sum_to_shape(dmean, mean_shape),
            sum_to_shape(dlogvar, logvar_shape))
    ### END SOLUTION


def standard_normal_log_density_forward(z):
    """The prior ``log p(z) = log N(z; 0, I)``, summed over the last axis."""
    return -0.5 * (z * z + LOG_2PI).sum(axis=-1), z


def standard_normal_log_density_backward(dout, cache):
    """Backward of :func:`standard_normal_log_density_forward`: ``dz = -dout z``."""
    z = cache
    return -dout[..., None] * z


def posterior_log_density_forward(eps, logvar):
    """log q(z|x) at z = mean + sigma * eps, computed from the noise (estimator A, eq. 6).

    With (z - mean) / sigma = eps, ``log N(z; mean, sigma^2) =
    -1/2 sum_j (eps_j^2 + logvar_j + log 2 pi)``. This is exact where the noise
    is known, and it never forms ``(z - mean)^2 exp(-logvar)``, which in
    float32 loses 0.18 nats at logvar = -30 and overflows at -90.

    Parameters
    ----------
    eps : ndarray, shape (L, M, J)
    logvar : ndarray, shape (M, J)

    Returns
    -------
    logq : ndarray, shape (L, M)
    cache : shape of eps
    """
    logq = -0.5 * ((eps * eps).sum(axis=-1) + logvar.sum(axis=-1) + logvar.shape[-1] * LOG_2PI)
    return logq, eps.shape


def posterior_log_density_backward(dlogq, cache):
    """Gradient in ``logvar`` at fixed eps: ``-1/2 sum_l dlogq_l`` for every unit, shape (M, J).

    (At fixed eps the density does not depend on the mean: the mean moves z
    with it.)
    """
    J = cache[-1]
    return np.repeat(-0.5 * dlogq.sum(axis=0)[:, None], J, axis=1)


def kl_standard_normal_forward(mean, logvar):
    """KL(N(mean, exp(logvar)) || N(0, I)) in closed form (Appendix B).

    Appendix B gives the negative: ``-KL = 1/2 sum_j (1 + log s_j^2 - m_j^2 - s_j^2)``.

    Parameters
    ----------
    mean, logvar : ndarray, shape (M, J)

    Returns
    -------
    kl : ndarray, shape (M,)
    cache : tuple
    """
    ### BEGIN SOLUTION kl
    var = np.exp(logvar)
    kl = -0.5 * (1.0 + logvar - mean * mean - var).sum(axis=-1)
    return kl, (mean, var)
    ### END SOLUTION


def kl_standard_normal_backward(dout, cache):
    """Backward of :func:`kl_standard_normal_forward`.

    Returns ``dmean = dout * mean`` and ``dlogvar = dout * (exp(logvar) - 1) / 2``.
    """
    ### BEGIN SOLUTION kl
    mean, var = cache
    d = dout[..., None]
    return d * mean, 0.5 * d * (var - 1.0)
    ### END SOLUTION


def reparameterize_forward(mean, logvar, eps):
    """Section 2.4 / eq. 10: ``z = mean + exp(logvar / 2) * eps``.

    Parameters
    ----------
    mean, logvar : ndarray, shape (M, J)
    eps : ndarray, shape (L, M, J)
        Standard-normal noise, an explicit argument so that everything
        downstream is a deterministic function of the parameters.

    Returns
    -------
    z : ndarray, shape (L, M, J)
    cache : tuple
    """
    ### BEGIN SOLUTION reparameterize
    std = np.exp(0.5 * logvar)          # sigma, not sigma^2
    return mean + std * eps, (std, eps)
    ### END SOLUTION


def reparameterize_backward(dz, cache):
    """Backward of :func:`reparameterize_forward`; sums over the L samples.

    Returns
    -------
    dmean : ndarray, shape (M, J)
    dlogvar : ndarray, shape (M, J): ``sum_l dz_l * eps_l * sigma / 2``.
    """
    ### BEGIN SOLUTION reparameterize
    std, eps = cache
    dmean = dz.sum(axis=0)
    dlogvar = 0.5 * std * (dz * eps).sum(axis=0)
    return dmean, dlogvar
    ### END SOLUTION
