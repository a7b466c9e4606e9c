"""The aevb command: run folders on real data, and one-line errors for bad input."""
import json
import subprocess
import sys

import numpy as np
import pytest

from aevb.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "aevb", *args], capture_output=True, text=True,
                          timeout=300)


def test_train_mnist_writes_a_complete_run_folder(real_data_dir, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--n-latent", "3", "--n-hidden", "20",
                 "--budget", "20000", "--dtype", "float32", "--seed", "3", "--out", str(out),
                 "--data-dir", str(real_data_dir), "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [      # .lock: the writer's (runs.lock_folder)
        ".lock", "checkpoint.npz", "config.json", "curve.png", "log.jsonl", "params.npz",
        "samples.png"]
    config = json.loads((out / "config.json").read_text())
    assert config["binarize"] == "dynamic" and config["train_split"] == "train"
    assert config["n_latent"] == 3 and config["dtype"] == "float32" and config["seed"] == 3
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["samples"] for r in log] == [100, 200, 500, 1000, 2000, 5000, 10000, 20000]
    assert all(np.isfinite(r["train_bound"]) and np.isfinite(r["test_bound"]) for r in log)
    assert log[-1]["test_bound"] > log[0]["test_bound"]
    params = np.load(out / "params.npz")
    assert params["encoder.W_h"].shape == (784, 20) and params["decoder.W_logits"].shape == (20, 784)
    assert params["encoder.W_h"].dtype == np.float32


@pytest.mark.slow
def test_train_frey_face_gives_a_positive_bound(real_data_dir, tmp_path):
    out = tmp_path / "frey"
    assert main(["train", "--dataset", "frey", "--n-latent", "2", "--budget", "2e5",
                 "--dtype", "float32", "--out", str(out), "--data-dir", str(real_data_dir),
                 "--no-progress"]) == 0
    last = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    config = json.loads((out / "config.json").read_text())
    assert config["likelihood"] == "gaussian" and config["n_hidden"] == 200
    assert config["sigmoid_mean"] is True and config["scale"] == 1 / 256
    assert last["train_bound"] > 0 and last["test_bound"] > 0, last


def test_refuses_to_overwrite_another_run(tmp_path):
    (tmp_path / "log.jsonl").write_text("precious\n")
    r = run_cli("train", "--out", str(tmp_path), "--offline")
    assert r.returncode != 0 and "already holds files" in r.stderr
    assert (tmp_path / "log.jsonl").read_text() == "precious\n"


@pytest.mark.parametrize("args,match", [
    (["--n-latent", "0"], "must be a whole number >= 1"),
    (["--lr", "-0.1"], "must be a positive number"),
    (["--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["--estimator", "C"], "invalid choice: 'C'"),
    (["--dataset", "frey", "--binarize", "fixed"], "--binarize is for --dataset mnist only"),
    (["--dataset", "frey", "--full-train"], "--full-train is for --dataset mnist only"),
])
def test_bad_arguments_exit_nonzero_with_a_message(tmp_path, args, match):
    """Catches a wrong setting accepted or ignored (a Frey Face run that silently drops
    --binarize), and a refusal that is not one line: argparse's usage dump is 15 lines in
    front of the sentence that matters."""
    r = run_cli("train", "--out", str(tmp_path / "r"), *args)
    assert r.returncode == 2 and match in r.stderr
    assert len(r.stderr.splitlines()) == 1 and "usage:" not in r.stderr, r.stderr
    assert not (tmp_path / "r").exists()


def test_missing_data_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("AEVB_DATA_DIR", raising=False)
    r = run_cli("train", "--out", str(tmp_path / "r"), "--data-dir", str(tmp_path), "--offline")
    assert r.returncode == 2
    assert "error: train-images-idx3-ubyte.gz not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_data_command_reports_status(real_data_dir):
    r = run_cli("data", "--data-dir", str(real_data_dir))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("verified") == 5


@pytest.mark.parametrize("estimator", ["is", "hmc"])
def test_evaluate_writes_its_results_into_the_run(real_data_dir, tmp_path, estimator):
    out = tmp_path / "run"
    assert main(["train", "--n-latent", "2", "--n-hidden", "20", "--budget", "3000",
                 "--out", str(out), "--data-dir", str(real_data_dir), "--no-progress"]) == 0
    assert main(["evaluate", str(out), "--estimator", estimator, "--splits", "train", "test",
                 "--n-points", "20", "--n-samples", "200", "--data-dir", str(real_data_dir)]) == 0
    res = json.loads((out / f"likelihood-{estimator}.json").read_text())
    assert res["params"] == "params.npz" and res["settings"]["n_samples"] == 200
    for split in ("train", "test"):
        r = res["splits"][split]
        assert r["n_points"] == 20 and np.isfinite(r["log_px_mean"])
        assert r["log_px_mean"] > r["elbo_mean"] - 1.0       # log p(x) >= ELBO, up to noise


def _valid_config(folder):
    from aevb import runs
    (folder / "config.json").write_text(json.dumps(runs.make_config("frey", n_latent=2)))


def test_evaluate_without_parameters_is_a_clear_error(tmp_path):
    _valid_config(tmp_path)
    r = run_cli("evaluate", str(tmp_path))
    assert r.returncode == 2 and "holds neither params.npz nor checkpoint.npz" in r.stderr


def test_evaluate_with_a_config_that_is_not_a_run_config_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    r = run_cli("evaluate", str(tmp_path))
    assert r.returncode == 2 and "config.json: dataset is None" in r.stderr
    assert "Traceback" not in r.stderr


def test_evaluate_with_a_corrupt_parameter_file_is_a_clear_error(tmp_path):
    _valid_config(tmp_path)
    (tmp_path / "params.npz").write_bytes(b"not an npz file")
    r = run_cli("evaluate", str(tmp_path))
    assert r.returncode == 2 and "is not a readable aevb parameter file" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_progress_bar_to_a_redirected_stream_does_not_flood_it(real_data_dir, tmp_path):
    """Catches a bar that redraws ten times a second into a log file or CI's output (83 KB for
    one run). Redirected, it redraws only when its bound is updated (every 50 steps = 5,000
    samples here) and at its start and end, however fast the machine; ten redraws a second
    add at least one per 0.1 s of the run (which takes seconds), so redraws are counted, not
    bytes."""
    budget = 5 * 10**4
    r = run_cli("train", "--out", str(tmp_path / "r"), "--dataset", "frey", "--n-latent", "2",
                "--budget", str(budget), "--data-dir", str(real_data_dir))
    assert r.returncode == 0, r.stderr[-500:]
    redraws = sum("samples" in line for line in r.stderr.splitlines())  # text mode: \r is \n
    assert redraws <= budget // 5000 + 3, f"{redraws} redraws ({len(r.stderr)} bytes) of the bar"
