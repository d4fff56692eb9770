"""Regression rows for what `tests/harness_transport.py` found (issue 14).

One row per finding in the transport, scores, entropy, Gaussian, GW,
projection, affine, WGF and plot names: a bad input raises the stated error
type with a message naming the argument; a legal-but-unusual input returns
the value of an independent reference (numpy/scipy, float64).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep as fr


RNG = np.random.default_rng(14)
X = RNG.normal(size=(12, 2))
Y = RNG.normal(size=(12, 2)) + 1.0
TR = np.stack([X, 0.5 * (X + Y), Y])
F32 = np.float32


def _sinkhorn_ref(x, y, eps, iters=5000):
    """Entropic OT cost of uniform clouds by log-domain Sinkhorn in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    c = np.sum((x[:, None] - y[None]) ** 2, -1)
    n, m = c.shape
    f, g = np.zeros(n), np.zeros(m)

    def lse(a, axis):
        mx = a.max(axis, keepdims=True)
        return (mx + np.log(np.exp(a - mx).sum(axis, keepdims=True))).squeeze(axis)

    for _ in range(iters):
        f = -eps * lse((g[None] - c) / eps - np.log(m), 1)
        g = -eps * lse((f[:, None] - c) / eps - np.log(n), 0)
    return f.mean() + g.mean()


# (id, call, error type, words the message must contain)
ERRORS = [
    # as_points read None with jnp's words ("None is not a valid value for jnp.array")
    ("w2 y None", lambda: fr.wasserstein2(X, None), TypeError, "`y`"),  # pyright: ignore[reportArgumentType]
    ("sinkhorn x None", lambda: fr.sinkhorn(None, Y), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("knn_entropy None", lambda: fr.knn_entropy(None), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    # affine_score took any truthy `squared`
    (
        "affine squared str",
        lambda: fr.affine_score(X, X, squared="no"),  # pyright: ignore[reportArgumentType]
        TypeError,
        "`squared`",
    ),
    # Tracks: complex points were cast to float (imaginary part dropped)
    ("Tracks complex", lambda: fr.Tracks(TR * 1j), TypeError, "`points`"),
    ("Tracks complex list", lambda: fr.Tracks([X * 1j, X]), TypeError, "`points`"),
    ("score_tracks complex", lambda: fr.score_tracks(TR + 0j), TypeError, "`tracks`"),
    # Tracks: a string `times` gave numpy's "could not convert string to float"
    ("Tracks times str", lambda: fr.Tracks(TR, "abc"), TypeError, "`times`"),  # pyright: ignore[reportArgumentType]
    ("Tracks times objects", lambda: fr.Tracks(TR, [{}, {}, {}]), TypeError, "`times`"),  # pyright: ignore[reportArgumentType]
    # Tracks of a 2-D array: "tracks must be ..." without naming the argument
    ("Tracks 2-D", lambda: fr.Tracks(X), ValueError, "`points`"),
    ("score_tracks 2-D", lambda: fr.score_tracks(X), ValueError, "`tracks`"),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_error(case):
    _, call, error, words = case
    with pytest.raises(error, match=words):
        call()


@pytest.mark.slow
def test_epsilon_below_float32_range():
    """float32 clouds at scale 1e-18 (costs ~1e-36, normal) with an explicit
    epsilon of 1e-38 (below float32's normal range, a float64 value under
    x64): epsilon is carried into the normalised frame by its exponent, not
    rounded to 0 first (that was reported as "W2^2 overflows float32")."""
    if not jax.config.read("jax_enable_x64"):
        pytest.skip("the epsilon is a float64 value")
    s = 1e-18
    x, y = (X * s).astype(F32), (Y * s).astype(F32)
    got = fr.sinkhorn(x, y, epsilon=0.01 * s**2, threshold=1e-6, max_iterations=20000)
    want = _sinkhorn_ref(x / s, y / s, 0.01, iters=20000) * s**2
    np.testing.assert_allclose(float(got.reg_ot_cost), want, rtol=1e-3)


@pytest.mark.slow
def test_score_tracks_tiny_scale_float32():
    """float32 tracks at scale 1e-20: W2^2 ~ 1e-40 underflows float32 in the
    user's units, but the ratios, computed in the normalised frame, are those
    of the unscaled tracks (it raised "the first and last layers have the
    same distribution (W2 = 0)")."""
    tr = TR.astype(F32)
    ref = fr.score_tracks(tr)
    got = fr.score_tracks(tr * F32(1e-20))
    for name in ("cost_ratio", "path_ratio", "lss", "kinetic_ratio"):
        np.testing.assert_allclose(
            float(getattr(got, name)), float(getattr(ref, name)), rtol=1e-5
        )
    np.testing.assert_allclose(
        np.asarray(got.layer_w2, np.float64) / 1e-20,
        np.asarray(ref.layer_w2, np.float64),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="`tracks` have the same distribution"):
        fr.score_tracks(np.stack([X, X]))


POT = fr.PotentialEnergy(lambda z: 0.5 * jnp.sum(z**2))

WGF_ERRORS = [
    # check_positive read bools, strings and complex through float()
    ("kappa str", lambda: fr.EntropyEnergy("1"), TypeError, "`kappa`"),  # pyright: ignore[reportArgumentType]
    ("kappa True", lambda: fr.EntropyEnergy(True), TypeError, "`kappa`"),
    ("tau complex", lambda: fr.jko(POT, X, 1j, 2), TypeError, "`tau`"),  # pyright: ignore[reportArgumentType]
    # estimator and chunk_size were not named / not checked
    ("estimator foo", lambda: fr.EntropyEnergy(1.0, "foo"), ValueError, "`estimator`"),  # pyright: ignore[reportArgumentType]
    (
        "chunk_size 0",
        lambda: fr.EntropyEnergy(1.0, chunk_size=0),
        ValueError,
        "`chunk_size`",
    ),
    (
        "gaussian n<=d",
        lambda: fr.EntropyEnergy(1.0, "gaussian")(jnp.asarray(X[:2])),
        ValueError,
        "`x`",
    ),
    # coincident particles: Scott's bandwidth 0 gave a NaN energy
    (
        "Scott h=0",
        lambda: fr.EntropyEnergy(1.0)(jnp.ones((5, 2))),
        ValueError,
        "`bandwidth`",
    ),
    # a vector-valued potential was averaged over coordinates silently
    (
        "vector V",
        lambda: fr.PotentialEnergy(lambda z: z)(jnp.asarray(X)),
        ValueError,
        "`potential`",
    ),
    # gradient_flow read a string t1 through float(); jko named `times` for t0
    ("gradient_flow t1 str", lambda: fr.gradient_flow(POT, X, "1"), TypeError, "`t1`"),  # pyright: ignore[reportArgumentType]
    ("jko t0 NaN", lambda: fr.jko(POT, X, 0.1, 2, t0=float("nan")), ValueError, "`t0`"),
    # a bad key reached jax ("invalid PRNG key data") or was not checked
    (
        "project_tracks key",
        lambda: fr.project_tracks(fr.Tracks(TR), 1, "jl", key="k"),  # pyright: ignore[reportArgumentType]
        TypeError,
        "`key`",
    ),
    ("cfs key", lambda: fr.coordinate_free_scores(TR, key="k"), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    (
        "cfs max_samples 1",
        lambda: fr.coordinate_free_scores(TR, max_samples=1),
        ValueError,
        "`max_samples`",
    ),
    # SumEnergy took any terms
    ("SumEnergy junk", lambda: fr.SumEnergy((POT, 3)), TypeError, "`terms`"),  # pyright: ignore[reportArgumentType]
]


@pytest.mark.parametrize("case", WGF_ERRORS, ids=[c[0] for c in WGF_ERRORS])
def test_wgf_error(case):
    _, call, error, words = case
    with pytest.raises(error, match=words):
        call()


def test_scott_bandwidth_zero_under_jit():
    with pytest.raises(Exception, match="`bandwidth`"):
        jax.block_until_ready(jax.jit(fr.EntropyEnergy(1.0))(jnp.ones((5, 2))))


def test_fixed_bandwidth_on_coincident_particles():
    """Legal: a fixed bandwidth on coincident particles is log N(0; 0, h^2 I)."""
    h = 0.3
    got = float(fr.EntropyEnergy(1.0, bandwidth=h)(jnp.ones((5, 2))))
    assert got == pytest.approx(-np.log(2 * np.pi * h * h), rel=1e-6)


ROT = lambda t, x, a: jnp.array([-x[1], x[0]])  # noqa: E731
K = jax.random.PRNGKey(0)

CURL_ERRORS = [
    (
        "curl method",
        lambda: fr.curl_fraction(ROT, X, method="foo"),  # pyright: ignore[reportArgumentType]
        ValueError,
        "`method`",
    ),  # pyright: ignore[reportArgumentType]
    (
        "ngf scale -1",
        lambda: fr.non_gradient_fraction(ROT, X, scale=-1.0, key=K),
        ValueError,
        "`scale`",
    ),
    (
        "ngf scale 0",
        lambda: fr.non_gradient_fraction(ROT, X, scale=0.0, key=K),
        ValueError,
        "`scale`",
    ),
    (
        "ngf ridge -1",
        lambda: fr.non_gradient_fraction(ROT, X, ridge=-1.0, key=K),
        ValueError,
        "`ridge`",
    ),
    (
        "ngf ridge NaN",
        lambda: fr.non_gradient_fraction(ROT, X, ridge=float("nan"), key=K),
        ValueError,
        "`ridge`",
    ),
    (
        "ngf key None",
        lambda: fr.non_gradient_fraction(ROT, X, key=None),  # pyright: ignore[reportArgumentType]
        TypeError,
        "`key`",
    ),  # pyright: ignore[reportArgumentType]
    # the float32 pass over calls 453-616: get_activation's words
    # "(argument `name`)" for the caller's `sigma`
    (
        "antiderivative unknown name",
        lambda: fr.antiderivative("foo"),
        ValueError,
        "`sigma`",
    ),
    # jax's "unexpected PRNG key type NoneType"
    (
        "flow_scores key None",
        lambda: fr.flow_scores(ROT, fr.Tracks(TR), key=None),  # pyright: ignore[reportArgumentType]
        TypeError,
        "`key`",
    ),
    # Tracks' own `points` for plot_tracks' `tracks`
    ("plot_tracks str", lambda: fr.plot_tracks("t"), TypeError, "`tracks`"),
]


@pytest.mark.parametrize("case", CURL_ERRORS, ids=[c[0] for c in CURL_ERRORS])
def test_curl_error(case):
    _, call, error, words = case
    with pytest.raises(error, match=words):
        call()


def test_curl_fraction_jit_nan_linear_field():
    """A linear field's Jacobian does not depend on x, so the NaN check on `x`
    was dead code under jit (it returned a number)."""
    M = jnp.array([[1.0, 2.0], [-0.5, 0.3]])
    with pytest.raises(Exception, match="`x`"):
        jax.block_until_ready(
            jax.jit(lambda x: fr.curl_fraction(lambda t, y, a: M @ y, x))(
                jnp.asarray(X).at[0, 0].set(jnp.nan)
            )
        )


@pytest.mark.slow
def test_curl_hutchinson_mixed_dtypes():
    """float32 points, float64 field (x64): the probes take the velocity's dtype
    (vjp refused float32 cotangents); the estimate matches the closed form."""
    if not jax.config.read("jax_enable_x64"):
        pytest.skip("needs a float64 field")
    M = np.array([[1.0, 2.0], [-0.5, 0.3]])
    want = np.sum((0.5 * (M - M.T)) ** 2) / np.sum(M**2)
    Mj = jnp.asarray(M)
    got = fr.curl_fraction(
        lambda t, y, a: Mj @ y,
        jnp.asarray(X, jnp.float32),
        method="hutchinson",
        num_probes=400,
        key=K,
    )
    assert float(got) == pytest.approx(want, abs=0.03)


@pytest.mark.parametrize(
    "x",
    [X[:2], np.ones((10, 2)), np.stack([np.arange(6.0), 2 * np.arange(6.0)], 1)],
    ids=["n<=d", "coincident", "collinear"],
)
def test_gaussian_entropy_fisher_singular(x):
    """n <= d, coincident or collinear samples returned -inf / NaN."""
    with pytest.raises(ValueError, match="`x`"):
        fr.gaussian_entropy_fisher(jnp.asarray(x))


def test_gaussian_entropy_fisher_closed_form():
    x = RNG.normal(size=(50, 3))
    s = np.cov(x.T, bias=True)
    h, f = fr.gaussian_entropy_fisher(jnp.asarray(x))
    assert float(h) == pytest.approx(
        0.5 * np.linalg.slogdet(2 * np.pi * np.e * s)[1], rel=1e-6
    )
    assert float(f) == pytest.approx(np.trace(np.linalg.inv(s)), rel=1e-6)


def test_jko_huge_steps_is_a_named_memory_error():
    # was jax's int32 overflow deep inside the scan
    x = jnp.zeros((20, 2)).at[:, 0].set(jnp.arange(20.0))
    energy = fr.PotentialEnergy(lambda z: 0.5 * jnp.sum(z**2))
    with pytest.raises(MemoryError, match="`steps`"):
        fr.jko(energy, x, 0.1, 10**10)


@pytest.mark.slow
def test_antiderivative_quadrature_names_z():
    # the quadrature's check said "a larger or non-finite argument"
    quad = fr.antiderivative(lambda z: jnp.exp(-z * z / 2))  # ~2 s: the probe check
    with pytest.raises(ValueError, match="`z`"):
        quad(jnp.nan)


def test_non_gradient_fraction_names_sigma():
    x = jnp.zeros((20, 2)).at[:, 0].set(jnp.arange(20.0))
    with pytest.raises(ValueError, match="`sigma`"):
        fr.non_gradient_fraction(
            lambda t, y, args: -y, x, sigma="foo", key=jax.random.key(1)
        )


# the transport harness's second pass (the calls it had not reached)
_EYE = jnp.eye(2)


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: fr.AffineMap(jnp.ones((2, 3)), jnp.zeros(2)), ValueError, "`matrix`"),
        (lambda: fr.AffineMap(_EYE, jnp.zeros(3)), ValueError, "`shift`"),
        (lambda: fr.AffineMap(_EYE * jnp.nan, jnp.zeros(2)), ValueError, "`matrix`"),
        (lambda: fr.AffineMap("eye", jnp.zeros(2)), TypeError, "`matrix`"),  # pyright: ignore[reportArgumentType]
        (lambda: fr.AffineMap(_EYE, jnp.zeros(2))(jnp.ones(3)), ValueError, "`x`"),
        (
            lambda: fr.EntropicMap(jnp.ones((4, 2)), jnp.zeros(4), jnp.asarray(-1.0)),
            ValueError,
            "`epsilon`",
        ),
        (
            lambda: fr.EntropicMap(jnp.ones((4, 2)), jnp.zeros(7), jnp.asarray(0.1)),
            ValueError,
            "`g`",
        ),
        (
            lambda: fr.EntropicMap(jnp.ones((4, 2)), jnp.zeros(4), jnp.asarray(0.1))(
                jnp.ones(3)
            ),
            ValueError,
            "`z`",
        ),
        (
            lambda: fr.EntropicMap(jnp.ones((4, 2)), jnp.zeros(4), jnp.asarray(0.1))(
                jnp.array([jnp.nan, 0.0])
            ),
            ValueError,
            "`z`",
        ),
        (lambda: fr.gaussian_w2(None, _EYE, jnp.zeros(2), _EYE), TypeError, "`m1`"),  # pyright: ignore[reportArgumentType]
        (
            lambda: fr.wasserstein2(
                jnp.ones((4, 2)),
                jnp.zeros((4, 2)),
                method="sinkhorn",
                epsilon=1j,  # pyright: ignore[reportArgumentType]
            ),
            TypeError,
            "`epsilon`",
        ),
        (
            lambda: fr.sinkhorn(
                jnp.ones((4, 2)), jnp.zeros((4, 2)), max_iterations=10**12
            ),
            ValueError,
            "`max_iterations`",
        ),
    ],
    ids=[
        "AffineMap non-square",
        "AffineMap shift",
        "AffineMap NaN",
        "AffineMap str",
        "AffineMap call dim",
        "EntropicMap epsilon",
        "EntropicMap g shape",
        "EntropicMap call dim",
        "EntropicMap call NaN",
        "gaussian_w2 None",
        "epsilon complex",
        "max_iterations int32",
    ],
)
def test_maps_and_counts_named(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_affine_and_entropic_maps_still_map():
    A = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    T = fr.AffineMap(A, jnp.array([1.0, -1.0]))
    np.testing.assert_allclose(T(jnp.array([1.0, 2.0])), [4.0, 1.5], rtol=1e-12)
    y = jnp.array([[0.0, 0.0], [1.0, 0.0]])
    E = fr.EntropicMap(y, jnp.zeros(2), jnp.asarray(1.0))
    # equal potentials, z equidistant from both: the midpoint
    np.testing.assert_allclose(E(jnp.array([0.5, 3.0])), [0.5, 0.0], atol=1e-12)


@pytest.mark.slow  # three Sinkhorn compilations: 13 s in the default run
def test_sinkhorn_potentials_overflowing_float32_are_named():
    # float32 clouds at 1e30: solved in the normalised frame, the potentials
    # (~1e60) overflowed back in the user's units: inf, with converged=True
    r = np.random.default_rng(0)
    X = jnp.asarray(r.normal(size=(12, 2)), jnp.float32) * 1e30
    with pytest.raises(ValueError, match="overflow float32 at the scale of `x`"):
        fr.sinkhorn(X, X + 1e30)
    # the same clouds in float64 are fine, and equivariant: cost scales by 1e60
    small = fr.sinkhorn(
        X.astype(jnp.float64) / 1e30, (X + 1e30).astype(jnp.float64) / 1e30
    )
    big = fr.sinkhorn(X.astype(jnp.float64), (X + 1e30).astype(jnp.float64))
    np.testing.assert_allclose(
        float(big.reg_ot_cost) / 1e60, float(small.reg_ot_cost), rtol=1e-6
    )


# the transport harness's rerun of calls 46-329 (both modes)
_S1 = np.array([[2.0, 0.3], [0.3, 0.5]])
_S2 = np.array([[1.0, -0.2], [-0.2, 0.8]])
_M1, _M2 = np.array([0.1, -0.2]), np.array([0.3, 0.4])


def _bures_ref(m1, s1, m2, s2):
    import scipy.linalg

    r2 = np.real(np.asarray(scipy.linalg.sqrtm(s2)))
    cross = np.real(np.asarray(scipy.linalg.sqrtm(r2 @ s1 @ r2)))
    return np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * cross)


@pytest.mark.parametrize("scale", [1e-20, 1e20])
def test_gaussian_w2_tiny_and_huge_covariances_float32(scale):
    # float32 covariances at 1e-20: S2^1/2 S1 S2^1/2 (1e-40) was flushed and
    # W2^2 came back 50 % off; at 1e20 it overflowed
    s1, s2 = (jnp.asarray(s * scale, F32) for s in (_S1, _S2))
    m1, m2 = (jnp.asarray(m * np.sqrt(scale), F32) for m in (_M1, _M2))
    got = float(fr.gaussian_w2(m1, s1, m2, s2))
    want = _bures_ref(*(np.asarray(a, np.float64) for a in (m1, s1, m2, s2)))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_gaussian_ot_map_tiny_covariances_float32():
    # the map is invariant under a common scaling of S1 and S2; at 1e-20 in
    # float32 it was off by 100 %
    args = [jnp.asarray(a, F32) for a in (_M1, _S1, _M2, _S2)]
    ref = fr.gaussian_ot_map(*args).matrix
    tiny = fr.gaussian_ot_map(args[0], args[1] * 1e-20, args[2], args[3] * 1e-20)
    np.testing.assert_allclose(np.asarray(tiny.matrix), np.asarray(ref), rtol=1e-5)


def test_ill_conditioned_s1_float32_says_why():
    # diag(1, 1e-6) is positive definite; float32 refuses it (conditioned past
    # 1/sqrt(eps)) and now says so instead of only "must be positive definite"
    s1 = jnp.asarray(np.diag([1.0, 1e-6]), F32)
    args = (jnp.asarray(_M1, F32), s1, jnp.asarray(_M2, F32), jnp.asarray(_S2, F32))
    with pytest.raises(ValueError, match="`S1` must be positive definite.*float32"):
        fr.gaussian_ot_map(*args)


def test_gaussian_fit_covariance_underflowing_float32_is_named():
    # float32 points at scale 1e-20: the covariance (1e-40) was flushed to 0
    x = jnp.asarray(X * 1e-20, F32)
    with pytest.raises(ValueError, match="`x`: its covariance underflows"):
        fr.gaussian_fit(x)
    # coincident points keep their exact zero covariance, and 1e-15 still fits
    assert float(jnp.max(jnp.abs(fr.gaussian_fit(jnp.ones((12, 2), F32))[1]))) == 0.0
    _, s = fr.gaussian_fit(jnp.asarray(X * 1e-15, F32))
    xs = np.asarray(jnp.asarray(X * 1e-15, F32), np.float64)
    np.testing.assert_allclose(
        np.asarray(s, np.float64), np.cov(xs.T, bias=True), rtol=1e-5
    )


@pytest.mark.slow
def test_gaussian_fit_covariance_underflow_under_jit():
    x = jnp.asarray(X * 1e-20, F32)
    with pytest.raises(Exception, match="`x`: its covariance underflows"):
        jax.block_until_ready(jax.jit(fr.gaussian_fit)(x))


def test_epsilon_below_the_normal_range_is_named():
    """A positive float32 `epsilon` below float32's normal range (5e-41) rounds
    to 0 in the solve: the error says so, not just "must be positive"."""
    x = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="below the smallest normal float32"):
        fr.wasserstein2(x, x + 1, method="sinkhorn", epsilon=np.float32(5e-41))  # pyright: ignore[reportArgumentType]
