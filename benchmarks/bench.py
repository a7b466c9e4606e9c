"""Training speed and memory of aevb, against the matrix-product floor, PyTorch and JAX.

    python benchmarks/bench.py                 # everything: about 15 minutes on 2 cores
    python benchmarks/bench.py --quick         # one thread, 2 rounds of 200 steps, no scaling
    python benchmarks/bench.py --only memory   # peak memory alone

Every measurement runs in a fresh subprocess, because the BLAS thread count
(and JAX's x64 and XLA flags) must be fixed before NumPy, PyTorch or JAX
loads. Within each round the workers run one after the other (aevb, aevb
without its helper thread, the floor, PyTorch with default and with fused
Adagrad, JAX under ``jax.jit``), the order rotated by one each round, so drift
of the machine's speed hits all of them; ratios are taken within a round and
the median over rounds is reported. One BLAS thread is the primary figure.

"BLAS threads" is what BLAS (and PyTorch, and XLA) may use. aevb's trainer
also updates the decoder's parameters on a helper thread while BLAS computes
the encoder's backward pass (aevb.core.train, ``threads=2``, ``aevb train
--threads 2``; the default is 1), so at one BLAS thread it uses the second
core for that update; the "serial" columns (``threads=1``) use one core only,
like the others, and are the figure the summary lines compare. At one
thread every one-core contender is pinned to core 0 (``os.sched_setaffinity``;
for JAX the XLA flags alone are not enough), and each reports its CPU time
over its wall time: above 1.1 it used more than one core, below 0.9 another
process took part of its core. Adagrad runs without its warm-up in aevb and
PyTorch, so that every timed step updates; JAX's step has the warm-up as a
step size of 0, which costs the same as a step (benchmarks/bench_jax.py).

Kernels: each contender reports what threadpoolctl sees (``internal_api`` and,
for OpenBLAS, the core type in ``architecture``) and PyTorch's and XLA's own
BLAS. If the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE (some
machines here do, for older OpenBLAS builds; they force slower kernels on a
current NumPy), aevb-serial and the floor also run as ``-native`` kinds with
both unset in that child process alone, and the summary takes those (the
best kernels) and names the shipped figure beside them, after comparing aevb's
gradients of one step on the same draws under both kernels. Tests and CI never
change those variables.

The model is the paper's MNIST one: 784-500-20 encoder and 20-500-784
Bernoulli decoder, tanh, M = 100, L = 1, estimator B, Adagrad (step 0.01,
accumulator from 0.01, eps 1e-8), the MAP weight prior, on real MNIST (all
60,000 training images, dynamically binarized per minibatch). The floor is
the eleven matrix products one step needs at least (a fused mean/log-variance
head, no gradient for the input), timed alone; GFLOP/s count those products
(:func:`flops_per_step`). PyTorch and JAX are optional (``pip install
".[bench]"``): without them those rows are skipped. Before timing, the JAX
step's gradients and Adagrad are checked against aevb's on identical draws
(benchmarks/bench_jax.py; max absolute difference printed).

Results go to benchmarks/results.json (or --out; with --quick only to --out),
a table is printed, and the last lines are one summary per dtype at one thread::

    summary float32 1T: 1.45x torch-fused, 1.08x jax-jit, 0.88 of floor, 140 GFLOP/s, kernel SkylakeX

where 1.45x means aevb takes 1/1.45 of that contender's time.
"""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_TRAIN, M = 60_000, 100


# ------------------------------------------------------------------ workers

def _timed(step, steps):
    """Seconds for ``steps`` calls of ``step()`` after 20 warm-up calls, and the CPU time."""
    for _ in range(20):
        step()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0, steps, {"cpu_s": time.process_time() - c0}

def _mnist_uint8(data_dir):
    from aevb.io import datasets as D
    return D.mnist("train_full", data_dir).with_binarization("dynamic")


def worker_aevb(a):
    from aevb.core import networks as nets, optim
    from aevb.io.datasets import Dataset
    from aevb.core.train import Trainer
    data = _mnist_uint8(a.data_dir)
    if a.n < len(data):
        data = Dataset(data.images[:a.n], data.scale, data.image_shape, binarize="dynamic")
    dt = np.dtype(a.dtype)
    rng = np.random.default_rng(0)
    enc = nets.init_gaussian_mlp(784, a.hidden, a.latent, rng, dtype=dt)
    dec = nets.init_bernoulli_mlp(a.latent, a.hidden, 784, rng, dtype=dt)
    # No Adagrad warm-up: every timed step updates, as PyTorch's does.
    trainer = Trainer(enc, dec, data, optim.Adagrad(0.01, warmup=0), rng=rng, dtype=dt,
                      threads=1 if a.kind == "aevb-serial" else 2)
    trainer.run(20 * M, eval_points=[])                       # warm-up
    steps = a.steps or len(data) // M
    c0, t0 = time.process_time(), time.perf_counter()
    trainer.run(trainer.seen + steps * M, eval_points=[])
    return time.perf_counter() - t0, steps, {"cpu_s": time.process_time() - c0}


def worker_floor(a):
    dt = np.dtype(a.dtype)
    rng = np.random.default_rng(0)
    H, J, D = a.hidden, a.latent, 784
    r = lambda *s: rng.standard_normal(s).astype(dt)        # noqa: E731
    x, W1, Wh, Wd1, Wd2 = r(M, D), r(D, H), r(H, 2 * J), r(J, H), r(H, D)
    h, z, hd, dl, dh, dhead, dad = r(M, H), r(M, J), r(M, H), r(M, D), r(M, H), r(M, 2 * J), r(M, H)

    def step():
        x @ W1; h @ Wh; z @ Wd1; hd @ Wd2                     # forward: 4 products
        hd.T @ dl; dl @ Wd2.T; z.T @ dad; dad @ Wd1.T         # decoder backward: 4
        h.T @ dhead; dhead @ Wh.T; x.T @ dh                   # encoder backward: 3
    return _timed(step, a.steps or N_TRAIN // M)


def worker_torch(a):
    import torch
    torch.set_num_threads(a.threads)
    dt = {"float32": torch.float32, "float64": torch.float64}[a.dtype]
    data = _mnist_uint8(a.data_dir)
    images = torch.from_numpy(np.array(data.images))          # uint8, (N, 784)
    N, H, J, D = len(images), a.hidden, a.latent, 784
    g = torch.Generator().manual_seed(0)
    p = lambda *s: (0.01 * torch.randn(*s, generator=g, dtype=dt)).requires_grad_()  # noqa: E731
    W1, b1, Wm, bm, Wv, bv = p(D, H), p(H), p(H, J), p(J), p(H, J), p(J)
    Wd1, bd1, Wd2, bd2 = p(J, H), p(H), p(H, D), p(D)
    params, weights = [W1, b1, Wm, bm, Wv, bv, Wd1, bd1, Wd2, bd2], [W1, Wm, Wv, Wd1, Wd2]
    opt = torch.optim.Adagrad(params, lr=0.01, initial_accumulator_value=0.01, eps=1e-8,
                              fused=a.kind == "torch-fused")
    order, pos = torch.randperm(N, generator=g), 0

    def step():
        nonlocal order, pos
        if pos + M > N:
            order, pos = torch.randperm(N, generator=g), 0
        idx = order[pos:pos + M]
        pos += M
        x = torch.bernoulli(images[idx].to(dt) / 255.0, generator=g)
        h = torch.tanh(x @ W1 + b1)
        mean, logvar = h @ Wm + bm, h @ Wv + bv
        z = mean + torch.exp(0.5 * logvar) * torch.randn(M, J, generator=g, dtype=dt)
        logits = torch.tanh(z @ Wd1 + bd1) @ Wd2 + bd2
        rec = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        neg_kl = 0.5 * torch.sum(1 + logvar - mean ** 2 - torch.exp(logvar))
        prior = -0.5 * sum(torch.sum(w * w) for w in weights)
        loss = -(rec + neg_kl + M / N * prior)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return _timed(step, a.steps or N // M)


def worker_adagrad(a):
    """Adagrad's update alone, over the paper model's parameter shapes."""
    from aevb.core import networks as nets
    from aevb.core.optim import Adagrad
    dt, rng = np.dtype(a.dtype), np.random.default_rng(0)
    enc = nets.init_gaussian_mlp(784, a.hidden, a.latent, rng, dtype=dt)
    dec = nets.init_bernoulli_mlp(a.latent, a.hidden, 784, rng, dtype=dt)
    params = enc.arrays() + dec.arrays()
    grads = [rng.standard_normal(p.shape).astype(dt) for p in params]
    opt = Adagrad(0.01, warmup=0)
    return _timed(lambda: opt.step(params, grads), a.steps or N_TRAIN // M)


def worker_score(a):
    from aevb import VAE
    from aevb.io import datasets as D
    test = D.mnist("test", a.data_dir).with_binarization("fixed", rng=0)
    vae = VAE(a.latent, a.hidden, dtype=a.dtype).initialize(784, np.dtype(a.dtype))
    t0 = time.perf_counter()
    vae.score(test, rng=0)
    return time.perf_counter() - t0, len(test)


def worker_is(a):
    from aevb import VAE
    from aevb.io import datasets as D
    from aevb.inference import likelihood as LK
    x = D.load_mnist("test", a.data_dir, dtype=a.dtype, binarize="fixed", rng=0)[:1000]
    vae = VAE(a.latent, a.hidden).initialize(784, np.dtype(a.dtype))
    t0 = time.perf_counter()
    LK.importance_sampled(vae.encoder_params_, vae.decoder_params_, x, 5000, rng=0)
    return time.perf_counter() - t0, len(x)


def worker_jax(a):
    import bench_jax                     # beside this file; needs jax (pip install ".[bench]")
    return bench_jax.worker(a)


def worker_jax_check(a):
    """JAX's gradients and Adagrad against aevb's, fed identical draws (bench_jax)."""
    import bench_jax
    res = bench_jax.check_gradients(a.dtype, data_dir=a.data_dir)
    res.update(bench_jax.check_adagrad(a.dtype))
    return 0.0, 0, res


def worker_grads(a):
    """aevb's gradients of one step on fixed draws (bench_jax.aevb_reference), saved to --out."""
    import bench_jax
    ref = bench_jax.aevb_reference(a.dtype, data_dir=a.data_dir)[-1]
    np.savez(a.out, *(ref.denc.arrays() + ref.ddec.arrays()))
    return 0.0, 0


WORKERS = {"aevb": worker_aevb, "aevb-serial": worker_aevb, "floor": worker_floor, "torch-default": worker_torch,
           "torch-fused": worker_torch, "jax-jit": worker_jax, "jax-check": worker_jax_check,
           "grads": worker_grads,
           "adagrad": worker_adagrad, "score": worker_score, "is": worker_is}


def blas_in_use():
    """What computes this process's matrix products: threadpoolctl's BLAS libraries
    ('internal_api:architecture', the OpenBLAS core type), plus PyTorch's and XLA's own."""
    from threadpoolctl import threadpool_info
    out = [f"{i['internal_api']}:{i.get('architecture') or '?'}" for i in threadpool_info()
           if i["user_api"] == "blas"]
    if "torch" in sys.modules:
        import torch
        cfg = torch.__config__.show()
        blas = next((w.split("=", 1)[1].rstrip(",") for w in cfg.split() if w.startswith("BLAS_INFO=")),
                    "?")
        out.insert(0, f"torch:{blas}({torch.backends.cpu.get_cpu_capability()})")
    if "jax" in sys.modules:
        out.insert(0, "xla:cpu")
    return out


# ------------------------------------------------------------------ orchestration

OPENBLAS_KERNEL_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
NATIVE = "-native"    # suffix: the kind with OPENBLAS_KERNEL_VARS unset in its process alone


def kernel_vars_set():
    return any(v in os.environ for v in OPENBLAS_KERNEL_VARS)


def run_worker(kind, dtype="float32", threads=1, n=N_TRAIN, hidden=500, latent=20, steps=0,
               data_dir=None, pin=False, out=None):
    """Run ``kind`` in a fresh process; ``pin`` restricts it to core 0 (os.sched_setaffinity).

    A kind ending in ``-native`` runs the same worker with OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE removed from that child's environment only, so OpenBLAS
    picks its kernels for the CPU (the `env` README: those variables slow a
    current NumPy; they are never changed for tests or CI).
    """
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    base = kind
    if kind.endswith(NATIVE):
        base = kind[:-len(NATIVE)]
        for v in OPENBLAS_KERNEL_VARS:
            env.pop(v, None)
    cmd = [sys.executable, __file__, "--worker", base, "--dtype", dtype, "--threads",
           str(threads), "--n", str(n), "--hidden", str(hidden), "--latent", str(latent),
           "--steps", str(steps)] + (["--data-dir", data_dir] if data_dir else [])
    cmd += ["--out", out] if out else []
    load = os.getloadavg()[0]
    pin_core = (lambda: os.sched_setaffinity(0, {0})) if pin else None
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=pin_core)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{out.stderr}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["load_before"] = round(load, 2)
    res["pinned"] = pin
    return res


def peak_rss_mb(data_dir):
    """Peak resident memory of `aevb train` on all of MNIST for one epoch, float32."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        cmd = [sys.executable, "-c", code, sys.executable, "-m", "aevb", "train", "--dataset",
               "mnist", "--full-train", "--budget", "60000", "--dtype", "float32",
               "--no-progress", "--out", os.path.join(tmp, "run")]
        cmd += ["--data-dir", data_dir] if data_dir else []
        out = subprocess.run(cmd, capture_output=True, text=True,
                             env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def machine():
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu or platform.processor(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__}
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    spec = importlib.util.find_spec("jax")          # its version without importing it
    info["jax"] = None
    if spec is not None:
        from importlib.metadata import version
        info["jax"] = version("jax")
    return info


def flops_per_step(D=784, H=500, J=20):
    """FLOPs of the eleven matrix products of one step (the floor's), 2 m k n per (m, k) @ (k, n).

    With M = 100, D = 784, H = 500, J = 20 (the paper's MNIST model)::

        forward   x W_h (2MDH), h [W_mean W_logvar] (4MHJ), z W_h' (2MJH), h' W_logits (2MHD)
        decoder   h'^T dlogits (2HMD), dlogits W_logits^T (2MDH), z^T da' (2JMH), da' W_h'^T (2MHJ)
        encoder   h^T dhead (4HMJ), dhead [W_mean W_logvar]^T (4MJH), x^T da (2DMH)

        total = 10 M D H + 18 M H J = 392.0e6 + 18.0e6 = 410.0e6 per step, 246 GFLOP per epoch

    Element-wise work (tanh, exp, the likelihood, Adagrad) is not counted, so
    the GFLOP/s of a whole training step is the products' useful rate.
    """
    return 10 * M * D * H + 18 * M * H * J


def kinds_for(threads):
    """The contenders of one round; ``-native`` kinds only if the environment sets the OpenBLAS
    kernel variables (else they would be the same run twice)."""
    kinds = ["aevb", "aevb-serial", "floor"]
    if kernel_vars_set():
        kinds += ["aevb-serial" + NATIVE, "floor" + NATIVE]
    if importlib.util.find_spec("torch") is not None:     # optional comparisons
        kinds += ["torch-default", "torch-fused"]
    if importlib.util.find_spec("jax") is not None:
        kinds += ["jax-jit"]
    return kinds


def best(kind):
    """The figure for ``kind`` on its best kernels: the ``-native`` run if there is one."""
    return kind + NATIVE if kernel_vars_set() and kind in ("aevb-serial", "floor") else kind


def summarize(rows, kinds, threads, dtype):
    med = lambda k: float(np.median([r[k] for r in rows]))                      # noqa: E731
    vs = lambda k, a: float(np.median([r[k] / r[a] for r in rows]))             # noqa: E731
    aevb, floor = best("aevb-serial"), best("floor")
    s = {"threads": threads, "dtype": dtype, "aevb_s_per_epoch": med("aevb"),
         "aevb_images_per_s": N_TRAIN / med("aevb"), "fraction_of_floor_speed": vs("floor", "aevb"),
         "load": float(np.median([r["load_aevb"] for r in rows])),
         "aevb_serial_s_per_epoch": med("aevb-serial"),
         "serial_fraction_of_floor_speed": vs("floor", "aevb-serial"),
         "best": aevb, "best_s_per_epoch": med(aevb), "best_fraction_of_floor": vs(floor, aevb),
         "best_gflops": flops_per_step() * (N_TRAIN // M) / med(aevb) / 1e9,
         "floor_gflops": flops_per_step() * (N_TRAIN // M) / med(floor) / 1e9,
         "kernel": {k: rows[0][f"blas_{k}"] for k in kinds},
         "cpu_per_wall": {k: max(r[f"cpu_{k}"] for r in rows) for k in kinds},
         "cpu_per_wall_min": {k: min(r[f"cpu_{k}"] for r in rows) for k in kinds}}
    for k in ("torch-default", "torch-fused", "jax-jit"):
        if k in kinds:
            s[f"speedup_vs_{k}"] = vs(k, "aevb")
            s[f"serial_speedup_vs_{k}"] = vs(k, "aevb-serial")
            s[f"best_speedup_vs_{k}"] = vs(k, aevb)
    if "jax-jit" in kinds:
        s["jax_compile_s"] = float(np.median([r["compile_jax-jit"] for r in rows]))
    return s


def summary_line(s):
    """``summary float32 1T: 1.45x torch-fused, 1.08x jax-jit, 0.88 of floor, 140 GFLOP/s, ...``"""
    kernel = lambda k: s["kernel"][k][-1] if s["kernel"][k] else "?"              # noqa: E731
    peers = "".join(f"{s[f'best_speedup_vs_{k}']:.2f}x {k}, " for k in ("torch-fused", "jax-jit")
                    if f"best_speedup_vs_{k}" in s)
    line = (f"summary {s['dtype']} {s['threads']}T: {peers}{s['best_fraction_of_floor']:.2f} of floor, "
            f"{s['best_gflops']:.0f} GFLOP/s, kernel {kernel(s['best']).split(':')[-1]} "
            f"({s['best']}, {s['best_s_per_epoch']:.2f} s/epoch")
    if s["best"].endswith(NATIVE):
        line += (f"; OPENBLAS_CORETYPE/L2_SIZE unset for it; as shipped: "
                 f"{kernel('aevb-serial').split(':')[-1]}, {s['aevb_serial_s_per_epoch']:.2f} s")
    return line + f"; load {s['load']:.1f})"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="one thread only, 2 rounds of 200 steps, no scaling; prints, writes only --out")
    p.add_argument("--only", choices=("all", "memory"), default="all",
                   help="memory: re-measure peak RSS alone and update it in --out")
    p.add_argument("--out", default=None, help="default benchmarks/results.json (none with --quick)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    for name, default in (("--dtype", "float32"), ("--threads", 1), ("--n", N_TRAIN),
                          ("--hidden", 500), ("--latent", 20), ("--steps", 0)):
        p.add_argument(name, default=default, type=type(default), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        a.kind = a.worker
        seconds, count, *extra = WORKERS[a.worker](a)
        res = {"kind": a.worker, "seconds": seconds, "count": count, "blas": blas_in_use()}
        res.update(extra[0] if extra else {})
        print(json.dumps(res))
        return
    if a.out is None and not a.quick:
        a.out = str(Path(__file__).with_name("results.json"))
    if a.only == "memory":
        out = Path(a.out or Path(__file__).with_name("results.json"))
        results = json.loads(out.read_text()) if out.exists() else {}
        results["peak_rss_mb_full_mnist_float32"] = peak_rss_mb(a.data_dir)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"peak RSS of aevb train on full MNIST, float32: "
              f"{results['peak_rss_mb_full_mnist_float32']:.0f} MB (written to {out})")
        return

    rounds, steps = (2, 200) if a.quick else (3, 0)
    thread_counts = (1,) if a.quick else (1, 2)
    results = {"machine": machine(), "command": " ".join(["python"] + sys.argv),
               "when": time.strftime("%Y-%m-%d %H:%M:%S"), "train": [], "scaling": {},
               "openblas_env": {v: os.environ.get(v) for v in OPENBLAS_KERNEL_VARS},
               "flops_per_step": flops_per_step()}
    print(f"{results['machine']}")
    print(f"OpenBLAS kernel variables as shipped: {results['openblas_env']}")
    if importlib.util.find_spec("jax") is not None:
        results["jax_check"] = []
        for dtype in ("float32", "float64"):
            r = run_worker("jax-check", dtype, data_dir=a.data_dir)
            results["jax_check"].append(r)
            print(f"jax vs aevb, {dtype}, same x and eps: gradients max |diff| "
                  f"{r['grad_max_abs_diff']:.2g} (in {r['worst']}; largest entry "
                  f"{r['grad_max_abs']:.3g}), bound max |diff| {r['bound_max_abs_diff']:.2g} nats, "
                  f"two Adagrad steps max |diff| {r['param_max_abs_diff']:.2g}")
    if kernel_vars_set():
        results["kernel_check"] = compare_kernels(a.data_dir)
    summary = []
    for threads in thread_counts:
        kinds = kinds_for(threads)
        for dtype in ("float32", "float64"):
            rows = []
            for rnd in range(rounds):
                row = {"threads": threads, "dtype": dtype, "round": rnd}
                shift = rnd % len(kinds)                        # rotate the order each round
                for kind in kinds[shift:] + kinds[:shift]:
                    # one thread: pin every one-core contender to core 0; aevb's helper
                    # thread uses the second core by design
                    pin = threads == 1 and kind != "aevb"
                    r = run_worker(kind, dtype, threads, steps=steps, data_dir=a.data_dir, pin=pin)
                    row[kind] = r["seconds"] * (N_TRAIN // M) / r["count"]   # s per epoch
                    row[f"load_{kind}"] = r["load_before"]
                    row[f"cpu_{kind}"] = r["cpu_s"] / r["seconds"]           # cores used
                    row[f"blas_{kind}"] = r["blas"]
                    if "compile_s" in r:
                        row[f"compile_{kind}"] = r["compile_s"]
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if not k.startswith("blas_")}))
            results["train"] += rows
            summary.append(summarize(rows, kinds, threads, dtype))
            print_contenders(summary[-1], rows, kinds)
    results["summary"] = summary

    if not a.quick:
        results["scaling"] = scaling(a.data_dir)
        results["peak_rss_mb_full_mnist_float32"] = peak_rss_mb(a.data_dir)
        print_table(results)
    if a.out:
        Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
        print(f"written to {a.out}")
    for s in summary:
        if s["threads"] == 1:
            print(summary_line(s))


def compare_kernels(data_dir):
    """Max |difference| of aevb's gradients of one step (same draws) between the shipped
    OpenBLAS kernel and the native one: a test-free check that the override changes no result
    beyond rounding."""
    import tempfile
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in ("float32", "float64"):
            files = [os.path.join(tmp, f"{dtype}{kind}.npz") for kind in ("", NATIVE)]
            for kind, f in zip(("grads", "grads" + NATIVE), files):
                run_worker(kind, dtype, data_dir=data_dir, out=f)
            shipped, native = (np.load(f) for f in files)
            out[dtype] = max(float(np.max(np.abs(shipped[k] - native[k]))) for k in shipped.files)
            scale = max(float(np.max(np.abs(shipped[k]))) for k in shipped.files)
            print(f"aevb's gradients, shipped vs native OpenBLAS kernels, {dtype}, same draws: "
                  f"max |diff| {out[dtype]:.2g} (largest entry {scale:.3g})")
    return out


def print_contenders(s, rows, kinds):
    print(f"\n{s['dtype']}, {s['threads']} BLAS thread(s): median s/epoch, time over "
          f"{s['best']}'s, cores used (CPU time / wall, max over rounds), BLAS and kernel "
          f"(first: the one its products run on)")
    for k in kinds:
        t = float(np.median([r[k] for r in rows]))
        ratio = float(np.median([r[k] / r[s["best"]] for r in rows]))
        flag = ""
        if s["threads"] == 1 and k != "aevb" and s["cpu_per_wall"][k] > 1.1:
            flag = "  MORE THAN ONE CORE"
        elif s["threads"] == 1 and k != "aevb" and s["cpu_per_wall_min"][k] < 0.9:
            flag = f"  (got {s['cpu_per_wall_min'][k]:.2f} of its core in one round: machine busy)"
        extra = f", compile {s['jax_compile_s']:.2f} s apart" if k == "jax-jit" else ""
        print(f"  {k:<20} {t:7.2f} s  {ratio:5.2f}x  {s['cpu_per_wall'][k]:4.2f} cores  "
              f"{' '.join(s['kernel'][k]) or '-'}{extra}{flag}")
    print()


def scaling(data_dir):
    sc = {}
    sc["epoch_s_vs_n"] = {n: run_worker("aevb", n=n, data_dir=data_dir)["seconds"]
                          for n in (10_000, 30_000, 60_000)}
    sc["epoch_s_vs_hidden"] = {h: run_worker("aevb", hidden=h, data_dir=data_dir)["seconds"]
                               for h in (100, 200, 500, 1000)}
    sc["epoch_s_vs_latent"] = {j: run_worker("aevb", latent=j, data_dir=data_dir)["seconds"]
                               for j in (2, 20, 200)}
    sc["adagrad_ms_per_step"] = {
        dt: 1e3 * (lambda r: r["seconds"] / r["count"])(run_worker("adagrad", dt))
        for dt in ("float32", "float64")}
    sc["score_10k_test_s"] = run_worker("score", data_dir=data_dir)["seconds"]
    sc["is_k5000_1000_test_s"] = run_worker("is", data_dir=data_dir)["seconds"]
    return sc


def print_table(results):
    summary, sc = results["summary"], results["scaling"]
    print("\nseconds per epoch of 60,000 images (median over rounds; ratios within a round)")
    print("(serial: aevb with threads=1, no helper thread for the parameter update)")
    print(f"{'threads':>7} {'dtype':>8} {'aevb s':>7} {'img/s':>7} {'of floor':>9} "
          f"{'vs torch':>9} {'vs fused':>9} {'serial s':>9} {'of floor':>9} {'vs fused':>9} "
          f"{'vs jax':>7} {'load':>5}")
    nan = float("nan")
    for s in summary:
        print(f"{s['threads']:>7} {s['dtype']:>8} {s['aevb_s_per_epoch']:7.2f} "
              f"{s['aevb_images_per_s']:7.0f} {s['fraction_of_floor_speed']:9.2f} "
              f"{s.get('speedup_vs_torch-default', nan):9.2f} "
              f"{s.get('speedup_vs_torch-fused', nan):9.2f} {s['aevb_serial_s_per_epoch']:9.2f} "
              f"{s['serial_fraction_of_floor_speed']:9.2f} "
              f"{s.get('serial_speedup_vs_torch-fused', nan):9.2f} "
              f"{s.get('serial_speedup_vs_jax-jit', nan):7.2f} {s['load']:5.2f}")
    print("scaling (float32, 1 thread, seconds per epoch):", json.dumps(sc))
    print(f"peak RSS of aevb train on full MNIST, float32: "
          f"{results['peak_rss_mb_full_mnist_float32']:.0f} MB")


if __name__ == "__main__":
    main()
