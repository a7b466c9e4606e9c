"""How noisy is each gradient estimator of the bound? (Sections 2.2-2.4, measured)

Section 2.2 calls the score-function gradient "naive" and of "very high
variance"; Section 2.3 says estimator B (eq. 7) "typically" has less variance
than A (eq. 6). The paper shows no measurement. This module measures, for the
encoder's parameters phi, the variance over independent noise draws of

* ``'score'``: the score-function gradient with the Gaussian q
  (:func:`aevb.core.sgvb.score_function_gradient`);
* ``'A'``, ``'B'``: the reparameterized gradients of :func:`aevb.core.sgvb.sgvb`;
* ``'A:NAME'``: estimator A with the posterior family NAME
  (:func:`aevb.inference.posterior.sgvb_family`);
* ``'score:NAME'``: the score-function gradient with that family
  (:func:`score_function_family`).

``score``, ``A`` and ``B`` estimate the same gradient (of the Gaussian bound);
``A:NAME`` and ``score:NAME`` estimate the gradient of the bound with q of
family NAME, a different number, at the same encoder weights. The variance is
reported per parameter group (``W_h``, ``b_h``, ``W_mean``, ...), as the
mean over the group's coordinates of each coordinate's variance, next to the
mean of the squared mean gradient, so a variance can be read against the
size of what is estimated.
"""
import numpy as np

from ..core.distributions import standard_normal_log_density_forward
from .families import make_family
from ..core.networks import gaussian_mlp_backward, gaussian_mlp_forward
from .posterior import posterior_family, sgvb_family
from ..core.sgvb import decoder_log_likelihood_forward, score_function_gradient, sgvb


def score_function_family(enc, dec, x, noise, family, sigmoid_mean=False):
    """Section 2.2's score-function gradient for the encoder with posterior ``family``.

    ``(1/L) sum_l f(z_l) grad_phi log q(z_l|x)`` with z_l = g(noise_l) held
    fixed and ``f = log p(x, z) - log q(z|x)``; returns the gradient of the
    loss ``-sum_i L(x_i)`` (sign of :func:`aevb.core.sgvb.sgvb`) as GaussianMLPParams.
    """
    family = posterior_family(family)
    (mean, logvar), c_enc = gaussian_mlp_forward(enc, x)
    params = (mean, 0.5 * logvar)
    z, _ = family.sample_forward(params, noise)         # (L, M, J), not differentiated
    logpx, _ = decoder_log_likelihood_forward(dec, x, z, sigmoid_mean)
    logpz, _ = standard_normal_log_density_forward(z)
    logqz, c_q = family.log_density_forward(z, params)
    f = logpx + logpz - logqz                                         # (L, M)
    _, (dloc, dlog_scale) = family.log_density_backward(-f / noise.shape[0], c_q)  # at fixed z
    _, denc = gaussian_mlp_backward(dloc, 0.5 * dlog_scale, c_enc, need_dx=False)
    return denc


def encoder_gradient(enc, dec, x, noise, estimator, sigmoid_mean=False):
    """The encoder's loss gradient (GaussianMLPParams) by ``estimator`` (module docstring)."""
    kind, _, name = estimator.partition(":")
    if kind == "score" and not name:
        return score_function_gradient(enc, dec, x, noise, sigmoid_mean)
    if kind in ("A", "B") and not name:
        return sgvb(enc, dec, x, noise, kind, sigmoid_mean=sigmoid_mean).denc
    if kind == "A":
        return sgvb_family(enc, dec, x, noise, name, sigmoid_mean=sigmoid_mean).denc
    if kind == "score":
        return score_function_family(enc, dec, x, noise, name, sigmoid_mean)
    raise ValueError(f"unknown estimator {estimator!r}: use 'score', 'A', 'B', 'A:NAME' or "
                     f"'score:NAME' with NAME a posterior family")


def noise_family(estimator):
    """The family whose noise the estimator takes (the Gaussian's for 'score', 'A', 'B')."""
    name = estimator.partition(":")[2]
    return make_family(name or "gaussian")


def gradient_variance(enc, dec, x, estimators, n_draws=100, n_mc_samples=1, rng=None,
                      sigmoid_mean=False):
    """Per-group variance of each estimator's encoder gradient over ``n_draws`` noise draws.

    Parameters
    ----------
    enc, dec : parameter containers (not changed)
    x : ndarray, shape (M, D)
    estimators : list of str (module docstring)
    n_draws : int
        R >= 2 independent noise draws per estimator.
    n_mc_samples : int
        L, noise samples per datapoint inside each draw.
    rng : seed or numpy.random.Generator
        Each estimator's draws come from it in turn, (L, M, J) at a time.

    Returns
    -------
    rows : list of dict
        One per (estimator, group): ``estimator``, ``group``, ``variance``
        (mean over the group's coordinates of the unbiased variance across
        draws) and ``mean_sq`` (mean of the squared mean gradient).
    """
    if n_draws < 2:
        raise ValueError(f"n_draws must be >= 2 to estimate a variance, got {n_draws}")
    rng = np.random.default_rng(rng)
    shape = (n_mc_samples, x.shape[0], enc.W_mean.shape[1])
    rows = []
    for est in estimators:
        fam = noise_family(est)
        first = s1 = s2 = None
        for _ in range(n_draws):
            g = encoder_gradient(enc, dec, x, fam.draw_noise(shape, rng, enc.dtype), est,
                                 sigmoid_mean)
            g = [a.astype(np.float64) for a in g.arrays()]
            if first is None:                      # shift by the first draw: no cancellation
                first = g
                s1 = [np.zeros_like(a) for a in g]
                s2 = [np.zeros_like(a) for a in g]
            for a, f, t1, t2 in zip(g, first, s1, s2):
                d = a - f
                t1 += d
                t2 += d * d
        for name, f, t1, t2 in zip(enc.names(), first, s1, s2):
            var = (t2 - t1 * t1 / n_draws) / (n_draws - 1)
            mean = f + t1 / n_draws
            rows.append({"estimator": est, "group": name, "variance": float(var.mean()),
                         "mean_sq": float((mean * mean).mean())})
    return rows


def bound_variance(enc, dec, x, estimators, n_draws=1000, rng=None, sigmoid_mean=False):
    """Variance of the single-sample (L = 1) bound estimate per datapoint, averaged over x.

    For ``'A'``, ``'B'`` and ``'A:NAME'`` (the value, not the gradient).
    Returns ``{estimator: (mean variance in nats^2, mean bound in nats)}``.
    """
    from .posterior import lower_bound_family
    from ..core.sgvb import lower_bound
    rng = np.random.default_rng(rng)
    out = {}
    for est in estimators:
        kind, _, name = est.partition(":")
        fam = noise_family(est)
        vals = []
        for _ in range(n_draws):
            noise = fam.draw_noise((1, x.shape[0], enc.W_mean.shape[1]), rng, enc.dtype)
            vals.append(lower_bound_family(enc, dec, x, noise, name, sigmoid_mean) if name
                        else lower_bound(enc, dec, x, noise, kind, sigmoid_mean))
        vals = np.array(vals, dtype=np.float64)                       # (draws, M)
        out[est] = (float(vals.var(axis=0, ddof=1).mean()), float(vals.mean()))
    return out


def ratios(rows, numerator, denominator, key="variance"):
    """``{group: rows[numerator][key] / rows[denominator][key]}``."""
    v = {(r["estimator"], r["group"]): r[key] for r in rows}
    groups = dict.fromkeys(r["group"] for r in rows)
    return {g: v[numerator, g] / v[denominator, g] for g in groups}


def plot_variance(rows, ax, title=""):
    """Bars of each estimator's variance per parameter group, on a log axis."""
    ests = list(dict.fromkeys(r["estimator"] for r in rows))
    groups = list(dict.fromkeys(r["group"] for r in rows))
    v = {(r["estimator"], r["group"]): r["variance"] for r in rows}
    width = 0.8 / len(ests)
    for k, e in enumerate(ests):
        ax.bar(np.arange(len(groups)) + k * width, [v[e, g] for g in groups], width, label=e)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups)
    ax.set_yscale("log")
    ax.set_xlabel("encoder parameter group")
    ax.set_ylabel("gradient variance (mean over the group)")
    ax.set_title(title)
    return ax


def format_table(rows, reference="B", key="variance"):
    """A plain-text table: one line per group, one column per estimator, and each / reference.

    ``key='variance'`` or ``'relative'`` (variance / mean_sq: the noise against the
    size of the gradient it estimates).
    """
    ests = list(dict.fromkeys(r["estimator"] for r in rows))
    groups = list(dict.fromkeys(r["group"] for r in rows))
    v = {(r["estimator"], r["group"]): r["variance"] / (r["mean_sq"] if key == "relative" else 1)
         for r in rows}
    head = f"{'group':10s}" + "".join(f"{e:>14s}" for e in ests)
    lines = [head, "-" * len(head)]
    for g in groups:
        lines.append(f"{g:10s}" + "".join(f"{v[e, g]:14.3e}" for e in ests))
    if reference in ests:
        lines.append(f"variance / variance of {reference}:")
        for g in groups:
            lines.append(f"{g:10s}" + "".join(f"{v[e, g] / v[reference, g]:14.3g}" for e in ests))
    return "\n".join(lines)
