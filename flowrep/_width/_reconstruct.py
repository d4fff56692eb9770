"""Reconstruction $f\\approx S[R[f;\\rho]]/\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._custom_types import Profile
from .._validate import as_points, check_finite, check_value
from ._transform import as_real_array, dual_ridgelet_transform, ridgelet_transform


def reconstruct(
    f: Callable[[Array], Array] | ArrayLike,
    sigma: Profile,
    rho: Profile,
    x: ArrayLike,
    w: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    w_ab: ArrayLike,
    x_eval: ArrayLike,
    *,
    pairing: float | None = None,
    s: float = 0.0,
    chunk_size: int | None = None,
    mesh=None,
) -> Array:
    """Reconstruct $f$ at `x_eval` through its ridgelet spectrum (Ghosts Thm 6).

    $f(x)\\approx\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle^{-1}\\sum_jw^{ab}_j\\,R[f;\\rho](a_j,b_j)\\,\\sigma(a_j\\cdot x-b_j)$,
    with $R$ discretised on the nodes `(x, w)` and $S$ on `(a, b, w_ab)`.

    **Arguments:**

    - `f`: callable on one point, or its values at `x`.
    - `sigma`: activation; `rho`: ridgelet profile.
    - `x (n, d)`, `w (n,)`: nodes for $R$; `a (J, d)`, `b (J,)`, `w_ab (J,)`: nodes for $S$.
    - `x_eval (p, d)`: where to evaluate.
    - `pairing`: $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$; computed by
      `flowrep.admissibility(sigma, rho, d)` when `None`.
    - `s`, `chunk_size`: as in `ridgelet_transform` (`chunk_size` defaults per
      backend).
    - `mesh`: run both transforms over this `jax.sharding.Mesh` (default: the
      mesh of any sharded input); the spectrum stays sharded by units between
      them. See `ridgelet_transform`.

    **Returns:** `(p,)` or `(p, k)` reconstructed values.

    **Raises:** `NotAdmissibleError` when the pair is not admissible (a
    non-admissible pair has no normalisation; use `ridgelet_transform` and
    `dual_ridgelet_transform` directly to see its "ghost", $S[R f]\\approx0$).
    """
    # Checked first, so a bad `x` is named before the pairing needs its d.
    x_arr = as_points(as_real_array(x, "x", "a point cloud (n, d)"), "x", finite=False)
    # Named here: the dual transform would call them `x` and `w`.
    as_points(
        as_real_array(x_eval, "x_eval", "a point cloud (p, d)"),
        "x_eval",
        dim=x_arr.shape[1],
        dim_of="the dimension of `x`",
    )
    w_ab_arr = as_real_array(w_ab, "w_ab", "an array (J,)")
    if w_ab_arr.shape != jnp.shape(a)[:1]:
        raise ValueError(
            f"`w_ab` must have shape (J,)={jnp.shape(a)[:1]} (one weight per unit); "
            f"got {w_ab_arr.shape}."
        )
    w_ab = check_finite(w_ab_arr, "w_ab")
    if pairing is None:
        from ._admissibility import admissibility

        value: float | complex = admissibility(sigma, rho, jnp.shape(x)[-1], s=s)
    else:
        value = pairing
    if isinstance(value, bool) or not (
        isinstance(value, (int, float, complex, np.number))
        or (hasattr(value, "dtype") and jnp.ndim(value) == 0)
    ):
        raise TypeError(f"`pairing` must be a number; got {value!r}.")
    if hasattr(value, "dtype") and not jnp.issubdtype(
        jnp.asarray(value).dtype, jnp.number
    ):
        raise TypeError(f"`pairing` must be a number; got {value!r}.")
    # Eager when concrete, `eqx.error_if` when traced (a pairing computed under jit).
    value = check_value(
        value,
        lambda v: ~jnp.isfinite(v) | (v == 0),
        "`pairing` must be finite and non-zero.",
        detail=lambda v: f"Got {v}.",
    )
    gamma = ridgelet_transform(
        f, rho, a, b, x, w, s=s, chunk_size=chunk_size, mesh=mesh
    )
    if mesh is None:  # R's spectrum carries the mesh to S
        mesh = getattr(getattr(gamma, "sharding", None), "mesh", None)
        if not isinstance(mesh, jax.sharding.Mesh) or mesh.size == 1:
            mesh = None
    return (
        dual_ridgelet_transform(
            gamma, sigma, a, b, w_ab, x_eval, s=s, chunk_size=chunk_size, mesh=mesh
        )
        / value
    )
