"""Classifiers by hand: the softmax layer, the input gradient, training, model files."""
import numpy as np
import pytest

from aevb.adversarial import classifier as C
from aevb.io import datasets as D
from aevb.core.gradcheck import check_directional, check_gradient
from aevb.core.networks import init_gaussian_mlp


def small_models(rng, D_in=13):
    """A two-hidden-layer pixel model and a VAE-encoder model, non-degenerate weights."""
    fc = C.make_classifier((7, 5), 0.3, n_in=D_in, rng=rng)
    enc = init_gaussian_mlp(D_in, 9, 4, rng=rng, std=0.5)
    vae = C.make_classifier((), 0.3, encoder=enc, rng=rng)
    for m in (fc, vae):
        for b in m.biases:
            b[...] = rng.standard_normal(b.shape)
    return fc, vae


def test_softmax_cross_entropy_matches_the_closed_form_and_survives_huge_logits():
    """Catches a wrong forward (sign, a sum instead of the mean, log of the wrong entry) and
    overflow in exp(logits) when the row maximum is not subtracted."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 7))
    labels = rng.integers(0, 7, 5)
    loss, _ = C.softmax_cross_entropy_forward(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(5), labels])), rel=1e-13)
    big = np.array([[1000.0, 0.0, -1000.0], [-800.0, 800.0, 0.0]])
    loss, cache = C.softmax_cross_entropy_forward(big, np.array([1, 1]))
    assert loss == pytest.approx((1000.0 + 0.0) / 2, rel=1e-14)   # -log(e^0/(e^1000+..)) = 1000
    d = C.softmax_cross_entropy_backward(1.0, cache)
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-15)


def test_softmax_cross_entropy_backward_by_finite_differences_and_closed_form():
    """Catches a missing 1/M, a missing upstream factor, or p - onehot with the wrong sign."""
    rng = np.random.default_rng(1)
    logits = 2 * rng.standard_normal((5, 7))
    labels = rng.integers(0, 7, 5)
    dloss = 0.7
    _, cache = C.softmax_cross_entropy_forward(logits, labels)
    dlogits = C.softmax_cross_entropy_backward(dloss, cache)
    check_gradient(lambda: dloss * C.softmax_cross_entropy_forward(logits, labels)[0],
                   logits, dlogits, "logits")
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dlogits, dloss * (p - np.eye(7)[labels]) / 5, rtol=1e-12)


@pytest.mark.parametrize("which", ["pixels", "vae_encoder"])
def test_input_gradient_by_finite_differences(which):
    """Catches a wrong backward through tanh, the hidden layers, or the frozen encoder (whose
    log-variance must not contribute), coordinate by coordinate over the image."""
    rng = np.random.default_rng(2)
    model = small_models(rng)[which == "vae_encoder"]
    x = rng.random((3, 13))
    labels = rng.integers(0, 10, 3)
    _, dx = C.input_gradient(model, x, labels)
    check_gradient(lambda: C.input_gradient(model, x, labels)[0], x, dx, "x", tol=1e-7)


def test_input_gradient_of_a_softmax_on_pixels_matches_its_closed_form():
    """An independent formula, dx = (softmax - onehot) W^T / M, for FC10: catches a gradient
    computed with W instead of its transpose or without the 1/M of the mean."""
    rng = np.random.default_rng(3)
    model = C.make_classifier((), 1e-4, n_in=11, rng=rng)
    model.biases[0][...] = rng.standard_normal(10)
    x = rng.random((4, 11))
    labels = rng.integers(0, 10, 4)
    loss, dx = C.input_gradient(model, x, labels)
    logits = x @ model.weights[0] + model.biases[0]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dx, (p - np.eye(10)[labels]) @ model.weights[0].T / 4, rtol=1e-12)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), labels])), rel=1e-13)


@pytest.mark.parametrize("which", ["pixels", "vae_encoder"])
def test_training_loss_gradients_include_the_weight_decay(which):
    """Catches a weight decay applied as 2*lambda*W or lambda/2*W, applied to biases, or a
    wrong parameter gradient through the hidden layers."""
    rng = np.random.default_rng(4)
    model = small_models(rng)[which == "vae_encoder"]
    h = model.features(rng.random((6, 13)))[0]
    labels = rng.integers(0, 10, 6)
    _, grads = C.training_loss(model, h, labels)
    for a, g in zip(model.arrays(), grads):           # composed network: 1e-6 (DESIGN.md)
        check_gradient(lambda: C.training_loss(model, h, labels)[0], a, g, tol=1e-6)
    check_directional(lambda: C.training_loss(model, h, labels)[0], model.arrays(), grads,
                      rng=5)


def test_fit_learns_a_separable_problem_and_files_round_trip(tmp_path):
    """Catches an optimizer step of the wrong sign (error stays near 90 %), and a model file
    that loses a layer, the weight decay, or the encoder; an untrained model is refused."""
    rng = np.random.default_rng(6)
    centres = rng.random((10, 15))
    labels = np.repeat(np.arange(10), 40)
    x = np.clip(centres[labels] + 0.05 * rng.standard_normal((400, 15)), 0, 1)
    data = D.Dataset(x, 1.0, (15,), labels)
    fc = C.make_classifier((7, 5), 1e-4, n_in=15, name="fc", rng=rng)
    assert C.error_rate(fc, data) > 0.5
    C.fit(fc, data, epochs=15, batch_size=20, lr=1e-2, rng=7)
    assert C.error_rate(fc, data) < 0.05 and fc.trained_samples == 15 * 400
    vae = C.make_classifier((), 0.1, encoder=init_gaussian_mlp(15, 6, 3, rng=rng), name="v")
    C.save_models(tmp_path / "m.npz", [fc, vae])
    with pytest.raises(ValueError, match="never trained"):
        C.load_models(tmp_path / "m.npz")
    vae.trained_samples = 1
    C.save_models(tmp_path / "m.npz", [fc, vae])
    back = C.load_models(tmp_path / "m.npz")
    assert list(back) == ["fc", "v"] and back["fc"].weight_decay == fc.weight_decay
    np.testing.assert_array_equal(back["fc"].predict(x), fc.predict(x))
    np.testing.assert_array_equal(back["v"].forward(x)[0], vae.forward(x)[0])
