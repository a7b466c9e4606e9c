"""Tests for aevb.inference.fullvb (Appendix F): gradients, the KL terms, the reduction to AEVB, the trainer."""
import numpy as np
import pytest

from aevb.core import networks as nets
from aevb.inference.fullvb import WeightPosterior, full_vb, kl_weights_forward, log_joint_weights
from aevb.core.gradcheck import check_gradient
from aevb.core.sgvb import sgvb

D, H, J = 5, 3, 3          # small odd shapes


def _model(kind, rng, logvar_scale=0.6):
    """An encoder and a q(theta) with non-degenerate means (std 0.5) and varied logvars."""
    enc = nets.init_gaussian_mlp(D, H, J, rng=rng, std=0.5)
    init = nets.init_bernoulli_mlp if kind == "bernoulli" else nets.init_gaussian_mlp
    mean = init(J, H, D, rng=rng, std=0.5)
    logvar = mean.map(lambda a: -1.5 + logvar_scale * rng.standard_normal(a.shape))
    return enc, WeightPosterior(mean, logvar)


def _data(kind, rng, M):
    x = rng.random((M, D))
    return (x > 0.5).astype(float) if kind == "bernoulli" else x


CASES = [("bernoulli", "B", 6, 6, False), ("bernoulli", "A", 6, 3, True),
         ("gaussian", "B", 4, 2, True), ("gaussian", "A", 5, 5, False),
         ("bernoulli", "B", 6, 1, False)]


@pytest.mark.parametrize("kind,estimator,M,S,sigmoid_mean", CASES)
def test_full_vb_gradients_match_finite_differences(kind, estimator, M, S, sigmoid_mean):
    """Every gradient (encoder, mu_theta, logvar_theta) against central differences, eps and zeta fixed.

    Catches a wrong chain rule through theta = mu + sigma zeta (sigma for
    sigma/2 in dlogvar, a missing sum over the S draws), a dropped (M/N) on
    the theta terms, a wrong sign in the KL(theta) or log q(theta) gradient,
    and the encoder's path through z; with L = 2 and S < M it also catches a
    mix-up of which rows use which theta draw.
    """
    rng = np.random.default_rng([7, M, S])
    enc, q = _model(kind, rng)
    x = _data(kind, rng, M)
    eps = rng.standard_normal((2, M, J))
    zeta = q.draw_zeta(S, rng)
    N = 37
    kw = dict(n_data=N, estimator=estimator, sigmoid_mean=sigmoid_mean, encoder_prior=True)
    res = full_vb(enc, q, x, eps, zeta, **kw)

    def loss():
        return -full_vb(enc, q, x, eps, zeta, **kw).objective
    for prefix, params, grads in (("enc", enc, res.denc), ("mean", q.mean, res.dmean),
                                  ("logvar", q.logvar, res.dlogvar)):
        for name, a in params.items():
            check_gradient(loss, a, getattr(grads, name), name=f"{prefix}.{name}", tol=1e-6)


def test_rows_use_their_own_theta_draw():
    """Datapoint i's bound is the plain decoder's bound at theta_(i) = mu + sigma zeta_(i).

    Catches rows matched to the wrong draw (all rows at draw 0, or row i at
    draw i mod S instead of i // (M/S)), which a gradient check cannot see.
    """
    rng = np.random.default_rng(3)
    enc, q = _model("bernoulli", rng)
    M, S = 6, 3
    x, eps, zeta = _data("bernoulli", rng, M), rng.standard_normal((1, M, J)), q.draw_zeta(S, rng)
    res = full_vb(enc, q, x, eps, zeta, n_data=50)
    for i in range(M):
        s = i // (M // S)
        theta = type(q.mean)(*[m + np.exp(0.5 * lv) * e[s] for m, lv, e in
                               zip(q.mean.arrays(), q.logvar.arrays(), zeta.arrays())])
        ref = sgvb(enc, theta, x[i:i + 1], eps[:, i:i + 1]).bound[0]
        assert abs(res.bound[i] - ref) < 1e-12, (i, res.bound[i], ref)


def test_kl_weights_matches_monte_carlo():
    """Closed-form KL(q(theta) || N(0, I)) against the average of log q - log p over draws.

    The densities are written here from the Gaussian formula, not taken from
    aevb. Catches exp(logvar) used as the standard deviation, a missing 1/2, a
    sign error, or a KL that skips the biases (which the hyperprior covers).
    """
    rng = np.random.default_rng(11)
    _, q = _model("bernoulli", rng, logvar_scale=1.0)
    q = WeightPosterior(q.mean.map(lambda a: a[:2] if a.ndim == 2 else a),   # fewer params
                        q.logvar.map(lambda a: a[:2] if a.ndim == 2 else a))
    q = WeightPosterior(*(p.map(lambda a: a.copy()) for p in (q.mean, q.logvar)))
    kl, _ = kl_weights_forward(q)
    n = 40_000
    mu = np.concatenate([a.ravel() for a in q.mean.arrays()])
    lv = np.concatenate([a.ravel() for a in q.logvar.arrays()])
    theta = mu + np.exp(0.5 * lv) * rng.standard_normal((n, mu.size))
    log_q = -0.5 * (((theta - mu) ** 2) / np.exp(lv) + lv + np.log(2 * np.pi)).sum(axis=1)
    log_p = -0.5 * (theta ** 2 + np.log(2 * np.pi)).sum(axis=1)
    d = log_q - log_p
    se = d.std() / np.sqrt(n)
    assert abs(kl - d.mean()) < 4 * se, (kl, d.mean(), se)
    assert se < 0.02 * kl            # the check can see a 10 % error


def test_estimators_a_and_b_have_the_same_expectation():
    """Eq. 21 (sampled log p - log q for z and theta) and eq. 24 (both KLs closed) agree on average.

    The data terms are shared given eps and zeta, so the difference is
    [log p(z) - log q(z|x) + KL_z] + (M/N)[log p(theta) - log q(theta) + KL_theta],
    which has mean zero. Catches a wrong factor or sign in either KL or in
    log_joint_weights, and a theta term scaled by something other than M/N.
    """
    rng = np.random.default_rng(5)
    enc, q = _model("bernoulli", rng, logvar_scale=0.5)
    M = S = 4
    x = _data("bernoulli", rng, M)
    diffs, kls = [], []
    for _ in range(600):
        eps, zeta = rng.standard_normal((1, M, J)), q.draw_zeta(S, rng)
        a = full_vb(enc, q, x, eps, zeta, n_data=M, estimator="A").objective
        b = full_vb(enc, q, x, eps, zeta, n_data=M, estimator="B")
        diffs.append(a - b.objective)
        kls.append(b.kl_theta)
    diffs = np.array(diffs)
    se = diffs.std() / np.sqrt(diffs.size)
    assert abs(diffs.mean()) < 4 * se, (diffs.mean(), se)
    assert 4 * se < 0.1 * kls[0]       # a 10 % error in KL(theta) would show


def test_log_joint_weights_is_log_p_minus_log_q():
    """log p(theta_s) - log q(theta_s) from zeta equals the Gaussian formula at theta_s.

    Catches a dropped log-variance term or a sign error in the zeta-based log q.
    """
    rng = np.random.default_rng(2)
    _, q = _model("gaussian", rng)
    zeta = q.draw_zeta(3, rng)
    theta = q.sample(zeta)
    got = log_joint_weights(theta, zeta, q)
    for s in range(3):
        t = np.concatenate([a[s].ravel() for a in theta.arrays()])
        mu = np.concatenate([a.ravel() for a in q.mean.arrays()])
        lv = np.concatenate([a.ravel() for a in q.logvar.arrays()])
        log_q = -0.5 * (((t - mu) ** 2) / np.exp(lv) + lv + np.log(2 * np.pi)).sum()
        log_p = -0.5 * (t ** 2 + np.log(2 * np.pi)).sum()
        assert abs(got[s] - (log_p - log_q)) < 1e-9


@pytest.mark.parametrize("S", [1, 6])
def test_tiny_sigma_reduces_to_aevb(S):
    """With sigma_theta -> 0 and the KL(theta) term taken out, objective and gradients are sgvb's.

    Catches a wrong scaling of the chain rule (dmean divided by S or by the
    number of rows per draw, a data term multiplied by N or M/N) and a wrong
    split of the minibatch between draws.
    """
    rng = np.random.default_rng(S)
    enc, q = _model("bernoulli", rng)
    q = WeightPosterior(q.mean, q.mean.map(lambda a: np.full_like(a, -60.0)))   # sigma ~ 1e-13
    M, N = 6, 50
    x, eps = _data("bernoulli", rng, M), rng.standard_normal((1, M, J))
    res = full_vb(enc, q, x, eps, q.draw_zeta(S, rng), n_data=N)
    ref = sgvb(enc, q.mean, x, eps)                       # no MAP prior
    assert abs(res.objective + M / N * res.kl_theta - ref.objective) < 1e-9
    for name, a in q.mean.items():
        want = getattr(ref.ddec, name)
        got = getattr(res.dmean, name) - M / N * a        # remove d(M/N KL)/dmean = (M/N) mean
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12), name
    for name, a in enc.items():
        assert np.allclose(getattr(res.denc, name), getattr(ref.denc, name), rtol=1e-9,
                           atol=1e-12), name


def test_zeta_that_does_not_divide_the_minibatch_is_refused():
    """A number of draws S that does not divide M raises a ValueError naming the fix."""
    rng = np.random.default_rng(0)
    enc, q = _model("bernoulli", rng)
    with pytest.raises(ValueError, match="divide"):
        full_vb(enc, q, _data("bernoulli", rng, 5), rng.standard_normal((1, 5, J)),
                q.draw_zeta(2, rng), n_data=10)


# ---------------------------------------------------------------- training

def _dataset(rng, n=40):
    from aevb.io.datasets import Dataset
    return Dataset((rng.random((n, D)) > 0.5).astype(np.uint8), 1.0, (D,))


def _trainer(seed, data, **kw):
    from aevb.inference.fullvb_train import FullVBTrainer
    from aevb.core.optim import Adagrad
    rng = np.random.default_rng(seed)
    enc = nets.init_gaussian_mlp(D, H, J, rng=rng, std=0.3)
    dec = nets.init_bernoulli_mlp(J, H, D, rng=rng, std=0.3)
    return FullVBTrainer(enc, dec, data, Adagrad(0.05, warmup=2), rng=rng, batch_size=4,
                         **kw)


def _state_arrays(t):
    return (t.enc.arrays() + t.q.mean.arrays() + t.q.logvar.arrays()
            + [a for s in t.optimizer.state for a in s]
            + [a for s in t.logvar_optimizer.state for a in s])


def test_trainer_resumes_bitwise_through_a_checkpoint_file(tmp_path):
    """A trainer restored from aevb.io.checkpoint continues bitwise like one that never stopped.

    Catches q(theta)'s logvars or their optimizer state left out of the
    checkpoint (the restored run would restart them from init_logvar and
    zero), or the zeta draws not taken from the saved generator.
    """
    from aevb.io import checkpoint
    from aevb.inference.fullvb_train import FullVBTrainer
    from aevb.core.optim import Adagrad
    data = _dataset(np.random.default_rng(1))
    a = _trainer(0, data, theta_draws=2)
    for _ in range(5):
        a.minibatch_step()
    checkpoint.save(tmp_path / "c.npz", a.enc, a.dec, a.state_dict(), {})
    enc, dec, state, _ = checkpoint.load(tmp_path / "c.npz")
    b = FullVBTrainer(enc, dec, data, Adagrad(0.05, warmup=2), rng=np.random.default_rng(99),
                      batch_size=4, theta_draws=2)
    b.load_state_dict(state)
    for _ in range(4):
        a.minibatch_step()
        b.minibatch_step()
    assert a.seen == b.seen
    for x, y in zip(_state_arrays(a), _state_arrays(b)):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.q.logvar.W_h, np.full_like(a.q.logvar.W_h, -10.0))  # it moved


def test_trainer_refuses_theta_draws_that_do_not_divide_m():
    """theta_draws must divide M; the error says so."""
    with pytest.raises(ValueError, match="divides"):
        _trainer(0, _dataset(np.random.default_rng(1)), theta_draws=3)


def test_fullvb_object_fits_and_draws_decoders():
    """FullVB.fit returns self with fitted attributes; sample_decoders draws distinct thetas around mu.

    Catches decoders drawn with the same zeta (no spread) or with exp(logvar)
    as the standard deviation (spread of the wrong size).
    """
    from aevb import FullVB
    rng = np.random.default_rng(4)
    X = (rng.random((40, D)) > 0.5).astype(float)
    m = FullVB(J, H, budget=200, batch_size=4, rng=0, init_logvar=-3.0)
    assert m.fit(X) is m
    assert m.n_samples_seen_ == 200 and m.weight_posterior_.mean is m.decoder_params_
    thetas = m.sample_decoders(400, rng=1)
    W = np.stack([t.W_logits for t in thetas])
    sd = np.exp(0.5 * m.weight_posterior_.logvar.W_logits)
    assert np.allclose(W.mean(0), m.decoder_params_.W_logits, atol=4 * sd.max() / 20)
    assert np.allclose(W.std(0), sd, rtol=0.2)
    b, expected, kl = m.bound(X, rng=2)
    assert np.isclose(b, expected - kl) and kl > 0


def test_fullvb_save_and_load_keep_q_theta(tmp_path):
    """Catches a saved FullVB that loses q(theta)'s log-variances or the N of its bound (it
    would load as a VAE or with a point-mass q), and a file of one kind loaded as the other."""
    from aevb import VAE
    from aevb import FullVB
    rng = np.random.default_rng(5)
    X = (rng.random((40, D)) > 0.5).astype(float)
    m = FullVB(J, H, budget=200, batch_size=4, rng=0, init_logvar=-3.0, adagrad_warmup=0).fit(X)
    m.save(tmp_path / "q.npz")
    back = FullVB.load(tmp_path / "q.npz")
    assert back.get_params() == {**m.get_params(), "rng": None}
    assert back.n_train_ == m.n_train_ == 40 and back.n_samples_seen_ == 200
    q, bq = m.weight_posterior_, back.weight_posterior_
    assert bq.mean is back.decoder_params_
    for a, b in zip(q.arrays(), bq.arrays()):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert not np.allclose(q.logvar.W_logits, -3.0)       # trained, not the initial value
    assert back.bound(X, rng=2) == m.bound(X, rng=2)
    with pytest.raises(ValueError, match="saved by FullVB.save, not VAE.save: load it with "
                                         "aevb.FullVB.load"):
        VAE.load(tmp_path / "q.npz")
    VAE(J, H, budget=200, batch_size=4, rng=0).fit(X).save(tmp_path / "v.npz")
    with pytest.raises(ValueError, match="saved by VAE.save, not FullVB.save"):
        FullVB.load(tmp_path / "v.npz")


@pytest.mark.slow
def test_fullvb_trains_on_real_mnist(real_data_dir):
    """On 1,000 real MNIST digits the eq. 14 bound rises well above its value at initialization.

    Catches a gradient of the wrong sign or scale at real-data size (the
    bound would fall or stall) and NaNs in float32.
    """
    from aevb.io import datasets as Dm
    from aevb import FullVB
    X = Dm.load_mnist("train", data_dir=real_data_dir, dtype=np.float32, binarize="fixed",
                      rng=0)[:1000]
    m = FullVB(5, 50, budget=30_000, rng=0, lr=0.02, theta_draws=10)
    m.initialize(784, np.float32)
    from aevb.inference.fullvb import WeightPosterior
    from aevb.inference.fullvb_train import eq14_bound
    q0 = WeightPosterior.around(m.decoder_params_, m.init_logvar)
    start = eq14_bound(m.encoder_params_, q0, X, len(X), rng=1)[0]
    m.fit(X)
    end = m.bound(X, rng=1)[0]
    assert np.isfinite(end) and end > start + 100, (start, end)


def test_logvar_lr_scales_only_the_logvar_step():
    """logvar_lr changes the step of log sigma_theta^2 and nothing else.

    Catches the logvar step size applied to the encoder or mu_theta, or ignored.
    """
    data = _dataset(np.random.default_rng(1))
    a, b = _trainer(0, data), _trainer(0, data, logvar_lr=0.5)
    start = [x.copy() for x in a.q.logvar.arrays()]
    for _ in range(3):                  # warm-up 2, then the first update (same gradients)
        a.minibatch_step()
        b.minibatch_step()
    for x, y in zip(a.enc.arrays() + a.q.mean.arrays(), b.enc.arrays() + b.q.mean.arrays()):
        assert np.array_equal(x, y)
    for s, x, y in zip(start, a.q.logvar.arrays(), b.q.logvar.arrays()):
        assert np.allclose(y - s, 10 * (x - s), rtol=1e-9, atol=0)
