"""Input checks shared by the DAE modules, built on flowrep's validation layer.

Static problems raise at trace time; values (times, covariances, weights,
points) raise at once when concrete and otherwise through `eqx.error_if` on
the returned value (`flowrep._validate.check_value`), so every check also
holds under `jax.jit`/`vmap`. Each checker returns the value to use.
"""

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._validate import (
    as_points,
    check_positive_int,
    check_value,
    is_concrete,
)


class CollapseError(ValueError):
    """The backward heat equation was asked past its collapse time $\\lambda_{\\min}/2$."""


def check_time(t, what: str = "t"):
    """`t` must be a finite non-negative real scalar; returns it (checked at run time when traced)."""
    if t is None or isinstance(t, (str, bytes)):
        raise TypeError(f"`{what}` must be a real number; got {t!r}.")
    if jnp.ndim(t) != 0:
        raise ValueError(f"`{what}` must be a scalar; got shape {jnp.shape(t)}.")
    try:
        dtype = jnp.result_type(t)
    except TypeError:
        raise TypeError(f"`{what}` must be a real number; got {t!r}.") from None
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        raise TypeError(f"`{what}` must be a real number; got dtype {dtype}.")
    if is_concrete(t):
        tv = float(t)
        if not math.isfinite(tv):
            raise ValueError(f"`{what}` must be finite; got {tv}.")
        if tv < 0:
            raise ValueError(
                f"`{what}` must be >= 0 (a noise variance / time); got {tv}."
            )
        return t
    return eqx.error_if(
        t,
        ~jnp.isfinite(t) | (t < 0),
        f"`{what}` must be finite and >= 0 (a noise variance / time).",
    )


def _sym_tol(dtype) -> float:
    """Allowed |C - C^T| relative to max(1, |C|): rounding of a float32 product
    is ~1e-7 (float64: the old 1e-8, well above its rounding)."""
    return max(1e-8, 64 * float(jnp.finfo(dtype).eps))


def _cov_bad(c: Array) -> Array:
    scale = jnp.maximum(1.0, jnp.max(jnp.abs(c)))
    finite = jnp.all(jnp.isfinite(c))
    c0 = jnp.where(finite, c, jnp.eye(c.shape[-1], dtype=c.dtype))
    asym = jnp.max(jnp.abs(c0 - c0.T)) > _sym_tol(c.dtype) * scale
    lam = jnp.linalg.eigvalsh(0.5 * (c0 + c0.T))[0]
    return ~finite | asym | ~(lam > 0)


def check_cov(cov: Array, m: int, what: str) -> Array:
    """`cov` `(m, m)` finite, symmetric, positive definite; returns it.

    Concrete: a `ValueError` saying which property fails. Traced: `eqx.error_if`
    on the returned covariance.
    """
    if cov.shape != (m, m):
        raise ValueError(
            f"`{what}` must have shape ({m}, {m}) to match the mean; got {cov.shape}."
        )
    if not is_concrete(cov):
        return eqx.error_if(
            cov,
            _cov_bad(cov),
            f"`{what}` must be finite, symmetric and positive definite.",
        )
    c = np.asarray(cov, dtype=float)
    if not np.all(np.isfinite(c)):
        raise ValueError(f"`{what}` contains NaN or inf.")
    scale = max(1.0, float(np.max(np.abs(c))))
    if np.max(np.abs(c - c.T)) > _sym_tol(cov.dtype) * scale:
        raise ValueError(
            f"`{what}` must be symmetric; max |C - C^T| = {np.max(np.abs(c - c.T)):.3g}."
        )
    lam = float(np.linalg.eigvalsh(c).min())
    if not lam > 0:
        raise ValueError(
            f"`{what}` must be positive definite; its smallest eigenvalue is {lam:.6g}."
        )
    return cov


def check_weights(weights: Array, what: str = "weights") -> Array:
    """Mixture or sample weights: finite and > 0; returns them."""
    return check_value(
        weights,
        lambda w: ~jnp.isfinite(w) | ~(w > 0),
        f"`{what}` must be positive and finite.",
        detail=lambda w: f"Got {np.asarray(w)}.",
    )


def check_before_collapse(t, tstar, what: str = "t"):
    """`t < tstar` (the collapse time $\\lambda_{\\min}/2$); returns `t`.

    **Raises:** `CollapseError` when concrete; at run time otherwise.
    """
    return check_value(
        t,
        lambda t, ts: ~(t < ts),
        f"`{what}` is at or past the collapse time: the law collapses at "
        "t* = lambda_min/2 (a covariance Sigma - 2tI stops being positive definite).",
        tstar,
        error=CollapseError,
        detail=lambda t, ts: (
            f"Got {what}={float(t):.6g}, t*={float(ts):.6g}; choose {what} < t*."
        ),
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


def check_horizon(t1, ts, tstar=None):
    """`t1` a valid final time, `ts` non-decreasing in [0, t1], `t1 < tstar`.

    Returns `(t1, ts)` to use (`ts` may be `None`); traced values are checked
    at run time.
    """
    t1 = check_time(t1, "t1")
    if ts is not None:
        if jnp.ndim(ts) != 1 or jnp.size(ts) == 0:
            raise ValueError(
                f"`ts` must be a non-empty 1-D array of times; got shape {jnp.shape(ts)}."
            )
        ts = check_value(
            ts,
            lambda s, t1: (
                ~jnp.all(jnp.isfinite(s))
                | jnp.any(jnp.diff(s) < 0)
                | (s[0] < 0)
                | (s[-1] > t1 + 1e-12)
            ),
            "`ts` must be finite and non-decreasing within [0, t1].",
            t1,
        )
    if tstar is not None:
        if is_concrete(t1, tstar) and not float(t1) < float(tstar):
            raise CollapseError(
                f"the deep-DAE flow cannot reach t1={float(t1):.6g}: mu_t = sum_k pi_k N(m_k, Sigma_k - 2tI) collapses "
                f"at t* = lambda_min/2 = {float(tstar):.6g}. Choose t1 < {float(tstar):.6g}."
            )
        t1 = check_before_collapse(t1, tstar, "t1")
    return t1, ts


def check_layers(num_layers: int, what: str = "num_layers") -> int:
    """A number of layers: an integer >= 1 (bools and floats refused)."""
    return check_positive_int(num_layers, what)


def check_concrete_time(t, who: str, what: str = "t") -> float:
    """`t` as a Python float, for entry points that are not jittable."""
    t = check_time(t, what)
    if not is_concrete(t):
        raise TypeError(
            f"{who} is not jittable: `{what}` must be a concrete number (it fixes "
            "Python-side sizes and loops); call it outside `jax.jit`."
        )
    return float(t)


def check_noise(t, who: str, what: str = "t"):
    """`t` must be a positive finite noise variance; returns it."""
    t = check_time(t, what)
    return check_value(
        t,
        lambda t: ~(t > 0),
        f"{who} needs a positive noise variance `{what}` (> 0).",
        detail=lambda t: f"Got {float(t)}.",
    )


def check_bandwidth(h, what: str = "bandwidth", *, zero_ok: bool = False) -> float:
    """A kernel variance as a Python float: finite and > 0 (>= 0 with `zero_ok`).

    Python, NumPy and concrete JAX scalars are accepted; a traced value is a
    `TypeError` (it is a static hyperparameter: it fixes the compiled field).
    """
    if isinstance(h, (bool, np.bool_, str, bytes)) or h is None:
        raise TypeError(f"`{what}` must be a real number; got {h!r}.")
    if not is_concrete(h):
        raise TypeError(
            f"`{what}` must be a concrete number (a static hyperparameter); it is "
            "traced here: pass it from outside `jax.jit`."
        )
    if jnp.ndim(h) != 0:
        raise ValueError(f"`{what}` must be a scalar; got shape {jnp.shape(h)}.")
    dtype = jnp.result_type(h)
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        raise TypeError(f"`{what}` must be a real number; got dtype {dtype}.")
    hv = float(h)
    if not math.isfinite(hv) or hv < 0 or (hv == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"`{what}` must be a finite variance {bound}; got {hv}.")
    return hv
