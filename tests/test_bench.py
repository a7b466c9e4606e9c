"""benchmarks/bench.py and benchmarks/bench_jax.py: the FLOP count, the summary line, and the
JAX step's gradients and Adagrad against aevb's (no wall clock: nothing here is timed)."""
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import bench  # noqa: E402


def test_flops_per_step_counts_the_floors_eleven_products():
    M, D, H, J = 100, 784, 500, 20
    products = [(M, D, H), (M, H, 2 * J), (M, J, H), (M, H, D),          # forward
                (H, M, D), (M, D, H), (J, M, H), (M, H, J),              # decoder backward
                (H, M, 2 * J), (M, 2 * J, H), (D, M, H)]                 # encoder backward
    assert bench.flops_per_step() == sum(2 * m * k * n for m, k, n in products) == 410_000_000


def _rows(kinds, seconds):
    rows = []
    for rnd in range(3):
        row = {"threads": 1, "dtype": "float32", "round": rnd}
        for k in kinds:
            row[k] = seconds[k] * (1 + 0.01 * rnd)
            row[f"load_{k}"], row[f"cpu_{k}"] = 0.1, 1.0
            row[f"blas_{k}"] = ["openblas:SkylakeX" if k.endswith("native") else "openblas:Haswell"]
        row["compile_jax-jit"] = 2.0
        rows.append(row)
    return rows


def test_summary_line_names_each_peer_the_floor_the_rate_and_the_kernel():
    seconds = {"aevb": 3.5, "aevb-serial": 4.0, "aevb-serial-native": 4.0, "floor": 3.0,
               "floor-native": 3.0, "torch-fused": 6.0, "jax-jit": 2.0}
    kinds = list(seconds)
    s = bench.summarize(_rows(kinds, seconds), kinds, 1, "float32")
    assert s["best_speedup_vs_torch-fused"] == pytest.approx(1.5)
    assert s["best_speedup_vs_jax-jit"] == pytest.approx(0.5)
    assert s["best_fraction_of_floor"] == pytest.approx(0.75)
    assert s["best_gflops"] == pytest.approx(410e6 * 600 / (4.0 * 1.01) / 1e9)   # median round
    line = bench.summary_line(s)
    assert line.startswith("summary float32 1T: 1.50x torch-fused, 0.50x jax-jit, 0.75 of floor, "
                           "61 GFLOP/s, kernel "), line


def test_jax_adagrad_matches_aevbs_bitwise_across_the_warm_up(monkeypatch):
    pytest.importorskip("jax")
    import bench_jax
    monkeypatch.setenv("XLA_FLAGS", "")              # configure() appends to it
    res = bench_jax.check_adagrad("float64")
    assert res["param_max_abs_diff"] == 0.0 and res["accum_max_abs_diff"] == 0.0, res


def test_jax_gradients_match_aevbs_on_identical_draws(monkeypatch, real_data_dir):
    pytest.importorskip("jax")
    import bench_jax
    monkeypatch.setenv("XLA_FLAGS", "")
    res = bench_jax.check_gradients("float64", data_dir=str(real_data_dir))
    assert res["grad_max_abs_diff"] <= 1e-10 * res["grad_max_abs"], res
    assert res["bound_max_abs_diff"] <= 1e-9, res
    assert np.isfinite(res["grad_max_abs"]) and res["grad_max_abs"] > 1.0, res
