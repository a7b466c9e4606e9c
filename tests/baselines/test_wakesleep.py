"""Wake-sleep: both phases' gradients, the dream sampler, the training step, exact resume."""
import numpy as np
import pytest

from aevb.io import checkpoint as ckpt
from aevb.core import networks as nets
from aevb import WakeSleep
from aevb.io.datasets import Dataset
from aevb.core.gradcheck import check_gradient
from aevb.core.optim import Adagrad
from aevb.core.sgvb import lower_bound
from aevb.baselines.wakesleep import (WakeSleepTrainer, dream, dream_noise, joint_gradient,
                            sleep_phase, wake_phase)

LOG2PI = np.log(2 * np.pi)


def _model(kind, rng, D=7, H=5, J=3, std=0.7):
    enc = nets.init_gaussian_mlp(D, H, J, rng, std=std)
    init = nets.init_bernoulli_mlp if kind == "bernoulli" else nets.init_gaussian_mlp
    return enc, init(J, H, D, rng, std=std)


def _decoder_log_px(dec, x, z, sigmoid_mean):
    """log p(x|z) written out in NumPy, independently of aevb's layers (L, M)."""
    h = np.tanh(z @ dec.W_h + dec.b_h)
    if isinstance(dec, nets.BernoulliMLPParams):
        y = 1 / (1 + np.exp(-(h @ dec.W_logits + dec.b_logits)))
        return (x * np.log(y) + (1 - x) * np.log(1 - y)).sum(-1)
    mean = h @ dec.W_mean + dec.b_mean
    mean = 1 / (1 + np.exp(-mean)) if sigmoid_mean else mean
    var = np.exp(h @ dec.W_logvar + dec.b_logvar)
    return (-0.5 * (LOG2PI + np.log(var) + (x - mean) ** 2 / var)).sum(-1)


CASES = [("bernoulli", False), ("gaussian", False), ("gaussian", True)]


@pytest.mark.parametrize("kind,sigmoid_mean", CASES)
def test_wake_phase_value_and_decoder_gradient(kind, sigmoid_mean):
    """The wake value is sum log p(x, z) at z = mean + sigma eps (+ (M/N) log p(theta)), and ddec is
    its exact loss gradient. Catches: a wrong sign or a missing 1/L, the prior unscaled or on the
    biases, sigma = exp(logvar) in z, a decoder backward that is off (FD in float64)."""
    rng = np.random.default_rng(0)
    enc, dec = _model(kind, rng)
    M, L, N = 4, 2, 37
    x = rng.random((M, 7)) if kind == "gaussian" else (rng.random((M, 7)) < 0.5) * 1.0
    eps = rng.standard_normal((L, M, 3))
    value, ddec = wake_phase(enc, dec, x, eps, n_data=N, sigmoid_mean=sigmoid_mean)
    h = np.tanh(x @ enc.W_h + enc.b_h)
    z = h @ enc.W_mean + enc.b_mean + np.exp(0.5 * (h @ enc.W_logvar + enc.b_logvar)) * eps
    log_pz = (-0.5 * (z ** 2 + LOG2PI)).sum(-1)
    prior = -0.5 * sum((getattr(dec, n) ** 2).sum() for n in dec.names() if n.startswith("W"))
    expected = (_decoder_log_px(dec, x, z, sigmoid_mean) + log_pz).sum() / L + M / N * prior
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    for name, a in dec.items():
        check_gradient(lambda: -wake_phase(enc, dec, x, eps, N, sigmoid_mean)[0], a,
                       getattr(ddec, name), f"ddec.{name}", tol=1e-6)


@pytest.mark.parametrize("kind,sigmoid_mean", CASES)
def test_joint_gradient_is_the_wake_gradient_at_the_wake_sample(kind, sigmoid_mean):
    """joint_gradient (MCEM's M-step) at z = the encoder's sample gives wake_phase's value and
    gradient: catches the two drifting apart (e.g. a prior scaled by L in one of them)."""
    rng = np.random.default_rng(1)
    enc, dec = _model(kind, rng)
    x = rng.random((5, 7))
    eps = rng.standard_normal((1, 5, 3))
    h = np.tanh(x @ enc.W_h + enc.b_h)
    z = h @ enc.W_mean + enc.b_mean + np.exp(0.5 * (h @ enc.W_logvar + enc.b_logvar)) * eps[0]
    v1, g1 = wake_phase(enc, dec, x, eps, 50, sigmoid_mean)
    v2, g2 = joint_gradient(dec, x, z, 50, sigmoid_mean)
    np.testing.assert_allclose(v1, v2, rtol=1e-13)
    for a, b in zip(g1.arrays(), g2.arrays()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_sleep_phase_value_and_encoder_gradient():
    """The sleep value is sum log N(z_dream; mean(x_dream), exp(logvar)) (+ (M/N) log p(phi)), and
    denc its loss gradient. Catches: log q with sigma for sigma^2, a wrong sign, the encoder
    gradient of the wrong term, the prior unscaled (FD in float64)."""
    rng = np.random.default_rng(2)
    enc, dec = _model("bernoulli", rng)
    z_dream = rng.standard_normal((6, 3))
    x_dream = (rng.random((6, 7)) < 0.4) * 1.0
    N = 41
    value, denc = sleep_phase(enc, x_dream, z_dream, n_data=N)
    h = np.tanh(x_dream @ enc.W_h + enc.b_h)
    mean, var = h @ enc.W_mean + enc.b_mean, np.exp(h @ enc.W_logvar + enc.b_logvar)
    prior = -0.5 * sum((getattr(enc, n) ** 2).sum() for n in enc.names() if n.startswith("W"))
    expected = (-0.5 * (LOG2PI + np.log(var) + (z_dream - mean) ** 2 / var)).sum() + 6 / N * prior
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    for name, a in enc.items():
        check_gradient(lambda: -sleep_phase(enc, x_dream, z_dream, N)[0], a,
                       getattr(denc, name), f"denc.{name}", tol=1e-6)


@pytest.mark.parametrize("kind,sigmoid_mean", CASES)
def test_dreams_have_the_generative_models_moments(kind, sigmoid_mean):
    """Dreams are z ~ N(0, I), x ~ p(x|z): z has mean 0 and covariance I, and x - E[x|z] has mean 0
    and the variance E[Var(x|z)] of the model (Monte Carlo, 4 standard errors). Catches: x set to
    the decoder's mean (no sampling), u > p instead of u < p, exp(logvar) as the standard
    deviation, the sigmoid of the Frey Face mean forgotten."""
    rng = np.random.default_rng(3)
    _, dec = _model(kind, rng, std=1.0)
    n = 40_000
    z, noise = dream_noise(dec, n, rng)
    x = dream(dec, z, noise, sigmoid_mean)
    assert np.all(np.abs(z.mean(0)) < 4 / np.sqrt(n))
    np.testing.assert_allclose(np.cov(z.T), np.eye(3), atol=0.03)
    h = np.tanh(z @ dec.W_h + dec.b_h)
    if kind == "bernoulli":
        assert set(np.unique(x)) <= {0.0, 1.0}
        mean = 1 / (1 + np.exp(-(h @ dec.W_logits + dec.b_logits)))
        var = mean * (1 - mean)
    else:
        mean = h @ dec.W_mean + dec.b_mean
        mean = 1 / (1 + np.exp(-mean)) if sigmoid_mean else mean
        var = np.exp(h @ dec.W_logvar + dec.b_logvar)
    r = x - mean                                                # (n, D)
    se = np.sqrt(var.mean(0) / n)
    assert np.all(np.abs(r.mean(0)) < 4 * se), (r.mean(0) / se)
    v = (r ** 2).mean(0)
    se_v = np.sqrt(((r ** 2 - var) ** 2).mean(0) / n)
    assert np.all(np.abs(v - var.mean(0)) < 4 * se_v), ((v - var.mean(0)) / se_v)


def _data(rng, n=60, D=7):
    return Dataset(rng.integers(0, 256, size=(n, D), dtype=np.uint8), 1 / 255, (1, D),
                   binarize="dynamic")


def _trainer(seed=0, threads=1, dtype=np.float64, lr=0.05):
    data = _data(np.random.default_rng(100))
    rng = np.random.default_rng(seed)
    enc, dec = _model("bernoulli", rng, std=0.3)
    return WakeSleepTrainer(enc.astype(dtype), dec.astype(dtype), data, Adagrad(lr, warmup=0),
                            rng=rng, batch_size=10, dtype=dtype, threads=threads, n_dreams=8)


@pytest.mark.parametrize("threads", [1, 2])
def test_one_step_is_the_wake_update_of_the_decoder_and_the_sleep_update_of_the_encoder(threads):
    """A step equals, by hand: the wake gradient for the decoder, the sleep gradient on dreams from
    the step's starting decoder for the encoder, each through plain Adagrad with its own
    accumulators (G = 0.01 + g^2). Catches: a phase's gradient applied to the wrong network or
    with the wrong sign, dreams of the wrong size, accumulators shared between phases, the prior
    scaled by n_dreams / M or missing."""
    tr = _trainer(threads=threads)
    enc0, dec0 = tr.enc.copy(), tr.dec.copy()
    rng = np.random.default_rng()
    rng.bit_generator.state = tr.rng.bit_generator.state
    sampler_rng = np.random.default_rng()
    sampler_rng.bit_generator.state = tr.rng.bit_generator.state
    idx = sampler_rng.permutation(60)[:10]          # what MinibatchSampler draws first
    rng.permutation(60)
    x = tr.data.batch(np.sort(idx), np.float64, rng)
    eps = rng.standard_normal((1, 10, 3))
    z_d, u = rng.standard_normal((8, 3)), rng.random((8, 7))
    _, ddec = wake_phase(enc0, dec0, x, eps, n_data=60)
    x_d = (u < 1 / (1 + np.exp(-(np.tanh(z_d @ dec0.W_h + dec0.b_h) @ dec0.W_logits
                                  + dec0.b_logits)))) * 1.0
    _, denc = sleep_phase(enc0, x_d, z_d, n_data=60)
    tr.minibatch_step()
    for p0, g, p1 in zip(enc0.arrays() + dec0.arrays(), denc.arrays() + ddec.arrays(),
                         tr.enc.arrays() + tr.dec.arrays()):
        np.testing.assert_allclose(p1, p0 - 0.05 * g / (np.sqrt(0.01 + g * g) + 1e-8),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resume_from_a_checkpoint_is_bitwise_exact(tmp_path, dtype):
    """k steps, checkpoint (aevb.io.checkpoint round trip), k more on the helper thread == 2k steps
    without a stop on one thread. Catches: state outside state_dict (e.g. the dream noise drawn
    from another generator), a helper thread that changes the arithmetic."""
    whole = _trainer(dtype=dtype)
    whole.run(20 * 10, eval_points=[])
    part = _trainer(dtype=dtype)
    part.run(9 * 10, eval_points=[])
    ckpt.save(tmp_path / "c.npz", part.enc, part.dec, part.state_dict(), {})
    enc, dec, state, _ = ckpt.load(tmp_path / "c.npz")
    fresh = _trainer(seed=5, dtype=dtype, threads=2)       # other seed: everything must be loaded
    for mine, theirs in zip(fresh.enc.arrays() + fresh.dec.arrays(), enc.arrays() + dec.arrays()):
        mine[...] = theirs
    fresh.load_state_dict(state)
    fresh.run(20 * 10, eval_points=[])
    assert fresh.seen == whole.seen == 200
    for a, b in zip(fresh.enc.arrays() + fresh.dec.arrays(), whole.enc.arrays() + whole.dec.arrays()):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_save_and_load_give_the_same_model(tmp_path):
    """Catches a WakeSleep file that VAE.load reads with a TypeError (its extra n_dreams
    setting) instead of a sentence, and a setting or parameter lost on the way."""
    from aevb import VAE
    X = (np.random.default_rng(0).random((60, 6)) > 0.5).astype(float)
    w = WakeSleep(2, 3, budget=300, batch_size=10, rng=0).fit(X)
    w.save(tmp_path / "w.npz")
    back = WakeSleep.load(tmp_path / "w.npz")
    assert back.get_params() == {**w.get_params(), "rng": None}
    for a, b in zip(w.encoder_params_.arrays() + w.decoder_params_.arrays(),
                    back.encoder_params_.arrays() + back.decoder_params_.arrays()):
        assert a.tobytes() == b.tobytes()
    assert back.score(X, rng=1) == w.score(X, rng=1)
    with pytest.raises(ValueError, match="saved by WakeSleep.save, not VAE.save: load it "
                                         "with aevb.WakeSleep.load"):
        VAE.load(tmp_path / "w.npz")


def test_estimator_api():
    """fit returns self with fitted attributes, and score is the SGVB bound of those parameters."""
    rng = np.random.default_rng(4)
    X = (rng.random((50, 7)) < 0.3) * 1.0
    ws = WakeSleep(n_latent=2, n_hidden=4, budget=200, batch_size=10, rng=0)
    assert ws.fit(X) is ws and ws.n_samples_seen_ == 200
    eps = np.random.default_rng(9).standard_normal((1, 50, 2))
    expected = lower_bound(ws.encoder_params_, ws.decoder_params_, X, eps).mean()
    assert ws.score(X, rng=9) == pytest.approx(expected, rel=1e-12)


@pytest.mark.slow
def test_wake_sleep_learns_real_mnist(real_data_dir):
    """2000 MNIST digits, N_z = 5, H = 50, 60k samples: the test bound rises far above its value at
    initialization (about -543), and the trained encoder gives the trained decoder a higher bound
    (by more than 1 nat; about 4.5 here) than the initial encoder does. Catches: a wake gradient of
    the wrong sign (the bound does not rise), a sleep gradient of the wrong sign or zero (the
    second comparison)."""
    from aevb.io import datasets as D
    x = D.load_mnist("train", real_data_dir, binarize="fixed", rng=0)
    train, test = x[:2000], x[2000:2300]
    ws = WakeSleep(n_latent=5, n_hidden=50, budget=1, rng=0, lr=0.02).fit(train)
    initial = ws.score(test, rng=1)
    enc0 = ws.encoder_params_.copy()
    ws.budget = 50_000
    ws.fit(train)
    trained = ws.score(test, rng=1)
    assert trained > initial + 200, (initial, trained)
    mixed = WakeSleep(n_latent=5, n_hidden=50)
    mixed.encoder_params_, mixed.decoder_params_ = enc0, ws.decoder_params_
    assert trained > mixed.score(test, rng=1) + 1, (trained, mixed.score(test, rng=1))


@pytest.mark.parametrize("threads", [1, 2])
def test_non_finite_step_changes_nothing(threads):
    """A NaN in the decoder makes the step raise NonFiniteError before any update: parameters,
    Adagrad's state and the counters are as before. Catches the decoder's update (on the helper
    thread) starting before both phases' values are checked."""
    from aevb.core.train import NonFiniteError
    tr = _trainer(threads=threads)
    tr.run(3 * 10, eval_points=[])
    tr.dec.W_logits[0, 0] = np.nan
    before = [a.copy() for a in tr.enc.arrays() + tr.dec.arrays()]
    state = [[a.copy() for a in s] for s in tr.optimizer.state]
    with pytest.raises(NonFiniteError, match="parameters were left as they were"):
        tr.minibatch_step()
    for a, b in zip(before, tr.enc.arrays() + tr.dec.arrays()):
        np.testing.assert_array_equal(a, b)
    for sa, sb in zip(state, tr.optimizer.state):
        for a, b in zip(sa, sb):
            np.testing.assert_array_equal(a, b)
    assert tr.optimizer.t == 3 and tr.seen == 30
