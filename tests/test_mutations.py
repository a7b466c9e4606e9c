"""Mutation catalogue: known mistakes, applied to a copy of aevb, must each fail a fast test.

Each entry is a mistake people make when implementing the paper (or one this
project made once): a file of the package, the exact text it replaces (which
must occur exactly once, so the catalogue fails loudly when the code changes
under it), the new text, and the fast tests that must catch it. The slow test
copies ``aevb/`` into a temporary folder, applies one mutation, and runs only
those tests in a subprocess that imports the copy (checked, not assumed: the
editable install would otherwise win); pytest must report failed tests (exit
status 1), not a crash at collection (2) or a pass (0), and the output must not
show a NameError or the like (a mutant that merely breaks the code is not a
catch). A control runs the same tests on an unmutated copy: they must pass.

Run it with ``pytest --runslow tests/test_mutations.py``; a survivor is named
by its parameter id.
"""
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import aevb

PACKAGE = Path(aevb.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
TIMEOUT = 120          # seconds per mutant; the slowest needs about 3 on one core


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str                       # inside aevb/
    edits: tuple                    # ((old, new), ...), applied in order
    tests: tuple                    # pytest node ids under tests/, all fast
    why: str = ""

    def apply(self, text):
        for old, new in self.edits:
            n = text.count(old)
            if n != 1:
                raise AssertionError(f"mutation {self.name!r}: the text to replace occurs "
                                     f"{n} times in aevb/{self.file}, not once: {old!r}; "
                                     f"update the catalogue to the current code")
            text = text.replace(old, new)
        return text


def _m(name, file, old, new, tests, why=""):
    edits = tuple(zip(old, new)) if isinstance(old, tuple) else ((old, new),)
    return Mutation(name, file, edits, tuple(tests), why)


LK = "test_likelihood.py::"
IS_TESTS = (LK + "test_importance_sampling_matches_exact_integration",
            LK + "test_importance_sampling_is_the_log_mean_of_estimator_a_weights")
APPENDIX_D = LK + "test_appendix_d_with_the_paper_settings_matches_exact_integration"
KL_BY_HAND = "test_distributions.py::test_kl_is_zero_at_the_prior_and_right_by_hand_away_from_it"
EQ10 = "test_sgvb.py::test_estimator_b_matches_eq_10_written_out"
PRIOR = "test_sgvb.py::test_weight_decay_term_alone"

MUTATIONS = [
    # ---------------------------------------------------- marginal likelihood (issue 17)
    _m("is_without_minus_log_k", "inference/likelihood.py",
       "log_px = top + np.log(s1) - np.log(K)", "log_px = top + np.log(s1)", IS_TESTS),
    _m("is_returns_the_elbo", "inference/likelihood.py",
       ("    s2 = np.zeros(M)\n",
        "            top[rows] = new_top\n",
        "log_px = top + np.log(s1) - np.log(K)"),
       ("    s2 = np.zeros(M)\n    elbo_sum = np.zeros(M)\n",
        "            top[rows] = new_top\n            elbo_sum[rows] += log_w.sum(axis=0)\n",
        "log_px = elbo_sum / K"), IS_TESTS, "the mean of log w instead of its log-mean-exp"),
    _m("is_sigma_for_sigma2", "inference/likelihood.py",
       "z = mean[rows] + np.exp(0.5 * logvar[rows]) * eps",
       "z = mean[rows] + np.exp(logvar[rows]) * eps", IS_TESTS),
    _m("is_stderr_without_1_over_sqrt_k", "inference/likelihood.py",
       "stderr = np.sqrt(var_w / K) / mean_w", "stderr = np.sqrt(var_w) / mean_w",
       [LK + "test_importance_sampling_standard_error_matches_the_spread_of_repeated_runs"]),
    _m("grid_without_cell_area", "inference/likelihood.py",
       "zf, sigmoid_mean)[:, 0], 0) + np.log(area)", "zf, sigmoid_mean)[:, 0], 0)",
       [LK + "test_grid_matches_gauss_hermite_and_sums_to_one"]),
    _m("appendix_d_evaluates_on_the_fitted_half", "inference/likelihood.py",
       "use = samples[half:]", "use = samples[:half]", [APPENDIX_D]),
    _m("appendix_d_fits_on_the_evaluated_half", "inference/likelihood.py",
       "fit = samples[:half]", "fit = samples[half:]", [APPENDIX_D]),
    _m("appendix_d_kde_without_1_over_n", "inference/likelihood.py",
       "out[j] = _logsumexp(log_k, axis=0) - np.log(n)", "out[j] = _logsumexp(log_k, axis=0)",
       [APPENDIX_D + "[kde]"]),
    _m("appendix_d_kde_bandwidth_grows_with_n", "inference/likelihood.py",
       "h2 = n ** (-2.0 / (J + 4))", "h2 = n ** (2.0 / (J + 4))", [APPENDIX_D + "[kde]"]),
    _m("appendix_d_gaussian_half_log_determinant", "inference/likelihood.py",
       "(M, J, J)\n        log_det = 2 * np.log(", "(M, J, J)\n        log_det = 1 * np.log(",
       [APPENDIX_D + "[gaussian]"], "log det from the Cholesky factor without its 2"),
    _m("appendix_d_sign", "inference/likelihood.py",
       "return Estimate(-log_mean_r, stderr", "return Estimate(log_mean_r, stderr",
       [APPENDIX_D]),
    # ---------------------------------------------------- the classic VAE mistakes
    _m("kl_missing_half", "core/distributions.py",
       "kl = -0.5 * (1.0 + logvar - mean * mean - var)", "kl = -(1.0 + logvar - mean * mean - var)",
       [KL_BY_HAND, EQ10]),
    _m("kl_reads_logvar_as_log_std", "core/distributions.py",
       "    var = np.exp(logvar)\n", "    var = np.exp(2 * logvar)\n", [KL_BY_HAND, EQ10]),
    _m("gaussian_density_reads_logvar_as_log_std", "core/distributions.py",
       "inv_var = np.exp(-logvar)", "inv_var = np.exp(-2 * logvar)",
       ["test_distributions.py::test_gaussian_log_likelihood_matches_explicit_formula"]),
    _m("sigma_for_sigma2_in_the_reparameterization", "core/distributions.py",
       "std = np.exp(0.5 * logvar)", "std = np.exp(logvar)",
       ["test_distributions.py::test_reparameterized_samples_have_the_right_moments", EQ10],
       "exp(logvar) used as the standard deviation; its own gradient check cannot see it"),
    _m("score_at_the_posterior_mean", "model.py",
       "eps = rng.standard_normal((n_mc_samples, x.shape[0], self.n_latent), dtype=dtype)",
       "eps = np.zeros((n_mc_samples, x.shape[0], self.n_latent), dtype=dtype)",
       ["test_model.py::test_score_is_estimator_b_with_fresh_noise_not_z_equals_mean"]),
    _m("bound_at_the_posterior_mean", "core/sgvb.py",
       "z, c_rep = reparameterize_forward(mean, logvar, eps)",
       "z, c_rep = reparameterize_forward(mean, logvar, 0 * eps)", [EQ10],
       "z = mean: the gradient checks pass, the bound is not the bound"),
    _m("prior_scale_without_m_over_n", "core/sgvb.py",
       "scale = None if n_data is None else M / n_data", "scale = None if n_data is None else 1.0",
       [PRIOR], "eq. 8's N/M forgotten: the prior counted once per minibatch"),
    _m("eq8_without_n_over_m", "core/sgvb.py",
       "return n_data / bound.shape[0] * float(bound.sum())", "return float(bound.sum())",
       ["test_sgvb.py::test_minibatch_estimate_is_eq_8", PRIOR]),
    _m("prior_gradient_sign", "core/sgvb.py",
       "g += scale * getattr(params, name)", "g -= scale * getattr(params, name)", [PRIOR]),
    _m("estimator_a_log_q_sign", "core/sgvb.py",
       "bound = (logpx + logpz - logqz)", "bound = (logpx + logpz + logqz)",
       ["test_sgvb.py::test_estimator_a_log_q_term_is_the_gaussian_entropy_form"]),
    _m("estimator_a_log_q_from_z_in_float32", "core/sgvb.py",
       "logqz, c_qz = posterior_log_density_forward(eps, logvar)",
       "logqz, c_qz = gaussian_log_likelihood_forward(z, mean, logvar)",
       [LK + "test_estimator_a_and_importance_sampling_in_float32_at_extreme_log_variance"],
       "log q from (z - mean)^2 exp(-logvar): 0.18 nats off in float32 at logvar = -30"),
    _m("data_term_summed_not_averaged_over_l", "core/sgvb.py",
       "bound = logpx.mean(axis=0) - kl", "bound = logpx.sum(axis=0) - kl", [EQ10]),
    _m("reparameterization_backward_missing_half", "core/distributions.py",
       "dlogvar = 0.5 * std * (dz * eps).sum(axis=0)", "dlogvar = std * (dz * eps).sum(axis=0)",
       ["test_distributions.py::test_reparameterize_backward"]),
    _m("kl_backward_missing_half", "core/distributions.py",
       "return d * mean, 0.5 * d * (var - 1.0)", "return d * mean, d * (var - 1.0)",
       ["test_distributions.py::test_kl_backward"]),
    _m("estimator_a_log_q_gradient_sign", "core/sgvb.py",
       "posterior_log_density_backward(-dlogpx, c_qz)",
       "posterior_log_density_backward(dlogpx, c_qz)",
       ["test_sgvb.py::test_objective_gradients[bernoulli-A-1-False-None]"]),
    _m("score_function_log_q_sign", "core/sgvb.py",
       "f = logpx + logpz - logqz", "f = logpx + logpz + logqz",
       ["test_sgvb.py::test_score_function_gradient_is_unbiased_but_noisier"]),
    _m("score_function_missing_1_over_l", "core/sgvb.py",
       "(-f / eps.shape[0], c_qz)", "(-f, c_qz)",
       ["test_sgvb.py::test_score_function_gradient_is_unbiased_but_noisier"]),
    _m("bernoulli_softplus_sign", "core/distributions.py",
       "x, logits) - softplus.sum(axis=-1)", "x, logits) + softplus.sum(axis=-1)",
       ["test_distributions.py::test_bernoulli_log_likelihood_matches_explicit_formula"]),
    _m("transform_returns_the_log_variance", "model.py",
       "(mean, _), _ = nets.gaussian_mlp_forward(self.encoder_params_,",
       "(_, mean), _ = nets.gaussian_mlp_forward(self.encoder_params_,",
       ["test_model.py::test_transform_is_the_encoder_mean_written_out"]),
    _m("init_with_variance_not_std", "core/networks.py",
       "return (std * rng.standard_normal(shape)).astype(dtype)",
       "return (np.sqrt(std) * rng.standard_normal(shape)).astype(dtype)",
       ["test_networks.py::test_init_follows_section_5"],
       "Section 5's N(0, 0.01) read as a variance: standard deviation 0.1"),
    # ---------------------------------------------------- training, optimizer and sampler
    _m("trainer_skips_the_encoder_update", "core/train.py",
       "            self.optimizer.update(enc, res.denc.arrays())\n", "            pass\n",
       ["test_model.py::test_fit_learns_on_three_prototypes_and_moves_every_array"]),
    _m("adagrad_never_updates", "core/optim.py",
       "        p -= tmp ", "        p -= 0 * tmp ",
       ["test_optim.py::test_adagrad_has_no_momentum_and_updates_in_place"]),
    _m("adagrad_without_square_root", "core/optim.py",
       "np.sqrt(G, out=tmp)", "np.copyto(tmp, G)",
       ["test_optim.py::test_adagrad_two_steps_by_hand"]),
    _m("adagrad_updates_during_warmup", "core/optim.py",
       "if self.t <= self.warmup:", "if self.t < 0:",
       ["test_optim.py::test_adagrad_warmup_only_accumulates_then_steps_by_hand"]),
    _m("hmc_without_divergence_guard", "inference/hmc.py",
       "log_ratio = np.where(np.isfinite(log_ratio), log_ratio, -np.inf)", "pass",
       ["test_hmc.py::test_divergent_proposals_are_rejected_not_propagated"]),
    _m("hmc_kinetic_energy_sign", "inference/hmc.py",
       "log_ratio = (logp_new - 0.5 * np.sum(p_new * p_new, axis=1))",
       "log_ratio = (logp_new + 0.5 * np.sum(p_new * p_new, axis=1))",
       ["test_hmc.py::test_exact_invariance_when_started_in_the_target"]),
    _m("hmc_thinning_counted_from_the_start", "inference/hmc.py",
       "if (t - burn_in) % thin == 0:", "if t % thin == 0:",
       ["test_hmc.py::test_thinning_keeps_every_thin_th_iteration_after_burn_in"]),
    _m("hmc_always_accepts", "inference/hmc.py",
       "accept = np.log(u) < log_ratio", "accept = np.log(u) < np.inf",
       ["test_hmc.py::test_exact_invariance_when_started_in_the_target"],
       "no Metropolis correction: the leapfrog's energy error biases the samples"),
    # ---------------------------------------------------- MCEM's marginal likelihood (issue 18)
    _m("mcem_test_chains_from_one_prior_draw", "baselines/mcem.py",
       "                   n_starts=8):\n", "                   n_starts=1):\n",
       ["test_mcem.py::test_chains_from_the_best_of_several_starts_find_the_main_mode"],
       "a chain from the prior stays in a minor mode: Figure 3's MCEM test curve 42 nats low"),
    _m("mcem_best_start_takes_the_worst_chain", "baselines/mcem.py",
       "best = score.mean(axis=0).argmax(axis=0)", "best = score.mean(axis=0).argmin(axis=0)",
       ["test_mcem.py::test_chains_from_the_best_of_several_starts_find_the_main_mode"]),
    # ---------------------------------------------------- sweeps (issue 18)
    _m("sweep_ordered_by_budget_alone", "experiments/reproduce.py",
       'todo.sort(key=lambda s: -s.work(seen(out / "runs" / s.name)))',
       "todo.sort(key=lambda s: -s.budget)",
       ["test_reproduce.py::test_sweep_starts_the_runs_with_the_most_work_left_first"],
       "the longest run starts last and trains alone while the other processes idle"),
]
NAMES = [m.name for m in MUTATIONS]


def test_catalogue_matches_the_current_code():
    """Every mutation's text occurs exactly once, changes the code, and still compiles.

    Also: every named test exists, and the names are unique, so a survivor is named.
    """
    assert len(set(NAMES)) == len(NAMES)
    for m in MUTATIONS:
        source = (PACKAGE / m.file).read_text()
        mutated = m.apply(source)
        assert mutated != source, m.name
        compile(mutated, f"aevb/{m.file} ({m.name})", "exec")
        for node in m.tests:
            file, _, name = node.partition("::")
            assert f"def {name.split('[')[0]}(" in (TESTS / file).read_text(), (m.name, node)


PLUGIN = '''
import aevb

def pytest_sessionstart(session):
    with open({out!r}, "w") as f:
        f.write(aevb.__file__)
'''


def _run_on_a_copy(tmp_path, mutation, tests):
    """Copy aevb/, apply ``mutation`` (or none), run ``tests`` in a child; returns (rc, output)."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "aevb", ignore=shutil.ignore_patterns("__pycache__"))
    if mutation is not None:
        target = copy / "aevb" / mutation.file
        target.write_text(mutation.apply(target.read_text()))
    imported = tmp_path / "imported_from.txt"
    (copy / "mutant_check.py").write_text(PLUGIN.format(out=str(imported)))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env.update(PYTHONPATH=os.pathsep.join([str(copy)] + [p for p in [env.get("PYTHONPATH")] if p]),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-p", "mutant_check", *[str(TESTS / t) for t in tests]]
    label = mutation.name if mutation else "the unmutated copy"
    try:        # cwd is not the checkout, so '' on sys.path cannot import the original
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{label}: its tests did not finish in {TIMEOUT} s")
    out = proc.stdout + proc.stderr
    tail = "\n".join(out.splitlines()[-15:])
    assert imported.is_file(), f"{label}: the child never started its session:\n{tail}"
    assert Path(imported.read_text()).resolve() == (copy / "aevb" / "__init__.py").resolve(), \
        f"{label}: the child imported {imported.read_text()}, not the copy"
    return proc.returncode, out, tail


@pytest.mark.slow
def test_the_unmutated_copy_passes_every_catching_test(tmp_path):
    """The control: without a mutation the same tests pass, so no catch below is vacuous."""
    tests = sorted({t for m in MUTATIONS for t in m.tests})
    rc, _, tail = _run_on_a_copy(tmp_path, None, tests)
    assert rc == 0, f"the catching tests fail on the unmutated code:\n{tail}"


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=NAMES)
def test_mutant_is_caught_by_the_fast_tests(mutation, tmp_path):
    rc, out, tail = _run_on_a_copy(tmp_path, mutation, mutation.tests)
    assert rc != 0, f"mutant {mutation.name} SURVIVED {mutation.tests}:\n{tail}"
    crash = re.search(r"\b(NameError|SyntaxError|IndentationError|ImportError|AttributeError"
                      r"|UnboundLocalError)\b", out)
    assert crash is None, f"mutant {mutation.name} broke the code ({crash[0]}), it was " \
                          f"not caught by a check:\n{tail}"
    assert rc == 1, (f"mutant {mutation.name}: pytest exited {rc} (an error, not a failing "
                     f"test):\n{tail}")
