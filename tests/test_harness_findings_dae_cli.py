# pyright: reportArgumentType=false, reportCallIssue=false
"""Regression rows for what `tests/harness_dae_cli.py` found in the DAE and capture names.

One row per finding: a bad input must raise the given error type with a
message naming the argument; a legal-but-unusual input must give the value
an independent computation gives (numpy, in float64). Kept small and eager
(no flows or training loops beyond a few steps) so the file runs in seconds.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep as fr


K = jr.PRNGKey(0)
RNG = np.random.default_rng(14)
X = jnp.asarray(RNG.normal(size=(12, 2)))
LAW = fr.GaussianLaw(jnp.array([0.5, -1.0]), jnp.array([[2.0, 0.3], [0.3, 1.0]]))
MS = jnp.array([[-1.5, 0.0], [1.5, 0.5]])
SS = jnp.stack([jnp.eye(2) * 0.8, jnp.array([[1.0, -0.2], [-0.2, 0.6]])])
MIX = fr.GaussianMixture(jnp.array([0.4, 0.6]), MS, SS)


def _ms_ref(cloud, t):
    c = np.asarray(cloud, np.float64)
    d2 = ((c[:, None] - c[None]) ** 2).sum(-1)
    lg = -d2 / (2 * t)
    r = np.exp(lg - lg.max(1, keepdims=True))
    return (r / r.sum(1, keepdims=True)) @ c


def _bms_field(x, h):
    return (_ms_ref(x, h) - x) / h


BAD = [
    # points: None and complex were let through or reached jnp's own message
    ("mean_shift cloud None", lambda: fr.mean_shift(None, 0.3), TypeError, "`cloud`"),
    (
        "mean_shift cloud complex",
        lambda: fr.mean_shift(X.astype(jnp.complex64), 0.3),
        TypeError,
        "`cloud`",
    ),
    (
        "mean_shift queries complex",
        lambda: fr.mean_shift(X, 0.3, X.astype(jnp.complex64)),
        TypeError,
        "`queries`",
    ),
    ("fit_mixture x None", lambda: fr.fit_mixture(None, 1, key=K), TypeError, "`x`"),
    ("fit_mixture x str", lambda: fr.fit_mixture("abc", 1, key=K), TypeError, "`x`"),
    (
        "fit_mixture x complex",
        lambda: fr.fit_mixture(X.astype(jnp.complex64), 1, key=K),
        TypeError,
        "`x`",
    ),
    (
        "fit_mixture x bool",
        lambda: fr.fit_mixture(jnp.ones((5, 2), bool), 1, key=K),
        TypeError,
        "`x`",
    ),
    (
        "stacked_dae x complex",
        lambda: fr.stacked_dae(X.astype(jnp.complex64), 0.3, 2, fit="empirical"),
        TypeError,
        "`x`",
    ),
    (
        "train_denoiser x None",
        lambda: fr.train_denoiser(None, 0.1, key=K),
        TypeError,
        "`x`",
    ),
    (
        "blurring_mean_shift_flow x0 None",
        lambda: fr.blurring_mean_shift_flow(None, 0.1, 0.5),
        TypeError,
        "`x0`",
    ),
    (
        "deep_dae_flow x0 None",
        lambda: fr.deep_dae_flow(LAW, None, 0.1),
        TypeError,
        "`x0`",
    ),
    # times
    (
        "deep_dae_flow t1 None",
        lambda: fr.deep_dae_flow(LAW, X, None),
        TypeError,
        "`t1`",
    ),
    ("deep_dae_flow t1 0", lambda: fr.deep_dae_flow(LAW, X, 0.0), ValueError, "`t1`"),
    (
        "blurring_mean_shift_flow t1 None",
        lambda: fr.blurring_mean_shift_flow(X, None, 0.5),
        TypeError,
        "`t1`",
    ),
    # sizes and hyperparameters
    (
        "mean_shift chunk_size 2.5",
        lambda: fr.mean_shift(X, 0.3, chunk_size=2.5),
        ValueError,
        "`chunk_size`",
    ),
    (
        "mean_shift chunk_size 'a'",
        lambda: fr.mean_shift(X, 0.3, chunk_size="a"),
        ValueError,
        "`chunk_size`",
    ),
    (
        "mean_shift chunk_size True",
        lambda: fr.mean_shift(X, 0.3, chunk_size=True),
        ValueError,
        "`chunk_size`",
    ),
    (
        "mean_shift weights str",
        lambda: fr.mean_shift(X, 0.3, weights="abc"),
        TypeError,
        "`weights`",
    ),
    (
        "bms bandwidth 'a'",
        lambda: fr.blurring_mean_shift_flow(X, 0.1, "a"),
        TypeError,
        "`bandwidth`",
    ),
    (
        "bms bandwidth None",
        lambda: fr.blurring_mean_shift_flow(X, 0.1, None),
        TypeError,
        "`bandwidth`",
    ),
    (
        "bms bandwidth complex",
        lambda: fr.blurring_mean_shift_flow(X, 0.1, 1j),
        TypeError,
        "`bandwidth`",
    ),
    (
        "bms bandwidth array",
        lambda: fr.blurring_mean_shift_flow(X, 0.1, jnp.ones(2)),
        ValueError,
        "`bandwidth`",
    ),
    (
        "bms bandwidth traced",
        lambda: jax.jit(lambda h: fr.blurring_mean_shift_flow(X, 0.1, h)[1])(0.5),
        TypeError,
        "`bandwidth`",
    ),
    (
        "bms chunk_size 2.5",
        lambda: fr.blurring_mean_shift_flow(X, 0.1, 0.5, chunk_size=2.5),
        ValueError,
        "`chunk_size`",
    ),
    (
        "BlurringMeanShiftField bandwidth 'a'",
        lambda: fr.BlurringMeanShiftField("a", 2),
        TypeError,
        "`bandwidth`",
    ),
    (
        "stacked_dae num_components 2.5",
        lambda: fr.stacked_dae(X, 0.3, 2, num_components=2.5, key=K),
        ValueError,
        "`num_components`",
    ),
    (
        "stacked_dae chunk_size 2.5",
        lambda: fr.stacked_dae(X, 0.3, 2, fit="empirical", chunk_size=2.5),
        ValueError,
        "`chunk_size`",
    ),
    (
        "stacked_dae num_layers 10**9",
        lambda: fr.stacked_dae(X, 0.3, 10**9, fit="empirical"),
        MemoryError,
        "`num_layers`",
    ),
    (
        "stacked_dae_laws num_layers 10**9",
        lambda: fr.stacked_dae_laws(LAW, 0.3, 10**9),
        MemoryError,
        "`num_layers`",
    ),
    (
        "fit_mixture num_components 2.5",
        lambda: fr.fit_mixture(X, 2.5, key=K),
        ValueError,
        "`num_components`",
    ),
    (
        "fit_mixture num_components True",
        lambda: fr.fit_mixture(X, True, key=K),
        ValueError,
        "`num_components`",
    ),
    (
        "fit_mixture num_components None",
        lambda: fr.fit_mixture(X, None, key=K),
        ValueError,
        "`num_components`",
    ),
    (
        "fit_mixture num_iters 0",
        lambda: fr.fit_mixture(X, 1, key=K, num_iters=0),
        ValueError,
        "`num_iters`",
    ),
    (
        "fit_mixture num_iters 2.5",
        lambda: fr.fit_mixture(X, 1, key=K, num_iters=2.5),
        ValueError,
        "`num_iters`",
    ),
    (
        "fit_mixture reg -1",
        lambda: fr.fit_mixture(X, 1, key=K, reg=-1.0),
        ValueError,
        "`reg`",
    ),
    (
        "fit_mixture reg nan",
        lambda: fr.fit_mixture(X, 1, key=K, reg=float("nan")),
        ValueError,
        "`reg`",
    ),
    (
        "fit_mixture reg 'a'",
        lambda: fr.fit_mixture(X, 1, key=K, reg="a"),
        TypeError,
        "`reg`",
    ),
    (
        "fit_mixture init str",
        lambda: fr.fit_mixture(X, 1, init="x"),
        TypeError,
        "`init`",
    ),
    (
        "fit_mixture init GaussianLaw",
        lambda: fr.fit_mixture(X, 1, init=LAW),
        TypeError,
        "`init`",
    ),
    ("fit_mixture key 3", lambda: fr.fit_mixture(X, 1, key=3), TypeError, "`key`"),
    (
        "fit_mixture duplicated points, reg 0",
        lambda: fr.fit_mixture(jnp.tile(X[:1], (6, 1)), 1, key=K, reg=0.0, num_iters=2),
        ValueError,
        "`reg`",
    ),
    # laws
    (
        "GaussianLaw complex cov",
        lambda: fr.GaussianLaw(jnp.zeros(2), jnp.eye(2) * (1 + 1j)),
        TypeError,
        "`cov`",
    ),
    (
        "GaussianMixture str weights",
        lambda: fr.GaussianMixture("ab", MS, SS),
        TypeError,
        "`weights`",
    ),
    (
        "GaussianMixture None covs",
        lambda: fr.GaussianMixture(jnp.ones(2), MS, None),
        TypeError,
        "`covs`",
    ),
    (
        "GaussianLaw log_prob NaN",
        lambda: LAW.log_prob(jnp.array([jnp.nan, 0.0])),
        ValueError,
        "`x`",
    ),
    (
        "GaussianLaw score inf",
        lambda: LAW.score(jnp.array([jnp.inf, 0.0])),
        ValueError,
        "`x`",
    ),
    (
        "GaussianLaw sample -1",
        lambda: LAW.sample(-1, key=K),
        ValueError,
        "`num_samples`",
    ),
    (
        "GaussianLaw sample 2.5",
        lambda: LAW.sample(2.5, key=K),
        ValueError,
        "`num_samples`",
    ),
    (
        "GaussianLaw sample True",
        lambda: LAW.sample(True, key=K),
        ValueError,
        "`num_samples`",
    ),
    (
        "GaussianLaw sample 10**12",
        lambda: LAW.sample(10**12, key=K),
        MemoryError,
        "`num_samples`",
    ),
    ("GaussianLaw sample key 5", lambda: LAW.sample(3, key=5), TypeError, "`key`"),
    (
        "GaussianMixture sample -1",
        lambda: MIX.sample(-1, key=K),
        ValueError,
        "`num_samples`",
    ),
    (
        "GaussianMixture sample 10**12",
        lambda: MIX.sample(10**12, key=K),
        MemoryError,
        "`num_samples`",
    ),
    (
        "backward_heat check 'no'",
        lambda: LAW.backward_heat(0.1, check="no"),
        TypeError,
        "`check`",
    ),
    (
        "mixture entropy num_nodes 0",
        lambda: MIX.entropy(num_nodes=0),
        ValueError,
        "`num_nodes`",
    ),
    (
        "mixture entropy num_nodes 2.5",
        lambda: MIX.entropy(num_nodes=2.5),
        ValueError,
        "`num_nodes`",
    ),
    (
        "mixture entropy MC num_samples -3",
        lambda: MIX.entropy(method="monte_carlo", num_samples=-3, key=K),
        ValueError,
        "`num_samples`",
    ),
    ("mixture expect fn 3.0", lambda: MIX.expect(3.0), TypeError, "`fn`"),
    (
        "GaussianLaw jit indefinite cov, mean used",
        lambda: eqx.filter_jit(lambda c: fr.GaussianLaw(jnp.zeros(2), c).mean)(
            jnp.array([[1.0, 2.0], [2.0, 1.0]])
        ),
        eqx.EquinoxRuntimeError,
        "`cov`",
    ),
    (
        "GaussianMixture jit indefinite cov, weights used",
        lambda: eqx.filter_jit(
            lambda c: fr.GaussianMixture(jnp.ones(2), MS, c).weights
        )(jnp.stack([jnp.eye(2), -jnp.eye(2)])),
        eqx.EquinoxRuntimeError,
        "`covs",
    ),
    (
        "train_denoiser width 10**9",
        lambda: fr.train_denoiser(X, 0.1, key=K, width=10**9, progress=False),
        MemoryError,
        "`width`",
    ),
]


@pytest.mark.parametrize("name,call,error,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_by_name(name, call, error, needle):
    with pytest.raises(error) as e:
        call()
    assert needle in str(e.value), str(e.value)


def test_fit_mixture_single_sample_and_list_input():
    """n = 1 gave NaN weights (an unbiased covariance of one sample); lists crashed."""
    one = fr.fit_mixture(X[:1], 1, key=K)
    np.testing.assert_allclose(one.means[0], X[0], rtol=1e-9)
    np.testing.assert_allclose(one.covs[0], 1e-6 * np.eye(2), rtol=1e-9)
    lst = fr.fit_mixture(np.asarray(X).tolist(), 1, key=K)
    np.testing.assert_allclose(lst.means[0], np.asarray(X).mean(0), rtol=1e-10)
    cov = np.cov(np.asarray(X).T, bias=True) + 1e-6 * np.eye(2)
    np.testing.assert_allclose(lst.covs[0], cov, rtol=1e-8)


def test_blurring_mean_shift_zero_horizon_is_identity():
    ts, tracks = fr.blurring_mean_shift_flow(X, 0.0, 0.5)
    np.testing.assert_array_equal(tracks[-1], X)
    assert ts.shape == (2,)


def test_blurring_mean_shift_field_against_numpy():
    """The field is (ms - x) / h, for the bandwidth now checked in `check_bandwidth`."""
    field = fr.BlurringMeanShiftField(0.5, 2)
    np.testing.assert_allclose(
        field(0.0, X.reshape(-1), None),
        _bms_field(np.asarray(X), 0.5).ravel(),
        rtol=1e-9,
    )
