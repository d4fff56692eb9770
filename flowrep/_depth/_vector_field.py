"""`AbstractVectorField`: what `flow`, `fit` and `euler_network` ask of a field.

A vector field is `field(t, x, args) -> dx` on one point, the diffrax
convention (as `diffrax.AbstractTerm.vf`). The interface adds what a solver
can use when the field knows it: a batched form, the divergence, its time
interval and dimension, and the times where it is not smooth. Fields made of
ridge units $\\sum_jc_j(t)\\sigma(a_j(t)\\cdot x-b_j(t))$ also expose those
units (`AbstractUnitField`), so that `euler_network` builds integral blocks.
"""

import abc
from collections.abc import Callable
from typing import Any, TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import Point, Points, UnitBiases, UnitScales
from .._width._activations import AbstractActivation


class AbstractVectorField(eqx.Module):
    """A time-dependent vector field $v_t:\\mathbb R^d\\to\\mathbb R^d$.

    Subclasses implement `__call__` on one point and provide `dim`, `t0` and
    `t1` (a field or a property; `None` where the field does not fix them).
    `batch_call` and `batch_divergence` default to a `vmap` and to the exact
    trace of `jax.jacfwd`; subclasses override them when they have faster
    forms. `step_ts` and `jump_ts` default to `()`.

    A plain callable `f(t, x, args)` is accepted wherever a field is; it is
    wrapped once by `as_vector_field`.

    **Attributes:**

    - `dim`: $d$, or `None` when any dimension goes.
    - `t0`, `t1`: the default time interval, or `None`.
    """

    if TYPE_CHECKING:
        # pyright reads an AbstractVar as an `__init__` field of this class and
        # holds every override to its exact type, which a field `dim: int` or a
        # property fails; so it sees an untyped attribute outside `__init__`.
        dim: Any = eqx.field(init=False)
        t0: Any = eqx.field(init=False)
        t1: Any = eqx.field(init=False)
    else:
        dim: eqx.AbstractVar[int | None]
        t0: eqx.AbstractVar[float | None]
        t1: eqx.AbstractVar[float | None]

    @abc.abstractmethod
    def __call__(self, t: ArrayLike, x: Point, args: Any = None) -> Point:
        """$v_t(x)$ for one point `x` of shape `(d,)`; returns shape `(d,)`."""

    def batch_call(self, t: ArrayLike, xs: Points, args: Any = None) -> Points:
        """$v_t(x_i)$ for a batch `xs` of shape `(n, d)`; returns `(n, d)`."""
        return jax.vmap(self, in_axes=(None, 0, None))(t, xs, args)

    def batch_divergence(
        self, t: ArrayLike, xs: Points, args: Any = None
    ) -> tuple[Points, Float[Array, " n"]]:
        """$v_t(x_i)$ and $\\nabla\\cdot v_t(x_i)$ for a batch `xs` `(n, d)`.

        The default is the exact trace of the Jacobian by `jax.jacfwd`, one
        point at a time (cost $O(d)$ evaluations per point).

        **Returns:** `(v (n, d), div (n,))`.
        """

        def one(x):
            fn = lambda y: self(t, y, args)  # noqa: E731
            return fn(x), jnp.trace(jax.jacfwd(fn)(x))

        return jax.vmap(one)(xs)

    @property
    def step_ts(self) -> tuple[float, ...]:
        """Times where $v_t$ is continuous but not smooth in $t$ (default none).

        Adaptive solves by `flowrep.flow` land on them instead of rejecting
        the steps across them (diffrax's `ClipStepSizeController(step_ts=...)`).
        """
        return ()

    @property
    def jump_ts(self) -> tuple[float, ...]:
        """Times where $v_t$ jumps in $t$ (default none); diffrax's `jump_ts`."""
        return ()


class _CallableField(AbstractVectorField):
    """A plain callable `f(t, x, args)` as an `AbstractVectorField`.

    An `eqx.Module` callable keeps its arrays as leaves here, so gradients
    and adjoints see them.
    """

    fn: Callable[..., Any]

    @property
    def dim(self) -> None:
        return None

    @property
    def t0(self) -> None:
        return None

    @property
    def t1(self) -> None:
        return None

    def __call__(self, t: ArrayLike, x: Point, args: Any = None) -> Point:
        return self.fn(t, x, args)


def as_vector_field(field: Any) -> AbstractVectorField:
    """`field` itself when it is an `AbstractVectorField`, else a callable wrapped once.

    **Raises:** `TypeError` when `field` is not callable.
    """
    if isinstance(field, AbstractVectorField):
        return field
    if not callable(field):
        raise TypeError(
            f"`field` must be a vector field v(t, x, args); got {type(field).__name__}."
        )
    return _CallableField(field)


class AbstractUnitField(AbstractVectorField):
    """A vector field made of ridge units: $v_t(x)=\\sum_jc_j(t)\\sigma(a_j(t)\\cdot x-b_j(t))+c_0(t)$.

    `units_at(t)` gives the units at one time and `bias_at(t)` the output
    bias $c_0(t)$ (default `None`: the field has none). `euler_network` reads
    them to build the blocks of a `ResNet`; `field_from_resnet` returns one.

    **Attributes:**

    - `sigma`: the activation $\\sigma$.
    - `num_units`: $J$, the units per time.
    """

    if TYPE_CHECKING:  # as for `AbstractVectorField.dim`
        sigma: Any = eqx.field(init=False)
        num_units: Any = eqx.field(init=False)
    else:
        sigma: eqx.AbstractVar[AbstractActivation]
        num_units: eqx.AbstractVar[int]

    @abc.abstractmethod
    def units_at(self, t: ArrayLike) -> tuple[UnitScales, UnitBiases, UnitScales]:
        """The units at time `t`: `(a (J, d), b (J,), c (J, d))`."""

    def bias_at(self, t: ArrayLike) -> Point | None:
        """The output bias $c_0(t)$, shape `(d,)`; `None` (read as zero) by default.

        `None` rather than zeros keeps the blocks of `euler_network(field)`
        without a bias, as for a `RidgeletField`.
        """
        del t
        return None
