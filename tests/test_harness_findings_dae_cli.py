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
MLP32 = eqx.nn.MLP(3, 2, 5, 2, key=K)
X3 = jnp.asarray(RNG.normal(size=(6, 3)))


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
    # learned DAEs and the ridgelet displacement
    (
        "Denoiser noise 'a'",
        lambda: fr.Denoiser(eqx.nn.MLP(2, 2, 4, 1, key=K), "a"),
        TypeError,
        "`noise`",
    ),
    (
        "Denoiser noise None",
        lambda: fr.Denoiser(eqx.nn.MLP(2, 2, 4, 1, key=K), None),
        TypeError,
        "`noise`",
    ),
    (
        "relative_map_error fn 3.0",
        lambda: fr.relative_map_error(3.0, lambda x: x, X),
        TypeError,
        "`fn`",
    ),
    (
        "relative_map_error reference None",
        lambda: fr.relative_map_error(lambda x: x, None, X),
        TypeError,
        "`reference`",
    ),
    (
        "relative_map_error fn NaN",
        lambda: fr.relative_map_error(lambda x: x * jnp.nan, lambda x: 2 * x, X),
        ValueError,
        "`fn`",
    ),
    (
        "relative_map_error identity reference",
        lambda: fr.relative_map_error(lambda x: 2 * x, lambda x: x, X),
        ValueError,
        "`reference`",
    ),
    (
        "train_denoiser under jit",
        lambda: jax.jit(
            lambda x: (
                fr.train_denoiser(x, 0.1, key=K, progress=False).mlp.layers[0].weight
            )
        )(X),
        TypeError,
        "jittable",
    ),
    (
        "displacement_network center None",
        lambda: fr.displacement_network(lambda x: x, None, 1.0, key=K),
        TypeError,
        "`center`",
    ),
    (
        "displacement_network under jit",
        lambda: jax.jit(
            lambda c: fr.displacement_network(lambda x: x, c, 1.0, key=K)[0].c
        )(jnp.zeros(2)),
        TypeError,
        "`center`",
    ),
    # entropy_curves: ts and sizes checked by name before any flow
    (
        "entropy_curves ts NaN",
        lambda: fr.entropy_curves(LAW, jnp.array([0.0, jnp.nan]), key=K),
        ValueError,
        "`ts`",
    ),
    (
        "entropy_curves ts 2-D",
        lambda: fr.entropy_curves(LAW, jnp.zeros((2, 2)), key=K),
        ValueError,
        "`ts`",
    ),
    (
        "entropy_curves ts str",
        lambda: fr.entropy_curves(LAW, "abc", key=K),
        TypeError,
        "`ts`",
    ),
    (
        "entropy_curves law None",
        lambda: fr.entropy_curves(None, jnp.zeros(1), key=K),
        TypeError,
        "`law`",
    ),
    (
        "entropy_curves num_samples 0",
        lambda: fr.entropy_curves(LAW, jnp.zeros(1), key=K, num_samples=0),
        ValueError,
        "`num_samples`",
    ),
    (
        "entropy_curves num_samples 10**12",
        lambda: fr.entropy_curves(LAW, jnp.zeros(1), key=K, num_samples=10**12),
        MemoryError,
        "`num_samples`",
    ),
    (
        "entropy_curves k 2.5",
        lambda: fr.entropy_curves(LAW, jnp.zeros(1), key=K, k=2.5),
        ValueError,
        "`k`",
    ),
    (
        "entropy_curves k >= n",
        lambda: fr.entropy_curves(LAW, jnp.zeros(1), key=K, num_samples=10, k=10),
        ValueError,
        "`k`",
    ),
    (
        "entropy_curves key None",
        lambda: fr.entropy_curves(LAW, jnp.zeros(1), key=None),
        TypeError,
        "`key`",
    ),
    (
        "entropy_curves return_tracks 'yes'",
        lambda: fr.entropy_curves(LAW, jnp.zeros(1), key=K, return_tracks="yes"),
        TypeError,
        "`return_tracks`",
    ),
    # capture
    (
        "capture x complex",
        lambda: fr.capture_features(MLP32, X3.astype(jnp.complex64)),
        TypeError,
        "`x`",
    ),
    ("capture x None", lambda: fr.capture_features(MLP32, None), TypeError, "`x`"),
    (
        "capture single sample",
        lambda: fr.capture_features(MLP32, X3[:1]),
        ValueError,
        "`x`",
    ),
    (
        "capture progress 'x'",
        lambda: fr.capture_features(MLP32, X3, progress="x"),
        TypeError,
        "`progress`",
    ),
    (
        "capture wrong input dim",
        lambda: fr.capture_features(MLP32, jnp.ones((4, 5))),
        ValueError,
        "`model`",
    ),
    (
        "capture under jit",
        lambda: jax.jit(lambda x: fr.capture_features(MLP32, x).layers[-1])(X3),
        TypeError,
        "jittable",
    ),
    (
        "CapturedFeatures n mismatch",
        lambda: fr.CapturedFeatures(
            (np.zeros((3, 2)), np.zeros((4, 2))), ("input", "output")
        ),
        ValueError,
        "`layers`",
    ),
    (
        "CapturedFeatures names",
        lambda: fr.CapturedFeatures((np.zeros((3, 2)), np.zeros((3, 2))), ("input",)),
        ValueError,
        "`names`",
    ),
    (
        "CapturedFeatures NaN",
        lambda: fr.CapturedFeatures(
            (np.zeros((3, 2)), np.full((3, 2), np.nan)), ("input", "output")
        ),
        ValueError,
        "`layers`",
    ),
    ("dae_story out_dir 3", lambda: fr.dae_story(out_dir=3), TypeError, "`out_dir`"),
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
    np.testing.assert_allclose(one.covs[0], 1e-6 * np.eye(2), rtol=1e-9, atol=1e-18)
    lst = fr.fit_mixture(np.asarray(X).tolist(), 1, key=K)
    np.testing.assert_allclose(lst.means[0], np.asarray(X).mean(0), rtol=1e-10)
    cov = np.cov(np.asarray(X).T, bias=True) + 1e-6 * np.eye(2)
    np.testing.assert_allclose(lst.covs[0], cov, rtol=1e-8)


def test_relative_map_error_against_numpy():
    x = np.asarray(X)
    want = np.linalg.norm(0.5 * x - (x + 1.0)) / np.linalg.norm(x + 1.0)
    got = fr.relative_map_error(lambda v: 1.5 * v, lambda v: 2.0 * v + 1.0, X)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.slow
def test_fit_mixture_duplicated_points_without_reg_names_reg():
    """EM on one repeated point with reg = 0 gave NaN weights, then an error about `weights`."""
    with pytest.raises(ValueError, match="`reg`"):
        fr.fit_mixture(jnp.tile(X[:1], (6, 1)), 1, key=K, reg=0.0, num_iters=2)


@pytest.mark.slow
def test_entropy_curves_at_time_zero_only():
    """ts = [0] crashed in the flow (an empty interval); it is the data law's entropy."""
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    c = fr.entropy_curves(LAW, jnp.zeros(1), key=K, num_samples=400, k=3)
    want = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1]
    np.testing.assert_allclose(c["closed_form"], [want], rtol=1e-10)
    assert abs(c["continuity"][0] - want) < 4 * c["continuity_stderr"][0]


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


def test_float32_pushforward_is_symmetric_and_tiny_scales_survive():
    """float32 eigh products were ~3e-8 asymmetric and refused as covariances;
    lam^3/(lam+t)^2 underflowed at covariances ~1e-20 (now lam*(lam/(lam+t))^2)."""
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    law32 = fr.GaussianLaw(jnp.zeros(2, jnp.float32), jnp.asarray(cov, jnp.float32))
    a = cov @ np.linalg.inv(cov + 0.3 * np.eye(2))
    got = fr.shallow_dae_pushforward(law32, 0.3).cov
    np.testing.assert_allclose(got, a @ cov @ a.T, rtol=2e-6)
    tiny = fr.GaussianLaw(jnp.zeros(2), jnp.asarray(cov * 1e-20))
    a = cov @ np.linalg.inv(cov + np.eye(2))  # t = 1e-20 on the same scale
    got = fr.shallow_dae_pushforward(tiny, 1e-20).cov
    np.testing.assert_allclose(got, 1e-20 * a @ cov @ a.T, rtol=1e-9)


def test_blurring_mean_shift_bfloat16_is_solved_in_float32():
    """bfloat16 points made diffrax refuse its own save times (0.2 rounds past t1)."""
    x = X[:4].astype(jnp.bfloat16)
    ts, tracks = fr.blurring_mean_shift_flow(x, 0.0, 0.5)
    assert tracks.dtype == jnp.float32
    np.testing.assert_array_equal(tracks[-1], np.asarray(x, np.float32))


@pytest.mark.parametrize(
    "argv,option",
    [
        (["reproduce", "admissibility-table", "--seed", "-1"], "--seed"),
        (["reproduce", "admissibility-table", "--seed", "2.5"], "--seed"),
        (["reproduce", "admissibility-table", "--seed", str(2**40)], "--seed"),
        (["demo", "--seed", "abc"], "--seed"),
        (["analyze", "m:f", "--max-samples", "0"], "--max-samples"),
        (["analyze", "m:f", "--gw-samples", "1"], "--gw-samples"),
        (["analyze", "m:f", "--project", "0"], "--project"),
        (["analyze", "m:f", "--devices", "0"], "--devices"),
        (["bench", "--devices", "-2"], "--devices"),
    ],
)
def test_cli_bad_numbers_are_refused_by_option(argv, option, capsys, tmp_path):
    from flowrep._cli._main import main

    assert (
        main([*argv, *(["--out", str(tmp_path / "o")] if argv[0] != "bench" else [])])
        == 2
    )
    err = capsys.readouterr().err
    assert f"argument {option}" in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_displacement_network_refit_in_float32():
    """In float32 the refit's ridge 1e-8 was below rounding: NaN and 'increase `ridge`'
    (an argument displacement_network does not have). Checked in a float32 process."""
    import subprocess
    import sys

    code = (
        "import jax; jax.config.update('jax_enable_x64', False)\n"
        "import jax.numpy as jnp, jax.random as jr, flowrep as fr\n"
        "net, tgt = fr.displacement_network(lambda x: -0.5 * x, jnp.zeros(2), 1.5,"
        " key=jr.PRNGKey(3), num_units=4000, num_nodes=24, compress_to=150)\n"
        "x = jr.normal(jr.PRNGKey(1), (24, 2)) * 0.3\n"
        "a, b = jax.vmap(net)(x), jax.vmap(tgt)(x)\n"
        "print(float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert float(out.stdout.strip().splitlines()[-1]) < 0.2
