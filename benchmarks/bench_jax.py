"""The JAX contender of bench.py: aevb's training step written in JAX, under ``jax.jit``.

The same step as aevb's Trainer on the paper's MNIST model (784-500-20 encoder,
20-500-784 Bernoulli decoder, tanh, M = 100, L = 1, estimator B, the MAP
weight prior scaled by M/N, Adagrad with step 0.01, accumulator from 0.01,
eps 1e-8 and aevb's warm-up): parameters initialized by aevb's own
``init_gaussian_mlp`` / ``init_bernoulli_mlp`` from ``default_rng(0)``, all
60,000 training images on the device as uint8, a fresh permutation per epoch,
dynamic binarization and the noise drawn inside the step (``jax.random``).
The whole step (gather, binarization, forward, ``jax.grad``, Adagrad) is one
``jax.jit`` function whose parameter, accumulator, counter and key buffers are
donated, so it updates in place as aevb does. The warm-up is a step size of 0
for the first ``warmup`` steps, so every step costs the same; bench.py times
aevb with ``warmup=0`` for the same reason.

bench.py runs :func:`worker` in a fresh process: before JAX loads, float64
needs ``jax_enable_x64`` and one thread needs the XLA flags of
:func:`configure` plus the process pinned to one core (bench.py does that
with ``os.sched_setaffinity``; the XLA flags alone still let it use 1.4 to
1.9 cores). Compile time is measured apart, with ``jit(...).lower().compile()``.

:func:`check_gradients` feeds the JAX loss and aevb's :func:`aevb.core.sgvb.sgvb`
the same minibatch and noise and reports the largest difference of the
gradients and of the bound, and :func:`check_adagrad` the same for two
Adagrad steps across the warm-up's end.
"""
import os
import time

import numpy as np

M, J, H, D, N_TRAIN = 100, 20, 500, 784, 60_000
LR, ACCUM0, EPS, WARMUP = 0.01, 0.01, 1e-8, 100
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def configure(dtype, threads):
    """Set up JAX before its first use: x64 for float64, one XLA thread for ``threads == 1``."""
    if threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + XLA_ONE_THREAD).strip()
    import jax
    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_enable_x64", np.dtype(dtype) == np.float64)
    return jax


def initial_params(dtype, hidden=H, latent=J, std=None):
    """aevb's initialization from ``default_rng(0)``: encoder then decoder arrays, in field order
    (W_h, b_h, W_mean, b_mean, W_logvar, b_logvar, W_h, b_h, W_logits, b_logits)."""
    from aevb.core import networks as nets
    rng = np.random.default_rng(0)
    kw = {} if std is None else {"std": std}
    enc = nets.init_gaussian_mlp(D, hidden, latent, rng, dtype=dtype, **kw)
    dec = nets.init_bernoulli_mlp(latent, hidden, D, rng, dtype=dtype, **kw)
    return enc, dec


def loss(params, x, eps, n_data):
    """``-(sum_i bound_i + (M/N) log p(theta))``, aevb's loss (:mod:`aevb.core.sgvb`).

    params : list of 10 arrays, in :func:`initial_params`' order
    x : (M, D) binary data; eps : (M, J) standard-normal noise (L = 1)
    Returns ``(loss, bound)``, bound of shape (M,).
    """
    import jax
    import jax.numpy as jnp
    W_h, b_h, W_mean, b_mean, W_logvar, b_logvar, Wd_h, bd_h, W_logits, b_logits = params
    h = jnp.tanh(x @ W_h + b_h)                                   # (M, H)
    mean, logvar = h @ W_mean + b_mean, h @ W_logvar + b_logvar    # (M, J) each
    z = mean + jnp.exp(0.5 * logvar) * eps                        # eq. 10
    logits = jnp.tanh(z @ Wd_h + bd_h) @ W_logits + b_logits      # (M, D)
    logpx = jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)
    kl = -0.5 * jnp.sum(1.0 + logvar - mean * mean - jnp.exp(logvar), axis=-1)  # Appendix B
    bound = logpx - kl                                            # eq. 7 / eq. 10
    log_prior = -0.5 * sum(jnp.vdot(W, W) for W in (W_h, W_mean, W_logvar, Wd_h, W_logits))
    return -(jnp.sum(bound) + x.shape[0] / n_data * log_prior), bound


def adagrad(params, accum, grads, t, warmup=WARMUP):
    """aevb's Adagrad (:class:`aevb.core.optim.Adagrad`) for step ``t`` (1-based): G += g^2,
    then theta -= lr g / (sqrt(G) + eps), with step size 0 while ``t <= warmup``."""
    import jax.numpy as jnp
    accum = [G + g * g for G, g in zip(accum, grads)]
    lr = jnp.where(t > warmup, LR, 0.0).astype(grads[0].dtype)
    params = [p - lr * (g / (jnp.sqrt(G) + EPS)) for p, G, g in zip(params, accum, grads)]
    return params, accum


def make_step(n_data, dtype, warmup=WARMUP):
    """The jitted training step ``(params, accum, t, key, images, order) -> (params, accum, t,
    key, bound)``; ``order`` holds the epoch's permutation, row ``(t mod N/M) M`` starts the
    minibatch; the first four arguments are donated."""
    import jax
    import jax.numpy as jnp
    dt = jnp.dtype(dtype)
    per_epoch = n_data // M
    value_and_grad = jax.value_and_grad(loss, has_aux=True)

    def step(params, accum, t, key, images, order):
        idx = jax.lax.dynamic_slice(order, ((t % per_epoch) * M,), (M,))
        key, k_bin, k_eps = jax.random.split(key, 3)
        grey = images[idx].astype(dt) * (1.0 / 255.0)                   # (M, D)
        x = (jax.random.uniform(k_bin, grey.shape, dt) < grey).astype(dt)  # dynamic binarization
        eps = jax.random.normal(k_eps, (M, params[2].shape[1]), dt)
        (_, bound), grads = value_and_grad(params, x, eps, n_data)
        t = t + 1
        params, accum = adagrad(params, accum, grads, t, warmup)
        return params, accum, t, key, bound

    return jax.jit(step, donate_argnums=(0, 1, 2, 3))


def worker(a):
    """Train for ``a.steps`` steps (one epoch if 0) after 20 warm-up steps; bench.py's worker.

    Returns ``(seconds, steps, extra)`` with ``extra['compile_s']``."""
    jax = configure(a.dtype, a.threads)
    import jax.numpy as jnp
    from aevb.io import datasets as Dsets
    data = Dsets.mnist("train_full", a.data_dir)
    images = jnp.asarray(np.asarray(data.images[:a.n]))               # uint8 (N, D)
    n = images.shape[0]
    dt = np.dtype(a.dtype)
    enc, dec = initial_params(dt, a.hidden, a.latent)
    params = [jnp.asarray(p) for p in enc.arrays() + dec.arrays()]
    accum = [jnp.full_like(p, ACCUM0) for p in params]
    t, key = jnp.asarray(0, jnp.int32), jax.random.key(0)
    perm_key = np.random.default_rng(1)
    order = jnp.asarray(perm_key.permutation(n).astype(np.int32))
    step = make_step(n, dt)
    t0 = time.perf_counter()
    step = step.lower(params, accum, t, key, images, order).compile()
    compile_s = time.perf_counter() - t0
    per_epoch, done = n // M, 0

    def run(k):
        nonlocal params, accum, t, key, order, done
        for _ in range(k):
            if done and done % per_epoch == 0:
                order = jnp.asarray(perm_key.permutation(n).astype(np.int32))
            params, accum, t, key, bound = step(params, accum, t, key, images, order)
            done += 1
        bound.block_until_ready()
        return bound
    run(20)
    steps = a.steps or per_epoch
    c0, t0 = time.process_time(), time.perf_counter()
    bound = run(steps)
    seconds = time.perf_counter() - t0
    return seconds, steps, {"cpu_s": time.process_time() - c0, "compile_s": compile_s,
                            "final_mean_bound": float(np.mean(bound))}


def aevb_reference(dtype, std=0.1, seed=0, data_dir=None):
    """aevb's step on fixed draws: ``(enc, dec, x, eps, sgvb result)``, parameters drawn with
    ``std``, the first M training images binarized by ``default_rng(seed)``, then eps (1, M, J)."""
    from aevb.core.sgvb import sgvb
    from aevb.io import datasets as Dsets
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    x = Dsets.binarize(Dsets.mnist("train_full", data_dir).batch(np.arange(M), dt), rng)
    eps = rng.standard_normal((1, M, J), dtype=dt)
    enc, dec = initial_params(dt, std=std)
    return enc, dec, x, eps, sgvb(enc, dec, x, eps, "B", n_data=N_TRAIN)


def check_gradients(dtype, std=0.1, seed=0, data_dir=None):
    """Max |JAX gradient - aevb gradient| over all parameters, fed the same x and eps.

    At parameters drawn with ``std`` (0.1: larger than the paper's 0.01 so the
    gradients are not all tiny), on the first M training images binarized by
    ``default_rng(seed)``. Returns a dict: ``grad_max_abs_diff``, the largest
    gradient entry ``grad_max_abs`` (for scale), ``bound_max_abs_diff`` (nats)
    and the worst array's name.
    """
    jax = configure(dtype, 1)
    import jax.numpy as jnp
    enc, dec, x, eps, ref = aevb_reference(dtype, std, seed, data_dir)
    params = [jnp.asarray(p) for p in enc.arrays() + dec.arrays()]
    (_, bound), grads = jax.jit(jax.value_and_grad(loss, has_aux=True), static_argnums=3)(
        params, jnp.asarray(x), jnp.asarray(eps[0]), N_TRAIN)
    names = [f"enc.{n}" for n in enc.names()] + [f"dec.{n}" for n in dec.names()]
    diffs = [float(np.max(np.abs(np.asarray(g) - r)))
             for g, r in zip(grads, ref.denc.arrays() + ref.ddec.arrays())]
    worst = int(np.argmax(diffs))
    return {"dtype": dtype, "grad_max_abs_diff": diffs[worst], "worst": names[worst],
            "grad_max_abs": max(float(np.max(np.abs(r)))
                                for r in ref.denc.arrays() + ref.ddec.arrays()),
            "bound_max_abs_diff": float(np.max(np.abs(np.asarray(bound) - ref.bound)))}


def check_adagrad(dtype, seed=0):
    """Max |JAX Adagrad - aevb Adagrad| after two steps with ``warmup=1`` (one accumulating
    step, one update), same random gradients; returns the difference of parameters and of G."""
    configure(dtype, 1)
    import jax.numpy as jnp
    from aevb.core.optim import Adagrad
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    enc, dec = initial_params(dt)
    ref = [a.copy() for a in enc.arrays() + dec.arrays()]
    params, accum = [jnp.asarray(p) for p in ref], [jnp.full(p.shape, ACCUM0, dt) for p in ref]
    opt = Adagrad(LR, ACCUM0, EPS, warmup=1)
    for t in (1, 2):
        grads = [rng.standard_normal(p.shape).astype(dt) for p in ref]
        opt.step(ref, grads)
        params, accum = adagrad(params, accum, [jnp.asarray(g) for g in grads],
                                jnp.asarray(t), warmup=1)
    return {"param_max_abs_diff": max(float(np.max(np.abs(np.asarray(p) - r)))
                                      for p, r in zip(params, ref)),
            "accum_max_abs_diff": max(float(np.max(np.abs(np.asarray(G) - s[0])))
                                      for G, s in zip(accum, opt.state))}
