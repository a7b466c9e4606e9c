"""The one catalogue of mutations: known mistakes that the suite must catch.

Each entry is a mistake people make when implementing the paper (or one this
project made once): a file of the package, the exact texts it replaces (each
must occur exactly once, so the catalogue fails loudly when the code changes
under it), the new texts, and who must catch it:

* ``tests``: fast tests (node ids under ``tests/``) that must fail on the mutant;
* ``exercise`` and ``diagnosis``: the course exercise whose checks must fail on
  the mutant with a message that contains ``diagnosis`` (the mutation must lie
  inside that exercise's solution region).

A new guard in the package adds its mutation here. ``test_mutations.py`` beside
this file is the harness that applies each one to a copy of ``aevb/``.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str                       # inside aevb/
    edits: tuple                    # ((old, new), ...), applied in order
    tests: tuple = ()               # fast tests under tests/ that must fail
    exercise: str = None            # the exercise whose checks must fail ...
    diagnosis: str = None           # ... with a message containing this
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


MUTATIONS = [
    Mutation('is_without_minus_log_k', 'inference/likelihood.py',
             edits=(
              ('log_px = top + np.log(s1) - np.log(K)',
               'log_px = top + np.log(s1)'),
             ),
             tests=('inference/test_likelihood.py::test_importance_sampling_matches_exact_integration',
                    'inference/test_likelihood.py::test_importance_sampling_is_the_log_mean_of_estimator_a_weights',),
             exercise='importance_sampling', diagnosis='the -log K is missing'),
    Mutation('is_returns_the_elbo', 'inference/likelihood.py',
             edits=(
              ('    s2 = np.zeros(M)\n',
               '    s2 = np.zeros(M)\n    elbo_sum = np.zeros(M)\n'),
              ('            top[rows] = new_top\n',
               '            top[rows] = new_top\n            elbo_sum[rows] += log_w.sum(axis=0)\n'),
              ('log_px = top + np.log(s1) - np.log(K)',
               'log_px = elbo_sum / K'),
             ),
             tests=('inference/test_likelihood.py::test_importance_sampling_matches_exact_integration',
                    'inference/test_likelihood.py::test_importance_sampling_is_the_log_mean_of_estimator_a_weights',),
             why='the mean of log w instead of its log-mean-exp'),
    Mutation('is_sigma_for_sigma2', 'inference/likelihood.py',
             edits=(
              ('z = mean[rows] + np.exp(0.5 * logvar[rows]) * eps',
               'z = mean[rows] + np.exp(logvar[rows]) * eps'),
             ),
             tests=('inference/test_likelihood.py::test_importance_sampling_matches_exact_integration',
                    'inference/test_likelihood.py::test_importance_sampling_is_the_log_mean_of_estimator_a_weights',)),
    Mutation('is_stderr_without_1_over_sqrt_k', 'inference/likelihood.py',
             edits=(
              ('stderr = np.sqrt(var_w / K) / mean_w',
               'stderr = np.sqrt(var_w) / mean_w'),
             ),
             tests=('inference/test_likelihood.py::test_importance_sampling_standard_error_matches_the_spread_of_repeated_runs',)),
    Mutation('grid_without_cell_area', 'inference/likelihood.py',
             edits=(
              ('zf, sigmoid_mean)[:, 0], 0) + np.log(area)',
               'zf, sigmoid_mean)[:, 0], 0)'),
             ),
             tests=('inference/test_likelihood.py::test_grid_matches_gauss_hermite_and_sums_to_one',)),
    Mutation('appendix_d_evaluates_on_the_fitted_half', 'inference/likelihood.py',
             edits=(
              ('use = samples[half:]',
               'use = samples[:half]'),
             ),
             tests=('inference/test_likelihood.py::test_appendix_d_with_the_paper_settings_matches_exact_integration',)),
    Mutation('appendix_d_fits_on_the_evaluated_half', 'inference/likelihood.py',
             edits=(
              ('fit = samples[:half]',
               'fit = samples[half:]'),
             ),
             tests=('inference/test_likelihood.py::test_appendix_d_with_the_paper_settings_matches_exact_integration',)),
    Mutation('appendix_d_kde_without_1_over_n', 'inference/likelihood.py',
             edits=(
              ('out[j] = _logsumexp(log_k, axis=0) - np.log(n)',
               'out[j] = _logsumexp(log_k, axis=0)'),
             ),
             tests=('inference/test_likelihood.py::test_appendix_d_with_the_paper_settings_matches_exact_integration[kde]',)),
    Mutation('appendix_d_kde_bandwidth_grows_with_n', 'inference/likelihood.py',
             edits=(
              ('h2 = n ** (-2.0 / (J + 4))',
               'h2 = n ** (2.0 / (J + 4))'),
             ),
             tests=('inference/test_likelihood.py::test_appendix_d_with_the_paper_settings_matches_exact_integration[kde]',)),
    Mutation('appendix_d_gaussian_half_log_determinant', 'inference/likelihood.py',
             edits=(
              ('(M, J, J)\n        log_det = 2 * np.log(',
               '(M, J, J)\n        log_det = 1 * np.log('),
             ),
             tests=('inference/test_likelihood.py::test_appendix_d_with_the_paper_settings_matches_exact_integration[gaussian]',),
             why='log det from the Cholesky factor without its 2'),
    Mutation('appendix_d_sign', 'inference/likelihood.py',
             edits=(
              ('return Estimate(-log_mean_r, stderr',
               'return Estimate(log_mean_r, stderr'),
             ),
             tests=('inference/test_likelihood.py::test_appendix_d_with_the_paper_settings_matches_exact_integration',)),
    Mutation('kl_missing_half', 'core/distributions.py',
             edits=(
              ('kl = -0.5 * (1.0 + logvar - mean * mean - var)',
               'kl = -(1.0 + logvar - mean * mean - var)'),
             ),
             tests=('core/test_distributions.py::test_kl_is_zero_at_the_prior_and_right_by_hand_away_from_it',
                    'core/test_sgvb.py::test_estimator_b_matches_eq_10_written_out',)),
    Mutation('kl_reads_logvar_as_log_std', 'core/distributions.py',
             edits=(
              ('    var = np.exp(logvar)\n',
               '    var = np.exp(2 * logvar)\n'),
             ),
             tests=('core/test_distributions.py::test_kl_is_zero_at_the_prior_and_right_by_hand_away_from_it',
                    'core/test_sgvb.py::test_estimator_b_matches_eq_10_written_out',)),
    Mutation('gaussian_density_reads_logvar_as_log_std', 'core/distributions.py',
             edits=(
              ('inv_var = np.exp(-logvar)',
               'inv_var = np.exp(-2 * logvar)'),
             ),
             tests=('core/test_distributions.py::test_gaussian_log_likelihood_matches_explicit_formula',)),
    Mutation('sigma_for_sigma2_in_the_reparameterization', 'core/distributions.py',
             edits=(
              ('std = np.exp(0.5 * logvar)',
               'std = np.exp(logvar)'),
             ),
             tests=('core/test_distributions.py::test_reparameterized_samples_have_the_right_moments',
                    'core/test_sgvb.py::test_estimator_b_matches_eq_10_written_out',),
             exercise='reparameterize', diagnosis='standard deviation where log-variance is meant',
             why='exp(logvar) used as the standard deviation; its own gradient check cannot see it'),
    Mutation('score_at_the_posterior_mean', 'models/vae.py',
             edits=(
              ('eps = rng.standard_normal(shape, dtype=dtype)',
               'eps = np.zeros(shape, dtype=dtype)'),
             ),
             tests=('models/test_vae.py::test_score_is_estimator_b_with_fresh_noise_not_z_equals_mean',)),
    Mutation('bound_at_the_posterior_mean', 'core/sgvb.py',
             edits=(
              ('z, c_rep = reparameterize_forward(mean, logvar, eps)',
               'z, c_rep = reparameterize_forward(mean, logvar, 0 * eps)'),
             ),
             tests=('core/test_sgvb.py::test_estimator_b_matches_eq_10_written_out',),
             why='z = mean: the gradient checks pass, the bound is not the bound'),
    Mutation('prior_scale_without_m_over_n', 'core/sgvb.py',
             edits=(
              ('scale = None if n_data is None else M / n_data',
               'scale = None if n_data is None else 1.0'),
             ),
             tests=('core/test_sgvb.py::test_weight_decay_term_alone',),
             why="eq. 8's N/M forgotten: the prior counted once per minibatch"),
    Mutation('eq8_without_n_over_m', 'core/sgvb.py',
             edits=(
              ('return n_data / bound.shape[0] * float(bound.sum())',
               'return float(bound.sum())'),
             ),
             tests=('core/test_sgvb.py::test_minibatch_estimate_is_eq_8',
                    'core/test_sgvb.py::test_weight_decay_term_alone',)),
    Mutation('prior_gradient_sign', 'core/sgvb.py',
             edits=(
              ('g += scale * getattr(params, name)',
               'g -= scale * getattr(params, name)'),
             ),
             tests=('core/test_sgvb.py::test_weight_decay_term_alone',)),
    Mutation('estimator_a_log_q_sign', 'core/sgvb.py',
             edits=(
              ('bound = (logpx + logpz - logqz)',
               'bound = (logpx + logpz + logqz)'),
             ),
             tests=('core/test_sgvb.py::test_estimator_a_log_q_term_is_the_gaussian_entropy_form',),
             exercise='estimator_a', diagnosis='the wrong sign on log q'),
    Mutation('estimator_a_log_q_from_z_in_float32', 'core/sgvb.py',
             edits=(
              ('logqz, c_qz = posterior_log_density_forward(eps, logvar)',
               'logqz, c_qz = gaussian_log_likelihood_forward(z, mean, logvar)'),
             ),
             tests=('inference/test_likelihood.py::test_estimator_a_and_importance_sampling_in_float32_at_extreme_log_variance',),
             why='log q from (z - mean)^2 exp(-logvar): 0.18 nats off in float32 at logvar = -30'),
    Mutation('data_term_summed_not_averaged_over_l', 'core/sgvb.py',
             edits=(
              ('bound = logpx.mean(axis=0) - kl',
               'bound = logpx.sum(axis=0) - kl'),
             ),
             tests=('core/test_sgvb.py::test_estimator_b_matches_eq_10_written_out',),
             exercise='estimator_b', diagnosis='sum over the L = 3 samples instead of the mean'),
    Mutation('reparameterization_backward_missing_half', 'core/distributions.py',
             edits=(
              ('dlogvar = 0.5 * std * (dz * eps).sum(axis=0)',
               'dlogvar = std * (dz * eps).sum(axis=0)'),
             ),
             tests=('core/test_distributions.py::test_reparameterize_backward',)),
    Mutation('kl_backward_missing_half', 'core/distributions.py',
             edits=(
              ('return d * mean, 0.5 * d * (var - 1.0)',
               'return d * mean, d * (var - 1.0)'),
             ),
             tests=('core/test_distributions.py::test_kl_backward',),
             exercise='kl', diagnosis='a missing 1/2'),
    Mutation('estimator_a_log_q_gradient_sign', 'core/sgvb.py',
             edits=(
              ('    dlogqz = -dlogpx\n',
               '    dlogqz = dlogpx\n'),
             ),
             tests=('core/test_sgvb.py::test_objective_gradients[bernoulli-A-1-False-None]',)),
    Mutation('score_function_log_q_sign', 'core/sgvb.py',
             edits=(
              ('f = logpx + logpz - logqz',
               'f = logpx + logpz + logqz'),
             ),
             tests=('core/test_sgvb.py::test_score_function_gradient_is_unbiased_but_noisier',)),
    Mutation('score_function_missing_1_over_l', 'core/sgvb.py',
             edits=(
              ('(-f / eps.shape[0], c_qz)',
               '(-f, c_qz)'),
             ),
             tests=('core/test_sgvb.py::test_score_function_gradient_is_unbiased_but_noisier',)),
    Mutation('bernoulli_softplus_sign', 'core/distributions.py',
             edits=(
              ('x, logits) - softplus.sum(axis=-1)',
               'x, logits) + softplus.sum(axis=-1)'),
             ),
             tests=('core/test_distributions.py::test_bernoulli_log_likelihood_matches_explicit_formula',)),
    Mutation('transform_returns_the_log_variance', 'models/vae.py',
             edits=(
              ('(mean, _), _ = nets.gaussian_mlp_forward(self.encoder_params_,',
               '(_, mean), _ = nets.gaussian_mlp_forward(self.encoder_params_,'),
             ),
             tests=('models/test_vae.py::test_transform_is_the_encoder_mean_written_out',)),
    Mutation('init_with_variance_not_std', 'core/networks.py',
             edits=(
              ('return (std * rng.standard_normal(shape)).astype(dtype)',
               'return (np.sqrt(std) * rng.standard_normal(shape)).astype(dtype)'),
             ),
             tests=('core/test_networks.py::test_init_follows_section_5',),
             why="Section 5's N(0, 0.01) read as a variance: standard deviation 0.1"),
    Mutation('trainer_skips_the_encoder_update', 'core/train.py',
             edits=(
              ('            self.optimizer.update(self.enc.arrays(), res.denc.arrays())\n',
               '            pass\n'),
             ),
             tests=('models/test_vae.py::test_fit_learns_on_three_prototypes_and_moves_every_array',)),
    Mutation('adagrad_never_updates', 'core/optim.py',
             edits=(
              ('        p -= tmp ',
               '        p -= 0 * tmp '),
             ),
             tests=('core/test_optim.py::test_adagrad_has_no_momentum_and_updates_in_place',)),
    Mutation('adagrad_without_square_root', 'core/optim.py',
             edits=(
              ('np.sqrt(G, out=tmp)',
               'np.copyto(tmp, G)'),
             ),
             tests=('core/test_optim.py::test_adagrad_two_steps_by_hand',)),
    Mutation('adagrad_updates_during_warmup', 'core/optim.py',
             edits=(
              ('if self.t <= self.warmup:',
               'if self.t < 0:'),
             ),
             tests=('core/test_optim.py::test_adagrad_warmup_only_accumulates_then_steps_by_hand',)),
    Mutation('hmc_without_divergence_guard', 'inference/hmc.py',
             edits=(
              ('log_ratio = np.where(np.isfinite(log_ratio), log_ratio, -np.inf)',
               'pass'),
             ),
             tests=('inference/test_hmc.py::test_divergent_proposals_are_rejected_not_propagated',)),
    Mutation('hmc_kinetic_energy_sign', 'inference/hmc.py',
             edits=(
              ('log_ratio = (logp_new - 0.5 * np.sum(p_new * p_new, axis=1))',
               'log_ratio = (logp_new + 0.5 * np.sum(p_new * p_new, axis=1))'),
             ),
             tests=('inference/test_hmc.py::test_exact_invariance_when_started_in_the_target',)),
    Mutation('hmc_thinning_counted_from_the_start', 'inference/hmc.py',
             edits=(
              ('if (t - burn_in) % thin == 0:',
               'if t % thin == 0:'),
             ),
             tests=('inference/test_hmc.py::test_thinning_keeps_every_thin_th_iteration_after_burn_in',)),
    Mutation('hmc_always_accepts', 'inference/hmc.py',
             edits=(
              ('accept = np.log(u) < log_ratio',
               'accept = np.log(u) < np.inf'),
             ),
             tests=('inference/test_hmc.py::test_exact_invariance_when_started_in_the_target',),
             why="no Metropolis correction: the leapfrog's energy error biases the samples"),
    Mutation('mcem_test_chains_from_one_prior_draw', 'baselines/mcem.py',
             edits=(
              ('                   n_starts=8):\n',
               '                   n_starts=1):\n'),
             ),
             tests=('baselines/test_mcem.py::test_chains_from_the_best_of_several_starts_find_the_main_mode',),
             why="a chain from the prior stays in a minor mode: Figure 3's MCEM test curve 42 nats low"),
    Mutation('mcem_best_start_takes_the_worst_chain', 'baselines/mcem.py',
             edits=(
              ('best = score.mean(axis=0).argmax(axis=0)',
               'best = score.mean(axis=0).argmin(axis=0)'),
             ),
             tests=('baselines/test_mcem.py::test_chains_from_the_best_of_several_starts_find_the_main_mode',)),
    Mutation('sweep_ordered_by_budget_alone', 'reproduce/sweep.py',
             edits=(
              ('todo.sort(key=lambda s: -s.work(seen(out / "runs" / s.name)))',
               'todo.sort(key=lambda s: -s.budget)'),
             ),
             tests=('reproduce/test_reproduce.py::test_sweep_starts_the_runs_with_the_most_work_left_first',),
             why='the longest run starts last and trains alone while the other processes idle'),
    Mutation('exercise_linear_1', 'core/layers.py',
             edits=(
              ('db = dout2.sum(axis=0)',
               'db = dout2.mean(axis=0)'),
             ),
             exercise='linear', diagnosis='mean over the 6 rows instead of the sum'),
    Mutation('exercise_linear_2', 'core/layers.py',
             edits=(
              ('dW = x.reshape(-1, n_in).T @ dout2',
               'dW = dout2.T @ x.reshape(-1, n_in)'),
             ),
             exercise='linear', diagnosis='transposed'),
    Mutation('exercise_tanh_1', 'core/layers.py',
             edits=(
              ('return dout * (1.0 - h * h)',
               'return dout * (1.0 - np.tanh(h) ** 2)'),
             ),
             exercise='tanh', diagnosis='tanh applied twice'),
    Mutation('exercise_tanh_2', 'core/layers.py',
             edits=(
              ('return dout * (1.0 - h * h)',
               'return -dout * (1.0 - h * h)'),
             ),
             exercise='tanh', diagnosis='the wrong sign'),
    Mutation('exercise_bernoulli_1', 'core/distributions.py',
             edits=(
              ('out = np.einsum("...d,...d->...", x, logits) - softplus.sum(axis=-1)',
               'out = np.einsum("...d,...d->...", x, logits) - np.log(1 + np.exp(logits)).sum(axis=-1)'),
             ),
             exercise='bernoulli', diagnosis='Overflow for large logits'),
    Mutation('exercise_bernoulli_2', 'core/distributions.py',
             edits=(
              ('out = np.einsum("...d,...d->...", x, logits) - softplus.sum(axis=-1)',
               'out = softplus.sum(axis=-1) - np.einsum("...d,...d->...", x, logits)'),
             ),
             exercise='bernoulli', diagnosis='the wrong sign'),
    Mutation('exercise_bernoulli_3', 'core/distributions.py',
             edits=(
              ('np.subtract(x, dlogits, out=dlogits)',
               'np.subtract(dlogits, x, out=dlogits)'),
             ),
             exercise='bernoulli', diagnosis='the wrong sign'),
    Mutation('exercise_gaussian_1', 'core/distributions.py',
             edits=(
              ('inv_var = np.exp(-logvar)',
               'inv_var = np.exp(-2 * logvar)'),
              ('out = -0.5 * (LOG_2PI + logvar + diff',
               'out = -0.5 * (LOG_2PI + 2 * logvar + diff'),
             ),
             exercise='gaussian', diagnosis='standard deviation where log-variance is meant'),
    Mutation('exercise_gaussian_2', 'core/distributions.py',
             edits=(
              ('out = -0.5 * (LOG_2PI + logvar + diff * diff * inv_var)',
               'out = -(LOG_2PI + logvar + diff * diff * inv_var)'),
             ),
             exercise='gaussian', diagnosis='a missing 1/2'),
    Mutation('exercise_gaussian_3', 'core/distributions.py',
             edits=(
              ('dlogvar = 0.5 * d * (diff * diff * inv_var - 1.0)',
               'dlogvar = d * (diff * diff * inv_var - 1.0)'),
             ),
             exercise='gaussian', diagnosis='a missing 1/2'),
    Mutation('exercise_kl_1', 'core/distributions.py',
             edits=(
              ('kl = -0.5 * (1.0 + logvar',
               'kl = 0.5 * (1.0 + logvar'),
             ),
             exercise='kl', diagnosis='the wrong sign'),
    Mutation('exercise_kl_2', 'core/distributions.py',
             edits=(
              ('    var = np.exp(logvar)\n    kl = -0.5 * (1.0 + logvar',
               '    var = np.exp(2 * logvar)\n    kl = -0.5 * (1.0 + 2 * logvar'),
             ),
             exercise='kl', diagnosis='standard deviation where log-variance is meant'),
    Mutation('exercise_reparameterize_1', 'core/distributions.py',
             edits=(
              ('dmean = dz.sum(axis=0)',
               'dmean = dz.mean(axis=0)'),
             ),
             exercise='reparameterize', diagnosis='the mean over the L = 2 samples instead of the sum'),
    Mutation('exercise_estimator_b_1', 'core/sgvb.py',
             edits=(
              ('bound = logpx.mean(axis=0) - kl',
               'bound = logpx.mean(axis=0) + kl'),
             ),
             exercise='estimator_b', diagnosis='the wrong sign on the KL'),
    Mutation('exercise_estimator_b_2', 'core/sgvb.py',
             edits=(
              ('return n_data / bound.shape[0] * float',
               'return bound.shape[0] / n_data * float'),
             ),
             exercise='estimator_b', diagnosis='M/N instead of N/M'),
    Mutation('exercise_estimator_b_3', 'core/sgvb.py',
             edits=(
              ('dlogpx = np.full((L, M), -1.0 / L,',
               'dlogpx = np.full((L, M), -1.0,'),
             ),
             exercise='estimator_b', diagnosis='sum over the L = 3 samples instead of the mean: d loss'),
    Mutation('exercise_estimator_b_4', 'core/sgvb.py',
             edits=(
              ('dlogpx = np.full((L, M), -1.0 / L,',
               'dlogpx = np.full((L, M), 1.0 / L,'),
             ),
             exercise='estimator_b', diagnosis='the wrong sign'),
    Mutation('exercise_estimator_b_5', 'core/sgvb.py',
             edits=(
              ('else M / n_data',
               'else n_data / M'),
             ),
             exercise='estimator_b', diagnosis='N/M instead of M/N'),
    Mutation('exercise_estimator_a_1', 'core/sgvb.py',
             edits=(
              ('posterior_log_density_forward(eps, logvar)  # from eps',
               'posterior_log_density_forward(0 * eps, logvar)  # from eps'),
             ),
             exercise='estimator_a', diagnosis='z = mean when scoring'),
    Mutation('exercise_adagrad_1', 'core/optim.py',
             edits=(
              ('np.sqrt(G, out=tmp)',
               'np.sqrt(G - g * g, out=tmp)'),
             ),
             exercise='adagrad', diagnosis='the accumulator used before adding g^2'),
    Mutation('exercise_adagrad_2', 'core/optim.py',
             edits=(
              ('p -= tmp                              # theta <- theta - lr',
               'p += tmp                              # theta <- theta - lr'),
             ),
             exercise='adagrad', diagnosis='the wrong sign'),
    Mutation('exercise_adagrad_3', 'core/optim.py',
             edits=(
              ('G += tmp                              # G <- G + g^2',
               'G += tmp * (self.t > self.warmup)'),
             ),
             exercise='adagrad', diagnosis='the warm-up steps did not add their g^2'),
    Mutation('exercise_importance_sampling_1', 'inference/likelihood.py',
             edits=(
              ('eps = rng.standard_normal((kk, x[rows].shape[0], J)).astype(x.dtype)',
               'eps = np.zeros((kk, x[rows].shape[0], J), dtype=x.dtype)'),
             ),
             exercise='importance_sampling', diagnosis='z = mean when scoring'),
    Mutation('exercise_importance_sampling_2', 'inference/likelihood.py',
             edits=(
              ('new_top = np.maximum(top[rows], log_w.max(axis=0))',
               'new_top = np.zeros_like(top[rows])'),
             ),
             exercise='importance_sampling', diagnosis='Underflow'),
    Mutation('exercise_sleep_phase_1', 'baselines/wakesleep.py',
             edits=(
              ('gaussian_log_likelihood_backward(-np.ones(M, c_q[0].dtype), c_q)',
               'gaussian_log_likelihood_backward(np.ones(M, c_q[0].dtype), c_q)'),
             ),
             exercise='sleep_phase', diagnosis='the wrong sign'),
    Mutation('exercise_sleep_phase_2', 'baselines/wakesleep.py',
             edits=(
              ('add_prior_gradient(enc, denc, M / n_data)',
               'add_prior_gradient(enc, denc, n_data / M)'),
             ),
             exercise='sleep_phase', diagnosis='N/M instead of M/N'),
    # ---------------------------------------------------- the layout and the contracts
    Mutation('an_import_that_runs_back_up', 'models/vae.py',
             edits=(
              ('        from ..inference.posterior import PosteriorTrainer\n',
               '        from ..inference.posterior import PosteriorTrainer\n'
               '        from ..runs import load_run  # noqa: F401\n'),
             ),
             tests=('test_package.py::test_imports_run_downhill',),
             why="a model importing the run folders: the model <-> runs cycle again"),
    Mutation('trainer_state_without_its_generator', 'core/train.py',
             edits=(
              ('        self.rng.bit_generator.state = d["rng"]\n',
               '        pass\n'),
             ),
             tests=('contracts/test_trainers.py::test_state_round_trip_resumes_bitwise',),
             why="a resumed run draws other minibatches and noise than the one it continues"),
    Mutation('a_file_loads_into_another_class', 'models/base.py',
             edits=(
              ('        if kind != cls.__name__:\n',
               '        if False:\n'),
             ),
             tests=('contracts/test_model_classes.py::test_save_and_load_give_back_the_same_model',)),
    Mutation('mcem_saves_without_its_chains', 'models/mcem.py',
             edits=(
              ('        if not hasattr(self, "chains_"):\n            return {}, {}\n',
               '        return {}, {}\n'),
             ),
             tests=('contracts/test_model_classes.py::test_save_and_load_give_back_the_same_model',)),
    Mutation('resume_cuts_a_curve_it_cannot_restore', 'runs/folder.py',
             edits=(
              ('    if last > seen + int(config.get("checkpoint_every") or 0):\n',
               '    if False:\n'),
             ),
             tests=('runs/test_runs.py::test_resume_refuses_a_log_its_checkpoint_cannot_restore',
                    'reproduce/test_reproduce.py::'
                    'test_extending_the_committed_curves_refuses_and_changes_nothing'),
             why="the README's extend-a-panel command replaced a committed 10^7 curve"),
    Mutation('memory_never_checked', 'models/checks.py',
             edits=(
              ('    need = memory_needed(D, H, J, likelihood, dtype, **sizes)\n',
               '    need = memory_needed(D, H, J, likelihood, dtype, **sizes)\n    return need\n'),
             ),
             tests=('models/test_memory.py::test_training_that_cannot_fit_is_refused_under_ulimit',
                    'models/test_memory.py::'
                    'test_sampling_and_scoring_too_much_is_refused_before_allocating'),
             why="--n-latent 1000000 --n-hidden 20 was killed by the kernel at 23.7 of 24 GB"),
    Mutation('memory_estimate_without_the_scored_chunk', 'models/checks.py',
             edits=(
              ('               score_rows * (score_samples * _width(SCORE_PER_SAMPLE, D, H, J)\n',
               '               score_rows * (0 * _width(SCORE_PER_SAMPLE, D, H, J)\n'),
             ),
             tests=('models/test_memory.py::test_the_estimate_covers_what_a_step_and_a_chunk_allocate',)),
    Mutation('run_folder_lock_that_excludes_nobody', 'runs/folder.py',
             edits=(
              ('        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n',
               '        pass\n'),
             ),
             tests=('runs/test_runs.py::'
                    'test_the_folder_lock_refuses_a_second_holder_and_is_taken_over_once_free',),
             why="two aevb train --out D both exited 0 with an interleaved log"),
    Mutation('config_read_without_its_check', 'runs/config.py',
             edits=(('    check_config(config, path)\n', ''),),
             tests=('runs/test_bad_input.py::test_an_edited_config_is_refused_on_resume',),
             why="a renamed key gave KeyError: 'lr'; budget 1e30 trained without end"),
    Mutation('resume_ignores_the_method_of_the_checkpoint', 'runs/folder.py',
             edits=(('        differ = [k for k in (*ARCHITECTURE, "method", "posterior")\n',
                     '        differ = [k for k in ARCHITECTURE\n'),),
             tests=('runs/test_bad_input.py::test_an_edited_config_is_refused_on_resume',),
             why="config.json edited to wake-sleep resumed an AEVB checkpoint as wake-sleep"),
    Mutation('threads_past_the_cores', 'runs/config.py',
             edits=(('    if threads > cores:\n', '    if False:\n'),),
             tests=('runs/test_bad_input.py::test_more_threads_than_cores_are_refused',)),
    Mutation('parameters_loaded_without_a_finiteness_check', 'io/checkpoint.py',
             edits=(('        if not np.isfinite(a).all():\n', '        if False:\n'),),
             tests=('runs/test_bad_input.py::test_a_saved_model_with_nan_parameters_is_refused',)),
    Mutation('progress_bar_floods_a_redirected_stream', 'core/train.py',
             edits=(('mininterval=0.1 if shown else 60)', 'mininterval=0.1)'),),
             tests=('cli/test_cli.py::test_a_progress_bar_to_a_redirected_stream_does_not_flood_it',)),
    Mutation('numpys_pickle_advice_passed_on', 'io/checkpoint.py',
             edits=(('    if isinstance(e, ValueError) and "allow_pickle" in str(e):\n',
                     '    if False:\n'),),
             tests=('runs/test_bad_input.py::test_a_foreign_file_is_named_in_aevbs_words',)),
    Mutation('negative_seed_reaches_numpy', 'models/checks.py',
             edits=(('    if not (rng is None or isinstance(rng, np.random.Generator) or _is_int(rng, 0) or (\n',
                     '    if not (True or (\n'),),
             tests=('runs/test_bad_input.py::test_a_negative_seed_is_refused_in_aevbs_words',)),
    Mutation('config_read_in_the_locale_encoding', 'runs/config.py',
             edits=(('    except UnicodeDecodeError:\n        raise ckpt.CheckpointError(f"{path} is not UTF-8 text, so not an aevb run config")',
                     '    except KeyError:\n        raise ckpt.CheckpointError(f"{path} is not UTF-8 text, so not an aevb run config")'),),
             tests=('runs/test_bad_input.py::test_a_run_file_that_is_not_utf8_is_named',)),
    Mutation('exercise_blame_not_passed_on', 'exercises/registry.py',
             edits=(('        culprit = next((n for n in ex.needs if not passes(n)), None)\n',
                     '        culprit = None\n'),),
             tests=('exercises/test_exercises.py::'
                    'test_a_later_exercise_names_the_earlier_one_to_fix',)),
    Mutation('exercise_failure_with_too_few_digits', 'exercises/registry.py',
             edits=(('    d = next((d for d in range(8, 17) if f"{got[i]:.{d}g}" != f"{want[i]:.{d}g}"), 17)\n',
                     '    d = 8\n'),),
             tests=('exercises/test_exercises.py::'
                    'test_a_failure_prints_enough_digits_to_see_the_difference',)),
    Mutation('adagrad_check_tighter_than_the_formula', 'exercises/checks_models.py',
             edits=(('ADAGRAD_TOL = 1e-6\n', 'ADAGRAD_TOL = 1e-9\n'),),
             tests=('exercises/test_exercises.py::'
                    'test_adagrad_with_eps_inside_the_square_root_is_accepted',)),
    Mutation('grading_all_exercises_in_one_child', 'exercises/grading.py',
             edits=(('            records += [r for r in run_child(root, numbers=[e.number], timeout=timeout)\n',
                     '            records += [r for r in run_child(root, numbers=[x.number for x in exercises],\n'
                     '                                             timeout=timeout)\n'),),
             tests=('exercises/test_grading.py::test_a_hang_costs_only_its_exercise',),
             why="an endless loop in Adagrad gave the whole submission 0 (\"did not finish within 60 s\")"),
    Mutation('grading_a_broken_module_not_said_in_one_sentence', 'exercises/isolate.py',
             edits=(('    if not result.passed and TOUCHED and result.error != "NotImplementedError":\n',
                     '    if False:\n'),),
             tests=('exercises/test_grading.py::'
                    'test_a_syntax_error_costs_only_the_exercises_that_use_the_module',),
             why="a syntax error in optim.py was said as a 30-line traceback, not its file and line"),
    Mutation('grading_every_check_earns_the_exercise_points', 'exercises/registry.py',
             edits=(('    return (ex.points - named) / len(shared)\n', '    return float(ex.points)\n'),),
             tests=('exercises/test_grading.py::'
                    'test_the_checks_of_each_exercise_add_up_to_its_points',)),
    Mutation('grading_blame_not_passed_on', 'exercises/grading.py',
             edits=(('        culprit = next((n for n in ex.needs if n in failing), None)\n',
                     '        culprit = None\n'),),
             tests=('exercises/test_grading.py::test_blame_is_passed_on_through_needs',)),
    Mutation('a_private_name_across_subpackages', 'inference/posterior.py',
             edits=(('from ..core.train import Trainer\n',
                     'from ..core.train import _HELPER, Trainer  # noqa: F401\n'),),
             tests=('test_package.py::test_no_private_name_is_imported_from_another_subpackage',)),
    Mutation('frey_face_ignores_mnist_settings', 'cli/main.py',
             edits=(('        if settings["dataset"] != "mnist" and mnist_only:\n',
                     '        if False:\n'),),
             tests=('cli/test_cli.py::test_bad_arguments_exit_nonzero_with_a_message',),
             why="aevb train --dataset frey --binarize fixed trained, the setting dropped"),
    Mutation('argparse_error_with_the_whole_usage', 'cli/main.py',
             edits=(('    def error(self, message):\n',
                     '    def _error(self, message):\n'),),
             tests=('cli/test_cli.py::test_bad_arguments_exit_nonzero_with_a_message',),
             why="a wrong argument printed 15 lines of usage before the one sentence"),
    Mutation('sweep_writes_before_reaching_its_scheduler', 'reproduce/sweep.py',
             edits=(('    client = connect(scheduler) if scheduler and train else None   # before anything is written\n',
                     '    client = None\n'),),
             tests=('reproduce/test_reproduce.py::'
                    'test_a_bad_scheduler_address_is_one_sentence_and_writes_nothing',),
             why="aevb reproduce --scheduler notaurl left a sweep folder with a manifest"),
    Mutation('sample_seed_not_checked', 'models/base.py',
             edits=(('        rng = as_generator(rng)\n', '        rng = np.random.default_rng(rng)\n'),),
             tests=('contracts/test_model_classes.py::'
                    'test_a_bad_rng_or_a_folder_for_a_file_is_one_sentence',),
             why='vae.sample(2, rng="x") failed inside NumPy with "SeedSequence expects int"'),
    Mutation('save_into_a_folder_path', 'models/base.py',
             edits=(('        if os.path.isdir(path):\n', '        if False:\n'),),
             tests=('contracts/test_model_classes.py::'
                    'test_a_bad_rng_or_a_folder_for_a_file_is_one_sentence',),
             why="vae.save('/tmp') raised IsADirectoryError after writing /.tmp.PID.tmp"),
    Mutation('sweep_folder_without_a_lock', 'reproduce/sweep.py',
             edits=(('            fd = runs.lock_folder(out)\n', '            pass\n'),),
             tests=('reproduce/test_reproduce.py::'
                    'test_a_second_sweep_on_the_same_folder_is_refused',),
             why="two sweeps on one --out overwrote each other's manifest"),
    # ---------------------------------------------------- issue #24: one slot of a formula wrong
    Mutation('exercise_kl_sigma_in_the_variance_term', 'core/distributions.py',
             edits=(('- mean * mean - var).sum(axis=-1)', '- mean * mean - np.exp(0.5 * logvar)).sum(axis=-1)'),),
             exercise='kl', diagnosis='sigma (exp(logvar / 2)) in the exp(logvar) term only'),
    Mutation('exercise_kl_log_sigma_in_the_logvar_term', 'core/distributions.py',
             edits=(('kl = -0.5 * (1.0 + logvar - mean', 'kl = -0.5 * (1.0 + 0.5 * logvar - mean'),),
             exercise='kl', diagnosis='log sigma (logvar / 2) in the logvar term only'),
    Mutation('exercise_kl_variance_squared_in_one_term', 'core/distributions.py',
             edits=(('- mean * mean - var).sum(axis=-1)', '- mean * mean - var * var).sum(axis=-1)'),),
             exercise='kl', diagnosis='exp(logvar) used as sigma in the exp(logvar) term only'),
    Mutation('exercise_kl_mean_not_squared', 'core/distributions.py',
             edits=(('- mean * mean - var).sum(axis=-1)', '- mean - var).sum(axis=-1)'),),
             exercise='kl', diagnosis='mean instead of mean^2'),
    Mutation('exercise_gaussian_log_sigma_in_the_log_term', 'core/distributions.py',
             edits=(('(LOG_2PI + logvar + diff * diff * inv_var)',
                     '(LOG_2PI + 0.5 * logvar + diff * diff * inv_var)'),),
             exercise='gaussian', diagnosis='log sigma (logvar / 2) in the log term only'),
    Mutation('exercise_gaussian_sigma_in_the_quadratic_term', 'core/distributions.py',
             edits=(('(LOG_2PI + logvar + diff * diff * inv_var)',
                     '(LOG_2PI + logvar + diff * diff * np.sqrt(inv_var))'),),
             exercise='gaussian', diagnosis='sigma (exp(logvar / 2)) in the quadratic term only'),
    Mutation('exercise_gaussian_times_the_variance', 'core/distributions.py',
             edits=(('inv_var = np.exp(-logvar)', 'inv_var = np.exp(logvar)'),),
             exercise='gaussian', diagnosis='(x - mean)^2 times exp(logvar) instead of divided by it'),
    Mutation('exercise_reparameterize_log_sigma_as_sigma', 'core/distributions.py',
             edits=(('std = np.exp(0.5 * logvar)          # sigma', 'std = 0.5 * logvar          # sigma'),),
             exercise='reparameterize', diagnosis='log sigma (logvar / 2) used as the standard deviation'),
    Mutation('exercise_reparameterize_backward_without_sigma', 'core/distributions.py',
             edits=(('dlogvar = 0.5 * std * (dz * eps).sum(axis=0)', 'dlogvar = 0.5 * (dz * eps).sum(axis=0)'),),
             exercise='reparameterize', diagnosis='the factor sigma is missing'),
]
NAMES = [m.name for m in MUTATIONS]
