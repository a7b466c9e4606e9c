"""The contract every trainer keeps (Algorithm 1 and the methods built on its loop).

Each trainer comes from its model class's ``make_trainer``, as run folders get it:
Trainer (VAE), PosteriorTrainer (VAE with a Laplace q), WakeSleepTrainer, MCEMTrainer,
FullVBTrainer.
"""
import numpy as np
import pytest

from aevb import FullVB, MCEM, VAE, WakeSleep
from aevb.core.train import NonFiniteError
from aevb.io.datasets import Dataset

MODELS = {
    "Trainer": lambda: VAE(n_latent=2, n_hidden=6, batch_size=10, adagrad_warmup=0, rng=1),
    "PosteriorTrainer": lambda: VAE(n_latent=2, n_hidden=6, batch_size=10, adagrad_warmup=0, rng=1,
                                    posterior="laplace", estimator="A"),
    "WakeSleepTrainer": lambda: WakeSleep(n_latent=2, n_hidden=6, batch_size=10, adagrad_warmup=0, rng=1),
    "MCEMTrainer": lambda: MCEM(n_latent=2, n_hidden=6, batch_size=10, adagrad_warmup=0, rng=1, n_leapfrog=3),
    "FullVBTrainer": lambda: FullVB(n_latent=2, n_hidden=6, batch_size=10, adagrad_warmup=0, rng=1),
}


def _trainer(name, threads=1):
    data = Dataset((np.random.default_rng(0).random((40, 9)) < 0.5).astype(np.float64), 1.0,
                   (9,), name="toy")
    model = MODELS[name]()
    model.initialize(data.n_features, np.float64)
    trainer = model.make_trainer(data, np.float64, threads=threads)
    assert type(trainer).__name__ == name
    return model, trainer


def _arrays(trainer):
    """The parameters and the optimizer's accumulators (the warm-up is off: they all move)."""
    enc = [] if trainer.enc is None else trainer.enc.arrays()
    opt = [a for per_array in trainer.optimizer.state_dict()["state"] or [] for a in per_array]
    return [a.copy() for a in enc + trainer.dec.arrays() + opt]


@pytest.mark.parametrize("name", MODELS)
def test_state_round_trip_resumes_bitwise(name):
    """Catches state a trainer forgets to save (a generator, the sampler's position, Adagrad's
    accumulators, MCEM's chains, FullVB's log-variances): stopped after 7 steps and resumed
    into a fresh trainer, it must end bitwise where an uninterrupted one ends."""
    _, straight = _trainer(name)
    straight.run(150)
    _, first = _trainer(name)
    first.run(70)
    state, params = first.state_dict(), _arrays(first)
    _, second = _trainer(name)
    for dst, src in zip(([] if second.enc is None else second.enc.arrays())
                        + second.dec.arrays(), params):     # the parameters, as a checkpoint has
        dst[...] = src
    second.load_state_dict(state)
    second.run(150)
    assert second.seen == straight.seen == 150
    moved = [not np.array_equal(a, b) for a, b in zip(params, _arrays(second)[:len(params)])]
    assert all(moved), "a parameter did not move after the resume: the test would be vacuous"
    for a, b in zip(_arrays(straight), _arrays(second)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", MODELS)
def test_non_finite_parameters_stop_training_with_a_clear_error(name):
    """Catches a trainer that trains on (or checkpoints) NaN: a NaN in the decoder must raise
    NonFiniteError, from the step or from check_finite, never pass silently."""
    _, trainer = _trainer(name)
    trainer.dec.arrays()[0][0, 0] = np.nan
    with pytest.raises(NonFiniteError):
        trainer.run(30)
        trainer.check_finite()


@pytest.mark.parametrize("name", ["Trainer", "PosteriorTrainer", "WakeSleepTrainer"])
def test_helper_thread_gives_bitwise_the_same_steps(name):
    """Catches a decoder update on the helper thread that differs from the one in turn (a race,
    or a different order of operations in Trainer.update_decoder)."""
    _, one = _trainer(name, threads=1)
    _, two = _trainer(name, threads=2)
    one.run(100)
    two.run(100)
    for a, b in zip(_arrays(one), _arrays(two)):
        np.testing.assert_array_equal(a, b)
