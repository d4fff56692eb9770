"""Exact optimal assignment between equal-size clouds.

On a CPU the Hungarian algorithm of ott-jax runs inside the compiled program.
On a GPU/TPU that algorithm is a `while` loop with O(n^2) data-dependent trips,
each a device-to-host synchronisation, so there the default is scipy's
`linear_sum_assignment` (a C++ shortest augmenting path solver, Crouse 2016)
run on the host through `jax.pure_callback`: one copy of the `(n, d)` clouds
to the host and one of the `(n,)` permutation back. `host=` chooses
explicitly.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Int

from .._custom_types import OtherPoints, Points
from ._clouds import as_pair, normalise


def exact_assignment(
    x: Points | ArrayLike, y: OtherPoints | ArrayLike, *, host: bool | None = None
) -> Int[Array, " n"]:
    """Optimal assignment $\\sigma$ minimising $\\frac1n\\sum_i\\|x_i-y_{\\sigma(i)}\\|^2$.

    Hungarian algorithm from ott-jax (`ott.tools.unreg.hungarian`, O(n^3),
    dense `(n, n)` cost: use it for n up to a few thousand), or on the host
    scipy's `linear_sum_assignment` through `jax.pure_callback` (works under
    `jit` and `vmap`; `vmap` solves the batch one problem after another).

    **Arguments:**

    - `x`, `y`: clouds `(n, d)` and `(m, d)` of the same size, m = n.
    - `host`: `True` solves on the host (scipy), `False` in the compiled
      program (ott-jax); `None` (default) picks the host on every backend but
      the CPU (`jax.default_backend() != "cpu"`).

    **Returns:** integer array `perm` of shape `(n,)`: $x_i$ is sent to `y[perm[i]]`.

    **Raises:** `ValueError` for different sizes or dimensions, fewer than 2
    samples, NaN or inf; `TypeError` for non-numeric or complex clouds or a
    non-boolean `host`.
    """
    host = resolve_host(host)
    x, y = as_pair(x, y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            "the exact (assignment) solver needs clouds of equal size; got "
            f"{x.shape[0]} and {y.shape[0]} points. Use method='sinkhorn'."
        )
    return hungarian(x, y, host=host)


def _host_assignment(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    # float64 on the host whatever the device dtype: ties aside, the same
    # optimum as the in-program solver.
    cost = cdist(np.asarray(x, np.float64), np.asarray(y, np.float64), "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(x.shape[0], dtype=np.int32)
    perm[rows] = cols
    return perm


def hungarian(
    x: Points, y: OtherPoints, *, host: bool | None = None
) -> Int[Array, " n"]:
    """Traceable exact assignment on checked clouds of equal size, solved
    in their normalised frame (the assignment is invariant under a common
    translation and scaling; the frame keeps the expanded cost accurate).
    `host` as in [`exact_assignment`][], resolved here (outside the jit
    cache) from `jax.default_backend()` when `None`."""
    return _hungarian(x, y, host=default_host() if host is None else bool(host))


def resolve_host(host: Any) -> bool:
    """A user's `host` argument (`True`, `False` or `None`) resolved to where
    exact assignments run: `None` is `default_host()`'s choice.

    **Raises:** `TypeError` for anything else, naming `host`.
    """
    if host is not None and not isinstance(host, bool):
        raise TypeError(f"`host` must be True, False or None; got {host!r}.")
    return default_host() if host is None else host


def default_host() -> bool:
    """Whether exact assignments default to the host: on every backend but the CPU."""
    return jax.default_backend() != "cpu"


@eqx.filter_jit
def _hungarian(x: Points, y: OtherPoints, *, host: bool) -> Int[Array, " n"]:
    (x, y), _, _ = normalise(x, y)
    if host:
        shape = jax.ShapeDtypeStruct((x.shape[0],), jnp.int32)
        return jax.pure_callback(
            _host_assignment, shape, x, y, vmap_method="sequential"
        )
    from ott.geometry import pointcloud
    from ott.tools import unreg

    _, out = unreg.hungarian(pointcloud.PointCloud(x, y))
    i, j = out.paired_indices
    return jnp.zeros(x.shape[0], dtype=j.dtype).at[i].set(j)


def assignment_map(x: Points | ArrayLike, y: OtherPoints | ArrayLike) -> Points:
    """Exact OT map on the samples: row i is the image `y[perm[i]]` of `x[i]`.

    See [`exact_assignment`][]; same arguments and errors.
    """
    x, y = as_pair(x, y)
    return y[exact_assignment(x, y)]
