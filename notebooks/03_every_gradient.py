# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Every gradient, derived and checked (Section 3, Appendices B and C)
#
# The paper states the VAE's objective (eq. 10) and leaves its gradients to "standard backpropagation". aevb writes every backward pass by hand. This notebook takes the pieces in the order the data flows through them: the linear layer and tanh of the MLPs (Appendix C), the two decoders' log-likelihoods (C.1, C.2), the KL term (Appendix B), the prior, the reparameterization (Section 2.4), then the whole objective. For each: the equation, the derivative worked out, the code, and a check against fourth-order central differences in float64 (`aevb.core.gradcheck`) with a random upstream gradient and non-degenerate inputs. The worst relative error is asserted below $10^{-7}$ for a piece and $10^{-6}$ for a whole objective; the figure at the end shows them all.
#
# Everything here is small and untrained: both modes take seconds, and `AEVB_QUICK` changes nothing.

# %%
import inspect
import os

import matplotlib.pyplot as plt
import numpy as np

import aevb
from aevb.core import distributions as dist
from aevb.core import layers
from aevb.core import networks as nets
from aevb.core import sgvb
from aevb.core.gradcheck import check_directional, check_gradient

QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
print("quick mode" if QUICK else "full mode", "(the same computation in both)")
rng = np.random.default_rng(0)
errors = {}    # name -> worst relative error, for the figure

# %% [markdown]
# **The check used throughout.** For a forward $y = F(a, b, \dots)$ and a random upstream gradient $\bar y$ (what a later layer would send back), the backward pass must return the gradient of the scalar $s = \sum y \odot \bar y$ with respect to each input. `check_gradient` compares it, coordinate by coordinate, with $(-s(a + 2h) + 8 s(a + h) - 8 s(a - h) + s(a - 2h)) / 12h$ and names the worst coordinate if they differ. This helper only wires the two together:

# %%
def check(forward, backward, inputs, names, wrt=None, tol=1e-7):
    """Check backward(dout, cache) against central differences of sum(forward(*inputs) * dout)."""
    out, cache = forward(*inputs)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    s = lambda: float(np.sum(forward(*inputs)[0] * dout))
    return {n: check_gradient(s, inputs[i], g, n, tol) for n, i, g in zip(names, wrt or range(len(names)), grads)}


# %% [markdown]
# ## The linear layer (Appendix C)
#
# The paper writes $W x + b$ on column vectors; aevb keeps a minibatch as rows, $Y = X W + b$ with $X$ of shape $(M, n_{in})$ and $W$ of shape $(n_{in}, n_{out})$, the paper's $W$ transposed. Element by element $Y_{mk} = \sum_j X_{mj} W_{jk} + b_k$, so with upstream gradient $\bar Y$:
#
# * $\partial s / \partial X_{mj} = \sum_k \bar Y_{mk} W_{jk}$, that is $\bar X = \bar Y W^T$;
# * $\partial s / \partial W_{jk} = \sum_m X_{mj} \bar Y_{mk}$, that is $\bar W = X^T \bar Y$ (a sum over the minibatch);
# * $\partial s / \partial b_k = \sum_m \bar Y_{mk}$.

# %%
print(inspect.getsource(layers.linear_backward))

# %%
errors.update(check(layers.linear_forward, layers.linear_backward,
                    [rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)], ["linear dx", "linear dW", "linear db"]))

# %% [markdown]
# ## tanh and sigmoid
#
# Appendix C's hidden units are tanh: $h = \tanh(a)$, $dh/da = 1 - \tanh^2(a) = 1 - h^2$, so $\bar a = \bar h\,(1 - h^2)$, computed from the output the forward pass kept. The Frey Face decoder squashes its means with a sigmoid $y = 1/(1 + e^{-a})$: $dy/da = e^{-a}/(1 + e^{-a})^2 = y(1 - y)$, so $\bar a = \bar y\, y (1 - y)$.

# %%
print(inspect.getsource(layers.tanh_backward))
print(inspect.getsource(layers.sigmoid_backward))

# %%
errors.update(check(layers.tanh_forward, layers.tanh_backward, [rng.normal(size=(5, 3))], ["tanh"]))
errors.update(check(layers.sigmoid_forward, layers.sigmoid_backward, [rng.normal(size=(5, 3))], ["sigmoid"]))

# %% [markdown]
# ## The Bernoulli log-likelihood (Appendix C.1)
#
# The MNIST decoder outputs $y = \mathrm{sigmoid}(l)$ and $\log p(x|z) = \sum_i x_i \log y_i + (1 - x_i) \log(1 - y_i)$. In terms of the logits $l$, using $\log y = l - \log(1 + e^l)$ and $\log(1 - y) = -\log(1 + e^l)$:
#
# $$\log p(x|z) = \sum_i x_i l_i - \log(1 + e^{l_i}),$$
#
# which never takes the log of a sigmoid that has rounded to 0 or 1. Differentiating, $\partial / \partial l_i = x_i - e^{l_i}/(1 + e^{l_i}) = x_i - y_i$, so $\bar l = \bar{o}\,(x - y)$ with $\bar o$ the upstream gradient of each datapoint's log-likelihood.

# %%
print(inspect.getsource(dist.bernoulli_log_likelihood_forward))
print(inspect.getsource(dist.bernoulli_log_likelihood_backward))

# %%
x_bin = (rng.random((4, 6)) < 0.5).astype(float)
errors.update(check(dist.bernoulli_log_likelihood_forward, dist.bernoulli_log_likelihood_backward,
                    [x_bin, rng.normal(size=(2, 4, 6))], ["Bernoulli dlogits"], wrt=[1]))

# %% [markdown]
# A forward check the gradient check cannot make: for moderate logits the stable form equals the textbook $x \log y + (1 - x)\log(1 - y)$, and for a logit of $\pm 800$, where the sigmoid rounds to exactly 0 or 1 in float64, it stays finite (the textbook form gives $-\infty$ or NaN there).

# %%
logits = rng.normal(size=(1, 4, 6))
y = 1 / (1 + np.exp(-logits))
textbook = np.sum(x_bin * np.log(y) + (1 - x_bin) * np.log(1 - y), axis=-1)
stable, _ = dist.bernoulli_log_likelihood_forward(x_bin, logits)
print("largest difference from the textbook form:", np.abs(stable - textbook).max())
assert np.allclose(stable, textbook, rtol=1e-12, atol=1e-12)
extreme, _ = dist.bernoulli_log_likelihood_forward(np.array([[1.0, 0.0]]), np.array([[-800.0, 800.0]]))
print("x = (1, 0) at logits (-800, +800):", extreme, "(exactly -1600: each pixel costs |l| nats)")
assert extreme[0] == -1600.0

# %% [markdown]
# ## The Gaussian log-likelihood with log-variance (Appendix C.2)
#
# Used for the Frey Face decoder, and for $\log q(z|x)$ in estimator A. With $v = \log \sigma^2$:
#
# $$\log \mathcal N(x; \mu, e^{v}) = -\tfrac12 \sum_i \big(\log 2\pi + v_i + (x_i - \mu_i)^2 e^{-v_i}\big).$$
#
# Term by term: $\partial / \partial \mu_i = (x_i - \mu_i) e^{-v_i}$; $\partial / \partial x_i$ is its negative; and $\partial / \partial v_i = -\tfrac12\big(1 - (x_i - \mu_i)^2 e^{-v_i}\big) = \tfrac12\big((x_i - \mu_i)^2 e^{-v_i} - 1\big)$. Inputs broadcast (one mean for several samples of $x$), so the backward pass sums each gradient back to its input's shape.

# %%
print(inspect.getsource(dist.gaussian_log_likelihood_backward))

# %%
errors.update(check(dist.gaussian_log_likelihood_forward, dist.gaussian_log_likelihood_backward,
                    [rng.normal(size=(2, 4, 3)), rng.normal(size=(4, 3)), rng.normal(scale=0.5, size=(4, 3))],
                    ["Gaussian dx", "Gaussian dmean", "Gaussian dlogvar"]))

# %% [markdown]
# ## The KL term (Appendix B)
#
# Appendix B derives, for $q = \mathcal N(\mu, \sigma^2 I)$ and $p(z) = \mathcal N(0, I)$ in $J$ dimensions,
# $\int q \log p(z)\,dz = -\tfrac J2 \log 2\pi - \tfrac12 \sum_j (\mu_j^2 + \sigma_j^2)$ and $\int q \log q\,dz = -\tfrac J2 \log 2\pi - \tfrac12 \sum_j (1 + \log \sigma_j^2)$; subtracting,
#
# $$-D_{KL}\big(q\,\|\,p(z)\big) = \tfrac12 \sum_{j=1}^J \big(1 + \log \sigma_j^2 - \mu_j^2 - \sigma_j^2\big).$$
#
# The derivative the paper skips, with $v_j = \log \sigma_j^2$ so that $\sigma_j^2 = e^{v_j}$: $\partial D_{KL} / \partial \mu_j = \mu_j$ and $\partial D_{KL} / \partial v_j = -\tfrac12 (1 - e^{v_j}) = \tfrac12(\sigma_j^2 - 1)$. Both vanish at $\mu = 0, \sigma = 1$, where $q$ is the prior.

# %%
print(inspect.getsource(dist.kl_standard_normal_forward))
print(inspect.getsource(dist.kl_standard_normal_backward))

# %%
errors.update(check(dist.kl_standard_normal_forward, dist.kl_standard_normal_backward,
                    [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))], ["KL dmean", "KL dlogvar"]))

# %% [markdown]
# The forward, independently: the KL is $\mathbb{E}_q[\log q(z) - \log p(z)]$, so a Monte Carlo average over $2 \times 10^5$ draws from $q$ must agree with the closed form to within its standard error. (Had `logvar` been treated as $\log \sigma$ anywhere, this is where it would show.)

# %%
mean_q = rng.normal(size=(4, 3))
logvar_q = rng.normal(scale=0.5, size=(4, 3))
z, _ = dist.reparameterize_forward(mean_q, logvar_q, rng.standard_normal((200_000, 4, 3)))
log_ratio = dist.gaussian_log_likelihood_forward(z, mean_q, logvar_q)[0] - dist.standard_normal_log_density_forward(z)[0]
kl_mc = log_ratio.mean(axis=0)
kl_se = log_ratio.std(axis=0) / np.sqrt(len(z))
kl_closed, _ = dist.kl_standard_normal_forward(mean_q, logvar_q)
print("closed form:", np.round(kl_closed, 4))
print("Monte Carlo:", np.round(kl_mc, 4), "+-", np.round(kl_se, 4))
assert np.all(np.abs(kl_mc - kl_closed) < 4 * kl_se)

# %% [markdown]
# ## The prior and the reparameterization (Section 2.4)
#
# $\log \mathcal N(z; 0, I) = -\tfrac12 \sum_j (z_j^2 + \log 2\pi)$, so $\bar z = -\bar o\, z$.
#
# $z_l = \mu + e^{v/2} \odot \epsilon_l$ for $L$ noise draws $\epsilon_l$ (notebook 2). $\partial z_l / \partial \mu = 1$, so $\bar \mu = \sum_l \bar z_l$: one $\mu$ feeds all $L$ samples and their gradients add. $\partial z_l / \partial v = \tfrac12 e^{v/2} \epsilon_l = \tfrac12 \sigma \epsilon_l$, so $\bar v = \tfrac12 \sigma \sum_l \bar z_l \epsilon_l$. The noise $\epsilon$ is an *input*, held fixed, which is what makes the check below (and training) possible.

# %%
print(inspect.getsource(dist.reparameterize_backward))

# %%
errors.update(check(dist.standard_normal_log_density_forward, dist.standard_normal_log_density_backward,
                    [rng.normal(size=(2, 4, 3))], ["prior dz"]))
errors.update(check(dist.reparameterize_forward, dist.reparameterize_backward,
                    [rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(5, 4, 3))],
                    ["reparam. dmean", "reparam. dlogvar"]))

# %% [markdown]
# ## The Appendix C networks
#
# The Gaussian MLP is $h = \tanh(z W_h + b_h)$, $\mu = h W_\mu + b_\mu$, $\log \sigma^2 = h W_v + b_v$. Its backward pass runs the pieces above in reverse: both heads send a gradient to $h$, and those two add ($\bar h = \bar\mu W_\mu^T + \overline{\log\sigma^2}\, W_v^T$) before going through tanh and the first layer.

# %%
print(inspect.getsource(nets.gaussian_mlp_backward))

# %%
p = nets.init_gaussian_mlp(7, 5, 3).map(lambda a: rng.normal(scale=0.5, size=a.shape))
z_in = rng.normal(size=(4, 7))
dmean = rng.normal(size=(4, 3))
dlogvar = rng.normal(size=(4, 3))
(m, lv), cache = nets.gaussian_mlp_forward(p, z_in, True)
_, g = nets.gaussian_mlp_backward(dmean, dlogvar, cache)
s = lambda: float(sum(np.sum(out * d) for out, d in zip(nets.gaussian_mlp_forward(p, z_in, True)[0], (dmean, dlogvar))))
errors.update({f"Gaussian MLP {n}": check_gradient(s, a, getattr(g, n), n, 1e-6) for n, a in p.items()})

# %% [markdown]
# ## The whole objective (eqs. 6, 7, 8 and the MAP prior)
#
# `sgvb.sgvb` composes everything: encoder, reparameterization, decoder, likelihood, KL (B) or sampled latent terms (A), the prior $\frac MN \log p(\theta)$, and returns the gradients of the loss $-(\sum_i \tilde{\mathcal L}(x_i) + \frac MN \log p(\theta))$. Checked for both estimators and both decoders with $L = 3$, every parameter coordinate by coordinate, and along random directions through all parameters at once.

# %%
for est in "AB":
    for lik in ("bernoulli", "gaussian"):
        init_dec = nets.init_bernoulli_mlp if lik == "bernoulli" else nets.init_gaussian_mlp
        enc = nets.init_gaussian_mlp(9, 5, 3).map(lambda a: rng.normal(scale=0.5, size=a.shape))
        dec = init_dec(3, 5, 9).map(lambda a: rng.normal(scale=0.5, size=a.shape))
        x = rng.random((4, 9))
        eps = rng.standard_normal((3, 4, 3))
        res = sgvb.sgvb(enc, dec, x, eps, est, n_data=50)
        loss = lambda: -sgvb.sgvb(enc, dec, x, eps, est, n_data=50).objective
        worst = max(check_gradient(loss, a, getattr(gr, n), n, 1e-6) for params, gr in ((enc, res.denc), (dec, res.ddec)) for n, a in params.items())
        direction = check_directional(loss, enc.arrays() + dec.arrays(), res.denc.arrays() + res.ddec.arrays(), rng=0)
        errors[f"objective {est}, {lik}"] = worst
        print(f"estimator {est}, {lik:9s} decoder: worst coordinate {worst:.1e}, worst direction {direction:.1e}")

# %% [markdown]
# ## The figure: every check at a glance
#
# Worst relative error of each check (log scale) against its tolerance. A factor-of-two mistake, a dropped $\tfrac12$ or a wrong sign gives an error near 1; rounding in float64 gives $10^{-9}$ to $10^{-12}$.

# %%
names = list(errors)
fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1.2))
ax.barh(range(len(names)), [max(errors[n], 1e-16) for n in names], color="tab:blue")
ax.axvline(1e-7, color="k", ls="--", label="tolerance, a piece (1e-7)")
ax.axvline(1e-6, color="r", ls=":", label="tolerance, a composition (1e-6)")
ax.set_xscale("log")
ax.set_yticks(range(len(names)))
ax.set_yticklabels(names, fontsize=8)
ax.invert_yaxis()
ax.set_xlabel("worst relative error: analytic vs central differences (float64)")
ax.set_title("Untrained random parameters; no training budget involved", fontsize=9)
ax.legend(fontsize=8, loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# A gradient check cannot catch a wrong forward: a VAE whose sampler used $\exp(\log\sigma^2)$ as the standard deviation would pass every check above. That is why the forwards get checks of their own: the Bernoulli and KL checks here, the reparameterization's moments in notebook 2, and more in `tests/` (for instance `test_kl_matches_monte_carlo_average` and `test_reparameterized_samples_have_the_right_moments`).

# %% [markdown]
# ## Exercises for the reader
#
# 1. Each check here compares a backward with central differences of its own forward. Write a deliberately wrong backward in the handout (drop the sum over the minibatch in `linear_backward`'s `db`) and rerun: which check fails, and what does its message say?
# 2. A gradient check cannot catch a wrong forward. Which forwards above are checked against something else, and what independent check would you write for `tanh_forward`?
# 3. The Bernoulli forward never takes the log of a sigmoid. Feed it logits of $\pm 40$ and compare with `x * log(sigmoid(l)) + (1 - x) * log(1 - sigmoid(l))` computed directly: where does the direct formula break?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 1 (linear), the linear layer's backward, in [`aevb/core/layers.py`](../aevb/core/layers.py): `python -m aevb exercises check -k linear`
# * exercise 2 (tanh), the tanh backward, in [`aevb/core/layers.py`](../aevb/core/layers.py): `python -m aevb exercises check -k tanh`
# * exercise 3 (bernoulli), the Bernoulli log-likelihood and its backward, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k bernoulli`
# * exercise 4 (gaussian), the Gaussian log-likelihood and its backward, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k gaussian`
# * exercise 5 (kl), the KL term and its backward, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k kl`
# * exercise 6 (reparameterize), the reparameterization's backward, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k reparameterize`
