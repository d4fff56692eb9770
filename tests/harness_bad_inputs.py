# pyright: reportArgumentType=false, reportCallIssue=false, reportAttributeAccessIssue=false
"""An independent harness of bad and unusual calls to flowrep's public API (issue 14).

Not collected by pytest (no `test_` prefix) and independent of the bad-input
tables: run it as `python tests/harness_bad_inputs.py [-k SUBSTRING] [-v]`.

Every call states what a correct library does with it:

- `err(*names)`: raise an exception whose message names the argument (one of
  `names` appears in it). A `TypeError`/`ValueError`/`FloatingPointError`/
  `MemoryError` or, under `jax.jit`, a run-time error with that text passes;
  an error that does not name the argument fails (`unnamed`), and so does an
  internal error type (`AssertionError`, `TracerBoolConversionError`,
  `IndexError`, ...: `crash`) or a value returned instead (`silent`).
- `ok(check)`: return a value that `check(result)` accepts (finite, and equal
  to a float64 reference computed here on the same inputs, or to a closed
  form); otherwise `silent` (a NaN/inf or wrong value) or `crash` (any error).

Each call runs under a per-call alarm (`--timeout`, default 120 s): `hang`.
The summary prints the calls, the failures by kind and each failing call.
"""

import argparse
import math
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import traceback


ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402


jax.config.update("jax_enable_x64", True)  # float64 references; inputs cast explicitly

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402

import flowrep as fr  # noqa: E402


F32, F64 = jnp.float32, jnp.float64
RNG = np.random.default_rng(14)
X64 = jnp.asarray(RNG.normal(size=(48, 2)))
Y64 = jnp.asarray(RNG.normal(size=(48, 2)) * 0.7 + np.array([1.0, -0.5]))
X, Y = X64.astype(F32), Y64.astype(F32)
TR64 = jnp.stack([X64, 0.5 * X64 + 1.0, jnp.tanh(X64) * 2])
TR = TR64.astype(F32)
K = jr.PRNGKey(0)
M2, I2 = jnp.zeros(2), jnp.eye(2)
S2 = jnp.array([[2.0, 0.3], [0.3, 0.5]])
LAW = fr.GaussianLaw(M2, I2)
MIX = fr.GaussianMixture(
    jnp.array([0.3, 0.7]), jnp.array([[0.0, 0.0], [3.0, 0.0]]), jnp.stack([I2, S2])
)
FIELD = fr.RidgeletField.random(jr.PRNGKey(1), 2, 8)
UNSAFE_ERR = (
    AssertionError,
    IndexError,
    KeyError,
    AttributeError,
    ZeroDivisionError,
    NameError,
    UnboundLocalError,
    RecursionError,
)


def nan(a):
    return (
        jnp.asarray(a).at[0, 0].set(jnp.nan)
        if jnp.ndim(a) == 2
        else jnp.asarray(a).at[0].set(jnp.nan)
    )


def f64(a):
    return np.asarray(jnp.asarray(a, F64))


# ----------------------------------------------------------------- checks


def finite(r):
    leaves = [
        a
        for a in jax.tree.leaves(r)
        if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact)
    ]
    if not leaves:
        return "no floating-point output"
    for a in leaves:
        if not bool(jnp.all(jnp.isfinite(a))):
            return f"non-finite output {np.asarray(a).ravel()[:4]}"
    return None


def close(ref, rtol, atol=0.0, get=lambda r: r):
    def check(r):
        bad = finite(get(r))
        if bad:
            return bad
        got, want = f64(get(r)), np.asarray(ref() if callable(ref) else ref, np.float64)
        if got.shape != want.shape:
            return f"shape {got.shape}, want {want.shape}"
        err = np.max(np.abs(got - want))
        tol = atol + rtol * np.max(np.abs(want))
        return (
            None
            if err <= tol
            else f"off by {err:.3g} (tol {tol:.3g}; got {got.ravel()[:3]}, want {want.ravel()[:3]})"
        )

    return check


def ok(check=finite):
    return ("ok", check)


def err(*names):
    return ("err", names)


CALLS = []


def case(name, expect, fn):
    CALLS.append((name, expect, fn))


# ------------------------------------------------------------- references


def w2_exact_ref(x, y):
    import scipy.optimize

    x, y = f64(x), f64(y)
    c = np.sum((x[:, None] - y[None]) ** 2, -1)
    r, col = scipy.optimize.linear_sum_assignment(c)
    return c[r, col].mean()


def knn_ref(x, k=3):
    from scipy.special import digamma, gammaln

    x = f64(x)
    n, d = x.shape
    dist = np.sqrt(np.sum((x[:, None] - x[None]) ** 2, -1))
    np.fill_diagonal(dist, np.inf)
    rk = np.sort(dist, 1)[:, k - 1]
    logv = d / 2 * np.log(np.pi) - gammaln(d / 2 + 1)
    return digamma(n) - digamma(k) + logv + d * np.mean(np.log(rk))


H = knn_ref(X64)


def ms_ref(cloud, t, q):
    c, q = f64(cloud), f64(q)
    logits = -np.sum((q[:, None] - c[None]) ** 2, -1) / (2 * t)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True)) @ c


# -------------------------------------------------------------- transport

w2 = fr.wasserstein2
for m in ("exact", "sinkhorn", "gaussian"):
    # float32 clouds shifted by 1e4 (the float64 reference on the same inputs)
    xs, ys = (X64 + 1e4).astype(F32), (Y64 + 1e4).astype(F32)
    if m == "exact":
        case(
            f"w2 {m} shift 1e4 f32",
            ok(close(w2_exact_ref(xs, ys), 1e-4, get=lambda r: r.cost)),
            lambda xs=xs, ys=ys: w2(xs, ys, method="exact"),
        )
    else:
        ref = lambda xs=xs, ys=ys, m=m: float(w2(f64(xs), f64(ys), method=m).cost)  # noqa: E731
        case(
            f"w2 {m} shift 1e4 f32",
            ok(close(ref, 1e-3, get=lambda r: r.cost)),
            lambda xs=xs, ys=ys, m=m: w2(xs, ys, method=m),
        )
    for s in (1e-3, 1e4):
        ref = lambda s=s, m=m: float(w2(X64, Y64, method=m).cost) * s**2  # noqa: E731
        case(
            f"w2 {m} scale {s:g} f32",
            ok(close(ref, 2e-3, get=lambda r: r.cost)),
            lambda s=s, m=m: w2((X64 * s).astype(F32), (Y64 * s).astype(F32), method=m),
        )
    case(f"w2 {m} NaN", err("`x`"), lambda m=m: w2(nan(X), Y, method=m))
    case(
        f"w2 {m} inf y",
        err("`y`"),
        lambda m=m: w2(X, Y.at[1, 1].set(jnp.inf), method=m),
    )
    case(
        f"w2 {m} 1e30 f32",
        # W2^2 ~ 1e60 is past float32's range for every method: a named error
        err("`x`", "`y`", "overflow", "range"),
        lambda m=m: w2(X * 1e30, Y * 1e30, method=m),
    )
    case(
        f"w2 {m} bfloat16",
        ok(
            close(
                lambda m=m: float(
                    w2(
                        f64(X.astype(jnp.bfloat16)),
                        f64(Y.astype(jnp.bfloat16)),
                        method=m,
                    ).cost
                ),
                5e-3,
                get=lambda r: r.cost,
            )
        ),
        lambda m=m: w2(X.astype(jnp.bfloat16), Y.astype(jnp.bfloat16), method=m),
    )
    case(
        f"w2 {m} float16",
        ok(),
        lambda m=m: w2(X.astype(jnp.float16), Y.astype(jnp.float16), method=m),
    )
    case(
        f"w2 {m} int",
        ok(),
        lambda m=m: w2(
            jnp.round(X * 3).astype(jnp.int32),
            jnp.round(Y * 3).astype(jnp.int32),
            method=m,
        ),
    )
    case(f"w2 {m} empty", err("`x`"), lambda m=m: w2(X[:0], Y, method=m))
    case(
        f"w2 {m} dim mismatch",
        err("dimension", "`y`"),
        lambda m=m: w2(X, jnp.ones((5, 3)), method=m),
    )
    case(
        f"w2 {m} jit NaN",
        err("`x`", "NaN"),
        lambda m=m: jax.jit(lambda a, b: w2(a, b, method=m).cost)(nan(X), Y),
    )
case(
    "w2 single sample each (refused, named)",
    err("`x`"),
    lambda: w2(X[:1], Y[:1], method="exact"),
)
case("w2 str", err("`x`"), lambda: w2("abc", Y))
case("w2 1-D", err("`x`"), lambda: w2(X[0], Y))
case("w2 method foo", err("`method`"), lambda: w2(X, Y, method="foo"))
case(
    "w2 epsilon -1", err("`epsilon`"), lambda: w2(X, Y, method="sinkhorn", epsilon=-1.0)
)
case(
    "w2 epsilon NaN",
    err("`epsilon`"),
    lambda: w2(X, Y, method="sinkhorn", epsilon=float("nan")),
)
case(
    "w2 epsilon True",
    err("`epsilon`"),
    lambda: w2(X, Y, method="sinkhorn", epsilon=True),
)
case("w2 exact_max 2.5", err("`exact_max`"), lambda: w2(X, Y, exact_max=2.5))
case("w2 exact_max 0", err("`exact_max`"), lambda: w2(X, Y, exact_max=0))
case(
    "w2 relative_epsilon 0",
    err("`relative_epsilon`"),
    lambda: w2(X, Y, method="sinkhorn", relative_epsilon=0.0),
)

sk = fr.sinkhorn
case(
    "sinkhorn shift 1e4 f32",
    ok(
        close(
            lambda: float(sk(X64 + 1e4, Y64 + 1e4).reg_ot_cost),
            1e-3,
            get=lambda r: r.reg_ot_cost,
        )
    ),
    lambda: sk((X64 + 1e4).astype(F32), (Y64 + 1e4).astype(F32)),
)
case("sinkhorn threshold 0", err("`threshold`"), lambda: sk(X, Y, threshold=0.0))
case(
    "sinkhorn threshold NaN",
    err("`threshold`"),
    lambda: sk(X, Y, threshold=float("nan")),
)
case(
    "sinkhorn max_iterations 0",
    err("`max_iterations`"),
    lambda: sk(X, Y, max_iterations=0),
)
case(
    "sinkhorn max_iterations 2.5",
    err("`max_iterations`"),
    lambda: sk(X, Y, max_iterations=2.5),
)
case(
    "sinkhorn max_iterations True",
    err("`max_iterations`"),
    lambda: sk(X, Y, max_iterations=True),
)
case("sinkhorn init foo", err("`init`"), lambda: sk(X, Y, init="foo"))
case("sinkhorn mode foo", err("`mode`"), lambda: sk(X, Y, mode="foo"))
case(
    "sinkhorn over_relaxation 3",
    err("`over_relaxation`"),
    lambda: sk(X, Y, over_relaxation=3.0),
)
case(
    "sinkhorn chunk_size 0",
    err("`chunk_size`"),
    lambda: sk(X, Y, mode="online", chunk_size=0),
)
case(
    "sinkhorn 1e10 scale (gaussian init)",
    ok(
        close(
            lambda: float(sk(X64 * 1e10, Y64 * 1e10).reg_ot_cost),
            1e-2,
            get=lambda r: r.reg_ot_cost,
        )
    ),
    lambda: sk((X64 * 1e10).astype(F32), (Y64 * 1e10).astype(F32)),
)
case(
    "sinkhorn_divergence ott float16",
    # the divergence and potentials; `reg_ot_cost` is NaN for the ott backend
    # by design (documented: ott does not return it)
    ok(lambda r: finite((r.divergence, r.cross.f, r.cross.g))),
    lambda: fr.sinkhorn_divergence(
        X.astype(jnp.float16), Y.astype(jnp.float16), backend="ott"
    ),
)
case(
    "sinkhorn_divergence backend foo",
    err("`backend`"),
    lambda: fr.sinkhorn_divergence(X, Y, backend="foo"),
)
case(
    "sinkhorn_divergence shift 1e4",
    ok(
        close(
            lambda: float(fr.sinkhorn_divergence(X64, Y64).divergence),
            1e-3,
            atol=1e-4,
            get=lambda r: r.divergence,
        )
    ),
    lambda: fr.sinkhorn_divergence((X64 + 1e4).astype(F32), (Y64 + 1e4).astype(F32)),
)

sc = fr.score_tracks
for tname, tf in (
    ("shift 1e4", lambda a: a + 1e4),
    ("scale 1e-3", lambda a: a * 1e-3),
    ("scale 1e4", lambda a: a * 1e4),
):
    tr32 = tf(TR64).astype(F32)
    case(
        f"score_tracks {tname} f32",
        ok(
            close(
                lambda tr32=tr32: float(sc(f64(tr32)).cost_ratio),
                1e-3,
                get=lambda r: r.cost_ratio,
            )
        ),
        lambda tr32=tr32: sc(tr32),
    )
case(
    "score_tracks NaN", err("`tracks`", "NaN"), lambda: sc(TR.at[1, 0, 0].set(jnp.nan))
)
case("score_tracks 1e30", err("`tracks`", "overflow"), lambda: sc(TR * 1e30))
case("score_tracks one time", err("`tracks`", "time", "layers"), lambda: sc(TR[:1]))
case("score_tracks 2-D", err("`tracks`"), lambda: sc(TR[0]))
case("score_tracks str", err("`tracks`"), lambda: sc("abc"))
case("score_tracks method foo", err("`method`"), lambda: sc(TR, method="foo"))
case("score_tracks chunk_size 0", err("`chunk_size`"), lambda: sc(TR, chunk_size=0))
case(
    "Tracks NaN", err("`points`", "NaN"), lambda: fr.Tracks(TR.at[0, 0, 0].set(jnp.nan))
)
case("Tracks times mismatch", err("`times`"), lambda: fr.Tracks(TR, jnp.arange(5.0)))
case("Tracks str", err("`points`"), lambda: fr.Tracks("abc"))

ke = fr.knn_entropy
case(
    "knn_entropy shift 100 f32",
    ok(close(knn_ref((X64 + 100).astype(F32)), 1e-4, atol=1e-4)),
    lambda: ke((X64 + 100).astype(F32)),
)
case(
    "knn_entropy shift 1e4 f32",
    ok(close(knn_ref((X64 + 1e4).astype(F32)), 1e-3, atol=1e-3)),
    lambda: ke((X64 + 1e4).astype(F32)),
)
case(
    "knn_entropy scale 1e-20 f32",
    ok(close(H + 2 * math.log(1e-20), 1e-4, atol=1e-3)),
    lambda: ke((X64 * 1e-20).astype(F32)),
)
case(
    "knn_entropy scale 1e4 f32",
    ok(close(H + 2 * math.log(1e4), 1e-4, atol=1e-3)),
    lambda: ke((X64 * 1e4).astype(F32)),
)
case(
    "knn_entropy 1e30 f32",
    ok(close(H + 2 * math.log(1e30), 1e-4, atol=1e-3)),
    lambda: ke((X64 * 1e30).astype(F32)),
)
case("knn_entropy k 0", err("`k`"), lambda: ke(X, 0))
case("knn_entropy k True", err("`k`"), lambda: ke(X, True))
case("knn_entropy k 2.5", err("`k`"), lambda: ke(X, 2.5))
case("knn_entropy k >= n", err("`k`"), lambda: ke(X[:3], 3))
case("knn_entropy NaN", err("`x`"), lambda: ke(nan(X)))
case(
    "knn_entropy k duplicates",
    err("duplicate"),
    lambda: ke(jnp.concatenate([X, X[:4], X[:4], X[:4]])),
)
case(
    "knn_entropy int",
    ok(),
    lambda: ke(jnp.asarray(RNG.integers(0, 1000, size=(40, 2)))),
)
case("knn_entropy bfloat16", ok(), lambda: ke(X.astype(jnp.bfloat16)))
case("knn_entropy jit NaN", err("`x`", "NaN"), lambda: jax.jit(ke)(nan(X)))
case("knn_entropy single sample", err("`x`", "`k`"), lambda: ke(X[:1]))

gf = fr.gaussian_fit
case(
    "gaussian_fit shift 1e4 f32",
    ok(
        close(
            np.cov(f64((X64 + 1e4).astype(F32)).T, bias=True), 1e-3, get=lambda r: r[1]
        )
    ),
    lambda: gf((X64 + 1e4).astype(F32)),
)
case("gaussian_fit 1e30 f32", err("`x`", "overflow", "range"), lambda: gf(X * 1e30))
case("gaussian_fit single", err("`x`"), lambda: gf(X[:1]))
case("gaussian_fit NaN", err("`x`"), lambda: gf(nan(X)))
S_sing = jnp.array([[1.0, 1.0], [1.0, 1.0]])
S_indef = jnp.array([[1.0, 0.0], [0.0, -1.0]])
S_nsym = jnp.array([[1.0, 0.5], [0.0, 1.0]])
for nm, f in (("gaussian_w2", fr.gaussian_w2), ("gaussian_ot_map", fr.gaussian_ot_map)):
    if nm == "gaussian_ot_map":
        case(
            f"{nm} singular S1",
            err("`S1`", "positive"),
            lambda f=f: f(M2, S_sing, M2, I2),
        )
    case(
        f"{nm} indefinite",
        err("`S1`", "`S2`", "positive"),
        lambda f=f: f(M2, I2, M2, S_indef),
    )
    case(
        f"{nm} non-symmetric",
        err("`S1`", "symmetric"),
        lambda f=f: f(M2, S_nsym, M2, I2),
    )
    case(f"{nm} NaN cov", err("`S1`", "NaN"), lambda f=f: f(M2, I2 * jnp.nan, M2, I2))
    case(
        f"{nm} dim mismatch",
        err("`m1`", "`S1`", "`m2`", "`S2`", "dimension"),
        lambda f=f: f(M2, I2, jnp.zeros(3), jnp.eye(3)),
    )
    case(
        f"{nm} jit indefinite",
        err("`S1`", "`S2`", "positive"),
        lambda f=f: jax.jit(lambda s: jax.tree.leaves(f(M2, I2, M2, s))[0])(S_indef),
    )
tr_ref = float(
    np.trace(f64(S2))
    + 2
    - 2 * np.trace(np.real(__import__("scipy.linalg").linalg.sqrtm(f64(S2))))
)
case(
    "gaussian_w2 singular (PSD: legal)",
    ok(close(4 - 2 * math.sqrt(2), 1e-6)),
    lambda: fr.gaussian_w2(M2, S_sing, M2, I2),
)
case(
    "gaussian_w2 closed form vs identity",
    ok(close(tr_ref, 1e-8)),
    lambda: fr.gaussian_w2(M2, S2, M2, I2),
)
case(
    "gaussian_w2 bfloat16",
    ok(),
    lambda: fr.gaussian_w2(M2.astype(jnp.bfloat16), S2.astype(jnp.bfloat16), M2, I2),
)
case(
    "affine_score shift 1e4 f32",
    ok(
        close(
            lambda: float(
                fr.affine_score(
                    f64((X64 + 1e4).astype(F32)), f64((0.5 * X64 + 1 + 1e4).astype(F32))
                )
            ),
            1e-4,
        )
    ),
    lambda: fr.affine_score((X64 + 1e4).astype(F32), (0.5 * X64 + 1 + 1e4).astype(F32)),
)
case(
    "affine_score convention foo",
    err("`convention`"),
    lambda: fr.affine_score(X, Y, convention="foo"),
)
case(
    "gaussian_entropy_fisher scale 1e-3",
    ok(),
    lambda: fr.gaussian_entropy_fisher((X64 * 1e-3).astype(F32)),
)

# ------------------------------------------------------------------ DAE laws

case("GaussianLaw non-PD", err("`cov`"), lambda: fr.GaussianLaw(M2, S_indef))
case(
    "GaussianLaw NaN mean",
    err("`mean`"),
    lambda: fr.GaussianLaw(jnp.array([jnp.nan, 0.0]), I2),
)
case(
    "GaussianLaw shape mismatch",
    err("`cov`", "`mean`"),
    lambda: fr.GaussianLaw(jnp.zeros(3), I2),
)
case("GaussianLaw cov str", err("`cov`"), lambda: fr.GaussianLaw(M2, "abc"))
case("GaussianLaw backward_heat t<0", err("`t`"), lambda: LAW.backward_heat(-0.1))
case(
    "GaussianLaw backward_heat jit t<0",
    err("`t`"),
    lambda: jax.jit(lambda t: LAW.backward_heat(t).cov)(-0.1),
)
case(
    "GaussianLaw backward_heat past collapse",
    err("`t`", "collapse"),
    lambda: LAW.backward_heat(0.6),
)
case(
    "GaussianMixture negative weight",
    err("`weights`"),
    lambda: fr.GaussianMixture(
        jnp.array([-0.5, 1.5]), jnp.zeros((2, 2)), jnp.stack([I2, I2])
    ),
)
case(
    "GaussianMixture NaN weight",
    err("`weights`"),
    lambda: fr.GaussianMixture(
        jnp.array([jnp.nan, 1.0]), jnp.zeros((2, 2)), jnp.stack([I2, I2])
    ),
)
case(
    "GaussianMixture shape mismatch",
    err("`means`", "`covs`", "`weights`"),
    lambda: fr.GaussianMixture(jnp.ones(3) / 3, jnp.zeros((2, 2)), jnp.stack([I2, I2])),
)
case(
    "GaussianMixture jit negative weight",
    err("`weights`"),
    lambda: jax.jit(
        lambda w: fr.GaussianMixture(w, jnp.zeros((2, 2)), jnp.stack([I2, I2])).weights
    )(jnp.array([-0.5, 1.5])),
)
case("shallow_dae t<0", err("`t`"), lambda: fr.shallow_dae(LAW, -0.1, X))
case(
    "shallow_dae jit t<0",
    err("`t`"),
    lambda: jax.jit(lambda t: fr.shallow_dae(LAW, t, X))(-0.1),
)
case("shallow_dae NaN x", err("`x`"), lambda: fr.shallow_dae(LAW, 0.1, nan(X)))
case(
    "shallow_dae 1e30 f32 x (one Gaussian: linear, finite)",
    ok(close(lambda: f64(X * 1e30) / 1.1, 1e-6)),
    lambda: fr.shallow_dae(
        fr.GaussianLaw(M2.astype(F32), I2.astype(F32)), 0.1, X * 1e30
    ),
)
case(
    "shallow_dae closed form N(0,I)",
    ok(close(f64(X64) / 1.1, 1e-10)),
    lambda: fr.shallow_dae(LAW, 0.1, X64),
)
case(
    "shallow_dae jit valid",
    ok(close(f64(X64) / 1.1, 1e-10)),
    lambda: jax.jit(lambda t: fr.shallow_dae(LAW, t, X64))(0.1),
)
case("mean_shift t 0", err("`t`"), lambda: fr.mean_shift(X, 0.0))
case("mean_shift t NaN", err("`t`"), lambda: fr.mean_shift(X, float("nan")))
case(
    "mean_shift jit t 0",
    err("`t`"),
    lambda: jax.jit(lambda t: fr.mean_shift(X, t))(0.0),
)
case(
    "mean_shift weights negative",
    err("`weights`"),
    lambda: fr.mean_shift(X, 0.5, weights=-jnp.ones(48)),
)
case(
    "mean_shift queries dim",
    err("`queries`"),
    lambda: fr.mean_shift(X, 0.5, jnp.ones((3, 3))),
)
case(
    "mean_shift shift 1e4 f32",
    ok(
        close(
            ms_ref((X64 + 1e4).astype(F32), 0.5, (X64 + 1e4).astype(F32))
            - f64((X64 + 1e4).astype(F32)),
            1e-3,
            atol=2e-3,
            get=lambda r: f64(r) - f64((X64 + 1e4).astype(F32)),
        )
    ),
    lambda: fr.mean_shift((X64 + 1e4).astype(F32), 0.5),
)
case(
    "mean_shift 1e30 f32",
    err("`cloud`", "overflow", "`queries`"),
    lambda: fr.mean_shift(X * 1e30, 0.5),
)
case(
    "deep_dae_map past collapse",
    err("collapse", "`t`"),
    lambda: fr.deep_dae_map(LAW, 0.6, X64),
)
case(
    "deep_dae_map jit past collapse",
    err("collapse", "`t`"),
    lambda: jax.jit(lambda t: fr.deep_dae_map(LAW, t, X64))(0.6),
)
case(
    "deep_dae_flow t1 past collapse",
    err("`t1`", "collapse"),
    lambda: fr.deep_dae_flow(LAW, X64, 0.6),
)
case(
    "deep_dae_flow x0 1e200",
    err("`x0`"),
    lambda: fr.deep_dae_flow(LAW, X64 * 1e200, 0.1),
)
case(
    "deep_dae_flow vs map",
    ok(close(f64(X64) * math.sqrt(1 - 0.4), 1e-4, get=lambda r: r.xs)),
    lambda: fr.deep_dae_flow(LAW, X64, 0.2),
)
case(
    "deep_dae_flow bfloat16 x0",
    ok(),
    lambda: fr.deep_dae_flow(LAW, X.astype(jnp.bfloat16), 0.2).xs,
)
case(
    "DeepDAEField batch_call past collapse",
    err("`t`", "collapse"),
    lambda: fr.DeepDAEField(LAW).batch_call(0.7, X64),
)
case(
    "flow DeepDAEField past collapse",
    err("collapse"),
    lambda: (
        fr.flow(fr.DeepDAEField(LAW), X64, 0.0, 0.8, solver="euler", num_steps=4).xs
    ),
)
case(
    "blurring_mean_shift_flow 1e200",
    err("`x0`", "`bandwidth`"),
    lambda: fr.blurring_mean_shift_flow(X64 * 1e200, 0.5, 1.0),
)
case(
    "blurring_mean_shift_flow bandwidth -1",
    err("`bandwidth`"),
    lambda: fr.blurring_mean_shift_flow(X64, 0.5, -1.0),
)
case(
    "train_denoiser 1e30 f32",
    err("`x`", "overflow", "`samples`", "`data`"),
    lambda: fr.train_denoiser(X * 1e30, 0.1, key=K, num_steps=2),
)

# ------------------------------------------------------------------ flows

rot = lambda t, x, a: jnp.stack([-x[1], x[0]])  # noqa: E731
case("flow rtol -1", err("`rtol`"), lambda: fr.flow(rot, X, 0.0, 1.0, rtol=-1.0))
case(
    "flow rtol=atol=0",
    err("`rtol`", "`atol`"),
    lambda: fr.flow(rot, X, 0.0, 1.0, rtol=0.0, atol=0.0),
)
case(
    "flow num_steps 2.5",
    err("`num_steps`"),
    lambda: fr.flow(rot, X, 0.0, 1.0, num_steps=2.5),
)
case(
    "flow num_steps True",
    err("`num_steps`"),
    lambda: fr.flow(rot, X, 0.0, 1.0, num_steps=True),
)
case(
    "flow num_steps 0",
    err("`num_steps`"),
    lambda: fr.flow(rot, X, 0.0, 1.0, num_steps=0),
)
case(
    "flow max_steps 0",
    err("`max_steps`"),
    lambda: fr.flow(rot, X, 0.0, 1.0, max_steps=0),
)
case("flow t1 inf", err("`t1`"), lambda: fr.flow(rot, X, 0.0, float("inf")))
case("flow t0 NaN", err("`t0`"), lambda: fr.flow(rot, X, float("nan"), 1.0))
case("flow x0 NaN", err("`x0`"), lambda: fr.flow(rot, nan(X), 0.0, 1.0))
case("flow x0 empty", err("`x0`"), lambda: fr.flow(rot, X[:0], 0.0, 1.0))
case("flow x0 str", err("`x0`"), lambda: fr.flow(rot, "abc", 0.0, 1.0))
case(
    "flow solver foo",
    err("`solver`", "foo"),
    lambda: fr.flow(rot, X, 0.0, 1.0, solver="foo"),
)
case(
    "flow dim mismatch",
    err("dimension", "d="),
    lambda: fr.flow(FIELD, jnp.ones((4, 3)), 0.0, 1.0),
)
cr, sr = math.cos(1.0), math.sin(1.0)
rot_ref = f64(X) @ np.array([[cr, sr], [-sr, cr]])
case(
    "flow rotation float32",
    ok(close(rot_ref, 1e-4, get=lambda r: r.xs)),
    lambda: fr.flow(rot, X, 0.0, 1.0),
)
case(
    "flow rotation bfloat16",
    ok(
        close(
            f64(X.astype(jnp.bfloat16)) @ np.array([[cr, sr], [-sr, cr]]),
            1e-3,
            get=lambda r: r.xs,
        )
    ),
    lambda: fr.flow(rot, X.astype(jnp.bfloat16), 0.0, 1.0),
)
case(
    "flow rotation float16",
    ok(finite),
    lambda: fr.flow(rot, X.astype(jnp.float16), 0.0, 1.0).xs,
)
case(
    "flow rotation int",
    ok(finite),
    lambda: fr.flow(rot, jnp.ones((3, 2), jnp.int32), 0.0, 1.0).xs,
)
case(
    "flow NaN field",
    err("NaN", "field"),
    lambda: fr.flow(lambda t, x, a: x * jnp.nan, X, 0.0, 1.0).xs,
)
case(
    "flow blow-up",
    err("diverged", "blew up", "blow"),
    lambda: fr.flow(lambda t, x, a: x**3, X * 10, 0.0, 10.0).xs,
)
case(
    "flow jit x0 NaN",
    err("`x0`", "NaN"),
    lambda: jax.jit(lambda x: fr.flow(rot, x, 0.0, 1.0).xs)(nan(X)),
)
case(
    "euler_network depth 1e8",
    err("depth", "memory", "MemoryError"),
    lambda: fr.euler_network(FIELD, 10**8),
)
case("euler_network depth 0", err("`depth`"), lambda: fr.euler_network(FIELD, 0))
case("euler_network depth 2.5", err("`depth`"), lambda: fr.euler_network(FIELD, 2.5))
case("euler_network depth True", err("`depth`"), lambda: fr.euler_network(FIELD, True))
case(
    "RidgeletField.random num_units 0",
    err("`num_units`"),
    lambda: fr.RidgeletField.random(K, 2, 0),
)
case(
    "RidgeletField.random dim 2.5",
    err("`dim`"),
    lambda: fr.RidgeletField.random(K, 2.5, 4),
)
SRC, TGT = X64[:16], Y64[:16]
case(
    "fit epsilon 0",
    err("`epsilon`"),
    lambda: fr.fit(FIELD, SRC, TGT, key=K, epsilon=0.0, steps=1),
)
case(
    "fit learning_rate -1",
    err("`learning_rate`"),
    lambda: fr.fit(FIELD, SRC, TGT, key=K, learning_rate=-1.0, steps=1),
)
case("fit steps 2.5", err("`steps`"), lambda: fr.fit(FIELD, SRC, TGT, key=K, steps=2.5))
case(
    "fit batch_size 0",
    err("`batch_size`"),
    lambda: fr.fit(FIELD, SRC, TGT, key=K, batch_size=0, steps=1),
)
case(
    "fit NaN source",
    err("`source`"),
    lambda: fr.fit(FIELD, nan(SRC), TGT, key=K, steps=1),
)
case(
    "fit under jit",
    err("jittable"),
    lambda: jax.jit(lambda s: fr.fit(FIELD, s, TGT, key=K, steps=1)[1]["loss"])(SRC),
)
case(
    "fit loss foo",
    err("`loss`", "foo"),
    lambda: fr.fit(FIELD, SRC, TGT, key=K, loss="foo", steps=1),
)
case("mse_loss shape mismatch", err("`x`", "`y`"), lambda: fr.mse_loss(X, Y[:5]))
case("sinkhorn_loss epsilon -1", err("`epsilon`"), lambda: fr.sinkhorn_loss(X, Y, -1.0))
case("sinkhorn_loss NaN", err("`x`"), lambda: fr.sinkhorn_loss(nan(X), Y))
case(
    "sinkhorn_loss shift 1e4 f32",
    ok(close(lambda: float(fr.sinkhorn_loss(X64, Y64, 0.05)), 1e-3, atol=1e-4)),
    lambda: fr.sinkhorn_loss((X64 + 1e4).astype(F32), (Y64 + 1e4).astype(F32), 0.05),
)

# ----------------------------------------------------------- width / ridgelets

A6, B6 = jnp.asarray(RNG.normal(size=(6, 2))), jnp.asarray(RNG.normal(size=(6,)))
WX = jnp.full(48, 1 / 48)
rho = fr.GaussianDerivative(2) if hasattr(fr, "GaussianDerivative") else None
case(
    "GaussianDerivative 2000", err("`k`", "order"), lambda: fr.GaussianDerivative(2000)
)
case("GaussianDerivative -1", err("`k`", "order"), lambda: fr.GaussianDerivative(-1))
case("GaussianDerivative 2.5", err("`k`", "order"), lambda: fr.GaussianDerivative(2.5))
case(
    "GaussianDerivative True", err("`k`", "order"), lambda: fr.GaussianDerivative(True)
)
case(
    "ridgelet_transform NaN x",
    err("`x`"),
    lambda: fr.ridgelet_transform(jnp.sin, rho, A6, B6, nan(X64), WX),
)
case(
    "ridgelet_transform w mismatch",
    err("`w`"),
    lambda: fr.ridgelet_transform(jnp.sin, rho, A6, B6, X64, WX[:5]),
)
case(
    "ridgelet_transform a dim",
    err("`a`"),
    lambda: fr.ridgelet_transform(jnp.sin, rho, jnp.ones((6, 3)), B6, X64, WX),
)
case(
    "ridgelet_transform bfloat16 x",
    ok(),
    lambda: fr.ridgelet_transform(
        lambda x: jnp.sin(x[..., 0]), rho, A6, B6, X.astype(jnp.bfloat16), WX
    ),
)
case(
    "ridgelet_transform rho str",
    err("`rho`"),
    lambda: fr.ridgelet_transform(jnp.sin, "abc", A6, B6, X64, WX),
)
case(
    "ridgelet_transform chunk_size 0",
    err("`chunk_size`"),
    lambda: fr.ridgelet_transform(jnp.sin, rho, A6, B6, X64, WX, chunk_size=0),
)
case(
    "dual_ridgelet_transform NaN gamma",
    err("`gamma`"),
    lambda: fr.dual_ridgelet_transform(
        jnp.ones(6).at[0].set(jnp.nan), jnp.tanh, A6, B6, None, X64
    ),
)
case(
    "gaussian_ridgelet_transform non-PD",
    err("`cov`"),
    lambda: fr.gaussian_ridgelet_transform(A6, B6, M2, S_indef, 2),
)
case(
    "antiderivative sin(50 z)",
    err("`sigma`"),
    lambda: fr.antiderivative(lambda z: jnp.sin(50 * z)),
)
case(
    "antiderivative cos(200z)exp(-z^2/100)",
    err("`sigma`"),
    lambda: fr.antiderivative(lambda z: jnp.cos(200 * z) * jnp.exp(-(z**2) / 100)),
)
case(
    "antiderivative cos closed form",
    ok(close(np.sin(np.linspace(-500, 500, 11)), 1e-9, atol=1e-9)),
    lambda: fr.antiderivative(jnp.cos)(jnp.linspace(-500.0, 500.0, 11)),
)
case("record_tracks wrong model", err("`model`"), lambda: fr.record_tracks(3, X))
case(
    "record_tracks NaN x",
    err("`x`"),
    lambda: fr.record_tracks(eqx.nn.MLP(2, 2, 4, 1, key=K), nan(X)),
)

# ------------------------------------------------------------------ paths

TMP = pathlib.Path(tempfile.mkdtemp(prefix="flowrep-harness-"))
(TMP / "adir").mkdir()
(TMP / "corrupt.eqx").write_bytes(b"not a checkpoint at all")
fr.save_field(TMP / "good.eqx", FIELD)
(TMP / "trunc.eqx").write_bytes((TMP / "good.eqx").read_bytes()[:40])
OTHER = fr.RidgeletField.random(jr.PRNGKey(3), 3, 5)
case(
    "save_field missing dir",
    err("`path`", "directory", str(TMP / "missing")),
    lambda: fr.save_field(TMP / "missing" / "f.eqx", FIELD),
)
case(
    "save_field path is a dir",
    err("`path`", "directory"),
    lambda: fr.save_field(TMP / "adir", FIELD),
)
case(
    "save_field unwritable",
    err("`path`", "permission", "writable", "read-only"),
    lambda: fr.save_field("/proc/flowrep-harness.eqx", FIELD),
)
case("save_field path int", err("`path`"), lambda: fr.save_field(3, FIELD))
case(
    "load_field corrupt",
    err("corrupt", "checkpoint", "`path`"),
    lambda: fr.load_field(TMP / "corrupt.eqx", FIELD),
)
case(
    "load_field truncated",
    err("truncated", "corrupt", "checkpoint"),
    lambda: fr.load_field(TMP / "trunc.eqx", FIELD),
)
case(
    "load_field template mismatch",
    err("`like`", "template", "match"),
    lambda: fr.load_field(TMP / "good.eqx", OTHER),
)
case(
    "load_field missing",
    err("`path`", "exist", "No such", "No saved field"),
    lambda: fr.load_field(TMP / "nope.eqx", FIELD),
)


def roundtrip():
    fr.save_field(TMP / "model", FIELD)
    return fr.load_field(TMP / "model", FIELD).c


case("save/load_field no extension", ok(close(f64(FIELD.c), 0.0)), roundtrip)


def cli(*argv):
    def run():
        r = subprocess.run(
            [sys.executable, "-m", "flowrep", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if r.returncode == 0:
            return "exit 0"
        raise ValueError(
            r.stderr.strip().splitlines()[-1]
            if r.stderr.strip()
            else f"exit {r.returncode}"
        )

    return run


USER = TMP / "user"
USER.mkdir()
(USER / "mine.txt").write_text("the user's own file")


def cli_user_dir():
    try:
        cli("reproduce", "admissibility-table", "--out", str(USER))()
    finally:
        if not (USER / "mine.txt").exists():
            raise AssertionError("the user's file in --out was deleted")


case("cli --out non-empty user dir", err("--out", "`--out`"), cli_user_dir)
case("cli --out /", err("--out"), cli("reproduce", "admissibility-table", "--out", "/"))
case("cli --out ''", err("--out"), cli("reproduce", "admissibility-table", "--out", ""))


# ------------------------------------------------------------------ runner


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


ALLOWED = (
    TypeError,
    ValueError,
    FloatingPointError,
    MemoryError,
    OverflowError,
    OSError,
    NotImplementedError,
    RuntimeError,
)


def judge(expect, fn, timeout):
    kind, arg = expect
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        out = fn()
        out = jax.block_until_ready(out) if not isinstance(out, str) else out
    except Hang:
        return "hang", f"no answer in {timeout} s"
    except Exception as e:  # noqa: BLE001
        signal.alarm(0)
        msg = f"{type(e).__name__}: {e}"
        first = str(e).strip().splitlines()
        brief = next(
            (ln for ln in first if "Error" in ln or "`" in ln),
            first[0] if first else "",
        )[:240]
        if kind == "ok":
            return "crash", f"{type(e).__name__}: {brief}"
        internal = (
            isinstance(e, UNSAFE_ERR)
            or "TracerBoolConversion" in type(e).__name__
            or "Concretization" in type(e).__name__
        )
        if (
            internal
            or not isinstance(e, ALLOWED + (eqx.EquinoxRuntimeError,))
            and "Xla" not in type(e).__name__
            and "Jax" not in type(e).__name__
        ):
            return "crash", f"{type(e).__name__}: {brief}"
        # the argument's name, with or without backticks
        if not any(n.strip("`").lower() in msg.lower() for n in arg):
            return "unnamed", f"{type(e).__name__}: {brief}"
        return None, f"{type(e).__name__}: {brief}"
    finally:
        signal.alarm(0)
    if kind == "err":
        bad = finite(out) if not isinstance(out, str) else None
        return (
            "silent",
            f"returned {'non-finite output' if bad else 'a value'} instead of an error ({bad or out if isinstance(out, str) else bad or 'finite'})",
        )
    problem = arg(out)
    return (None, "ok") if problem is None else ("silent", problem)


def main():
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument(
        "-k", default="", help="run only calls whose name contains this (several: A|B)"
    )
    p.add_argument("-v", action="store_true", help="print every call")
    p.add_argument("--timeout", type=int, default=120, help="seconds per call")
    a = p.parse_args()
    keys = a.k.split("|")
    calls = [c for c in CALLS if any(k in c[0] for k in keys)]
    fails = []
    t0 = time.time()
    for i, (name, expect, fn) in enumerate(calls):
        try:
            kind, why = judge(expect, fn, a.timeout)
        except Exception:  # noqa: BLE001  (a failure of the harness itself)
            kind, why = "crash", traceback.format_exc().splitlines()[-1]
        if kind:
            fails.append((kind, name, why))
        if a.v or kind:
            print(
                f"[{i + 1}/{len(calls)}] {'FAIL ' + kind if kind else 'ok'}: {name}: {why}",
                flush=True,
            )
    print()
    print(f"{len(calls)} calls, {len(fails)} failures ({time.time() - t0:.0f} s)")
    for k in ("silent", "crash", "hang", "unnamed"):
        n = sum(f[0] == k for f in fails)
        if n:
            print(f"  {k}: {n}")
    for kind, name, why in fails:
        print(f"  - [{kind}] {name}: {why}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
