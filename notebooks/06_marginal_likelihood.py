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
# # 6. How good is the model? The marginal likelihood (Appendix D, Figure 3)
#
# The bound $\mathcal L$ sits below $\log p_\theta(x)$ by the KL of notebook 1, so comparing methods by their bounds compares their encoders as much as their models. Figure 3 compares AEVB, wake-sleep and Monte Carlo EM by $\log p_\theta(x)$ itself, estimated with the **Appendix D** estimator, on a model small enough for it ($N_z = 3$, 100 hidden units). The modern cross-check is **importance sampling** with the encoder as proposal. This notebook derives both, shows their code, and compares them with the bound on one trained model.
#
# **Budgets, far from the paper's.** Figure 3 trains for about $6 \times 10^7$ samples and evaluates 1,000 training and 1,000 test points. The full mode here trains for $10^6$ samples and evaluates 1,000 test points (minutes on one core); `AEVB_QUICK=1` trains for $5 \times 10^4$ samples and evaluates 20 test points. Our settings for Appendix D (1,000 HMC samples in 4 chains in the full mode, 100 in the quick mode) run alongside the paper's own (50 samples in one chain, 4 leapfrog steps); both fit a kernel density estimate, the density chosen by measurement (`benchmarks/appendix_d_density.py`: a Gaussian fit reads $\log p(x)$ too high where the posterior is not Gaussian).

# %%
import inspect
import os

import matplotlib.pyplot as plt
import numpy as np

import aevb
from aevb import VAE
from aevb.io import datasets as data
from aevb.reproduce.figures import paper_values

QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
print("quick mode" if QUICK else "full mode", "- data from", data.search_dirs())

# %% [markdown]
# ## The equations
#
# **Appendix D.** Draw $z^{(l)} \sim p_\theta(z|x)$ by Hybrid Monte Carlo, fit a density $q(z)$ to the samples, and with fresh posterior samples
#
# $$p_\theta(x^{(i)}) \simeq \left(\frac1L \sum_{l=1}^L \frac{q(z^{(l)})}{p_\theta(z)\, p_\theta(x^{(i)}|z^{(l)})}\right)^{-1}, \qquad z^{(l)} \sim p_\theta(z|x^{(i)}).$$
#
# **Importance sampling** with the encoder as proposal:
#
# $$\log p_\theta(x) \simeq \log \frac1K \sum_{k=1}^K \frac{p_\theta(x, z_k)}{q_\phi(z_k|x)}, \qquad z_k \sim q_\phi(z|x).$$
#
# ## The derivation the paper skips
#
# 1. **Why Appendix D's estimator works.** For *any* normalized density $q(z)$, average $q(z)/p_\theta(x, z)$ over the posterior and use $p_\theta(z|x) = p_\theta(x, z)/p_\theta(x)$:
#    $\mathbb E_{p(z|x)}\!\left[\frac{q(z)}{p_\theta(x, z)}\right] = \int \frac{p_\theta(x, z)}{p_\theta(x)} \frac{q(z)}{p_\theta(x, z)}\,dz = \frac{1}{p_\theta(x)} \int q(z)\,dz = \frac{1}{p_\theta(x)}.$
#    The average of the ratios estimates $1/p(x)$; its reciprocal estimates $p(x)$. HMC needs only $\nabla_z \log p_\theta(x, z) = \nabla_z \log p(z) + \nabla_z \log p_\theta(x|z)$, which the decoder's backward pass gives (notebook 3).
# 2. **Why $q$ must be fitted and kept apart.** The ratio has low variance only where $q$ is close to the posterior and has lighter tails; so $q$ is fitted to posterior samples. Fitting and evaluating on the same samples biases the average; the authors' code, and aevb, fit on one half of each chain and evaluate on the other. In more than a few dimensions no simple $q$ fits well, hence the paper's "reliable only for fewer than 5 latent dimensions".
# 3. **Why importance sampling is never below the bound (on average).** Each weight $w_k = p(x, z_k)/q(z_k|x)$ has $\mathbb E_q[w] = \int p(x, z)\,dz = p(x)$. By Jensen's inequality $\mathbb E[\log \frac1K \sum_k w_k] \le \log p(x)$, and for $K = 1$ the left side is $\mathbb E_q[\log w] = \mathcal L$ (eq. 2). It rises with $K$ (the average of more weights is a tighter estimate) towards $\log p(x)$.
# 4. **Why log-sum-exp.** The log-weights of MNIST digits lie around $-100$ to $-300$ nats. $e^{-200}$ is representable in float64 (down to about $e^{-745}$) but is zero in float32 (below about $e^{-104}$), and a sum of terms of such different sizes keeps only the largest. Computing $\log \sum_k e^{a_k} = m + \log \sum_k e^{a_k - m}$ with $m = \max_k a_k$ puts the largest term at $e^0 = 1$ and loses nothing that matters.

# %% [markdown]
# ## The code
#
# Importance sampling, with a streaming log-sum-exp (the `### BEGIN SOLUTION` markers delimit a course exercise; the library runs the code between them):

# %%
print(inspect.getsource(aevb.inference.likelihood.importance_sampled))

# %% [markdown]
# Appendix D: HMC from `aevb.inference.hmc`, a Gaussian or kernel density fitted to the first half of each chain, the reciprocal average on the second half:

# %%
print(inspect.getsource(aevb.inference.likelihood.appendix_d))

# %% [markdown]
# The leapfrog integrator at the heart of HMC (a half step in momentum, full steps in position and momentum, a final half step):

# %%
print(inspect.getsource(aevb.inference.hmc.leapfrog))

# %% [markdown]
# ## The model
#
# Figure 3's architecture: $N_z = 3$, 100 hidden units, trained on the 50,000 MNIST training digits with Section 5's settings (in float32; the estimates below run in float64).

# %%
budget = 50_000 if QUICK else 1_000_000
n_test = 20 if QUICK else 1000
budget_note = f"{budget:,} training samples, {n_test} test digits ({'quick' if QUICK else 'full'} mode); the paper's Figure 3: 6 x 10^7 samples, 1,000 digits"
vae = VAE(n_latent=3, n_hidden=100, budget=budget, lr=0.01, dtype="float32", rng=0).fit(data.mnist("train").with_binarization("dynamic"))
enc = vae.encoder_params_.astype(np.float64)
dec = vae.decoder_params_.astype(np.float64)
x = data.load_mnist("test", binarize="fixed", rng=0)[:n_test]
print(budget_note)

# %% [markdown]
# ## The check: three estimates of $\log p(x)$ against the bound
#
# The bound is averaged over 100 noise draws per digit (estimator B); importance sampling uses $K$ = 500 (quick) or 5,000 weights; Appendix D runs with our settings and with the paper's.

# %%
rng = np.random.default_rng(0)
elbo = np.mean([vae.score_samples(x, rng=rng) for _ in range(100)], axis=0)
is_est = aevb.inference.likelihood.importance_sampled(enc, dec, x, 500 if QUICK else 5000, rng=rng)
hmc_est = aevb.inference.likelihood.appendix_d(enc, dec, x, 100 if QUICK else 1000, rng=rng)
paper_est = aevb.inference.likelihood.appendix_d(enc, dec, x, rng=rng, **aevb.inference.likelihood.PAPER)

# %%
rows = [("ELBO (estimator B, 100 draws)", elbo),
        (f"importance sampling, K = {is_est.settings['n_samples']}", is_est.log_px),
        (f"Appendix D, {hmc_est.settings['n_samples']} HMC samples, Gaussian q", hmc_est.log_px),
        ("Appendix D, the paper's settings", paper_est.log_px)]
for name, v in rows:
    print(f"{name:48s} {v.mean():9.2f} nats (± {v.std(ddof=1) / np.sqrt(len(v)):.2f} over digits)")
print(f"HMC acceptance rate: {hmc_est.settings['accept_rate_mean']:.2f} (target 0.9)")
gap = is_est.log_px - hmc_est.log_px
print(f"importance sampling - Appendix D: {gap.mean():+.2f} nats on average, |.| <= {np.abs(gap).max():.2f} per digit")
print(f"importance sampling - ELBO: {np.mean(is_est.log_px - elbo):+.2f} nats on average (as K grows, this approaches the mean KL(q || p(z|x)) of notebook 1)")
assert np.all(is_est.log_px > elbo - 4 * is_est.stderr - 0.5), "log p(x) estimate below the ELBO"
assert abs(gap.mean()) < 1.0

# %% [markdown]
# Where these numbers stand: the paper's Figure 3 (read from its plot, `aevb/reproduce/paper/figure3.csv`) reports AEVB's Appendix D estimate on the test set, $N_{train}$ = 50,000:

# %%
paper = sorted((r["samples"], r["log_px"]) for r in paper_values("figure3") if r["n_train"] == 50000 and r["method"] == "aevb" and r["split"] == "test")
print("the paper:", ", ".join(f"{v} at {s:.1e} samples" for s, v in paper))
print(f"ours: {hmc_est.mean:.1f} at {budget:.1e} samples, on {n_test} test digits")

# %% [markdown]
# ## The figures
#
# Per digit, sorted by the bound (worst-modelled digits on the left): how far each estimate of $\log p(x)$ sits above the bound (the bound itself is the line at 0). Both estimates are above it and close to each other; on single digits they differ by each one's own Monte Carlo error.

# %%
order = np.argsort(elbo)
fig, ax = plt.subplots(figsize=(7, 4))
ax.axhline(0, color="gray", ls=":", label="ELBO (bound), 100 draws")
ax.plot((is_est.log_px - elbo)[order], "o", ms=4, label=f"importance sampling, K = {is_est.settings['n_samples']}")
ax.plot((hmc_est.log_px - elbo)[order], "s", ms=4, mfc="none", label="Appendix D (ours)")
ax.plot((paper_est.log_px - elbo)[order], "x", ms=5, label="Appendix D (paper's settings)")
ax.set_xlabel("test digit (sorted by its ELBO)")
ax.set_ylabel("log p(x) estimate - ELBO (nats)")
ax.set_title(budget_note, fontsize=8)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# How many importance samples? The estimate rises with $K$ (in expectation it can only rise, step 3 above) from the bound at $K = 1$ and levels off near the Appendix D estimate.

# %%
Ks = [1, 10, 100, 1000] + ([] if QUICK else [5000])
means = [aevb.inference.likelihood.importance_sampled(enc, dec, x, K, rng=K).mean for K in Ks]
print(", ".join(f"K = {K}: {m:.2f}" for K, m in zip(Ks, means)))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(Ks, means, "o-", label="importance sampling")
ax.axhline(hmc_est.mean, ls="--", c="k", label="Appendix D (ours)")
ax.axhline(elbo.mean(), ls=":", c="gray", label="ELBO")
ax.set_xlabel("importance samples K")
ax.set_ylabel("mean log p(x) estimate (nats)")
ax.set_title(budget_note, fontsize=7)
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises for the reader
#
# 1. The importance-sampled estimate rises with $K$ towards $\log p(x)$ (the figure). Why is it below $\log p(x)$ in expectation for every $K$, and why is $K = 1$ the bound itself?
# 2. Replace the encoder's $q(z|x)$ by the prior $\mathcal N(0, I)$ as the proposal (an encoder whose output layer has all weights and biases zero gives mean 0 and log-variance 0): how large must $K$ be for the same standard error?
# 3. The log-sum-exp is computed in streaming chunks. Why would `np.log(np.mean(np.exp(log_w)))` fail on MNIST, where $\log p(x|z)$ is near $-100$ nats or below?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 10 (importance_sampling), the estimate and its standard error, in [`aevb/inference/likelihood.py`](../aevb/inference/likelihood.py): `python -m aevb exercises check -k importance_sampling`
# * exercise 3 (bernoulli), the $\log p(x|z)$ inside every importance weight, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k bernoulli`
