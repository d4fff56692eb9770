import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep


class _Block(eqx.Module):
    W: jnp.ndarray

    def __call__(self, x):
        return x + 0.1 * jnp.tanh(self.W @ x)


def test_from_array_and_list(getkey):
    arr = jr.normal(getkey(), (4, 10, 3))
    tr = flowrep.Tracks.from_array(arr)
    assert (tr.n_layers, tr.n_samples, tr.dim) == (3, 10, 3)
    assert np.allclose(tr.times, [0, 1 / 3, 2 / 3, 1])
    assert np.allclose(tr.dt.sum(), 1.0)
    tr2 = flowrep.Tracks.from_array(list(arr), times=jnp.array([0.0, 1.0, 3.0, 4.0]))
    assert np.allclose(tr2.points, arr)
    assert np.allclose(tr2.dt, [0.25, 0.5, 0.25])
    assert np.allclose(tr.source, arr[0]) and np.allclose(tr.target, arr[-1])


def test_from_flow_duck_typed(getkey):
    class Result:
        tracks = jr.normal(getkey(), (5, 6, 2))
        ts = jnp.linspace(0.0, 2.0, 5)

    tr = flowrep.Tracks.from_flow(Result())
    assert np.allclose(tr.times, Result.ts)
    with pytest.raises(TypeError, match="tracks"):
        flowrep.Tracks.from_flow(object())  # pyright: ignore[reportArgumentType]


def test_record_tracks_matches_manual(getkey):
    blocks = [_Block(jr.normal(getkey(), (3, 3))) for _ in range(4)]
    x = jr.normal(getkey(), (7, 3))
    tr = flowrep.record_tracks(blocks, x)
    h = x
    for layer, b in enumerate(blocks):
        h = h + 0.1 * jnp.tanh(h @ b.W.T)
        assert np.allclose(tr.points[layer + 1], h, atol=1e-12)
    assert tr.n_layers == 4


def test_bad_tracks(getkey):
    # Layers may change width (issue 15), not their number of samples.
    with pytest.raises(ValueError, match="same shape"):
        flowrep.Tracks.from_array([jnp.zeros((5, 2)), jnp.zeros((6, 2))])
    with pytest.raises(ValueError, match="at least 2 layers"):
        flowrep.Tracks.from_array(jnp.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        flowrep.Tracks.from_array(jnp.zeros((3, 1, 2)))
    with pytest.raises(ValueError, match="shape \\(L\\+1, n, d\\)"):
        flowrep.Tracks.from_array(jnp.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        flowrep.Tracks.from_array(jnp.zeros((3, 5, 2)).at[1, 1, 1].set(jnp.inf))
    with pytest.raises(ValueError, match="increasing"):
        flowrep.Tracks.from_array(
            jnp.zeros((3, 5, 2)), times=jnp.array([0.0, 2.0, 1.0])
        )
    with pytest.raises(ValueError, match="layer 1 maps to"):
        flowrep.record_tracks([lambda v: v, lambda v: (v, v)], jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least one layer"):
        flowrep.record_tracks([], jnp.zeros((4, 2)))


def test_from_resnet_matches_block_loop(getkey):
    # Against a brute-force loop over the blocks, each block written out by hand:
    # x_{l+1} = x_l + sum_j c_lj sigma(a_lj . x_l - b_lj) + bias_l.
    resnet = flowrep.ResNet.random(getkey(), 3, 5, 4, "tanh", t0=0.5, t1=2.5)
    resnet = eqx.tree_at(
        lambda r: r.blocks.bias, resnet, jr.normal(getkey(), (4, 3))
    )  # a non-zero bias, so it is exercised
    x = jr.normal(getkey(), (7, 3))
    tr = flowrep.Tracks.from_resnet(resnet, x)
    assert tr.points.shape == (5, 7, 3)
    bl = resnet.blocks
    assert bl.bias is not None
    h = np.asarray(x)
    np.testing.assert_array_equal(tr.points[0], h)
    for layer in range(4):
        a, b, c = (np.asarray(t[layer]) for t in (bl.a, bl.b, bl.c))
        h = h + np.tanh(h @ a.T - b) @ c + np.asarray(bl.bias[layer])
        np.testing.assert_allclose(tr.points[layer + 1], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.times, [0.5, 1.0, 1.5, 2.0, 2.5], rtol=1e-12)
    # The same as the manual axis swap it replaces.
    swapped = jnp.swapaxes(jax.vmap(resnet.tracks)(x), 0, 1)
    np.testing.assert_allclose(tr.points, swapped, rtol=1e-12, atol=1e-12)


def test_from_resnet_euler_network_of_a_plain_field(getkey):
    # euler_network of a plain callable gives an EulerNetwork; compare with Euler by hand,
    # backward in time (t1 < t0): the times become the elapsed |t_l - t0|.
    W = jr.normal(getkey(), (2, 2))

    def field(t, x, args):
        return jnp.sin(t) * jnp.tanh(W @ x)

    net = flowrep.euler_network(field, 6, t0=1.0, t1=0.0, dim=2)
    assert isinstance(net, flowrep.EulerNetwork)
    x = jr.normal(getkey(), (5, 2))
    tr = flowrep.Tracks.from_resnet(net, x)
    h, step = np.asarray(x), -1.0 / 6
    for layer in range(6):
        t = 1.0 + layer * step
        h = h + step * np.sin(t) * np.tanh(h @ np.asarray(W).T)
        np.testing.assert_allclose(tr.points[layer + 1], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.times, np.arange(7) / 6, rtol=1e-12, atol=1e-15)


def test_from_resnet_bad_input(getkey):
    resnet = flowrep.ResNet.random(getkey(), 2, 3, 2)
    with pytest.raises(ValueError, match=r"shape \(n, 2\); got \(4, 3\)"):
        flowrep.Tracks.from_resnet(resnet, jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(n, 2\); got \(2,\)"):
        flowrep.Tracks.from_resnet(resnet, jnp.zeros(2))
    with pytest.raises(ValueError, match="`x` contains NaN or inf"):
        flowrep.Tracks.from_resnet(resnet, jnp.zeros((4, 2)).at[1, 0].set(jnp.nan))
    with pytest.raises(TypeError, match="tracks"):
        flowrep.Tracks.from_resnet(_Block(jnp.eye(2)), jnp.zeros((4, 2)))  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="at least 2 samples"):
        flowrep.Tracks.from_resnet(resnet, jnp.zeros((1, 2)))


def test_network_contracts_and_num_names(getkey):
    from flowrep._transport._tracks import FlowRecord, TimedNetwork, TrackedNetwork

    resnet = flowrep.ResNet.random(getkey(), 2, 3, 2)
    assert isinstance(resnet, TimedNetwork) and isinstance(resnet, TrackedNetwork)
    assert not isinstance(_Block(jnp.eye(2)), TrackedNetwork)

    class OnlyTracks(eqx.Module):
        def tracks(self, x):
            return jnp.stack([x, 2 * x, 4 * x])

    x = jr.normal(getkey(), (5, 2))
    tr = flowrep.Tracks.from_resnet(OnlyTracks(), x)  # no times: l / L
    assert not isinstance(OnlyTracks(), TimedNetwork)
    np.testing.assert_allclose(tr.times, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(tr.points[2], 4 * x)
    assert (tr.num_layers, tr.num_samples) == (tr.n_layers, tr.n_samples) == (2, 5)
    assert isinstance(tr, FlowRecord) is False  # Tracks has `points`/`times`
    assert not isinstance(object(), FlowRecord)
