"""Checks of exercises 7-9: the two estimators and Adagrad.

The reference quantities are assembled here from the networks (which are not
exercises) and the paper's formulas written directly; the KL comes from a
numerical integral. So a mistake in a student's composition shows up as a
difference from an independent computation, not from itself. Those checks are
hidden tests; the visible ones compare the gradients with finite differences
of the student's own bound and check that the warm-up leaves the parameters still.
"""
import numpy as np

from .checks_primitives import _kl_by_integration
### BEGIN HIDDEN TESTS
from .checks_primitives import _paper_bernoulli, _textbook_gaussian
### END HIDDEN TESTS
from .registry import check, compare, fail, rel_error

D, H, J, M, L, N = 7, 5, 3, 4, 3, 50


def _model(aevb, seed=20, d=D, h=H, j=J, m=M, std=0.5):
    rng = np.random.default_rng(seed)
    enc = aevb.core.networks.init_gaussian_mlp(d, h, j, rng=rng, std=std)
    dec = aevb.core.networks.init_bernoulli_mlp(j, h, d, rng=rng, std=std)
    x = (rng.random((m, d)) < 0.5).astype(float)
    return enc, dec, x, rng


### BEGIN HIDDEN TESTS
def _pieces(aevb, enc, dec, x, eps):
    """mean, logvar, z, log p(x|z) (L, M) without any exercise's code."""
    (mean, logvar), _ = aevb.core.networks.gaussian_mlp_forward(enc, x)
    z = mean + np.sqrt(np.exp(logvar)) * eps
    logits, _ = aevb.core.networks.bernoulli_mlp_forward(dec, z)
    return mean, logvar, z, _paper_bernoulli(x, logits)


def _bound_b(aevb, enc, dec, x, eps):
    mean, logvar, z, logpx = _pieces(aevb, enc, dec, x, eps)
    kl = _kl_by_integration(mean, np.exp(logvar)).sum(-1)
    return logpx.mean(0) - kl, logpx, kl


def _log_prior(*containers):
    return -0.5 * sum(float(np.sum(getattr(p, n) ** 2)) for p in containers for n in p.weight_names())
### END HIDDEN TESTS


def _grad_check(ex, aevb, enc, dec, f, res, factors=None, shifts=()):
    """Finite differences of the loss ``f()`` against ``res.denc``, ``res.ddec``, array by array.

    ``shifts``: ``(label, denc_shift)`` pairs, a known mistake whose encoder gradient is the
    right one plus ``denc_shift`` (a parameter container); the decoder's is unchanged.
    """
    from .registry import numerical_gradient
    for label, params, grads in (("ddec", dec, res.ddec), ("denc", enc, res.denc)):
        for name in params.names():
            numeric = numerical_gradient(f, getattr(params, name))
            alternatives = [(what, numeric + getattr(shift, name)) for what, shift in shifts
                            if label == "denc"]
            # a mistake that leaves this array right (log q's in the mean's weights) names nothing
            alternatives = [(what, alt) for what, alt in alternatives
                            if rel_error(alt, numeric, 1e-4)[0] > 1e-3]
            compare(ex, f"{label}.{name} (against finite differences of the loss)",
                    getattr(grads, name), numeric, tol=1e-6, factors=factors, floor=1e-4,
                    alternatives=alternatives,
                    hint="sgvb returns gradients of the LOSS, -objective; the optimizer minimizes")


def _encoder_shift(aevb, enc, x, dmean, dlogvar):
    """The change of the loss gradient in the encoder's parameters when d loss / d (mean, logvar)
    (M, J) changes by ``dmean``, ``dlogvar``: a mistake in q's own terms, backpropagated."""
    _, c_enc = aevb.core.networks.gaussian_mlp_forward(enc, x)
    return aevb.core.networks.gaussian_mlp_backward(dmean, dlogvar, c_enc, need_dx=False)[1]


SIGN = {-1.0: "the wrong sign: these are gradients of the objective, not of the loss"}


def _against_your_bound(ex, aevb, estimator, seed):
    """The gradients ``sgvb`` returns against finite differences of minus ``lower_bound``'s sum."""
    enc, dec, x, rng = _model(aevb, seed=seed)
    eps = rng.standard_normal((L, M, J))
    res = aevb.core.sgvb.sgvb(enc, dec, x, eps, estimator)

    def loss():
        return -float(np.sum(aevb.core.sgvb.lower_bound(enc, dec, x, eps, estimator)))
    _grad_check(ex, aevb, enc, dec, loss, res, factors=SIGN)


# ---------------------------------------------------------------- 7. estimator B
@check("estimator_b")
def gradients_b_match_finite_differences_of_your_bound(aevb):
    """The gradients ``sgvb`` returns are those of minus the bound ``lower_bound`` computes."""
    _against_your_bound("estimator_b", aevb, "B", seed=27)


### BEGIN HIDDEN TESTS
@check("estimator_b")
def bound_b_matches_eq10(aevb):
    enc, dec, x, rng = _model(aevb)
    eps = rng.standard_normal((L, M, J))
    got = aevb.core.sgvb.lower_bound(enc, dec, x, eps, "B")
    want, logpx, kl = _bound_b(aevb, enc, dec, x, eps)
    compare("estimator_b", "the bound per datapoint, shape (M,)", got, want, tol=1e-8,
            alternatives=[("sum over the L = 3 samples instead of the mean", logpx.sum(0) - kl),
                          ("the wrong sign on the KL: the bound is E[log p(x|z)] - KL",
                           logpx.mean(0) + kl)],
            hint="eq. 10: L(x_i) = -KL(q(z|x_i) || p(z)) + (1/L) sum_l log p(x_i | z_il)")


@check("estimator_b")
def minibatch_estimate_is_eq8(aevb):
    bound = np.random.default_rng(21).uniform(-200, -100, M)
    got = aevb.core.sgvb.minibatch_estimate(bound, N)
    want = N / M * bound.sum()
    compare("estimator_b", f"eq. 8 with M = {M}, N = {N}", got, want, tol=1e-12, alternatives=[
        ("the sum over the minibatch without the N/M scaling", bound.sum()),
        ("M/N instead of N/M", M / N * bound.sum()),
        ("sum instead of mean the other way round: the mean over the minibatch, the bound per "
         "datapoint rather than the full-data estimate", bound.mean())],
        hint="eq. 8: L(theta, phi; X) ~ (N/M) sum_i L(theta, phi; x_i)")


@check("estimator_b")
def objective_adds_the_scaled_prior(aevb):
    enc, dec, x, rng = _model(aevb, seed=22)
    eps = rng.standard_normal((L, M, J))
    res = aevb.core.sgvb.sgvb(enc, dec, x, eps, "B", n_data=N)
    s = float(np.sum(_bound_b(aevb, enc, dec, x, eps)[0]))
    prior = _log_prior(enc, dec)
    compare("estimator_b", "objective with n_data = N", res.objective, s + M / N * prior,
            tol=1e-9, alternatives=[("N/M instead of M/N on log p(theta)", s + N / M * prior),
                                    ("N/M instead of M/N (the objective is (M/N) [eq. 8 + "
                                     "log p(theta)])", (N / M) ** 2 * s + N / M * prior),
                                    ("the eq. 8 estimate (N/M) sum_i L(x_i) + log p(theta) "
                                     "without the factor M/N", N / M * s + prior),
                                    ("the prior is missing", s),
                                    ("the prior with the wrong sign", s - M / N * prior)],
            hint="objective = sum_i L(x_i) + (M/N) log p(theta) (aevb.core.sgvb module docstring)")
    plain = aevb.core.sgvb.sgvb(enc, dec, x, eps, "B")
    for label, params, with_prior, without in (("denc", enc, res.denc, plain.denc),
                                               ("ddec", dec, res.ddec, plain.ddec)):
        for name in params.weight_names():
            W = getattr(params, name)
            compare("estimator_b", f"{label}.{name}: the prior's share of the gradient "
                    "(with n_data minus without)", getattr(with_prior, name) - getattr(without, name),
                    M / N * W, tol=1e-8, factors={(N / M) ** 2: "N/M instead of M/N"})


@check("estimator_b")
def gradients_b_match_finite_differences(aevb):
    enc, dec, x, rng = _model(aevb, seed=23)
    eps = rng.standard_normal((L, M, J))
    res = aevb.core.sgvb.sgvb(enc, dec, x, eps, "B")

    def loss():
        return -float(np.sum(_bound_b(aevb, enc, dec, x, eps)[0]))
    (mean, logvar), _ = aevb.core.networks.gaussian_mlp_forward(enc, x)
    dkl_dmean, dkl_dlogvar = mean, 0.5 * (np.exp(logvar) - 1.0)      # d KL / d (mean, logvar)
    _grad_check("estimator_b", aevb, enc, dec, loss, res, factors={
        float(L): f"sum over the L = {L} samples instead of the mean: d loss / d log p(x|z_l) = -1/L",
        -1.0: "the wrong sign: these are gradients of the objective, not of the loss"}, shifts=[
        ("the KL's gradient with the wrong sign: the loss -bound = KL - E[log p(x|z)] has +KL, so "
         "d loss / d (mean, logvar) gets + d KL",
         _encoder_shift(aevb, enc, x, -2 * dkl_dmean, -2 * dkl_dlogvar)),
        ("the KL's gradient is missing from d loss / d (mean, logvar)",
         _encoder_shift(aevb, enc, x, -dkl_dmean, -dkl_dlogvar))])
### END HIDDEN TESTS


# ---------------------------------------------------------------- 8. estimator A
@check("estimator_a")
def gradients_a_match_finite_differences_of_your_bound(aevb):
    """The gradients ``sgvb`` returns for estimator A are those of minus its ``lower_bound``."""
    _against_your_bound("estimator_a", aevb, "A", seed=28)


### BEGIN HIDDEN TESTS
def _bound_a_terms(aevb, enc, dec, x, eps):
    mean, logvar, z, logpx = _pieces(aevb, enc, dec, x, eps)
    logpz = _textbook_gaussian(z, 0.0, np.ones_like(z))
    logqz = _textbook_gaussian(z, mean, np.exp(logvar))
    return mean, logvar, logpx, logpz, logqz


@check("estimator_a")
def bound_a_matches_eq6(aevb):
    enc, dec, x, rng = _model(aevb, seed=24)
    eps = rng.standard_normal((L, M, J))
    got = aevb.core.sgvb.lower_bound(enc, dec, x, eps, "A")
    mean, logvar, logpx, logpz, logqz = _bound_a_terms(aevb, enc, dec, x, eps)
    logq_at_mean = _textbook_gaussian(mean, mean, np.exp(logvar))
    compare("estimator_a", "the bound per datapoint, shape (M,)", got,
            (logpx + logpz - logqz).mean(0), tol=1e-8, alternatives=[
                ("z = mean when scoring: log q(z|x) evaluated at the mean (eps = 0), not at z_l",
                 (logpx + logpz - logq_at_mean).mean(0)),
                ("the wrong sign on log q(z|x)", (logpx + logpz + logqz).mean(0)),
                ("the prior log p(z) is missing", (logpx - logqz).mean(0)),
                ("sum over the L = 3 samples instead of the mean", (logpx + logpz - logqz).sum(0))],
            hint="eq. 6: (1/L) sum_l [log p(x, z_l) - log q(z_l|x)], z_l = mean + sigma eps_l")


@check("estimator_a")
def a_and_b_agree_in_expectation(aevb):
    """Monte Carlo: eq. 6 and eq. 10 estimate the same bound; with many samples they agree."""
    enc, dec, x, rng = _model(aevb, seed=25)
    n = 10000
    eps = rng.standard_normal((n, M, J))
    got = aevb.core.sgvb.lower_bound(enc, dec, x, eps, "A")
    mean, logvar, logpx, logpz, logqz = _bound_a_terms(aevb, enc, dec, x, eps)
    kl = _kl_by_integration(mean, np.exp(logvar)).sum(-1)
    want = logpx.mean(0) - kl                       # estimator B with the same draws
    se = (logpz - logqz).std(0) / np.sqrt(n)
    z = np.abs(np.asarray(got) - want) / se
    i = int(np.argmax(z))
    if not z[i] < 6:
        fail("estimator_a", f"bound of datapoint {i} averaged over {n} draws",
             f"{got[i]:.5g}, but estimator B gives {want[i]:.5g} ({z[i]:.0f} standard errors "
             f"away): E_q[log p(z) - log q(z|x)] must equal -KL.")


@check("estimator_a")
def gradients_a_match_finite_differences(aevb):
    enc, dec, x, rng = _model(aevb, seed=26)
    eps = rng.standard_normal((L, M, J))
    res = aevb.core.sgvb.sgvb(enc, dec, x, eps, "A")

    def loss():
        _, _, logpx, logpz, logqz = _bound_a_terms(aevb, enc, dec, x, eps)
        return -float(np.sum((logpx + logpz - logqz).mean(0)))
    # d loss / d log q(z_l|x) = +1/L. Through z = mean + sigma eps, log q = -1/2 (eps^2 + logvar
    # + log 2 pi): its total gradient is (0, -1/2) in (mean, logvar). Its partial derivatives at
    # z held fixed are (eps / sigma, -1/2 + eps^2 / 2): they miss d log q / dz * dz / d(mean, logvar).
    (mean, logvar), _ = aevb.core.networks.gaussian_mlp_forward(enc, x)
    sigma = np.exp(0.5 * logvar)
    _grad_check("estimator_a", aevb, enc, dec, loss, res, factors={
        -1.0: "the wrong sign: these are gradients of the objective, not of the loss"}, shifts=[
        ("log q(z|x) differentiated through mean and logvar with z held fixed: the path through "
         "z = mean + sigma eps is missing (d log q / dz * dz / d(mean, logvar)); at fixed eps "
         "log q = -1/2 (eps^2 + logvar + log 2 pi), so its gradient is -1/2 in logvar and 0 in mean",
         _encoder_shift(aevb, enc, x, (eps / sigma).mean(0), (0.5 * eps * eps).mean(0))),
        ("log q(z|x)'s gradient with the wrong sign (d loss / d log q = +1/L)",
         _encoder_shift(aevb, enc, x, np.zeros_like(mean), -np.ones_like(logvar))),
        ("log q(z|x)'s gradient is missing from d loss / d logvar (it is -1/2 per unit at fixed eps)",
         _encoder_shift(aevb, enc, x, np.zeros_like(mean), 0.5 * np.ones_like(logvar)))])
### END HIDDEN TESTS


# ---------------------------------------------------------------- 9. Adagrad
LR, G0, EPS = 0.1, 0.01, 1e-8
# eps inside the square root, sqrt(G + eps), is as right as sqrt(G) + eps: it moves an update
# by at most eps / (2 sqrt(G)) relatively, 5e-7 at G = G0. The mistakes below move it by 10 %
# and more, so updates are compared at 1e-6.
ADAGRAD_TOL = 1e-6
WARMUP_TOO_LONG = ("no update at step t = warmup + 1: the warm-up lasts one step too long (it must "
                   "be the steps t = 1 ... warmup, t <= warmup, with t counted from 1)")
G_TWICE = ("the current g^2 added to the accumulator twice (once before the warm-up test and "
           "once after it)")


### BEGIN HIDDEN TESTS
@check("adagrad")
def one_adagrad_step(aevb):
    rng = np.random.default_rng(30)
    p0 = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    p = p0.copy()
    aevb.core.optim.Adagrad(LR, initial_accumulator=G0, eps=EPS, warmup=0).step([p], [g])
    compare("adagrad", "the first update theta_1 - theta_0", p - p0,
            -LR * g / (np.sqrt(G0 + g * g) + EPS), tol=ADAGRAD_TOL, alternatives=[
                ("the accumulator used before adding g^2 (G <- G + g^2 comes first)",
                 -LR * g / (np.sqrt(G0) + EPS)),
                ("no square root of the accumulator", -LR * g / (G0 + g * g + EPS)),
                ("the wrong sign: the optimizer minimizes the loss", LR * g / (np.sqrt(G0 + g * g) + EPS)),
                (WARMUP_TOO_LONG, np.zeros_like(g)),
                (G_TWICE, -LR * g / (np.sqrt(G0 + 2 * g * g) + EPS))],
            hint="G <- G + g^2, then theta <- theta - lr g / (sqrt(G) + eps)")


@check("adagrad")
def adagrad_accumulates_over_steps(aevb):
    rng = np.random.default_rng(31)
    p = rng.standard_normal(5)
    gs = rng.standard_normal((3, 5))
    opt = aevb.core.optim.Adagrad(LR, initial_accumulator=G0, eps=EPS, warmup=0)
    want, stale, G = p.copy(), p.copy(), np.full(5, G0)
    for g in gs:
        opt.step([p], [g.copy()])
        G = G + g * g
        want = want - LR * g / (np.sqrt(G) + EPS)
        stale = stale - LR * g / (np.sqrt(G0 + g * g) + EPS)
    compare("adagrad", "theta after three steps", p, want, tol=ADAGRAD_TOL, alternatives=[
        ("the accumulator is reset every step instead of summing all past g^2", stale)])
    compare("adagrad", "the accumulator G kept in self.state after three steps",
            opt.state[0][0], G, tol=1e-12, hint="keep G in the state so that a run can resume")
### END HIDDEN TESTS


@check("adagrad")
def adagrad_warmup_only_accumulates(aevb):
    rng = np.random.default_rng(32)
    p0 = rng.standard_normal(4)
    gs = rng.standard_normal((3, 4))
    p = p0.copy()
    opt = aevb.core.optim.Adagrad(LR, initial_accumulator=G0, eps=EPS, warmup=2)
    for k, g in enumerate(gs[:2]):
        opt.step([p], [g.copy()])
        alternatives = []
        ### BEGIN HIDDEN TESTS
        moved = p0 - LR * g / (np.sqrt(G0 + (gs[:k + 1] ** 2).sum(0)) + EPS)   # updated at t = k + 1
        label = ("an off-by-one in the warm-up: it updates at step t = warmup; the warm-up is the "
                 "steps t <= warmup, the first update is at t = warmup + 1" if k + 1 == 2 else
                 f"it updates during the warm-up (at t = {k + 1} <= warmup = 2)")
        alternatives = [(label, moved)]
        ### END HIDDEN TESTS
        compare("adagrad", f"theta after warm-up step {k + 1} (warmup=2)", p, p0, tol=1e-15,
                alternatives=alternatives,
                hint="during the warm-up steps (t <= warmup) the parameters must not move")
    ### BEGIN HIDDEN TESTS
    opt.step([p], [gs[2].copy()])
    G = G0 + (gs * gs).sum(0)

    def update(G):
        return -LR * gs[2] / (np.sqrt(G) + EPS)
    compare("adagrad", "the first update after the warm-up", p - p0,
            update(G), tol=ADAGRAD_TOL, alternatives=[
                ("the warm-up steps did not add their g^2 to the accumulator",
                 update(G0 + gs[2] ** 2)),
                ("accumulating one step too few: the g^2 of the last warm-up step (t = warmup) "
                 "is missing from the accumulator", update(G - gs[1] ** 2)),
                ("accumulating one step too few: the g^2 of the first warm-up step (t = 1) is "
                 "missing from the accumulator", update(G - gs[0] ** 2)),
                ("the accumulator used before adding g^2 (G <- G + g^2 comes first)",
                 update(G - gs[2] ** 2)),
                (G_TWICE, update(G + gs[2] ** 2)),
                (WARMUP_TOO_LONG, np.zeros_like(p))])
    ### END HIDDEN TESTS
