"""Section 2.4: the three routes to a reparameterization z = g(eps, phi), one class per family.

Section 2.4 lists three ways to write a draw z ~ q_phi(z) as a
differentiable function of parameter-free noise eps ~ p(eps):

1. **tractable inverse CDF**: eps ~ U(0, 1), z = F^{-1}(eps; phi)
   (:class:`Exponential`, :class:`Gumbel`, :class:`Logistic`);
2. **location-scale**: eps from the standard member of the family,
   z = loc + scale * eps (:class:`Gaussian`, :class:`Laplace`, :class:`StudentT`
   with fixed degrees of freedom);
3. **composition**: z is a transformation of an auxiliary draw
   (:class:`LogNormal`: z = exp(mu + sigma * eps), eps ~ N(0, 1)).

Gumbel and Logistic are location-scale families whose standard member is
drawn by its inverse CDF from uniform noise, so they take both routes.

Every family has the same small interface (arrays broadcast; densities sum
over the last axis, as in :mod:`aevb.core.distributions`)::

    eps = fam.draw_noise(shape, rng, dtype)                 # p(eps), explicit
    z, cache = fam.sample_forward(params, eps)             # z = g(eps, phi)
    dparams = fam.sample_backward(dz, cache)               # tuple, like params
    logq, cache = fam.log_density_forward(z, params)       # log q(z), shape z.shape[:-1]
    dz, dparams = fam.log_density_backward(dlogq, cache)
    logq, cache = fam.noise_log_density_forward(eps, params)   # log q(g(eps, phi)) from eps
    dparams = fam.noise_log_density_backward(dlogq, cache)     # its gradient at fixed eps

``params`` is a tuple of arrays named by ``param_names``; scales enter as
logarithms (``log_scale``, ``log_rate``) so that every real value is valid.
Gradients of broadcast parameters are summed back to their shapes (over the
L samples, say). The gradient of ``noise_log_density_forward`` at fixed eps
is the total derivative of log q(g(eps, phi); phi) in phi, the one that
estimator A (eq. 6) needs.

Uniform noise is kept inside (0, 1) in its dtype (:meth:`Family.draw_noise`),
so the inverse CDFs stay finite; this moves at most 2^-24 of probability
in float32.
"""
import math

import numpy as np

from ..core.distributions import LOG_2PI, sum_to_shape


class Family:
    """The interface above; subclasses define the sampler and the density."""
    name = ""
    noise = "normal"          # 'normal', 'uniform', 'laplace' or 'student-t'
    param_names = ()

    def draw_noise(self, shape, rng=None, dtype=np.float64):
        """eps ~ p(eps) of ``shape`` (uniform noise clipped into the open interval (0, 1))."""
        rng = np.random.default_rng(rng)
        dtype = np.dtype(dtype)
        if self.noise == "normal":
            return rng.standard_normal(shape, dtype=dtype)
        if self.noise == "laplace":
            return rng.laplace(0.0, 1.0, shape).astype(dtype)
        if self.noise == "student-t":
            return rng.standard_t(self.df, shape).astype(dtype)
        u = rng.random(shape) + 2.0 ** -54        # (0, 1) in float64
        tiny = np.finfo(dtype).tiny
        return np.clip(u, tiny, np.nextafter(dtype.type(1), dtype.type(0))).astype(dtype)

    def noise_log_density_forward(self, eps, params):
        """log q(z) at z = g(eps, params), a function of the parameters at fixed eps."""
        z, c_s = self.sample_forward(params, eps)
        logq, c_q = self.log_density_forward(z, params)
        return logq, (c_s, c_q)

    def noise_log_density_backward(self, dlogq, cache):
        """Total derivative of log q(g(eps, phi); phi) in phi at fixed eps: a tuple like params."""
        c_s, c_q = cache
        dz, dparams = self.log_density_backward(dlogq, c_q)
        return tuple(a + b for a, b in zip(dparams, self.sample_backward(dz, c_s)))

    def __repr__(self):
        return f"{type(self).__name__}()"


# ------------------------------------------------------------------ location-scale

class LocationScale(Family):
    """z = loc + exp(log_scale) * y, with y = standardize(eps) a draw of the standard member.

    Subclasses give ``_standard(eps)`` (y from the noise: the identity, or an
    inverse CDF of uniform noise), ``_log_f0(y)``, the standard
    log-density, and ``_score0(y) = d log f0 / dy``.
    """
    param_names = ("loc", "log_scale")

    def _standard(self, eps):
        return eps

    def sample_forward(self, params, eps):
        """Location-scale route: ``z = loc + exp(log_scale) * y(eps)``."""
        loc, log_scale = params
        scale = np.exp(log_scale)
        y = self._standard(eps)
        return loc + scale * y, (scale * y, np.shape(loc), np.shape(log_scale))

    def sample_backward(self, dz, cache):
        """``dloc = sum dz``, ``dlog_scale = sum dz * scale * y``."""
        sy, loc_shape, ls_shape = cache
        return sum_to_shape(dz, loc_shape), sum_to_shape(dz * sy, ls_shape)

    def log_density_forward(self, z, params):
        """``log q(z) = sum_j log f0((z_j - loc_j) / scale_j) - log_scale_j``."""
        loc, log_scale = params
        inv_scale = np.exp(-log_scale)
        y = (z - loc) * inv_scale
        logq = (self._log_f0(y) - log_scale).sum(axis=-1)
        return logq, (y, inv_scale, np.shape(z), np.shape(loc), np.shape(log_scale))

    def log_density_backward(self, dlogq, cache):
        """Returns ``(dz, (dloc, dlog_scale))``."""
        y, inv_scale, z_shape, loc_shape, ls_shape = cache
        d = dlogq[..., None]
        dy = d * self._score0(y)
        dz = dy * inv_scale                       # dy/dz = 1/scale
        dlog_scale = -dy * y - d                  # dy/dlog_scale = -y; d(-log_scale) = -1
        return sum_to_shape(dz, z_shape), (sum_to_shape(-dz, loc_shape),
                                            sum_to_shape(dlog_scale, ls_shape))

    def noise_log_density_forward(self, eps, params):
        """From the noise: ``sum_j log f0(y(eps_j)) - log_scale_j``.

        At fixed eps the standardized value y does not move with the
        parameters, so this is exact (no ``(z - loc) / scale`` round-off, as
        :func:`aevb.core.distributions.posterior_log_density_forward` for the Gaussian).
        """
        loc, log_scale = params
        shape = np.broadcast_shapes(np.shape(eps), np.shape(log_scale))
        logq = (self._log_f0(self._standard(eps)) - log_scale).sum(axis=-1)
        return logq, (shape, np.shape(loc), np.shape(log_scale))

    def noise_log_density_backward(self, dlogq, cache):
        """At fixed eps: ``dloc = 0`` and ``dlog_scale = -sum dlogq``."""
        shape, loc_shape, ls_shape = cache
        d = np.broadcast_to(-dlogq[..., None], shape)
        return np.zeros(loc_shape, dlogq.dtype), sum_to_shape(d, ls_shape)


class Gaussian(LocationScale):
    """N(loc, scale^2); noise N(0, 1). With log_scale = logvar / 2 this is eq. 10's sampler."""
    name, noise = "gaussian", "normal"

    def _log_f0(self, y):
        return -0.5 * (y * y + LOG_2PI)

    def _score0(self, y):
        return -y


class Laplace(LocationScale):
    """Laplace(loc, scale): density ``exp(-|z - loc| / scale) / (2 scale)``; noise Laplace(0, 1)."""
    name, noise = "laplace", "laplace"

    def _log_f0(self, y):
        return -np.abs(y) - math.log(2.0)

    def _score0(self, y):
        return -np.sign(y)


class StudentT(LocationScale):
    """Student's t with ``df`` degrees of freedom (fixed), location and scale; noise t(df)."""
    name, noise = "student-t", "student-t"

    def __init__(self, df=5.0):
        if not df > 0:
            raise ValueError(f"Student's t needs df > 0, got {df}")
        self.df = float(df)
        self._const = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2)
                       - 0.5 * math.log(df * math.pi))

    def _log_f0(self, y):
        nu = self.df
        return self._const - 0.5 * (nu + 1) * np.log1p(y * y / nu)

    def _score0(self, y):
        nu = self.df
        return -(nu + 1) * y / (nu + y * y)

    def __repr__(self):
        return f"StudentT(df={self.df:g})"


class Gumbel(LocationScale):
    """Gumbel (max) by inverse CDF: y = -log(-log u), u ~ U(0, 1).

    CDF ``F(z) = exp(-exp(-(z - loc) / scale))``.
    """
    name, noise = "gumbel", "uniform"

    def _standard(self, u):
        return -np.log(-np.log(u))

    def _log_f0(self, y):
        return -y - np.exp(-y)

    def _score0(self, y):
        return np.exp(-y) - 1.0


class Logistic(LocationScale):
    """Logistic by inverse CDF: y = log u - log(1 - u), u ~ U(0, 1).

    CDF ``F(z) = sigmoid((z - loc) / scale)``.
    """
    name, noise = "logistic", "uniform"

    def _standard(self, u):
        return np.log(u) - np.log1p(-u)

    def _log_f0(self, y):
        return -np.abs(y) - 2.0 * np.log1p(np.exp(-np.abs(y)))   # log s(y)(1 - s(y)), stable

    def _score0(self, y):
        return -np.tanh(0.5 * y)                                  # 1 - 2 sigmoid(y)


# ------------------------------------------------------------------ inverse CDF, composition

class Exponential(Family):
    """Exponential(rate) by inverse CDF: z = -log(1 - u) / rate, u ~ U(0, 1); support z > 0."""
    name, noise = "exponential", "uniform"
    param_names = ("log_rate",)

    def sample_forward(self, params, eps):
        (log_rate,) = params
        z = -np.log1p(-eps) * np.exp(-log_rate)                   # F^{-1}(u) = -log(1 - u) / rate
        return z, (z, np.shape(log_rate))

    def sample_backward(self, dz, cache):
        z, shape = cache
        return (sum_to_shape(-dz * z, shape),)                  # dz/dlog_rate = -z

    def log_density_forward(self, z, params):
        """``sum_j log_rate_j - rate_j z_j`` (z > 0 assumed)."""
        (log_rate,) = params
        rate = np.exp(log_rate)
        return (log_rate - rate * z).sum(axis=-1), (z, rate, np.shape(z), np.shape(log_rate))

    def log_density_backward(self, dlogq, cache):
        z, rate, z_shape, shape = cache
        d = dlogq[..., None]
        return (np.broadcast_to(-d * rate, z_shape).copy(),
                (sum_to_shape(d * (1.0 - rate * z), shape),))


class LogNormal(Family):
    """Log-Normal by composition: z = exp(mu + sigma * eps), eps ~ N(0, 1); support z > 0.

    Parameters ``(mu, log_sigma)`` are those of log z ~ N(mu, sigma^2).
    """
    name, noise = "lognormal", "normal"
    param_names = ("mu", "log_sigma")

    def sample_forward(self, params, eps):
        mu, log_sigma = params
        sigma = np.exp(log_sigma)
        z = np.exp(mu + sigma * eps)                             # composition: exp of a Gaussian
        return z, (z, sigma * eps, np.shape(mu), np.shape(log_sigma))

    def sample_backward(self, dz, cache):
        z, se, mu_shape, ls_shape = cache
        dw = dz * z                                               # d exp(w) / dw = z
        return sum_to_shape(dw, mu_shape), sum_to_shape(dw * se, ls_shape)

    def log_density_forward(self, z, params):
        """``sum_j -log z_j - log_sigma_j - log(2 pi)/2 - (log z_j - mu_j)^2 / (2 sigma_j^2)``."""
        mu, log_sigma = params
        logz = np.log(z)
        y = (logz - mu) * np.exp(-log_sigma)
        logq = (-logz - log_sigma - 0.5 * (LOG_2PI + y * y)).sum(axis=-1)
        return logq, (z, y, np.exp(-log_sigma), np.shape(z), np.shape(mu), np.shape(log_sigma))

    def log_density_backward(self, dlogq, cache):
        z, y, inv_sigma, z_shape, mu_shape, ls_shape = cache
        d = dlogq[..., None]
        dlogz = -d - d * y * inv_sigma                            # d/dlog z
        return sum_to_shape(dlogz / z, z_shape), (
            sum_to_shape(d * y * inv_sigma, mu_shape), sum_to_shape(d * (y * y - 1.0), ls_shape))


FAMILIES = {c.name: c for c in (Gaussian, Laplace, StudentT, Gumbel, Logistic,
                                Exponential, LogNormal)}


def make_family(name, **kwargs):
    """A family by name (``FAMILIES``); ``df`` for Student's t (default 5)."""
    if isinstance(name, Family):
        return name
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}: choose from {sorted(FAMILIES)}")
    return FAMILIES[name](**kwargs)
