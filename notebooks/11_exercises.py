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
# # 11. Working on an exercise: the KL term of Appendix B
#
# aevb hands out its own code as exercises: `aevb exercises make DIR` writes a copy of the package in which eleven pieces of the paper (and of its wake-sleep baseline) are replaced by `raise NotImplementedError(...)`, and `aevb exercises check DIR` tells you, piece by piece, whether your version is right and, when it is not, which mistake it looks like.
#
# This notebook walks through one exercise from start to finish, the way a student would: the KL divergence of eq. 10, forward and backward. It needs no data and no training (`AEVB_QUICK=1` only makes the last figure coarser).

# %%
import inspect
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import matplotlib.pyplot as plt
import numpy as np

from aevb import exercises

QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
print("quick mode: a coarser figure at the end" if QUICK else "full mode")

# %% [markdown]
# ## The exercises
#
# Each one covers an equation or a section of the paper, and names the functions in which you write it. The later ones call the earlier ones (estimator B runs the whole model), so do them in order.

# %%
for e in exercises.EXERCISES:
    print(f"{e.number:2d}  {e.name:20s} {e.paper:28s} {e.where}")

# %% [markdown]
# ## Make a student version
#
# On the command line this is `aevb exercises make handout/`. Here we write it into a temporary folder. The folder gets `aevb/` (the package with the stubs), a README and `test_exercises.py`.

# %%
handout = tempfile.mkdtemp(prefix="aevb-handout-")
n_regions = exercises.make(handout)
print(n_regions, "regions replaced in", handout)
print(sorted(os.listdir(handout)))

# %% [markdown]
# The KL functions in the handout keep their signatures and docstrings; only the body is gone:

# %%
student = exercises.load_package(handout)
print(inspect.getsource(student.core.distributions.kl_standard_normal_forward))

# %% [markdown]
# ## The equation
#
# With $q_\phi(z|x) = \mathcal N(\mu, \sigma^2 I)$ and $p(z) = \mathcal N(0, I)$, Appendix B integrates each term of $-D_{KL} = \mathbb E_q[\log p(z)] - \mathbb E_q[\log q(z)]$ over one latent unit $j$:
#
# 1. $\mathbb E_q[\log p(z_j)] = -\tfrac12 \log 2\pi - \tfrac12 \mathbb E_q[z_j^2] = -\tfrac12 \log 2\pi - \tfrac12(\mu_j^2 + \sigma_j^2)$, because $\mathbb E[z^2] = \mathrm{mean}^2 + \mathrm{variance}$;
# 2. $\mathbb E_q[\log q(z_j)] = -\tfrac12 \log 2\pi - \tfrac12 \log \sigma_j^2 - \tfrac12 \mathbb E_q[(z_j - \mu_j)^2/\sigma_j^2] = -\tfrac12 \log 2\pi - \tfrac12(1 + \log\sigma_j^2)$;
# 3. subtracting and summing over $j$:
#
# $$-D_{KL}\big(q_\phi(z|x)\,\|\,p(z)\big) = \frac12 \sum_{j=1}^J \left(1 + \log \sigma_j^2 - \mu_j^2 - \sigma_j^2\right).$$
#
# The function returns $D_{KL}$ itself (a non-negative number per datapoint), and the encoder outputs $\log\sigma^2$ (`logvar`), so $\sigma^2$ = `exp(logvar)`. The backward pass needs $\partial D_{KL}/\partial\mu_j = \mu_j$ and $\partial D_{KL}/\partial \log\sigma^2_j = \tfrac12(\sigma_j^2 - 1)$ (the chain rule through $\sigma^2 = e^{\log\sigma^2}$), each times the upstream gradient `dout`.

# %% [markdown]
# ## Run the check before writing anything
#
# `aevb exercises check handout/ -k kl` runs the checks in a child process against the handout's package. It says the exercise is not done yet:

# %%
command = [sys.executable, "-m", "aevb", "exercises", "check", handout, "-k", "kl"]
result = subprocess.run(command, capture_output=True, text=True, timeout=300)
print(result.stdout)

# %% [markdown]
# ## A first attempt, with a classic mistake
#
# Here is a first attempt that copies Appendix B's formula as printed. In the handout you would edit `aevb/core/distributions.py` in your editor; `exercises.fill_stub` does the same edit from the notebook (one block of code per stub: the forward, then the backward).

# %%
attempt_forward = """
var = np.exp(logvar)
kl = 0.5 * np.sum(1.0 + logvar - mean ** 2 - var, axis=-1)
return kl, (mean, var)
"""
attempt_backward = """
mean, var = cache
return dout[:, None] * mean, dout[:, None] * 0.5 * (var - 1.0)
"""
changed = exercises.fill_stub(handout, "kl", [attempt_forward, attempt_backward])
print("edited", changed)

# %% [markdown]
# The checks run in-process too (`exercises.run_checks`), which is quicker inside a notebook. Each failure says which exercise, which quantity, the worst coordinate with both values, and which mistake it looks like:

# %%
student = exercises.load_package(handout)
for r in exercises.run_checks(student, ["kl"]):
    print("pass" if r.passed else "FAIL", r.check.name)
    print("   ", r.message.replace("\n", "\n    "))

# %% [markdown]
# The forward is $-D_{KL}$, the formula as Appendix B prints it: the wrong sign. The backward check fails as well although the backward itself is right, because the finite differences are taken of *your* forward: fix the forward first. Only the sign of the forward changes:

# %%
answer_file = pathlib.Path(handout, "aevb", "core", "distributions.py")
fixed = answer_file.read_text().replace("kl = 0.5 * np.sum(", "kl = -0.5 * np.sum(")
n_chars = answer_file.write_text(fixed)

# %%
student = exercises.load_package(handout)
for r in exercises.run_checks(student, ["kl"]):
    print("pass" if r.passed else "FAIL", r.check.name, r.message)

# %% [markdown]
# ## What the checks compare with
#
# A gradient check compares your backward with your forward, so it cannot catch a wrong forward. The forward is compared with the KL computed **as an integral**, $\int q(z)\,[\log q(z) - \log p(z)]\,dz$ by the trapezoid rule, never with Appendix B's formula. The backward is compared with central differences in float64,
#
# $$\frac{\partial f}{\partial x} \approx \frac{f(x + h) - f(x - h)}{2h},$$
#
# whose error is $O(h^2)$ from truncation plus about $10^{-16}|f|/h$ from rounding. The figure shows both for $\partial D_{KL}/\partial\log\sigma^2$ at one coordinate: too large a step and the parabola's curvature shows, too small and rounding dominates. The checks use $h = 10^{-5}$, near the bottom. (No training: this figure needs no budget.)

# %%
mean = np.array([[0.3, -1.2]])
logvar = np.array([[0.8, -0.4]])
_, cache = student.core.distributions.kl_standard_normal_forward(mean, logvar)
exact = student.core.distributions.kl_standard_normal_backward(np.ones(1), cache)[1][0, 0]
steps = np.logspace(-12, -0.5, 25 if QUICK else 80)
kl_at = lambda t: student.core.distributions.kl_standard_normal_forward(mean, logvar + [[t, 0.0]])[0][0]  # noqa: E731
errors = [abs((kl_at(h) - kl_at(-h)) / (2 * h) - exact) / abs(exact) for h in steps]

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(steps, errors, "o-", markersize=3)
ax.axvline(1e-5, color="gray", linestyle=":", label="h used by the checks")
ax.set_xlabel("finite-difference step h")
ax.set_ylabel("relative error of dKL / dlogvar")
ax.set_title("Central differences in float64 (no training)")
ax.legend()
plt.show()

# %% [markdown]
# ## Next
#
# * `aevb exercises check handout/` runs all eleven; `-k NAME` one of them.
# * The instructor's guide, with the table from exercises to equations and a grading loop, is `exercises/README.md`.
# * The reference solution is the library itself: `inspect.getsource(aevb.core.distributions.kl_standard_normal_forward)`, after you are done.

# %% [markdown]
# The temporary handout is no longer needed:

# %%
shutil.rmtree(handout)
