"""Hypothesis property tests: translation invariance and scale equivariance.

The fixed grid of tests/test_invariance.py checks a few chosen (offset, scale)
pairs; here hypothesis draws them: offsets up to 1e4 per coordinate, scales
1e-3 to 1e4, float32 and float64 (docs/theory/scores.md: W2, OT_eps, the
scores and the k-NN entropy are exactly invariant under a common translation
and scale as scale**2, the entropy as + d log scale). For each draw, two
comparisons:

- against a float64 reference on the *same* (rounded) inputs: scipy's
  assignment, the Bures closed form, a k-d tree, or flowrep itself in float64
  for Sinkhorn; this measures only the routine's own rounding (~1e-5 relative);
- against the unshifted, unscaled result, to within what the rounding of the
  inputs allows: a float32 coordinate of size |c| + 3s is off by up to
  u (|c| + 3s), i.e. u (|c|/s + 3) in units of the cloud's scale.

In float32 the offset/scale ratio is kept below 1e5 (beyond it the rounded
inputs no longer hold the cloud's shape, and there is nothing to compare).
Shapes are fixed so every routine compiles once per dtype.
"""

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy.spatial import KDTree

import flowrep

from ._references import bures_ref, exact_ref, knn_ref, rel


# The default run draws a few float32 cases (float32 is where shifts broke:
# each case also runs the float64 reference); the slow run draws many, in both
# dtypes. Compiles dominate the default run (once per routine and dtype).
FAST = settings(max_examples=4, deadline=None, derandomize=True)
SLOW = settings(max_examples=60, deadline=None)

offsets = st.floats(-1e4, 1e4, allow_nan=False)
log_scales = st.floats(-3.0, 4.0, allow_nan=False)
dtypes = st.sampled_from([np.float32, np.float64])
fast_dtypes = st.just(np.float32)
seeds = st.integers(0, 2**16)


def _unit(dtype) -> float:
    return float(np.finfo(dtype).eps)


def _input_tol(offset, scale, dtype) -> float:
    """Relative change of a squared-distance result that the rounding of the
    shifted, scaled inputs alone can cause (with a safety factor)."""
    return 50 * _unit(dtype) * (abs(offset) / scale + 3.0)


def _draw(offset, log_scale, dtype, seed, n=24, m=24, d=2):
    scale = 10.0**log_scale
    if dtype == np.float32:
        assume(abs(offset) / scale < 1e5)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(m, d)) @ np.array([[1.3, 0.4], [0.0, 0.7]]) + 0.8
    c = offset * np.array([1.0, -0.5])
    base = x.astype(dtype), y.astype(dtype)
    moved = (scale * x + c).astype(dtype), (scale * y + c).astype(dtype)
    return scale, base, moved


def _f64(a):
    return np.asarray(a, np.float64)


# ---------------------------------------------------------------- W2 methods


def _check_w2_closed(method, ref, offset, log_scale, dtype, seed):
    scale, (x0, y0), (x, y) = _draw(offset, log_scale, dtype, seed)
    out = flowrep.wasserstein2(x, y, method=method)
    assert out.cost.dtype == dtype
    assert np.isfinite(float(out.cost))
    assert rel(out.cost, ref(x, y)) < 1e-5
    base = flowrep.wasserstein2(x0, y0, method=method).cost
    assert rel(out.cost, float(base) * scale**2) < 1e-5 + _input_tol(
        offset, scale, dtype
    )


@pytest.mark.parametrize("method,ref", [("exact", exact_ref), ("gaussian", bures_ref)])
@FAST
@given(offsets, log_scales, fast_dtypes, seeds)
def test_w2_closed_methods(method, ref, offset, log_scale, dtype, seed):
    _check_w2_closed(method, ref, offset, log_scale, dtype, seed)


@pytest.mark.slow
@pytest.mark.parametrize("method,ref", [("exact", exact_ref), ("gaussian", bures_ref)])
@SLOW
@given(offsets, log_scales, dtypes, seeds)
def test_w2_closed_methods_many(method, ref, offset, log_scale, dtype, seed):
    _check_w2_closed(method, ref, offset, log_scale, dtype, seed)


def _check_sinkhorn(offset, log_scale, dtype, seed):
    scale, (x0, y0), (x, y) = _draw(offset, log_scale, dtype, seed)
    # relative epsilon (the default): epsilon scales with the cloud, so the
    # entropic problem is the same one in the cloud's own units
    thr = 1e-5 if dtype == np.float32 else 1e-9
    kw: dict[str, Any] = dict(threshold=thr, max_iterations=5000)
    div = flowrep.wasserstein2(x, y, method="sinkhorn", **kw).cost
    div64 = flowrep.wasserstein2(_f64(x), _f64(y), method="sinkhorn", **kw).cost
    assert div.dtype == dtype and np.isfinite(float(div))
    assert rel(div, div64) < 1e-4
    cross = flowrep.sinkhorn(x, y, **kw)
    cross64 = flowrep.sinkhorn(_f64(x), _f64(y), **kw)
    assert np.isfinite(float(cross.reg_ot_cost))
    assert rel(cross.reg_ot_cost, cross64.reg_ot_cost) < 1e-5
    assert rel(cross.epsilon, cross64.epsilon) < 1e-5
    tol = 1e-4 + _input_tol(offset, scale, dtype)
    base = flowrep.wasserstein2(x0, y0, method="sinkhorn", **kw).cost
    assert rel(div, float(base) * scale**2) < tol
    base_cross = flowrep.sinkhorn(x0, y0, **kw).reg_ot_cost
    assert rel(cross.reg_ot_cost, float(base_cross) * scale**2) < tol


@FAST
@given(offsets, log_scales, fast_dtypes, seeds)
def test_sinkhorn(offset, log_scale, dtype, seed):
    _check_sinkhorn(offset, log_scale, dtype, seed)


@pytest.mark.slow
@SLOW
@given(offsets, log_scales, dtypes, seeds)
def test_sinkhorn_many(offset, log_scale, dtype, seed):
    _check_sinkhorn(offset, log_scale, dtype, seed)


# ------------------------------------------------------------------ entropy


def _check_knn(offset, log_scale, dtype, seed):
    scale, (x0, _), (x, _) = _draw(offset, log_scale, dtype, seed, n=100, m=1)
    est = flowrep.knn_entropy(x, k=3)
    assert est.dtype == dtype
    ref = knn_ref(x, 3)
    assert abs(float(est) - ref) < 1e-5 * max(1.0, abs(ref))
    # H(s X + c) = H(X) + d log s; a k-NN radius r moves by ~rounding/r
    base = float(flowrep.knn_entropy(x0, k=3))
    r_min = KDTree(_f64(x0)).query(_f64(x0), 4)[0][:, 3].min()
    tol = 1e-5 + 2 * _input_tol(offset, scale, dtype) / r_min
    assert abs(float(est) - (base + 2 * np.log(scale))) < tol


@FAST
@given(offsets, log_scales, fast_dtypes, seeds)
def test_knn_entropy(offset, log_scale, dtype, seed):
    _check_knn(offset, log_scale, dtype, seed)


@pytest.mark.slow
@SLOW
@given(offsets, log_scales, dtypes, seeds)
def test_knn_entropy_many(offset, log_scale, dtype, seed):
    _check_knn(offset, log_scale, dtype, seed)


# ------------------------------------------------------------------- scores


def _tracks(offset, log_scale, dtype, seed, n=16):
    scale = 10.0**log_scale
    if dtype == np.float32:
        assume(abs(offset) / scale < 1e5)
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(n, 2))
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    t = np.linspace(0, 1, 4)[:, None, None]
    tr = (1 - t) * x0 + t * (2 * x0 @ rot + 1.0)
    c = offset * np.array([0.6, 0.8])
    return scale, tr.astype(dtype), (scale * tr + c).astype(dtype)


def _check_scores(method, offset, log_scale, dtype, seed):
    scale, tr0, tr = _tracks(offset, log_scale, dtype, seed)
    out = flowrep.score_tracks(tr, method=method, threshold=1e-6)
    ref = flowrep.score_tracks(_f64(tr), method=method, threshold=1e-6)
    assert out.w2_sq.dtype == dtype
    own = 1e-5 if method == "exact" else 1e-4
    for name in ("w2_sq", "c_net", "cost_ratio"):
        got = getattr(out, name)
        assert np.isfinite(float(got)), name
        assert rel(got, getattr(ref, name)) < own, name
    if method == "exact":
        p = _f64(tr)
        assert rel(out.w2_sq, exact_ref(p[0], p[-1])) < 1e-5
    base = flowrep.score_tracks(tr0, method=method, threshold=1e-6)
    tol = own + _input_tol(offset, scale, dtype)
    assert rel(out.w2_sq, float(base.w2_sq) * scale**2) < tol
    assert rel(out.cost_ratio, base.cost_ratio) < 2 * tol


# Sinkhorn scores compile three solver graphs per dtype: slow tests only.
@pytest.mark.parametrize(
    "method", ["exact", pytest.param("sinkhorn", marks=pytest.mark.slow)]
)
@FAST
@given(offsets, log_scales, fast_dtypes, seeds)
def test_score_tracks(method, offset, log_scale, dtype, seed):
    _check_scores(method, offset, log_scale, dtype, seed)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["exact", "sinkhorn"])
@SLOW
@given(offsets, log_scales, dtypes, seeds)
def test_score_tracks_many(method, offset, log_scale, dtype, seed):
    _check_scores(method, offset, log_scale, dtype, seed)
