# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
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
# # 8. Adversarial examples (Szegedy et al., *Intriguing properties of neural networks*, arXiv 1312.6199)
#
# The award that made AEVB famous had a runner-up: Szegedy et al. showed that an imperceptibly
# small perturbation $r$ makes a neural network misclassify $x + r$, and that such
# perturbations often fool other networks too. This notebook reproduces their MNIST
# experiments with aevb's hand-written layers, and asks a question neither paper asked: how
# does a classifier built on a VAE's encoder fare?
#
# **The optimization problem (Section 4.1).** For an image $x \in [0,1]^m$, a classifier $f$
# and a target label $l \ne f(x)$:
#
# $$\min_r \; c\,|r| + \mathrm{loss}_f(x + r, l) \quad \text{subject to} \quad x + r \in [0, 1]^m,$$
#
# solved by box-constrained L-BFGS, with a line search over $c$ for the smallest perturbation
# whose minimizer still reaches $l$. The distortion is $\sqrt{\sum_i r_i^2 / n}$.
#
# **Departures, stated once.** The penalty here is $c\,\|r\|^2$ (smooth at $r = 0$, where
# L-BFGS starts) instead of $c\,|r|$; the paper's AE400-10 (a softmax on an autoencoder's
# 400 features) is replaced by a softmax on the posterior mean of an aevb VAE encoder; the
# training budgets are laptop-sized (a few epochs with Adam), not the paper's.

# %%
import inspect
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from aevb import VAE
from aevb.adversarial import attack as adversarial, classifier
from aevb.io import datasets as data
from aevb.core import gradcheck
from aevb.adversarial import tables as tables

QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
print("quick mode" if QUICK else "full mode", "- data from", data.search_dirs())

# %% [markdown]
# ## The softmax layer, by hand
#
# $\mathrm{loss} = -\frac1M \sum_i \log \mathrm{softmax}(a_i)_{y_i}$, computed as
# $a - \max a - \log\sum e^{a - \max a}$ so that logits of any size are safe; its gradient is
# $(\mathrm{softmax}(a) - \mathrm{onehot}(y)) / M$.

# %%
print(inspect.getsource(classifier.log_softmax))
print(inspect.getsource(classifier.softmax_cross_entropy_backward))

# %% [markdown]
# Check: logits of $\pm 1000$ give the exact loss (1000 nats for a label whose logit is 1000
# below the winner) and a finite gradient:

# %%
loss, cache = classifier.softmax_cross_entropy_forward(np.array([[1000.0, 0.0]]), np.array([1]))
print("loss", loss, "gradient", classifier.softmax_cross_entropy_backward(1.0, cache))
assert loss == 1000.0

# %% [markdown]
# ## The gradient with respect to the image
#
# The attack needs $\partial\,\mathrm{loss} / \partial x$: the backward pass of every layer,
# down to the pixels (through the frozen encoder for the VAE-based classifier).

# %%
print(inspect.getsource(classifier.input_gradient))

# %% [markdown]
# Check against central differences, pixel by pixel, on a small two-hidden-layer network:

# %%
rng = np.random.default_rng(0)
small = classifier.make_classifier((7, 5), 1e-4, n_in=13, rng=rng)
x_small = rng.random((2, 13))
y_small = np.array([3, 8])
loss_small, dx_small = classifier.input_gradient(small, x_small, y_small)
err = gradcheck.check_gradient(lambda: classifier.input_gradient(small, x_small, y_small)[0], x_small, dx_small)
print(f"worst relative error of d loss / d x: {err:.1e}")

# %% [markdown]
# ## The models
#
# A VAE first (Algorithm 1, $J = 20$ latent dimensions), whose encoder's posterior mean
# $E[z|x]$ feeds a softmax; then the paper's pixel models. Budgets:

# %%
n_train = 3000 if QUICK else 60000
epochs = 3 if QUICK else 5
vae_budget = 20_000 if QUICK else 300_000
n_examples = 3 if QUICK else 30
budget_note = f"{n_train} training images, {epochs} epochs; VAE {vae_budget:,} samples ({'quick' if QUICK else 'full'} mode; the paper trained to convergence)"
print(budget_note)

# %%
train_full = data.mnist("train_full")
train = data.Dataset(train_full.images[:n_train], train_full.scale, (28, 28), train_full.labels[:n_train])
test = data.mnist("test")
vae = VAE(n_latent=20, n_hidden=100 if QUICK else 500, budget=vae_budget, dtype="float32", rng=0)
vae.fit(data.mnist("train").with_binarization("dynamic"))
print(f"VAE test bound: {vae.score(test.to_float()[:1000], rng=0):.1f} nats")

# %% [markdown]
# ## Table 1: errors and the minimum distortion
#
# `tables.table1` trains the six models, attacks the first test images every model gets
# right (one random target each, the same for every model) and writes the tables, the
# examples and the figure.

# %%
out = Path(tempfile.mkdtemp())
rows = tables.table1(out, train, test, vae=vae.encoder_params_, vae_source="this notebook's VAE", epochs=epochs, n_examples=n_examples)
print((out / "table1.md").read_text())

# %% [markdown]
# One attack, step by step: the line search tried these many values of $c$, and the
# example reaches its target with the distortion shown.

# %%
models = classifier.load_models(out / "models.npz")
examples = dict(np.load(out / "examples.npz"))
x0, label0, target0 = examples["x"][0], int(examples["label"][0]), int(examples["target"][0])
result = adversarial.attack(models["FC100-100-10"], x0, label0, target0)
print(f"label {label0} -> target {target0}: predicted {result.predicted}, distortion {result.distortion:.4f}, c = {result.c:.3g}, {result.n_minimizations} L-BFGS-B runs")
assert result.predicted == target0 and 0 <= result.x_adv.min() and result.x_adv.max() <= 1

# %% [markdown]
# The paper's Figure 5 (its MNIST analogue): original, perturbation (magnified), adversarial.

# %%
fig = tables.plot_examples(None, list(models.values()), examples, note=f"\n{budget_note}")
plt.show()

# %% [markdown]
# ## Table 2: transfer between models, and noise as a control
#
# The error rate of each row's model on the adversarial examples made for each column's
# model (the diagonal is 100 % by construction), and on Gaussian noise clipped to $[0, 1]$.

# %%
transfer = tables.table2(out)
print((out / "table2.md").read_text())

# %% [markdown]
# ## The VAE-encoder classifier against the pixel classifiers
#
# Robustness in the paper's sense: the mean minimum distortion needed to reach a target
# (larger is more robust), and how often the other models' adversarial examples fool it.

# %%
names = list(models)
distortions = [r[3] for r in rows]
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(names, distortions)
ax.set_ylabel("mean minimum distortion")
ax.set_xlabel("model")
ax.set_title(f"Larger = harder to fool ({budget_note})", fontsize=8)
ax.tick_params(axis="x", labelsize=7)
plt.show()

# %%
i = names.index(tables.VAE_MODEL)
others = [j for j in range(len(names)) if j != i]
print(f"{tables.VAE_MODEL}: error on the other models' examples {np.mean(transfer[i, others]):.1%}; the others' mean error on its examples {np.mean(transfer[others, i]):.1%}")

# %% [markdown]
# ## The full run
#
# `results/adversarial/` holds Table 1 and Table 2 from the full command (its README gives
# the command, the budgets and the comparison with the paper's values):

# %%
results = Path("..") / "results" / "adversarial"
for name in ("table1.md", "table2.md"):
    if (results / name).is_file():
        print((results / name).read_text())

# %% [markdown]
# ## Exercises for the reader
#
# 1. The attack follows the gradient of the loss with respect to the *image*. Which of the backward passes you write for the VAE (notebook 3) compute a gradient with respect to an input rather than a parameter, and where would the VAE-encoder classifier need them?
# 2. Table 2 uses random noise of the same size as a control. Why is that control needed before reading anything into the transfer rates?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 1 (linear), the linear layer's backward, also the classifiers' input gradient, in [`aevb/core/layers.py`](../aevb/core/layers.py): `python -m aevb exercises check -k linear`
# * exercise 2 (tanh), the tanh backward the classifiers' hidden layers use, in [`aevb/core/layers.py`](../aevb/core/layers.py): `python -m aevb exercises check -k tanh`
# * exercise 7 (estimator_b), the objective the VAE behind the encoder classifier trains on, in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_b`
