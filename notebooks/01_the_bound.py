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
# # 1. The problem and the variational bound (Sections 2.1–2.2, eqs. 1–3)
#
# **Section 2.1, the setting.** A datapoint $x$ is made by drawing a latent variable $z$ from a prior $p_\theta(z)$ and then $x$ from $p_\theta(x|z)$. Two quantities we would like are intractable when $p_\theta(x|z)$ is a neural network:
#
# * the marginal likelihood $p_\theta(x) = \int p_\theta(z)\,p_\theta(x|z)\,dz$, and
# * the posterior $p_\theta(z|x) = p_\theta(x|z)\,p_\theta(z) / p_\theta(x)$.
#
# The paper's answer is a *recognition model* $q_\phi(z|x)$ (the encoder) trained jointly with the generative model (the decoder). Section 2.2 shows what the two together optimize: a lower bound on $\log p_\theta(x)$.
#
# This notebook computes **every term of eq. 1 separately** on a trained VAE (Section 3: $p(z) = \mathcal N(0, I)$, a Bernoulli MLP decoder, a Gaussian MLP encoder) with a **2-D latent space**. In two dimensions $\log p(x)$ can be integrated numerically on a grid, so nothing is estimated by the bound itself.
#
# `AEVB_QUICK=1` trains for $5 \times 10^4$ samples (quick mode, well under a minute); the full mode for $10^6$. The paper trains its models to $10^8$.

# %%
import inspect
import os

import matplotlib.pyplot as plt
import numpy as np

import aevb
from aevb import VAE
from aevb.io import datasets as data

QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
print("quick mode" if QUICK else "full mode", "- data from", data.search_dirs())

# %% [markdown]
# ## The equations (Section 2.2)
#
# For any $q_\phi(z|x)$, eq. 1:
#
# $$\log p_\theta(x) = D_{KL}\big(q_\phi(z|x)\,\|\,p_\theta(z|x)\big) + \mathcal{L}(\theta, \phi; x), \qquad (1)$$
#
# with the bound (eq. 2)
#
# $$\mathcal{L}(\theta, \phi; x) = \mathbb{E}_{q_\phi(z|x)}\big[-\log q_\phi(z|x) + \log p_\theta(x, z)\big], \qquad (2)$$
#
# which can also be written (eq. 3)
#
# $$\mathcal{L}(\theta, \phi; x) = -D_{KL}\big(q_\phi(z|x)\,\|\,p_\theta(z)\big) + \mathbb{E}_{q_\phi(z|x)}\big[\log p_\theta(x|z)\big]. \qquad (3)$$
#
# ## The derivation the paper skips
#
# 1. $\log p_\theta(x)$ does not depend on $z$, so it equals its own average under any distribution over $z$:
#    $\log p_\theta(x) = \mathbb{E}_{q}[\log p_\theta(x)]$.
# 2. Bayes' rule holds at every $z$: $p_\theta(x) = p_\theta(x, z) / p_\theta(z|x)$. So
#    $\log p_\theta(x) = \mathbb{E}_{q}[\log p_\theta(x, z) - \log p_\theta(z|x)]$.
# 3. Add and subtract $\log q_\phi(z|x)$ inside the expectation:
#    $\log p_\theta(x) = \underbrace{\mathbb{E}_{q}[\log p_\theta(x, z) - \log q_\phi(z|x)]}_{\mathcal L,\ \text{eq. 2}} + \underbrace{\mathbb{E}_{q}[\log q_\phi(z|x) - \log p_\theta(z|x)]}_{D_{KL}(q\,\|\,p(z|x))}$. That is eq. 1.
# 4. A KL divergence is never negative (Gibbs' inequality), so $\mathcal L \le \log p_\theta(x)$, with equality exactly when $q_\phi(z|x) = p_\theta(z|x)$. The gap is how far the encoder is from the true posterior.
# 5. For eq. 3, split the joint: $\log p_\theta(x, z) = \log p_\theta(x|z) + \log p_\theta(z)$. The terms $\mathbb{E}_q[\log p_\theta(z) - \log q_\phi(z|x)]$ are $-D_{KL}(q_\phi(z|x)\,\|\,p_\theta(z))$, a KL to the *prior*, which for two Gaussians has a closed form (Appendix B, notebook 3).
#
# Raising $\mathcal L$ in $\phi$ closes the gap (the encoder approaches the posterior); raising it in $\theta$ raises $\log p_\theta(x)$, or at least a bound on it.

# %% [markdown]
# ## The functions that implement it
#
# `aevb.core.sgvb.lower_bound` estimates $\mathcal L$ by Monte Carlo. Its body is `_forward`: estimator B is eq. 3 with the KL in closed form and the expectation replaced by an average over noise draws; estimator A is eq. 2 averaged the same way (Section 2.3, notebook 2).

# %%
print(inspect.getsource(aevb.core.sgvb._forward))

# %% [markdown]
# `aevb.inference.likelihood.grid` computes $\log p_\theta(x) = \log \int p_\theta(x|z)\,p(z)\,dz$ as a sum over a fine grid of $z$, the definition of the marginal likelihood with the integral done numerically. `log_joint` gives the integrand $\log p_\theta(x, z)$.

# %%
print(inspect.getsource(aevb.inference.likelihood.log_joint))
print(inspect.getsource(aevb.inference.likelihood.grid))

# %% [markdown]
# ## A model to measure
#
# A VAE with $N_z = 2$ and 100 hidden units, trained with Algorithm 1 (Adagrad, $M = 100$, $L = 1$, estimator B; the first 100 steps, $10^4$ samples, only accumulate Adagrad's squared gradients). Five test digits (binarized once, with a seed) to study. Training runs in float32; the analysis in float64.

# %%
budget = 50_000 if QUICK else 1_000_000
budget_note = f"{budget:,} training samples ({'quick' if QUICK else 'full'} mode; the paper trains to 10^8)"
train = data.mnist("train").with_binarization("dynamic")
x = data.load_mnist("test", binarize="fixed", rng=0)[:5]
vae = VAE(n_latent=2, n_hidden=100, budget=budget, dtype="float32", rng=0).fit(train)
enc = vae.encoder_params_.astype(np.float64)
dec = vae.decoder_params_.astype(np.float64)
print("model trained on", budget_note)

# %% [markdown]
# ## The check: every term of eq. 1, computed separately
#
# **$\log p(x)$** by integration over the grid (a $201 \times 201$ grid in the full mode, $101 \times 101$ in the quick mode, each placed by a coarser grid that finds where the integrand has its mass; the integrand is smooth and the grid covers it, so either is accurate to far below the Monte Carlo error of the bound):

# %%
n_grid = 101 if QUICK else 201
log_px = aevb.inference.likelihood.grid(dec, x, n_coarse=61 if QUICK else 121, n_fine=n_grid)
print(np.round(log_px, 3))

# %% [markdown]
# **The bound $\mathcal L$** by averaging estimator B over $10^4$ independent noise draws $\epsilon \sim \mathcal N(0, I)$ ($4 \times 10^3$ in the quick mode), with its Monte Carlo standard error:

# %%
n_draws = 4000 if QUICK else 10_000
eps = np.random.default_rng(1).standard_normal((n_draws, 1, 5, 2))   # (draws, L = 1, M = 5, J = 2)
draws = np.stack([aevb.core.sgvb.lower_bound(enc, dec, x, e) for e in eps])   # (draws, 5)
elbo = draws.mean(axis=0)
elbo_se = draws.std(axis=0) / np.sqrt(len(draws))
print(np.round(elbo, 3), "+-", np.round(elbo_se, 3))

# %% [markdown]
# **The KL to the true posterior**, straight from its definition $\int q(z|x)\,[\log q(z|x) - \log p(z|x)]\,dz$, with $\log p(z|x) = \log p(x, z) - \log p(x)$ (Bayes' rule, step 2 above), summed over the same number of grid points, covering ±8 standard deviations of $q$ around its mean.

# %%
(mean, logvar), _ = aevb.core.networks.gaussian_mlp_forward(enc, x)    # q(z|x): (5, 2) each
std = np.exp(0.5 * logvar)
t = np.linspace(-8, 8, n_grid)
kl = np.empty(len(x))
for i in range(len(x)):
    z1 = mean[i, 0] + std[i, 0] * t
    z2 = mean[i, 1] + std[i, 1] * t
    z = np.stack(np.meshgrid(z1, z2, indexing="ij"), axis=-1).reshape(-1, 1, 2)   # (n_grid^2, 1, 2)
    log_q = aevb.core.distributions.gaussian_log_likelihood_forward(z, mean[i], logvar[i])[0][:, 0]
    log_post = aevb.inference.likelihood.log_joint(dec, x[i:i + 1], z)[:, 0] - log_px[i]
    cell = (z1[1] - z1[0]) * (z2[1] - z2[0])
    kl[i] = np.sum(np.exp(log_q) * (log_q - log_post)) * cell

# %% [markdown]
# Eq. 1 says the last column, $\log p(x) - D_{KL} - \mathcal L$, is zero; it may differ from zero only by the Monte Carlo error of $\mathcal L$ (a few hundredths of a nat) and the grids' error.

# %%
print(f"{'digit':>5} {'log p(x)':>10} {'ELBO':>10} {'KL(q||p)':>9} {'KL + ELBO':>10} {'difference':>10}")
for i in range(len(x)):
    print(f"{i:5d} {log_px[i]:10.3f} {elbo[i]:10.3f} {kl[i]:9.3f} {kl[i] + elbo[i]:10.3f} "
          f"{log_px[i] - kl[i] - elbo[i]:+10.3f}  (MC s.e. {elbo_se[i]:.3f})")
assert np.all(kl >= 0), "a KL divergence came out negative"
assert np.all(elbo <= log_px + 4 * elbo_se), "the bound is above log p(x)"
assert np.all(np.abs(log_px - kl - elbo) < 4 * elbo_se + 0.01), "eq. 1 does not hold"
print("eq. 1 holds for every digit to within Monte Carlo error: the bound is below log p(x) by exactly the KL.")

# %% [markdown]
# ## The figure: what the gap looks like
#
# Left: eq. 1 digit by digit; the gap $\log p(x) - \mathcal L$ (grid integral minus the Monte Carlo bound) beside the KL computed from its definition. Middle and right: the digit with the largest gap, its true posterior $p(z|x)$ (colour) and the encoder's Gaussian $q(z|x)$ (dashed), each at 2, 10, 30, 50, 70 and 90 % of its peak density. $q$ is a diagonal Gaussian (axis-aligned ellipses); where $p(z|x)$ is tilted or skewed, $q$ cannot match it, and that mismatch is the KL.

# %%
worst = int(np.argmax(kl))
c = np.linspace(-4, 4, 81)
C = np.stack(np.meshgrid(c, c, indexing="ij"), axis=-1).reshape(-1, 1, 2)
log_pxz = aevb.inference.likelihood.log_joint(dec, x[worst:worst + 1], C)[:, 0]
keep = C[log_pxz > log_pxz.max() - 5, 0]     # where the posterior is above e^-5 of its peak
lo = keep.min(axis=0) - 0.2 * np.ptp(keep, axis=0)
hi = keep.max(axis=0) + 0.2 * np.ptp(keep, axis=0)
Z = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150), indexing="ij"), axis=-1)
log_post = aevb.inference.likelihood.log_joint(dec, x[worst:worst + 1], Z.reshape(-1, 1, 2))[:, 0] - log_px[worst]
posterior = np.exp(log_post).reshape(Z.shape[:2])
q_density = np.exp(aevb.core.distributions.gaussian_log_likelihood_forward(Z, mean[worst], logvar[worst])[0])

# %%
digits = np.arange(len(x))
fig, ax = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1.2, 0.6, 1.1]})
ax[0].bar(digits - 0.2, log_px - elbo, 0.4, yerr=2 * elbo_se, label="log p(x) - L (measured)")
ax[0].bar(digits + 0.2, kl, 0.4, label="KL(q(z|x) || p(z|x)) (grid)")
ax[0].set_xlabel("test digit")
ax[0].set_ylabel("nats")
ax[0].set_xticks(digits)
ax[0].set_title("eq. 1: the two bars are equal", fontsize=9)
ax[0].legend(fontsize=8)
ax[1].imshow(x[worst].reshape(28, 28), cmap="gray")
ax[1].set_title(f"digit {worst}")
ax[1].set_axis_off()
ax[2].contour(Z[..., 0], Z[..., 1], posterior, posterior.max() * np.array([0.02, 0.1, 0.3, 0.5, 0.7, 0.9]), cmap="viridis")
ax[2].contour(Z[..., 0], Z[..., 1], q_density, q_density.max() * np.array([0.02, 0.1, 0.3, 0.5, 0.7, 0.9]), colors="k", linestyles="--")
ax[2].set_xlabel("z1")
ax[2].set_ylabel("z2")
ax[2].set_title(f"p(z|x) (colour), q(z|x) (dashed): KL = {kl[worst]:.2f} nats", fontsize=9)
fig.suptitle(f"N_z = 2 VAE, {budget_note}", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# The model here is far from converged (see the caption's budget), but eq. 1 is an identity: it holds for any $\theta$ and $\phi$, trained or not. Only the size of the gap depends on training. Notebook 2 turns eq. 2 and eq. 3 into estimators whose gradients can be followed.

# %% [markdown]
# ## Exercises for the reader
#
# 1. Eq. 1 is an identity: it holds for any encoder, trained or not. Make the model worse (train it on a tenth of `budget`) and rerun the check and the figure: which columns change, and does the difference column stay within Monte Carlo error?
# 2. The gap $\log p(x) - \mathcal L$ is the KL to the *posterior*, which needs $\log p(x)$; the KL to the *prior* in eq. 3 has a closed form. Why can this notebook compute the first on a grid for $N_z = 2$, and why could it not for $N_z = 20$?
# 3. Cut `n_draws` by a factor of 10: by how much does the bound's standard error grow, and does the eq. 1 assertion still pass?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 5 (kl), the closed-form KL of eq. 3 inside `lower_bound`, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k kl`
# * exercise 4 (gaussian), the log-density of $q(z|x)$ in the KL to the posterior, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k gaussian`
# * exercise 7 (estimator_b), the bound `lower_bound` averages, in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_b`
