"""One data-parallel `fit` step compiled over the first `d` devices, and its
per-device temporaries; a small `fit` run on one device and on the mesh:
shared by the loss tests of tests/sharded."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

import flowrep as fr
from flowrep._depth import _fit
from flowrep._sharding import resolve_layout


def compiled_fit_step(d: int, *, n: int, units: int, **loss_config: Any):
    """`fit`'s step on `n` row-sharded samples of a `units`-unit field
    (`d = 1`: the single-device step); `loss_config` holds `loss`, `epsilon`
    and, if any, `sinkhorn_backend`."""
    sub = jax.make_mesh((d,), ("data",), devices=jax.devices()[:d])
    layout = resolve_layout(sub)
    assert (layout is None) == (d == 1)
    field = fr.RidgeletField.random(jr.PRNGKey(0), 2, units, basis="constant")
    params, static = eqx.partition(field, eqx.is_inexact_array)
    optimizer = optax.adam(1e-2)
    x = jnp.ones((n, 2))
    if layout is not None:
        params = jax.device_put(params, layout.replicated())
        x = jax.device_put(x, layout.rows(2))
    opt_state = optimizer.init(params)
    config: dict[str, Any] = dict(
        optimizer=optimizer,
        batch_size=None,
        kinetic_reg=0.0,
        jacobian_reg=0.0,
        t0=0.0,
        t1=1.0,
        flow_kwargs=dict(solver="euler", num_steps=8, throw=False),
        layout=layout,
        **loss_config,
    )

    def step(p, s, key, source, target):
        return _fit._step(p, s, key, source, target, static, **config)

    return jax.jit(step).lower(params, opt_state, jr.PRNGKey(1), x, x).compile()


def fit_problem(n: int, p: int):
    """A small `fit` problem: a 6-unit field, `n` source and `p` target points
    (a sheared, shifted Gaussian), shared by the mesh-equality tests."""
    x = jr.normal(jr.PRNGKey(0), (n, 2))
    y = jr.normal(jr.PRNGKey(7), (p, 2)) @ jnp.array([[0.8, 0.3], [-0.2, 1.1]]) + 0.5
    field = fr.RidgeletField.random(jr.PRNGKey(1), 2, 6, basis="constant")
    return field, x, y


def fit_one_and_mesh(mesh, n: int, p: int, **fit_kwargs: Any):
    """`fit_problem(n, p)` trained for two steps on one device and over `mesh`:
    with `mesh=` when n does not divide into the mesh's devices, else on
    row-sharded clouds. Returns both histories and both fields' float leaves
    `(h1, hD, leaves1, leavesD)`; asserts that one device's loss fell."""
    field, x, y = fit_problem(n, p)
    kw: dict[str, Any] = dict(
        steps=2,
        epsilon=0.5,
        flow_kwargs=dict(solver="euler", num_steps=2),
        progress=False,
        key=jr.PRNGKey(3),
    )
    kw |= fit_kwargs
    f1, h1 = fr.fit(field, x, y, **kw)
    if n % mesh.devices.size == 0:
        rows = NamedSharding(mesh, P("data", None))
        fD, hD = fr.fit(field, jax.device_put(x, rows), jax.device_put(y, rows), **kw)
    else:
        fD, hD = fr.fit(field, x, y, mesh=mesh, **kw)
    assert h1["loss"][1] < h1["loss"][0]  # it trained
    leaves = [
        jax.tree_util.tree_leaves(eqx.filter(f, eqx.is_inexact_array)) for f in (f1, fD)
    ]
    assert len(leaves[0]) == len(leaves[1]) and leaves[0]
    return h1, hD, leaves[0], leaves[1]


def temp_bytes(compiled) -> int:
    """Per-device temporaries of a compiled computation."""
    analysis = compiled.memory_analysis()
    assert analysis is not None
    return int(analysis.temp_size_in_bytes)
