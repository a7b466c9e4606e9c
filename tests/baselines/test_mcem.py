"""Monte Carlo EM (Appendix E): the M-step gradient, the E-step's chains, the trainer, log p(x)."""
import copy

import numpy as np
import pytest

from aevb.core import networks as nets
from aevb import MCEM
from aevb.io.datasets import Dataset
from aevb.core.gradcheck import check_gradient
from aevb.inference.likelihood import grid
from aevb.baselines.mcem import MCEMTrainer, adapt_step_size, e_step, log_likelihood
from aevb.core.optim import Adagrad
from aevb.baselines.wakesleep import joint_gradient

LOG2PI = np.log(2 * np.pi)


def _log_joint(dec, x, z):
    """log p(x, z) for a Bernoulli decoder, in plain NumPy (independent of aevb): (..., M)."""
    logits = np.tanh(z @ dec.W_h + dec.b_h) @ dec.W_logits + dec.b_logits
    return (x * logits - np.logaddexp(0, logits)).sum(-1) - 0.5 * (z ** 2 + LOG2PI).sum(-1)


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian"])
def test_m_step_gradient_at_fixed_z(kind):
    """joint_gradient at fixed z (MCEM's decoder update) is the exact loss gradient of
    sum_i log p(x_i, z_i) + (M/N) log p(theta), whose value is checked independently for the
    Bernoulli decoder. Catches: a wrong sign, the prior unscaled or on the biases, a decoder
    backward that is off (FD in float64)."""
    rng = np.random.default_rng(0)
    init = nets.init_bernoulli_mlp if kind == "bernoulli" else nets.init_gaussian_mlp
    dec = init(3, 5, 7, rng, std=0.7)
    x, z = (rng.random((4, 7)) < 0.5) * 1.0, rng.standard_normal((4, 3))
    value, ddec = joint_gradient(dec, x, z, n_data=30, sigmoid_mean=True)
    if kind == "bernoulli":
        prior = -0.5 * (dec.W_h ** 2).sum() - 0.5 * (dec.W_logits ** 2).sum()
        np.testing.assert_allclose(value, _log_joint(dec, x, z).sum() + 4 / 30 * prior,
                                   rtol=1e-12)
    for name, a in dec.items():
        check_gradient(lambda: -joint_gradient(dec, x, z, 30, True)[0], a,
                       getattr(ddec, name), f"ddec.{name}", tol=1e-6)


def test_step_size_rule_has_its_fixed_point_at_90_percent():
    """x 1.02 after a sure acceptance, / 1.02^9 after a sure rejection, unchanged at a = 0.9
    (so E[a] = 0.9 is the fixed point). Catches a rule that moves the wrong way."""
    eps = np.array([0.5, 0.5, 0.5])
    np.testing.assert_allclose(adapt_step_size(eps, np.array([1.0, 0.9, 0.0])),
                               [0.5 * 1.02, 0.5, 0.5 / 1.02 ** 9], rtol=1e-12)


def _small_model(seed=1, D=12, H=8, n=3):
    rng = np.random.default_rng(seed)
    dec = nets.init_bernoulli_mlp(2, H, D, rng, std=1.0)
    x = (rng.random((n, D)) < 0.5) * 1.0
    return dec, x


def _grid_moments(dec, x, lim=6.0, n=301):
    """Posterior mean and covariance of p(z|x_i) by summing over a 2-D grid (exact to ~1e-6)."""
    c = np.linspace(-lim, lim, n)
    z = np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 1, 2)   # (G, 1, 2)
    lp = _log_joint(dec, x, z)                                             # (G, M)
    w = np.exp(lp - lp.max(0))
    w /= w.sum(0)
    mean = np.einsum("gm,gj->mj", w, z[:, 0])
    d = z[:, 0][:, None, :] - mean[None]                                   # (G, M, 2)
    cov = np.einsum("gm,gmi,gmj->mij", w, d, d)
    return mean, cov


def _replicas(dec, x, R, rng):
    xs = np.repeat(x, R, axis=0)                              # datapoint i -> rows i*R ...
    return xs, rng.standard_normal((xs.shape[0], 2))          # chains start from the prior


def test_chains_after_burn_in_follow_the_exact_posterior():
    """600 chains per datapoint started from the prior, 30 E-step transitions at a fixed, large
    step (acceptance well below 1): their mean and covariance match the grid posterior's to 5
    standard errors. Catches: a reversed or missing Metropolis test (accepting every leapfrog
    proposal at this step inflates the variances by about a third), a kinetic energy of the wrong
    sign, chains mixed up between datapoints."""
    dec, x = _small_model()
    R, M = 600, x.shape[0]
    rng = np.random.default_rng(2)
    xs, z = _replicas(dec, x, R, rng)
    step = np.full(M * R, 0.6)
    accepted = []
    for t in range(30):
        p, u = rng.standard_normal(z.shape), rng.random(M * R)
        z, _, step, _, acc = e_step(dec, xs, z, step, p, u, n_leapfrog=10, adapt=False)
        accepted.append(acc.mean())
    assert 0.3 < np.mean(accepted) < 0.9, np.mean(accepted)         # the test is not trivial
    mean, cov = _grid_moments(dec, x)
    zz = z.reshape(M, R, 2)
    var = np.diagonal(cov, axis1=1, axis2=2)                        # (M, 2)
    assert np.all(np.abs(zz.mean(1) - mean) < 5 * np.sqrt(var / R)), (zz.mean(1), mean)
    for i in range(M):
        se = np.sqrt((np.outer(var[i], var[i]) + cov[i] ** 2) / R)  # of a sample covariance
        err = np.abs(np.cov(zz[i].T) - cov[i])
        assert np.all(err < 5 * se), (i, np.cov(zz[i].T), cov[i])


def test_step_size_adaptation_reaches_90_percent_acceptance():
    """From a step size far too large (acceptance near 0), 150 adapted transitions bring the
    acceptance of 300 chains to 0.9 +- 0.05. Catches: the rule applied with the wrong sign, to the
    wrong chains, or not at all."""
    dec, x = _small_model()
    rng = np.random.default_rng(3)
    xs, z = _replicas(dec, x[:1], 300, rng)
    step = np.full(300, 3.0)
    accepted = []
    for t in range(150):
        p, u = rng.standard_normal(z.shape), rng.random(300)
        z, _, step, a, _ = e_step(dec, xs, z, step, p, u, n_leapfrog=10)
        accepted.append(a.mean())
    assert np.mean(accepted[:5]) < 0.5
    assert abs(np.mean(accepted[-50:]) - 0.9) < 0.05, np.mean(accepted[-50:])


def test_log_likelihood_without_an_encoder_matches_grid_integration():
    """The Appendix D estimate, averaged over 40 independent estimates per image, agrees with
    the exact 2-D integral within 0.1 nats per datapoint. Catches: a missing sign on the reciprocal average, chains
    that never leave the prior (burn-in not applied), a density fitted to the wrong half."""
    dec, x = _small_model(seed=3)
    est = log_likelihood(dec, np.tile(x, (40, 1)), rng=4, n_samples=1000, n_chains=4,
                         burn_in=150)              # 40 independent estimates per image
    err = est.log_px.reshape(40, -1) - grid(dec, x)       # each has a spread of about 0.1
    np.testing.assert_allclose(err.mean(axis=0), 0.0, atol=0.1)


def test_chains_from_the_best_of_several_starts_find_the_main_mode():
    """A decoder with weights of scale 3 makes multimodal posteriors: one chain from the prior
    (the old start for test points) often stays in a minor mode and the estimate falls
    0.59 nats per datapoint below the exact integral on average (16 nats at worst); from
    the best of 8 tuned chains it is within 0.15. Catches starting test chains from the
    prior, or choosing the worst candidate instead of the best (argmin for argmax)."""
    rng = np.random.default_rng(0)
    dec = nets.init_bernoulli_mlp(2, 4, 10).map(lambda a: rng.normal(scale=3.0, size=a.shape))
    x = (rng.random((8, 10)) < 0.5).astype(float)
    exact = np.tile(grid(dec, x), 20)
    xt = np.tile(x, (20, 1))                        # 20 independent estimates per image
    kw = dict(n_samples=200, n_chains=1, density="gaussian", burn_in=200)
    one = log_likelihood(dec, xt, 1, n_starts=1, **kw)
    best = log_likelihood(dec, xt, 1, **kw)          # n_starts=8 by default
    assert np.mean(one.log_px - exact) < -0.3       # the check can see the minor modes
    assert abs(np.mean(best.log_px - exact)) < 0.15, np.mean(best.log_px - exact)
    assert best.settings["start"] == "prior, best of 8" and one.settings["start"] == "prior"
    with pytest.raises(ValueError, match="n_starts must be a whole number >= 1, got 0"):
        log_likelihood(dec, x, 1, n_starts=0)


def _trainer(seed=0, dtype=np.float64):
    data = Dataset(np.random.default_rng(100).integers(0, 256, (40, 9), dtype=np.uint8),
                   1 / 255, (1, 9), binarize="dynamic")
    rng = np.random.default_rng(seed)
    dec = nets.init_bernoulli_mlp(2, 6, 9, rng, std=0.5, dtype=dtype)
    return MCEMTrainer(None, dec, data, Adagrad(0.05, warmup=0), rng=rng, batch_size=8,
                       dtype=dtype, step_size=0.3)


def test_one_step_is_one_transition_then_five_decoder_updates():
    """A step equals, by hand: the E-step of the minibatch's chains with the same noise, the
    chains and step sizes written back at the minibatch's indices only, then 5 plain Adagrad
    updates on joint_gradient at the new z. Catches: one update instead of 5, updates at the old
    z, a prior scaled by N/M, chains of other datapoints moved."""
    tr = _trainer()
    dec, z0, step0 = tr.dec.copy(), tr.z.copy(), tr.step_size.copy()
    rng = np.random.default_rng()
    rng.bit_generator.state = tr.rng.bit_generator.state
    idx = np.sort(rng.permutation(40)[:8])
    x = tr.data.batch(idx, np.float64, rng)
    p, u = rng.standard_normal((8, 2)), rng.random(8)
    z, _, step, _, _ = e_step(dec, x, z0[idx], step0[idx], p, u, 10)
    G = [np.full_like(a, 0.01) for a in dec.arrays()]
    for _ in range(5):
        _, g = joint_gradient(dec, x, z, n_data=40)
        for a, acc, ga in zip(dec.arrays(), G, g.arrays()):
            acc += ga * ga
            a -= 0.05 * ga / (np.sqrt(acc) + 1e-8)
    tr.minibatch_step()
    others = np.setdiff1d(np.arange(40), idx)
    np.testing.assert_array_equal(tr.z[others], z0[others])
    np.testing.assert_allclose(tr.z[idx], z, rtol=1e-13)
    np.testing.assert_allclose(tr.step_size[idx], step, rtol=1e-13)
    assert not np.allclose(step, step0[idx])
    for a, b in zip(tr.dec.arrays(), dec.arrays()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
    assert tr.optimizer.t == 5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resume_from_a_checkpoint_is_bitwise_exact(tmp_path, dtype):
    """k steps, state_dict() (copied, through an npz file for the extra arrays), k more == 2k
    steps without a stop. Catches: chains or step sizes missing from state_dict, or restored in
    another dtype. (aevb.io.checkpoint.save/load assume an encoder's optimizer state: see report.)"""
    whole = _trainer(dtype=dtype)
    whole.run(12 * 8, eval_points=[])
    part = _trainer(dtype=dtype)
    part.run(5 * 8, eval_points=[])
    state, dec = copy.deepcopy(part.state_dict()), part.dec.copy()
    np.savez(tmp_path / "extra.npz", **state["extra"])
    with np.load(tmp_path / "extra.npz") as f:
        state["extra"] = {k: f[k] for k in f.files}
    fresh = _trainer(seed=7, dtype=dtype)
    for mine, theirs in zip(fresh.dec.arrays(), dec.arrays()):
        mine[...] = theirs
    fresh.load_state_dict(state)
    fresh.run(12 * 8, eval_points=[])
    for a, b in zip(fresh.dec.arrays() + [fresh.z, fresh.step_size],
                    whole.dec.arrays() + [whole.z, whole.step_size]):
        np.testing.assert_array_equal(a, b)
    assert fresh.z.dtype == dtype and fresh.n_transitions == whole.n_transitions == 96


def test_save_and_load_keep_the_decoder_and_the_chains(tmp_path):
    """Catches MCEM.load failing on a file without an encoder, losing the persistent chains
    (where scoring the training points starts), and a VAE loading an MCEM file."""
    from aevb import VAE
    X = (np.random.default_rng(0).random((60, 6)) > 0.5).astype(float)
    m = MCEM(2, 3, budget=300, batch_size=10, rng=0).fit(X)
    m.save(tmp_path / "m.npz")
    back = MCEM.load(tmp_path / "m.npz")
    assert back.get_params() == {**m.get_params(), "rng": None} and back.encoder_params_ is None
    for a, b in zip(m.decoder_params_.arrays(), back.decoder_params_.arrays()):
        assert a.tobytes() == b.tobytes()
    assert back.chains_.tobytes() == m.chains_.tobytes() and back.chains_.shape == (60, 2)
    assert back.step_sizes_.tobytes() == m.step_sizes_.tobytes()
    assert back.accept_rate_ == m.accept_rate_
    assert back.score(X[:5], rng=1) == m.score(X[:5], rng=1)
    with pytest.raises(ValueError, match="saved by MCEM.save, not VAE.save: load it with aevb.MCEM.load"):
        VAE.load(tmp_path / "m.npz")


def test_bad_input_is_one_clear_sentence():
    tr = _trainer()
    with pytest.raises(ValueError, match="MCEM has no encoder"):
        MCEMTrainer(nets.init_gaussian_mlp(9, 2, 2), tr.dec, tr.data, Adagrad(0.1), rng=0)
    state = tr.state_dict()
    state["extra"]["z"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same data set and N_z"):
        tr.load_state_dict(state)


@pytest.mark.slow
def test_mcem_learns_real_mnist(real_data_dir):
    """1000 MNIST digits, N_z = 2, H = 30, 5000 samples: log p(x) of 20 training digits (Appendix D
    estimate, chains from the persistent ones) rises far above its value at initialization
    (about -543). Catches: a decoder update of the wrong sign, chains never updated."""
    from aevb.io import datasets as D
    x = D.load_mnist("train", real_data_dir, binarize="fixed", rng=0)[:1000]
    model = MCEM(n_latent=2, n_hidden=30, budget=1, rng=0, lr=0.02).fit(x)
    settings = dict(n_samples=100, burn_in=60)
    initial = model.score(x[:20], rng=1, **settings)
    model.budget = 5_000
    assert model.fit(x) is model and model.chains_.shape == (1000, 2)
    trained = model.score(x[:20], rng=1, z0=model.chains_[:20], **settings)
    assert trained > initial + 200, (initial, trained)
    assert 0.7 < model.accept_rate_ <= 1.0
