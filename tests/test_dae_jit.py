"""The DAE entry points under `jax.jit`: valid calls match the eager ones, and
each value problem raises at once when concrete and through `eqx.error_if`
(with the same named message) when traced."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep as fr
from flowrep._dae._checks import CollapseError


# under `jax.jit` an `eqx.error_if` arrives as a JaxRuntimeError (or, from a
# host callback, a ValueError) whose text carries the message; under
# `eqx.filter_jit` as an EquinoxRuntimeError
RUNTIME = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError, ValueError)
EYE2 = jnp.eye(2)
LAW = fr.GaussianLaw(jnp.zeros(2), jnp.diag(jnp.array([2.0, 1.0])))
MIX = fr.GaussianMixture(
    jnp.array([0.3, 0.7]),
    jnp.array([[0.0, 0.0], [1.0, 1.0]]),
    jnp.stack([EYE2, 0.5 * EYE2]),
)
X = jnp.asarray(np.random.default_rng(0).normal(size=(12, 2)))


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ valid calls


def test_shallow_dae_under_jit_matches_eager_and_closed_form():
    out = jax.jit(lambda t, x: fr.shallow_dae(LAW, t, x))(0.3, X)
    _close(out, fr.shallow_dae(LAW, 0.3, X))
    # one Gaussian: g_t(x) = Sigma (Sigma + tI)^{-1} x, diagonal here
    gain = jnp.array([2.0 / 2.3, 1.0 / 1.3])
    _close(out, X * gain)
    out_m = jax.jit(
        lambda w: fr.shallow_dae(fr.GaussianMixture(w, MIX.means, MIX.covs), 0.3, X)
    )(jnp.array([0.3, 0.7]))
    _close(out_m, fr.shallow_dae(MIX, 0.3, X))


def test_mean_shift_under_jit_matches_eager():
    w = jnp.linspace(1.0, 2.0, X.shape[0])
    out = jax.jit(lambda x, t, w: fr.mean_shift(x, t, weights=w))(X, 0.4, w)
    _close(out, fr.mean_shift(X, 0.4, weights=w))


def test_backward_heat_under_jit_is_the_closed_form():
    cov = jax.jit(lambda t: LAW.backward_heat(t).cov)(0.2)
    _close(cov, jnp.diag(jnp.array([1.6, 0.6])))
    covs = jax.jit(lambda t: MIX.backward_heat(t).covs)(0.1)
    _close(covs, MIX.covs - 0.2 * EYE2)
    cov2 = jax.jit(lambda c: fr.GaussianLaw(jnp.zeros(2), c).backward_heat(0.2).cov)(
        LAW.cov
    )
    _close(cov2, cov)


def test_deep_dae_flow_under_jit_matches_the_closed_form_map():
    res = jax.jit(
        lambda t1: fr.deep_dae_flow(LAW, X, t1, rtol=1e-8, atol=1e-8).tracks[-1]
    )(0.3)
    _close(res, fr.deep_dae_map(LAW, 0.3, X))
    _close(jax.jit(lambda t: fr.deep_dae_map(LAW, t, X))(0.3), res)


def test_entropy_curves_says_it_is_not_jittable():
    with pytest.raises(TypeError, match="entropy_curves is not jittable"):
        jax.jit(lambda ts: fr.entropy_curves(LAW, ts, key=jax.random.PRNGKey(0)))(
            jnp.array([0.0, 0.1])
        )


# ----------------------------------------------------------- value problems

# (name, eager call, traced call, error class, message fragment)
CASES = [
    (
        "shallow_dae t<0",
        lambda: fr.shallow_dae(LAW, -0.1, X),
        lambda: jax.jit(lambda t: fr.shallow_dae(LAW, t, X))(-0.1),
        ValueError,
        "`t` must be",
    ),
    (
        "shallow_dae t=inf",
        lambda: fr.shallow_dae(LAW, jnp.inf, X),
        lambda: jax.jit(lambda t: fr.shallow_dae(LAW, t, X))(jnp.inf),
        ValueError,
        "`t` must be finite",
    ),
    (
        "mean_shift zero bandwidth",
        lambda: fr.mean_shift(X, 0.0),
        lambda: jax.jit(lambda t: fr.mean_shift(X, t))(0.0),
        ValueError,
        "positive noise variance `t`",
    ),
    (
        "mean_shift negative weights",
        lambda: fr.mean_shift(X, 0.3, weights=-jnp.ones(12)),
        lambda: jax.jit(lambda w: fr.mean_shift(X, 0.3, weights=w))(-jnp.ones(12)),
        ValueError,
        "`weights` must be positive and finite",
    ),
    (
        "backward_heat past collapse",
        lambda: LAW.backward_heat(0.6),
        lambda: jax.jit(lambda t: LAW.backward_heat(t).cov)(0.6),
        CollapseError,
        "collapses",
    ),
    (
        "mixture backward_heat past collapse",
        lambda: MIX.backward_heat(0.3),
        lambda: jax.jit(lambda t: MIX.backward_heat(t).covs)(0.3),
        CollapseError,
        "collapses",
    ),
    (
        "deep_dae_flow past collapse",
        lambda: fr.deep_dae_flow(LAW, X, 0.6),
        lambda: jax.jit(lambda t1: fr.deep_dae_flow(LAW, X, t1).tracks[-1])(0.6),
        CollapseError,
        "`t1`|t1=",
    ),
    (
        "deep_dae_map past collapse",
        lambda: fr.deep_dae_map(LAW, 0.6, X),
        lambda: jax.jit(lambda t: fr.deep_dae_map(LAW, t, X))(0.6),
        CollapseError,
        "collapses",
    ),
    (
        "mixture negative weights",
        lambda: fr.GaussianMixture(jnp.array([-0.3, 1.3]), MIX.means, MIX.covs),
        lambda: jax.jit(
            lambda w: fr.shallow_dae(fr.GaussianMixture(w, MIX.means, MIX.covs), 0.3, X)
        )(jnp.array([-0.3, 1.3])),
        ValueError,
        "`weights` must be positive",
    ),
    (
        "non-PD covariance",
        lambda: fr.GaussianLaw(jnp.zeros(2), jnp.diag(jnp.array([1.0, -1.0]))),
        lambda: jax.jit(
            lambda c: fr.shallow_dae(fr.GaussianLaw(jnp.zeros(2), c), 0.3, X)
        )(jnp.diag(jnp.array([1.0, -1.0]))),
        ValueError,
        "`cov` must be.*positive definite",
    ),
    (
        "non-symmetric covariance",
        lambda: fr.GaussianLaw(jnp.zeros(2), jnp.array([[1.0, 0.5], [0.0, 1.0]])),
        lambda: jax.jit(
            lambda c: fr.shallow_dae(fr.GaussianLaw(jnp.zeros(2), c), 0.3, X)
        )(jnp.array([[1.0, 0.5], [0.0, 1.0]])),
        ValueError,
        "`cov` must be.*symmetric",
    ),
    (
        "NaN covariance in a mixture",
        lambda: fr.GaussianMixture(
            MIX.weights, MIX.means, MIX.covs.at[1, 0, 0].set(jnp.nan)
        ),
        lambda: jax.jit(
            lambda c: fr.shallow_dae(
                fr.GaussianMixture(MIX.weights, MIX.means, c), 0.1, X
            )
        )(MIX.covs.at[1, 0, 0].set(jnp.nan)),
        ValueError,
        r"`covs\[1\]`",
    ),
    (
        "NaN mean",
        lambda: fr.GaussianLaw(jnp.array([0.0, jnp.nan]), EYE2),
        lambda: jax.jit(lambda m: fr.shallow_dae(fr.GaussianLaw(m, EYE2), 0.3, X))(
            jnp.array([0.0, jnp.nan])
        ),
        ValueError,
        "`mean` contains NaN",
    ),
]


@pytest.mark.parametrize(
    "eager,traced,error,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_value_problem_eager_and_traced(eager, traced, error, match):
    with pytest.raises(error, match=match):
        eager()
    with pytest.raises(RUNTIME, match=match):
        jax.block_until_ready(traced())


def test_traced_collapse_uses_a_traced_covariance():
    # t concrete, covariance traced: the collapse time is only known at run time
    f = jax.jit(lambda c: fr.GaussianLaw(jnp.zeros(2), c).backward_heat(0.4).cov)
    _close(f(jnp.diag(jnp.array([2.0, 1.0]))), jnp.diag(jnp.array([1.2, 0.2])))
    with pytest.raises(RUNTIME, match="collapses"):
        jax.block_until_ready(f(jnp.diag(jnp.array([2.0, 0.5]))))


@pytest.mark.slow
def test_ts_checked_under_jit():
    with pytest.raises(ValueError, match="`ts` must be finite and non-decreasing"):
        fr.deep_dae_flow(LAW, X, 0.3, ts=jnp.array([0.0, 0.2, 0.1]))
    f = jax.jit(lambda ts: fr.deep_dae_flow(LAW, X, 0.3, ts=ts).tracks[-1])
    with pytest.raises(RUNTIME, match="`ts` must be finite"):
        jax.block_until_ready(f(jnp.array([0.0, 0.2, 0.1])))
