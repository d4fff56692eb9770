"""Differential entropy of a cloud: the Kozachenko-Leonenko k-NN estimator."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln

from .._custom_types import ArrayLike, FloatScalar, Points
from .._validate import check_positive_int
from ._clouds import as_cloud, HIGHEST, normalise


def knn_entropy(
    x: Points | ArrayLike, k: int = 3, *, chunk_size: int = 512
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
    return _knn_entropy(x, int(k), chunk_size)


@eqx.filter_jit
def _knn_entropy(x, k, chunk):
    n, d = x.shape
    # H(2^k x' + c) = H(x') + d k log 2: distances on centred, unit-scale data.
    (x,), _, e = normalise(x)
    sq = jnp.sum(x**2, -1)

    def one(args):
        xi, sqi = args
        d2 = jnp.maximum(sqi + sq - 2 * jnp.matmul(x, xi, precision=HIGHEST), 0.0)
        # k+1 smallest include the point itself (distance 0).
        neg, _ = jax.lax.top_k(-d2, k + 1)
        return -neg[k]

    r2 = jax.lax.map(one, (x, sq), batch_size=chunk)
    r2 = eqx.error_if(
        r2,
        jnp.any(r2 <= 0),
        "knn_entropy: a k-th neighbour distance is zero (duplicated samples); "
        "increase `k` or remove duplicates.",
    )
    log_vd = 0.5 * d * jnp.log(jnp.pi) - gammaln(0.5 * d + 1)
    log_scale = d * e.astype(x.dtype) * jnp.log(jnp.asarray(2.0, x.dtype))
    return (
        digamma(n) - digamma(k) + log_vd + 0.5 * d * jnp.mean(jnp.log(r2)) + log_scale
    )
