"""The Algorithm 1 loop: the helper thread changes nothing, and a bad step changes nothing."""
import numpy as np
import pytest

from aevb.core import networks as nets
from aevb.io.datasets import Dataset
from aevb.core.optim import Adagrad, Adam
from aevb.core.train import NonFiniteError, Trainer, log_schedule


def _trainer(threads, dtype=np.float64, optimizer=Adagrad, estimator="B", seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(300, 20), dtype=np.uint8)
    data = Dataset(images, 1 / 255, (4, 5), binarize="dynamic")
    enc = nets.init_gaussian_mlp(20, 7, 3, rng, dtype=dtype)
    dec = nets.init_bernoulli_mlp(3, 7, 20, rng, dtype=dtype)
    return Trainer(enc, dec, data, optimizer(0.05), rng=rng, batch_size=25, dtype=dtype,
                   estimator=estimator, threads=threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer,estimator", [(Adagrad, "B"), (Adam, "A")])
def test_helper_thread_gives_bitwise_the_same_run(dtype, optimizer, estimator):
    one, two = (_trainer(t, dtype, optimizer, estimator) for t in (1, 2))
    for tr in (one, two):
        tr.run(40 * 25, eval_points=[])
    for a, b in zip(one.enc.arrays() + one.dec.arrays(), two.enc.arrays() + two.dec.arrays()):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)
    for sa, sb in zip(one.optimizer.state, two.optimizer.state):
        for a, b in zip(sa, sb):
            np.testing.assert_array_equal(a, b)
    assert one.optimizer.t == two.optimizer.t == 40


@pytest.mark.parametrize("threads", [1, 2])
def test_non_finite_objective_leaves_parameters_and_optimizer_as_they_were(threads):
    tr = _trainer(threads)
    tr.run(5 * 25, eval_points=[])
    before = [a.copy() for a in tr.enc.arrays() + tr.dec.arrays()]
    state = [[a.copy() for a in s] for s in tr.optimizer.state]
    tr.dec.W_logits[0, 0] = np.nan
    before[-2][0, 0] = np.nan
    with pytest.raises(NonFiniteError, match="parameters were left as they were"):
        tr.minibatch_step()
    for a, b in zip(before, tr.enc.arrays() + tr.dec.arrays()):
        np.testing.assert_array_equal(a, b)
    for sa, sb in zip(state, tr.optimizer.state):
        for a, b in zip(sa, sb):
            np.testing.assert_array_equal(a, b)
    assert tr.optimizer.t == 5 and tr.seen == 5 * 25


@pytest.mark.parametrize("threads", [0, 3, 1.5, True])
def test_bad_thread_count_is_a_clear_error(threads):
    with pytest.raises(ValueError, match="threads must be 1 or 2"):
        _trainer(threads)


def test_log_schedule_is_1_2_5_per_decade_and_ends_at_the_budget():
    assert log_schedule(1000, 100) == [100, 200, 500, 1000]
    assert log_schedule(1050, 100) == [100, 200, 500, 1000, 1100]


class _DivideByZeroOnDecoder(Adagrad):
    """Adagrad that divides by zero while updating the decoder's output layer."""

    def _update(self, p, g, state, tmp):
        if p.shape[-1] == 20:                     # W_logits, b_logits of _trainer's decoder
            np.divide(1.0, np.zeros(1))
        super()._update(p, g, state, tmp)


def test_helper_thread_obeys_the_callers_errstate():
    # `aevb train --debug-nans` relies on np.errstate reaching the decoder's update
    tr = _trainer(2, optimizer=_DivideByZeroOnDecoder)
    with np.errstate(divide="ignore"):
        tr.minibatch_step()
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        tr.minibatch_step()
