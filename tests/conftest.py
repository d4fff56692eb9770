import os

import jax
import jax.random as jr
import pytest


# Numerical tests run in float64 by default. `FLOWREP_TEST_X64=0` turns x64
# off, which is what GPU users run; CI then runs the tests marked `float32`
# (`-m float32`): the files below, whose tolerances hold in either precision
# (each test states its float32 tolerance where it differs).
X64 = os.environ.get("FLOWREP_TEST_X64", "1").strip().lower() not in (
    "0",
    "false",
    "no",
    "off",
)
jax.config.update("jax_enable_x64", X64)

FLOAT32_FILES = (
    "test_float32.py",
    "test_precision.py",
)


# Heavy cases run with -m slow only, so that the default run stays near 10
# minutes on 2 cores (each measured at 15-50 s there; their lighter siblings
# stay in the default run). Listed here, by test id, rather than edited into
# parametrisations one by one.
SLOW_IDS = {
    "tests/test_vector_field.py::test_flow_and_tracks[ridgelet_pc]",
    "tests/test_vector_field.py::test_flow_and_tracks[plainnet]",
    "tests/test_vector_field.py::test_flow_and_tracks[mean_shift]",
    "tests/test_vector_field.py::test_flow_and_tracks[deep_dae]",
    "tests/test_wgf_flows.py::test_jko_step_is_the_implicit_euler_step[interaction]",
    "tests/test_wgf_flows.py::test_jko_step_is_the_implicit_euler_step[ou]",
    "tests/test_tracks_widths.py::test_jl_distortion_within_bound",
    "tests/test_exact_host.py::test_score_tracks_host_option",
    "tests/test_field.py::test_field_against_brute_force[linear-True]",
    "tests/test_reconstruct.py::test_reconstruction_error_falls[relu-bump]",
    "tests/test_transform.py::test_grad_and_vmap",
    "tests/test_flow.py::test_adaptive_default_matches_plain_diffeqsolve[tsit5-linear]",
    "tests/test_flow.py::test_adaptive_default_matches_plain_diffeqsolve[bosh3-chebyshev]",
    "tests/test_wgf_curl.py::test_flow_scores_of_gradient_and_rotation_flows",
    "tests/test_wgf_reversal.py::test_covariances_go_down_and_back",
    "tests/test_wgf_reversal.py::test_entropy_rate_is_minus_fisher",
    "tests/test_gw.py::test_mlp_unit_permutation_invariance",
    "tests/test_gw.py::test_low_rank_and_subsampling",
    "tests/test_transport.py::test_reported_error_is_the_plan_marginal_error[dense]",
    "tests/test_transport_inputs.py::test_half_precision_promoted_to_float32[bfloat16]",
    "tests/test_laws.py::test_mixture_entropy_quadrature_vs_scipy_1d_and_monte_carlo_2d",
    "tests/test_flow.py::test_gradient_matches_finite_differences[backsolve]",
    "tests/test_transport.py::test_num_iterations_and_its_old_alias",
    "tests/test_wgf_curl.py::test_non_gradient_fraction_float32_stays_in_unit_interval",
    "tests/test_integral_net.py::test_oracle_sampling_converges",
    "tests/test_dae.py::test_mixture_deep_flow_transports_to_mu_t",
    "tests/test_ott_compat.py::test_online_ott_backend_restores_ott",
    "tests/test_wgf_reversal.py::test_law_entropy_fisher_closed_forms",
    "tests/test_depth_smoothness.py::test_tracks_against_flow",
    "tests/test_transport.py::test_reported_error_is_the_plan_marginal_error[online]",
    "tests/test_invariance_props.py::test_sinkhorn",
    "tests/test_fit.py::test_fit_reuses_compiled_step",
    "tests/test_laws.py::test_mixture_density_score_sampling",
    "tests/test_transport.py::test_adaptive_over_relaxation_saves_iterations",
    "tests/test_tracks_widths.py::test_pca_projection_retained_variance",
    # third batch (10-18 s each in CI on 2 cores; cheaper tests of the same
    # code stay in the default run: the other acha/CLI jobs' tests,
    # test_weights_lists_and_arrays, test_padded_embedding_equals_hand_padding,
    # the other jko tests, test_flow_and_tracks' other fields)
    "tests/test_cli.py::test_reproduce_acha_1d",
    "tests/test_depth_smoothness.py::test_beta_smooth_vs_iid",
    "tests/test_tracks_widths.py::test_padded_nonlinearity_finite_in_float32",
    "tests/test_wgf_flows.py::test_jko_blob_bandwidth_frozen_within_a_step",
    "tests/test_vector_field.py::test_flow_and_tracks[ridgelet]",
    # fourth batch (7-10 s each in CI; the default run took 10 min 33 s):
    # each has cheaper tests of the same code in the default run
    "tests/test_demo_flow_matching.py::test_flow_matching_learns_a_translation",
    "tests/test_device.py::test_transforms_take_backend_defaults[cpu]",
    "tests/test_tracks_widths.py::test_record_tracks_changing_width",
    "tests/test_scores.py::test_dense_engine_survives_a_poor_start",
    "tests/test_dae_stacked.py::test_stacked_dae_empirical_and_blurring_flow",
    "tests/test_wgf_reversal.py::test_mixture_entropy_rate_is_minus_fisher_by_quadrature",
    "tests/test_transport.py::test_not_converged_flag_and_throw",
    "tests/test_wgf_curl.py::test_gradient_of_matches_grad_of_potential[tanh]",
    "tests/test_precision.py::test_emulation_rounds_default_products",
    # second batch (measured 12-48 s on 2 cores with a background job)
    "tests/test_flow.py::test_adaptive_default_matches_plain_diffeqsolve[dopri5-piecewise_constant]",
    "tests/test_laws.py::test_smoothing_solves_heat_equation_and_backward_heat_its_reverse",
    "tests/test_dae_stacked.py::test_stacked_mixture_dae_two_depths",
    "tests/test_flow.py::test_backward_flow_inverts",
    "tests/test_dae.py::test_entropy_decreases_and_matches_closed_form",
    "tests/test_flow.py::test_gradient_matches_finite_differences[recursive]",
    "tests/test_fit.py::test_fit_mse_pairs_deterministic_and_regularised",
    "tests/test_flow.py::test_linear_basis_steps_onto_its_kinks",
    "tests/test_dae.py::test_mixture_shallow_map_is_tweedie",
    "tests/test_transport.py::test_sample_w2_matches_gaussian_closed_form",
    "tests/test_affine.py::test_identity_tracks_refuse_and_point_to_affine_score",
    "tests/test_reconstruct.py::test_reconstruction_error_falls[relu-sin]",
    "tests/test_scores.py::test_plots",
    # third batch (8-18 s each in the fresh-clone CI run at 332470d)
    "tests/test_dae.py::test_entropy_curves_return_tracks",
    "tests/test_affine.py::test_layer_score_is_flowrep_convention",
    "tests/test_wgf_curl.py::test_fit_gradient_flag_trains_a_gradient_field",
    "tests/test_flow.py::test_piecewise_constant_field_steps_onto_its_jumps",
    "tests/test_invariance_props.py::test_score_tracks[exact]",
    "tests/test_reconstruct.py::test_reconstruction_error_falls[gauss-sin]",
    "tests/test_integral_net.py::test_call_evaluate_and_mlp_round_trip",
    "tests/test_wgf_energies.py::test_particle_velocity_is_minus_n_grad_of_value[blob]",
    "tests/test_admissibility.py::test_vanishing_by_cancellation",
    "tests/test_resnet.py::test_roundtrip_resnet_field_resnet",
    "tests/test_field.py::test_field_against_brute_force[linear-False]",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in FLOAT32_FILES:
            item.add_marker(pytest.mark.float32)
        if item.nodeid in SLOW_IDS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def x64() -> bool:
    """Whether this run has `jax_enable_x64` on (see `FLOWREP_TEST_X64`)."""
    return X64


@pytest.fixture
def getkey():
    """A fresh PRNG key on each call, deterministic per test."""
    state = {"key": jr.PRNGKey(5678)}

    def _getkey():
        state["key"], sub = jr.split(state["key"])
        return sub

    return _getkey
