# pyright: reportArgumentType=false, reportCallIssue=false
"""The bad-input table for the width (ridgelet) and gradient-flow entry points
(issue 14).

Each row asserts the error type and that the message names the argument; the
legal-but-unusual inputs (half precision, integers, offsets, huge values,
jit) assert a finite, right answer against something computed independently
(the closed-form Gaussian transform, a float64 run, a closed form).
Shapes are kept small and shared so that the file compiles few programs.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep as fr
from flowrep import DAEReversal, Identity, NotAdmissibleError, ReLU, Tanh

from ._tables import raises_named, table_params


# (DAEReversal, Identity, NotAdmissibleError, ReLU, Tanh are exempt from the
# completeness check in test_bad_inputs_api.py; imported by name so that this
# file does not count as tabling them.)


RNG = np.random.default_rng(3)
X = jnp.asarray(RNG.normal(size=(16, 2)))
W = jnp.full(16, 1 / 16)
A = jnp.asarray(RNG.normal(size=(6, 2)))
B = jnp.asarray(RNG.normal(size=(6,)))
C6 = jnp.asarray(RNG.normal(size=(6,)))
M0 = jnp.zeros(2)
I2 = jnp.eye(2)
K = jr.PRNGKey(0)
G2 = fr.GaussianDerivative(2)
TANH = Tanh()
NET = fr.IntegralNetwork(A, B, C6, TANH)
FIELD = fr.RidgeletField.gradient_of(A, B, C6, sigma="tanh", basis="constant")
POT = fr.PotentialEnergy(lambda x: 0.5 * jnp.sum(x**2))
LAW = fr.GaussianLaw(jnp.zeros(2), jnp.eye(2))
INDEF = jnp.diag(jnp.array([1.0, -1.0]))
ASYM = jnp.array([[1.0, 0.5], [0.0, 1.0]])


def bump(x):
    return jnp.exp(-0.5 * jnp.sum(x**2))


def rot(t, x, args):
    return jnp.stack([-x[1], x[0]])


def nan(a):
    return a.at[(0,) * a.ndim].set(jnp.nan)


def _rev(points):
    z = jnp.zeros(2)
    return DAEReversal(points, points, points, points, z, z, z, z, z, z)


RT = fr.ridgelet_transform
DRT = fr.dual_ridgelet_transform
GRT = fr.gaussian_ridgelet_transform
GMRT = fr.gaussian_mixture_ridgelet_transform
MIX = (jnp.ones(2), jnp.zeros((2, 2)), jnp.stack([I2, I2]))
EQX_ERR = eqx.EquinoxRuntimeError
JAX_ERR = jax.errors.JaxRuntimeError


# (id, call, error, fragment of the message that names the argument)
BAD = [
    # ridgelet_transform
    ("rt x 1-D", lambda: RT(bump, G2, A, B, X[0], W), ValueError, "`x`"),
    ("rt x NaN", lambda: RT(bump, G2, A, B, nan(X), W), ValueError, "`x` contains NaN"),
    ("rt a inf", lambda: RT(bump, G2, A.at[0, 0].set(jnp.inf), B, X, W), ValueError, "`a` contains NaN"),
    ("rt b NaN", lambda: RT(bump, G2, A, nan(B), X, W), ValueError, "`b` contains NaN"),
    ("rt w NaN", lambda: RT(bump, G2, A, B, X, nan(W)), ValueError, "`w` contains NaN"),
    ("rt f values NaN", lambda: RT(nan(W), G2, A, B, X, W), ValueError, "`f(x)` contains NaN"),
    ("rt f returns NaN", lambda: RT(lambda x: jnp.log(x[0]), G2, A, B, X, W), EQX_ERR, "`f(x)` contains NaN"),
    ("rt a dim", lambda: RT(bump, G2, A[:, :1], B, X, W), ValueError, "`a` has dimension 1"),
    ("rt b shape", lambda: RT(bump, G2, A, B[:3], X, W), ValueError, "`b` must have shape"),
    ("rt w shape", lambda: RT(bump, G2, A, B, X, W[:3]), ValueError, "`w` must have shape"),
    ("rt f values shape", lambda: RT(W[:5], G2, A, B, X, W), ValueError, "`f`"),
    ("rt f returns matrix", lambda: RT(lambda x: jnp.outer(x, x), G2, A, B, X, W), ValueError, "`f`"),
    ("rt x empty", lambda: RT(bump, G2, A, B, X[:0], W[:0]), ValueError, "`x` is empty"),
    ("rt a empty", lambda: RT(bump, G2, A[:0], B[:0], X, W), ValueError, "`a` is empty"),
    ("rt x str", lambda: RT(bump, G2, A, B, "abc", W), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("rt a str", lambda: RT(bump, G2, "abc", B, X, W), TypeError, "`a`"),  # pyright: ignore[reportArgumentType]
    ("rt w str", lambda: RT(bump, G2, A, B, X, "abc"), TypeError, "`w`"),  # pyright: ignore[reportArgumentType]
    ("rt f str", lambda: RT("abc", G2, A, B, X, W), TypeError, "`f`"),  # pyright: ignore[reportArgumentType]
    ("rt x bool", lambda: RT(bump, G2, A, B, X > 0, W), TypeError, "`x`"),
    ("rt a bool", lambda: RT(bump, G2, A > 0, B, X, W), TypeError, "`a`"),
    ("rt x complex", lambda: RT(bump, G2, A, B, X + 1j, W), TypeError, "`x` must be real"),
    ("rt rho str", lambda: RT(bump, "gauss", A, B, X, W), TypeError, "`rho`"),  # pyright: ignore[reportArgumentType]
    ("rt s NaN", lambda: RT(bump, G2, A, B, X, W, s=float("nan")), ValueError, "`s`"),
    ("rt s str", lambda: RT(bump, G2, A, B, X, W, s="a"), TypeError, "`s`"),  # pyright: ignore[reportArgumentType]
    ("rt chunk_size 0", lambda: RT(bump, G2, A, B, X, W, chunk_size=0), ValueError, "`chunk_size`"),
    ("rt chunk_size 2.5", lambda: RT(bump, G2, A, B, X, W, chunk_size=2.5), ValueError, "`chunk_size`"),  # pyright: ignore[reportArgumentType]
    ("rt max_tile_cols 0", lambda: RT(bump, G2, A, B, X, W, max_tile_cols=0), ValueError, "`max_tile_cols`"),
    ("rt x NaN under jit", lambda: eqx.filter_jit(lambda x: RT(bump, G2, A, B, x, W))(nan(X)), EQX_ERR, "`x` contains NaN"),
    # dual_ridgelet_transform
    ("drt gamma shape", lambda: DRT(C6[:5], TANH, A, B, None, X), ValueError, "`gamma`"),
    ("drt gamma 3-D", lambda: DRT(C6[:, None, None], TANH, A, B, None, X), ValueError, "`gamma`"),
    ("drt gamma NaN", lambda: DRT(nan(C6), TANH, A, B, None, X), ValueError, "`gamma` contains NaN"),
    ("drt gamma str", lambda: DRT("ab", TANH, A, B, None, X), TypeError, "`gamma`"),  # pyright: ignore[reportArgumentType]
    ("drt x NaN", lambda: DRT(C6, TANH, A, B, None, nan(X)), ValueError, "`x` contains NaN"),
    ("drt x empty", lambda: DRT(C6, TANH, A, B, None, X[:0]), ValueError, "`x` is empty"),
    ("drt w NaN", lambda: DRT(C6, TANH, A, B, nan(C6), X), ValueError, "`w` contains NaN"),
    ("drt w shape", lambda: DRT(C6, TANH, A, B, C6[:2], X), ValueError, "`w` must have shape"),
    ("drt x dim", lambda: DRT(C6, TANH, A, B, None, X[:, :1]), ValueError, "`a` has dimension 2"),
    ("drt sigma str", lambda: DRT(C6, "tanh", A, B, None, X), TypeError, "`sigma`"),  # pyright: ignore[reportArgumentType]
    ("drt s inf", lambda: DRT(C6, TANH, A, B, None, X, s=float("inf")), ValueError, "`s`"),
    ("drt chunk_size -1", lambda: DRT(C6, TANH, A, B, None, X, chunk_size=-1), ValueError, "`chunk_size`"),
    ("drt gamma NaN under jit", lambda: eqx.filter_jit(lambda g: DRT(g, TANH, A, B, None, X))(nan(C6)), EQX_ERR, "`gamma` contains NaN"),
    # gaussian_ridgelet_transform
    ("grt a 1-D", lambda: GRT(A[0], B, M0, I2, 2), ValueError, "`a`"),
    ("grt a empty", lambda: GRT(A[:0], B[:0], M0, I2, 2), ValueError, "`a`"),
    ("grt mean shape", lambda: GRT(A, B, jnp.zeros(3), I2, 2), ValueError, "`mean`"),
    ("grt cov shape", lambda: GRT(A, B, M0, jnp.eye(3), 2), ValueError, "`cov`"),
    ("grt a NaN", lambda: GRT(nan(A), B, M0, I2, 2), ValueError, "`a` contains NaN"),
    ("grt b NaN", lambda: GRT(A, nan(B), M0, I2, 2), ValueError, "`b` contains NaN"),
    ("grt mean NaN", lambda: GRT(A, B, nan(M0), I2, 2), ValueError, "`mean` contains NaN"),
    ("grt mean inf", lambda: GRT(A, B, M0.at[0].set(jnp.inf), I2, 2), ValueError, "`mean` contains NaN"),
    ("grt cov NaN", lambda: GRT(A, B, M0, nan(I2), 2), ValueError, "`cov` contains NaN"),
    ("grt cov indefinite", lambda: GRT(A, B, M0, INDEF, 2), ValueError, "`cov` must be symmetric positive definite"),
    ("grt cov singular", lambda: GRT(A, B, M0, jnp.diag(jnp.array([1.0, 0.0])), 2), ValueError, "`cov` must be symmetric positive definite"),
    ("grt cov not symmetric", lambda: GRT(A, B, M0, ASYM, 2), ValueError, "`cov` must be symmetric"),
    ("grt cov indefinite under jit", lambda: eqx.filter_jit(lambda c: GRT(A, B, M0, c, 2))(INDEF), EQX_ERR, "`cov` must be symmetric positive definite"),
    ("grt k -1", lambda: GRT(A, B, M0, I2, -1), ValueError, "order k"),
    ("grt k 2.5", lambda: GRT(A, B, M0, I2, 2.5), TypeError, "order k"),  # pyright: ignore[reportArgumentType]
    ("grt k 2000", lambda: GRT(A, B, M0, I2, 2000), ValueError, "k=2000 is beyond the stable range"),
    ("grt k 60 float32", lambda: GRT(A.astype(jnp.float32), B.astype(jnp.float32), M0.astype(jnp.float32), I2.astype(jnp.float32), 60), ValueError, "k=60 is beyond the stable range"),
    ("grt s NaN", lambda: GRT(A, B, M0, I2, 2, s=float("nan")), ValueError, "`s`"),
    ("grt a str", lambda: GRT("ab", B, M0, I2, 2), TypeError, "`a`"),  # pyright: ignore[reportArgumentType]
    ("grt a bool", lambda: GRT(A > 0, B, M0, I2, 2), TypeError, "`a`"),
    # gaussian_mixture_ridgelet_transform
    ("gmrt coeffs NaN", lambda: GMRT(A, B, jnp.array([jnp.nan, 1.0]), *MIX[1:], 2), ValueError, "`coeffs` contains NaN"),
    ("gmrt coeffs empty", lambda: GMRT(A, B, jnp.ones(0), jnp.zeros((0, 2)), jnp.zeros((0, 2, 2)), 2), ValueError, "`coeffs`"),
    ("gmrt coeffs str", lambda: GMRT(A, B, "ab", *MIX[1:], 2), TypeError, "`coeffs`"),  # pyright: ignore[reportArgumentType]
    ("gmrt K mismatch", lambda: GMRT(A, B, jnp.ones(3), *MIX[1:], 2), ValueError, "`means`"),
    ("gmrt means NaN", lambda: GMRT(A, B, MIX[0], nan(MIX[1]), MIX[2], 2), ValueError, "`means` contains NaN"),
    ("gmrt means dim", lambda: GMRT(A, B, MIX[0], jnp.zeros((2, 3)), MIX[2], 2), ValueError, "`mean`"),
    ("gmrt covs dim", lambda: GMRT(A, B, MIX[0], MIX[1], jnp.stack([jnp.eye(3)] * 2), 2), ValueError, "`cov`"),
    ("gmrt second cov indefinite", lambda: GMRT(A, B, MIX[0], MIX[1], jnp.stack([I2, -I2]), 2), ValueError, "`covs` must be symmetric positive definite"),
    ("gmrt covs not symmetric", lambda: GMRT(A, B, MIX[0], MIX[1], jnp.stack([I2, ASYM]), 2), ValueError, "`covs` must be symmetric"),
    # gaussian_nodes
    ("gaussian_nodes num 0", lambda: fr.gaussian_nodes(K, 0, M0, I2), ValueError, "num"),
    ("gaussian_nodes num 2.5", lambda: fr.gaussian_nodes(K, 2.5, M0, I2), ValueError, "`num`"),  # pyright: ignore[reportArgumentType]
    ("gaussian_nodes num str", lambda: fr.gaussian_nodes(K, "a", M0, I2), ValueError, "`num`"),  # pyright: ignore[reportArgumentType]
    ("gaussian_nodes cov shape", lambda: fr.gaussian_nodes(K, 4, M0, jnp.eye(3)), ValueError, "cov must have shape"),
    ("gaussian_nodes cov indefinite", lambda: fr.gaussian_nodes(K, 4, M0, -I2), ValueError, "`cov` must be symmetric positive definite"),
    ("gaussian_nodes cov not symmetric", lambda: fr.gaussian_nodes(K, 4, M0, ASYM), ValueError, "`cov` must be symmetric"),
    ("gaussian_nodes cov NaN", lambda: fr.gaussian_nodes(K, 4, M0, nan(I2)), ValueError, "`cov` contains NaN"),
    ("gaussian_nodes mean NaN", lambda: fr.gaussian_nodes(K, 4, nan(M0), I2), ValueError, "`mean` contains NaN"),
    ("gaussian_nodes mean str", lambda: fr.gaussian_nodes(K, 4, "ab", I2), TypeError, "`mean`"),  # pyright: ignore[reportArgumentType]
    ("gaussian_nodes mean 2-D", lambda: fr.gaussian_nodes(K, 4, jnp.zeros((2, 2)), I2), ValueError, "`mean`"),
    ("gaussian_nodes mean empty", lambda: fr.gaussian_nodes(K, 4, jnp.zeros(0), jnp.zeros((0, 0))), ValueError, "`mean`"),
    ("gaussian_nodes num huge", lambda: fr.gaussian_nodes(K, 10**12, M0, I2), MemoryError, "gaussian_nodes(num=1000000000000)"),
    ("gaussian_nodes cov indefinite under jit", lambda: jax.jit(lambda c: fr.gaussian_nodes(K, 4, M0, c))(-I2), JAX_ERR, "`cov` must be symmetric positive definite"),
    # parameter_grid
    ("parameter_grid a_max 0", lambda: fr.parameter_grid(0.0, 1.0, 4, 4), ValueError, "a_max"),
    ("parameter_grid a_max NaN", lambda: fr.parameter_grid(float("nan"), 1.0, 4, 4), ValueError, "`a_max`"),
    ("parameter_grid a_max inf", lambda: fr.parameter_grid(float("inf"), 1.0, 4, 4), ValueError, "`a_max`"),
    ("parameter_grid b_max str", lambda: fr.parameter_grid(1.0, "a", 4, 4), TypeError, "`b_max`"),  # pyright: ignore[reportArgumentType]
    ("parameter_grid num_a 0", lambda: fr.parameter_grid(1.0, 1.0, 0, 4), ValueError, "`num_a`"),
    ("parameter_grid num_b 2.5", lambda: fr.parameter_grid(1.0, 1.0, 4, 2.5), ValueError, "`num_b`"),  # pyright: ignore[reportArgumentType]
    ("parameter_grid dim 0", lambda: fr.parameter_grid(1.0, 1.0, 4, 4, dim=0), ValueError, "`dim`"),
    ("parameter_grid rule", lambda: fr.parameter_grid(1.0, 1.0, 4, 4, rule="foo"), ValueError, "rule"),  # pyright: ignore[reportArgumentType]
    ("parameter_grid huge cells", lambda: fr.parameter_grid(1e300, 1e300, 4, 4), ValueError, "`a_max`"),
    ("parameter_grid too big", lambda: fr.parameter_grid(1.0, 1.0, 10**4, 10**4, dim=3), MemoryError, "parameter_grid(num_a=10000"),
    # sample_parameters
    ("sample_parameters num 0", lambda: fr.sample_parameters(K, 0, 2), ValueError, "`num`"),
    ("sample_parameters num 2.5", lambda: fr.sample_parameters(K, 2.5, 2), ValueError, "`num`"),  # pyright: ignore[reportArgumentType]
    ("sample_parameters dim 0", lambda: fr.sample_parameters(K, 4, 0), ValueError, "`dim`"),
    ("sample_parameters a_scale NaN", lambda: fr.sample_parameters(K, 4, 2, a_scale=float("nan")), ValueError, "`a_scale`"),
    ("sample_parameters a_scale str", lambda: fr.sample_parameters(K, 4, 2, a_scale="a"), TypeError, "`a_scale`"),  # pyright: ignore[reportArgumentType]
    ("sample_parameters x_radius 0", lambda: fr.sample_parameters(K, 4, 2, x_radius=0.0), ValueError, "`x_radius`"),
    ("sample_parameters b_margin -1", lambda: fr.sample_parameters(K, 4, 2, b_margin=-1.0), ValueError, "`b_margin`"),
    ("sample_parameters b_margin NaN", lambda: fr.sample_parameters(K, 4, 2, b_margin=float("nan")), ValueError, "`b_margin`"),
    ("sample_parameters radius_law", lambda: fr.sample_parameters(K, 4, 2, radius_law="foo"), ValueError, "radius_law"),  # pyright: ignore[reportArgumentType]
    ("sample_parameters a_scale huge", lambda: fr.sample_parameters(K, 4, 2, a_scale=1e300), ValueError, "`a_scale`"),
    ("sample_parameters num huge", lambda: fr.sample_parameters(K, 10**12, 2), MemoryError, "sample_parameters(num="),
    ("sample_parameters a_scale traced", lambda: jax.jit(lambda s: fr.sample_parameters(K, 4, 2, a_scale=s))(1.0), TypeError, "`a_scale`"),
    # reconstruct
    ("reconstruct pairing 0", lambda: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, X, pairing=0.0), ValueError, "`pairing`"),
    ("reconstruct pairing NaN", lambda: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, X, pairing=float("nan")), ValueError, "`pairing`"),
    ("reconstruct pairing str", lambda: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, X, pairing="a"), TypeError, "`pairing`"),  # pyright: ignore[reportArgumentType]
    ("reconstruct pairing NaN under jit", lambda: eqx.filter_jit(lambda p: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, X, pairing=p))(jnp.array(jnp.nan)), EQX_ERR, "`pairing`"),
    ("reconstruct x 1-D", lambda: fr.reconstruct(bump, TANH, G2, X[:, 0], W, A, B, C6, X, pairing=1.0), ValueError, "`x`"),
    ("reconstruct x str", lambda: fr.reconstruct(bump, TANH, G2, "ab", W, A, B, C6, X), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("reconstruct x_eval dim", lambda: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, X[:, :1], pairing=1.0), ValueError, "`x_eval`"),
    ("reconstruct x_eval NaN", lambda: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, nan(X), pairing=1.0), ValueError, "`x_eval` contains NaN"),
    ("reconstruct w_ab shape", lambda: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6[:3], X, pairing=1.0), ValueError, "`w_ab`"),
    ("reconstruct w_ab NaN", lambda: fr.reconstruct(bump, TANH, G2, X, W, A, B, nan(C6), X, pairing=1.0), ValueError, "`w_ab` contains NaN"),
    ("reconstruct not admissible", lambda: fr.reconstruct(bump, Identity(), G2, X, W, A, B, C6, X), NotAdmissibleError, "vanishes"),
    ("reconstruct sigma str", lambda: fr.reconstruct(bump, "relu", G2, X, W, A, B, C6, X), TypeError, "`sigma`"),  # pyright: ignore[reportArgumentType]
    # admissibility / admissibility_status / admissibility_table
    ("admissibility sigma str", lambda: fr.admissibility("relu", G2, 1), TypeError, "`sigma`"),
    ("admissibility rho int", lambda: fr.admissibility(TANH, 3, 1), TypeError, "`rho`"),
    ("admissibility dim 0", lambda: fr.admissibility(TANH, G2, 0), ValueError, "`dim`"),
    ("admissibility dim 2.5", lambda: fr.admissibility(TANH, G2, 2.5), TypeError, "`dim`"),  # pyright: ignore[reportArgumentType]
    ("admissibility dim True", lambda: fr.admissibility(TANH, G2, True), TypeError, "`dim`"),
    ("admissibility dim huge", lambda: fr.admissibility(TANH, G2, 10**6), ValueError, "`dim`"),
    ("admissibility s NaN", lambda: fr.admissibility(TANH, G2, 1, s=float("nan")), ValueError, "`s`"),
    ("admissibility s str", lambda: fr.admissibility(TANH, G2, 1, s="a"), TypeError, "`s`"),  # pyright: ignore[reportArgumentType]
    ("admissibility fourier NaN", lambda: fr.admissibility(fr.CustomActivation(jnp.tanh, lambda w: jnp.nan * w), G2, 1), NotAdmissibleError, "not finite"),
    ("admissibility fourier fails", lambda: fr.admissibility(fr.CustomActivation(jnp.tanh, lambda w: w.foo), G2, 1), TypeError, "`sigma.fourier"),
    ("admissibility fourier shape", lambda: fr.admissibility(fr.CustomActivation(jnp.tanh, lambda w: jnp.ones(3)), G2, 1), ValueError, "`sigma.fourier"),
    ("admissibility_status sigma str", lambda: fr.admissibility_status("relu", G2, 1), TypeError, "`sigma`"),
    ("admissibility_status dim 0", lambda: fr.admissibility_status(TANH, G2, 0), ValueError, "`dim`"),
    ("admissibility_table dim 0", lambda: fr.admissibility_table(0), ValueError, "`dim`"),
    ("admissibility_table dim 2.5", lambda: fr.admissibility_table(2.5), TypeError, "`dim`"),  # pyright: ignore[reportArgumentType]
    ("admissibility_table dim str", lambda: fr.admissibility_table("1"), TypeError, "`dim`"),  # pyright: ignore[reportArgumentType]
    # profiles
    ("CustomActivation fn", lambda: fr.CustomActivation(3, jnp.cos), TypeError, "`fn`"),  # pyright: ignore[reportArgumentType]
    ("CustomActivation fourier_fn", lambda: fr.CustomActivation(jnp.tanh, 3), TypeError, "`fourier_fn`"),  # pyright: ignore[reportArgumentType]
    ("CustomActivation parity 2", lambda: fr.CustomActivation(jnp.tanh, jnp.cos, parity=2), ValueError, "`parity`"),
    ("CustomActivation growth 2.5", lambda: fr.CustomActivation(jnp.tanh, jnp.cos, growth=2.5), ValueError, "`growth`"),  # pyright: ignore[reportArgumentType]
    ("CustomActivation growth -2", lambda: fr.CustomActivation(jnp.tanh, jnp.cos, growth=-2), ValueError, "`growth`"),
    ("CustomActivation name", lambda: fr.CustomActivation(jnp.tanh, jnp.cos, name=3), TypeError, "`name`"),  # pyright: ignore[reportArgumentType]
    ("CustomRidgelet fn", lambda: fr.CustomRidgelet(3, jnp.cos), TypeError, "`fn`"),  # pyright: ignore[reportArgumentType]
    ("CustomRidgelet parity 0.5", lambda: fr.CustomRidgelet(jnp.tanh, jnp.cos, parity=0.5), ValueError, "`parity`"),  # pyright: ignore[reportArgumentType]
    ("CustomRidgelet growth 2.5", lambda: fr.CustomRidgelet(jnp.tanh, jnp.cos, growth=2.5), ValueError, "`growth`"),  # pyright: ignore[reportArgumentType]
    ("CustomRidgelet name", lambda: fr.CustomRidgelet(jnp.tanh, jnp.cos, name=3), TypeError, "`name`"),  # pyright: ignore[reportArgumentType]
    ("LambdaGaussian m -1", lambda: fr.LambdaGaussian(-1), ValueError, "filter order m"),
    ("LambdaGaussian m 2.5", lambda: fr.LambdaGaussian(2.5), TypeError, "filter order m"),  # pyright: ignore[reportArgumentType]
    ("LambdaGaussian m True", lambda: fr.LambdaGaussian(True), TypeError, "filter order m"),
    ("LambdaGaussian l -1", lambda: fr.LambdaGaussian(1, -1), ValueError, "derivative order l"),
    ("LambdaGaussian odd order 301", lambda: fr.LambdaGaussian(301)(jnp.zeros(3)), ValueError, "m + l = 301 is beyond the stable range"),
    ("LambdaGaussian even order 2000", lambda: fr.LambdaGaussian(2000)(jnp.zeros(3)), ValueError, "m + l = 2000 is beyond the stable range"),
    ("LambdaGaussian order 57 float32", lambda: fr.LambdaGaussian(57)(jnp.zeros(3, jnp.float32)), ValueError, "m + l = 57 is beyond the stable range m + l <= 54 in float32"),
    ("get_activation unknown", lambda: fr.get_activation("foo"), ValueError, "`name`"),
    ("get_activation int", lambda: fr.get_activation(3), TypeError, "`name`"),  # pyright: ignore[reportArgumentType]
    ("get_activation callable", lambda: fr.get_activation(jnp.tanh), TypeError, "`name`"),  # pyright: ignore[reportArgumentType]
    # IntegralNetwork / sample_network / refit_output
    ("IntegralNetwork a NaN", lambda: fr.IntegralNetwork(nan(A), B, C6, TANH), ValueError, "`a` contains NaN"),
    ("IntegralNetwork c NaN", lambda: fr.IntegralNetwork(A, B, nan(C6), TANH), ValueError, "`c` contains NaN"),
    ("IntegralNetwork bias NaN", lambda: fr.IntegralNetwork(A, B, C6, TANH, jnp.array(jnp.nan)), ValueError, "`bias` contains NaN"),
    ("IntegralNetwork c shape", lambda: fr.IntegralNetwork(A, B, C6[:3], TANH), ValueError, "`c`"),
    ("IntegralNetwork a 1-D", lambda: fr.IntegralNetwork(A[0], B, C6, TANH), ValueError, "`a`"),
    ("IntegralNetwork b shape", lambda: fr.IntegralNetwork(A, B[:2], C6, TANH), ValueError, "`b`"),
    ("IntegralNetwork bias shape", lambda: fr.IntegralNetwork(A, B, C6, TANH, jnp.ones(2)), ValueError, "`bias`"),
    ("IntegralNetwork empty", lambda: fr.IntegralNetwork(A[:0], B[:0], C6[:0], TANH), ValueError, "`a` is empty"),
    ("IntegralNetwork sigma str", lambda: fr.IntegralNetwork(A, B, C6, "tanh"), TypeError, "`sigma`"),  # pyright: ignore[reportArgumentType]
    ("IntegralNetwork c list", lambda: fr.IntegralNetwork(A, B, [1.0] * 6, TANH), TypeError, "`c`"),  # pyright: ignore[reportArgumentType]
    ("IntegralNetwork a str", lambda: fr.IntegralNetwork("ab", B, C6, TANH), TypeError, "`a`"),  # pyright: ignore[reportArgumentType]
    ("IntegralNetwork call batch", lambda: NET(X), ValueError, "one point of shape (2,)"),
    ("IntegralNetwork call NaN", lambda: NET(nan(X[0])), ValueError, "`x` contains NaN"),
    ("IntegralNetwork evaluate NaN", lambda: NET.evaluate(nan(X)), ValueError, "`x` contains NaN"),
    ("IntegralNetwork evaluate str", lambda: NET.evaluate("ab"), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("IntegralNetwork from_mlp type", lambda: fr.IntegralNetwork.from_mlp(3), TypeError, "`mlp`"),  # pyright: ignore[reportArgumentType]
    ("IntegralNetwork a NaN under jit", lambda: eqx.filter_jit(lambda a: fr.IntegralNetwork(a, B, C6, TANH).evaluate(X))(nan(A)), EQX_ERR, "`a` contains NaN"),
    ("sample_network num_units 0", lambda: fr.sample_network(C6, A, B, None, TANH, 0, key=K), ValueError, "num_units"),
    ("sample_network num_units 2.5", lambda: fr.sample_network(C6, A, B, None, TANH, 2.5, key=K), ValueError, "`num_units`"),  # pyright: ignore[reportArgumentType]
    ("sample_network num_units huge", lambda: fr.sample_network(C6, A, B, None, TANH, 10**12, key=K), MemoryError, "sample_network(num_units="),
    ("sample_network gamma zero", lambda: fr.sample_network(jnp.zeros(6), A, B, None, TANH, 3, key=K), ValueError, "`gamma` is zero"),
    ("sample_network gamma NaN", lambda: fr.sample_network(nan(C6), A, B, None, TANH, 3, key=K), ValueError, "`gamma` contains NaN"),
    ("sample_network gamma shape", lambda: fr.sample_network(C6[:2], A, B, None, TANH, 3, key=K), ValueError, "`gamma`"),
    ("sample_network gamma str", lambda: fr.sample_network("ab", A, B, None, TANH, 3, key=K), TypeError, "`gamma`"),  # pyright: ignore[reportArgumentType]
    ("sample_network w NaN", lambda: fr.sample_network(C6, A, B, nan(C6), TANH, 3, key=K), ValueError, "`w` contains NaN"),
    ("sample_network w shape", lambda: fr.sample_network(C6, A, B, C6[:2], TANH, 3, key=K), ValueError, "`w`"),
    ("sample_network a NaN", lambda: fr.sample_network(C6, nan(A), B, None, TANH, 3, key=K), ValueError, "`a` contains NaN"),
    ("sample_network b NaN", lambda: fr.sample_network(C6, A, nan(B), None, TANH, 3, key=K), ValueError, "`b` contains NaN"),
    ("sample_network sigma", lambda: fr.sample_network(C6, A, B, None, "foo", 3, key=K), ValueError, "`name`"),
    ("sample_network ridge -1", lambda: fr.sample_network(C6, A, B, None, TANH, 3, key=K, refit=(X, X[:, 0]), ridge=-1.0), ValueError, "`ridge`"),
    ("sample_network refit", lambda: fr.sample_network(C6, A, B, None, TANH, 3, key=K, refit=X), TypeError, "`refit`"),  # pyright: ignore[reportArgumentType]
    ("sample_network gamma zero under jit", lambda: eqx.filter_jit(lambda g: fr.sample_network(g, A, B, None, TANH, 3, key=K).c)(jnp.zeros(6)), EQX_ERR, "`gamma` is zero"),
    ("refit_output x NaN", lambda: fr.refit_output(NET, nan(X), X[:, 0]), ValueError, "`x` contains NaN"),
    ("refit_output y inf", lambda: fr.refit_output(NET, X, X[:, 0].at[0].set(jnp.inf)), ValueError, "`y` contains NaN"),
    ("refit_output y shape", lambda: fr.refit_output(NET, X, X), ValueError, "`y`"),
    ("refit_output x dim", lambda: fr.refit_output(NET, X[:, :1], X[:, 0]), ValueError, "`x` has dimension 1"),
    ("refit_output x 1-D", lambda: fr.refit_output(NET, X[:, 0], X[:, 0]), ValueError, "`x`"),
    ("refit_output x empty", lambda: fr.refit_output(NET, X[:0], X[:0, 0]), ValueError, "`x` is empty"),
    ("refit_output x str", lambda: fr.refit_output(NET, "ab", X[:, 0]), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("refit_output y str", lambda: fr.refit_output(NET, X, "ab"), TypeError, "`y`"),  # pyright: ignore[reportArgumentType]
    ("refit_output net", lambda: fr.refit_output(3, X, X[:, 0]), TypeError, "`net`"),  # pyright: ignore[reportArgumentType]
    ("refit_output ridge -1", lambda: fr.refit_output(NET, X, X[:, 0], ridge=-1.0), ValueError, "`ridge`"),
    ("refit_output ridge NaN", lambda: fr.refit_output(NET, X, X[:, 0], ridge=float("nan")), ValueError, "`ridge`"),
    ("refit_output ridge str", lambda: fr.refit_output(NET, X, X[:, 0], ridge="a"), TypeError, "`ridge`"),  # pyright: ignore[reportArgumentType]
    ("refit_output chunk_size 0", lambda: fr.refit_output(NET, X, X[:, 0], chunk_size=0), ValueError, "`chunk_size`"),
    ("refit_output singular, ridge 0", lambda: fr.refit_output(fr.IntegralNetwork(jnp.ones((6, 2)), jnp.zeros(6), C6, TANH), X, X[:, 0], ridge=0.0), ValueError, "increase `ridge`"),
    ("refit_output x NaN under jit", lambda: eqx.filter_jit(lambda x: fr.refit_output(NET, x, X[:, 0]).c)(nan(X)), EQX_ERR, "`x` contains NaN"),
    # antiderivative / ridgelet_potential
    ("antiderivative int", lambda: fr.antiderivative(3), TypeError, "`sigma`"),
    ("antiderivative None", lambda: fr.antiderivative(None), TypeError, "`sigma`"),
    ("antiderivative unknown name", lambda: fr.antiderivative("foo"), ValueError, "Unknown activation 'foo'"),
    ("antiderivative quadrature |z| > 512", lambda: fr.antiderivative(jnp.cos)(600.0), ValueError, "|z| <= 512"),
    ("antiderivative quadrature z inf", lambda: fr.antiderivative(jnp.cos)(jnp.array([0.0, jnp.inf])), ValueError, "|z| <= 512"),
    ("antiderivative quadrature z 1e300 jit", lambda: jax.jit(fr.antiderivative(jnp.cos))(jnp.array(1e300)), Exception, "|z| <= 512"),
    ("antiderivative under-resolved sin(50 z)", lambda: fr.antiderivative(lambda z: jnp.sin(50 * z)), ValueError, "is not resolved by the quadrature"),
    ("antiderivative under-resolved cos(200 z) gaussian", lambda: fr.antiderivative(lambda z: jnp.cos(200 * z) * jnp.exp(-(z**2) / 100)), ValueError, "`sigma` (no closed form) is not resolved"),
    ("antiderivative NaN profile sqrt", lambda: fr.antiderivative(jnp.sqrt), ValueError, "NaN/inf somewhere"),
    ("antiderivative not elementwise", lambda: fr.antiderivative(lambda z: jnp.sum(z, -1)), ValueError, "`sigma` must act elementwise"),
    ("antiderivative traced sin(50 z) jit", lambda: jax.jit(lambda f, z: fr.antiderivative(lambda u: jnp.sin(f * u))(z))(50.0, 1.0), Exception, "is not resolved by the quadrature"),
    ("ridgelet_potential field", lambda: fr.ridgelet_potential(3, 0.0, X), TypeError, "`field`"),  # pyright: ignore[reportArgumentType]
    ("ridgelet_potential x NaN", lambda: fr.ridgelet_potential(FIELD, 0.0, nan(X)), ValueError, "`x` contains NaN"),
    ("ridgelet_potential x dim", lambda: fr.ridgelet_potential(FIELD, 0.0, X[:, :1]), ValueError, "`x` has dimension 1"),
    ("ridgelet_potential x 3-D", lambda: fr.ridgelet_potential(FIELD, 0.0, X[None]), ValueError, "`x`"),
    ("ridgelet_potential x str", lambda: fr.ridgelet_potential(FIELD, 0.0, "ab"), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("ridgelet_potential x empty", lambda: fr.ridgelet_potential(FIELD, 0.0, X[:0]), ValueError, "`x` is empty"),
    ("ridgelet_potential t NaN", lambda: fr.ridgelet_potential(FIELD, float("nan"), X), ValueError, "`t` must be finite"),
    ("ridgelet_potential t str", lambda: fr.ridgelet_potential(FIELD, "a", X), TypeError, "`t`"),  # pyright: ignore[reportArgumentType]
    ("ridgelet_potential t vector", lambda: fr.ridgelet_potential(FIELD, jnp.ones(3), X), ValueError, "`t` must be a scalar"),
    ("ridgelet_potential t NaN under jit", lambda: jax.jit(lambda t: fr.ridgelet_potential(FIELD, t, X))(jnp.nan), JAX_ERR, "`t` must be finite"),
    ("ridgelet_potential not a gradient field", lambda: fr.ridgelet_potential(fr.RidgeletField(A, B, jnp.ones((1, 6, 2)), sigma="tanh", basis="constant"), 0.0, X), ValueError, "not a gradient field"),
    # curl_fraction: t under jit (the field ignores t; the check must survive)
    ("curl t NaN under jit", lambda: jax.jit(lambda t: fr.curl_fraction(rot, X, t=t))(jnp.nan), JAX_ERR, "`t` must be finite"),
    ("curl t str", lambda: fr.curl_fraction(rot, X, t="a"), TypeError, "`t`"),  # pyright: ignore[reportArgumentType]
    ("curl t vector", lambda: fr.curl_fraction(rot, X, t=jnp.ones(3)), ValueError, "`t` must be a scalar"),
    # ParticleField
    ("ParticleField energy", lambda: fr.ParticleField(3), TypeError, "`energy`"),  # pyright: ignore[reportArgumentType]
    ("ParticleField dim 0", lambda: fr.ParticleField(POT, 0), ValueError, "`dim`"),
    ("ParticleField dim 2.5", lambda: fr.ParticleField(POT, 2.5), ValueError, "`dim`"),  # pyright: ignore[reportArgumentType]
    ("ParticleField xs dim", lambda: fr.ParticleField(POT, 3).batch_call(0.0, X), ValueError, "`xs` has dimension 2"),
    ("ParticleField xs NaN", lambda: fr.ParticleField(POT).batch_call(0.0, nan(X)), ValueError, "contains NaN"),
    ("ParticleField xs 1-D", lambda: fr.ParticleField(POT).batch_call(0.0, X[0]), ValueError, "point cloud"),
    ("ParticleField xs str", lambda: fr.ParticleField(POT).batch_call(0.0, "ab"), TypeError, "must be an array"),
    ("ParticleField divergence NaN", lambda: fr.ParticleField(POT).batch_divergence(0.0, nan(X)), ValueError, "`xs` contains NaN"),
    ("ParticleField one point", lambda: fr.ParticleField(POT)(0.0, X[0]), EQX_ERR, "one particle has no velocity"),
    # PRNG keys
    ("gaussian_nodes key", lambda: fr.gaussian_nodes(3, 4, jnp.zeros(2), jnp.eye(2)), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    ("uniform_nodes key", lambda: fr.uniform_nodes(None, 4, jnp.zeros(2), jnp.ones(2)), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    ("sample_parameters key", lambda: fr.sample_parameters("k", 4, 2), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    ("sample_network key", lambda: fr.sample_network(jnp.ones(4), jnp.ones((4, 2)), jnp.zeros(4), jnp.ones(4), TANH, 4, key=3), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    # law_entropy_fisher
    ("law_entropy_fisher law", lambda: fr.law_entropy_fisher(3, jnp.array([0.1])), TypeError, "`law`"),  # pyright: ignore[reportArgumentType]
    ("law_entropy_fisher ts NaN", lambda: fr.law_entropy_fisher(LAW, jnp.array([jnp.nan])), ValueError, "`ts` must hold finite times"),
    ("law_entropy_fisher ts < 0", lambda: fr.law_entropy_fisher(LAW, jnp.array([0.1, -0.1])), ValueError, "ts[1] = -0.1"),
    ("law_entropy_fisher ts past collapse", lambda: fr.law_entropy_fisher(LAW, jnp.array([0.6])), fr.CollapseError, "collapse"),
    ("law_entropy_fisher ts 2-D", lambda: fr.law_entropy_fisher(LAW, jnp.full((2, 2), 0.1)), ValueError, "`ts`"),
    ("law_entropy_fisher ts empty", lambda: fr.law_entropy_fisher(LAW, jnp.zeros(0)), ValueError, "`ts`"),
    ("law_entropy_fisher ts str", lambda: fr.law_entropy_fisher(LAW, "ab"), TypeError, "`ts`"),  # pyright: ignore[reportArgumentType]
    ("law_entropy_fisher ts traced", lambda: jax.jit(lambda ts: fr.law_entropy_fisher(LAW, ts))(jnp.array([0.1])), TypeError, "`ts` must be concrete"),
    ("law_entropy_fisher num_samples 0", lambda: fr.law_entropy_fisher(LAW, jnp.array([0.1]), num_samples=0), ValueError, "`num_samples`"),
    # dae_reversal / reversal_scores (all refused before any solve)
    ("dae_reversal t 0", lambda: fr.dae_reversal(LAW, 0.0, key=K), ValueError, "`t`"),
    ("dae_reversal t NaN", lambda: fr.dae_reversal(LAW, float("nan"), key=K), ValueError, "`t`"),
    ("dae_reversal t str", lambda: fr.dae_reversal(LAW, "a", key=K), TypeError, "`t`"),  # pyright: ignore[reportArgumentType]
    ("dae_reversal t past collapse", lambda: fr.dae_reversal(LAW, 0.6, key=K), fr.CollapseError, "collapse"),
    ("dae_reversal law", lambda: fr.dae_reversal(3, 0.1, key=K), TypeError, "`law`"),  # pyright: ignore[reportArgumentType]
    ("dae_reversal key", lambda: fr.dae_reversal(LAW, 0.1, key=None), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    ("dae_reversal num_samples 1", lambda: fr.dae_reversal(LAW, 0.1, key=K, num_samples=1), ValueError, "`num_samples`"),
    ("dae_reversal num_times 2.5", lambda: fr.dae_reversal(LAW, 0.1, key=K, num_times=2.5), ValueError, "`num_times`"),  # pyright: ignore[reportArgumentType]
    ("dae_reversal jko_steps 0", lambda: fr.dae_reversal(LAW, 0.1, key=K, jko_steps=0), ValueError, "`jko_steps`"),
    ("dae_reversal estimator", lambda: fr.dae_reversal(LAW, 0.1, key=K, estimator="foo"), ValueError, "`estimator`"),  # pyright: ignore[reportArgumentType]
    ("dae_reversal rtol -1", lambda: fr.dae_reversal(LAW, 0.1, key=K, rtol=-1.0), ValueError, "`rtol`"),
    ("dae_reversal atol NaN", lambda: fr.dae_reversal(LAW, 0.1, key=K, atol=float("nan")), ValueError, "`atol`"),
    ("dae_reversal atol str", lambda: fr.dae_reversal(LAW, 0.1, key=K, atol="a"), TypeError, "`atol`"),  # pyright: ignore[reportArgumentType]
    ("dae_reversal too big", lambda: fr.dae_reversal(LAW, 0.1, key=K, num_samples=10**9, num_times=1000), MemoryError, "dae_reversal(num_samples="),
    ("reversal_scores rev", lambda: fr.reversal_scores(3, LAW, key=K), TypeError, "`rev`"),  # pyright: ignore[reportArgumentType]
    ("reversal_scores law", lambda: fr.reversal_scores(_rev(jnp.zeros((2, 4, 2))), 3, key=K), TypeError, "`law`"),  # pyright: ignore[reportArgumentType]
    ("reversal_scores dim", lambda: fr.reversal_scores(_rev(jnp.zeros((2, 4, 3))), LAW, key=K), ValueError, "`rev.x0` has dimension 3"),
    ("reversal_scores NaN", lambda: fr.reversal_scores(_rev(jnp.full((2, 4, 2), jnp.nan)), LAW, key=K), ValueError, "`rev.x0` contains NaN"),
    ("reversal_scores single sample", lambda: fr.reversal_scores(_rev(jnp.zeros((2, 1, 2))), LAW, key=K), ValueError, "`rev.x0` needs at least 2"),
    ("reversal_scores key", lambda: fr.reversal_scores(_rev(jnp.zeros((2, 4, 2))), LAW, key=None), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
]  # fmt: skip


# Rows that compile a whole computation or run a quadrature before their
# check fires (measured at 5-30 s each on the loaded 2-core CI machine): -m slow.
SLOW_ROWS = {
    "gmrt second cov indefinite",
    "gmrt covs not symmetric",
    "grt cov indefinite under jit",
    "sample_parameters a_scale huge",
    "reconstruct not admissible",
    "reconstruct pairing NaN under jit",
    "refit_output singular, ridge 0",
    "refit_output x NaN under jit",
    "gaussian_nodes cov indefinite under jit",
    "sample_network gamma zero under jit",
    "ridgelet_potential not a gradient field",
    "ridgelet_potential t NaN under jit",
    "IntegralNetwork a NaN under jit",
    "drt gamma NaN under jit",
    "rt f returns NaN",
    "ParticleField one point",
}


@pytest.mark.parametrize("call,error,match", table_params(BAD, SLOW_ROWS))
def test_bad_input_named(call, error, match):
    raises_named(call, error, match)


# ------------------------------------------------- legal but unusual inputs

# A 1-D grid fine enough that the quadrature of R[f; G^(k)] for a Gaussian bump
# matches the closed form to ~1e-10 (float64).
_T = jnp.linspace(-12.0, 12.0, 481)
X1, W1 = _T[:, None], jnp.full(481, 24.0 / 480).at[0].mul(0.5).at[-1].mul(0.5)
A1 = jnp.array([[0.5], [1.0], [-1.5], [2.0]])
B1 = jnp.array([0.0, 0.7, -0.3, 1.1])


def _closed(mean=0.0, a=A1, b=B1, k=2):
    return np.asarray(GRT(a, b, jnp.array([mean]), jnp.eye(1), k))


def test_ridgelet_transform_matches_closed_form_and_jit():
    fx = jnp.exp(-0.5 * _T**2)
    got = np.asarray(RT(fx, G2, A1, B1, X1, W1))
    np.testing.assert_allclose(got, _closed(), rtol=1e-9, atol=1e-12)
    jitted = np.asarray(jax.jit(lambda f: RT(f, G2, A1, B1, X1, W1))(fx))
    np.testing.assert_allclose(jitted, got, rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_ridgelet_transform_low_precision_inputs(dtype):
    """Half-precision nodes and values: finite, and right to the inputs' own
    rounding (bfloat16 keeps 8 bits) against the float64 closed form."""
    fx = jnp.exp(-0.5 * _T**2)
    got = np.asarray(
        RT(
            fx.astype(dtype),
            G2,
            A1.astype(dtype),
            B1.astype(dtype),
            X1.astype(dtype),
            W1.astype(dtype),
        ),
        np.float64,
    )
    assert np.all(np.isfinite(got))
    tol = {jnp.float16: 5e-3, jnp.bfloat16: 4e-2, jnp.float32: 1e-5}[dtype]
    ref = _closed(a=A1.astype(dtype).astype(float), b=B1.astype(dtype).astype(float))
    np.testing.assert_allclose(got, ref, atol=tol * np.abs(ref).max())


@pytest.mark.slow
def test_ridgelet_transform_integer_units_and_offset():
    """Integer units are promoted; a bump centred at 300 on shifted nodes, with
    biases shifted by a.mu, has the closed form of the centred bump."""
    a_int = jnp.array([[1], [2], [-1]])
    b_int = jnp.array([0, 1, -2])
    fx = jnp.exp(-0.5 * _T**2)
    got = np.asarray(RT(fx, G2, a_int, b_int, X1, W1))
    np.testing.assert_allclose(
        got, _closed(a=a_int * 1.0, b=b_int * 1.0), rtol=1e-9, atol=1e-12
    )
    mu = 300.0
    shifted = np.asarray(RT(fx, G2, A1, B1 + A1[:, 0] * mu, X1 + mu, W1))
    np.testing.assert_allclose(shifted, _closed(), rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(
        _closed(mean=mu, b=B1 + A1[:, 0] * mu), _closed(), rtol=1e-10, atol=1e-13
    )


@pytest.mark.slow
def test_gaussian_ridgelet_transform_huge_covariance_scales_exactly():
    """cov = s^2 I and a / s leave a^T cov a unchanged; the value scales by
    det(cov)^{1/2} = s^d exactly. At s = 1e100 (det = 1e400 overflows a
    float64) the result is finite and right: the log-determinant is used."""
    base = np.asarray(GRT(A, B, M0, I2, 3))
    s = 1e100
    big = np.asarray(GRT(A / s, B, M0, (s * s) * I2, 3))
    assert np.all(np.isfinite(big))
    np.testing.assert_allclose(big / s**2, base, rtol=1e-10)
    mix = np.asarray(
        GMRT(A, B, jnp.array([2.0, -1.0]), jnp.zeros((2, 2)), jnp.stack([I2, I2]), 3)
    )
    np.testing.assert_allclose(mix, base, rtol=1e-12)


@pytest.mark.slow
def test_gaussian_ridgelet_transform_under_jit_equals_eager():
    cov = jnp.array([[2.0, 0.3], [0.3, 1.0]])
    eager = np.asarray(GRT(A, B, M0 + 1.0, cov, 1))
    jitted = np.asarray(jax.jit(lambda c: GRT(A, B, M0 + 1.0, c, 1))(cov))
    np.testing.assert_allclose(jitted, eager, rtol=1e-12)


@pytest.mark.slow
def test_dual_half_precision_gamma_and_single_point():
    ref = np.asarray(DRT(C6, TANH, A, B, None, X))
    brute = np.tanh(np.asarray(X) @ np.asarray(A).T - np.asarray(B)) @ np.asarray(C6)
    np.testing.assert_allclose(ref, brute, rtol=1e-12)
    half = np.asarray(DRT(C6.astype(jnp.bfloat16), TANH, A, B, None, X), np.float64)
    np.testing.assert_allclose(half, brute, atol=2e-2 * np.abs(brute).max())
    one = np.asarray(DRT(C6, TANH, A, B, None, X[:1]))
    np.testing.assert_allclose(one, brute[:1], rtol=1e-12)
    np.testing.assert_allclose(float(NET(X[0])), brute[0], rtol=1e-12)


def test_lambda_gaussian_half_precision_promoted():
    """float16 z is promoted to float32 (|G^(20)| passes 65504); values agree
    with float64 (odd m: Dawson tables; even m: -G^(l+2) for m = 2)."""
    z = jnp.linspace(-3.0, 3.0, 7)
    for prof in (
        fr.LambdaGaussian(3, 1),
        fr.LambdaGaussian(2, 1),
        fr.GaussianDerivative(20),
    ):
        ref = np.asarray(prof(z))
        got = prof(z.astype(jnp.float16))
        assert got.dtype == jnp.float32
        np.testing.assert_allclose(
            np.asarray(got, np.float64), ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max()
        )
    np.testing.assert_allclose(
        np.asarray(fr.LambdaGaussian(2, 1)(z)),
        -np.asarray(fr.GaussianDerivative(3)(z)),
        rtol=1e-12,
    )


def test_custom_profiles_and_get_activation_unusual():
    ca = fr.CustomActivation(
        jnp.tanh, Tanh().fourier, parity=-1, growth=0, name="my_tanh"
    )
    np.testing.assert_allclose(np.asarray(ca(X)), np.tanh(np.asarray(X)), rtol=1e-12)
    cr = fr.CustomRidgelet(
        fr.GaussianDerivative(2), fr.GaussianDerivative(2).fourier, parity=1
    )
    np.testing.assert_allclose(
        float(cr(0.5)), float(fr.GaussianDerivative(2)(0.5)), rtol=1e-12
    )
    assert fr.get_activation("ReLU") == ReLU()
    assert fr.get_activation(TANH) is TANH


def test_antiderivative_quadrature_to_its_limit():
    """The composite rule against closed forms up to |z| = 512 (it returned
    ~7e298 for cos at 1e300 with one 64-node panel; now refused)."""
    z = jnp.linspace(-512.0, 512.0, 257)
    err = jnp.max(jnp.abs(fr.antiderivative(jnp.cos)(z) - jnp.sin(z)))
    assert float(err) < 1e-10
    soft = fr.antiderivative(jax.nn.sigmoid)(z)
    assert float(jnp.max(jnp.abs(soft - (jax.nn.softplus(z) - jnp.log(2.0))))) < 1e-10


def test_antiderivative_resolved_fast_profile_against_closed_form():
    """sin(5 z) is resolved (~25 periods per 32-long panel at |z| = 512): the
    probe passes and the values match (1 - cos 5z)/5. sin(50 z) is refused
    (the rule returned -4.76 at z = 512 for the true 0.03 before the probe)."""
    z = jnp.linspace(-512.0, 512.0, 129)
    got = fr.antiderivative(lambda u: jnp.sin(5 * u))(z)
    assert float(jnp.max(jnp.abs(got - (1 - jnp.cos(5 * z)) / 5))) < 1e-9
    with pytest.raises(ValueError, match="not resolved"):
        fr.antiderivative(lambda u: jnp.sin(50 * u))


@pytest.mark.slow
def test_antiderivative_by_name_and_by_quadrature():
    z = jnp.linspace(-3.0, 3.0, 13)
    np.testing.assert_allclose(
        np.asarray(fr.antiderivative("tanh")(z)),
        np.log(np.cosh(np.asarray(z))),
        rtol=1e-12,
        atol=1e-14,
    )
    # a profile flowrep does not know: Gauss-Legendre on [0, z]
    np.testing.assert_allclose(
        np.asarray(fr.antiderivative(jnp.cos)(z)), np.sin(np.asarray(z)), atol=1e-12
    )


@pytest.mark.slow
def test_ridgelet_potential_one_point_int_points_and_jit():
    """grad phi is the field (finite differences), for one point, int points
    and under jit."""
    phi = lambda p: fr.ridgelet_potential(FIELD, 0.0, p)  # noqa: E731
    x0 = X[3]
    grad = np.asarray(jax.grad(phi)(x0))
    np.testing.assert_allclose(grad, np.asarray(FIELD(0.0, x0)), rtol=1e-10)
    pts = jnp.array([[1, 0], [0, -2]])
    np.testing.assert_allclose(
        np.asarray(phi(pts)), np.asarray(phi(pts * 1.0)), rtol=1e-12
    )
    np.testing.assert_allclose(
        np.asarray(jax.jit(lambda t: fr.ridgelet_potential(FIELD, t, X))(0.0)),
        np.asarray(phi(X)),
        rtol=1e-12,
    )


@pytest.mark.slow
def test_sample_network_huge_gamma_and_jit():
    """gamma * 1e300 (its masses' sum would overflow): the same draws, c scaled
    by 1e300 exactly; under jit the same network as eagerly."""
    base = fr.sample_network(C6, A, B, None, TANH, 5, key=K)
    big = fr.sample_network(C6 * 1e300, A, B, None, TANH, 5, key=K)
    assert np.all(np.isfinite(np.asarray(big.c)))
    np.testing.assert_array_equal(np.asarray(big.a), np.asarray(base.a))
    np.testing.assert_allclose(
        np.asarray(big.c) / 1e300, np.asarray(base.c), rtol=1e-12
    )
    jitted = eqx.filter_jit(
        lambda g: fr.sample_network(g, A, B, None, TANH, 5, key=K).c
    )(C6)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(base.c), rtol=1e-12)


@pytest.mark.slow
def test_refit_output_half_precision_and_exact_fit():
    """Targets made by the network itself are refitted exactly (float64); from
    float16 samples the fit runs in float32 and matches to their rounding."""
    y = NET.evaluate(X)
    start = eqx.tree_at(lambda n: n.c, NET, jnp.zeros(6))
    fit = fr.refit_output(start, X, y, ridge=0.0)
    np.testing.assert_allclose(np.asarray(fit.evaluate(X)), np.asarray(y), atol=1e-9)
    half = fr.refit_output(
        start, X.astype(jnp.float16), y.astype(jnp.float16), ridge=1e-6
    )
    assert half.c.dtype in (jnp.float32, jnp.float64)
    pred = np.asarray(half.evaluate(X))
    assert np.all(np.isfinite(pred))
    np.testing.assert_allclose(pred, np.asarray(y), atol=3e-2 * float(jnp.abs(y).max()))


@pytest.mark.slow
def test_gaussian_nodes_jit_and_huge_covariance():
    cov = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    x, w = fr.gaussian_nodes(K, 8, M0 + 100.0, cov)
    xj, wj = jax.jit(lambda c: fr.gaussian_nodes(K, 8, M0 + 100.0, c))(cov)
    np.testing.assert_allclose(np.asarray(xj), np.asarray(x), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(wj), np.asarray(w), rtol=1e-12)
    # w_i = 1 / (n p(x_i)), checked against the density computed directly
    r = np.asarray(x) - 100.0
    p = np.exp(
        -0.5 * np.einsum("ni,ij,nj->n", r, np.linalg.inv(np.asarray(cov)), r)
    ) / (2 * np.pi * math.sqrt(np.linalg.det(np.asarray(cov))))
    np.testing.assert_allclose(np.asarray(w), 1 / (8 * p), rtol=1e-10)
    xb, wb = fr.gaussian_nodes(K, 8, M0, 1e200 * I2)
    assert np.all(np.isfinite(np.asarray(xb))) and np.all(np.isfinite(np.asarray(wb)))


@pytest.mark.slow
def test_parameter_grid_and_sample_parameters_numpy_ints():
    a, b, w = fr.parameter_grid(np.float32(2.0), 3, np.int64(4), 5, dim=np.int64(1))
    assert a.shape == (20, 1) and b.shape == (20,)
    np.testing.assert_allclose(float(jnp.sum(w)), 4.0 * 6.0, rtol=1e-12)
    a, b, w = fr.sample_parameters(K, np.int64(5), 2, a_scale=1e30)
    assert np.all(np.isfinite(np.asarray(w))) and np.all(np.isfinite(np.asarray(a)))


def test_reconstruct_traced_pairing_equals_eager():
    eager = fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, X[:4], pairing=2.5)
    jitted = eqx.filter_jit(
        lambda p: fr.reconstruct(bump, TANH, G2, X, W, A, B, C6, X[:4], pairing=p)
    )(jnp.array(2.5))
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-12)


def test_particle_field_with_dim_is_the_energy_velocity():
    pf = fr.ParticleField(POT, np.int64(2))
    np.testing.assert_allclose(
        np.asarray(pf.batch_call(0.0, X)), -np.asarray(X), rtol=1e-12
    )
    v, div = pf.batch_divergence(0.0, X.astype(jnp.float32))
    np.testing.assert_allclose(np.asarray(div), -2.0, rtol=1e-6)


def test_law_entropy_fisher_scalar_and_list_times():
    """N(0, I_2) under the deep DAE: Sigma_t = (1 - 2t) I; H = log(2 pi e (1-2t)),
    I = 2 / (1 - 2t)."""
    h, f = fr.law_entropy_fisher(LAW, 0.1)
    np.testing.assert_allclose(
        np.asarray(h), [math.log(2 * math.pi * math.e * 0.8)], rtol=1e-12
    )
    np.testing.assert_allclose(np.asarray(f), [2.5], rtol=1e-12)
    h2, f2 = fr.law_entropy_fisher(LAW, [0, 0.1])
    np.testing.assert_allclose(np.asarray(f2), [2.0, 2.5], rtol=1e-12)
