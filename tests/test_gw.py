"""Coordinate-free scores: Gromov-Wasserstein between layers (ott-jax) against
a brute-force bracket, invariance under unit permutations and rotations."""

import itertools

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.optimize

import flowrep
from flowrep._transport._gw import gw_objective, identity_objective


def _sq(x):
    x = np.asarray(x)
    return np.sum((x[:, None] - x[None]) ** 2, -1)


def _brute_bracket(x, y):
    """[lower, upper] for GW^2 between uniform clouds of equal size n: upper is
    the best permutation (exhaustive), lower Mémoli's third lower bound
    min_P sum_ij P_ij W2^2(c_x(i, .), c_y(j, .)) (exact 1-D OT of the rows)."""
    cx, cy = _sq(x), _sq(y)
    n = cx.shape[0]
    best = min(
        np.mean((cx - cy[np.ix_(p, p)]) ** 2)
        for p in map(list, itertools.permutations(range(n)))
    )
    rx, ry = np.sort(cx, 1), np.sort(cy, 1)
    cost = np.mean((rx[:, None, :] - ry[None, :, :]) ** 2, -1)
    r, c = scipy.optimize.linear_sum_assignment(cost)
    return cost[r, c].mean(), best


def test_objective_formulas_against_brute_force(getkey):
    x, y = jr.normal(getkey(), (7, 3)), jr.normal(getkey(), (7, 2))
    P = np.asarray(jr.uniform(getkey(), (7, 7)))
    P = P / P.sum()
    Pj = jnp.asarray(P)
    val = gw_objective(x, y, lambda B: Pj @ B, lambda A: Pj.T @ A)
    cx, cy = _sq(x), _sq(y)
    brute = np.einsum("ik,jm,ij,km->", np.ones((7, 7)), np.ones((7, 7)), P, P) * 0
    brute = sum(
        (cx[i, k] - cy[j, m]) ** 2 * P[i, j] * P[k, m]
        for i, j, k, m in itertools.product(range(7), repeat=4)
    )
    assert float(val) == pytest.approx(brute, rel=1e-10)
    assert float(identity_objective(x, y)) == pytest.approx(
        np.mean((cx - cy) ** 2), rel=1e-10
    )


def _identity_brute(x, y):
    """delta^2 pair by pair, in float64, from the given points."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.mean((_sq(x - x.mean(0)) - _sq(y - y.mean(0))) ** 2)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("n, dx, dy", [(300, 3, 5), (6, 8, 8), (200, 40, 24)])
def test_identity_objective_against_pairwise(getkey, dtype, n, dx, dy):
    # (6, 8, 8): fewer samples than the QR's columns, R is wide.
    x = (jr.normal(getkey(), (n, dx)) * 3.0 + 7.0).astype(dtype)
    y = (jnp.tanh(x @ jr.normal(getkey(), (dx, dy))) + 0.1).astype(dtype)
    centre = lambda a: a - jnp.mean(a, 0)  # noqa: E731
    got = float(identity_objective(centre(x), centre(y)))
    rtol = 1e-4 if dtype == jnp.float32 else 1e-10
    assert got == pytest.approx(_identity_brute(x, y), rel=rtol)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_identity_objective_of_near_isometric_layers(getkey, dtype):
    # delta is not computed by cancellation: an isometric pair reads it at the
    # rounding of the points, and a pair whose distances moved by 1e-6..1e-3
    # (delta 1e-5..1e-2 of an unrelated pair's) is measured, not lost. The
    # earlier expansion, ||X'X||^2 + ||Y'Y||^2 - 2||X'Y||^2, had an error
    # floor of sqrt(eps): in float32 it read 0 or 0.09 at n = 2000 (3e-3 of
    # the unrelated pair's delta, depending on the rounding) for any of these.
    n, d = 500, 64
    x = jr.normal(getkey(), (n, d)).astype(dtype)
    Q = jnp.linalg.qr(jr.normal(getkey(), (d, d)))[0].astype(dtype)
    z = jr.normal(getkey(), (n, d)).astype(dtype)
    centre = lambda a: a - jnp.mean(a, 0)  # noqa: E731
    delta = lambda a, b: float(jnp.sqrt(identity_objective(centre(a), centre(b))))  # noqa: E731
    unrelated = delta(x, z)
    eps = float(jnp.finfo(dtype).eps)
    assert unrelated > 10
    assert delta(x, x @ Q + 1.5) < 20 * eps * unrelated
    noise = jr.normal(getkey(), (n, d)).astype(dtype)
    for size in (1e-6, 1e-5, 1e-4, 1e-3):
        if dtype == jnp.float32 and size < 1e-5:
            continue  # below float32's rounding of the points
        y = (x + size * noise) @ Q + 1.5
        ref = np.sqrt(_identity_brute(x, y))
        assert ref > 1e-6 * unrelated
        assert delta(x, y) == pytest.approx(
            ref, rel=5e-2 if dtype == jnp.float32 else 1e-6
        )


def test_isometric_first_and_last_layers_are_refused(getkey):
    x = jr.normal(getkey(), (50, 3))
    Q = jnp.linalg.qr(jr.normal(getkey(), (3, 3)))[0]
    z = jr.normal(getkey(), (50, 3))
    with pytest.raises(ValueError, match="isometric"):
        flowrep.coordinate_free_scores(flowrep.Tracks([x, z, x @ Q + 2.0]))
    # a near-isometric last layer (distances moved by ~1e-4) is scored
    near = (x + 1e-4 * jr.normal(getkey(), (50, 3))) @ Q
    out = flowrep.coordinate_free_scores(flowrep.Tracks([x, z, near]))
    assert 0 < float(out.dm_from_source[-1]) < 1e-2


def test_gw_within_brute_force_bracket(getkey):
    x = jr.normal(getkey(), (5, 2))
    z = jr.normal(getkey(), (5, 2)) * jnp.array([2.0, 0.3])
    out = flowrep.coordinate_free_scores(flowrep.Tracks([x, z]))
    lo, hi = _brute_bracket(x, z)
    gw_sq = float(out.layer_gw[0]) ** 2
    assert lo > 0
    assert lo * (1 - 1e-6) <= gw_sq <= hi * 1.05
    assert float(out.gw_path_ratio) == pytest.approx(1.0)
    assert bool(out.converged)


def test_gw_of_isometric_layers_is_zero(getkey):
    n = 24
    x = jr.normal(getkey(), (n, 3))
    Q = jnp.linalg.qr(jr.normal(getkey(), (3, 3)))[0]
    rot = x @ Q + 1.5  # same samples, rotated and shifted coordinates
    shuffled = rot[jr.permutation(getkey(), n)]  # and the samples reordered
    z = jr.normal(getkey(), (n, 3)) * jnp.array([2.0, 0.5, 1.0])
    out = flowrep.coordinate_free_scores(flowrep.Tracks([x, rot, z]))
    out2 = flowrep.coordinate_free_scores(flowrep.Tracks([x, shuffled, z]))
    big = float(out.layer_gw[1])
    assert big > 0.5
    assert float(out.layer_gw[0]) < 1e-2 * big
    assert float(out2.layer_gw[0]) < 1e-2 * big
    assert float(out.layer_dm[0]) < 1e-12 and float(out.layer_dm[1]) > 0.5
    # delta is the GW objective at the identity coupling, so it bounds GW.
    assert float(out.layer_gw[1]) <= float(out.layer_dm[1]) * (1 + 1e-6)
    # The default epsilon and caps converge on typical pairs.
    assert bool(out.converged) and bool(out2.converged)


class _MLP(eqx.Module):
    Ws: list
    bs: list

    def layers(self, act):
        return [
            (
                lambda v, W=W, b=b, last=(i == len(self.Ws) - 1): (
                    (W @ v + b) if last else act(W @ v + b)
                )
            )
            for i, (W, b) in enumerate(zip(self.Ws, self.bs))
        ]


def _permute_hidden(mlp, key):
    Ws, bs = list(mlp.Ws), list(mlp.bs)
    for i in range(len(Ws) - 1):
        p = jr.permutation(jr.fold_in(key, i), Ws[i].shape[0])
        Ws[i], bs[i] = Ws[i][p], bs[i][p]
        Ws[i + 1] = Ws[i + 1][:, p]
    return _MLP(Ws, bs)


def _rescale_hidden(mlp, key):
    Ws, bs = list(mlp.Ws), list(mlp.bs)
    a = jr.uniform(key, (Ws[0].shape[0],), minval=0.3, maxval=3.0)
    Ws[0], bs[0] = Ws[0] * a[:, None], bs[0] * a
    Ws[1] = Ws[1] / a
    return _MLP(Ws, bs)


def test_mlp_unit_permutation_invariance(getkey):
    widths = (3, 8, 6, 2)
    mlp = _MLP(
        [
            jr.normal(getkey(), (o, i)) / np.sqrt(i)
            for i, o in zip(widths[:-1], widths[1:])
        ],
        [0.1 * jr.normal(getkey(), (o,)) for o in widths[1:]],
    )
    x = jr.normal(getkey(), (24, 3))
    relu = lambda v: jnp.maximum(v, 0)  # noqa: E731
    tr = flowrep.record_tracks(mlp.layers(relu), x)
    perm = _permute_hidden(mlp, getkey())
    trp = flowrep.record_tracks(perm.layers(relu), x)
    np.testing.assert_allclose(
        np.asarray(trp.target), np.asarray(tr.target), atol=1e-12
    )
    a = flowrep.coordinate_free_scores(tr)
    b = flowrep.coordinate_free_scores(trp)
    for name in (
        "layer_gw",
        "gw_path_ratio",
        "layer_dm",
        "dm_path_ratio",
        "dm_from_source",
    ):
        np.testing.assert_allclose(
            np.asarray(getattr(b, name)),
            np.asarray(getattr(a, name)),
            rtol=1e-6,
            atol=1e-9,
        )
    # The common-embedding scores do depend on the units' order.
    sa, sb = flowrep.score_tracks(tr), flowrep.score_tracks(trp)
    assert abs(float(sa.lss) - float(sb.lss)) > 1e-3
    # A positive per-unit rescaling of ReLU units keeps the function, but it is
    # not an isometry of the hidden layer: the coordinate-free scores change.
    res = _rescale_hidden(mlp, getkey())
    trr = flowrep.record_tracks(res.layers(relu), x)
    np.testing.assert_allclose(
        np.asarray(trr.target), np.asarray(tr.target), atol=1e-12
    )
    c = flowrep.coordinate_free_scores(trr)
    assert abs(float(c.layer_dm[0]) - float(a.layer_dm[0])) > 1e-2 * float(
        a.layer_dm[0]
    )
    d = a.to_dict()
    assert d["method"] == "entropic" and len(d["layer_gw"]) == 3


def test_low_rank_and_subsampling(getkey):
    n = 40
    x = jr.normal(getkey(), (n, 3))
    z = jnp.tanh(2 * x) @ jr.normal(getkey(), (3, 4))
    out = flowrep.coordinate_free_scores(flowrep.Tracks([x, z]), rank=5)
    assert out.method == "low-rank" and np.isfinite(float(out.layer_gw[0]))
    lo = _tlb(x, z)
    assert float(out.layer_gw[0]) ** 2 >= lo * (
        1 - 1e-6
    )  # any coupling is above the bound
    sub = flowrep.coordinate_free_scores(
        flowrep.Tracks([x, z]), max_samples=10, key=getkey()
    )
    assert sub.num_samples == 10 and out.num_samples == n


def _tlb(x, y):
    cx, cy = _sq(x), _sq(y)
    rx, ry = np.sort(cx, 1), np.sort(cy, 1)
    cost = np.mean((rx[:, None, :] - ry[None, :, :]) ** 2, -1)
    r, c = scipy.optimize.linear_sum_assignment(cost)
    return cost[r, c].mean()


def test_coordinate_free_errors(getkey):
    x = jr.normal(getkey(), (6, 2))
    tr = flowrep.Tracks([x, 2 * x])
    with pytest.raises(ValueError, match="rank"):
        flowrep.coordinate_free_scores(tr, rank=0)
    with pytest.raises(ValueError, match="rank"):
        flowrep.coordinate_free_scores(tr, rank=7)
    with pytest.raises(ValueError, match="epsilon"):
        flowrep.coordinate_free_scores(tr, epsilon=-1.0)
    with pytest.raises(ValueError, match="max_samples"):
        flowrep.coordinate_free_scores(tr, max_samples=0)
    with pytest.raises(ValueError, match="threshold"):
        flowrep.coordinate_free_scores(tr, threshold=0.0)
    with pytest.raises(ValueError, match="outer_iterations"):
        flowrep.coordinate_free_scores(tr, outer_iterations=0)
    with pytest.raises(ValueError, match="isometric"):
        flowrep.coordinate_free_scores(
            flowrep.Tracks([x, x @ jnp.array([[0.0, 1.0], [1.0, 0.0]])])
        )
