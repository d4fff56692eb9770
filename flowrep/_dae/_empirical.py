"""The DAE of a sample cloud: streamed Gaussian mean shift and its flow.

See docs/theory/dae.md#empirical-laws. The optimal DAE of an empirical law is one Gaussian
mean-shift step, $g_t(q)=q+t\\nabla\\log(W_t*\\hat\\mu)(q)$; the deep DAE of a
cloud, whose empirical law has no score, is the blurring mean-shift flow
along the score of a kernel density estimate.

Precision (see `flowrep/_width/_precision.py`): both products of mean shift
run at `Precision.HIGHEST`: $q\\cdot x_j$ is a squared distance by expansion
divided by $t$ inside an exponential, and the weighted mean $\\sum_jp_jx_j$ is
the next position, whose distances the flow takes at the next step.
"""

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, ArrayLike

from .._custom_types import Points
from .._depth._flow import flow
from .._depth._vector_field import AbstractVectorField
from .._device import device_default, DEVICE_DEFAULTS
from .._sharding import (
    give_back,
    pad_rows,
    place,
    resolve_layout,
    ring,
    unpad_rows,
    valid_rows,
)
from .._validate import as_float_array, check_positive_int, check_value, is_concrete
from .._width._precision import exact_matmul
from ._checks import (
    check_bandwidth,
    check_horizon,
    check_noise,
    check_points,
    check_weights,
)


# Pairs per tile in mean shift on a CPU; `mean_shift` takes its default per
# backend from `device_default("mean_shift_chunk")` (flowrep/_device.py).
DEFAULT_CHUNK_SIZE = DEVICE_DEFAULTS["cpu"]["mean_shift_chunk"]


def _mean_shift_block(q: Array, cols: Array, logw: Array, t, tq: int) -> Array:
    """Stable streamed $\\sum_jw_jK(q,x_j)x_j/\\sum_jw_jK(q,x_j)$ for a block of queries."""
    n = cols.shape[0]
    pad = (-n) % tq
    cols_p = jnp.concatenate([cols, jnp.zeros((pad, cols.shape[1]), cols.dtype)])
    logw_p = jnp.concatenate([logw, jnp.full((pad,), -jnp.inf, logw.dtype)])
    cols_b = cols_p.reshape(-1, tq, cols.shape[1])
    logw_b = logw_p.reshape(-1, tq)
    # |q|^2 cancels in the normalisation: logits = log w_j + (q.x_j - |x_j|^2/2)/t
    half_sq_b = 0.5 * jnp.sum(cols_b**2, axis=-1)

    def body(carry, blk):
        mx, s, v = carry
        c, lw, hs = blk
        logits = lw[None] + (exact_matmul(q, c.T) - hs[None]) / t
        new_mx = jnp.maximum(mx, jnp.max(logits, axis=1))
        scale = jnp.exp(mx - new_mx)
        p = jnp.exp(logits - new_mx[:, None])
        return (
            new_mx,
            s * scale + jnp.sum(p, axis=1),
            v * scale[:, None] + exact_matmul(p, c),
        ), None

    init = (
        jnp.full((q.shape[0],), -jnp.inf, q.dtype),
        jnp.zeros((q.shape[0],), q.dtype),
        jnp.zeros_like(q),
    )
    (_, s, v), _ = lax.scan(body, init, (cols_b, logw_b, half_sq_b))
    return v / s[:, None]


@eqx.filter_jit
def _mean_shift(cloud, logw, t, queries, chunk_size: int):
    n, m = cloud.shape
    nq = queries.shape[0]
    tq = min(n, max(1, chunk_size))
    tp = min(nq, max(1, chunk_size // tq))
    pad = (-nq) % tp
    qp = jnp.concatenate([queries, jnp.broadcast_to(queries[:1], (pad, m))])
    out = lax.map(
        lambda qb: _mean_shift_block(qb, cloud, logw, t, tq), qp.reshape(-1, tp, m)
    )
    return out.reshape(-1, m)[:nq]


def _mean_shift_stats(q, cols, logw, t, tq, carry):
    """The running `(max, sum, weighted sum)` of [`_mean_shift_block`][] for
    the queries `q` against one block of columns, continued from `carry`.
    Blocks of padding (all weights zero) leave the carry as it was."""
    n, m = cols.shape
    pad = (-n) % tq
    cols_b = jnp.concatenate([cols, jnp.zeros((pad, m), cols.dtype)])
    logw_b = jnp.concatenate([logw, jnp.full((pad,), -jnp.inf, logw.dtype)])
    cols_b, logw_b = cols_b.reshape(-1, tq, m), logw_b.reshape(-1, tq)
    half_sq_b = 0.5 * jnp.sum(cols_b**2, axis=-1)

    def body(carry, blk):
        mx, s, v = carry
        c, lw, hs = blk
        logits = lw[None] + (exact_matmul(q, c.T) - hs[None]) / t
        new_mx = jnp.maximum(mx, jnp.max(logits, axis=1))
        safe = jnp.where(jnp.isfinite(new_mx), new_mx, 0.0)
        scale = jnp.exp(mx - safe)
        p = jnp.exp(logits - safe[:, None])
        return (
            new_mx,
            s * scale + jnp.sum(p, axis=1),
            v * scale[:, None] + exact_matmul(p, c),
        ), None

    return lax.scan(body, carry, (cols_b, logw_b, half_sq_b))[0]


@eqx.filter_jit
def _mean_shift_sharded(cloud, logw, t, queries, chunk_size: int, layout):
    """[`_mean_shift`][] over a mesh: queries and cloud sharded by rows (padded
    to multiples of $D$; padding points have weight zero), each device's
    queries against every block of the cloud passed round the ring with
    `ppermute`, the running log-sum-exp carried from block to block."""
    n, m = cloud.shape
    nq = queries.shape[0]
    axis, perm = layout.axis, ring(layout)
    n_loc = layout.padded(n) // layout.size
    nq_loc = layout.padded(nq) // layout.size
    tq = min(n_loc, max(1, chunk_size))
    tp = min(nq_loc, max(1, chunk_size // tq))
    qpad = (-nq_loc) % tp

    def local(c, lw, q, t):
        lw = jnp.where(valid_rows(layout, c.shape[0], n), lw, -jnp.inf)
        qb = jnp.concatenate([q, jnp.zeros((qpad, m), q.dtype)]).reshape(-1, tp, m)
        init = (
            jnp.full(qb.shape[:2], -jnp.inf, q.dtype),
            jnp.zeros(qb.shape[:2], q.dtype),
            jnp.zeros_like(qb),
        )

        def visit(carry, c, lw):
            return lax.map(
                lambda a: _mean_shift_stats(a[0], c, lw, t, tq, a[1:]),
                (qb,) + carry,
            )

        def hop(state, _):
            carry, c, lw = state
            c, lw = lax.ppermute(c, axis, perm), lax.ppermute(lw, axis, perm)
            return (visit(carry, c, lw), c, lw), None

        state = (visit(init, c, lw), c, lw)
        ((_, s, v), _, _), _ = lax.scan(hop, state, None, length=layout.size - 1)
        out = v / s[..., None]
        return out.reshape(-1, m)[:nq_loc]

    rows = P(axis, None)
    fn = jax.shard_map(
        local,
        mesh=layout.mesh,
        in_specs=(rows, P(axis), rows, P()),
        out_specs=rows,
        check_vma=False,
    )
    out = fn(
        pad_rows(cloud, layout),
        pad_rows(logw, layout),
        pad_rows(queries, layout),
        t,
    )
    return unpad_rows(out, layout, nq)


def mean_shift(
    cloud: Points,
    t,
    queries: Points | None = None,
    *,
    weights: ArrayLike | None = None,
    chunk_size: int | None = None,
    mesh: jax.sharding.Mesh | None = None,
) -> Points:
    """One Gaussian mean-shift step: the optimal DAE of the empirical law of `cloud`.

    $g_t(q)=\\sum_jw_jN(q;x_j,tI)\\,x_j/\\sum_jw_jN(q;x_j,tI)=q+t\\nabla\\log(W_t*\\hat\\mu)(q)$
    (docs/theory/dae.md#empirical-laws). Streamed over tiles of at most `chunk_size`
    (query, point) pairs with a running log-sum-exp, so memory is
    $O(n+n_q+\\text{chunk\\_size})$ and n = 1e5 fits easily.

    **Arguments:**

    - `cloud`: `[n, m]` the samples $x_j$; `weights`: optional `[n]` positive.
    - `t`: noise variance (> 0); the kernel is $N(0,tI)$.
    - `queries`: `[n_q, m]` points to move (default: the cloud itself).
    - `chunk_size`: pairs per tile (default: per backend,
        `flowrep/_device.py`; $2^{20}$ on a CPU).
    - `mesh`: run over this `jax.sharding.Mesh` (default: the mesh of `cloud`,
      `queries` or `weights` when one is sharded with a `NamedSharding`; rule
      in `flowrep/_sharding.py`). Queries and cloud are sharded by rows; each
      device moves its queries against every block of the cloud, the blocks
      (with their log-weights) passed round the devices with `ppermute`
      (ring) and the running log-sum-exp carried across blocks, so memory
      per device is $O((n+n_q)m/D+\\text{chunk\\_size})$. The result comes
      back sharded by rows (`P(axis, None)`) when $n_q$ is a multiple of $D$,
      replicated otherwise, and equals the single-device one to rounding.

    **Returns:** $g_t(q)$, `[n_q, m]`.

    **Raises:** `ValueError` for $t\\le0$, mismatched shapes, NaN/inf or
    non-positive weights, or a NaN/inf result (squared distances over `t`
    past the dtype's range; at run time under `jit`).
    """
    cloud = check_points(cloud, what="cloud")
    n, m = cloud.shape
    queries = cloud if queries is None else check_points(queries, m, "queries")
    t = check_noise(t, "mean_shift")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    chunk_size = device_default("mean_shift_chunk", chunk_size)
    if weights is None:
        logw = jnp.zeros((n,), cloud.dtype)
    else:
        weights = as_float_array(weights, "weights", cloud.dtype)
        if weights.shape != (n,):
            raise ValueError(
                f"`weights` must have shape [{n}] (one per cloud point); got {weights.shape}."
            )
        weights = check_weights(weights)
        logw = jnp.log(weights)
    # Mean shift commutes with translations: centre both at the cloud's mean,
    # so that offset features keep their precision in the squared distances
    # (float32 at 1e4 was off by ~2 before).
    layout = resolve_layout(mesh, cloud, queries, weights)  # from the inputs as given
    centre = jnp.mean(cloud, axis=0)
    cloud, queries = cloud - centre, queries.astype(cloud.dtype) - centre
    out = _mean_shift_any(cloud, logw, t, queries, chunk_size, layout)
    return check_value(
        out + centre,
        lambda g: ~jnp.isfinite(g),
        "mean_shift: the result is NaN/inf: the squared distances between "
        "`queries` and `cloud` over `t` overflow their dtype (values near its "
        "limit, or `t` far too small for their spread); rescale them, or use "
        "float64.",
    )


def _mean_shift_any(cloud, logw, t, queries, chunk_size, layout):
    if layout is not None:
        out = _mean_shift_sharded(
            place(cloud, layout),
            place(logw, layout),
            jnp.asarray(t, cloud.dtype),
            place(queries.astype(cloud.dtype), layout),
            chunk_size,
            layout,
        )
        return give_back(out, layout)
    return _mean_shift(
        cloud,
        logw,
        jnp.asarray(t, cloud.dtype),
        queries.astype(cloud.dtype),
        chunk_size,
    )


class BlurringMeanShiftField(AbstractVectorField):
    """The deep DAE of a cloud: $v(X)_i=\\nabla\\log(K_h*\\hat\\mu_X)(x_i)=(\\mathrm{ms}_h(x_i;X)-x_i)/h$.

    A field on the whole flattened cloud `[n * m]` (the particles interact:
    each moves along the score of the kernel density estimate of the
    current cloud, bandwidth variance `h`). This is the continuous-time
    blurring mean shift.
    """

    bandwidth: float = eqx.field(static=True)
    point_dim: int = eqx.field(static=True)
    chunk_size: int = eqx.field(static=True, default=DEFAULT_CHUNK_SIZE)

    def __check_init__(self):
        check_bandwidth(self.bandwidth)
        check_positive_int(self.point_dim, "point_dim")
        check_positive_int(self.chunk_size, "chunk_size")

    @property
    def dim(self) -> None:  # n * point_dim, for any cloud size n
        return None

    @property
    def t0(self) -> None:
        return None

    @property
    def t1(self) -> None:
        return None

    def __call__(self, t, x, args=None):
        """The velocities of the flattened cloud `x` `(n * point_dim,)`.

        **Raises:** `ValueError` for a wrong shape, or a NaN/inf velocity (a
        NaN/inf cloud, or squared distances over the bandwidth past the
        dtype's range): eagerly, or at run time when traced (inside `flow`).
        """
        x = jnp.asarray(x)
        if x.ndim != 1 or x.size == 0 or x.size % self.point_dim:
            raise ValueError(
                f"BlurringMeanShiftField takes the flattened cloud `x` of shape (n * {self.point_dim},); "
                f"got shape {x.shape}."
            )
        cloud = x.reshape(-1, self.point_dim)
        # The velocity is translation invariant: centre, so that a cloud at an
        # offset keeps its precision in the squared distances.
        cloud = cloud - jnp.mean(cloud, axis=0)
        logw = jnp.zeros(cloud.shape[:1], cloud.dtype)
        ms = _mean_shift(
            cloud,
            logw,
            jnp.asarray(self.bandwidth, cloud.dtype),
            cloud,
            self.chunk_size,
        )
        v = ((ms - cloud) / self.bandwidth).reshape(x.shape)
        # Checked on every call (`flow` calls it through a vmap), so a NaN
        # names its cause instead of flow's generic "the field returned NaN".
        return check_value(v, lambda v: ~jnp.isfinite(v), _BMS_MESSAGE)


_BMS_MESSAGE = (
    "BlurringMeanShiftField: the velocity is NaN/inf on the cloud `x`: it is "
    "NaN/inf, or its squared distances over `bandwidth` overflow its dtype "
    "(a cloud spread far beyond sqrt(bandwidth), or values near the dtype's "
    "limit); rescale the cloud or the bandwidth, or use float64."
)


def blurring_mean_shift_flow(
    x0: Points,
    t1,
    bandwidth: float,
    *,
    ts: ArrayLike | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    **flow_kwargs,
):
    """Deep DAE of an empirical cloud: $\\dot x_i=\\nabla\\log(K_h*\\hat\\mu_t)(x_i)$ (blurring mean-shift flow).

    The empirical law has no score, so it is smoothed with the kernel
    $K_h=N(0,hI)$; as the cloud grows and $h\\to0$ this tends to the deep
    DAE of the law it samples.

    **Arguments:** `x0` `[n, m]`; `t1 >= 0`; `bandwidth` $h>0$; `ts`
    optional record times; `flow_kwargs` go to `flowrep.flow`.

    **Returns:** `(ts, tracks [T, n, m])`.

    **Raises:** `ValueError` for a bad bandwidth, times or points, or a
    velocity that is NaN/inf at `x0` (distances over the bandwidth past the
    dtype's range; at run time when traced, with the field's message).
    """
    x0 = check_points(x0, what="x0")
    if jnp.finfo(x0.dtype).bits < 32:  # solves run in float32 at least (README)
        x0 = x0.astype(jnp.float32)
    bandwidth = check_bandwidth(bandwidth)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    t1, ts = check_horizon(t1, ts)
    n, m = x0.shape
    field = BlurringMeanShiftField(bandwidth, m, chunk_size)
    try:
        field(0.0, x0.reshape(-1))  # eager when concrete: name x0 and bandwidth
    except ValueError as e:
        raise ValueError(
            "blurring_mean_shift_flow: the velocity is NaN/inf at the starting "
            "cloud `x0` with this `bandwidth` (squared distances over the "
            "bandwidth overflow x0's dtype); rescale x0 or the bandwidth, or use "
            "float64."
        ) from e
    ts_arr = jnp.asarray([0.0, t1] if ts is None else ts, x0.dtype)
    if is_concrete(t1) and float(t1) == 0:  # an empty interval: the identity
        return ts_arr, jnp.broadcast_to(x0, (ts_arr.shape[0], n, m))
    res = flow(field, x0.reshape(1, n * m), 0.0, t1, ts=ts_arr, **flow_kwargs)
    tracks = jnp.asarray(res.tracks).reshape(ts_arr.shape[0], n, m)
    return ts_arr, tracks
