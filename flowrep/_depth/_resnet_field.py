"""`ResNetField`: a finite ResNet read back as a time-dependent vector field.

Block l of a ResNet with step h is $x\\mapsto x+h\\,v_l(x)$; as a field it is
$v_t=v_l$ on the l-th piece of $[t_0,t_1]$ (docs/theory/flows.md#depth-continuum).
"""

from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validate import check_finite
from .._width._activations import AbstractActivation
from .._width._integral_net import IntegralNetwork
from ._resnet import block_knots, check_field_point, piece_index, ResNet
from ._vector_field import AbstractUnitField


class ResNetField(AbstractUnitField):
    """A finite ResNet read as a piecewise-constant-in-time vector field.

    On $[t_l,t_{l+1})$ the field is block $l$'s residual divided by $h$:
    $v_t(x)=\\sum_jc_{lj}\\sigma(a_{lj}\\cdot x-b_{lj})/h+c_{l0}/h$ (the converse of
    `euler_network`: its depth-$L$ Euler broken line is the ResNet again).
    Exposes `units_at`/`bias_at`, so `euler_network` rebuilds integral blocks.

    **Fields:** `blocks` (stacked `IntegralNetwork`, already divided by $h$),
    static `t0`, `t1`, `depth`, `dim`.
    """

    blocks: IntegralNetwork
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)

    def __check_init__(self):
        if not isinstance(self.blocks, IntegralNetwork) or self.blocks.a.ndim != 3:
            raise TypeError(
                "`blocks` must be IntegralNetworks stacked along a depth axis "
                f"(a (L, J, d)); got {type(self.blocks).__name__}. Use field_from_resnet."
            )
        if self.blocks.a.shape[0] != self.depth or self.blocks.a.shape[2] != self.dim:
            raise ValueError(
                f"`blocks` have a of shape {self.blocks.a.shape}; expected (depth={self.depth}, J, dim={self.dim})."
            )

    @property
    def sigma(self) -> AbstractActivation:
        return self.blocks.sigma

    @property
    def num_units(self) -> int:
        return self.blocks.a.shape[1]

    @property
    def jump_ts(self) -> tuple[float, ...]:
        """Interior block boundaries $t_1,\\dots,t_{L-1}$ (where the field jumps)."""
        return tuple(block_knots(self.t0, self.t1, self.depth)[1:].tolist())

    def stepsize_controller(
        self, rtol: float = 1e-8, atol: float = 1e-8
    ) -> diffrax.ClipStepSizeController:
        """`PIDController(rtol, atol)` that steps onto the block boundaries, for `flowrep.flow`."""
        return diffrax.ClipStepSizeController(
            diffrax.PIDController(rtol=rtol, atol=atol), jump_ts=self.jump_ts
        )

    def _index(self, t: ArrayLike) -> Array:
        knots = jnp.asarray(block_knots(self.t0, self.t1, self.depth))
        return piece_index(knots, jnp.asarray(t), self.t0, self.t1)

    def units_at(self, t: ArrayLike) -> tuple[Array, Array, Array]:
        """$(a,b,c)$ of the block active at time `t`: `(J, d)`, `(J,)`, `(J, d)`."""
        i = self._index(t)
        return self.blocks.a[i], self.blocks.b[i], self.blocks.c[i]

    def bias_at(self, t: ArrayLike) -> Array:
        """Output bias of the block active at time `t` (zeros if the blocks have none)."""
        if self.blocks.bias is None:
            return jnp.zeros(self.dim, self.blocks.c.dtype)
        return self.blocks.bias[self._index(t)]

    def __call__(self, t: ArrayLike, x: Array, args: Any = None) -> Array:
        """$v_t(x)$ for one point `x` `(d,)` (the diffrax convention).

        **Raises:** `ValueError` for a point of the wrong shape; NaN/inf in `x`
        or `t` (eagerly, or at run time when traced).
        """
        x = check_field_point(x, self.dim, "ResNetField")
        x = check_finite(x, "x")
        t = check_finite(jnp.asarray(t), "t")
        a, b, c = self.units_at(t)
        return self.sigma(a @ x - b) @ c + self.bias_at(t)

    def batch_call(self, t: ArrayLike, xs: Array, args: Any = None) -> Array:
        """$v_t(x_i)$ for a batch `xs` `(n, d)` (used by `flowrep.flow`)."""
        a, b, c = self.units_at(t)
        return self.sigma(xs @ a.T - b) @ c + self.bias_at(t)


def field_from_resnet(resnet: ResNet, kind: str = "piecewise"):
    """Read a finite ResNet with two-layer blocks as a time-dependent field.

    Block $l$'s residual divided by $h$ is the velocity at time $t_l$ (docs/theory/flows.md#depth-continuum: a ResNet is the Euler broken line of its field).

    **Arguments:**

    - `resnet`: a `ResNet`.
    - `kind`: `"piecewise"` (default): a `ResNetField`, constant on each
      $[t_l,t_{l+1})$, output biases kept. `"ridgelet"`: a `RidgeletField`
      through `RidgeletField.from_units` at the knots $t_l$; an output bias is
      folded into one extra unit $a=0$, $b=-1$, $c=c_0/\\sigma(1)$; needs
      $t_0<t_1$.

    **Returns:** the field; `euler_network(field, resnet.depth)` reproduces
    `resnet`'s outputs.

    **Raises:** `ValueError` for an unknown `kind`, or when folding a bias
    needs $\\sigma(1)\\neq0$ and it is 0.
    """
    if not isinstance(resnet, ResNet):
        raise TypeError(
            f"field_from_resnet needs a ResNet; got {type(resnet).__name__}."
        )
    h = resnet.step_size
    blocks = resnet.blocks
    scaled = eqx.tree_at(lambda n: n.c, blocks, blocks.c / h)
    if blocks.bias is not None:
        scaled = eqx.tree_at(lambda n: n.bias, scaled, blocks.bias / h)
    if kind == "piecewise":
        return ResNetField(
            blocks=scaled,
            t0=resnet.t0,
            t1=resnet.t1,
            depth=resnet.depth,
            dim=resnet.dim,
        )
    if kind == "ridgelet":
        from ._field import RidgeletField

        a, b, c = scaled.a, scaled.b, scaled.c
        if scaled.bias is not None:
            one = float(resnet.sigma(jnp.asarray(1.0)))
            if one == 0.0:
                raise ValueError(
                    f"Cannot fold the output bias into a unit: sigma(1) = 0 for {resnet.sigma.name}. Use kind='piecewise'."
                )
            depth = resnet.depth
            a = jnp.concatenate([a, jnp.zeros((depth, 1, resnet.dim), a.dtype)], axis=1)
            b = jnp.concatenate([b, -jnp.ones((depth, 1), b.dtype)], axis=1)
            c = jnp.concatenate([c, (scaled.bias / one)[:, None, :]], axis=1)
        ts = np.append(block_knots(resnet.t0, resnet.t1, resnet.depth), resnet.t1)
        return RidgeletField.from_units(
            a, b, c, ts, sigma=resnet.sigma, basis="piecewise_constant"
        )
    raise ValueError(f"Unknown kind {kind!r}; expected 'piecewise' or 'ridgelet'.")
