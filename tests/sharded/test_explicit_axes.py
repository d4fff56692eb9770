"""`flow` under an outer `jax.jit` on a mesh with `Explicit` axes (issue 18),
on 4 fake CPU devices (run via `tests/test_sharding.py`).

Explicit axes type every intermediate's sharding, and diffrax's reductions
over the samples then raised JAX's `ShardingTypeError`; `flow` now runs such
inputs in `jax.sharding.auto_axes` (`flowrep/_sharding.py::auto_axes_for`).
"""

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

import flowrep as fr


D = 4  # the devices tests/test_sharding.py starts (tests/sharded/conftest.py)

KW: dict[str, Any] = dict(solver="rk4", num_steps=4)


def _field(t, x, args):
    return jnp.tanh(x[::-1]) - 0.5 * x * jnp.cos(t)


@pytest.mark.parametrize(
    "n, pass_mesh", [(16, False), pytest.param(13, True, marks=pytest.mark.slow)]
)
def test_flow_under_jit_with_explicit_axes(n, pass_mesh):
    """n = 16 (tracks come back sharded by samples on the explicit mesh) and
    n = 13 with `mesh=` (not divisible by 4: replicated): equal to one
    device's solve."""
    mesh = jax.make_mesh((D,), ("data",), axis_types=(AxisType.Explicit,))
    x0 = jr.normal(jr.PRNGKey(6), (n, 2))
    spec = P("data", None) if n % D == 0 else P()
    xs = jax.device_put(x0, NamedSharding(mesh, spec))
    m = mesh if pass_mesh else None
    out = jax.jit(lambda x: fr.flow(_field, x, 0.0, 1.0, mesh=m, **KW))(xs)
    ref = fr.flow(_field, x0, 0.0, 1.0, **KW)
    np.testing.assert_allclose(out.tracks, ref.tracks, rtol=1e-12, atol=1e-14)
    sharding = out.tracks.sharding
    assert isinstance(sharding, NamedSharding) and sharding.mesh == mesh
    assert len(sharding.device_set) == D
    T = out.tracks.shape[0]
    rows = n // D if n % D == 0 else n
    assert sharding.shard_shape(out.tracks.shape) == (T, rows, 2)
