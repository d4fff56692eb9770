"""A table of bad inputs across the public API (beyond the transport entry
points of tests/test_transport_inputs.py): each row asserts the error type and
that the message names the argument; legal-but-unusual inputs give a finite,
right answer."""

import jax.numpy as jnp
import numpy as np
import pytest

import flowrep as fr
from flowrep._validate import check_memory, memory_limit


LAW = fr.GaussianLaw(jnp.zeros(2), jnp.eye(2))
X = jnp.asarray(np.random.default_rng(1).normal(size=(8, 2)))


def decay(t, x, args):
    return -x


# (id, call, error, message fragment naming the argument)
BAD = [
    # shapes / dimensions
    ("shallow_dae x 1-D", lambda: fr.shallow_dae(LAW, 0.1, X[0]), ValueError, "`x`"),
    (
        "shallow_dae x dim",
        lambda: fr.shallow_dae(LAW, 0.1, jnp.ones((3, 3))),
        ValueError,
        "`x` has dimension 3",
    ),
    (
        "mean_shift empty",
        lambda: fr.mean_shift(jnp.ones((0, 2)), 0.1),
        ValueError,
        "`cloud` is empty",
    ),
    (
        "mean_shift queries dim",
        lambda: fr.mean_shift(X, 0.1, jnp.ones((2, 3))),
        ValueError,
        "`queries`",
    ),
    (
        "mean_shift weights shape",
        lambda: fr.mean_shift(X, 0.1, weights=jnp.ones(3)),
        ValueError,
        "`weights`",
    ),
    (
        "GaussianLaw cov shape",
        lambda: fr.GaussianLaw(jnp.zeros(2), jnp.eye(3)),
        ValueError,
        "`cov`",
    ),
    (
        "GaussianMixture weights shape",
        lambda: fr.GaussianMixture(
            jnp.ones(3), jnp.zeros((2, 2)), jnp.stack([jnp.eye(2)] * 2)
        ),
        ValueError,
        "`weights`",
    ),
    (
        "deep_dae_flow x0 dim",
        lambda: fr.deep_dae_flow(LAW, jnp.ones((2, 3)), 0.1),
        ValueError,
        "`x0`",
    ),
    (
        "flow x0 3-D",
        lambda: fr.flow(decay, jnp.ones((2, 2, 2)), 0.0, 1.0),
        ValueError,
        "x0",
    ),
    # NaN / inf
    (
        "shallow_dae x NaN",
        lambda: fr.shallow_dae(LAW, 0.1, X.at[0, 0].set(jnp.nan)),
        ValueError,
        "`x` contains NaN",
    ),
    (
        "mean_shift cloud inf",
        lambda: fr.mean_shift(X.at[0, 0].set(jnp.inf), 0.1),
        ValueError,
        "`cloud` contains NaN",
    ),
    (
        "GaussianLaw cov NaN",
        lambda: fr.GaussianLaw(jnp.zeros(2), jnp.eye(2).at[0, 1].set(jnp.nan)),
        ValueError,
        "`cov` contains NaN",
    ),
    (
        "gaussian_w2 S1 NaN",
        lambda: fr.gaussian_w2(
            jnp.zeros(2), jnp.eye(2) * jnp.nan, jnp.zeros(2), jnp.eye(2)
        ),
        ValueError,
        "`S1`",
    ),
    # out of range
    (
        "shallow_dae t<0",
        lambda: fr.shallow_dae(LAW, -1.0, X),
        ValueError,
        "`t` must be >= 0",
    ),
    ("mean_shift t=0", lambda: fr.mean_shift(X, 0.0), ValueError, "`t`"),
    (
        "backward_heat past collapse",
        lambda: LAW.backward_heat(0.5),
        fr.CollapseError,
        "collapses",
    ),
    (
        "mixture weight 0",
        lambda: fr.GaussianMixture(
            jnp.array([0.0, 1.0]), jnp.zeros((2, 2)), jnp.stack([jnp.eye(2)] * 2)
        ),
        ValueError,
        "`weights` must be positive",
    ),
    (
        "cov indefinite",
        lambda: fr.GaussianLaw(jnp.zeros(2), jnp.diag(jnp.array([1.0, -1.0]))),
        ValueError,
        "`cov` must be positive definite",
    ),
    (
        "gaussian_ot_map S1 singular",
        lambda: fr.gaussian_ot_map(
            jnp.zeros(2), jnp.diag(jnp.array([1.0, 0.0])), jnp.zeros(2), jnp.eye(2)
        ),
        ValueError,
        "`S1` must be positive definite",
    ),
    (
        "GaussianDerivative k=2000",
        lambda: fr.GaussianDerivative(2000),
        ValueError,
        "k=2000 is beyond the stable range 0 <= k <= 300",
    ),
    (
        "GaussianDerivative k=-1",
        lambda: fr.GaussianDerivative(-1),
        ValueError,
        "order k",
    ),
    (
        "flow num_steps=2.5",
        lambda: fr.flow(decay, X, 0.0, 1.0, num_steps=2.5),  # pyright: ignore[reportArgumentType]
        ValueError,
        "`num_steps`",
    ),
    (
        "flow rtol=-1",
        lambda: fr.flow(decay, X, 0.0, 1.0, rtol=-1.0),
        ValueError,
        "`rtol`",
    ),
    (
        "flow t1=inf",
        lambda: fr.flow(decay, X, 0.0, float("inf")),
        ValueError,
        "`t1` must be finite",
    ),
    # wrong type
    (
        "GaussianDerivative k=2.5",
        lambda: fr.GaussianDerivative(2.5),  # pyright: ignore[reportArgumentType]
        TypeError,
        "order k",
    ),
    (
        "shallow_dae law type",
        lambda: fr.shallow_dae("gauss", 0.1, X),  # pyright: ignore[reportArgumentType]
        TypeError,
        "GaussianLaw",
    ),
    (
        "shallow_dae t complex",
        lambda: fr.shallow_dae(LAW, 1j, X),
        TypeError,
        "`t` must be a real number",
    ),
    ("flow x0 string", lambda: fr.flow(decay, "abc", 0.0, 1.0), TypeError, "`x0`"),  # pyright: ignore[reportArgumentType]
    (
        "euler_network depth=2.5",
        lambda: fr.euler_network(decay, 2.5, t0=0.0, t1=1.0, dim=2),  # pyright: ignore[reportArgumentType]
        ValueError,
        "`depth`",
    ),
]


@pytest.mark.parametrize(
    "call,error,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gaussian_derivative_float32_range():
    z32 = jnp.linspace(-30.0, 30.0, 101, dtype=jnp.float32)
    assert np.all(np.isfinite(np.asarray(fr.GaussianDerivative(56)(z32))))
    with pytest.raises(ValueError, match="k=57 overflows in float32"):
        fr.GaussianDerivative(57)(z32)


def test_gaussian_derivative_top_of_range_finite(x64):
    if not x64:
        pytest.skip("the float64 range needs jax_enable_x64")
    z = jnp.linspace(-60.0, 60.0, 401)
    g = np.asarray(fr.GaussianDerivative(300)(z))
    assert np.all(np.isfinite(g))
    # G^(k)(0) = (-1)^k He_k(0) = (k-1)!! (-1)^{k/2} (-1)^k for even k: check k = 300
    # through its log: log((k-1)!!) = lgamma(k+1) - (k/2) log 2 - lgamma(k/2+1)
    from math import lgamma, log

    k = 300
    log_dfact = lgamma(k + 1) - (k / 2) * log(2) - lgamma(k / 2 + 1)
    i0 = int(np.argmin(np.abs(np.asarray(z))))
    np.testing.assert_allclose(np.log(abs(g[i0])), log_dfact, rtol=1e-10)


def test_memory_guard_refuses_before_allocating(monkeypatch):
    a = jnp.concatenate([jnp.eye(2), -jnp.eye(2)])
    field = fr.RidgeletField(
        a, jnp.zeros(4), jnp.ones((1, 4, 2)), sigma="relu", basis="constant"
    )
    with pytest.raises(MemoryError, match=r"euler_network\(depth=100000000\)"):
        fr.euler_network(field, 10**8)
    monkeypatch.setenv("FLOWREP_MAX_BYTES", "1000")
    assert memory_limit() == 1000
    with pytest.raises(MemoryError, match="FLOWREP_MAX_BYTES"):
        fr.euler_network(field, 100)
    check_memory(999, "x")  # under the limit: no error
    monkeypatch.setenv("FLOWREP_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="FLOWREP_MAX_BYTES must be an integer"):
        memory_limit()
    monkeypatch.delenv("FLOWREP_MAX_BYTES")
    assert fr.euler_network(field, 4).depth == 4


# legal but unusual: a finite, right answer
def test_int_points_are_promoted_and_right():
    xi = jnp.array([[1, 2], [3, -4]])
    np.testing.assert_allclose(
        np.asarray(fr.shallow_dae(LAW, 1.0, xi)), 0.5 * np.asarray(xi, float)
    )


def test_t_zero_shallow_dae_is_identity():
    np.testing.assert_allclose(
        np.asarray(fr.shallow_dae(LAW, 0.0, X)), np.asarray(X), atol=1e-12
    )


def test_single_sample_mean_shift_is_the_point():
    np.testing.assert_allclose(np.asarray(fr.mean_shift(X[:1], 0.3)), np.asarray(X[:1]))


def test_huge_values_no_silent_inf():
    # shallow DAE of N(0, I) at t=1 halves x, also at 1e30 (no overflow)
    big = X * 1e30
    out = np.asarray(fr.shallow_dae(LAW, 1.0, big))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, 0.5 * np.asarray(big), rtol=1e-6)
