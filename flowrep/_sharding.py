"""Running the heavy entry points over a `jax.sharding.Mesh`: one data axis.

The vocabulary is JAX's own: a `Mesh` of devices, arrays placed with
`NamedSharding(mesh, P("data", None))`, and `jax.shard_map` with collectives
(`ppermute` round a ring, `psum`) inside. This module only decides *which*
mesh and axis a call runs on, pads uneven sizes, and places arrays.

**The rule.** A call runs sharded when it is given `mesh=` or when one of its
array inputs is a concrete `jax.Array` with a `NamedSharding` over more than
one device. The data axis is

1. the mesh axis that shards axis 0 of the first such input (its spec's first
   entry, a single axis name); otherwise
2. the axis named `"data"` if the mesh has one; otherwise
3. the mesh's first axis.

Anything else (one device, a `SingleDeviceSharding`, a tracer under an outer
`jit` without `mesh=`) takes the single-device path, untouched: resolving
costs a few attribute look-ups and nothing is traced differently.

**Uneven sizes.** Inside the computation every sharded axis is padded to a
multiple of $D$ (the data axis' size) with rows that carry no weight: zero
quadrature weights in the ridgelet sums, $-\\infty$ potentials in Sinkhorn's
log-sum-exps, masks elsewhere. A `jax.Array` sharded over $D$ devices must
have a size divisible by $D$, so results of an uneven size come back
replicated over the mesh (`P()`); results of a divisible size come back
sharded by rows, `P(axis)`. An unsharded input of an uneven size is placed
replicated (one copy per device); pass sharded inputs, or sizes divisible by
$D$, to keep every cloud at $O(n/D)$ per device.

The computation itself runs on a copy of the mesh whose axes are
`AxisType.Auto` (same devices, so placing an array there moves no data):
the small global steps around the ring (means, moments, normalisations) are
left to the compiler, while the heavy pair sums run in `shard_map`.
"""

import dataclasses
import functools
import inspect

import jax
import jax.numpy as jnp
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from ._validate import check_finite, is_traced


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a sharded call runs: `mesh` (auto axes), the data `axis`, and the
    user's own mesh `user_mesh` that results are returned on."""

    mesh: Mesh
    axis: str
    user_mesh: Mesh

    @property
    def size(self) -> int:
        """$D$, the number of devices along the data axis."""
        return int(self.mesh.shape[self.axis])

    def rows(self, ndim: int, mesh: Mesh | None = None) -> NamedSharding:
        """Axis 0 sharded over the data axis, the others replicated."""
        spec = PartitionSpec(self.axis, *([None] * (ndim - 1)))
        return NamedSharding(self.mesh if mesh is None else mesh, spec)

    def replicated(self, mesh: Mesh | None = None) -> NamedSharding:
        return NamedSharding(self.mesh if mesh is None else mesh, PartitionSpec())

    def padded(self, n: int) -> int:
        """`n` rounded up to a multiple of $D$."""
        return -(-n // self.size) * self.size


def _auto(mesh: Mesh) -> Mesh:
    if all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    return Mesh(
        mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * mesh.devices.ndim
    )


def _default_axis(mesh: Mesh) -> str:
    names = tuple(mesh.axis_names)
    return "data" if "data" in names else names[0]


def resolve_layout(mesh, *arrays) -> Layout | None:
    """The [`Layout`][] a call runs on, or `None` for the single-device path.

    `mesh`: a `jax.sharding.Mesh` or `None`; `arrays`: the call's inputs
    (anything; only concrete `jax.Array`s with a `NamedSharding` count).

    **Raises:** `TypeError` if `mesh` is not a `Mesh`.
    """
    found = None
    for arr in arrays:
        sharding = getattr(arr, "sharding", None)
        if is_traced(arr) or not isinstance(sharding, NamedSharding):
            continue
        if isinstance(sharding.mesh, Mesh) and sharding.mesh.size > 1:
            found = sharding
            break
    if mesh is None:
        if found is None:
            return None
        mesh = found.mesh
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"`mesh` must be a jax.sharding.Mesh or None; got {type(mesh).__name__}."
        )
    axis = None
    assert isinstance(mesh, Mesh)
    if found is not None and found.mesh == mesh and len(found.spec) > 0:
        first = found.spec[0]
        if isinstance(first, str):
            axis = first
        elif isinstance(first, tuple) and len(first) == 1:
            axis = first[0]
    if axis is None:
        axis = _default_axis(mesh)
    if mesh.shape[axis] == 1:
        return None
    return Layout(_auto(mesh), axis, mesh)


def place(x, layout: Layout):
    """`x` on the layout's (auto) mesh: sharded by rows when it already is, or
    when its length divides evenly; replicated otherwise (see the module
    docstring)."""
    x = jnp.asarray(x)
    sharding = getattr(x, "sharding", None)
    if isinstance(sharding, NamedSharding) and isinstance(sharding.mesh, Mesh):
        devices = sharding.mesh.devices
        if devices.shape == layout.mesh.devices.shape and bool(
            (devices == layout.mesh.devices).all()
        ):
            return jax.device_put(x, NamedSharding(layout.mesh, sharding.spec))
    if x.ndim >= 1 and x.shape[0] % layout.size == 0:
        return jax.device_put(x, layout.rows(x.ndim))
    return jax.device_put(x, layout.replicated())


def pad_rows(x, layout: Layout, fill: float = 0):
    """Pad axis 0 to a multiple of $D$ with `fill` and shard it by rows (under
    `jit`: the padding is part of the compiled computation)."""
    n = x.shape[0]
    extra = layout.padded(n) - n
    if extra:
        filler = jnp.full((extra,) + x.shape[1:], fill, x.dtype)
        x = jnp.concatenate([x, filler], axis=0)
    return jax.lax.with_sharding_constraint(x, layout.rows(x.ndim))


def valid_rows(layout: Layout, num_local: int, n: int):
    """Inside `shard_map`: which of this device's `num_local` rows are real
    (global index < n) rather than padding."""
    start = jax.lax.axis_index(layout.axis) * num_local
    return start + jnp.arange(num_local) < n


def unpad_rows(x, layout: Layout, n: int):
    """Axis 0 cut back to `n` (under `jit`)."""
    if x.shape[0] == n:
        return x
    return jax.lax.with_sharding_constraint(x[:n], layout.replicated())


def give_back(tree, layout: Layout):
    """Results on the user's mesh: arrays sharded by rows stay so, the rest
    replicated. Same devices and layout: no data moves."""

    def one(a):
        if not isinstance(a, jax.Array) or is_traced(a):
            return a
        sharding = a.sharding
        if isinstance(sharding, NamedSharding) and sharding.mesh == layout.mesh:
            return jax.device_put(a, NamedSharding(layout.user_mesh, sharding.spec))
        return a

    return jax.tree_util.tree_map(one, tree)


def ring(layout: Layout):
    """The permutation that passes each device's block to the next one."""
    d = layout.size
    return [(i, (i + 1) % d) for i in range(d)]


def finite_on_mesh(x, name: str):
    """`check_finite` for a sharded input: eager when concrete; when traced,
    the run-time check guards a scalar, since `eqx.error_if` on the whole
    array would place it on one device (a gather of the cloud)."""
    if not is_traced(x) or not jnp.issubdtype(x.dtype, jnp.inexact):
        return check_finite(x, name)
    bad = jnp.where(jnp.all(jnp.isfinite(x)), 0.0, jnp.nan).astype(x.dtype)
    return x + check_finite(bad, name, f"`{name}` contains NaN or inf values.")


def explicit_mesh(x):
    """The (abstract) mesh of a traced `x` whose type is sharded over a mesh
    with `Explicit` axes (an outer `jit` of inputs placed on such a mesh), or
    `None`."""
    if not is_traced(x):
        return None
    try:
        sharding = jax.typeof(x).sharding
    except (AttributeError, TypeError):
        return None
    mesh = getattr(sharding, "mesh", None)
    types = tuple(getattr(mesh, "axis_types", ()) or ())
    if mesh is None or AxisType.Explicit not in types or mesh.size <= 1:
        return None
    return mesh


def _sample_sharding(mesh, axis: str, n: int | None):
    """For an output leaf: the data axis on its sample axis (axis 1 of a
    time-major `(T, n, ...)` leaf, axis 0 of a per-sample `(n, ...)` one),
    when `n` divides over the axis; replicated otherwise."""

    def spec_of(leaf):
        shape = tuple(getattr(leaf, "shape", ()))
        if n is not None and n % int(mesh.shape[axis]) == 0:
            for i in (1, 0) if len(shape) >= 2 else (0,):
                if i < len(shape) and shape[i] == n:
                    return NamedSharding(mesh, PartitionSpec(*([None] * i), axis))
        return NamedSharding(mesh, PartitionSpec())

    return spec_of


def auto_axes_for(arg: str):
    """Decorate an entry point so that, under an outer `jit`, an input `arg`
    typed on a mesh with `Explicit` axes runs it in `jax.sharding.auto_axes`:
    inside, the axes are `Auto` (the partitioning is left to XLA, as for an
    `Auto` mesh) and the outputs come back typed on the explicit mesh, sharded
    by samples (see `_sample_sharding`; $n$ = the length of `arg`'s axis 0)
    or replicated. A `mesh=` argument is dropped inside (an explicit mesh's
    sharding cannot be mixed with the auto copy the sharded paths run on, and
    the input's own sharding already says where the samples live). Without
    such an input the call is untouched.

    (Explicit axes type every intermediate's sharding, and a solver's
    reductions over the samples, e.g. diffrax's error norms, then raise
    JAX's `ShardingTypeError`.)"""

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            x = bound.arguments.get(arg)
            mesh = explicit_mesh(x)
            if mesh is None:
                return fn(*args, **kwargs)
            assert x is not None
            spec = jax.typeof(x).sharding.spec
            first = spec[0] if len(spec) else None
            if isinstance(first, tuple) and len(first) == 1:
                first = first[0]
            axis = first if isinstance(first, str) else _default_axis(mesh)
            n = int(x.shape[0]) if jnp.ndim(x) >= 2 else None

            def run(value):
                bound.arguments[arg] = value
                if "mesh" in bound.arguments:  # the input's sharding says it
                    bound.arguments["mesh"] = None
                return fn(*bound.args, **bound.kwargs)

            replicated = NamedSharding(mesh, PartitionSpec())
            shapes = jax.eval_shape(
                jax.sharding.auto_axes(run, out_sharding=replicated), x
            )
            out = jax.tree_util.tree_map(_sample_sharding(mesh, axis, n), shapes)
            return jax.sharding.auto_axes(run, out_sharding=out)(x)

        return wrapper

    return decorate
