"""Training speed and memory of aevb, against the matrix-product floor and PyTorch.

    python benchmarks/bench.py                 # everything: about 10 minutes on 2 cores
    python benchmarks/bench.py --quick         # 2 rounds of 200 steps instead of 3 epochs
    python benchmarks/bench.py --only memory   # peak memory alone

Every measurement runs in a fresh subprocess, because the BLAS thread count
must be fixed before NumPy (or PyTorch) loads. Within each round the workers
run one after the other (aevb, aevb without its helper thread, PyTorch with
default Adagrad, PyTorch with fused Adagrad, the floor), so drift of the
machine's speed hits all of them; ratios are taken within a round and the
median over rounds is reported. One BLAS thread is the primary figure.

"BLAS threads" is what BLAS (and PyTorch) may use. aevb's trainer also
updates the decoder's parameters on a helper thread while BLAS computes the
encoder's backward pass (aevb.core.train, ``threads=2``, ``aevb train --threads
2``; the default is 1), so at one BLAS thread it uses the second core for
that update; the "serial" columns (``threads=1``) use one core only, like
PyTorch here. Adagrad runs without its warm-up here, so that every timed
step updates, as PyTorch's does.

The model is the paper's MNIST one: 784-500-20 encoder and 20-500-784
Bernoulli decoder, tanh, M = 100, L = 1, estimator B, Adagrad (step 0.01,
accumulator from 0.01, eps 1e-8), the MAP weight prior, on real MNIST (all
60,000 training images, dynamically binarized per minibatch). The floor is
the eleven matrix products one step needs at least (a fused mean/log-variance
head, no gradient for the input), timed alone. PyTorch is optional: without
it those rows are skipped.

Results go to benchmarks/results.json (or --out) and a table is printed.
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
    """Seconds for ``steps`` calls of ``step()`` after 20 warm-up calls."""
    for _ in range(20):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0, steps

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
    t0 = time.perf_counter()
    trainer.run(trainer.seen + steps * M, eval_points=[])
    return time.perf_counter() - t0, steps


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


WORKERS = {"aevb": worker_aevb, "aevb-serial": worker_aevb, "floor": worker_floor, "torch-default": worker_torch,
           "torch-fused": worker_torch, "adagrad": worker_adagrad, "score": worker_score,
           "is": worker_is}


# ------------------------------------------------------------------ orchestration

def run_worker(kind, dtype="float32", threads=1, n=N_TRAIN, hidden=500, latent=20, steps=0,
               data_dir=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--worker", kind, "--dtype", dtype, "--threads",
           str(threads), "--n", str(n), "--hidden", str(hidden), "--latent", str(latent),
           "--steps", str(steps)] + (["--data-dir", data_dir] if data_dir else [])
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{out.stderr}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["load_before"] = round(load, 2)
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
    return info


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=("all", "memory"), default="all",
                   help="memory: re-measure peak RSS alone and update it in --out")
    p.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    for name, default in (("--dtype", "float32"), ("--threads", 1), ("--n", N_TRAIN),
                          ("--hidden", 500), ("--latent", 20), ("--steps", 0)):
        p.add_argument(name, default=default, type=type(default), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        a.kind = a.worker
        seconds, count = WORKERS[a.worker](a)
        print(json.dumps({"kind": a.worker, "seconds": seconds, "count": count}))
        return
    if a.only == "memory":
        out = Path(a.out)
        results = json.loads(out.read_text()) if out.exists() else {}
        results["peak_rss_mb_full_mnist_float32"] = peak_rss_mb(a.data_dir)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"peak RSS of aevb train on full MNIST, float32: "
              f"{results['peak_rss_mb_full_mnist_float32']:.0f} MB (written to {out})")
        return

    kinds = ["aevb", "aevb-serial", "floor"]
    if importlib.util.find_spec("torch") is not None:     # optional comparison
        kinds[2:2] = ["torch-default", "torch-fused"]
    rounds, steps = (2, 200) if a.quick else (3, 0)
    results = {"machine": machine(), "command": " ".join(["python"] + sys.argv),
               "when": time.strftime("%Y-%m-%d %H:%M:%S"), "train": [], "scaling": {}}
    print(f"{results['machine']}")
    for threads in (1, 2):
        for dtype in ("float32", "float64"):
            for rnd in range(rounds):
                row = {"threads": threads, "dtype": dtype, "round": rnd}
                for kind in kinds:
                    r = run_worker(kind, dtype, threads, steps=steps, data_dir=a.data_dir)
                    row[kind] = r["seconds"] * (N_TRAIN // M) / r["count"]   # s per epoch
                    row[f"load_{kind}"] = r["load_before"]
                results["train"].append(row)
                print(json.dumps(row))
    summary = []
    for threads in (1, 2):
        for dtype in ("float32", "float64"):
            rows = [r for r in results["train"] if r["threads"] == threads and r["dtype"] == dtype]
            med = lambda k: float(np.median([r[k] for r in rows]))          # noqa: E731
            ratio = lambda k: float(np.median([r[k] / r["aevb"] for r in rows]))  # noqa: E731
            s = {"threads": threads, "dtype": dtype, "aevb_s_per_epoch": med("aevb"),
                 "aevb_images_per_s": N_TRAIN / med("aevb"),
                 "fraction_of_floor_speed": float(np.median([r["floor"] / r["aevb"] for r in rows])),
                 "load": float(np.median([r["load_aevb"] for r in rows]))}
            s["aevb_serial_s_per_epoch"] = med("aevb-serial")
            s["serial_fraction_of_floor_speed"] = float(
                np.median([r["floor"] / r["aevb-serial"] for r in rows]))
            for k in ("torch-default", "torch-fused"):
                if k in kinds:
                    s[f"speedup_vs_{k}"] = ratio(k)
                    s[f"serial_speedup_vs_{k}"] = float(
                        np.median([r[k] / r["aevb-serial"] for r in rows]))
            summary.append(s)
    results["summary"] = summary

    sc = results["scaling"]
    sc["epoch_s_vs_n"] = {n: run_worker("aevb", n=n, data_dir=a.data_dir)["seconds"]
                          for n in (10_000, 30_000, 60_000)}
    sc["epoch_s_vs_hidden"] = {h: run_worker("aevb", hidden=h, data_dir=a.data_dir)["seconds"]
                               for h in (100, 200, 500, 1000)}
    sc["epoch_s_vs_latent"] = {j: run_worker("aevb", latent=j, data_dir=a.data_dir)["seconds"]
                               for j in (2, 20, 200)}
    sc["adagrad_ms_per_step"] = {
        dt: 1e3 * (lambda r: r["seconds"] / r["count"])(run_worker("adagrad", dt))
        for dt in ("float32", "float64")}
    sc["score_10k_test_s"] = run_worker("score", data_dir=a.data_dir)["seconds"]
    sc["is_k5000_1000_test_s"] = run_worker("is", data_dir=a.data_dir)["seconds"]
    results["peak_rss_mb_full_mnist_float32"] = peak_rss_mb(a.data_dir)

    print("\nseconds per epoch of 60,000 images (median over rounds; ratios within a round)")
    print("(serial: aevb with threads=1, no helper thread for the parameter update)")
    print(f"{'threads':>7} {'dtype':>8} {'aevb s':>7} {'img/s':>7} {'of floor':>9} "
          f"{'vs torch':>9} {'vs fused':>9} {'serial s':>9} {'of floor':>9} {'vs fused':>9} "
          f"{'load':>5}")
    nan = float("nan")
    for s in summary:
        print(f"{s['threads']:>7} {s['dtype']:>8} {s['aevb_s_per_epoch']:7.2f} "
              f"{s['aevb_images_per_s']:7.0f} {s['fraction_of_floor_speed']:9.2f} "
              f"{s.get('speedup_vs_torch-default', nan):9.2f} "
              f"{s.get('speedup_vs_torch-fused', nan):9.2f} {s['aevb_serial_s_per_epoch']:9.2f} "
              f"{s['serial_fraction_of_floor_speed']:9.2f} "
              f"{s.get('serial_speedup_vs_torch-fused', nan):9.2f} {s['load']:5.2f}")
    print("scaling (float32, 1 thread, seconds per epoch):", json.dumps(sc))
    print(f"peak RSS of aevb train on full MNIST, float32: "
          f"{results['peak_rss_mb_full_mnist_float32']:.0f} MB")
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
