"""Data-parallel `fit` and `train_denoiser` over a mesh against one device,
on 4 fake CPU devices (run via `tests/test_sharding.py`; see test_mesh.py)."""

import re
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax._src import array as jax_array
from jax.sharding import NamedSharding, PartitionSpec as P

import flowrep as fr

from ._fit_step import compiled_fit_step, temp_bytes


D = 4  # the devices tests/test_sharding.py starts (tests/sharded/conftest.py)


FLOW = dict(solver="euler", num_steps=4)


def rows(mesh, x):
    spec = P("data", *([None] * (jnp.ndim(x) - 1)))
    return jax.device_put(x, NamedSharding(mesh, spec))


def _same_params(one, many, mesh, tol=1e-6):
    a = jax.tree_util.tree_leaves(eqx.filter(one, eqx.is_inexact_array))
    b = jax.tree_util.tree_leaves(eqx.filter(many, eqx.is_inexact_array))
    assert len(a) == len(b) and a
    for u, v in zip(a, b):
        scale = max(float(jnp.max(jnp.abs(u))), 1e-300)
        assert float(jnp.max(jnp.abs(u - np.asarray(v)))) <= tol * scale
        # parameters come back replicated on the user's mesh, on all devices
        assert isinstance(v.sharding, NamedSharding) and v.sharding.mesh == mesh
        assert v.sharding.is_equivalent_to(NamedSharding(mesh, P()), v.ndim)
        assert len(v.sharding.device_set) == D


def _problem(n):
    x = jr.normal(jr.PRNGKey(0), (n, 2))
    y = x @ jnp.array([[0.8, 0.3], [-0.2, 1.1]]) + 0.5
    field = fr.RidgeletField.random(jr.PRNGKey(1), 2, 6, basis="constant")
    return field, x, y


@pytest.mark.parametrize(
    "n, batch_size", [pytest.param(16, None, marks=pytest.mark.slow), (13, 6)]
)
def test_fit_mse(mesh, n, batch_size):
    """Four Adam steps in two chunks: sharded inputs (n = 16) or `mesh=` with
    n = 13 and a minibatch of 6 (neither divides by 4): same losses and
    parameters, and no host read-back per step."""
    field, x, y = _problem(n)
    kw: dict[str, Any] = dict(
        loss="mse",
        steps=4,
        steps_per_call=2,
        batch_size=batch_size,
        kinetic_reg=0.1,
        flow_kwargs=FLOW,
        progress=False,
        key=jr.PRNGKey(2),
    )
    f1, h1 = fr.fit(field, x, y, **kw)

    def sharded():
        if n % D == 0:
            return fr.fit(field, rows(mesh, x), rows(mesh, y), **kw)
        return fr.fit(field, x, y, mesh=mesh, **kw)

    sharded()  # compile
    to_host = []
    value = jax_array.ArrayImpl._value
    with pytest.MonkeyPatch.context() as mp:  # count device-to-host reads
        mp.setattr(
            jax_array.ArrayImpl,
            "_value",
            property(lambda a: to_host.append(1) or value.fget(a)),  # pyright: ignore[reportOptionalMemberAccess]
        )
        fD, hD = sharded()
    # the input check, then the losses once per chunk: no per-step sync
    assert len(to_host) <= 1 + 2, len(to_host)
    for k in ("loss", "data", "kinetic"):
        np.testing.assert_allclose(hD[k], h1[k], rtol=1e-6)
    assert not np.allclose(h1["loss"][0], h1["loss"][-1])  # it did train
    _same_params(f1, fD, mesh)


@pytest.mark.slow
def test_fit_sinkhorn(mesh):
    """The ott-jax Sinkhorn loss on sharded samples (GSPMD partitions its
    cost by rows)."""
    field, x, y = _problem(16)
    kw: dict[str, Any] = dict(steps=2, flow_kwargs=FLOW, progress=False)
    f1, h1 = fr.fit(field, x, y, key=jr.PRNGKey(3), **kw)
    fD, hD = fr.fit(field, rows(mesh, x), rows(mesh, y), key=jr.PRNGKey(3), **kw)
    np.testing.assert_allclose(hD["loss"], h1["loss"], rtol=1e-6)
    _same_params(f1, fD, mesh)


def test_fit_mesh_type_error():
    field, x, y = _problem(8)
    with pytest.raises(TypeError, match="`mesh` must be a jax.sharding.Mesh"):
        fr.fit(field, x, y, key=jr.PRNGKey(0), mesh="data", progress=False)  # pyright: ignore[reportArgumentType]


def _compiled_step(d: int, n: int = 2048, units: int = 64):
    """One data-parallel `fit` step (mse loss) compiled over `d` devices."""
    return compiled_fit_step(d, n=n, units=units, loss="mse", epsilon=None)


def test_fit_step_memory_per_device_falls_with_D():
    """The step's activations (n x J per Euler step, kept for the backward
    pass) are split by rows: per-device temporaries roughly halve from 2 to
    4 devices (the parameters, replicated, are small here), and the
    compiled step gathers no float array: the samples stay sharded. (One
    all-reduce of the (n, d) batch per step remains, from `flow`'s
    finiteness check on x0: docs/scaling.md.)"""
    compiled = {d: _compiled_step(d) for d in (2, 4)}
    temps = {d: temp_bytes(c) for d, c in compiled.items()}
    ratio = temps[4] / temps[2]
    assert 0.3 < ratio < 0.7, temps
    hlo = compiled[4].as_text()
    assert hlo is not None
    assert not re.findall(r"= f(32|64)\[[0-9,]*\]\S* all-gather", hlo)


@pytest.mark.slow  # two compilations of the training scan (~10 s each on 2 loaded cores)
@pytest.mark.parametrize("n, batch_size", [(16, 8), (13, 6)])
def test_train_denoiser(mesh, n, batch_size):
    x = jr.normal(jr.PRNGKey(4), (n, 2))
    kw: dict[str, Any] = dict(
        key=jr.PRNGKey(5),
        width=8,
        depth=1,
        num_steps=4,
        batch_size=batch_size,
        steps_per_call=2,
        progress=False,
    )
    one = fr.train_denoiser(x, 0.3, **kw)
    if n % D == 0:
        many = fr.train_denoiser(rows(mesh, x), 0.3, **kw)
    else:
        many = fr.train_denoiser(x, 0.3, mesh=mesh, **kw)
    _same_params(one, many, mesh)
    np.testing.assert_allclose(jax.vmap(many)(x), jax.vmap(one)(x), rtol=1e-6)
