import equinox as eqx
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
        flowrep.Tracks.from_flow(object())


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
    with pytest.raises(ValueError, match="same shape"):
        flowrep.Tracks.from_array([jnp.zeros((5, 2)), jnp.zeros((5, 3))])
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
        flowrep.record_tracks([lambda v: v, lambda v: v[:1]], jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least one layer"):
        flowrep.record_tracks([], jnp.zeros((4, 2)))
