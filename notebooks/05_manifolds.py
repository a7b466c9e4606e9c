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
# # 5. The learned manifolds (Section 5, Figure 4)
#
# With a 2-D latent space the decoder is a map from the plane to images, and it can be looked at whole. Figure 4's caption: "linearly spaced coordinates on the unit square were transformed through the inverse CDF of the Gaussian to produce values of the latent variables $z$. For each of these values $z$, we plotted the corresponding generative $p_\theta(x|z)$ with the learned parameters $\theta$." It shows Frey Face ($10 \times 10$) and MNIST ($20 \times 20$).
#
# This notebook derives why the inverse CDF, shows the code, checks the grid and the smoothness of the map, draws Figure 4 at our budget, and ends with an **interactive explorer**: sliders over $z$ and the decoded image, for readers who run the notebook live (a static grid stands in for it in quick mode or without ipywidgets).
#
# **Budgets, far from the paper's.** The paper's models trained for up to $10^8$ samples. The full mode here trains each model for $10^6$ samples in float32 (minutes on one core); `AEVB_QUICK=1` for $5 \times 10^4$, a few hundred Adagrad steps after the 100-step warm-up: the manifold already spreads the digit classes over the plane, but its images are blurrier than the paper's.

# %%
import inspect
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import aevb
from aevb import VAE
from aevb.io import datasets as data

QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
print("quick mode" if QUICK else "full mode", "- data from", data.search_dirs())

# %% [markdown]
# ## The equations
#
# The grid: $u_k = (k + \tfrac12)/n$ for $k = 0, \dots, n-1$, and $z = (\Phi^{-1}(u_i), \Phi^{-1}(u_j))$ with $\Phi$ the standard normal CDF. The image shown at $z$ is the decoder's mean:
#
# * MNIST (Bernoulli MLP, Appendix C.1): $\mathbb E[x|z] = y = \mathrm{sigmoid}\big(W_2 \tanh(W_1 z + b_1) + b_2\big)$;
# * Frey Face (Gaussian MLP, C.2, means squashed into (0, 1) as Section 5 says): $\mathbb E[x|z] = \mathrm{sigmoid}\big(W_4 \tanh(W_3 z + b_3) + b_4\big)$.
#
# ## The derivation the paper skips
#
# 1. **Why the inverse CDF.** If $U$ is uniform on (0, 1), then $\Phi^{-1}(U)$ has CDF $P(\Phi^{-1}(U) \le t) = P(U \le \Phi(t)) = \Phi(t)$: it is standard normal. So equally spaced $u$ are equally *probable* slices of the prior $p(z) = \mathcal N(0, I)$: each cell of an $n \times n$ grid holds $1/n^2$ of the prior's mass, and the grid spends its cells where the decoder is actually used, rather than on the empty tails.
# 2. **Why midpoints.** The caption's "unit square" includes its edges, where $\Phi^{-1}(0) = -\infty$ and $\Phi^{-1}(1) = +\infty$. The midpoints $(k + \tfrac12)/n$ stay inside, and they are the centres of the equal-mass cells. (A departure from a literal reading: the paper does not say which points it used.)
# 3. **Why the mean.** $p_\theta(x|z)$ is a distribution over images; its mean is the one image that summarizes it. For Bernoulli pixels the mean is the probability of each pixel being on, $y$; a sample would be a noisy binary image.

# %% [markdown]
# ## The code
#
# The grid (the first latent varies across a row, the second up the columns, so the picture reads like a plot):

# %%
print(inspect.getsource(aevb.plotting.latent_grid))

# %% [markdown]
# The decoder's mean, for either decoder:

# %%
print(inspect.getsource(aevb.VAE.decode))

# %% [markdown]
# ## Check 1: the grid is equal-mass
#
# Map the grid back through $\Phi$, computed here independently from the error function, $\Phi(t) = \tfrac12\big(1 + \mathrm{erf}(t / \sqrt 2)\big)$. The result must be the midpoints $(k + \tfrac12)/n$:

# %%
n = 7
grid = aevb.plotting.latent_grid(n)
u = 0.5 * (1 + np.vectorize(math.erf)(grid / math.sqrt(2)))
print("z1 across a row:   ", np.round(grid[:n, 0], 3))
print("Phi(z1):           ", np.round(u[:n, 0], 4))
print("midpoints (k+.5)/n:", np.round((np.arange(n) + 0.5) / n, 4))
assert np.allclose(np.sort(np.unique(u[:, 0])), (np.arange(n) + 0.5) / n, atol=1e-12)
assert np.allclose(np.sort(np.unique(u[:, 1])), (np.arange(n) + 0.5) / n, atol=1e-12)

# %% [markdown]
# ## Training the two models
#
# MNIST: 500 hidden units, Bernoulli decoder, step size 0.01. Frey Face: 200 hidden units, Gaussian decoder with sigmoid means, step size 0.02. Both with $N_z = 2$ and otherwise Section 5's settings.

# %%
budget = 50_000 if QUICK else 1_000_000
budget_note = f"{budget:,} training samples ({'quick' if QUICK else 'full'} mode); the paper's models train to 10^8"
mnist = VAE(n_latent=2, n_hidden=500, budget=budget, lr=0.01, dtype="float32", rng=0).fit(data.mnist("train").with_binarization("dynamic"))
frey = VAE(n_latent=2, n_hidden=200, likelihood="gaussian", sigmoid_mean=True, budget=budget, lr=0.02, dtype="float32", rng=0).fit(data.frey_face("train"))
x_mnist, labels = data.load_mnist("test", binarize="fixed", rng=0, dtype=np.float32, return_labels=True)
x_frey = data.load_frey_face("test", dtype=np.float32)
print(f"MNIST test bound {mnist.score(x_mnist[:2000], rng=0):.1f} nats, Frey Face test bound {frey.score(x_frey, rng=0):.1f} nats ({budget_note})")

# %% [markdown]
# ## Check 2: the manifold is smooth
#
# Neighbouring points of the grid should decode to similar images. Measured: the mean squared difference between horizontally adjacent cells of the $20 \times 20$ MNIST grid, against the same for random pairs of cells.

# %%
cells = mnist.decode(aevb.plotting.latent_grid(20)).reshape(20, 20, -1)
adjacent = np.mean((cells[:, 1:] - cells[:, :-1]) ** 2)
flat = cells.reshape(400, -1)
random_pairs = np.mean((flat - flat[np.random.default_rng(0).permutation(400)]) ** 2)
print(f"adjacent cells: {adjacent:.4f}, random pairs: {random_pairs:.4f} (ratio {random_pairs / adjacent:.1f})")
assert adjacent < random_pairs

# %% [markdown]
# ## Figure 4 (our budget)
#
# The tick labels give the value of $z$ at a few cells: they are not equally spaced, because the cells are equally probable (step 1 above).

# %%
fig, ax = plt.subplots(1, 2, figsize=(12, 6.4), gridspec_kw={"width_ratios": [1, 1.4]})
for a, vae, n_side, shape, title in ((ax[0], frey, 10, (28, 20), "(a) Frey Face"), (ax[1], mnist, 20, (28, 28), "(b) MNIST")):
    z = aevb.plotting.latent_grid(n_side)
    a.imshow(aevb.plotting.image_grid(vae.decode(z), shape, n_side), cmap="gray")
    ticks = [0, n_side // 2 - 1, n_side // 2, n_side - 1]
    a.set_xticks([1 + k * (shape[1] + 1) + shape[1] / 2 for k in ticks], [f"{z[k, 0]:.2f}" for k in ticks])
    a.set_yticks([1 + k * (shape[0] + 1) + shape[0] / 2 for k in ticks], [f"{z[k * n_side, 1]:.2f}" for k in ticks])
    a.set_xlabel("z1")
    a.set_ylabel("z2")
    a.set_title(f"{title}, {n_side} x {n_side}")
fig.suptitle(f"Decoder means on the inverse-CDF grid; {budget_note}", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## An interactive latent-space explorer
#
# Move the sliders to move $z$; the cross shows where it is among the test set's posterior means $\mu(x)$ (MNIST: coloured by digit; Frey Face: by frame number), and the right panel shows the decoded image at $z$. It needs a live kernel and ipywidgets. In quick mode, or without ipywidgets, the same drawing function is called once and a static grid of slider positions follows instead.

# %%
try:
    import ipywidgets as widgets
except ImportError:
    widgets = None
LIVE = widgets is not None and not QUICK
models = {"MNIST": (mnist, mnist.transform(x_mnist[:3000]), labels[:3000], (28, 28)),
          "Frey Face": (frey, frey.transform(x_frey), np.arange(len(x_frey)), (28, 20))}


def explore(z1=0.0, z2=0.0, model="MNIST"):
    """Draw model's decoded image at z = (z1, z2) beside the test set's posterior means."""
    vae, codes, colour, shape = models[model]
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.6), gridspec_kw={"width_ratios": [1.4, 1]})
    ax[0].scatter(codes[:, 0], codes[:, 1], c=colour, s=3, cmap="tab10" if model == "MNIST" else "viridis")
    ax[0].plot(z1, z2, "r+", ms=20, mew=3)
    ax[0].set(xlabel="z1", ylabel="z2", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), title=f"{model}: test posterior means, coloured by " + ("digit" if model == "MNIST" else "frame"))
    ax[1].imshow(vae.decode(np.array([[z1, z2]])).reshape(shape), cmap="gray", vmin=0, vmax=1)
    ax[1].set(title=f"decoded at z = ({z1:.2f}, {z2:.2f})", xticks=[], yticks=[])
    fig.suptitle(budget_note, fontsize=8)
    plt.show()


# %%
if LIVE:
    slider = dict(min=-3.0, max=3.0, step=0.05, value=0.0, continuous_update=True)
    widgets.interact(explore, z1=widgets.FloatSlider(**slider), z2=widgets.FloatSlider(**slider), model=list(models))
else:
    explore(0.0, 0.0, "MNIST")

# %% [markdown]
# **Static fallback.** What the sliders show, at $7 \times 7$ positions equally spaced in $z$ (not in probability, unlike Figure 4): the images at the corners lie where the prior has little mass and the decoder was rarely trained.

# %%
steps = np.linspace(-3, 3, 7)
z_static = np.stack(np.meshgrid(steps, steps[::-1]), axis=-1).reshape(-1, 2)
fig, ax = plt.subplots(1, 2, figsize=(11, 5.6), gridspec_kw={"width_ratios": [1, 20 / 28]})
for a, (name, (vae, _, _, shape)) in zip(ax, models.items()):
    a.imshow(aevb.plotting.image_grid(vae.decode(z_static), shape, 7), cmap="gray")
    a.set_xticks([1 + k * (shape[1] + 1) + shape[1] / 2 for k in range(7)], [f"{s:g}" for s in steps])
    a.set_yticks([1 + k * (shape[0] + 1) + shape[0] / 2 for k in range(7)], [f"{s:g}" for s in steps[::-1]])
    a.set_xlabel("z1 (slider)")
    a.set_ylabel("z2 (slider)")
    a.set_title(name)
fig.suptitle(f"Slider positions, z in [-3, 3]^2; {budget_note}", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises for the reader
#
# 1. The grid is placed through the inverse Gaussian CDF, so each cell holds equal prior mass. Replace it by a linear grid over $[-3, 3]^2$: what changes at the edges of the figure?
# 2. The Frey Face panel shows the decoder's mean. What would images drawn from $p(x|z)$, with the Gaussian decoder's noise added, look like, and why does the paper show the mean?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 4 (gaussian), the Frey Face decoder's log-likelihood, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k gaussian`
# * exercise 7 (estimator_b), the objective both models train on, in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_b`
