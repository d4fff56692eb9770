"""Depth smoothness of residual networks (Sander, Ablin & Peyré, NeurIPS 2022).

See docs/theory/widths.md#depth-smoothness.
"""

import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._validate import as_points, check_finite
from ._flow import flow
from ._resnet import ResNet
from ._resnet_field import field_from_resnet


class DepthSmoothness(eqx.Module):
    """How smoothly the block weights of residual networks vary with depth.

    For one network of depth L with block weights $W_1,\\dots,W_L$ (for a
    flowrep `ResNet`: the field's parameters $(a_l,b_l,c_l/h,c_{l0}/h)$ of block
    l, i.e. the residual without its step $h$):

    - `depths` `(K,)`: the depths of the K networks given.
    - `increment_norms`: tuple of K arrays `(L_k-1,)`, $\\|W_{l+1}-W_l\\|_F$.
    - `max_increment` `(K,)`: $\\max_l\\|W_{l+1}-W_l\\|_F$.
    - `beta`: the exponent of $\\max_l\\|W_{l+1}-W_l\\|\\sim L^{-\\beta}$ fitted by
      least squares on $\\log$ max increment against $\\log L$ over the K depths
      (`nan` when K < 2). Weights $W_l=W(l/L)$ read from a smooth $W(s)$ give
      $\\beta\\approx1$; i.i.d. blocks give $\\beta\\approx0$ (Sander et al. 2022).
    - `tracks_deviation` `(K,)` or `None`: for ResNets with samples `x`,
      $\\max_l\\big(\\frac1n\\sum_i\\|x_i^l-\\phi_{t_l}(x_i)\\|^2\\big)^{1/2}$ divided by
      $(\\frac1n\\sum_i\\|x_i^L-x_i^0\\|^2)^{1/2}$: how far the network's tracks
      are from the flow $\\phi$ of the field read from its blocks
      (`field_from_resnet`), i.e. whether the network is close to the Euler
      discretisation of an ODE ($O(1/L)$ for a smooth field).
    """

    depths: tuple[int, ...] = eqx.field(static=True)
    increment_norms: tuple[Array, ...]
    max_increment: Array
    beta: Array
    tracks_deviation: Array | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of plain floats and lists."""
        return {
            "depths": list(self.depths),
            "increment_norms": [
                [float(v) for v in np.asarray(a)] for a in self.increment_norms
            ],
            "max_increment": [float(v) for v in np.asarray(self.max_increment)],
            "beta": float(self.beta),
            "tracks_deviation": None
            if self.tracks_deviation is None
            else [float(v) for v in np.asarray(self.tracks_deviation)],
        }


def resnet_block_weights(resnet: ResNet) -> Array:
    """The block weights of a flowrep `ResNet` as `(L, p)`: block l's field
    parameters $(a_l, b_l, c_l/h, c_{l0}/h)$ flattened.

    **Raises:** `TypeError` if `resnet` is not a flowrep `ResNet`.
    """
    if not isinstance(resnet, ResNet):
        raise TypeError(
            f"`resnet` must be a flowrep ResNet; got {type(resnet).__name__}."
        )
    h = resnet.step_size
    bl = resnet.blocks
    parts = [bl.a, bl.b, bl.c / h] + ([] if bl.bias is None else [bl.bias / h])
    return jnp.concatenate([p.reshape(resnet.depth, -1) for p in parts], axis=1)


def _weights_array(w: Any, what: str) -> Array:
    """Block weights as a floating array (half precision and integers promoted
    to float32 / the default float: the increments are squared)."""
    try:
        w = jnp.asarray(w)
    except TypeError:
        raise TypeError(
            f"{what} must be a flowrep ResNet or an array of block weights (L, ...); "
            f"got {type(w).__name__}."
        ) from None
    if jnp.issubdtype(w.dtype, jnp.bool_) or not jnp.issubdtype(w.dtype, jnp.number):
        raise TypeError(f"{what} must hold numbers; got dtype {w.dtype}.")
    if not jnp.issubdtype(w.dtype, jnp.floating) or jnp.finfo(w.dtype).bits < 32:
        w = w.astype(jnp.promote_types(jnp.result_type(float), jnp.float32))
    return w


def _as_weights(net, what: str) -> tuple[Array, ResNet | None]:
    if isinstance(net, ResNet):
        w = resnet_block_weights(net)
        w = w.astype(jnp.promote_types(w.dtype, jnp.float32))
        return check_finite(
            w, what, f"{what}: the ResNet's block weights contain NaN or inf."
        ), net
    if hasattr(net, "ndim"):
        w = _weights_array(net, what)
        if w.ndim < 2:
            raise ValueError(
                f"{what}: block weights must have a leading depth axis (L, ...); got shape {w.shape}."
            )
        w = w.reshape(w.shape[0], -1)
    else:
        if isinstance(net, (str, bytes)) or not isinstance(net, Sequence):
            raise TypeError(
                f"{what} must be a flowrep ResNet, an array of block weights (L, ...) or a "
                f"sequence of block weight arrays; got {type(net).__name__}."
            )
        ws = [_weights_array(w, what) for w in net]
        if any(w.shape != ws[0].shape for w in ws):
            raise ValueError(
                f"{what}: every block weight matrix of one network must have the same shape; got "
                f"{sorted({w.shape for w in ws})}."
            )
        w = jnp.stack(ws).reshape(len(ws), -1)
    return check_finite(w, what, f"{what} contains NaN or inf block weights."), None


def _row_norms(d: Array) -> Array:
    """$\\|d_l\\|_F$ per row, scaled by the row's largest entry first so that
    weights near the float's range (1e30 in float32) do not overflow."""
    s = jnp.max(jnp.abs(d), axis=1, keepdims=True)
    safe = jnp.where(s > 0, s, 1)
    return (safe * jnp.linalg.norm(d / safe, axis=1, keepdims=True))[:, 0]


def _is_one_network(obj) -> bool:
    if isinstance(obj, ResNet) or hasattr(obj, "ndim"):
        return True
    # A sequence of arrays of one shape is one network's blocks; arrays of
    # different shapes are several stacked networks `(L_k, ...)`.
    if not (isinstance(obj, Sequence) and len(obj) > 0):
        return False
    if not all(hasattr(o, "ndim") for o in obj):
        return False
    return len({jnp.shape(o) for o in obj}) == 1


def _tracks_deviation(resnet: ResNet, x: Array) -> Array:
    field = field_from_resnet(resnet)
    res = jax.vmap(resnet.tracks)(x)  # (n, L+1, d)
    res = jnp.swapaxes(res, 0, 1)
    ts = jnp.linspace(resnet.t0, resnet.t1, resnet.depth + 1)
    # Adaptive steps; the field's jump_ts (its knots) make steps land on the jumps.
    ode = flow(field, x, ts=ts, rtol=1e-7, atol=1e-9)
    dev = jnp.sqrt(jnp.max(jnp.mean(jnp.sum((res - ode.tracks) ** 2, -1), -1)))
    size = jnp.sqrt(jnp.mean(jnp.sum((res[-1] - res[0]) ** 2, -1)))
    return dev / size


def depth_smoothness(
    networks: Any,
    *,
    x: ArrayLike | None = None,
) -> DepthSmoothness:
    """Depth smoothness of residual networks and the exponent $\\beta$.

    Sander et al. (2022, "Do residual neural networks discretize neural
    ordinary differential equations?") show that a ResNet
    $x_{l+1}=x_l+\\frac1Lf(x_l,W_l)$ converges to a neural ODE as $L\\to\\infty$
    when $\\max_l\\|W_{l+1}-W_l\\|=O(L^{-\\beta})$ with $\\beta>0$, and that
    trained networks can or cannot have this property. This measures it;
    see [`DepthSmoothness`][] and docs/theory/widths.md#depth-smoothness.

    **Arguments:**

    - `networks`: one network or a sequence of networks of different depths
      (for $\\beta$). A network is a flowrep `ResNet`, an array of block
      weights `(L, ...)`, or a sequence of L block weight arrays of one shape
      (the weights without the step $1/L$). A sequence of arrays of
      different shapes is read as several stacked networks.
    - `x`: optional samples `(n, d)`; with ResNets, also measure how far the
      network's tracks are from the flow of its field.

    **Returns:** a [`DepthSmoothness`][].

    **Raises:** `ValueError` for a network of depth < 2, block weights of
    different shapes or with NaN/inf, no networks, `x` without ResNets or
    `x` not `(n, d)` in the ResNets' dimension (or with NaN/inf);
    `TypeError` for anything that is not a network. Half-precision and
    integer weights are promoted to float32 (the increments are squared).
    """
    one = _is_one_network(networks)
    if not one and (
        isinstance(networks, (str, bytes)) or not isinstance(networks, Sequence)
    ):
        raise TypeError(
            "`networks` must be a flowrep ResNet, an array of block weights (L, ...) or a "
            f"sequence of networks; got {type(networks).__name__}."
        )
    nets = [networks] if one else list(networks)
    if not nets:
        raise ValueError("`networks` must hold at least one network.")
    weights, resnets = [], []
    for k, net in enumerate(nets):
        w, r = _as_weights(net, "`networks`" if one else f"`networks[{k}]`")
        if w.shape[0] < 2:
            raise ValueError(
                f"depth smoothness needs networks of depth >= 2; got {w.shape[0]}."
            )
        weights.append(w)
        resnets.append(r)
    depths = tuple(int(w.shape[0]) for w in weights)
    incs = tuple(_row_norms(jnp.diff(w, axis=0)) for w in weights)
    mx = jnp.stack([jnp.max(i) for i in incs])
    uniq = len(set(depths)) >= 2
    if uniq:
        logL = np.log(np.asarray(depths, float))
        logm = np.log(np.maximum(np.asarray(mx, float), np.finfo(float).tiny))
        slope = np.polyfit(logL, logm, 1)[0]
        beta = jnp.asarray(-slope)
    else:
        beta = jnp.asarray(math.nan)
    dev = None
    if x is not None:
        if any(r is None for r in resnets):
            raise ValueError(
                "`x` (the tracks deviation) needs flowrep ResNets, not raw weights."
            )
        dims = {r.dim for r in resnets if r is not None}
        if len(dims) != 1:
            raise ValueError(
                f"`x` needs ResNets of one dimension; got dimensions {sorted(dims)}."
            )
        xa = as_points(
            x, "x", min_samples=1, dim=dims.pop(), dim_of="the ResNets act on R^d"
        )
        dev = jnp.stack([_tracks_deviation(r, xa) for r in resnets if r is not None])
    return DepthSmoothness(
        depths=depths,
        increment_norms=incs,
        max_increment=mx,
        beta=beta,
        tracks_deviation=dev,
    )
