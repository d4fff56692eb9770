"""Tracks of changing width: the zero-padded common embedding, user isometric
embeddings, record_tracks with width-changing layers, PCA/JL projections."""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep


def _layers(getkey, n=12, widths=(2, 5, 3)):
    return [jr.normal(getkey(), (n, w)) for w in widths]


def test_padded_embedding_equals_hand_padding(getkey):
    layers = _layers(getkey)
    tr = flowrep.Tracks(layers)
    assert tr.widths == (2, 5, 3) and tr.dim == 5 and tr.points.shape == (3, 12, 5)
    hand = np.stack(
        [np.pad(np.asarray(p), ((0, 0), (0, 5 - p.shape[1]))) for p in layers]
    )
    np.testing.assert_array_equal(np.asarray(tr.points), hand)
    for idx, p in enumerate(layers):
        np.testing.assert_array_equal(np.asarray(tr.layer(idx)), np.asarray(p))
    a = flowrep.score_tracks(tr).to_dict()
    b = flowrep.score_tracks(jnp.asarray(hand)).to_dict()
    assert a == b
    # A padded array with stated widths is the same tracks.
    tr2 = flowrep.Tracks(jnp.asarray(hand), widths=(2, 5, 3))
    np.testing.assert_array_equal(np.asarray(tr2.layer(0)), np.asarray(layers[0]))
    with pytest.raises(IndexError, match="out of range"):
        tr.layer(3)


def test_user_isometric_embedding(getkey):
    layers = _layers(getkey)
    D = 6
    mats = [jnp.linalg.qr(jr.normal(getkey(), (D, w)))[0].T for w in (2, 5, 3)]
    tr = flowrep.Tracks(layers, embedding=mats)
    assert tr.dim == D and tr.widths == (2, 5, 3)
    for idx, p in enumerate(layers):
        np.testing.assert_allclose(np.asarray(tr.layer(idx)), np.asarray(p), atol=1e-12)
        d0 = np.linalg.norm(np.asarray(p)[:, None] - np.asarray(p)[None], axis=-1)
        q = np.asarray(tr.points[idx])
        d1 = np.linalg.norm(q[:, None] - q[None], axis=-1)
        np.testing.assert_allclose(d1, d0, atol=1e-12)
    # A callable (l, d_l, D) -> (d_l, D) embedding.
    tr3 = flowrep.Tracks(layers, embedding=lambda i, w, D: mats[i])
    np.testing.assert_array_equal(np.asarray(tr3.points), np.asarray(tr.points))


def test_bad_embedding(getkey):
    layers = _layers(getkey)
    good = [jnp.eye(w, 5) for w in (2, 5, 3)]
    with pytest.raises(ValueError, match="not an isometry"):
        flowrep.Tracks(layers, embedding=[2 * good[0], good[1], good[2]])
    with pytest.raises(ValueError, match="shape \\(d_l, D\\)"):
        flowrep.Tracks(layers, embedding=[jnp.eye(3, 5), good[1], good[2]])
    with pytest.raises(ValueError, match="one matrix per layer"):
        flowrep.Tracks(layers, embedding=good[:2])
    with pytest.raises(TypeError, match="embedding"):
        flowrep.Tracks(layers, embedding=3.0)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="sequence of"):
        flowrep.Tracks(jnp.zeros((3, 4, 2)), embedding=good)
    with pytest.raises(ValueError, match="widths"):
        flowrep.Tracks(jnp.zeros((3, 4, 2)), widths=(2, 3, 1))
    with pytest.raises(ValueError, match="widths"):
        flowrep.Tracks(layers, widths=(2, 2, 2))


def test_record_tracks_changing_width(getkey):
    W1, W2 = jr.normal(getkey(), (7, 3)), jr.normal(getkey(), (2, 7))
    conv = lambda v: jnp.stack([v, -v])  # a (2, 2) "feature map": recorded flattened  # noqa: E731
    layers = [lambda v: jnp.tanh(W1 @ v), lambda v: W2 @ v, conv, lambda v: v.sum(0)]
    x = jr.normal(getkey(), (9, 3))
    tr = flowrep.record_tracks(layers, x)
    assert tr.widths == (3, 7, 2, 4, 2)
    h1 = np.tanh(np.asarray(x) @ np.asarray(W1).T)
    h2 = h1 @ np.asarray(W2).T
    np.testing.assert_allclose(np.asarray(tr.layer(1)), h1, atol=1e-12)
    np.testing.assert_allclose(
        np.asarray(tr.layer(3)), np.concatenate([h2, -h2], 1), atol=1e-12
    )
    np.testing.assert_allclose(np.asarray(tr.layer(4)), 0 * h2, atol=1e-12)
    np.testing.assert_allclose(np.asarray(tr.points[2, :, 2:]), 0.0)
    s = flowrep.score_tracks(flowrep.record_tracks(layers[:2], x))
    assert np.isfinite(float(s.lss))


def test_jl_epsilon_solves_the_bound():
    for n, k in [(200, 256), (10_000, 1024), (50, 500)]:
        eps = flowrep.jl_epsilon(n, k)
        assert 0 < eps < 1
        assert k >= 4 * math.log(n) / (eps**2 / 2 - eps**3 / 3) * (1 - 1e-9)
        e2 = eps * 0.999
        assert k < 4 * math.log(n) / (e2**2 / 2 - e2**3 / 3)
    assert flowrep.jl_epsilon(200, 10) == math.inf


def _all_pairs_distortion(x, y):
    x, y = np.asarray(x), np.asarray(y)
    i, j = np.triu_indices(x.shape[0], 1)
    d0 = np.linalg.norm(x[i] - x[j], axis=-1)
    d1 = np.linalg.norm(y[i] - y[j], axis=-1)
    return np.abs(d1 / d0 - 1)


def test_jl_distortion_within_bound(getkey):
    n, d, k = 200, 1024, 256
    x = jr.normal(getkey(), (n, 3))
    wide = jr.normal(getkey(), (n, d)) * jnp.linspace(0.1, 2.0, d)
    tr = flowrep.Tracks([x, wide, x[:, :2]])
    out, rep = tr.project(k, "jl", key=getkey(), num_pairs=2000)
    assert out.widths == (3, k, 2) and rep.widths_before == (3, d, 2)
    bound = float(rep.bound[1])
    eps = flowrep.jl_epsilon(n, k)
    assert bound == pytest.approx(1 - math.sqrt(1 - eps))
    every = _all_pairs_distortion(wide, out.layer(1))
    assert every.max() <= bound  # the Dasgupta-Gupta guarantee, for all pairs
    assert float(rep.max_distortion[1]) <= every.max() + 1e-12
    assert float(rep.mean_distortion[1]) <= float(rep.max_distortion[1])
    assert float(rep.max_distortion[0]) == 0.0 and float(rep.bound[2]) == 0.0
    np.testing.assert_array_equal(np.asarray(out.layer(0)), np.asarray(x))
    d = rep.to_dict()
    assert d["method"] == "jl" and len(d["max_distortion"]) == 3


def test_pca_projection_retained_variance(getkey):
    n, d, r = 80, 40, 4
    low = jr.normal(getkey(), (n, r)) @ jr.normal(getkey(), (r, d)) + 3.0
    noisy = low + 0.05 * jr.normal(getkey(), (n, d))
    tr = flowrep.Tracks([low, noisy])
    out, rep = flowrep.project_tracks(tr, r)
    # An exactly rank-r layer (up to translation) keeps every distance.
    assert float(rep.max_distortion[0]) < 1e-8
    assert float(rep.retained_variance[0]) == pytest.approx(1.0, abs=1e-10)
    ev = np.linalg.eigvalsh(np.cov(np.asarray(noisy).T))[::-1]
    assert float(rep.retained_variance[1]) == pytest.approx(
        ev[:r].sum() / ev.sum(), rel=1e-8
    )
    every = _all_pairs_distortion(noisy, out.layer(1))
    assert float(rep.max_distortion[1]) <= every.max() + 1e-12
    assert np.isnan(float(rep.bound[1]))
    # d > n: the SVD branch.
    wide = jr.normal(getkey(), (10, r)) @ jr.normal(getkey(), (r, 30))
    _, rep2 = flowrep.Tracks([wide, wide[:, :3]]).project(r)
    assert float(rep2.retained_variance[0]) == pytest.approx(1.0, abs=1e-10)


def test_projection_errors(getkey):
    tr = flowrep.Tracks(_layers(getkey))
    with pytest.raises(ValueError, match="width"):
        tr.project(0)
    with pytest.raises(ValueError, match="method"):
        tr.project(2, "svd")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="key"):
        tr.project(2, "jl")
    with pytest.raises(ValueError, match="num_pairs"):
        tr.project(2, num_pairs=0)
    with pytest.raises(TypeError, match="Tracks"):
        flowrep.project_tracks(jnp.zeros((3, 4, 2)), 2)  # pyright: ignore[reportArgumentType]


def test_padded_nonlinearity_finite_in_float32():
    # A narrow layer padded into a wider one has zero-variance coordinates;
    # the affine fit's ridge must sit above float32's precision (was NaN).
    k1, k2 = jr.split(jr.key(0))
    x = jr.normal(k1, (200, 64))
    h = jax.nn.relu(x @ jr.normal(k2, (64, 128)) / 8)
    h2 = jax.nn.relu(h @ jr.normal(k1, (128, 32)) / 11)
    layers = [x, h, h2]
    s64 = flowrep.score_tracks(
        flowrep.Tracks([jnp.asarray(a, jnp.float64) for a in layers])
    )
    s32 = flowrep.score_tracks(
        flowrep.Tracks([jnp.asarray(a, jnp.float32) for a in layers])
    )
    assert s32.nonlinearity.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(s32.nonlinearity)))
    assert jnp.allclose(s32.nonlinearity, s64.nonlinearity, rtol=0.03)
