"""Exact optimal assignment between equal-size clouds (Hungarian, via ott-jax)."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Int

from .._custom_types import OtherPoints, Points
from ._clouds import as_pair, normalise


def exact_assignment(
    x: Points | ArrayLike, y: OtherPoints | ArrayLike
) -> Int[Array, " n"]:
    """Optimal assignment $\\sigma$ minimising $\\frac1n\\sum_i\\|x_i-y_{\\sigma(i)}\\|^2$.

    Hungarian algorithm from ott-jax (`ott.tools.unreg.hungarian`, O(n^3),
    dense `(n, n)` cost: use it for n up to a few thousand).

    **Arguments:**

    - `x`, `y`: clouds `(n, d)` and `(m, d)` of the same size, m = n.

    **Returns:** integer array `perm` of shape `(n,)`: $x_i$ is sent to `y[perm[i]]`.

    **Raises:** `ValueError` for different sizes or dimensions, fewer than 2
    samples, NaN or inf; `TypeError` for non-numeric or complex clouds.
    """
    x, y = as_pair(x, y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            "the exact (assignment) solver needs clouds of equal size; got "
            f"{x.shape[0]} and {y.shape[0]} points. Use method='sinkhorn'."
        )
    return hungarian(x, y)


@eqx.filter_jit
def hungarian(x: Points, y: OtherPoints) -> Int[Array, " n"]:
    """Traceable Hungarian assignment on checked clouds of equal size, solved
    in their normalised frame (the assignment is invariant under a common
    translation and scaling; the frame keeps the expanded cost accurate)."""
    from ott.geometry import pointcloud
    from ott.tools import unreg

    (x, y), _, _ = normalise(x, y)
    _, out = unreg.hungarian(pointcloud.PointCloud(x, y))
    i, j = out.paired_indices
    return jnp.zeros(x.shape[0], dtype=j.dtype).at[i].set(j)


def assignment_map(x: Points | ArrayLike, y: OtherPoints | ArrayLike) -> Points:
    """Exact OT map on the samples: row i is the image `y[perm[i]]` of `x[i]`.

    See [`exact_assignment`][]; same arguments and errors.
    """
    x, y = as_pair(x, y)
    return y[exact_assignment(x, y)]
