"""Cost of the paper's baselines against AEVB: a wake-sleep step, and MCEM per training sample.

    python benchmarks/bench_baselines.py            # 7 rounds of 40 steps, both dtypes
    python benchmarks/bench_baselines.py --quick    # 3 rounds of 15 steps

One process, one BLAS thread (set here before NumPy loads), the trainers'
helper thread off (``threads=1``): everything runs on one core. Within each
round AEVB, wake-sleep and MCEM each run ``--steps`` minibatch steps, one
after the other, so drift of the machine's speed hits all of them; ratios
are taken within a round and the median over rounds is reported, for wall
time and for the process's CPU time (steadier on a shared machine).

Models: the paper's MNIST one, 784-500-20 (encoder and Bernoulli decoder,
tanh, M = 100, L = 1, estimator B, Adagrad 0.01 without warm-up, the MAP
prior), and Figure 3's, 784-100-3, on real MNIST (dynamically binarized) if
``AEVB_DATA_DIR`` or ``--data-dir`` has it, else on random binary images of
the same size. Wake-sleep uses M dreams; MCEM one HMC transition with 10
leapfrog steps and 5 decoder updates per minibatch of M. A step evaluates M
training samples in all three, so the ratio of step times is the ratio of
costs per training sample.

Results go to benchmarks/results_baselines.json (or --out).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # before NumPy loads
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from aevb.core import networks as nets  # noqa: E402
from aevb.io.datasets import Dataset  # noqa: E402
from aevb.baselines.mcem import MCEMTrainer  # noqa: E402
from aevb.core.optim import Adagrad  # noqa: E402
from aevb.core.train import Trainer  # noqa: E402
from aevb.baselines.wakesleep import WakeSleepTrainer  # noqa: E402

M = 100
MODELS = {"mnist 784-500-20": (500, 20), "figure3 784-100-3": (100, 3)}


def load(data_dir):
    try:
        from aevb.io import datasets as D
        return D.mnist("train", data_dir).with_binarization("dynamic"), "MNIST"
    except Exception as e:                                # no data: same sizes, random pixels
        print(f"(real MNIST not found: {type(e).__name__}; using random binary images)")
        rng = np.random.default_rng(0)
        return Dataset((rng.random((50_000, 784)) < 0.13).astype(np.uint8), 1.0, (28, 28),
                       binarize="none"), "random"


def trainers(data, H, J, dtype):
    out = {}
    for name, cls in (("aevb", Trainer), ("wake-sleep", WakeSleepTrainer), ("mcem", MCEMTrainer)):
        rng = np.random.default_rng(0)
        enc = nets.init_gaussian_mlp(784, H, J, rng, dtype=dtype)
        dec = nets.init_bernoulli_mlp(J, H, 784, rng, dtype=dtype)
        out[name] = cls(None if cls is MCEMTrainer else enc, dec, data, Adagrad(0.01, warmup=0),
                        rng=rng, batch_size=M, dtype=dtype, threads=1)
    return out


def bench(data, H, J, dtype, rounds, steps):
    trs = trainers(data, H, J, dtype)
    for tr in trs.values():                               # warm up: caches, allocator, BLAS
        for _ in range(max(3, steps // 3)):
            tr.minibatch_step()
    wall = {k: [] for k in trs}
    cpu = {k: [] for k in trs}
    for _ in range(rounds):
        for name, tr in trs.items():
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                tr.minibatch_step()
            wall[name].append((time.perf_counter() - w0) / steps)
            cpu[name].append((time.process_time() - c0) / steps)
    row = {"dtype": np.dtype(dtype).name, "H": H, "J": J, "rounds": rounds, "steps": steps}
    for clock, t in (("wall", wall), ("cpu", cpu)):
        row[f"{clock}_ms_per_step"] = {k: round(1e3 * float(np.median(v)), 3) for k, v in t.items()}
        for k in ("wake-sleep", "mcem"):
            ratios = np.array(t[k]) / np.array(t["aevb"])        # within each round
            row[f"{clock}_ratio_{k}"] = round(float(np.median(ratios)), 3)
            row[f"{clock}_ratio_{k}_range"] = [round(float(ratios.min()), 3),
                                               round(float(ratios.max()), 3)]
    row["mcem_accept_rate"] = round(trs["mcem"].accept_rate, 3)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 rounds of 15 steps")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--models", default=",".join(MODELS), help=f"from {list(MODELS)}")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=str(Path(__file__).with_name("results_baselines.json")))
    a = p.parse_args()
    rounds = a.rounds or (3 if a.quick else 7)
    steps = a.steps or (15 if a.quick else 40)
    data, source = load(a.data_dir)
    rows = []
    for model in a.models.split(","):
        H, J = MODELS[model]
        for dtype in a.dtypes.split(","):
            row = {"model": model, "data": source, **bench(data, H, J, np.dtype(dtype), rounds,
                                                            steps)}
            rows.append(row)
            print(f"{model:18s} {row['dtype']}: ms/step {row['wall_ms_per_step']}; "
                  f"wake-sleep / AEVB {row['wall_ratio_wake-sleep']} wall, "
                  f"{row['cpu_ratio_wake-sleep']} cpu; MCEM / AEVB per training sample "
                  f"{row['wall_ratio_mcem']} wall, {row['cpu_ratio_mcem']} cpu", flush=True)
    result = {"command": " ".join(["python benchmarks/bench_baselines.py"] + sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": platform.processor() or platform.machine(),
              "numpy": np.__version__, "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
              "trainer_threads": 1, "load_average": os.getloadavg(), "rows": rows}
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
