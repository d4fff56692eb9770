"""ResNets as Euler broken lines of flows, and finite ResNets read as fields.

A ResNet $x_{l+1}=x_l+h\\,v_{t_l}(x_l)$, $h=(t_1-t_0)/L$, $t_l=t_0+lh$, is the
Euler broken line of the flow $\\dot x_t=v_t(x_t)$ (docs/theory/flows.md#depth-continuum; Sonoda
& Murata, JMLR 2019, section 3). When each $v_t$ is a finite integral network
$\\sum_jc_j(t)\\sigma(a_j(t)\\cdot x-b_j(t))$, block $l$ is the two-layer network
with output weights $h\\,c_j(t_l)$: an `IntegralNetwork` with vector output.
Blocks are stored stacked along a leading axis and the forward pass is one
`lax.scan` over them.
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array

from .._custom_types import Key, Point, RealScalarLike
from .._validate import (
    check_bool,
    check_finite,
    check_key,
    check_memory,
    check_positive_int,
    is_concrete,
)
from .._width._activations import (
    AbstractActivation,
    activation_argument,
    get_activation,
)
from .._width._integral_net import IntegralNetwork
from ._vector_field import AbstractUnitField, AbstractVectorField, as_vector_field


def block_knots(t0: float, t1: float, depth: int) -> np.ndarray:
    """$t_l=t_0+(t_1-t_0)l/L$, $l=0..L-1$, computed so that integer knots are exact.

    Every piece-selecting field in this module looks times up in this same
    array, so an Euler step at $t_l$ always reads piece $l$ (no rounding drift).
    """
    return t0 + (t1 - t0) * np.arange(depth, dtype=np.float64) / depth


def piece_index(knots: Array, t: Array, t0: float, t1: float) -> Array:
    """Index of the piece $[t_l,t_{l+1})$ that contains `t` (clipped to the ends)."""
    num = knots.shape[0]
    if t1 >= t0:
        idx = jnp.searchsorted(knots, t, side="right") - 1
    else:  # decreasing knots: piece l is (t_{l+1}, t_l]
        idx = jnp.searchsorted(-knots, -t, side="right") - 1
    return jnp.clip(idx, 0, num - 1)


def _check_depth(depth: Any) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"`depth` must be a positive integer; got {depth!r}.")
    return int(depth)


def _check_interval(t0: Any, t1: Any) -> tuple[float, float]:
    try:
        t0f, t1f = float(t0), float(t1)
    except (TypeError, jax.errors.ConcretizationTypeError):
        raise TypeError(
            f"`t0` and `t1` must be concrete numbers (they fix the network's depth grid); got {t0!r}, {t1!r}."
        ) from None
    if not (np.isfinite(t0f) and np.isfinite(t1f)):
        raise ValueError(f"`t0` and `t1` must be finite; got t0={t0f}, t1={t1f}.")
    if t0f == t1f:
        raise ValueError(f"`t1` must differ from `t0`; got t0 = t1 = {t0f}.")
    return t0f, t1f


def _check_point(x: Any, dim: int, who: str, dtype: Any = None) -> Array:
    """One point `(dim,)`: numeric, finite (eagerly when concrete, else at run
    time), cast to `dtype` (the network's parameters' float: integers and
    half precision are promoted, so the scan carry keeps one dtype)."""
    try:
        x = jnp.asarray(x)
    except TypeError:
        raise TypeError(
            f"{who}: `x` must be one point, an array of shape ({dim},); got {type(x).__name__}."
        ) from None
    if x.shape != (dim,):
        raise ValueError(
            f"{who} expects one point `x` of shape ({dim},); got shape {x.shape}. Use `jax.vmap` for batches."
        )
    if jnp.issubdtype(x.dtype, jnp.bool_) or not jnp.issubdtype(x.dtype, jnp.number):
        raise TypeError(f"{who}: `x` must hold numbers; got dtype {x.dtype}.")
    if dtype is not None:
        x = x.astype(jnp.promote_types(x.dtype, dtype))
    elif not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    msg = f"{who}: the input point `x` contains NaN or inf."
    if is_concrete(x):
        with jax.ensure_compile_time_eval():
            finite = bool(jnp.all(jnp.isfinite(x)))
        if not finite:
            raise _NonFinitePointError(msg)
        return x
    return check_finite(x, "x", msg)


class _NonFinitePointError(ValueError, eqx.EquinoxRuntimeError):
    """NaN/inf in a network's input point, found eagerly: a `ValueError` as
    everywhere in flowrep, and still an `EquinoxRuntimeError`, what the
    check raised before it ran eagerly."""


def check_field_point(x: Any, dim: int, who: str) -> Array:
    """A field's one point `x` `(dim,)` (a static shape check, free in a solve)."""
    x = jnp.asarray(x)
    if x.shape != (dim,):
        raise ValueError(
            f"{who} takes one point `x` of shape ({dim},); got shape {x.shape}. "
            "Use `batch_call` or `jax.vmap` for batches."
        )
    return x


class AbstractResNet(eqx.Module):
    """A residual network $x_{l+1}=x_l+r_l(x_l)$, $l=0..L-1$, read as an Euler broken line.

    Subclasses say what the residual $r_l$ of block $l$ is; the forward pass
    and the tracks are one `lax.scan` over the blocks.
    """

    t0: eqx.AbstractVar[float]
    t1: eqx.AbstractVar[float]
    depth: eqx.AbstractVar[int]
    dim: eqx.AbstractVar[int]

    @abc.abstractmethod
    def _scan_inputs(self) -> Any:
        """Per-block inputs, stacked along a leading axis of length `depth`."""

    @abc.abstractmethod
    def _residual(self, inputs: Any, x: Array) -> Array:
        """Residual $r_l(x)$ of the block whose per-block inputs are `inputs`."""

    @property
    def step_size(self) -> float:
        """$h=(t_1-t_0)/L$."""
        return (self.t1 - self.t0) / self.depth

    @property
    def ts(self) -> Array:
        """The block times $t_l=t_0+lh$, `(L,)`."""
        return jnp.asarray(block_knots(self.t0, self.t1, self.depth))

    def _carry_dtype(self, x: Array) -> Any:
        """The dtype a block returns for a point of `x`'s dtype (the scan carry's)."""
        dynamic, static = eqx.partition(self._scan_inputs(), eqx.is_array)
        first = jax.tree_util.tree_map(lambda z: z[0], dynamic)
        out = jax.eval_shape(
            lambda z: z + self._residual(eqx.combine(first, static), z), x
        )
        return out.dtype

    def _point(self, x: Any) -> Array:
        x = _check_point(x, self.dim, type(self).__name__)
        return x.astype(self._carry_dtype(x))

    def _scan(self, x: Array, keep: bool):
        dynamic, static = eqx.partition(self._scan_inputs(), eqx.is_array)

        def body(x, dyn):
            inputs = eqx.combine(dyn, static)
            x = x + self._residual(inputs, x)
            return x, (x if keep else None)

        return lax.scan(body, x, dynamic)

    def __call__(self, x: Point) -> Point:
        """The network's output $x_L$ for one input point `x` `(d,)`.

        **Raises:** `ValueError` for a wrong shape; a runtime error for NaN/inf in `x`.
        """
        x = self._point(x)
        out, _ = self._scan(x, keep=False)
        return out

    def tracks(self, x: Point) -> Array:
        """Features after each block: `(L+1, d)`, row 0 is `x` itself (vmap for batches)."""
        x = self._point(x)
        _, xs = self._scan(x, keep=True)
        assert xs is not None
        return jnp.concatenate([x[None], xs], axis=0)


def _stack_blocks(
    a: Array, b: Array, c: Array, bias: Array | None, sigma: AbstractActivation
) -> IntegralNetwork:
    """IntegralNetworks stacked along a leading axis (constructed under vmap so each is checked)."""
    if bias is None:
        return eqx.filter_vmap(lambda a, b, c: IntegralNetwork(a, b, c, sigma))(a, b, c)
    return eqx.filter_vmap(lambda a, b, c, z: IntegralNetwork(a, b, c, sigma, z))(
        a, b, c, bias
    )


@eqx.filter_jit
def _blocks_on_grid(
    field: AbstractUnitField, ts: Array, h: float, dim: int
) -> IntegralNetwork:
    """Blocks $h\\,v_{t_l}$ of a unit field on the grid `ts`, stacked (one compiled call)."""
    a, b, c = jax.vmap(field.units_at)(ts)
    bias = jax.vmap(field.bias_at)(ts)
    if a.ndim != 3 or a.shape[2] != dim or c.shape != a.shape:
        raise ValueError(
            f"`field.units_at` must return a (J, {dim}), b (J,), c (J, {dim}); got a {a.shape[1:]}, c {c.shape[1:]}."
        )
    bias = None if bias is None else h * bias
    return _stack_blocks(a, b, h * c, bias, get_activation(field.sigma))


class ResNet(AbstractResNet):
    """A finite ResNet whose blocks are two-layer integral networks.

    $x_{l+1}=x_l+\\sum_jc_{lj}\\sigma(a_{lj}\\cdot x_l-b_{lj})+c_{l0}$: block $l$ is
    `IntegralNetwork(a[l] (J, d), b[l] (J,), c[l] (J, d), sigma, bias[l] (d,))`;
    the blocks are stored stacked in `blocks` (every array has a leading axis
    `L`). The block residuals already include the step $h$: read as a field,
    block $l$ is $h\\,v_{t_l}$ (see `as_field`).

    Build one with `euler_network(field, depth)` (the Euler broken line of a
    `RidgeletField` or any field exposing `units_at`), with `ResNet.random`
    (trainable initialisation), or from stacked blocks directly.

    **Fields:**

    - `blocks`: stacked `IntegralNetwork` (leading axis `depth`).
    - `t0`, `t1`: the time interval the depth covers (static; default [0, 1]).
    """

    blocks: IntegralNetwork
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)

    def __init__(
        self,
        blocks: IntegralNetwork,
        *,
        t0: RealScalarLike = 0.0,
        t1: RealScalarLike = 1.0,
    ):
        """**Arguments:**

        - `blocks`: stacked integral networks; `a` `(L, J, d)`, `b` `(L, J)`,
          `c` `(L, J, d)`, `bias` `(L, d)` or `None`.
        - `t0`, `t1`: the depth interval (only used to read the ResNet as a field).

        **Raises:** `TypeError` if `blocks` is not an `IntegralNetwork`;
        `ValueError` if the block shapes do not stack or the blocks' output
        dimension differs from their input dimension.
        """
        if not isinstance(blocks, IntegralNetwork):
            raise TypeError(
                f"`blocks` must be stacked IntegralNetworks; got {type(blocks).__name__}."
            )
        a, b, c = blocks.a, blocks.b, blocks.c
        if a.ndim != 3 or b.ndim != 2 or c.ndim != 3:
            raise ValueError(
                "`blocks` must be IntegralNetworks stacked along a leading depth axis: "
                f"a [L, J, m], b [L, J], c [L, J, m]; got a {a.shape}, b {b.shape}, c {c.shape}."
            )
        depth, width, dim = a.shape
        if b.shape != (depth, width) or c.shape != (depth, width, dim):
            raise ValueError(
                f"Residual blocks map R^{dim} to itself: expected b [{depth}, {width}] and c [{depth}, {width}, {dim}]; "
                f"got b {b.shape}, c {c.shape}."
            )
        if blocks.bias is not None and blocks.bias.shape != (depth, dim):
            raise ValueError(
                f"`bias` must have shape [{depth}, {dim}]; got {blocks.bias.shape}."
            )
        self.blocks = blocks
        self.t0, self.t1 = _check_interval(t0, t1)
        self.depth = depth
        self.dim = dim

    @property
    def width(self) -> int:
        """Hidden units per block, $J$."""
        return self.blocks.a.shape[1]

    @property
    def sigma(self) -> AbstractActivation:
        return self.blocks.sigma

    def block(self, index: int) -> IntegralNetwork:
        """Block `index` as a single `IntegralNetwork` (its residual includes $h$)."""
        return jax.tree_util.tree_map(lambda z: z[index], self.blocks)

    def _scan_inputs(self):
        return self.blocks

    def _residual(self, inputs, x):
        return inputs(x)

    @classmethod
    def random(
        cls,
        key: Key,
        dim: int,
        width: int,
        depth: int,
        activation: "AbstractActivation | str" = "relu",
        *,
        t0: RealScalarLike = 0.0,
        t1: RealScalarLike = 1.0,
        use_bias: bool = True,
        scale: float = 1.0,
    ) -> "ResNet":
        """A trainable ResNet of given width and depth, initialised at random.

        Block $l$ is $h(\\sum_{j\\le J}c_{lj}\\sigma(a_{lj}\\cdot x-b_{lj})+c_{l0})$ with
        $a\\sim N(0,I/m)$, $b\\sim N(0,1)$, $c\\sim N(0,\\text{scale}^2I/J)$,
        $c_0=0$: the Euler broken line of a random field of size $O(\\text{scale})$,
        so the network stays $O(1)$ away from the identity as the depth grows.

        **Arguments:**

        - `key`: PRNG key (keyword or positional).
        - `dim`: feature dimension $m$; `width`: hidden units per block $J$;
          `depth`: number of blocks $L$.
        - `activation`: name or `AbstractActivation` ("relu" default).
        - `t0`, `t1`: depth interval; `use_bias`: include the output bias $c_0$.
        - `scale`: size of the residual field.

        **Raises:** `ValueError` for non-positive sizes.
        """
        for name, v in (("dim", dim), ("width", width), ("depth", depth)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"`{name}` must be a positive integer; got {v!r}.")
        check_key(key)
        sigma = activation_argument(activation, "activation")
        use_bias = check_bool(use_bias, "use_bias")
        t0f, t1f = _check_interval(t0, t1)
        if isinstance(scale, bool) or not isinstance(
            scale, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"`scale` must be a real number; got {scale!r}.")
        if not np.isfinite(scale):
            raise ValueError(f"`scale` must be finite; got {scale}.")
        itemsize = jnp.dtype(jnp.result_type(float)).itemsize
        check_memory(
            depth * (width * (2 * dim + 1) + dim) * itemsize,
            f"ResNet.random(depth={depth}, width={width})",
        )
        h = (t1f - t0f) / depth
        ka, kb, kc = jr.split(key, 3)
        dtype = jnp.result_type(float)
        a = jr.normal(ka, (depth, width, dim), dtype) / np.sqrt(dim)
        b = jr.normal(kb, (depth, width), dtype)
        c = h * scale * jr.normal(kc, (depth, width, dim), dtype) / np.sqrt(width)
        bias = jnp.zeros((depth, dim), dtype) if use_bias else None
        return cls(_stack_blocks(a, b, c, bias, sigma), t0=t0f, t1=t1f)

    def as_field(self, kind: str = "piecewise"):
        """This ResNet read as a time-dependent vector field (see `field_from_resnet`)."""
        from ._resnet_field import field_from_resnet  # it imports this module

        return field_from_resnet(self, kind=kind)


class EulerNetwork(AbstractResNet):
    """The Euler broken line of an arbitrary field $v(t,x,\\text{args})$, as a network.

    $x_{l+1}=x_l+h\\,v(t_l,x_l,\\text{args})$; the field is called once per block
    inside a `lax.scan`. Use `euler_network` to build one.

    **Fields:** `field` (the vector field), `args`, and static `t0`, `t1`,
    `depth`, `dim`.
    """

    field: Callable
    args: Any
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)

    def __check_init__(self):
        if not callable(self.field):
            raise TypeError(
                f"`field` must be a vector field f(t, x, args); got {type(self.field).__name__}."
            )
        _check_depth(self.depth)
        _check_interval(self.t0, self.t1)
        if (
            isinstance(self.dim, bool)
            or not isinstance(self.dim, (int, np.integer))
            or self.dim < 1
        ):
            raise ValueError(f"`dim` must be a positive integer; got {self.dim!r}.")

    def _scan_inputs(self):
        return jnp.asarray(block_knots(self.t0, self.t1, self.depth))

    def _residual(self, inputs, x):
        dx = self.field(inputs, x, self.args)
        if jnp.shape(dx) != x.shape:
            raise ValueError(
                f"The field returned shape {jnp.shape(dx)} for a point of shape {x.shape}; a vector field maps R^d to R^d."
            )
        return self.step_size * dx


def euler_network(
    field: AbstractVectorField | Callable,
    depth: int,
    *,
    t0: RealScalarLike | None = None,
    t1: RealScalarLike | None = None,
    dim: int | None = None,
    args: Any = None,
) -> "ResNet | EulerNetwork":
    """The depth-$L$ Euler broken line $x_{l+1}=x_l+h\\,v_{t_l}(x_l)$ of a flow, as a network.

    See docs/theory/flows.md#depth-continuum: a ResNet is the Euler discretisation of $\\dot x=v_t(x)$
    with $h=(t_1-t_0)/L$, $t_l=t_0+lh$; it converges to the time-$(t_1-t_0)$
    flow map at rate $O(1/L)$ for Lipschitz fields.

    For an `AbstractUnitField` (hidden units `units_at(t) -> (a (J, d),
    b (J,), c (J, d))`, `sigma`, and an optional `bias_at(t) -> (d,)`), such
    as `RidgeletField`, `PlainNetField` or the field of a ResNet, the result is
    a `ResNet` whose block $l$ is the integral network with output weights
    $h\\,c_j(t_l)$. For any other callable $v(t,x,\\text{args})$ it is an
    `EulerNetwork` that calls the field once per block.

    **Arguments:**

    - `field`: the vector field.
    - `depth`: the number of blocks $L\\ge1$.
    - `t0`, `t1`: the time interval; default to the field's `t0`, `t1`.
    - `dim`: the dimension $m$; defaults to the field's `dim` (required for a
      plain callable without one).
    - `args`: passed to a generic field as its third argument.

    **Returns:** a `ResNet` (unit-exposing fields) or an `EulerNetwork`.

    **Raises:** `MemoryError` (before allocating) when the blocks of `depth`
    would exceed `flowrep._validate.memory_limit()` (16 GiB or the physical
    memory; `FLOWREP_MAX_BYTES`); `ValueError` for a non-positive depth, `t1 == t0`, missing
    `t0`/`t1`/`dim`, or units of the wrong shape.
    """
    depth = _check_depth(depth)
    vf = as_vector_field(field)
    t0 = vf.t0 if t0 is None else t0
    t1 = vf.t1 if t1 is None else t1
    if t0 is None or t1 is None:
        raise ValueError(
            "The field has no `t0`/`t1` attributes: pass `t0=` and `t1=` to euler_network."
        )
    t0f, t1f = _check_interval(t0, t1)
    dim = vf.dim if dim is None else dim
    if dim is None:
        raise ValueError(
            "The field has no `dim` attribute: pass `dim=` to euler_network."
        )
    dim = check_positive_int(dim, "dim")
    # Checked before allocating: the knots (float64), and for a unit field the
    # stacked blocks a (L, J, d), b (L, J), c (L, J, d), bias (L, d).
    itemsize = jnp.dtype(jnp.result_type(float)).itemsize
    per_block = 8 + dim * itemsize
    if isinstance(vf, AbstractUnitField):
        per_block += (vf.num_units * (2 * dim + 1) + dim) * itemsize
    check_memory(depth * per_block, f"euler_network(depth={depth})")
    h = (t1f - t0f) / depth
    if isinstance(vf, AbstractUnitField):
        ts = jnp.asarray(block_knots(t0f, t1f, depth))
        blocks = _blocks_on_grid(vf, ts, h, dim)
        return ResNet(blocks, t0=t0f, t1=t1f)
    return EulerNetwork(field=field, args=args, t0=t0f, t1=t1f, depth=depth, dim=dim)
