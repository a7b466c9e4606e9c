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
# # 9. Section 2.4's three reparameterization routes, and how noisy each gradient is
#
# Section 2.4 lists three ways to write $z \sim q_\phi(z)$ as $z = g_\phi(\epsilon)$ with parameter-free noise $\epsilon$:
# a **tractable inverse CDF** ($\epsilon \sim \mathcal U(0,1)$, $z = F^{-1}_\phi(\epsilon)$: Exponential, Gumbel, Logistic),
# a **location-scale** family ($z = \mu + \sigma\,\epsilon$ with $\epsilon$ from the standard member: Gaussian, Laplace, Student's t),
# and a **composition** ($z = \exp(\mu + \sigma\epsilon)$, $\epsilon \sim \mathcal N(0,1)$: Log-Normal).
# The paper's experiments use only the Gaussian. `aevb.inference.families` implements one or more per route, each with its sampler,
# log-density and both backward passes; `aevb.inference.posterior` puts any location-scale one on the real line in the place of the
# Gaussian posterior $q_\phi(z|x)$, trained with estimator A (eq. 6), since only the Gaussian has the KL of eq. 7 in closed form.
#
# Then we measure what Sections 2.2–2.3 state in words: the score-function gradient "exhibits very high variance",
# and estimator B "typically" has less variance than A. Full mode trains the paper's MNIST model ($N_z = 20$, 500 hidden units)
# for $2 \times 10^5$ samples (the paper trains for $10^7$ and more); its variance study took 10 minutes on a busy two-core machine,
# and the last section adds three such trainings. `AEVB_QUICK=1` uses a small model and a few draws (about 10 s of CPU time).

# %%
import os
QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
import inspect
import numpy as np
import matplotlib.pyplot as plt
import aevb
from aevb import VAE
from aevb.io import datasets as data
from aevb.inference import families, posterior, variance
print("quick mode" if QUICK else "full mode", "- data from", data.search_dirs())

# %% [markdown]
# Every family has the same interface. The location-scale sampler, shared by Gaussian, Laplace, Student's t, Gumbel and Logistic
# (the last two standardize their uniform noise by the inverse CDF first):

# %%
print(inspect.getsource(families.LocationScale.sample_forward))
print(inspect.getsource(families.Gumbel._standard))

# %% [markdown]
# Samples $z = g(\epsilon)$ from the explicit noise, against the density $\exp \log q(z)$ the same class computes
# (`tests/inference/test_families.py` also runs a KS test of each against scipy's CDF and checks its moments and every backward by finite differences):

# %%
rng = np.random.default_rng(0)
n = 5_000 if QUICK else 100_000
fig, axes = plt.subplots(2, 4, figsize=(13, 5.5))
for ax, name in zip(axes.flat, families.FAMILIES):
    fam = families.make_family(name)
    params = tuple(np.array([-0.3 if p.startswith("log") else 0.5]) for p in fam.param_names)
    z = fam.sample_forward(params, fam.draw_noise((n, 1), rng))[0][:, 0]
    lo, hi = np.quantile(z, [0.005, 0.995])
    grid = np.linspace(lo, hi, 400)[:, None]
    ax.hist(z, bins=80, range=(lo, hi), density=True, alpha=0.5, label="samples")
    ax.plot(grid[:, 0], np.exp(fam.log_density_forward(grid, params)[0]), "k", label="density")
    ax.set_title(f"{name} ({fam.noise} noise)")
    ax.set_xlabel("z")
    ax.set_ylabel("density")
axes.flat[0].legend()
axes.flat[-1].axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The gradient variance, per parameter group of the encoder
#
# One minibatch of $M = 100$ test digits; for each estimator, $R$ independent noise draws ($L = 1$) of the encoder's gradient;
# per parameter group, the variance of each coordinate over the draws, averaged over the group (`aevb.inference.variance.gradient_variance`).
# `score`, `A`, `B` estimate the same gradient (Gaussian $q$); `A:laplace` etc. estimate the gradient of the bound with
# a Laplace (…) $q$ read from the same encoder heads, a different quantity, so compare them through the relative variance
# (variance / squared mean) below as well. `score:laplace` is the score-function gradient with the Laplace $q$.

# %%
J, H = (5, 100) if QUICK else (20, 500)
R = 10 if QUICK else 100
budget = 20_000 if QUICK else 200_000   # Adagrad's warm-up takes the first 10,000
x = data.load_mnist("test", binarize="fixed", rng=0)[:100]
train = data.mnist("train").with_binarization("dynamic")
ESTIMATORS = ["score", "A", "B", "A:laplace", "A:student-t", "A:logistic", "A:gumbel", "score:laplace"]
models = {"at initialization": VAE(n_latent=J, n_hidden=H, rng=0).initialize(784)}
models[f"trained, {budget:,} samples"] = VAE(n_latent=J, n_hidden=H, budget=budget, rng=0).fit(train)

# %%
rows = {}
for label, vae in models.items():
    rows[label] = variance.gradient_variance(vae.encoder_params_, vae.decoder_params_, x, ESTIMATORS, n_draws=R, rng=1)
    print(f"{label} (N_z = {J}, {H} hidden, R = {R} draws, L = 1):")
    print(variance.format_table(rows[label]))
    print()

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharey=True)
for ax, (label, r) in zip(axes, rows.items()):
    variance.plot_variance(r, ax, f"{label}; paper: 10^7+ samples")
axes[0].legend(fontsize=8, ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# The noise relative to the size of what is estimated (variance / squared mean gradient, per group):

# %%
for label, r in rows.items():
    print(label)
    print(variance.format_table(r, key="relative"))
    print()

# %% [markdown]
# ## What holds here
#
# The numbers below are computed from the tables above, so they say what this run found (with $R$ draws each variance is itself
# uncertain by roughly $\pm\sqrt{2/R}$, about ±45 % in quick mode and ±14 % in full mode).

# %%
for label, r in rows.items():
    naive = variance.ratios(r, "score", "B")
    a_over_b = variance.ratios(r, "A", "B")
    b_lower = [g for g, v in a_over_b.items() if v > 1]
    print(f"{label}: score-function / B from {min(naive.values()):.3g}x to {max(naive.values()):.3g}x; "
          f"A / B from {min(a_over_b.values()):.3g} to {max(a_over_b.values()):.3g}; B lower in {len(b_lower)} of {len(a_over_b)} groups {b_lower}")
    lap = variance.ratios(r, "score:laplace", "A:laplace")
    print(f"    Laplace q: score-function / reparameterized from {min(lap.values()):.3g}x to {max(lap.values()):.3g}x")

# %% [markdown]
# The same question for the **value** of the bound (single-sample estimates per datapoint, averaged over the minibatch):
# B computes the KL exactly; A samples $\log p(z) - \log q(z|x)$, which can move against the reconstruction term and act as a
# control variate. The non-Gaussian families have no estimator B here.

# %%
draws = 100 if QUICK else 2_000
for label, vae in models.items():
    bv = variance.bound_variance(vae.encoder_params_, vae.decoder_params_, x, ["A", "B", "A:laplace", "A:student-t"], n_draws=draws, rng=2)
    print(label, {k: f"variance {v:.3g} nats^2, mean bound {m:.2f}" for k, (v, m) in bv.items()})
    print("    lower variance for the bound's value:", "B" if bv["B"][0] < bv["A"][0] else "A")

# %% [markdown]
# ## Training with a non-Gaussian posterior
#
# The same model trained with the same budget, noise seed and Adagrad settings, with q(z|x) Gaussian, Laplace or Student's t
# (ν = 5), each with estimator A; the test bound is estimator A with each model's own posterior and fresh noise (quick mode: on 1,000 test digits).
# `benchmarks/posterior_bound.py` runs the same comparison at the paper's MNIST size for $10^6$ samples (the README quotes it).

# %%
test = data.mnist("test").with_binarization("fixed", rng=0)
test = data.Dataset(test.images[:1000], 1.0, (28, 28), binarize="fixed") if QUICK else test
test_bound = {}
for name in ["gaussian", "laplace", "student-t"]:
    vae = VAE(n_latent=J, n_hidden=H, rng=0).initialize(784)
    opt = aevb.core.optim.make_optimizer("adagrad", 0.01)
    posterior.train_posterior(vae.encoder_params_, vae.decoder_params_, train, opt, budget=budget, rng=np.random.default_rng(1), posterior=name)
    test_bound[name] = posterior.score_family(vae.encoder_params_, vae.decoder_params_, test, name, rng=2)
print(f"test bound after {budget:,} training samples (N_z = {J}, {H} hidden; the paper trains for 10^7 and more):")
for name, b in test_bound.items():
    print(f"    {name:10s} {b:8.2f} nats")

# %% [markdown]
# ## Exercises for the reader
#
# 1. Each family here is sampled as $z = g(\epsilon)$ with a fixed noise distribution. Which of Section 2.4's three routes does the Gaussian of `reparameterize_forward` take, and which would a Gamma posterior need?
# 2. Only the Gaussian has estimator B (a closed-form KL to the prior). How much of B's lower variance in the table comes from the KL being exact, and how would you measure it?
# 3. Train with a heavier-tailed posterior (Student's t with a smaller $\nu$): does the test bound move, and in which direction would you expect it to?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 6 (reparameterize), the Gaussian route, $z = \mu + \sigma \epsilon$, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k reparameterize`
# * exercise 8 (estimator_a), eq. 6, the only estimator for the non-Gaussian families, in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_a`
