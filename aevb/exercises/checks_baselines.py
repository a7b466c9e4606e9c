"""Checks of exercise 11: the sleep phase of wake-sleep, the paper's baseline (Section 5).

The sleep phase fits the encoder to dreams (x, z) of the generative model by
ascending ``sum_i log q(z_i|x_i)``; the gradient is that of the loss, minus
this value, plus the MAP prior's ``(M/N) W`` on the weights.
"""
import importlib

import numpy as np

### BEGIN HIDDEN TESTS
from .checks_primitives import _textbook_gaussian
### END HIDDEN TESTS
from .registry import check, compare
from .registry import numerical_gradient

D, H, J, M, N = 6, 4, 3, 5, 40


def _sleep_setup(aevb, seed):
    rng = np.random.default_rng(seed)
    enc = aevb.core.networks.init_gaussian_mlp(D, H, J, rng=rng, std=0.5)
    x_dream = (rng.random((M, D)) < 0.5).astype(float)
    z_dream = rng.standard_normal((M, J))
    return importlib.import_module(aevb.__name__ + ".baselines.wakesleep"), enc, x_dream, z_dream


@check("sleep_phase")
def sleep_gradient_matches_finite_differences(aevb):
    ws, enc, x_dream, z_dream = _sleep_setup(aevb, 50)
    _, denc = ws.sleep_phase(enc, x_dream, z_dream)

    def loss():                                    # -sum_i log q(z_i | x_i)
        (mean, logvar), _ = aevb.core.networks.gaussian_mlp_forward(enc, x_dream)
        logq = aevb.core.distributions.gaussian_log_likelihood_forward(z_dream, mean, logvar)[0]
        ### BEGIN HIDDEN TESTS
        logq = _textbook_gaussian(z_dream, mean, np.exp(logvar))   # written out: not exercise 4's
        ### END HIDDEN TESTS
        return -float(np.sum(logq))
    for name in enc.names():
        numeric = numerical_gradient(loss, getattr(enc, name))
        compare("sleep_phase", f"denc.{name} (against finite differences of -sum log q(z|x))",
                getattr(denc, name), numeric, tol=1e-6, floor=1e-4, factors={
                    -1.0: "the wrong sign: the gradient of the value (ascent) instead of the loss",
                    1.0 / M: f"the mean over the {M} dreams instead of the sum"},
                hint="the sleep phase's loss is -sum_i log q(z_i|x_i) at the dreams; "
                     "backpropagate -1 per dream through the Gaussian density and the encoder")


### BEGIN HIDDEN TESTS
@check("sleep_phase")
def sleep_prior_is_scaled_by_m_over_n(aevb):
    ws, enc, x_dream, z_dream = _sleep_setup(aevb, 51)
    _, plain = ws.sleep_phase(enc, x_dream, z_dream)
    _, with_prior = ws.sleep_phase(enc, x_dream, z_dream, n_data=N)
    for name in enc.names():
        want = M / N * getattr(enc, name) if name in enc.weight_names() else \
            np.zeros_like(getattr(enc, name))
        compare("sleep_phase", f"denc.{name}: the prior's share (with n_data minus without)",
                getattr(with_prior, name) - getattr(plain, name), want, tol=1e-8, floor=1e-8,
                factors={(N / M) ** 2: "N/M instead of M/N (M = the number of dreams)"},
                hint="loss gradient of -(M/N) log p(phi): + (M/N) W on weight matrices, "
                     "nothing on biases")
### END HIDDEN TESTS
