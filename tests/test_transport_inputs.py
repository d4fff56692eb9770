"""Every argument of the public transport entry points, table-driven.

Each bad input asserts the error type and that the message names the
argument; legal-but-unusual inputs (dtypes, jit, huge or tiny values,
degenerate covariances) give a finite, correct answer.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep as fr


RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 2))
Y = RNG.normal(size=(12, 2)) + 1.0
TR = np.stack([X, 0.5 * (X + Y), Y])
NAN = X.copy()
NAN[3, 1] = np.nan
INF = X.copy()
INF[0, 0] = np.inf
EYE = np.eye(2)
M = np.zeros(2)

CLOUD_FNS = {
    "wasserstein2": lambda x, y, **k: fr.wasserstein2(x, y, **k),
    "sinkhorn": lambda x, y, **k: fr.sinkhorn(x, y, **k),
    "sinkhorn_divergence": lambda x, y, **k: fr.sinkhorn_divergence(x, y, **k),
    "entropic_map": lambda x, y, **k: fr.entropic_map(x, y, **k),
    "barycentric_projection": lambda x, y, **k: fr.barycentric_projection(x, y, **k),
    "exact_assignment": lambda x, y, **k: fr.exact_assignment(x, y),
    "assignment_map": lambda x, y, **k: fr.assignment_map(x, y),
}

# (function, x, y, error, words in the message)
CLOUD_CASES = [
    ("rank", X[0], Y, ValueError, "`x`"),
    ("rank-y", X, Y[None], ValueError, "`y`"),
    ("dim", X, Y[:, :1], ValueError, "dimension"),
    ("nan", NAN, Y, ValueError, "`x`"),
    ("inf-y", X, INF, ValueError, "`y`"),
    ("empty", X[:0], Y, ValueError, "`x`"),
    ("single", X[:1], Y, ValueError, "`x`"),
    ("no-dim", X[:, :0], Y[:, :0], ValueError, "`x`"),
    ("type", "points", Y, TypeError, "`x`"),
    ("object", X, {"a": 1}, TypeError, "`y`"),
    ("complex", X + 1j, Y, TypeError, "`x`"),
    ("bool", X > 0, Y, TypeError, "`x`"),
]


@pytest.mark.parametrize("fn", sorted(CLOUD_FNS))
@pytest.mark.parametrize("case", CLOUD_CASES, ids=[c[0] for c in CLOUD_CASES])
def test_cloud_inputs(fn, case):
    _, x, y, err, words = case
    with pytest.raises(err, match=words):
        CLOUD_FNS[fn](x, y)


SINKHORN_FNS = ["wasserstein2", "sinkhorn", "sinkhorn_divergence", "entropic_map"]

# (keyword, value, error, words)
OPTION_CASES = [
    ("epsilon", -1.0, ValueError, "`epsilon`"),
    ("epsilon", 0.0, ValueError, "`epsilon`"),
    ("epsilon", np.nan, ValueError, "`epsilon`"),
    ("epsilon", np.inf, ValueError, "`epsilon`"),
    ("epsilon", "big", TypeError, "`epsilon`"),
    ("epsilon", np.ones(2), TypeError, "`epsilon`"),
    ("epsilon", True, TypeError, "`epsilon`"),
    ("relative_epsilon", 0.0, ValueError, "`relative_epsilon`"),
    ("relative_epsilon", -0.1, ValueError, "`relative_epsilon`"),
    ("relative_epsilon", "x", TypeError, "`relative_epsilon`"),
    ("threshold", -1.0, ValueError, "`threshold`"),
    ("threshold", 0.0, ValueError, "`threshold`"),
    ("threshold", np.nan, ValueError, "`threshold`"),
    ("max_iterations", 2.5, ValueError, "`max_iterations`"),
    ("max_iterations", 0, ValueError, "`max_iterations`"),
    ("max_iterations", True, ValueError, "`max_iterations`"),
    ("inner_iterations", -3, ValueError, "`inner_iterations`"),
    ("chunk_size", 0, ValueError, "`chunk_size`"),
    ("chunk_size", 8.0, ValueError, "`chunk_size`"),
    ("dense_limit", -1, ValueError, "`dense_limit`"),
    ("norm_error", 3, ValueError, "`norm_error`"),
    ("over_relaxation", 2.5, ValueError, "`over_relaxation`"),
    ("over_relaxation", "fast", ValueError, "`over_relaxation`"),
    ("over_relaxation", None, TypeError, "`over_relaxation`"),
    ("init", "ones", ValueError, "`init`"),
    ("mode", "sparse", ValueError, "`mode`"),
    ("mode", 3, ValueError, "`mode`"),
    ("throw", "yes", TypeError, "`throw`"),
]


@pytest.mark.parametrize("fn", SINKHORN_FNS)
@pytest.mark.parametrize(
    "case", OPTION_CASES, ids=[f"{c[0]}={c[1]!r}" for c in OPTION_CASES]
)
def test_sinkhorn_options(fn, case):
    key, val, err, words = case
    kw = {key: val}
    if fn == "wasserstein2":
        kw["method"] = "sinkhorn"
    with pytest.raises(err, match=words):
        CLOUD_FNS[fn](X, Y, **kw)


@pytest.mark.parametrize(
    "kw,err,words",
    [
        (dict(method="hungarian"), ValueError, "`method`"),
        (dict(method=None), ValueError, "`method`"),
        (dict(exact_max=-1), ValueError, "`exact_max`"),
        (dict(exact_max=1.5), ValueError, "`exact_max`"),
        (dict(throw=1), TypeError, "`throw`"),
    ],
)
def test_wasserstein2_options(kw, err, words):
    with pytest.raises(err, match=words):
        fr.wasserstein2(X, Y, **kw)


def test_exact_unequal_sizes():
    with pytest.raises(ValueError, match="equal size"):
        fr.wasserstein2(X, Y[:5], method="exact")


def test_sinkhorn_divergence_backend():
    with pytest.raises(ValueError, match="`backend`"):
        fr.sinkhorn_divergence(X, Y, backend="pot")  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    "kw,err,words",
    [
        (dict(k=0), ValueError, "`k`"),
        (dict(k=12), ValueError, "`k`"),
        (dict(k=2.0), ValueError, "`k`"),
        (dict(k=True), ValueError, "`k`"),
        (dict(chunk_size=0), ValueError, "`chunk_size`"),
        (dict(chunk_size=1.5), ValueError, "`chunk_size`"),
    ],
)
def test_knn_entropy_options(kw, err, words):
    with pytest.raises(err, match=words):
        fr.knn_entropy(X, **kw)


@pytest.mark.parametrize("case", CLOUD_CASES, ids=[c[0] for c in CLOUD_CASES])
def test_knn_entropy_and_gaussian_fit_clouds(case):
    _, x, _, err, words = case
    if words != "`x`":
        return
    with pytest.raises(err, match=words):
        fr.knn_entropy(x)
    with pytest.raises(err, match=words):
        fr.gaussian_fit(x)


def test_knn_entropy_duplicates():
    with pytest.raises(Exception, match="duplicated"):
        fr.knn_entropy(np.concatenate([X, X]), k=1)


@pytest.mark.parametrize(
    "kw,err,words",
    [
        (dict(method="ott"), ValueError, "`method`"),
        (dict(exact_max=0), ValueError, "`exact_max`"),
        (dict(epsilon=-1.0), ValueError, "`epsilon`"),
        (dict(epsilon=np.nan), ValueError, "`epsilon`"),
        (dict(relative_epsilon=0), ValueError, "`relative_epsilon`"),
        (dict(threshold=0.0), ValueError, "`threshold`"),
        (dict(max_iterations=2.5), ValueError, "`max_iterations`"),
        (dict(chunk_size=-4), ValueError, "`chunk_size`"),
    ],
)
def test_score_tracks_options(kw, err, words):
    with pytest.raises(err, match=words):
        fr.score_tracks(TR, **kw)


@pytest.mark.parametrize(
    "tracks,err,words",
    [
        (TR[0], ValueError, "tracks"),
        (TR[:1], ValueError, "layers"),
        (TR[:, :1], ValueError, "samples"),
        (np.where(np.isnan(NAN), np.nan, TR), ValueError, "`tracks`"),
        (np.stack([X, X]), ValueError, "W2 = 0"),
    ],
)
def test_score_tracks_inputs(tracks, err, words):
    with pytest.raises(err, match=words):
        fr.score_tracks(tracks)


# Gaussians: (m1, S1, m2, S2, error, words), for both gaussian_w2 and gaussian_ot_map
NONSYM = np.array([[1.0, 0.5], [0.0, 1.0]])
INDEF = np.array([[1.0, 0.0], [0.0, -0.5]])
SING = np.array([[1.0, 1.0], [1.0, 1.0]])
GAUSS_CASES = [
    ("nan-mean", np.array([np.nan, 0.0]), EYE, M, EYE, ValueError, "`m1`"),
    ("nan-cov", M, EYE, M, np.full((2, 2), np.nan), ValueError, "`S2`"),
    ("nonsym", M, NONSYM, M, EYE, ValueError, "`S1`.*symmetric"),
    ("indefinite", M, EYE, M, INDEF, ValueError, "`S2`.*positive"),
    ("indefinite-1", M, INDEF, M, EYE, ValueError, "`S1`.*positive"),
    ("mean-rank", EYE, EYE, M, EYE, ValueError, "`m1`"),
    ("cov-shape", M, np.eye(3), M, EYE, ValueError, "`S1`"),
    ("dim", M, EYE, np.zeros(3), np.eye(3), ValueError, "`m2`"),
    ("type", "mean", EYE, M, EYE, TypeError, "`m1`"),
    ("bool", M, EYE > 0, M, EYE, TypeError, "`S1`"),
]


@pytest.mark.parametrize("fn", [fr.gaussian_w2, fr.gaussian_ot_map])
@pytest.mark.parametrize("case", GAUSS_CASES, ids=[c[0] for c in GAUSS_CASES])
def test_gaussian_inputs(fn, case):
    *args, err, words = case[1:]
    with pytest.raises(err, match=words):
        fn(*args)


def test_gaussian_ot_map_refuses_singular_source():
    with pytest.raises(ValueError, match="`S1` must be positive definite"):
        fr.gaussian_ot_map(M, SING, M, EYE)


def test_gaussian_w2_singular_is_legal():
    """A degenerate Gaussian (point mass) is legal: W2^2 = |m1-m2|^2 + tr S2."""
    out = fr.gaussian_w2(np.ones(2), np.zeros((2, 2)), M, 2 * EYE)
    assert abs(float(out) - (2.0 + 4.0)) < 1e-9


def test_gaussian_checks_under_jit():
    f = jax.jit(lambda S: fr.gaussian_ot_map(M, S, M, EYE).matrix)
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(EYE))), EYE, atol=1e-12)
    with pytest.raises(Exception, match="`S1`"):
        jax.block_until_ready(f(jnp.asarray(INDEF)))
    g = jax.jit(lambda S: fr.gaussian_w2(M, EYE, M, S))
    with pytest.raises(Exception, match="`S2`"):
        jax.block_until_ready(g(jnp.asarray(NONSYM)))


@pytest.mark.slow
def test_values_checked_under_jit():
    f = jax.jit(lambda x, e: fr.sinkhorn(x, Y, epsilon=e).reg_ot_cost)
    assert np.isfinite(float(f(X, 0.5)))
    with pytest.raises(Exception, match="`epsilon`"):
        jax.block_until_ready(f(X, -0.5))
    with pytest.raises(Exception, match="`x`"):
        jax.block_until_ready(f(NAN, 0.5))
    h = jax.jit(fr.knn_entropy)
    assert abs(float(h(X)) - float(fr.knn_entropy(X))) < 1e-9
    with pytest.raises(Exception, match="`x`"):
        jax.block_until_ready(h(NAN))


@pytest.mark.parametrize(
    "dtype", [pytest.param(jnp.float16, marks=pytest.mark.slow), jnp.bfloat16]
)
def test_half_precision_promoted_to_float32(dtype):
    x, y = jnp.asarray(X, dtype), jnp.asarray(Y, dtype)
    ref = fr.wasserstein2(
        np.asarray(x, np.float32), np.asarray(y, np.float32), method="exact"
    )
    for method in ("exact", "gaussian", "sinkhorn"):
        out = fr.wasserstein2(x, y, method=method)
        assert out.cost.dtype == jnp.float32
        assert np.isfinite(float(out.cost))
    assert float(fr.wasserstein2(x, y, method="exact").cost) == float(ref.cost)
    assert fr.sinkhorn(x, y).f.dtype == jnp.float32
    assert fr.knn_entropy(x).dtype == jnp.float32
    assert fr.gaussian_fit(x)[1].dtype == jnp.float32
    assert fr.score_tracks(jnp.asarray(TR, dtype)).w2_sq.dtype == jnp.float32
    assert fr.gaussian_w2(M, jnp.asarray(EYE, dtype), M, EYE).dtype == jnp.float64


@pytest.mark.slow
def test_mixed_and_integer_dtypes():
    x32, y64 = X.astype(np.float32), Y.astype(np.float64)
    out = fr.wasserstein2(x32, y64, method="sinkhorn", init="zero")
    assert out.cost.dtype == jnp.float64
    div = fr.sinkhorn_divergence(x32, y64, backend="ott")
    assert div.divergence.dtype == jnp.float64 and np.isfinite(float(div.divergence))
    xi = np.round(4 * X).astype(np.int32)
    yi = np.round(4 * Y).astype(np.int32)
    cost = fr.wasserstein2(xi, yi, method="exact").cost
    ref = fr.wasserstein2(xi.astype(float), yi.astype(float), method="exact").cost
    assert cost.dtype == jnp.float64 and float(cost) == float(ref)


def test_huge_and_tiny_values():
    for s in (1e-150, 1e150):
        cost = fr.wasserstein2(X * s, Y * s, method="exact").cost
        ref = fr.wasserstein2(X, Y, method="exact").cost
        assert abs(float(cost) / (float(ref) * s**2) - 1) < 1e-12
    big = (X * 1e30).astype(np.float32) * np.float32(1e8)
    with pytest.raises(ValueError, match="overflows"):
        fr.gaussian_fit(big)
    # Under the caller's jit the same check fires at run time.
    with pytest.raises(Exception, match="overflows"):
        jax.block_until_ready(jax.jit(fr.gaussian_fit)(big))


def test_float32_overflow_of_the_cost_is_named():
    """At 1e30 in float32 the inputs are finite but W2^2 (~1e60) is not: a
    named error instead of a silent inf, for every method and for the scores;
    a hundred times smaller everything is finite again."""
    x = (X * 1e30).astype(np.float32)
    y = (Y * 1e30 + 1e30).astype(np.float32)
    for method in ("exact", "sinkhorn", "gaussian"):
        with pytest.raises(ValueError, match="W2\\^2 of `x` and `y` overflows float32"):
            fr.wasserstein2(x, y, method=method)
    tracks = np.stack([x, (x + y) / 2, y])
    with pytest.raises(ValueError, match="`tracks` overflows float32"):
        fr.score_tracks(tracks)
    small = fr.wasserstein2(x * 1e-16, y * 1e-16, method="exact").cost
    ref = fr.wasserstein2(X, Y + 1.0, method="exact").cost
    assert float(small) == pytest.approx(float(ref) * 1e28, rel=1e-4)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_ott_backend_with_low_precision_clouds(dtype):
    """`sinkhorn_divergence(backend="ott")` on float16/float32 clouds (under
    x64 ott's default float64 weights broke its `lax.cond`): promoted to
    float32 and within float32 accuracy of the float64 solve."""
    x, y = X[:40], Y[:40] + 1.0
    ref = fr.sinkhorn_divergence(x, y, backend="ott").divergence
    out = fr.sinkhorn_divergence(x.astype(dtype), y.astype(dtype), backend="ott")
    assert out.divergence.dtype == np.float32
    tol = 1e-3 if dtype == np.float16 else 1e-5
    assert float(out.divergence) == pytest.approx(float(ref), rel=tol)


def test_affine_score_float32_far_from_the_origin():
    """float32 clouds at an offset of 1e4: the score agrees with a float64
    run on the same inputs (it was 7.5e-4 off: X @ A^T + shift cancelled the
    offset in float32) and with the unshifted score."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 3))
    b = np.tanh(a @ rng.normal(size=(3, 3))) + 0.1 * rng.normal(size=(200, 3))
    x, y = (a + 1e4).astype(np.float32), (b + 1e4).astype(np.float32)
    s32 = float(fr.affine_score(x, y))
    s64 = float(fr.affine_score(x.astype(np.float64), y.astype(np.float64)))
    assert s32 == pytest.approx(s64, rel=1e-5)
    assert s32 == pytest.approx(float(fr.affine_score(a, b)), rel=1e-3)


def test_save_field_names_the_path():
    """A non-path `path`, and a folder where no file can be created (even
    root may not create files in /proc): the error names `path`, not a
    temporary file."""
    import jax.random as jr

    f = fr.RidgeletField.random(jr.PRNGKey(0), 2, 4)
    with pytest.raises(TypeError, match="`path` must be a str or os.PathLike"):
        fr.save_field(3, f)  # pyright: ignore[reportArgumentType]
    with pytest.raises(OSError, match="cannot write `path` '/proc/x.eqx'"):
        fr.save_field("/proc/x.eqx", f)


def test_track_scores_name_tracks():
    """A non-array `tracks` is named as the caller's argument, not `points`."""
    for fn in (fr.score_tracks, fr.coordinate_free_scores):
        with pytest.raises(TypeError, match="`tracks` must be an array"):
            fn("abc")  # pyright: ignore[reportArgumentType]
