"""Point clouds for transport: shape checks and the mean squared cost."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._custom_types import FloatScalar, Points
from .._validate import _check_finite


def _as_cloud(x: ArrayLike, name: str) -> Array:
    """Check a point cloud's static shape and (when concrete) its values."""
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"`{name}` must be a point cloud of shape (n, d); got shape {x.shape}."
        )
    if x.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 samples; got {x.shape[0]}.")
    if x.shape[1] < 1:
        raise ValueError(f"`{name}` must have dimension d >= 1; got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return _check_finite(x, name)


def _as_pair(x: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            "`x` and `y` must live in the same dimension; got "
            f"x of shape {x.shape} and y of shape {y.shape}."
        )
    dtype = jnp.result_type(x.dtype, y.dtype)
    return x.astype(dtype), y.astype(dtype)


def mean_cost(x: Points, y: Points) -> FloatScalar:
    """Mean squared distance $\\frac{1}{nm}\\sum_{ij}\\|x_i-y_j\\|^2$ in $O((n+m)d)$."""
    return (
        jnp.mean(jnp.sum(x**2, -1))
        + jnp.mean(jnp.sum(y**2, -1))
        - 2 * jnp.dot(jnp.mean(x, 0), jnp.mean(y, 0))
    )
