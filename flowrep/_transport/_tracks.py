"""Tracks: the features $x_i^l$, $l=0..L$, of n samples through layers or times."""

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import Point, Points, TrackArray
from .._validate import check_finite, is_traced


@runtime_checkable
class TrackedNetwork(Protocol):
    """What [`Tracks.from_resnet`][] needs: a network whose `tracks` method
    maps one sample `(d,)` to its features after every block, `(L+1, d)`."""

    def tracks(self, x: Point, /) -> Array: ...


@runtime_checkable
class TimedNetwork(TrackedNetwork, Protocol):
    """A `TrackedNetwork` that also states its time interval and size, as
    flowrep's `ResNet` and `EulerNetwork` do: `depth` blocks on the Euler
    broken line from `t0` to `t1`, acting on samples in $\\mathbb R^{dim}$."""

    t0: float
    t1: float
    depth: int
    dim: int


@runtime_checkable
class FlowRecord(Protocol):
    """What [`Tracks.from_flow`][] needs: `tracks` `(T, n, d)` recorded at the
    times `ts` `(T,)`, as in the result of `flowrep.flow`."""

    tracks: Any
    ts: Any


class Tracks(eqx.Module):
    """Features of n samples at L+1 recorded layers or times (docs/theory/scores.md#tracks).

    - `points`: array `(L+1, n, d)`; `points[l, i]` is $x_i^l$.
    - `times`: array `(L+1,)`, strictly increasing; layer l sits at `times[l]`
      (default $l/L$). Scores use the normalised steps
      $\\Delta t_l=(t_{l+1}-t_l)/(t_L-t_0)$.

    Build with [`Tracks.from_array`][], [`Tracks.from_flow`][] (a `flowrep.flow`
    result), [`Tracks.from_resnet`][] (the features after every block of a
    `ResNet` or `EulerNetwork`, e.g. from `euler_network`; no axis swap
    needed) or [`record_tracks`][] (any list of layers).

    ```python
    resnet = flowrep.euler_network(field, depth=16)
    tracks = flowrep.Tracks.from_resnet(resnet, x)  # points (17, n, d)
    ```
    """

    points: TrackArray
    times: Float[Array, " T"]

    def __init__(
        self, points: ArrayLike | Sequence[ArrayLike], times: ArrayLike | None = None
    ):
        """**Arguments:**

        - `points`: an array `(L+1, n, d)`, or a sequence of L+1 arrays `(n, d)`.
        - `times`: optional `(L+1,)` strictly increasing times.

        **Raises:** `ValueError` when fewer than 2 layers or 2 samples, layers of
        unequal shape, NaN/inf, or bad times.
        """
        if not hasattr(points, "ndim"):
            layers = [jnp.asarray(p) for p in points]  # pyright: ignore
            if len(layers) < 2:
                raise ValueError(f"tracks need at least 2 layers; got {len(layers)}.")
            for idx, p in enumerate(layers):
                if p.ndim != 2 or p.shape != layers[0].shape:
                    raise ValueError(
                        "every layer of a track must have the same shape (n, d); "
                        f"layer 0 has {layers[0].shape} but layer {idx} has {p.shape}."
                    )
            points = jnp.stack(layers)
        pts = jnp.asarray(points)
        if pts.ndim != 3:
            raise ValueError(
                f"tracks must be an array of shape (L+1, n, d); got shape {pts.shape}."
            )
        if pts.shape[0] < 2:
            raise ValueError(f"tracks need at least 2 layers; got {pts.shape[0]}.")
        if pts.shape[1] < 2:
            raise ValueError(f"tracks need at least 2 samples; got {pts.shape[1]}.")
        if pts.shape[2] < 1:
            raise ValueError(f"tracks need dimension d >= 1; got shape {pts.shape}.")
        if not jnp.issubdtype(pts.dtype, jnp.floating):
            pts = pts.astype(jnp.result_type(float))
        self.points = check_finite(pts, "tracks")
        L = pts.shape[0] - 1
        if times is None:
            ts = jnp.linspace(0.0, 1.0, L + 1, dtype=pts.dtype)
        else:
            ts = jnp.asarray(times, dtype=pts.dtype)
            if ts.shape != (L + 1,):
                raise ValueError(
                    f"`times` must have shape ({L + 1},) to match the tracks; got {ts.shape}."
                )
            ts = check_finite(ts, "times")
            if not is_traced(ts) and not bool(jnp.all(jnp.diff(ts) > 0)):
                raise ValueError("`times` must be strictly increasing.")
        self.times = ts

    @classmethod
    def from_array(
        cls, arr: ArrayLike | Sequence[ArrayLike], times: ArrayLike | None = None
    ) -> "Tracks":
        """Tracks from an array `(L+1, n, d)` or a list of `(n, d)` arrays."""
        return cls(arr, times)

    @classmethod
    def from_flow(cls, result: FlowRecord) -> "Tracks":
        """Tracks from a flow result: reads `result.tracks` `(T, n, d)` and
        `result.ts` `(T,)` (any `FlowRecord`, e.g. the output of
        `flowrep.flow`).

        **Raises:** `TypeError` if `result` has no `.tracks` or `.ts`.
        """
        if not isinstance(result, FlowRecord):
            raise TypeError(
                "`from_flow` expects an object with `.tracks` (T, n, d) and `.ts` (T,); "
                f"got {type(result).__name__}."
            )
        return cls(result.tracks, result.ts)

    @classmethod
    def from_resnet(cls, resnet: TrackedNetwork, x: ArrayLike) -> "Tracks":
        """Tracks of samples through the blocks of a residual network.

        Runs `resnet.tracks` (one sample `(d,)` to its features `(L+1, d)`,
        one `lax.scan` over the blocks) on every sample in one compiled call
        and stacks them layer-major, so `points[l]` holds $x^l$ of all samples
        ($x^0=x$). The times are the block times $t_l=t_0+l\\,h$ of the
        Euler broken line ($h=(t_1-t_0)/L$, docs/theory/flows.md#depth-continuum), or, for a
        network run backward in time ($t_1<t_0$), the elapsed $|t_l-t_0|$.

        **Arguments:**

        - `resnet`: a `flowrep.ResNet` or `flowrep.EulerNetwork` (as built by
          `euler_network`, `ResNet.random` or Li-Shi refinement), or any
          `TrackedNetwork`. A `TimedNetwork` (flowrep's networks are)
          also fixes `d` and, when its `depth` is L, the times; other
          networks get times $l/L$.
        - `x`: samples `(n, d)`.

        **Returns:** [`Tracks`][] with `points` `(L+1, n, d)`.

        **Raises:** `TypeError` if `resnet` has no `tracks` method;
        `ValueError` if `x` is not `(n, d)` with the network's `d`, or holds
        NaN/inf (the same checks as `Tracks`).
        """
        if not (isinstance(resnet, TrackedNetwork) and callable(resnet.tracks)):
            raise TypeError(
                "`from_resnet` expects a residual network with a `tracks(x) -> (L+1, d)` method "
                f"(a flowrep ResNet or EulerNetwork); got {type(resnet).__name__}."
            )
        timed = resnet if isinstance(resnet, TimedNetwork) else None
        x = jnp.asarray(x)
        dim = timed.dim if timed is not None else None
        if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
            want = f"(n, {dim})" if dim is not None else "(n, d)"
            raise ValueError(f"`x` must have shape {want}; got {x.shape}.")
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            x = x.astype(jnp.result_type(float))
        x = check_finite(x, "x")
        points = _layer_major_tracks(resnet, x)
        times = None
        if timed is not None and timed.depth == points.shape[0] - 1:
            t0, t1 = timed.t0, timed.t1
            ts = jnp.linspace(t0, t1, points.shape[0], dtype=points.dtype)
            times = ts if t1 > t0 else jnp.abs(ts - t0)
        return cls(points, times)

    @property
    def num_layers(self) -> int:
        """L, the number of steps (there are L+1 recorded layers)."""
        return self.points.shape[0] - 1

    @property
    def num_samples(self) -> int:
        """n, the number of samples."""
        return self.points.shape[1]

    @property
    def n_layers(self) -> int:
        """Alias of [`Tracks.num_layers`][], kept for existing code."""
        return self.num_layers

    @property
    def n_samples(self) -> int:
        """Alias of [`Tracks.num_samples`][], kept for existing code."""
        return self.num_samples

    @property
    def dim(self) -> int:
        """d, the dimension of the features."""
        return self.points.shape[2]

    @property
    def source(self) -> Points:
        """$x^0$, shape `(n, d)`."""
        return self.points[0]

    @property
    def target(self) -> Points:
        """$x^L$, shape `(n, d)`."""
        return self.points[-1]

    @property
    def dt(self) -> Float[Array, " L"]:
        """Normalised steps $\\Delta t_l$, summing to 1."""
        dts = jnp.diff(self.times)
        return dts / jnp.sum(dts)


@eqx.filter_jit
def _layer_major_tracks(resnet: TrackedNetwork, x: Points) -> TrackArray:
    return jnp.swapaxes(jax.vmap(resnet.tracks)(x), 0, 1)


def record_tracks(layers: Sequence[Callable[[Array], Array]], x: Points) -> Tracks:
    """Run samples through a list of layers and record every intermediate feature.

    Each layer (an `eqx.Module` or any callable) takes one unbatched sample and
    is `jax.vmap`-ed over the n samples; records $x^0=x$, $x^{l+1}=\\text{layer}_l(x^l)$.
    Works for finite ResNets (blocks $x+hv(x)$) and plain nets alike, as long
    as every layer keeps the dimension.

    **Arguments:**

    - `layers`: sequence of L callables `(d,) -> (d,)`.
    - `x`: samples `(n, d)`.

    **Returns:** [`Tracks`][] with L+1 layers at times $l/L$.

    **Raises:** `ValueError` if `layers` is empty or a layer changes the dimension.
    """
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"`x` must have shape (n, d); got {x.shape}.")
    layers = list(layers)
    if not layers:
        raise ValueError("`layers` must contain at least one layer.")
    feats = [x]
    for idx, layer in enumerate(layers):
        nxt = eqx.filter_vmap(layer)(feats[-1])
        if nxt.shape != x.shape:
            raise ValueError(
                "tracks need every layer to keep the shape (n, d) = "
                f"{x.shape}; layer {idx} maps to {nxt.shape}."
            )
        feats.append(nxt)
    return Tracks(jnp.stack(feats))
