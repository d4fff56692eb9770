"""`coordinate_free_scores` over a mesh: the GW pairs spread over the
devices, the results equal one device's, replicated on the mesh. On 4 fake
CPU devices (run via `tests/test_sharding.py`)."""

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

import flowrep as fr
from flowrep._transport import _gw


D = 4  # the devices tests/test_sharding.py starts (tests/sharded/conftest.py)

FIELDS = (
    "layer_gw",
    "gw_source_target",
    "gw_path_ratio",
    "layer_dm",
    "dm_from_source",
    "dm_path_ratio",
    "dm_straightness",
)


def _tracks(n, widths=(2, 3, 2)):
    """Layers of different widths along a random tanh network."""
    keys = jr.split(jr.PRNGKey(0), len(widths))
    x = jr.normal(keys[0], (n, widths[0]))
    layers = [x]
    for k, w in zip(keys[1:], widths[1:]):
        W = jr.normal(k, (layers[-1].shape[1], w))
        layers.append(jnp.tanh(layers[-1] @ W) + 0.3 * layers[-1][:, :1])
    return fr.Tracks(layers)


@pytest.mark.parametrize("n", [13, pytest.param(16, marks=pytest.mark.slow)])
def test_coordinate_free_scores_equal_one_device(mesh, n, monkeypatch):
    """n = 13 with `mesh=` (uneven: replicated samples; GW on a subset of
    11) or n = 16 sharded `P(None, "data", None)`: 2 + 1 GW pairs padded to
    4 on 4 devices. Every score equals one device's to 1e-10 relative
    (measured 6e-15), replicated on the user's mesh."""
    tracks = _tracks(n)
    kw: dict[str, Any] = dict(max_samples=11) if n % D else {}
    one = fr.coordinate_free_scores(tracks, **kw)
    calls = []
    spread = _gw._cf_mesh
    monkeypatch.setattr(
        _gw, "_cf_mesh", lambda *a, **k: calls.append(1) or spread(*a, **k)
    )
    if n % D == 0:
        points = jax.device_put(
            tracks.points, NamedSharding(mesh, P(None, "data", None))
        )
        many = fr.coordinate_free_scores(points, **kw)
    else:
        many = fr.coordinate_free_scores(tracks, mesh=mesh, **kw)
    assert calls == [1]  # the GW pairs were spread over the mesh
    assert bool(one.converged) and bool(many.converged)
    assert many.num_samples == one.num_samples and many.method == one.method
    for name in FIELDS:
        a, b = getattr(one, name), getattr(many, name)
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-10)
        assert isinstance(b.sharding, NamedSharding) and b.sharding.mesh == mesh
        assert b.sharding.is_equivalent_to(NamedSharding(mesh, P()), b.ndim)
        assert len(b.sharding.device_set) == D


def test_coordinate_free_scores_mesh_type_error():
    with pytest.raises(TypeError, match="`mesh` must be a jax.sharding.Mesh"):
        fr.coordinate_free_scores(_tracks(8), mesh="data")  # pyright: ignore[reportArgumentType]
