"""The VAE object: the scikit-learn-style contract, clear errors, and learning on real MNIST."""
import numpy as np
import pytest

from aevb import VAE
from aevb.models import NotFittedError
from aevb.io import datasets as D
from aevb.core import networks as nets
from aevb.core.sgvb import lower_bound


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    return (rng.random((300, 12)) < 0.3).astype(np.float64)


def small(**kw):
    return VAE(**{"n_latent": 3, "n_hidden": 7, "batch_size": 20, "budget": 2000, "rng": 0, **kw})


def test_init_only_stores_and_fit_returns_self(toy):
    vae = small()
    assert not hasattr(vae, "encoder_params_")
    assert vae.fit(toy) is vae
    assert isinstance(vae.encoder_params_, nets.GaussianMLPParams)
    assert isinstance(vae.decoder_params_, nets.BernoulliMLPParams)
    assert vae.encoder_params_.W_h.shape == (12, 7) and vae.decoder_params_.W_logits.shape == (7, 12)
    assert vae.n_samples_seen_ == 2000


def test_same_seed_same_run_bitwise(toy):
    a, b, c = small().fit(toy), small().fit(toy), small(rng=1).fit(toy)
    for x, y in zip(a.encoder_params_.arrays() + a.decoder_params_.arrays(),
                    b.encoder_params_.arrays() + b.decoder_params_.arrays()):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.decoder_params_.W_logits, c.decoder_params_.W_logits)


def test_paper_defaults():
    v = VAE()
    assert (v.n_latent, v.n_hidden, v.batch_size, v.n_mc_samples, v.estimator, v.optimizer,
            v.init_std, v.weight_decay) == (20, 500, 100, 1, "B", "adagrad", 0.01, True)


def test_score_is_estimator_b_with_fresh_noise_not_z_equals_mean(toy):
    vae = small().fit(toy)
    rng = np.random.default_rng(42)
    eps = rng.standard_normal((1, 300, 3))
    expected = lower_bound(vae.encoder_params_, vae.decoder_params_, toy, eps, "B")
    np.testing.assert_allclose(vae.score_samples(toy, rng=42), expected, rtol=1e-12)
    assert vae.score(toy, rng=42) == pytest.approx(expected.mean(), rel=1e-12)
    assert vae.score(toy, rng=1) != vae.score(toy, rng=2)         # the noise is really drawn


def test_transform_decode_sample_shapes(toy):
    vae = small().fit(toy)
    assert vae.transform(toy[:5]).shape == (5, 3)
    s = vae.sample(4, rng=0)
    assert s.shape == (4, 12) and np.all((0 < s) & (s < 1))
    np.testing.assert_array_equal(s, vae.sample(4, rng=0))


def test_transform_is_the_encoder_mean_written_out(toy):
    """Catches: transform returning the log-variance, a sample, or the hidden layer."""
    vae = small().fit(toy)
    e = vae.encoder_params_
    expected = np.tanh(toy @ e.W_h + e.b_h) @ e.W_mean + e.b_mean          # Appendix C.2
    np.testing.assert_allclose(vae.transform(toy), expected, rtol=1e-12)


def test_fit_learns_on_three_prototypes_and_moves_every_array():
    """Catches: a trainer that skips the encoder's (or the decoder's) update, or an optimizer
    that does not descend: every parameter array must move, and the bound must rise by more
    than 2 nats (about -8.3 at initialization, about -4.2 after 300 steps)."""
    rng = np.random.default_rng(0)
    prototypes = rng.random((3, 12)) < 0.5
    X = (prototypes[rng.integers(0, 3, 300)] ^ (rng.random((300, 12)) < 0.05)).astype(float)
    settings = dict(n_latent=2, n_hidden=7, batch_size=20, budget=6000, lr=0.1,
                    adagrad_warmup=10, rng=0)
    init = VAE(**settings).initialize(12)
    vae = VAE(**settings).fit(X)
    before, after = init.score(X, rng=1, n_mc_samples=10), vae.score(X, rng=1, n_mc_samples=10)
    assert after > before + 2, (before, after)
    for tag, a, b in (("enc", vae.encoder_params_, init.encoder_params_),
                      ("dec", vae.decoder_params_, init.decoder_params_)):
        for (name, x), y in zip(a.items(), b.arrays()):
            assert np.abs(x - y).max() > 1e-3, f"{tag}.{name} did not move"


def test_float32_data_trains_in_float32(toy):
    vae = small().fit(toy.astype(np.float32))
    assert vae.encoder_params_.dtype == np.float32 and vae.decoder_params_.dtype == np.float32


def test_gaussian_decoder_with_sigmoid_means():
    rng = np.random.default_rng(1)
    x = rng.random((200, 10)) * 0.5 + 0.25
    vae = small(likelihood="gaussian").fit(x)
    assert isinstance(vae.decoder_params_, nets.GaussianMLPParams)
    assert np.all((0 < vae.sample(10, rng=0)) & (vae.sample(10, rng=0) < 1))


@pytest.mark.parametrize("X,match", [
    (np.zeros((5, 4, 3)), r"use X.reshape\(5, 12\)"),
    (np.zeros((5, 12), np.uint8), r"uint8 .* use X / 255.0"),
    (np.full((5, 12), 2.0), r"values in \[2, 2\]; the Bernoulli decoder needs values in \[0, 1\]"),
    (np.array([[0.5, np.nan]] * 5), "NaN or infinity"),
    (np.zeros((0, 12)), "empty"),
    (np.zeros(12), "must be 2-D"),
])
def test_bad_data_is_a_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        small().fit(X)


@pytest.mark.parametrize("kw,match", [
    ({"n_latent": 0}, "n_latent must be an integer >= 1"),
    ({"n_hidden": -3}, "n_hidden must be an integer >= 1"),
    ({"likelihood": "poisson"}, "unknown likelihood 'poisson'"),
    ({"estimator": "C"}, "unknown estimator 'C'"),
    ({"lr": 0.0}, r"step size \(lr\) must be a positive number"),
    ({"batch_size": 1000}, "larger than the data set"),
    ({"dtype": "int8"}, "dtype must be"),
])
def test_bad_settings_are_clear_errors(toy, kw, match):
    with pytest.raises(ValueError, match=match):
        small(**kw).fit(toy)


def test_unfitted_model_says_so():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        VAE().transform(np.zeros((1, 4)))


def test_bound_rises_on_real_mnist(real_data_dir):
    train = D.mnist("train", real_data_dir)
    train = D.Dataset(train.images[:2000], train.scale, (28, 28)).with_binarization("dynamic")
    test = D.load_mnist("test", real_data_dir, binarize="fixed", rng=0)[:500]
    scores = []
    vae = VAE(n_latent=5, n_hidden=100, budget=30_000, lr=0.01, rng=0)   # warm-up: 10^4
    vae.fit(train, callback=lambda v, seen: scores.append((seen, v.score(test, rng=0))),
            eval_points=[100, 12_000, 20_000, 30_000])
    (_, first), (_, last) = scores[0], scores[-1]
    assert [s for s, _ in scores] == [100, 12_000, 20_000, 30_000]
    assert np.all(np.diff([b for _, b in scores]) > 0), scores
    assert last > first + 100, scores     # about -540 after one minibatch, about -200 after 20k


# ------------------------------------------------------------ the object people touch

def _fitted(**kw):
    X = (np.random.default_rng(0).random((300, 12)) < 0.5)
    return VAE(n_latent=3, n_hidden=8, budget=3000, rng=0, progress=False, **kw).fit(X), X


def test_boolean_pixels_are_accepted_as_binary_data():
    vae, X = _fitted()
    assert X.dtype == bool
    np.testing.assert_array_equal(vae.transform(X), vae.transform(X.astype(np.float64)))


def test_save_and_load_give_the_same_model(tmp_path):
    """Catches: a parameter or a setting (sigmoid_mean, lr, dtype) lost on the way."""
    vae, X = _fitted(lr=0.05)
    vae.save(tmp_path / "m.npz")
    back = VAE.load(tmp_path / "m.npz")
    assert back.get_params() == {**vae.get_params(), "rng": None}
    assert back.n_samples_seen_ == vae.n_samples_seen_ == 3000
    for a, b in zip(vae.encoder_params_.arrays() + vae.decoder_params_.arrays(),
                    back.encoder_params_.arrays() + back.decoder_params_.arrays()):
        np.testing.assert_array_equal(a, b)
    assert back.score(X, rng=1) == vae.score(X, rng=1)
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="is not a model saved by VAE.save"):
        VAE.load(tmp_path / "bad.npz")


def test_repr_shows_the_settings_that_differ_and_whether_it_is_fitted():
    assert repr(VAE(n_latent=5)) == "VAE(n_latent=5, n_hidden=500, likelihood='bernoulli')"
    vae, _ = _fitted()
    assert repr(vae).endswith("# fitted, 3000 training samples")
    assert "budget=3000" in repr(vae) and "lr=" not in repr(vae)


@pytest.mark.parametrize("call, match", [
    (lambda v: v.sample(-1), "number of samples must be an integer >= 1"),
    (lambda v: v.sample(2.5), "number of samples must be an integer >= 1"),
    (lambda v: v.score(np.zeros((2, 5))), "5 features per row but this model was fitted on 12"),
    (lambda v: v.transform(np.zeros((2, 5))), "5 features per row"),
    (lambda v: v.decode(np.zeros((2, 4))), r"z must be a finite array of shape \(n, 3\)"),
    (lambda v: v.score_samples(np.zeros((2, 12)), n_mc_samples=0), "n_mc_samples must be"),
])
def test_fitted_model_refuses_bad_input_in_one_sentence(call, match):
    vae, _ = _fitted()
    with pytest.raises(ValueError, match=match):
        call(vae)


@pytest.mark.parametrize("kw, match", [
    ({"lr": "fast"}, r"step size \(lr\) must be a positive number"),
    ({"init_std": -1}, "init_std must be a positive number"),
    ({"n_latent": True}, "n_latent must be an integer"),
    ({"adagrad_warmup": -1}, "adagrad_warmup must be an integer >= 0"),
    ({"sampling": "random"}, "unknown sampling"),
    ({"optimizer": "rmsprop"}, "unknown optimizer"),
    ({"progress": "yes"}, "progress must be True or False"),
])
def test_bad_constructor_arguments_fail_at_fit(kw, match):
    X = np.zeros((10, 4))
    with pytest.raises(ValueError, match=match):
        VAE(**{"n_latent": 2, "n_hidden": 3, **kw}).fit(X)


def test_defaults_agree_with_aevb_train():
    """Catches: VAE and `aevb train` training different models from the same data."""
    from aevb import runs
    for dataset, likelihood in (("mnist", "bernoulli"), ("frey", "gaussian")):
        config = runs.make_config(dataset)
        vae = VAE(likelihood=likelihood)
        assert vae.lr_ == config["lr"]
        assert vae.adagrad_warmup == config["adagrad_warmup"]
        for k in ("batch_size", "n_mc_samples", "optimizer", "estimator", "init_std",
                  "sampling", "weight_decay"):
            assert getattr(vae, k) == config[k], k
