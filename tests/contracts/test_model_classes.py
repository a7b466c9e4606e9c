"""The contract every model class keeps (VAE, WakeSleep, MCEM, FullVB), in scikit-learn's way.

Each test names the mistake it catches; each runs on all four classes, on a tiny
binary data set (a second or two in all).
"""
import inspect

import numpy as np
import pytest

import aevb
from aevb.models import MODELS, NotFittedError

CLASSES = list(MODELS.values())
TINY = dict(n_latent=2, n_hidden=6, budget=600, batch_size=20)


@pytest.fixture(scope="module")
def X():
    return (np.random.default_rng(0).random((60, 12)) < 0.4).astype(np.float64)


@pytest.fixture(scope="module")
def fitted(X):
    return {cls.__name__: cls(**TINY, rng=0).fit(X) for cls in CLASSES}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_init_only_stores_its_arguments(cls):
    """Catches an ``__init__`` that validates, transforms or drops an argument (scikit-learn's
    rule: get_params must give back exactly what was passed, and bad values fail in fit)."""
    params = inspect.signature(cls).parameters
    model = cls(**{**TINY, "n_latent": -3}, rng=7)        # invalid, yet stored as given
    got = model.get_params()
    assert list(got) == list(params)
    assert got["n_latent"] == -3 and got["rng"] == 7
    clone = cls(**got)
    assert repr(clone) == repr(model)
    with pytest.raises(ValueError, match="n_latent must be an integer >= 1, got -3"):
        clone.fit(np.zeros((10, 4)))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_fit_returns_self_and_sets_fitted_attributes(cls, fitted):
    """Catches a fit that returns None (breaking ``Model(...).fit(X).score(X)``) or that does
    not record how far it trained."""
    model = fitted[cls.__name__]
    assert isinstance(model, cls)
    assert model.n_samples_seen_ == TINY["budget"]
    assert model.decoder_params_ is not None
    assert (model.encoder_params_ is None) == (not cls.has_encoder)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_model_not_fitted_says_so(cls, X):
    """Catches an AttributeError (or a NaN answer) from score, sample, decode or save before
    fit, instead of the sentence that says to call fit first."""
    model = cls(**TINY, rng=0)
    for call in (lambda: model.score(X), lambda: model.sample(3), lambda: model.save("x.npz"),
                 lambda: model.decode(np.zeros((1, 2)))):
        with pytest.raises(NotFittedError, match=f"this {cls.__name__} is not fitted yet: call "
                                               f"fit"):
            call()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_bad_rng_or_a_folder_for_a_file_is_one_sentence(cls, fitted, tmp_path):
    """Catches ``sample(rng="x")`` failing deep in NumPy ("SeedSequence expects int ...")
    instead of saying what rng may be, a model that is not fitted raising something other than
    the ValueError the house promises, and ``save(FOLDER)`` failing with an OS error after it
    has written a temporary file beside the folder."""
    model = fitted[cls.__name__]
    with pytest.raises(ValueError, match=r"^rng must be None, a whole number >= 0"):
        model.sample(2, rng="x")
    assert issubclass(NotFittedError, ValueError)
    before = sorted(tmp_path.parent.iterdir())
    with pytest.raises(ValueError, match="is a folder: give save\\(\\) a file name"):
        model.save(tmp_path)
    assert sorted(tmp_path.parent.iterdir()) == before and not list(tmp_path.iterdir())


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_save_and_load_give_back_the_same_model(cls, fitted, X, tmp_path):
    """Catches a saved file that loses a setting, a parameter or the class's own state (MCEM's
    chains, FullVB's q(theta)), and a file that another class loads silently."""
    model = fitted[cls.__name__]
    path = model.save(tmp_path / "m.npz")
    back = cls.load(path)                  # rng is not saved (the docstring says so)
    assert {k: v for k, v in back.get_params().items() if k != "rng"} == \
        {k: v for k, v in model.get_params().items() if k != "rng"}
    for a, b in zip(model.decoder_params_.arrays(), back.decoder_params_.arrays()):
        np.testing.assert_array_equal(a, b)
    if cls is aevb.MCEM:
        assert hasattr(back, "chains_"), "MCEM's chains were not saved"
        np.testing.assert_array_equal(back.chains_, model.chains_)
        np.testing.assert_array_equal(back.step_sizes_, model.step_sizes_)
    if cls is aevb.FullVB:
        for a, b in zip(model.weight_posterior_.logvar.arrays(),
                        back.weight_posterior_.logvar.arrays()):
            np.testing.assert_array_equal(a, b)
    assert back.score(X[:20], rng=3) == model.score(X[:20], rng=3)
    np.testing.assert_array_equal(back.sample(4, rng=5), model.sample(4, rng=5))
    other = next(c for c in CLASSES if c is not cls)
    with pytest.raises(ValueError, match=f"was saved by {cls.__name__}.save, not "
                                         f"{other.__name__}.save"):
        other.load(path)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_same_seed_same_model_bitwise(cls, fitted, X):
    """Catches randomness that does not come from ``rng`` (the global NumPy state, a clock)."""
    again = cls(**TINY, rng=0).fit(X)
    for a, b in zip(fitted[cls.__name__].decoder_params_.arrays(),
                    again.decoder_params_.arrays()):
        np.testing.assert_array_equal(a, b)


def test_every_method_of_the_registry_names_its_model_class():
    """Catches a method whose run folders would be read back as another class."""
    assert {m.model for m in aevb.methods.METHODS.values()} == set(CLASSES)
