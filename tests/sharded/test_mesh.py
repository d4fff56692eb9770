"""Sharded entry points against the single-device path, on 4 fake CPU devices.

These run only in a process started with
`XLA_FLAGS=--xla_force_host_platform_device_count=4` (the flag must be set
before jax initialises): `tests/test_sharding.py` starts one. In the default
single-device process they skip.
"""

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

import flowrep as fr


D = 4  # the devices tests/test_sharding.py starts (tests/sharded/conftest.py)


def rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


def named(a) -> NamedSharding:
    assert isinstance(a.sharding, NamedSharding), a.sharding
    return a.sharding


def rows(mesh, x):
    spec = P("data", *([None] * (jnp.ndim(x) - 1)))
    return jax.device_put(x, NamedSharding(mesh, spec))


def _bump(p):
    return jnp.exp(-jnp.sum(p**2))


@pytest.mark.parametrize("n, J", [(16, 8), (13, 7)])
def test_transforms(mesh, n, J):
    k = jr.split(jr.PRNGKey(0), 3)
    x = jr.normal(k[0], (n, 2))
    w = jnp.full((n,), 1.0 / n)
    a = jr.normal(k[1], (J, 2))
    b = jr.normal(k[2], (J,))
    rho = fr.GaussianDerivative(2)
    g1 = fr.ridgelet_transform(_bump, rho, a, b, x, w, chunk_size=8)
    if n % D == 0:  # sharded inputs carry the mesh
        gD = fr.ridgelet_transform(
            _bump,
            rho,
            rows(mesh, a),
            rows(mesh, b),
            rows(mesh, x),
            rows(mesh, w),
            chunk_size=8,
        )
    else:  # uneven: explicit mesh=, inputs on one device
        gD = fr.ridgelet_transform(_bump, rho, a, b, x, w, chunk_size=8, mesh=mesh)
    assert rel(g1, gD) < 1e-6
    spec = P("data") if J % D == 0 else P()
    assert named(gD).mesh == mesh and named(gD).spec == spec
    s1 = fr.dual_ridgelet_transform(g1, jnp.tanh, a, b, None, x, chunk_size=8)
    sD = fr.dual_ridgelet_transform(gD, jnp.tanh, a, b, None, x, chunk_size=8)
    assert rel(s1, sD) < 1e-6
    assert named(sD).spec == (P("data") if n % D == 0 else P())
    assert len(sD.sharding.device_set) == D


@pytest.mark.slow
def test_reconstruct(mesh):
    k = jr.split(jr.PRNGKey(1), 3)
    x = jr.normal(k[0], (12, 2))
    w = jnp.full((12,), 1.0 / 12)
    a = jr.normal(k[1], (10, 2))
    b = jr.normal(k[2], (10,))
    args = (_bump, jnp.tanh, fr.GaussianDerivative(2), x, w, a, b, jnp.ones(10), x)
    r1 = fr.reconstruct(*args, pairing=1.0)
    rD = fr.reconstruct(*args, pairing=1.0, mesh=mesh)
    assert rel(r1, rD) < 1e-6
    assert named(rD).spec == P("data")


@pytest.mark.parametrize("n, m", [(16, 12), (13, 10)])
def test_online_sinkhorn(mesh, n, m):
    k = jr.split(jr.PRNGKey(2), 2)
    x = jr.normal(k[0], (n, 2))
    y = jr.normal(k[1], (m, 2)) + 1.0
    kw: dict[str, Any] = dict(epsilon=0.1, threshold=1e-9, mode="online", chunk_size=4)
    r1 = fr.sinkhorn(x, y, **kw)
    if n % D == 0 and m % D == 0:
        rD = fr.sinkhorn(rows(mesh, x), rows(mesh, y), **kw)
        spec = P("data")
    else:
        rD = fr.sinkhorn(x, y, **kw, mesh=mesh)
        spec = P()
    assert rel(r1.f, rD.f) < 1e-6 and rel(r1.g, rD.g) < 1e-6
    assert abs(float(r1.reg_ot_cost - rD.reg_ot_cost)) < 1e-6 * abs(
        float(r1.reg_ot_cost)
    )
    assert int(r1.num_iterations) == int(rD.num_iterations)
    assert named(rD.f).spec == spec and named(rD.g).spec == spec
    assert named(rD.f).mesh == mesh


@pytest.mark.slow
def test_divergence(mesh):
    k = jr.split(jr.PRNGKey(3), 2)
    x = jr.normal(k[0], (13, 2))
    y = jr.normal(k[1], (10, 2)) + 1.0
    kw: dict[str, Any] = dict(epsilon=0.1, threshold=1e-9, chunk_size=4)
    d1 = fr.sinkhorn_divergence(x, y, mode="online", **kw)
    dD = fr.sinkhorn_divergence(x, y, mesh=mesh, **kw)
    assert rel(d1.divergence, dD.divergence) < 1e-6
    assert rel(d1.self_costs, dD.self_costs) < 1e-6
    np.testing.assert_array_equal(d1.num_iterations, dD.num_iterations)


def test_mesh_errors(mesh):
    x = jnp.zeros((8, 2)).at[:, 0].set(jnp.arange(8.0))
    with pytest.raises(ValueError, match="mode='dense'"):
        fr.sinkhorn(x, x + 1, epsilon=0.1, mode="dense", mesh=mesh)
    with pytest.raises(ValueError, match="backend='flowrep' only"):
        fr.sinkhorn_divergence(x, x + 1, epsilon=0.1, backend="ott", mesh=mesh)
    with pytest.raises(TypeError, match="`mesh` must be a jax.sharding.Mesh"):
        fr.sinkhorn(x, x + 1, epsilon=0.1, mesh="data")  # pyright: ignore[reportArgumentType]


def _temp_bytes(fn, *args):
    return fn.lower(*args).compile().memory_analysis().temp_size_in_bytes


def test_memory_per_device_falls_as_one_over_D():
    """Per-device temporaries of R (n = J = 2048, small tiles) fall ~1/D."""
    n = 2048
    x = jnp.linspace(-1.0, 1.0, 2 * n).reshape(n, 2)
    w = jnp.full((n,), 1.0 / n)
    fx = jnp.sin(x[:, 0])
    temps = {}
    for d in (2, 4):
        sub = jax.make_mesh((d,), ("data",), devices=jax.devices()[:d])
        f = jax.jit(
            lambda fx, x, w: fr.ridgelet_transform(  # noqa: B023
                fx,
                jnp.tanh,
                x,
                x[:, 0],
                x,
                w,
                chunk_size=256,
                mesh=sub,  # noqa: B023
            )
        )
        temps[d] = _temp_bytes(f, fx, x, w)
    ratio = temps[4] / temps[2]
    assert 0.3 < ratio < 0.7, temps


@pytest.mark.slow
@pytest.mark.parametrize("n", [16, 13])
def test_knn_entropy(mesh, n):
    x = jr.normal(jr.PRNGKey(4), (n, 2))
    h1 = fr.knn_entropy(x, k=3, chunk_size=4)
    xs = rows(mesh, x) if n % D == 0 else x
    hD = fr.knn_entropy(xs, k=3, chunk_size=4, mesh=None if n % D == 0 else mesh)
    assert abs(float(h1 - hD)) < 1e-6 * abs(float(h1))


def test_knn_entropy_duplicates_on_mesh(mesh):
    x = jr.normal(jr.PRNGKey(5), (6, 2))
    with pytest.raises(ValueError, match="duplicated samples"):
        fr.knn_entropy(jnp.concatenate([x, x]), k=1, mesh=mesh)


def _field(t, x, args):
    return jnp.tanh(x[::-1]) - 0.5 * x * jnp.cos(t)


@pytest.mark.slow
@pytest.mark.parametrize("n", [16, 13])
def test_flow(mesh, n):
    x0 = jr.normal(jr.PRNGKey(6), (n, 2))
    ts = jnp.linspace(0.0, 1.0, 3)
    r1 = fr.flow(_field, x0, 0.0, 1.0, ts=ts, solver="dopri5")
    xs = rows(mesh, x0) if n % D == 0 else x0
    rD = fr.flow(_field, xs, 0.0, 1.0, ts=ts, solver="dopri5", mesh=mesh)
    assert rel(r1.tracks, rD.tracks) < 1e-6
    # Runs on the mesh; the state stays sharded by rows when n divides D
    # (tests/sharded/test_flow_state.py checks the shards and the memory).
    assert named(rD.tracks).mesh == mesh
    assert len(rD.tracks.sharding.device_set) == D
