"""Differential entropy of a cloud: the Kozachenko-Leonenko k-NN estimator."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln
from jax.sharding import PartitionSpec as P

from .._custom_types import ArrayLike, FloatScalar, Points
from .._sharding import pad_rows, place, resolve_layout, ring, valid_rows
from .._validate import check_positive_int, is_traced
from ._clouds import as_cloud, HIGHEST, normalise


def knn_entropy(
    x: Points | ArrayLike,
    k: int = 3,
    *,
    chunk_size: int = 512,
    mesh: jax.sharding.Mesh | None = None,
) -> FloatScalar:
    """Kozachenko-Leonenko estimate of $H[\\mu]=-\\int\\mu\\log\\mu$ from samples.

    $\\hat H=\\psi(n)-\\psi(k)+\\log V_d+\\frac dn\\sum_i\\log r_{i,k}$, with
    $r_{i,k}$ the distance from $x_i$ to its k-th nearest other sample and
    $V_d=\\pi^{d/2}/\\Gamma(d/2+1)$ the unit-ball volume (Kozachenko &
    Leonenko 1987; Kraskov et al. 2004, eq. 20). Consistent for every fixed k;
    its bias grows with d. Distances are streamed in chunks of rows, so
    memory is $O(\\text{chunk}\\cdot n)$, never $n\\times n$. Distances are
    computed on the centred cloud rescaled by an exact power of two $2^e$
    (then $\\hat H$ gains $d\\,e\\log2$), so the estimate is translation
    invariant and shifts by exactly $d\\log s$ under scaling by $s=2^e$;
    float16/bfloat16 samples are promoted to float32.

    **Arguments:**

    - `x`: samples `(n, d)`.
    - `k`: neighbour order, `1 <= k < n`.
    - `chunk_size`: rows per chunk.
    - `mesh`: run over this `jax.sharding.Mesh` (default: the mesh of `x` when
      it is sharded with a `NamedSharding`; rule in `flowrep/_sharding.py`).
      Rows are sharded; each device keeps the $k+1$ nearest distances of its
      rows while the blocks of the cloud pass round the devices with
      `ppermute` (ring), so memory per device is $O(nd/D+\\text{chunk}\\cdot n/D)$.

    **Returns:** the entropy estimate (nats).

    **Raises:** `ValueError` for bad shapes, NaN/inf, bad `k` or `chunk_size`;
    `TypeError` for non-numeric or complex samples; a runtime error
    if samples are duplicated (a zero k-NN distance makes the estimate $-\\infty$).
    """
    x = as_cloud(x, "x")
    n = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(
            f"`k` must be an integer in [1, n-1] = [1, {n - 1}]; got {k!r}."
        )
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    layout = resolve_layout(mesh, x)
    if layout is not None:
        h, bad = _knn_entropy(place(x, layout), int(k), chunk_size, layout)
        # A run-time error raised inside a multi-device computation aborts the
        # process on XLA:CPU; the flag comes back instead and is checked here.
        if is_traced(bad):
            return eqx.error_if(h, bad, _DUPLICATES)
        if bool(bad):
            raise ValueError(_DUPLICATES)
        return h
    return _knn_entropy(x, int(k), chunk_size)  # pyright: ignore[reportReturnType]


_DUPLICATES = (
    "knn_entropy: a k-th neighbour distance is zero (duplicated samples); "
    "increase `k` or remove duplicates."
)


def _ring_mean_log_r2(x, k, chunk, layout):
    """Over a mesh: mean of $\\log r_{i,k}^2$, each device's rows against every
    block of the cloud passed round the ring, keeping the k+1 smallest; and a
    flag, true when a k-th neighbour distance is zero."""
    n = x.shape[0]
    axis, perm = layout.axis, ring(layout)

    def local(xl):
        mask = valid_rows(layout, xl.shape[0], n)
        sql = jnp.sum(xl**2, -1)
        pad = jnp.full((k + 1,), jnp.inf, xl.dtype)

        def nearest(xb, sqb, mb):
            def one(args):
                xi, sqi = args
                d2 = sqi + sqb - 2 * jnp.matmul(xb, xi, precision=HIGHEST)
                d2 = jnp.where(mb, jnp.maximum(d2, 0.0), jnp.inf)
                neg, _ = jax.lax.top_k(-jnp.concatenate([d2, pad]), k + 1)
                return -neg

            return jax.lax.map(one, (xl, sql), batch_size=chunk)

        def hop(carry, _):
            best, xb, sqb, mb = carry
            xb, sqb, mb = (jax.lax.ppermute(t, axis, perm) for t in (xb, sqb, mb))
            both = jnp.concatenate([best, nearest(xb, sqb, mb)], axis=1)
            neg, _ = jax.lax.top_k(-both, k + 1)
            return (-neg, xb, sqb, mb), None

        init = (nearest(xl, sql, mask), xl, sql, mask)
        (best, _, _, _), _ = jax.lax.scan(hop, init, None, length=layout.size - 1)
        r2 = best[:, k]
        bad = jax.lax.psum(jnp.sum(mask & (r2 <= 0)), axis) > 0
        total = jax.lax.psum(jnp.sum(jnp.where(mask, jnp.log(r2), 0.0)), axis)
        return total / n, bad

    fn = jax.shard_map(
        local,
        mesh=layout.mesh,
        in_specs=(P(axis, None),),
        out_specs=(P(), P()),
        check_vma=False,
    )
    return fn(pad_rows(x, layout))


@eqx.filter_jit
def _knn_entropy(x, k, chunk, layout=None):
    n, d = x.shape
    # H(2^k x' + c) = H(x') + d k log 2: distances on centred, unit-scale data.
    (x,), _, e = normalise(x)
    log_vd = 0.5 * d * jnp.log(jnp.pi) - gammaln(0.5 * d + 1)
    log_scale = d * e.astype(x.dtype) * jnp.log(jnp.asarray(2.0, x.dtype))
    if layout is not None:
        mean_log, bad = _ring_mean_log_r2(x, k, chunk, layout)
        h = digamma(n) - digamma(k) + log_vd + 0.5 * d * mean_log + log_scale
        return h, bad
    sq = jnp.sum(x**2, -1)

    def one(args):
        xi, sqi = args
        d2 = jnp.maximum(sqi + sq - 2 * jnp.matmul(x, xi, precision=HIGHEST), 0.0)
        # k+1 smallest include the point itself (distance 0).
        neg, _ = jax.lax.top_k(-d2, k + 1)
        return -neg[k]

    r2 = jax.lax.map(one, (x, sq), batch_size=chunk)
    r2 = eqx.error_if(r2, jnp.any(r2 <= 0), _DUPLICATES)
    return (
        digamma(n) - digamma(k) + log_vd + 0.5 * d * jnp.mean(jnp.log(r2)) + log_scale
    )
