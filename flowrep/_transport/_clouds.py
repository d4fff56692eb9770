"""Point clouds for transport: checks, the dtype policy, the common frame.

Every solver in `_transport` takes uniform clouds `x` `(n, d)` and `y`
`(m, d)` and checks them here, through the validation layer.

**Dtype policy.** Integer clouds are promoted to the default float dtype;
float16 and bfloat16 are promoted to float32 (too few mantissa bits for
squared distances and exponents); two clouds of different precisions are
promoted to the wider one. Results come in the promoted dtype, so their dtype
says which precision was used. Complex clouds are refused.

**Frame.** OT costs, scores and entropies are invariant under a common
translation of the clouds and equivariant under a common scaling. Solvers
therefore work in a *normalised frame* ([`normalise`][]): the clouds are
shifted by their common mean and multiplied by a power of two so that their
spread is of order one. Multiplying by a power of two is exact in floating
point, so scale equivariance is exact; centring removes the cancellation of
$\\|x\\|^2+\\|y\\|^2-2x\\cdot y$ for clouds far from the origin, and nothing
overflows before the result itself does.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Int

from .._custom_types import FloatScalar, OtherPoints, Points
from .._validate import as_points


HIGHEST = jax.lax.Precision.HIGHEST

_HALF = (jnp.float16, jnp.bfloat16)


def promote(x: Array, name: str) -> Array:
    """`x` in the transport dtype policy: half floats to float32, complex refused."""
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(f"`{name}` must hold real numbers; got dtype {x.dtype}.")
    if x.dtype in _HALF:
        return x.astype(jnp.float32)
    return x


def as_cloud(x: ArrayLike, name: str, min_samples: int = 2) -> Array:
    """A cloud `(n, d)` of at least `min_samples` points as a floating array.

    Static problems raise a `ValueError` at trace time; NaN/inf raise at once
    when `x` is concrete, else at run time (see `flowrep._validate`).
    """
    arr = as_points(x, name, min_samples=min_samples, finite=False)
    return as_points(promote(arr, name), name, min_samples=min_samples)


def as_pair(x: ArrayLike, y: ArrayLike) -> tuple[Points, OtherPoints]:
    """Check two clouds `x` `(n, d)` and `y` `(m, d)` in the same dimension d,
    and cast both to their common floating dtype."""
    x = as_cloud(x, "x")
    y = as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            "`x` `(n, d)` and `y` `(m, d)` must live in the same dimension d; got "
            f"x of shape {x.shape} and y of shape {y.shape}."
        )
    dtype = jnp.result_type(x.dtype, y.dtype)
    return x.astype(dtype), y.astype(dtype)


def pow2(k: Int[Array, ""], dtype) -> Array:
    """$2^k$ in `dtype`, built from its bits (exact), for k in the normal range."""
    info = jnp.finfo(dtype)
    nmant = info.nmant
    bias = info.maxexp - 1
    itype = jnp.int64 if jnp.dtype(dtype).itemsize == 8 else jnp.int32
    k = jnp.clip(k, info.minexp, info.maxexp - 1).astype(itype)
    return jax.lax.bitcast_convert_type((k + bias) << nmant, dtype)


def scale_by(x: Array, k: Int[Array, ""]) -> Array:
    """$x\\cdot2^k$, exact unless the result itself under- or overflows."""
    half = k // 2
    return x * pow2(half, x.dtype) * pow2(k - half, x.dtype)


def normalise(*clouds: Array) -> tuple[tuple[Array, ...], Array, Int[Array, ""]]:
    """Common frame of clouds `(n_i, d)`: `(clouds', shift, k)` with
    $x=2^k x'+\\text{shift}$, the clouds' common mean at 0 and their RMS
    coordinate in $[1/2, 1)$ (k = 0 when all points coincide).

    The shift is the mean of all points, computed after an exact power-of-two
    prescaling so that huge values cannot overflow the sum.
    """
    big = jnp.max(jnp.stack([jnp.max(jnp.abs(c)) for c in clouds]))
    _, e = jnp.frexp(big)
    pre = tuple(scale_by(c, -e) for c in clouds)
    total = sum(c.shape[0] for c in clouds)
    mean = jnp.sum(jnp.stack([jnp.sum(c, 0) for c in pre]), 0) / total
    centred = tuple(c - mean for c in pre)
    sq = sum(jnp.sum(c**2) for c in centred) / (total * clouds[0].shape[1])
    _, e2 = jnp.frexp(jnp.sqrt(sq))
    out = tuple(scale_by(c, -e2) for c in centred)
    return out, scale_by(mean, e), (e + e2).astype(jnp.int32)


def mean_cost(x: Points, y: OtherPoints) -> FloatScalar:
    """Mean squared distance $\\frac{1}{nm}\\sum_{ij}\\|x_i-y_j\\|^2$ in $O((n+m)d)$,
    for `x` `(n, d)` and `y` `(m, d)`, as
    $\\|\\bar x-\\bar y\\|^2+\\mathrm{var}(x)+\\mathrm{var}(y)$ (no cancellation)."""
    mx, my = jnp.mean(x, 0), jnp.mean(y, 0)
    return (
        jnp.sum((mx - my) ** 2)
        + jnp.mean(jnp.sum((x - mx) ** 2, -1))
        + jnp.mean(jnp.sum((y - my) ** 2, -1))
    )
