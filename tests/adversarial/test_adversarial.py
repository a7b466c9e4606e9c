"""The box-constrained L-BFGS attack, the tables' files, and the command's errors."""
import csv

import numpy as np
import pytest

from aevb.adversarial import attack as A
from aevb.adversarial import classifier as C
from aevb.cli import main
from aevb.core.gradcheck import check_directional, check_gradient



def two_class_linear_model(rng, x, gap=1.0, n_in=20):
    """A softmax on pixels where only classes 0 (true) and 1 (target) can win, logit gap ``gap``.

    The minimum-norm r with logit_1(x + r) >= logit_0(x + r) is then r = gap w / ||w||^2,
    w = W[:, 1] - W[:, 0] (restricted to the directions the box allows).
    """
    model = C.make_classifier((), 0.0, n_in=n_in, rng=rng)
    W, b = model.weights[0], model.biases[0]
    W *= np.sqrt(n_in)                                  # unit-variance weights
    b[2:] = -50.0                                       # classes 2..9 never compete
    b[0] = gap - (x @ W[:, 0] - x @ W[:, 1])
    model.trained_samples = 1
    return model


def test_distortion_is_the_papers_root_mean_square():
    """Catches sqrt(sum r^2) without the 1/n, or a mean absolute value."""
    x = np.full(784, 0.5)
    r = np.where(np.arange(784) % 2 == 0, 0.1, -0.3)
    assert A.distortion(x + r, x) == pytest.approx(np.sqrt((0.01 + 0.09) / 2), rel=1e-12)


def test_attack_objective_gradient_by_finite_differences():
    """Catches a wrong gradient of the penalty (c r instead of 2 c r) or of the loss term."""
    rng = np.random.default_rng(4)
    model = C.make_classifier((6,), 0.0, n_in=11, rng=rng)
    x, z = rng.random(11), rng.random(11)
    f = A.attack_objective(model, x, 3, 0.7)
    check_gradient(lambda: f(z)[0], z, f(z)[1], "x'", tol=1e-6)


@pytest.mark.parametrize("gap", [1.0, 0.01])
def test_attack_finds_the_minimum_distortion_of_a_linear_model(gap):
    """Closed form: the least distortion that reaches the target is gap / ||w|| / sqrt(n).
    Catches a line search over c that stops at the first c reaching the target, or never
    raises c above its start (gap 0.01 needs c > 1, gap 1 needs c < 1), a penalty of the
    wrong sign, or a result that misses the target."""
    rng = np.random.default_rng(0)
    x = np.full(20, 0.5)
    model = two_class_linear_model(rng, x, gap)
    w = model.weights[0][:, 1] - model.weights[0][:, 0]
    d_min = gap / np.linalg.norm(w) / np.sqrt(20)
    res = A.attack(model, x, 0, 1)
    assert res.success and model.predict(res.x_adv[None])[0] == 1 == res.predicted
    assert d_min * (1 - 1e-9) <= res.distortion <= 1.05 * d_min, (res.distortion, d_min)
    assert res.distortion == pytest.approx(A.distortion(res.x_adv, x), rel=1e-12)


def test_attack_respects_the_box_and_its_minimum_inside_it():
    """Pixels at 0 or 1 can move only inward, so the least distortion is gap / ||w_allowed||
    / sqrt(n). Catches an unbounded minimization (pixels leave [0, 1]) and a result that is
    clipped afterwards instead of optimized inside the box."""
    rng = np.random.default_rng(1)
    x = (rng.random(20) < 0.5).astype(float)
    model = two_class_linear_model(rng, x, gap=0.5)
    w = model.weights[0][:, 1] - model.weights[0][:, 0]
    allowed = np.where((w > 0) == (x == 0), w, 0.0)
    d_box = 0.5 / np.linalg.norm(allowed) / np.sqrt(20)
    res = A.attack(model, x, 0, 1)
    assert res.success and 0 <= res.x_adv.min() and res.x_adv.max() <= 1
    assert np.all(res.x_adv[allowed == 0] == x[allowed == 0])   # blocked pixels stay put
    assert d_box * (1 - 1e-9) <= res.distortion <= 1.05 * d_box, (res.distortion, d_box)


def test_attack_refuses_bad_input():
    """An image outside [0, 1], a target equal to the label, or a 2-D image: one sentence."""
    model = two_class_linear_model(np.random.default_rng(2), np.full(20, 0.5))
    for x, label, target, match in [(np.full(20, 1.5), 0, 1, r"\[0, 1\]"),
                                    (np.full(20, 0.5), 3, 3, "equals the true label"),
                                    (np.full((4, 5), 0.5), 0, 1, "one flat vector")]:
        with pytest.raises(ValueError, match=match):
            A.attack(model, x, label, target)


# ---------------------------------------------------------------- the command

@pytest.fixture
def models_dir(tmp_path):
    rng = np.random.default_rng(3)
    m = C.make_classifier((), 1e-4, n_in=784, name="FC10", rng=rng)
    m.biases[0][...] = rng.standard_normal(10)
    m.trained_samples = 100
    u = C.make_classifier((), 1e-4, n_in=784, name="untrained", rng=rng)
    C.save_models(tmp_path / "models.npz", [m])
    (tmp_path / "bad").mkdir()
    C.save_models(tmp_path / "bad" / "models.npz", [m, u])
    image = rng.random(784)
    np.save(tmp_path / "x.npy", image)
    np.save(tmp_path / "big.npy", image * 2)
    return tmp_path, int(m.predict(image[None])[0])


def one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err, err


def test_cli_errors_are_one_line_with_status_2(models_dir, capsys, tmp_path):
    """Through aevb.cli.main: an image outside [0, 1], a target equal to the label, a missing
    or untrained model file, a VAE folder with nothing trained in it."""
    d, label = models_dir
    base = ["adversarial", "attack", "--models", str(d), "--model", "FC10", "--out",
            str(d / "adv.npy"), "--label", str(label)]
    one_line_error(capsys, base + ["--image", str(d / "big.npy"), "--target", "1"],
                   "scale the image into [0, 1]")
    one_line_error(capsys, base + ["--image", str(d / "x.npy"), "--target", str(label)],
                   "equals the true label")
    one_line_error(capsys, ["adversarial", "attack", "--models", str(d / "bad"), "--model",
                            "FC10", "--image", str(d / "x.npy"), "--label", "0", "--target",
                            "1", "--out", str(d / "a.npy")], "never trained")
    one_line_error(capsys, ["adversarial", "table2", "--out", str(tmp_path / "nothing")],
                   "holds no models.npz")
    (tmp_path / "emptyrun").mkdir()
    one_line_error(capsys, ["adversarial", "table1", "--out", str(tmp_path / "t1"), "--vae",
                            str(tmp_path / "emptyrun")], "holds no trained VAE")


def test_cli_attack_writes_an_example_classified_as_its_target(models_dir, capsys):
    """The command's example reaches its target, lies in [0, 1]^m, and the printed
    distortion is the example's."""
    d, label = models_dir
    target = (label + 3) % 10
    assert main(["adversarial", "attack", "--models", str(d), "--model", "FC10", "--image",
                 str(d / "x.npy"), "--label", str(label), "--target", str(target),
                 "--out", str(d / "adv.npy")]) == 0
    adv, x = np.load(d / "adv.npy"), np.load(d / "x.npy")
    model = C.load_models(d / "models.npz")["FC10"]
    assert model.predict(adv[None])[0] == target and 0 <= adv.min() and adv.max() <= 1
    assert f"distortion {A.distortion(adv, x):.4f}" in capsys.readouterr().out


# ---------------------------------------------------------------- what table1 writes

def check_reported_examples(folder):
    """Every example in examples.csv: the saved model labels it as its target, it lies in
    [0, 1]^784, its distortion is the one written next to it; Table 1 counts them. Returns
    the number of examples checked."""
    models = C.load_models(folder / "models.npz")
    with np.load(folder / "examples.npz") as z:
        ex = {k: z[k] for k in z.files}
    rows = list(csv.DictReader(open(folder / "examples.csv")))
    table = {r["model"]: r for r in csv.DictReader(open(folder / "table1.csv"))}
    checked = 0
    for name, model in models.items():
        mine = [r for r in rows if r["model"] == name]
        adv, ok = ex[f"{name}/x_adv"], ex[f"{name}/success"]
        assert [int(r["test_index"]) for r in mine] == list(ex["test_index"])
        assert np.all(model.predict(ex["x"]) == ex["label"])        # originals are right
        pred = model.predict(adv)
        for k, r in enumerate(mine):
            if not ok[k]:
                assert r["distortion"] == "nan"
                continue
            assert pred[k] == int(r["target"]) == int(r["predicted"]) == ex["target"][k]
            assert 0 <= adv[k].min() and adv[k].max() <= 1
            assert float(r["distortion"]) == pytest.approx(
                float(A.distortion(adv[k], ex["x"][k])), abs=1e-6)
            checked += 1
        assert int(table[name]["n_reached"]) == int(ok.sum())
        assert float(table[name]["mean_min_distortion"]) == pytest.approx(
            np.mean([float(r["distortion"]) for r in mine if r["distortion"] != "nan"]),
            abs=1e-5)
    return checked, models, ex


def check_saved_models(folder, models, ex):
    """The logits agree with the README's definition computed from the raw arrays (catches a
    loader that drops or reorders a layer, or forgets the encoder), and the input gradient of
    every saved model passes a directional finite-difference check."""
    with np.load(folder / "models.npz") as z:           # the README's definition, from the raw arrays
        raw = {k: z[k] for k in z.files}
    for name, model in models.items():
        h = ex["x"][:5]
        if f"{name}/encoder.W_h" in raw:
            h = np.tanh(h @ raw[f"{name}/encoder.W_h"] + raw[f"{name}/encoder.b_h"])
            h = h @ raw[f"{name}/encoder.W_mean"] + raw[f"{name}/encoder.b_mean"]
        n_layers = len([k for k in raw if k.startswith(f"{name}/W_")])
        for k in range(n_layers):
            h = h @ raw[f"{name}/W_{k}"] + raw[f"{name}/b_{k}"]
            h = np.tanh(h) if k < n_layers - 1 else h
        np.testing.assert_allclose(model.forward(ex["x"][:5])[0], h, rtol=1e-12, atol=1e-12)
    x, labels = ex["x"][:2].copy(), ex["target"][:2]
    for model in models.values():
        _, dx = C.input_gradient(model, x, labels)
        check_directional(lambda: C.input_gradient(model, x, labels)[0], [x], [dx], rng=0,
                          tol=1e-6, h=1e-3)


@pytest.mark.slow
def test_table1_and_table2_commands_on_real_data(real_data_dir, tmp_path):
    """The whole pipeline, tiny: table1 (with a VAE encoder from a short aevb run) writes
    only verified examples from models whose saved arrays mean what the README says, and
    table2's diagonal is 100 % by construction. (The committed tables' models.npz and
    examples.npz are parameters and stay out of the repository; this run checks the same
    properties on files the command has just written.)"""
    vae = tmp_path / "vae"
    assert main(["train", "--out", str(vae), "--n-latent", "3", "--n-hidden", "20", "--budget",
                 "2000", "--data-dir", str(real_data_dir), "--no-progress"]) == 0
    out = tmp_path / "t"
    assert main(["adversarial", "table1", "--out", str(out), "--vae", str(vae), "--epochs", "1",
                 "--n-train", "1000", "--n-examples", "2", "--data-dir",
                 str(real_data_dir)]) == 0
    checked, models, ex = check_reported_examples(out)
    assert checked >= 10 and len(models) == 6
    check_saved_models(out, models, ex)
    assert main(["adversarial", "table2", "--out", str(out)]) == 0
    rows = list(csv.reader(open(out / "table2.csv")))
    for i, row in enumerate(rows[1:7]):
        assert float(row[1 + i]) == 1.0
    assert (out / "figure5.png").stat().st_size > 0 and (out / "table1.md").is_file()
