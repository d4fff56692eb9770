"""`flowrep analyze --devices N`: the transport scores after the capture run
over the mesh too, against one device, on 4 fake CPU devices (run via
`tests/test_sharding.py`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.sharding import NamedSharding

import flowrep as fr
from flowrep._cli import _analyze


D = 4  # the devices tests/test_sharding.py starts (tests/sharded/conftest.py)


@pytest.mark.slow  # two compilations of score_tracks: ~90 s on the loaded 2 cores
def test_analyze_scores_over_the_mesh():
    """A small MLP's tracks (n = 20, divisible by D), PCA-projected as
    `--project 3` does: the scores over the `--devices 4` mesh equal one
    device's, and the per-sample LSS comes back sharded over all 4 devices."""
    mesh = _analyze._capture_mesh(D)
    assert mesh is not None and mesh.size == D
    model = eqx.nn.MLP(3, 2, 5, 2, activation=jnp.tanh, key=jr.PRNGKey(0))
    x = np.asarray(jr.normal(jr.PRNGKey(1), (20, 3)))
    tracks = fr.capture_features(model, x, mesh=mesh).to_tracks()
    one, p1 = _analyze.transport_scores(tracks, 3, None)
    many, pD = _analyze.transport_scores(tracks, 3, mesh)
    assert p1 is not None and pD is not None
    for name in ("lss", "cost_ratio", "path_ratio", "w2_sq", "lss_per_sample"):
        np.testing.assert_allclose(
            np.asarray(getattr(many, name)),
            np.asarray(getattr(one, name)),
            rtol=1e-12,
            atol=1e-14,
        )
    sharding = many.lss_per_sample.sharding
    assert isinstance(sharding, NamedSharding) and len(sharding.device_set) == D
    assert not isinstance(one.lss_per_sample.sharding, NamedSharding) or (
        len(one.lss_per_sample.sharding.device_set) == 1
    )
    assert jax.device_count() >= D
