"""Optimizers: Adagrad checked against numbers worked out by hand."""
import numpy as np
import pytest

from aevb.core.optim import PAPER_STEP_SIZES, SGD, Adagrad, Adam, make_optimizer


def test_adagrad_two_steps_by_hand():
    # lr 0.1, accumulator starts at 0.01, eps 1e-8 outside the square root.
    # Step 1, g = (0.5, -1):  G = (0.26, 1.01)
    #   p0 = 1 - 0.1 * 0.5 / (sqrt(0.26) + 1e-8) = 0.90194193435...
    #   p1 = -2 + 0.1 * 1 / (sqrt(1.01) + 1e-8) = -1.90049628196...
    # Step 2, g = (0.2, 0):   G = (0.30, 1.01)
    #   p0 = 0.90194193435 - 0.1 * 0.2 / (sqrt(0.30) + 1e-8) = 0.86542709785...
    #   p1 unchanged
    p = np.array([1.0, -2.0])
    opt = Adagrad(lr=0.1, initial_accumulator=0.01, eps=1e-8, warmup=0)
    opt.step([p], [np.array([0.5, -1.0])])
    np.testing.assert_allclose(p, [0.9019419343539848, -1.9004962819691], rtol=1e-15)
    opt.step([p], [np.array([0.2, 0.0])])
    np.testing.assert_allclose(p, [0.8654270978536405, -1.9004962819691], rtol=1e-15)
    np.testing.assert_allclose(opt.state[0][0], [0.30, 1.01], rtol=1e-15)


def test_adagrad_has_no_momentum_and_updates_in_place():
    """Catches: momentum (a zero gradient would still move p), an update into a copy,
    and an Adagrad that never moves (the first step must move p by the worked amount)."""
    p = np.array([3.0])
    view = p
    opt = Adagrad(lr=0.5, warmup=0)
    opt.step([p], [np.array([2.0])])
    assert view is p
    np.testing.assert_allclose(view, [3.0 - 0.5 * 2.0 / (np.sqrt(4.01) + 1e-8)], rtol=1e-15)
    before = p.copy()
    opt.step([p], [np.array([0.0])])          # zero gradient: no movement at all
    np.testing.assert_array_equal(p, before)


def test_adagrad_warmup_only_accumulates_then_steps_by_hand():
    """Catches: updating during warm-up, not accumulating during it, or a warm-up off by one.

    warmup = 2, lr 0.1, G0 = 0.01, gradients 1, 2, then 0.5:
    steps 1-2 leave p = 1 and make G = 0.01 + 1 + 4 = 5.01; step 3 makes
    G = 5.26 and p = 1 - 0.1 * 0.5 / (sqrt(5.26) + 1e-8).
    """
    p = np.array([1.0])
    opt = Adagrad(lr=0.1, warmup=2)
    for g in (1.0, 2.0):
        opt.step([p], [np.array([g])])
        assert p[0] == 1.0
    np.testing.assert_allclose(opt.state[0][0], [5.01], rtol=1e-15)
    opt.step([p], [np.array([0.5])])
    np.testing.assert_allclose(p, [1 - 0.1 * 0.5 / (np.sqrt(5.26) + 1e-8)], rtol=1e-15)
    assert Adagrad(0.1).warmup == 100                # the authors' code (optim docstring)
    with pytest.raises(ValueError, match="warmup must be a whole number"):
        Adagrad(0.1, warmup=-1)


def test_non_finite_optimizer_state_is_reported():
    """Catches: float32 g^2 overflowing to inf unnoticed (the parameter freezes silently)."""
    p = np.ones(3, np.float32)
    opt = Adagrad(0.1, warmup=0)
    opt.step([p], [np.ones(3, np.float32)])
    assert opt.first_non_finite() is None
    with np.errstate(over="ignore"):
        opt.step([p], [np.array([1.0, 2e19, 1.0], np.float32)])   # (2e19)^2 > float32 max
    assert opt.first_non_finite() == 0


def test_adagrad_keeps_float32():
    p = np.ones(4, np.float32)
    opt = Adagrad(0.01)
    opt.step([p], [np.full(4, 0.3, np.float32)])
    assert p.dtype == np.float32 and opt.state[0][0].dtype == np.float32


def test_sgd_and_adam_by_hand():
    p = np.array([1.0])
    SGD(0.1).step([p], [np.array([2.0])])
    assert p[0] == pytest.approx(0.8)
    q = np.array([1.0])
    adam = Adam(lr=0.1)
    adam.step([q], [np.array([2.0])])
    # bias-corrected m_hat = 2, v_hat = 4: step = 0.1 * 2 / (2 + 1e-8)
    assert q[0] == pytest.approx(1 - 0.1 * 2 / (2 + 1e-8), rel=1e-14)


def test_state_dict_round_trip_gives_identical_steps():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 2)) for _ in range(4)]
    a, b = np.ones((3, 2)), np.ones((3, 2))
    opt_a = Adagrad(0.05)
    for g in grads[:2]:
        opt_a.step([a], [g])
    opt_b = Adagrad(0.05)
    opt_b.load_state_dict(opt_a.state_dict())
    b[...] = a
    for g in grads[2:]:
        opt_a.step([a], [g])
        opt_b.step([b], [g])
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lr", [0.0, -0.01, float("nan")])
def test_bad_step_size_is_a_clear_error(lr):
    with pytest.raises(ValueError, match="step size must be a positive number"):
        Adagrad(lr)


def test_paper_step_sizes_and_factory():
    assert PAPER_STEP_SIZES == (0.01, 0.02, 0.1)
    assert isinstance(make_optimizer("Adagrad", 0.02), Adagrad)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", 0.1)


def test_a_step_in_parts_is_the_whole_step():
    rng = np.random.default_rng(1)
    shapes = [(4, 3), (3,), (3, 2)]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(3)]
    for cls in (Adagrad, Adam, SGD):
        whole, parts = [np.ones(s) for s in shapes], [np.ones(s) for s in shapes]
        opt_w, opt_p = cls(0.1), cls(0.1)
        for g in grads:
            opt_w.step(whole, g)
            opt_p.begin_step(parts)
            opt_p.update(parts[1:], g[1:], first=1)      # the later arrays first
            opt_p.update(parts[:1], g[:1])
        for a, b in zip(whole, parts):
            np.testing.assert_array_equal(a, b)


def test_state_for_other_arrays_is_a_clear_error():
    opt = Adagrad(0.1)
    opt.step([np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="holds state for 2 parameter arrays, not 1"):
        opt.step([np.ones(2)], [np.ones(2)])


def test_adam_two_steps_by_hand():
    """Catches: momentum decayed the wrong way (m /= beta1), a missing bias correction at
    t = 2, and v built from g instead of g^2 (one step from zero state cannot see these).

    lr 0.1, g1 = 2, g2 = -1:
    m1 = 0.2, v1 = 0.004; m2 = 0.9*0.2 - 0.1 = 0.08, v2 = 0.999*0.004 + 0.001 = 0.004996
    m_hat = 0.08 / (1 - 0.81) = 0.42105263..., v_hat = 0.004996 / (1 - 0.998001) = 2.49924962...
    step 2 = 0.1 * m_hat / (sqrt(v_hat) + 1e-8)
    """
    q = np.array([1.0])
    adam = Adam(lr=0.1)
    adam.step([q], [np.array([2.0])])
    after_one = 1 - 0.1 * 2 / (2 + 1e-8)
    adam.step([q], [np.array([-1.0])])
    m_hat, v_hat = 0.08 / (1 - 0.81), 0.004996 / (1 - 0.998001)
    assert q[0] == pytest.approx(after_one - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rel=1e-12)


@pytest.mark.parametrize("kw, match", [
    ({"initial_accumulator": -1.0}, "must be >= 0"), ({"eps": -1e-8}, "must be >= 0"),
    ({"initial_accumulator": 0.0, "eps": 0.0}, "cannot both be 0")])
def test_adagrad_refuses_settings_that_divide_by_zero_or_make_no_sense(kw, match):
    with pytest.raises(ValueError, match=match):
        Adagrad(0.1, **kw)
