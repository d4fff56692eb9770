import json

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep


def _straight(x0, xL, L):
    s = jnp.linspace(0, 1, L + 1)[:, None, None]
    return (1 - s) * x0 + s * xL


def test_geodesic_tracks_score_one(getkey):
    # straight, constant-speed tracks along the OT map (an SPD affine map is
    # the Brenier map of any source law)
    x0 = jr.normal(getkey(), (40, 2))
    A = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    sc = flowrep.score_tracks(_straight(x0, x0 @ A + jnp.array([1.0, -1.0]), 4))
    for name in ("lss", "cost_ratio", "kinetic_ratio", "speed_factor", "path_ratio"):
        assert float(getattr(sc, name)) == pytest.approx(1.0, abs=1e-9), name
    assert float(sc.monge_gap) == pytest.approx(0.0, abs=1e-9)
    assert float(sc.matched_fraction) == 1.0
    assert float(sc.speed_cv) == pytest.approx(0.0, abs=1e-7)
    assert np.allclose(sc.interpolant_deviation, 0.0, atol=1e-7)
    # W2 profile of a geodesic: linear in the layer index
    assert np.allclose(
        sc.w2_from_source, np.linspace(0, 1, 5) * np.sqrt(float(sc.w2_sq))
    )
    assert np.allclose(sc.nonlinearity, 0.0, atol=1e-6)  # affine layers
    d = sc.to_dict()
    json.dumps(d)
    assert d["method"] == "exact" and isinstance(d["layer_w2"], list)
    assert d["converged"] is True


def test_zigzag_by_hand():
    # two samples, L = 2: (0,0)->(1,1)->(2,0) and (0,5)->(1,6)->(2,5)
    X = jnp.array(
        [[[0.0, 0.0], [0.0, 5.0]], [[1.0, 1.0], [1.0, 6.0]], [[2.0, 0.0], [2.0, 5.0]]]
    )
    sc = flowrep.score_tracks(X)
    # unit steps (1,1)/sqrt2 + (1,-1)/sqrt2 = (sqrt2, 0): LSS = 2 / sqrt2
    assert float(sc.lss) == pytest.approx(np.sqrt(2), rel=1e-12)
    # pairing is the identity (optimal): c_net = W2^2 = 4
    assert float(sc.cost_ratio) == pytest.approx(1.0, rel=1e-12)
    # E = L * sum_l mean |dx|^2 = 2 * (2 + 2) = 8; E / c_net = 2
    assert float(sc.kinetic_energy) == pytest.approx(8.0, rel=1e-12)
    assert float(sc.kinetic_ratio) == pytest.approx(2.0, rel=1e-12)
    # middle cloud is the final one shifted by (-1, 1): W2 = sqrt2 twice, W2(0,L) = 2
    assert float(sc.path_ratio) == pytest.approx(np.sqrt(2), rel=1e-12)
    # displacement interpolant at s = 1/2 is shifted by (0, -1) from layer 1
    assert float(sc.interpolant_deviation[1]) == pytest.approx(1.0, rel=1e-12)


def test_permuted_pairing_by_hand():
    # 1-D: 0 -> 3 and 1 -> 2 (crossing); optimal is 0 -> 2, 1 -> 3
    X = _straight(jnp.array([[0.0], [1.0]]), jnp.array([[3.0], [2.0]]), 2)
    sc = flowrep.score_tracks(X)
    assert float(sc.c_net) == pytest.approx(5.0)  # (9 + 1) / 2
    assert float(sc.w2_sq) == pytest.approx(4.0)  # (4 + 4) / 2
    assert float(sc.cost_ratio) == pytest.approx(1.25)
    assert float(sc.monge_gap) == pytest.approx(1.0)
    assert float(sc.matched_fraction) == 0.0
    assert float(sc.lss) == pytest.approx(1.0)  # straight lines, wrong pairing
    assert float(sc.kinetic_ratio) == pytest.approx(1.25)  # constant speed
    # mid cloud {1.5, 1.5}; endpoints {0, 1} and {2, 3}: W2 steps sqrt(1.25)
    # twice against W2 = 2, so path ratio = sqrt(1.25)
    assert float(sc.path_ratio) == pytest.approx(np.sqrt(1.25))
    # geodesic mid cloud {1, 2}: W2({1.5, 1.5}, {1, 2}) = 0.5
    assert float(sc.interpolant_deviation[1]) == pytest.approx(0.5)


def test_spd_optimal_rotation_not(getkey):
    x0 = jr.normal(getkey(), (60, 2)) * jnp.array([2.0, 0.5])
    S = jnp.array([[1.5, 0.4], [0.4, 0.8]])
    c, s = np.cos(1.0), np.sin(1.0)
    R = jnp.array([[c, -s], [s, c]])
    spd = flowrep.score_tracks(_straight(x0, x0 @ S.T, 3))
    rot = flowrep.score_tracks(_straight(x0, x0 @ R.T, 3))
    assert float(spd.cost_ratio) == pytest.approx(1.0, abs=1e-9)
    assert float(rot.cost_ratio) > 1.1  # 1.26 for this cloud and angle
    assert float(rot.matched_fraction) < 0.5
    # rotation on the anisotropic cloud: straight chords but not the geodesic
    assert float(rot.interpolant_deviation.max()) > 0.1


def test_nonlinearity_detects_nonlinear_layer(getkey):
    x0 = jr.normal(getkey(), (200, 2))
    X = jnp.stack([x0, x0 + 0.3, jnp.tanh(2 * (x0 + 0.3))])
    sc = flowrep.score_tracks(X)
    assert float(sc.nonlinearity[0]) < 1e-6  # translation: affine
    assert float(sc.nonlinearity[1]) > 0.1


@pytest.mark.slow
def test_sinkhorn_method_close_to_exact(getkey):
    x0 = jr.normal(getkey(), (80, 2))
    X = _straight(x0, x0 @ jnp.array([[1.5, 0.2], [0.2, 0.7]]) + 2.0, 2)
    ex = flowrep.score_tracks(X)
    sk = flowrep.score_tracks(X, method="sinkhorn", relative_epsilon=0.002)
    assert bool(sk.converged) and sk.method == "sinkhorn"
    assert float(sk.w2_sq) == pytest.approx(float(ex.w2_sq), rel=0.02)
    assert float(sk.lss) == float(ex.lss)


def test_score_errors():
    with pytest.raises(ValueError, match="same distribution"):
        flowrep.score_tracks(jnp.zeros((3, 4, 2)))
    with pytest.raises(ValueError, match="method"):
        flowrep.score_tracks(jnp.ones((2, 3, 1)).at[1].add(1.0), method="gaussian")  # pyright: ignore
    with pytest.raises(ValueError, match="NaN"):
        flowrep.score_tracks(jnp.ones((2, 3, 1)).at[1, 0, 0].set(jnp.nan))


def test_plots(tmp_path, getkey):
    import matplotlib

    matplotlib.use("Agg")
    x0 = jr.normal(getkey(), (12, 2))
    X = _straight(x0, x0[::-1] + 2.0, 3)
    sc = flowrep.score_tracks(X)
    for fig_fn, arg in (
        (flowrep.plot_tracks, X),
        (flowrep.plot_layer_w2, sc),
        (flowrep.plot_scores, {"a": sc, "b": sc}),
    ):
        path = tmp_path / f"{fig_fn.__name__}.png"
        fig = fig_fn(arg, path=str(path))  # pyright: ignore
        assert path.stat().st_size > 0
        assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="2-D"):
        flowrep.plot_tracks(jnp.zeros((2, 3, 3)).at[1].add(1.0))
