"""Differential entropy of a cloud: the Kozachenko-Leonenko k-NN estimator."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from .._custom_types import ArrayLike, FloatScalar, Points
from ._clouds import as_cloud


def knn_entropy(
    x: Points | ArrayLike, k: int = 3, *, chunk_size: int = 512
) -> FloatScalar:
    """Kozachenko-Leonenko estimate of $H[\\mu]=-\\int\\mu\\log\\mu$ from samples.

    $\\hat H=\\psi(n)-\\psi(k)+\\log V_d+\\frac dn\\sum_i\\log r_{i,k}$, with
    $r_{i,k}$ the distance from $x_i$ to its k-th nearest other sample and
    $V_d=\\pi^{d/2}/\\Gamma(d/2+1)$ the unit-ball volume (Kozachenko &
    Leonenko 1987; Kraskov et al. 2004, eq. 20). Consistent for every fixed k;
    its bias grows with d. Distances are streamed in chunks of rows, so
    memory is $O(\\text{chunk}\\cdot n)$, never $n\\times n$.

    **Arguments:**

    - `x`: samples `(n, d)`.
    - `k`: neighbour order, `1 <= k < n`.
    - `chunk_size`: rows per chunk.

    **Returns:** the entropy estimate (nats).

    **Raises:** `ValueError` for bad shapes, NaN/inf, bad `k`; a runtime error
    if samples are duplicated (a zero k-NN distance makes the estimate $-\\infty$).
    """
    x = as_cloud(x, "x")
    n = x.shape[0]
    if not (isinstance(k, int) and 1 <= k < n):
        raise ValueError(f"`k` must be an integer in [1, n-1] = [1, {n - 1}]; got {k}.")
    return _knn_entropy(x, k, chunk_size)


@eqx.filter_jit
def _knn_entropy(x, k, chunk):
    n, d = x.shape
    sq = jnp.sum(x**2, -1)

    def one(args):
        xi, sqi = args
        d2 = jnp.maximum(sqi + sq - 2 * (x @ xi), 0.0)
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
    return digamma(n) - digamma(k) + log_vd + 0.5 * d * jnp.mean(jnp.log(r2))
