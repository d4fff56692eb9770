"""Tracks: the features $x_i^l$, $l=0..L$, of n samples through layers or times."""

import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable, TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._custom_types import Point, Points, TrackArray
from .._validate import as_points, check_finite, is_traced
from ._clouds import HIGHEST


if TYPE_CHECKING:
    from ._projection import ProjectionReport


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

    - `points`: array `(L+1, n, D)`; `points[l, i]` is $x_i^l$ in the common
      space $\\mathbb R^D$, $D=\\max_l d_l$ (docs/theory/widths.md#embedding).
    - `times`: array `(L+1,)`, strictly increasing; layer l sits at `times[l]`
      (default $l/L$). Scores use the normalised steps
      $\\Delta t_l=(t_{l+1}-t_l)/(t_L-t_0)$.
    - `widths`: static tuple of the layers' own widths $d_l$ (all $D$ for
      tracks of one width).
    - `embedding`: `None` for the zero-padding embedding
      $x\\mapsto(x,0)\\in\\mathbb R^D$ (Sonoda & Murata 2017's common space),
      else a tuple of L+1 matrices $M_l$ `(d_l, D)` with orthonormal rows
      ($M_lM_l^\\top=I$), so $x\\mapsto xM_l$ is an isometry into $\\mathbb R^D$.

    Layers of different widths are embedded once, at construction, so every
    score of `score_tracks` runs on `points` unchanged. [`Tracks.layer`][]
    gives back a layer in its own coordinates `(n, d_l)`.

    Build with [`Tracks.from_array`][], [`Tracks.from_flow`][] (a `flowrep.flow`
    result), [`Tracks.from_resnet`][] (the features after every block of a
    `ResNet` or `EulerNetwork`, e.g. from `euler_network`; no axis swap
    needed) or [`record_tracks`][flowrep.record_tracks] (any list of layers, widths may change).

    ```python
    resnet = flowrep.euler_network(field, depth=16)
    tracks = flowrep.Tracks.from_resnet(resnet, x)  # points (17, n, d)
    tracks = flowrep.Tracks([x0, h1, h2, y])  # widths (2, 64, 32, 10) -> D = 64
    ```
    """

    points: TrackArray
    times: Float[Array, " T"]
    widths: tuple[int, ...] = eqx.field(static=True, default=())
    embedding: tuple[Array, ...] | None = None

    def __init__(
        self,
        points: ArrayLike | Sequence[ArrayLike],
        times: ArrayLike | None = None,
        *,
        embedding: Sequence[ArrayLike]
        | Callable[[int, int, int], ArrayLike]
        | None = None,
        widths: Sequence[int] | None = None,
    ):
        """**Arguments:**

        - `points`: an array `(L+1, n, d)`, or a sequence of L+1 arrays
          `(n, d_l)` whose widths $d_l$ may differ.
        - `times`: optional `(L+1,)` strictly increasing times.
        - `embedding`: optional isometric embedding into a common $\\mathbb R^D$
          instead of zero-padding: a sequence of L+1 matrices `(d_l, D)` with
          orthonormal rows, or a callable `embedding(l, d_l, D) -> (d_l, D)`
          ($D=\\max_l d_l$ unless the matrices say otherwise).
        - `widths`: optional layer widths when `points` is an already padded
          array `(L+1, n, D)` (entries beyond $d_l$ must be zero); default all $D$.

        **Raises:** `ValueError` when fewer than 2 layers or 2 samples, layers
        with different sample counts, NaN/inf, bad times, or an embedding of
        the wrong shape or without orthonormal rows; `TypeError` for a bad
        `embedding` type.
        """
        emb: tuple[Array, ...] | None = None
        if isinstance(points, str | bytes):
            raise TypeError(
                "`points` must be an array (L+1, n, d) or a sequence of (n, d_l) "
                f"arrays; got {type(points).__name__}."
            )
        if not hasattr(points, "ndim"):
            try:
                layers = [jnp.asarray(p) for p in points]  # pyright: ignore
            except TypeError as e:
                raise TypeError(
                    "`points` must be an array (L+1, n, d) or a sequence of (n, d_l) "
                    f"numeric arrays; got {type(points).__name__}."
                ) from e
            if len(layers) < 2:
                raise ValueError(f"tracks need at least 2 layers; got {len(layers)}.")
            for idx, p in enumerate(layers):
                if p.ndim != 2 or p.shape[0] != layers[0].shape[0]:
                    raise ValueError(
                        "every layer of a track must have the same shape (n, d_l) in "
                        f"its sample axis n; layer 0 has {layers[0].shape} but "
                        f"layer {idx} has {p.shape}."
                    )
                if p.shape[1] < 1:
                    raise ValueError(
                        f"tracks need width d_l >= 1; layer {idx} has shape {p.shape}."
                    )
            dtype = jnp.result_type(*layers)
            if jnp.issubdtype(dtype, jnp.complexfloating):
                raise TypeError(f"`points` must hold real numbers; got dtype {dtype}.")
            if not jnp.issubdtype(dtype, jnp.floating):
                dtype = jnp.result_type(float)
            layers = [p.astype(dtype) for p in layers]
            wid = tuple(int(p.shape[1]) for p in layers)
            if widths is not None and tuple(widths) != wid:
                raise ValueError(
                    f"`widths` {tuple(widths)} do not match the layers {wid}."
                )
            if embedding is None:
                D = max(wid)
                points = jnp.stack(
                    [jnp.pad(p, ((0, 0), (0, D - p.shape[1]))) for p in layers]
                )
            else:
                emb = _check_embedding(embedding, wid, dtype)
                points = jnp.stack(
                    [jnp.matmul(p, M, precision=HIGHEST) for p, M in zip(layers, emb)]
                )
            widths = wid
        elif embedding is not None:
            raise ValueError(
                "`embedding` needs the layers as a sequence of (n, d_l) arrays, not "
                "one padded array."
            )
        pts = jnp.asarray(points)
        if pts.ndim != 3:
            raise ValueError(
                "`points` must be a tracks array of shape (L+1, n, d); got shape "
                f"{pts.shape}."
            )
        if pts.shape[0] < 2:
            raise ValueError(f"tracks need at least 2 layers; got {pts.shape[0]}.")
        if pts.shape[1] < 2:
            raise ValueError(f"tracks need at least 2 samples; got {pts.shape[1]}.")
        if pts.shape[2] < 1:
            raise ValueError(f"tracks need dimension d >= 1; got shape {pts.shape}.")
        if jnp.issubdtype(pts.dtype, jnp.complexfloating) or not (
            jnp.issubdtype(pts.dtype, jnp.number) or pts.dtype == jnp.bool_
        ):
            # a cast to float would drop the imaginary part silently
            raise TypeError(f"`points` must hold real numbers; got dtype {pts.dtype}.")
        if not jnp.issubdtype(pts.dtype, jnp.floating):
            pts = pts.astype(jnp.result_type(float))
        self.points = check_finite(pts, "tracks")
        T, D = pts.shape[0], pts.shape[2]
        if widths is None:
            widths = (D,) * T
        widths = tuple(int(w) for w in widths)
        if len(widths) != T or any(w < 1 or w > D for w in widths):
            raise ValueError(
                f"`widths` must be {T} integers in [1, {D}]; got {widths}."
            )
        self.widths = widths
        self.embedding = emb
        L = pts.shape[0] - 1
        if times is None:
            ts = jnp.linspace(0.0, 1.0, L + 1, dtype=pts.dtype)
        else:
            if isinstance(times, str | bytes):
                raise TypeError(f"`times` must be an array of numbers; got {times!r}.")
            try:
                ts = jnp.asarray(times, dtype=pts.dtype)
            except (TypeError, ValueError) as e:
                raise TypeError(
                    f"`times` must be an array of numbers; got {type(times).__name__}."
                ) from e
            if ts.shape != (L + 1,):
                raise ValueError(
                    f"`times` must have shape ({L + 1},) to match the tracks; got {ts.shape}."
                )
            ts = check_finite(ts, "times")
            if not is_traced(ts) and not bool(jnp.all(jnp.diff(ts) > 0)):
                raise ValueError("`times` must be strictly increasing.")
        self.times = ts

    def layer(self, index: int) -> Array:
        """Layer `index` in its own coordinates, shape `(n, d_l)`: the padding
        removed, or the user's embedding undone ($x^lM_l^\\top$)."""
        idx = operator.index(index)
        if not -len(self.widths) <= idx < len(self.widths):
            raise IndexError(
                f"layer index {idx} out of range for {len(self.widths)} layers."
            )
        if self.embedding is None:
            return self.points[idx, :, : self.widths[idx]]
        return jnp.matmul(self.points[idx], self.embedding[idx].T, precision=HIGHEST)

    def layers(self) -> list[Array]:
        """All layers in their own coordinates, a list of `(n, d_l)` arrays."""
        return [self.layer(i) for i in range(len(self.widths))]

    def project(
        self,
        width: int,
        method: Literal["pca", "jl"] = "pca",
        *,
        key: PRNGKeyArray | None = None,
        num_pairs: int = 4096,
    ) -> tuple["Tracks", "ProjectionReport"]:
        """Project every layer wider than `width` linearly to `width` coordinates.

        See [`project_tracks`][] (this method calls it).
        """
        from ._projection import project_tracks

        return project_tracks(self, width, method, key=key, num_pairs=num_pairs)

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
        """D, the dimension of the (common-space) features."""
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


def _check_embedding(embedding, widths: tuple[int, ...], dtype) -> tuple[Array, ...]:
    """The user's isometric embedding as L+1 matrices `(d_l, D)`, checked."""
    T, D = len(widths), max(widths)
    if callable(embedding):
        mats: list[Any] = [embedding(li, w, D) for li, w in enumerate(widths)]
    elif isinstance(embedding, Sequence) and not isinstance(embedding, str):
        mats = list(embedding)  # pyright: ignore[reportAssignmentType]
    else:
        raise TypeError(
            "`embedding` must be a sequence of (d_l, D) matrices or a callable "
            f"(l, d_l, D) -> (d_l, D); got {type(embedding).__name__}."
        )
    if len(mats) != T:
        raise ValueError(
            f"`embedding` must give one matrix per layer ({T}); got {len(mats)}."
        )
    out = []
    D = int(jnp.shape(mats[0])[-1]) if jnp.ndim(mats[0]) == 2 else D
    for li, (M, w) in enumerate(zip(mats, widths)):
        M = jnp.asarray(M, dtype=dtype)
        if M.ndim != 2 or M.shape[0] != w or M.shape[1] != D or D < w:
            raise ValueError(
                f"`embedding` matrix {li} must have shape (d_l, D) = ({w}, {D}) with "
                f"D >= d_l; got {M.shape}."
            )
        gram = jnp.matmul(M, M.T, precision=HIGHEST)
        tol = (
            100 * w * float(jnp.finfo(dtype).eps) ** 0.5
            if dtype != jnp.float64
            else 1e-8
        )
        if (
            not is_traced(M)
            and float(jnp.max(jnp.abs(gram - jnp.eye(w, dtype=dtype)))) > tol
        ):
            raise ValueError(
                f"`embedding` matrix {li} is not an isometry: its rows must be "
                "orthonormal (M @ M.T = I)."
            )
        out.append(M)
    return tuple(out)


@eqx.filter_jit
def _layer_major_tracks(resnet: TrackedNetwork, x: Points) -> TrackArray:
    return jnp.swapaxes(jax.vmap(resnet.tracks)(x), 0, 1)


def record_tracks(
    layers: Sequence[Callable[[Array], Array]],
    x: Points | ArrayLike,
    *,
    embedding: Sequence[ArrayLike] | Callable[[int, int, int], ArrayLike] | None = None,
) -> Tracks:
    """Run samples through a list of layers and record every intermediate feature.

    Each layer (an `eqx.Module` or any callable) takes one unbatched sample and
    is `jax.vmap`-ed over the n samples; records $x^0=x$, $x^{l+1}=\\text{layer}_l(x^l)$.
    Works for finite ResNets (blocks $x+hv(x)$), plain nets and networks whose
    width changes from layer to layer: a layer may map `(d_l,)` to any
    `(d_{l+1},)` (an array output of higher rank, e.g. a conv feature map, is
    recorded flattened and passed on unflattened). The layers are embedded in a
    common $\\mathbb R^{\\max_l d_l}$ (zero padding unless `embedding` is given,
    see [`Tracks`][]).

    **Arguments:**

    - `layers`: sequence of L callables `(d_l,) -> (d_{l+1},)`.
    - `x`: samples `(n, d_0)`.
    - `embedding`: optional isometric embedding, as in [`Tracks`][].

    **Returns:** [`Tracks`][] with L+1 layers at times $l/L$ and `widths`
    $(d_0,\\dots,d_L)$.

    **Raises:** `ValueError` if `layers` is empty, `x` is not `(n, d)`, or a
    layer returns something that is not an array of at least one entry per sample.
    """
    x = as_points(x, "x", min_samples=2)
    layers = list(layers)
    if not layers:
        raise ValueError("`layers` must contain at least one layer.")
    for idx, layer in enumerate(layers):
        if not callable(layer):
            raise TypeError(
                f"`layers[{idx}]` must be a callable on one sample; "
                f"got {type(layer).__name__}."
            )
    feats = [x]
    h = x
    for idx, layer in enumerate(layers):
        h = eqx.filter_vmap(layer)(h)
        if not isinstance(h, jax.Array) or h.ndim < 1 or h.shape[0] != x.shape[0]:
            what = (
                type(h).__name__ if not isinstance(h, jax.Array) else f"shape {h.shape}"
            )
            raise ValueError(
                "every layer must map one sample to one array (d_{l+1},); "
                f"layer {idx} maps to {what}."
            )
        feats.append(h.reshape(x.shape[0], -1))
    return Tracks(feats, embedding=embedding)


def as_tracks(tracks: "Tracks | ArrayLike", name: str = "tracks") -> "Tracks":
    """`tracks` as [`Tracks`][], its construction errors naming the caller's
    argument `name` (not `Tracks`' own `points`)."""
    if isinstance(tracks, Tracks):
        return tracks
    try:
        return Tracks(tracks)  # pyright: ignore[reportArgumentType]
    except (TypeError, ValueError) as e:
        raise type(e)(str(e).replace("`points`", f"`{name}`")) from None
