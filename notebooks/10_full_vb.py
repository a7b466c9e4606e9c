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
# # 10. Full variational Bayes: a posterior over the decoder's weights too (Appendix F, Algorithm 2)
#
# Everywhere else in the paper the decoder's parameters $\theta$ are a point: maximum likelihood, or MAP with the weight prior of Section 5. Appendix F gives them a posterior as well, $q_\phi(\theta) = \mathcal N(\mu_\theta, \sigma_\theta^2 I)$, and derives a bound on the marginal likelihood of the whole data set, $\log p_\alpha(X)$. The paper leaves experiments with it "to future work"; this notebook derives the objective step by step, shows the code that implements it (`aevb.inference.fullvb`, `aevb.inference.fullvb_train`), checks it, trains it, and shows what a posterior over the weights gives that the MAP point does not.
#
# `AEVB_QUICK=1` trains a small model (J = 5, 50 hidden units) on 1,000 digits for $2 \times 10^4$ samples (well under a minute); the full mode trains J = 20, 500 hidden units on the 50,000 training digits for $10^6$ samples in float32, one $\theta$ draw per minibatch (two full-VB models and one AEVB model: about 10 minutes of CPU on one core in total; one full-VB run of `benchmarks/fullvb_mnist.py` used 166 s of CPU). Neither is the paper's $10^8$ samples, and the paper has no full-VB numbers to compare with.

# %%
import inspect
import os

import matplotlib.pyplot as plt
import numpy as np

import aevb
from aevb import VAE
from aevb.io import datasets as data
from aevb.inference import fullvb
from aevb.core.gradcheck import check_gradient

QUICK = os.environ.get("AEVB_QUICK", "0") == "1"
print("quick mode" if QUICK else "full mode", "- data from", data.search_dirs())

# %% [markdown]
# ## The derivation, step by step
#
# **1. The marginal likelihood of the data set.** With a hyperprior $p_\alpha(\theta)$ and any $q_\phi(\theta)$,
# $$\log p_\alpha(X) = D_{KL}(q_\phi(\theta)\,\|\,p_\alpha(\theta|X)) + \mathcal L(\phi; X),\qquad
# \mathcal L(\phi; X) = \int q_\phi(\theta)\,\big(\log p_\theta(X) + \log p_\alpha(\theta) - \log q_\phi(\theta)\big)\,d\theta ,$$
# so $\mathcal L(\phi; X) = \mathbb E_{q(\theta)}[\log p_\theta(X)] - D_{KL}(q_\phi(\theta)\|p_\alpha(\theta))$ is a lower bound on $\log p_\alpha(X)$ (the KL to the true posterior is $\ge 0$). This is the quantity we report, divided by $N$: **the eq. 14 bound per datapoint**.
#
# **2. Each datapoint's likelihood is bounded as in Section 2.** $\log p_\theta(X) = \sum_i \log p_\theta(x_i) \ge \sum_i \mathcal L(\theta, \phi; x_i)$ with
# $\mathcal L(\theta, \phi; x) = \mathbb E_{q_\phi(z|x)}[\log p_\theta(x|z) + \log p_\theta(z) - \log q_\phi(z|x)]$. Substituting,
# $$\mathcal L(\phi; X) \;\ge\; \mathbb E_{q(\theta)}\Big[\sum_{i=1}^N \mathcal L(\theta, \phi; x_i)\Big] - D_{KL}(q_\phi(\theta)\|p_\alpha(\theta)).$$
#
# **3. Reparameterize both noises.** $z = \mu_z(x) + \sigma_z(x) \odot \epsilon$ and $\theta = \mu_\theta + \sigma_\theta \odot \zeta$, with $\epsilon, \zeta \sim \mathcal N(0, I)$. Replacing the sum over $i$ by $N$ times a random datapoint, the whole bound is the expectation over $(x, \epsilon, \zeta)$ of the per-sample function (eq. 21)
# $$f(x, z, \theta) = N\big(\log p_\theta(x|z) + \log p_\theta(z) - \log q_\phi(z|x)\big) + \log p_\alpha(\theta) - \log q_\phi(\theta).$$
# Algorithm 2 averages $\nabla_\phi f$ over $L$ draws of $(x, \epsilon, \zeta)$, **each with its own $x$, $\epsilon$ and $\zeta$**.
#
# **4. Closed-form KL terms (F.1, eq. 24).** With $p_\alpha(\theta) = \mathcal N(\theta; 0, I)$ (**erratum:** the paper prints $\mathcal N(z; 0, I)$ here) both Gaussian KLs are analytic (Appendix B), which removes their sampling noise:
# $$\tilde{\mathcal L}(\phi; X) = \frac1L \sum_{l=1}^L N\Big(\tfrac12 \sum_j (1 + \log \sigma_{z,j}^2 - \mu_{z,j}^2 - \sigma_{z,j}^2) + \log p_\theta(x^{(l)}|z^{(l)})\Big) + \tfrac12 \sum_k (1 + \log \sigma_{\theta,k}^2 - \mu_{\theta,k}^2 - \sigma_{\theta,k}^2).$$
# The hyperprior covers every decoder parameter, biases included.
#
# **5. Minibatch scaling.** Taking $L = M$ (one minibatch) and multiplying by $M/N$ — the scale at which `aevb.core.sgvb` and Adagrad run — gives the per-minibatch objective
# $$\sum_{i=1}^M \mathcal L(\theta_{(i)}, \phi; x_i) \;-\; \tfrac{M}{N}\, D_{KL}(q(\theta)\|p(\theta)):$$
# the datapoint terms once each, the once-per-data-set KL over $\theta$ times $M/N$.
#
# **6. The chain rule through $\theta$.** The decoder's backward pass at $\theta_s$ gives $\partial\ell/\partial\theta_s$ (the same code as AEVB). Then
# $$\frac{\partial \ell}{\partial \mu_\theta} = \sum_s \frac{\partial \ell}{\partial \theta_s},\qquad
# \frac{\partial \ell}{\partial \log\sigma_\theta^2} = \frac{\sigma_\theta}{2} \sum_s \frac{\partial \ell}{\partial \theta_s} \odot \zeta_s ,$$
# plus the KL's own gradients $\tfrac{M}{N}\mu_\theta$ and $\tfrac{M}{N}(\sigma_\theta^2 - 1)/2$.
#
# **A practical departure.** A fresh $\zeta$ for every datapoint costs $M \times$ (number of decoder parameters) normal draws per step: 40 million for the paper's MNIST decoder, about 60 times an AEVB step. `theta_draws = S` shares each draw between $M/S$ points of a minibatch; the estimate stays unbiased, with more variance. $S = M$ is Algorithm 2 as written.

# %% [markdown]
# ## The code
#
# $q(\theta)$ lives in a container of two decoder-shaped containers, `mean` ($\mu_\theta$) and `logvar` ($\log\sigma_\theta^2$). Sampling $\theta$ reuses the $z$-reparameterization of Section 2.4 field by field:

# %%
print(inspect.getsource(fullvb.weight_sample_forward))
print(inspect.getsource(fullvb.weight_sample_backward))
print(inspect.getsource(fullvb.kl_weights_forward))

# %% [markdown]
# The objective and all its gradients, by hand: the encoder as in AEVB, the decoder run once per $\theta$ draw on its rows, then the chain rule of step 6.

# %%
print(inspect.getsource(fullvb.full_vb))

# %% [markdown]
# ## Checks
#
# **Every gradient against central differences** (float64, small odd shapes, $\epsilon$ and $\zeta$ fixed, two $\theta$ draws shared by three rows each, estimator A of eq. 21):

# %%
rng = np.random.default_rng(0)
enc = aevb.core.networks.init_gaussian_mlp(7, 5, 3, rng=rng, std=0.5)
q = fullvb.WeightPosterior(aevb.core.networks.init_bernoulli_mlp(3, 5, 7, rng=rng, std=0.5), None)
q.logvar = q.mean.map(lambda a: -1.5 + 0.5 * rng.standard_normal(a.shape))
x = (rng.random((6, 7)) > 0.5).astype(float)
eps, zeta = rng.standard_normal((1, 6, 3)), q.draw_zeta(2, rng)
res = fullvb.full_vb(enc, q, x, eps, zeta, n_data=37, estimator="A")
loss = lambda: -fullvb.full_vb(enc, q, x, eps, zeta, n_data=37, estimator="A").objective
errors = {f"{p}.{n}": check_gradient(loss, a, getattr(g, n), tol=1e-6) for p, params, g in [("enc", enc, res.denc), ("mean", q.mean, res.dmean), ("logvar", q.logvar, res.dlogvar)] for n, a in params.items()}
print(f"worst relative error over {len(errors)} arrays: {max(errors.values()):.1e}")

# %% [markdown]
# **The closed-form KL over $\theta$ against Monte Carlo.** A gradient check cannot catch a wrong forward, so the KL is compared with the average of $\log q(\theta) - \log p(\theta)$ over draws, the densities written out here:

# %%
mu = np.concatenate([a.ravel() for a in q.mean.arrays()])
lv = np.concatenate([a.ravel() for a in q.logvar.arrays()])
theta = mu + np.exp(0.5 * lv) * rng.standard_normal((20_000, mu.size))
log_ratio = (-0.5 * ((theta - mu) ** 2 / np.exp(lv) + lv) + 0.5 * theta ** 2).sum(axis=1)
print(f"closed form {fullvb.kl_weights_forward(q)[0]:.3f}, Monte Carlo {log_ratio.mean():.3f} ± {log_ratio.std() / np.sqrt(log_ratio.size):.3f}")

# %% [markdown]
# **Eq. 21 and eq. 24 estimate the same thing.** Over many $(\epsilon, \zeta)$ the two objectives agree on average; eq. 24 has the smaller spread:

# %%
pairs = np.array([[fullvb.full_vb(enc, q, x, e, z, n_data=6, estimator=k).objective for k in "AB"] for e, z in ((rng.standard_normal((1, 6, 3)), q.draw_zeta(6, rng)) for _ in range(300))])
print(f"eq. 21: {pairs[:, 0].mean():.2f} (sd {pairs[:, 0].std():.2f});  eq. 24: {pairs[:, 1].mean():.2f} (sd {pairs[:, 1].std():.2f});  standard error of the difference {(pairs[:, 0] - pairs[:, 1]).std() / np.sqrt(len(pairs)):.2f}")

# %% [markdown]
# **With $\sigma_\theta \to 0$ it is AEVB.** Take the KL over $\theta$ out and shrink $\sigma_\theta$ to $10^{-13}$: the objective and the gradient for $\mu_\theta$ are those of `aevb.core.sgvb` at $\theta = \mu_\theta$ (a wrong scaling in the chain rule would show here):

# %%
tiny = fullvb.WeightPosterior(q.mean, q.mean.map(lambda a: np.full_like(a, -60.0)))
r = fullvb.full_vb(enc, tiny, x, eps, tiny.draw_zeta(6, rng), n_data=50)
ref = aevb.core.sgvb.sgvb(enc, q.mean, x, eps)
print("objective:", r.objective + 6 / 50 * r.kl_theta, "vs", ref.objective)
print("max |dmean - ddec|:", max(np.abs(getattr(r.dmean, n) - 6 / 50 * a - getattr(ref.ddec, n)).max() for n, a in q.mean.items()))

# %% [markdown]
# ## Training on MNIST: full VB next to AEVB at the same budget
#
# Same data protocol (dynamic binarization), initialization, Adagrad step size 0.01 and warm-up for all models; $\sigma_\theta$ starts at $e^{-5} \approx 0.0067$. The gradient for $\log\sigma_\theta^2$ is small against its noise (the KL gives $\tfrac{M}{N}(\sigma^2-1)/2$ per step, the data term a noisy $\tfrac{\sigma}{2}\,\partial\ell/\partial\theta\,\zeta$), so at the global step size Adagrad barely moves it; a second full-VB model gives $\log\sigma_\theta^2$ its own Adagrad step size, `logvar_lr = 1`.

# %%
train = data.mnist("train").with_binarization("dynamic")
test = data.load_mnist("test", binarize="fixed", rng=0)[:1000].astype(np.float32)
train_eval = data.load_mnist("train", binarize="fixed", rng=1)[:1000].astype(np.float32)
if QUICK:
    train = data.Dataset(train.images[:1000], train.scale, train.image_shape, binarize="dynamic")
J, H, budget, S = (5, 50, 20_000, 10) if QUICK else (20, 500, 1_000_000, 1)
settings = dict(n_hidden=H, budget=budget, lr=0.01, dtype="float32", rng=0)
models = {"full VB": aevb.FullVB(J, theta_draws=S, **settings).fit(train)}
models["full VB, logvar_lr = 1"] = aevb.FullVB(J, theta_draws=S, logvar_lr=1.0, **settings).fit(train)
vae = VAE(J, **settings).fit(train)

# %% [markdown]
# For full VB, `bound` returns the eq. 14 bound per datapoint (on training points: $\overline{\mathbb E_q \mathcal L} - D_{KL}(q(\theta)\|p(\theta))/N$), the expected per-datapoint bound $\overline{\mathbb E_q \mathcal L}$ (on test points, a lower bound on the log predictive density) and $D_{KL}/N$. AEVB's bound is $\mathcal L(\theta_{MAP}, \phi; x)$, a bound on $\log p_{\theta_{MAP}}(x)$ rather than on $\log p_\alpha(X)/N$.

# %%
print(f"{budget:,} samples, J = {J}, {H} hidden, {len(train):,} training digits, float32, theta draws per minibatch S = {S}")
for name, m in models.items():
    b_train, e_train, kl_n = m.bound(train_eval, rng=1, n_train=len(train))
    e_test = m.bound(test, rng=2, n_train=len(train))[1]
    sigma = np.concatenate([np.exp(0.5 * a).ravel() for a in m.weight_posterior_.logvar.arrays()])
    print(f"{name:24s} eq. 14 bound (train) {b_train:7.1f} = E_q[L] {e_train:7.1f} - KL/N {kl_n:5.1f};  test E_q[L] {e_test:7.1f};  median sigma_theta {np.median(sigma):.4f}")
print(f"{'AEVB (MAP decoder)':24s} train bound {vae.score(train_eval, rng=1):7.1f};  test bound {vae.score(test, rng=2):7.1f}")

# %% [markdown]
# ## What the posterior over the weights gives that the MAP point does not
#
# The MAP decoder turns one $z$ into one image. Under $q(\theta)$ the same $z$ decodes to a distribution of images: here $z = \mu_z(x)$ of one test digit, decoded by 16 draws $\theta \sim q(\theta)$ of the model with `logvar_lr = 1`, then the per-pixel standard deviation of the decoded mean over 200 draws. The spread says where the model is unsure of its own decoder, a quantity AEVB's point estimate does not have.

# %%
fvb = models["full VB, logvar_lr = 1"]
z = fvb.transform(test[:1])
thetas = fvb.sample_decoders(200, rng=3)
decoded = np.stack([fvb.decode(z, t)[0] for t in thetas])
print(f"mean per-pixel sd across theta draws: {decoded.std(axis=0).mean():.4f} (MAP decoder: a single image, sd 0)")

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
axes[0].imshow(aevb.plotting.image_grid(decoded[:16], (28, 28), 4), cmap="gray")
axes[0].set_title("16 draws of theta, one z")
axes[1].imshow(vae.decode(vae.transform(test[:1]))[0].reshape(28, 28), cmap="gray")
axes[1].set_title("AEVB's MAP decoder, same digit")
im = axes[2].imshow(decoded.std(axis=0).reshape(28, 28), cmap="magma")
axes[2].set_title("pixel sd, 200 theta draws")
plt.colorbar(im, ax=axes[2])
for ax in axes:
    ax.set_xlabel("pixel column")
    ax.set_ylabel("pixel row")
fig.suptitle(f"MNIST, J = {J}, {H} hidden, {budget:,} samples (paper: 10^8, no full-VB results)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## What sharing a $\theta$ draw costs in variance
#
# Algorithm 2 draws a fresh $\zeta$ for every datapoint ($S = M$); the runs above share one draw per minibatch ($S = 1$ in full mode) because $S = M$ costs $M$ times as many normal draws. Both estimate the same gradient. On one minibatch of 100 training digits, at the trained model with `logvar_lr = 1`, here is the total variance (summed over coordinates) of each gradient group over 30 fresh draws of $(\epsilon, \zeta)$:

# %%
xb = train.batch(np.arange(100), np.float32, np.random.default_rng(5))
noise = np.random.default_rng(6)
draw = lambda S: fullvb.full_vb(fvb.encoder_params_, fvb.weight_posterior_, xb, noise.standard_normal((1, 100, J), dtype=np.float32), fvb.weight_posterior_.draw_zeta(S, noise), n_data=len(train))
total_var = lambda grads: sum(float(np.var(np.stack(a), axis=0).sum()) for a in zip(*[g.arrays() for g in grads]))
for S in (1, 10, 100):
    runs_S = [draw(S) for _ in range(30)]
    print(f"S = {S:3d}: var(encoder) {total_var([r.denc for r in runs_S]):10.3g}   var(mu_theta) {total_var([r.dmean for r in runs_S]):10.3g}   var(logvar_theta) {total_var([r.dlogvar for r in runs_S]):10.3g}")

# %% [markdown]
# ## Exercises for the reader
#
# 1. The last cell shares $S$ draws of the decoder's weights $\theta$ among the minibatch's 100 digits. Which of the three gradients (encoder, $\mu_\theta$, $\log\sigma^2_\theta$) does $S$ change the variance of most, and why would you expect that one?
# 2. The KL of the weights to their prior counts once per data set, so `full_vb` scales it by $M/N$ per minibatch, like the MAP prior in eq. 8. What would scaling it by 1 per minibatch do to the learned $\log \sigma^2_\theta$?
#
# **In a handout** (made by `aevb exercises make DIR`), this notebook runs on your own code. It uses the exercises below: do one in the file named, check it from the handout folder, then restart the kernel and rerun this notebook.
#
# * exercise 7 (estimator_b), the latent terms `full_vb` reuses with `estimator="B"`, in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_b`
# * exercise 8 (estimator_a), the same with `estimator="A"` (the checks), in [`aevb/core/sgvb.py`](../aevb/core/sgvb.py): `python -m aevb exercises check -k estimator_a`
# * exercise 5 (kl), the latent KL of estimator B, in [`aevb/core/distributions.py`](../aevb/core/distributions.py): `python -m aevb exercises check -k kl`
