"""`flow` keeps a row-sharded state sharded through the solve (issue 18).

Run on 4 fake CPU devices by `tests/test_sharding.py`. The finite checks of
`flow` guard a scalar, so nothing gathers the `(n, d)` state onto one device:
the tracks come back sharded by rows and the compiled per-device memory
falls as 1/D, with results equal to the single-device solve.
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


def _field(t, x, args):
    return jnp.tanh(x[::-1]) - 0.5 * x * jnp.cos(t)


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


def _mesh(d: int, axis_type=AxisType.Explicit):
    return jax.make_mesh(
        (d,), ("data",), devices=jax.devices()[:d], axis_types=(axis_type,)
    )


def _check_sharded_flow(kw: dict[str, Any]):
    mesh = _mesh(D)
    x0 = jr.normal(jr.PRNGKey(6), (16, 2))
    xs = jax.device_put(x0, NamedSharding(mesh, P("data", None)))
    r1 = fr.flow(_field, x0, 0.0, 1.0, **kw)
    rD = fr.flow(_field, xs, 0.0, 1.0, **kw)
    assert _rel(r1.tracks, rD.tracks) < 1e-6
    sharding = rD.tracks.sharding
    assert isinstance(sharding, NamedSharding) and sharding.mesh == mesh
    T = rD.tracks.shape[0]
    # Each device holds its own n/D rows of every saved state: not replicated.
    assert sharding.shard_shape(rD.tracks.shape) == (T, 16 // D, 2)
    assert len(sharding.device_set) == D


def test_fixed_step_flow_state_stays_sharded():
    _check_sharded_flow(dict(solver="rk4", num_steps=8))


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw",
    [{}, dict(solver="dopri5", ts=jnp.linspace(0, 1, 3))],
    ids=["adaptive", "diffeqsolve_ts"],
)
def test_other_solves_keep_the_state_sharded(kw):
    _check_sharded_flow(kw)


def _memory(d: int, n: int, kw: dict[str, Any]):
    mesh = _mesh(d, AxisType.Auto)
    x = jax.device_put(jnp.zeros((n, 2)), NamedSharding(mesh, P("data", None)))
    f = jax.jit(lambda x: fr.flow(_field, x, 0.0, 1.0, mesh=mesh, **kw).xs)
    mem = f.lower(x).compile().memory_analysis()
    assert mem is not None
    out = f(x)
    assert out.sharding.shard_shape(out.shape) == (n // d, 2)
    return mem.temp_size_in_bytes, mem.output_size_in_bytes


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw", [{}, dict(solver="rk4", num_steps=8)], ids=["adaptive", "fixed"]
)
def test_per_device_memory_falls_with_devices(kw):
    """Compiled per-device temporaries and outputs at D = 1 and D = 4: ~1/D."""
    n = 4096
    temp1, out1 = _memory(1, n, kw)
    temp4, out4 = _memory(D, n, kw)
    assert out4 * D == out1
    # O(n/D) state; a few scalars and the replicated field do not shrink.
    assert temp4 < 1.25 * temp1 / D, (temp1, temp4)
