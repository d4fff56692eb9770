"""Point clouds for transport: shape checks and the mean squared cost.

Every solver in `_transport` takes uniform clouds `x` `(n, d)` and `y`
`(m, d)` and checks them here, through the validation layer.
"""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._custom_types import FloatScalar, OtherPoints, Points
from .._validate import as_points


def as_cloud(x: ArrayLike, name: str) -> Array:
    """A cloud `(n, d)` of at least 2 points as a floating array.

    Static problems raise a `ValueError` at trace time; NaN/inf raise at once
    when `x` is concrete, else at run time (see `flowrep._validate`).
    """
    return as_points(x, name, min_samples=2)


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


def mean_cost(x: Points, y: OtherPoints) -> FloatScalar:
    """Mean squared distance $\\frac{1}{nm}\\sum_{ij}\\|x_i-y_j\\|^2$ in $O((n+m)d)$,
    for `x` `(n, d)` and `y` `(m, d)`."""
    return (
        jnp.mean(jnp.sum(x**2, -1))
        + jnp.mean(jnp.sum(y**2, -1))
        - 2 * jnp.dot(jnp.mean(x, 0), jnp.mean(y, 0))
    )
