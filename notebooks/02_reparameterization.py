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
# # 2. The reparameterization trick and the SGVB estimators (Sections 2.2–2.4, eqs. 4–8)
#
# Notebook 1 showed that the bound $\mathcal L(\theta, \phi; x)$ is worth maximizing. To follow its gradient in the encoder's parameters $\phi$ we must differentiate an expectation whose distribution $q_\phi(z|x)$ itself depends on $\phi$. Section 2.2 names the textbook answer (the score-function or "naive" estimator) and says it "exhibits very high variance"; Sections 2.3–2.4 replace it with the reparameterization trick.
#
# This notebook derives both gradients, shows the code of each, and measures their variance on the **same** bound, the **same** trained model and the **same** minibatch as the number of noise samples $L$ grows. The paper shows no such figure; this is the comparison Section 2.2 makes in words.
#
# `AEVB_QUICK=1` trains the model for $5 \times 10^4$ samples and draws each gradient 10 times per setting, for $L$ up to 20 (well under a minute); the full mode trains for $2 \times 10^5$ samples and draws 100 times, for $L$ up to 50. The paper's models train to $10^8$ samples; variance ratios of this size do not need a converged model, but their exact values depend on the model.

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
# ## The equations
#
# **The naive gradient (Section 2.2).** For a function $f(z)$,
#
# $$\nabla_\phi\, \mathbb{E}_{q_\phi(z)}[f(z)] = \mathbb{E}_{q_\phi(z)}\big[f(z)\, \nabla_\phi \log q_\phi(z)\big] \simeq \frac1L \sum_{l=1}^L f(z^{(l)})\, \nabla_\phi \log q_\phi(z^{(l)}), \qquad z^{(l)} \sim q_\phi(z|x).$$
#
# **The reparameterization (eq. 4).** Write the random $z$ as a deterministic, differentiable function of $\phi$ and of noise with a fixed distribution:
#
# $$\tilde z = g_\phi(\epsilon, x), \qquad \epsilon \sim p(\epsilon); \qquad \text{for the VAE: } z = \mu + \sigma \odot \epsilon,\ \ \epsilon \sim \mathcal N(0, I).$$
#
# Then (eq. 5) $\mathbb{E}_{q_\phi(z|x)}[f(z)] \simeq \frac1L \sum_l f(g_\phi(\epsilon^{(l)}, x))$, and two estimators of the bound follow:
#
# $$\tilde{\mathcal L}^A(x) = \frac1L \sum_{l=1}^L \log p_\theta(x, z^{(l)}) - \log q_\phi(z^{(l)}|x) \qquad (6)$$
#
# $$\tilde{\mathcal L}^B(x) = -D_{KL}\big(q_\phi(z|x)\,\|\,p_\theta(z)\big) + \frac1L \sum_{l=1}^L \log p_\theta(x|z^{(l)}) \qquad (7)$$
#
# and for a data set of $N$ points, a minibatch $X^M$ of $M$ of them gives (eq. 8)
#
# $$\mathcal L(\theta, \phi; X) \simeq \tilde{\mathcal L}^M(\theta, \phi; X^M) = \frac NM \sum_{i=1}^M \tilde{\mathcal L}(\theta, \phi; x^{(i)}). \qquad (8)$$

# %% [markdown]
# ## The derivation the paper skips
#
# **Why the naive gradient holds.** Move the gradient inside the integral and use $\nabla q = q\,\nabla \log q$:
# $\nabla_\phi \int q_\phi(z) f(z)\,dz = \int f(z)\,\nabla_\phi q_\phi(z)\,dz = \int q_\phi(z)\, f(z)\, \nabla_\phi \log q_\phi(z)\,dz$.
# It uses only the *values* of $f$. Adding a constant $c$ to $f$ changes nothing in expectation, because $\mathbb{E}_q[\nabla_\phi \log q] = \int \nabla_\phi q = \nabla_\phi \int q = \nabla_\phi 1 = 0$, but it changes every single draw: with $f = \log p(x, z) - \log q(z|x)$ of the order of $-200$ nats on MNIST, each draw is a large multiple of a zero-mean vector. Hence the variance.
#
# **Why the reparameterized gradient holds.** If $\epsilon \sim p(\epsilon)$ and $z = g_\phi(\epsilon, x)$ has the distribution $q_\phi(z|x)$, then $\mathbb{E}_{q_\phi(z|x)}[f(z)] = \mathbb{E}_{p(\epsilon)}[f(g_\phi(\epsilon, x))]$ (a change of variables: $q_\phi(z|x)\,dz = p(\epsilon)\,d\epsilon$). Now the distribution no longer depends on $\phi$, so the gradient goes inside:
# $\nabla_\phi\, \mathbb{E}_{p(\epsilon)}[f(g_\phi(\epsilon, x))] = \mathbb{E}_{p(\epsilon)}\big[\nabla_z f(z)\big|_{z = g_\phi(\epsilon, x)}\ \partial g_\phi(\epsilon, x) / \partial \phi\big]$.
# It uses the *slope* of $f$, which for a smooth decoder barely changes from one draw to the next.
#
# **For the Gaussian $q$.** With $\sigma_j = \exp(\tfrac12 \log \sigma_j^2)$, the chain rule through $z_j = \mu_j + \sigma_j \epsilon_j$ gives
# $\partial z_j / \partial \mu_j = 1$ and $\partial z_j / \partial \log\sigma_j^2 = \tfrac12 \sigma_j \epsilon_j$;
# the encoder's backward pass (notebook 3) carries these to $\phi$.
#
# **Why eq. 8 is unbiased.** $\sum_{i=1}^N \mathcal L(x^{(i)}) = N \cdot \frac1N \sum_i \mathcal L(x^{(i)})$, and the mean over a uniformly drawn minibatch is an unbiased estimate of the mean over the data set. So $\frac NM \sum_{i \in X^M}$ estimates the sum.

# %% [markdown]
# ## The functions that implement it
#
# The reparameterization; note that `logvar` is $\log \sigma^2$, so the standard deviation is `exp(logvar / 2)`:

# %%
print(inspect.getsource(aevb.core.distributions.reparameterize_forward))

# %% [markdown]
# The naive gradient, for comparison (it never differentiates through $z$):

# %%
print(inspect.getsource(aevb.core.sgvb.score_function_gradient))

# %% [markdown]
# Estimators A (eq. 6) and B (eq. 7) share one forward pass; the branch on `estimator` is the only difference. `sgvb.sgvb` runs it and the backward pass; `minibatch_estimate` is eq. 8.

# %%
print(inspect.getsource(aevb.core.sgvb._forward))
print(inspect.getsource(aevb.core.sgvb.minibatch_estimate))

# %% [markdown]
# ## Check 1: the reparameterized samples have the distribution $q$
#
# A gradient check cannot tell $\sigma$ from $\sigma^2$ (the forward would be wrong and its gradient still consistent). Draw $10^5$ samples at a fixed mean and log-variance and compare their mean and variance with $\mu$ and $\sigma^2 = e^{\log \sigma^2}$:

# %%
rng = np.random.default_rng(0)
mean_q = np.array([[0.5, -1.0, 2.0]])
logvar_q = np.array([[-1.0, 0.0, 1.5]])
z, _ = aevb.core.distributions.reparameterize_forward(mean_q, logvar_q, rng.standard_normal((100_000, 1, 3)))
print("sample mean    ", np.round(z.mean(axis=0)[0], 3), " expected", mean_q[0])
print("sample variance", np.round(z.var(axis=0)[0], 3), " expected", np.round(np.exp(logvar_q[0]), 3))
assert np.allclose(z.mean(axis=0), mean_q, atol=0.03)
assert np.allclose(z.var(axis=0), np.exp(logvar_q), rtol=0.03)

# %% [markdown]
# ## A model to measure
#
# A VAE ($N_z = 5$, 100 hidden units) trained on MNIST with Algorithm 1, and one minibatch of $M = 100$ test digits; trained in float32, measured in float64. Adagrad's first 100 steps ($10^4$ samples) only accumulate squared gradients, so a budget must be well past that for the model to have learned anything.

# %%
budget = 50_000 if QUICK else 200_000
budget_note = f"model trained on {budget:,} samples ({'quick' if QUICK else 'full'} mode; the paper's models train to 10^8)"
train = data.mnist("train").with_binarization("dynamic")
x = data.load_mnist("test", binarize="fixed", rng=0)[:100]
vae = VAE(n_latent=5, n_hidden=100, budget=budget, dtype="float32", rng=0).fit(train)
enc = vae.encoder_params_.astype(np.float64)
dec = vae.decoder_params_.astype(np.float64)
print(budget_note, "- test bound on this minibatch:", round(vae.score(x, rng=0), 1), "nats")

# %% [markdown]
# ## Check 2: three gradients of the same bound, and their variance
#
# For each $L$, draw the noise $R$ times and compute each estimator's gradient for all encoder parameters $\phi$, flattened; the variance of each coordinate over the $R$ draws, averaged over coordinates, measures the noise. (`denc` is the gradient of the loss, minus the bound; the sign does not change a variance.)

# %%
grad = {
    "naive (score function)": lambda eps: aevb.core.sgvb.score_function_gradient(enc, dec, x, eps),
    "A (eq. 6)": lambda eps: aevb.core.sgvb.sgvb(enc, dec, x, eps, "A").denc,
    "B (eq. 7)": lambda eps: aevb.core.sgvb.sgvb(enc, dec, x, eps, "B").denc,
}
Ls = [1, 2, 5, 10, 20] if QUICK else [1, 2, 5, 10, 50]
R = 10 if QUICK else 100
variance = {}
mean_grad = {}
for name, g in grad.items():
    for L in Ls:
        G = np.stack([np.concatenate([a.ravel() for a in g(rng.standard_normal((L, 100, 5))).arrays()]) for _ in range(R)])
        variance[name, L] = G.var(axis=0, ddof=1).mean()        # mean over the parameters
        mean_grad[name, L] = G.mean(axis=0)

# %%
for L in Ls:
    naive_over_b = variance["naive (score function)", L] / variance["B (eq. 7)", L]
    a_over_b = variance["A (eq. 6)", L] / variance["B (eq. 7)", L]
    print(f"L = {L:3d}: naive / B = {naive_over_b:10.0f}x,  A / B = {a_over_b:.2f}x")
ratio = variance["naive (score function)", 1] / variance["B (eq. 7)", 1]
slope = np.polyfit(np.log(Ls), np.log([variance["B (eq. 7)", L] for L in Ls]), 1)[0]
print(f"At L = 1 the naive gradient's variance is {ratio:.0f} times estimator B's: it would need about {ratio:.0f} times more samples.")
print(f"The variance of B's gradient falls like L^{slope:.2f} (independent draws: L^-1).")
assert ratio > 100, ratio

# %% [markdown]
# Each variance is itself estimated from $R$ draws, so it is uncertain: with $R = 10$ (quick mode) the ratio A / B wanders from one $L$ to the next, and only its order of magnitude means anything. The naive / B ratio is large enough that this noise does not matter.
#
# **The figure.** Gradient variance against $L$, log–log. Averaging $L$ independent draws divides a variance by $L$ (slope $-1$), so the vertical distance between two lines is the factor of extra samples one estimator would need to match the other.

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for name in grad:
    ax.loglog(Ls, [variance[name, L] for L in Ls], "o-", label=name)
ax.set_xlabel("samples per datapoint L")
ax.set_ylabel("variance of the encoder gradient\n(mean over the parameters φ)")
ax.set_title(f"{R} draws per point; {budget_note}", fontsize=8)
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Check 3: A or B?
#
# Section 2.3 says B "typically has less variance" than A. B computes the KL term exactly where A samples it; but A's sampled term, $\log p(z) - \log q(z|x)$, also moves against the reconstruction term (a draw far from the posterior mean, with large $|\epsilon|$, reconstructs worse and has a larger $-\log q$), so it can act as a control variate. `tests/core/test_sgvb.py` finds B below A on small random models. On this model, for the gradient, the ratios A / B are printed above; for the value of the bound itself, with many single-sample draws:

# %%
n_draws = 1000 if QUICK else 20_000
eps = rng.standard_normal((n_draws, 1, 100, 5))
value = {est: np.stack([aevb.core.sgvb.lower_bound(enc, dec, x, e, est) for e in eps]) for est in "AB"}   # (draws, 100)
var_a = value["A"].var(axis=0).mean()
var_b = value["B"].var(axis=0).mean()
mean_a = value["A"].mean()
mean_b = value["B"].mean()
se = np.sqrt((value["A"].mean(axis=1).var() + value["B"].mean(axis=1).var()) / n_draws)
print(f"variance of the single-sample bound per datapoint: A {var_a:.2f}, B {var_b:.2f} nats^2 (A / B = {var_a / var_b:.2f})")
print(f"mean bound over the minibatch: A {mean_a:.3f}, B {mean_b:.3f} nats (the same quantity; standard error {se:.3f})")
print("here B has the lower variance" if var_b < var_a else "here A has the lower variance: the paper's 'typically' does not hold for this model")
assert abs(mean_a - mean_b) < 4 * se + 1e-9, "A and B do not estimate the same bound"

# %% [markdown]
# ## Check 4: the three gradients estimate the same thing
#
# Their means over the draws agree up to Monte Carlo noise (`tests/core/test_sgvb.py::test_score_function_gradient_is_unbiased_but_noisier` checks this with 20,000 draws). With the few draws here only the two reparameterized estimators are precise enough to compare:

# %%
L = Ls[-1]
a = mean_grad["A (eq. 6)", L]
b = mean_grad["B (eq. 7)", L]
print(f"relative distance between the mean gradients of A and B at L = {L}, {R} draws: {np.linalg.norm(a - b) / np.linalg.norm(b):.3f}")

# %% [markdown]
# ## Check 5: eq. 8 estimates the sum over the data set
#
# Fix the noise, compute the single-sample bound of each of $N = 1000$ test digits, and compare the exact sum with the average of eq. 8 over many random minibatches of $M = 100$:

# %%
x_all = data.load_mnist("test", binarize="fixed", rng=0)[:1000]
bound_all = aevb.core.sgvb.lower_bound(enc, dec, x_all, rng.standard_normal((1, 1000, 5)))   # (1000,)
estimates = [aevb.core.sgvb.minibatch_estimate(bound_all[rng.choice(1000, 100, replace=False)], 1000) for _ in range(5000)]
se8 = np.std(estimates) / np.sqrt(len(estimates))
print(f"sum over the N = 1000 digits {bound_all.sum():.1f}; mean of eq. 8 over 5000 minibatches {np.mean(estimates):.1f} (s.e. {se8:.1f})")
assert abs(np.mean(estimates) - bound_all.sum()) < 4 * se8

# %% [markdown]
# Section 2.4 lists three routes to such a $g_\phi$: a tractable inverse CDF (Exponential, Cauchy, Logistic, Rayleigh, Pareto, Weibull, Reciprocal, Gompertz, Gumbel, Erlang), location-scale families (Laplace, Elliptical, Student's t, Logistic, Uniform, Triangular, Gaussian) and compositions (Log-Normal, Gamma, Dirichlet, Beta, Chi-squared, F). The VAE here uses the Gaussian, as the paper's experiments do; notebook 9 samples from the others and breaks the variance measured here down by parameter group (`aevb.inference.variance`).

# %% [markdown]
# ## Exercises for the reader
#
# 1. Check 1 compares the samples' moments with $\mu$ and $\sigma^2$. What would it print if `reparameterize_forward` used `exp(logvar)` as the standard deviation, and would a gradient check (notebook 3) notice?
# 2. Check 2 says B's gradient variance falls like $L^{-1}$. Add $L = 100$ to `Ls`: does the slope stay near $-1$, and how does the naive / B ratio move with $L$?
# 3. Check 3 measures which of A and B has the lower variance on this model. Train longer (raise `budget`) and rerun it: does the answer change?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 6 (reparameterize), $z = \mu + \sigma \epsilon$ (Check 1 samples it), in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k reparameterize`
# * exercise 8 (estimator_a), eq. 6, the gradient A of Checks 2 and 3, in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_a`
# * exercise 7 (estimator_b), eq. 7 and eq. 8 (Check 5), in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_b`
