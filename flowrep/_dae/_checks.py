"""Input checks shared by the DAE modules, built on flowrep's validation layer.

Static problems raise at trace time; values (times, covariances, points) are
checked when concrete (`flowrep._validate.is_concrete`) and otherwise at run
time by the computations that use them.
"""

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._validate import as_points, is_concrete


class CollapseError(ValueError):
    """The backward heat equation was asked past its collapse time $\\lambda_{\\min}/2$."""


def check_time(t, what: str = "t") -> None:
    """`t` must be a finite non-negative scalar (checked when concrete)."""
    if jnp.ndim(t) != 0:
        raise ValueError(f"`{what}` must be a scalar; got shape {jnp.shape(t)}.")
    if is_concrete(t):
        tv = float(t)
        if not math.isfinite(tv):
            raise ValueError(f"`{what}` must be finite; got {tv}.")
        if tv < 0:
            raise ValueError(
                f"`{what}` must be >= 0 (a noise variance / time); got {tv}."
            )


def check_cov(cov: Array, m: int, what: str) -> None:
    if cov.shape != (m, m):
        raise ValueError(
            f"`{what}` must have shape ({m}, {m}) to match the mean; got {cov.shape}."
        )
    if not is_concrete(cov):
        return
    c = np.asarray(cov, dtype=float)
    if not np.all(np.isfinite(c)):
        raise ValueError(f"`{what}` contains NaN or inf.")
    scale = max(1.0, float(np.max(np.abs(c))))
    if np.max(np.abs(c - c.T)) > 1e-8 * scale:
        raise ValueError(
            f"`{what}` must be symmetric; max |C - C^T| = {np.max(np.abs(c - c.T)):.3g}."
        )
    lam = float(np.linalg.eigvalsh(c).min())
    if not lam > 0:
        raise ValueError(
            f"`{what}` must be positive definite; its smallest eigenvalue is {lam:.6g}."
        )


def check_point(x: Array, m: int) -> Array:
    x = jnp.asarray(x)
    if x.shape != (m,):
        raise ValueError(
            f"expected one point of shape ({m},) (the law's dimension); got {x.shape}. Use jax.vmap for batches."
        )
    return x


def check_points(x, m: int | None = None, what: str = "x") -> Array:
    """A cloud `(n, d)` with n >= 1, d = `m` (the law's dimension) when given."""
    return as_points(x, what, dim=m, dim_of="the law's dimension")


def check_horizon(t1, ts, tstar: float | None) -> None:
    check_time(t1, "t1")
    if ts is not None:
        ts_np = np.asarray(ts)
        if ts_np.ndim != 1 or ts_np.size == 0:
            raise ValueError(
                f"`ts` must be a non-empty 1-D array of times; got shape {ts_np.shape}."
            )
        if np.any(np.diff(ts_np) < 0) or ts_np[0] < 0 or ts_np[-1] > float(t1) + 1e-12:
            raise ValueError("`ts` must be non-decreasing within [0, t1].")
    if tstar is not None and float(t1) >= tstar:
        raise CollapseError(
            f"the deep-DAE flow cannot reach t1={float(t1):.6g}: mu_t = sum_k pi_k N(m_k, Sigma_k - 2tI) collapses "
            f"at t* = lambda_min/2 = {tstar:.6g}. Choose t1 < {tstar:.6g}."
        )


def check_layers(num_layers: int) -> None:
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1; got {num_layers}.")


def check_noise(t, who: str) -> None:
    """`t` must be a positive noise variance (checked when concrete)."""
    check_time(t)
    if is_concrete(t) and not float(t) > 0:
        raise ValueError(f"{who} needs a positive noise variance t; got {float(t)}.")
