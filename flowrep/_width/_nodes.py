"""Nodes and weights for the ridgelet pair: quadrature grids and Monte Carlo proposals.

`ridgelet_transform` integrates over $x$ and `dual_ridgelet_transform` over
$(a,b)$; both take nodes with weights, built here (docs/theory/ridgelets.md#numerics): Riemann/midpoint grids for low dimension, and Monte Carlo samples
with importance weights $1/(n\\,p)$ otherwise, including heavy-tailed
proposals in $\\|a\\|$ (for ReLU the integrand decays only like $\\|a\\|^{-2}$).
"""

import math
from typing import Literal

import jax.numpy as jnp
import jax.random as jr
import jax.scipy.special as jss
import numpy as np
from jaxtyping import Array

from .._custom_types import ArrayInput, Key
from .._validate import (
    check_finite,
    check_key,
    check_memory,
    check_positive_float,
    check_positive_int,
    check_value,
)
from ._transform import as_real_array


def _corner(value: ArrayInput, name: str) -> Array:
    # `lower`/`upper` as a finite real float vector, named in every error.
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"`{name}` must be a real number or vector; got {value!r}.")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a real number or vector; got {value!r}."
        ) from None
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(
            f"`{name}` must be a real number or vector; got dtype {arr.dtype}."
        )
    arr = np.atleast_1d(arr.astype(np.float64))
    if arr.ndim != 1:
        raise ValueError(
            f"`{name}` must be a scalar or a vector (d,); got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite; got {arr}.")
    return jnp.asarray(arr, dtype=float)


def _box(
    lower: ArrayInput, upper: ArrayInput, dim: int | None
) -> tuple[Array, Array, int]:
    lo = _corner(lower, "lower")
    hi = _corner(upper, "upper")
    if dim is None:
        dim = max(lo.shape[0], hi.shape[0])
    dim = check_positive_int(dim, "dim")
    if lo.shape[0] not in (1, dim) or hi.shape[0] not in (1, dim):
        raise ValueError(
            f"`lower`/`upper` must be scalars or vectors of length dim={dim}; got "
            f"lengths {lo.shape[0]} and {hi.shape[0]}."
        )
    lo = jnp.broadcast_to(lo, (dim,))
    hi = jnp.broadcast_to(hi, (dim,))
    if not bool(jnp.all(hi > lo)):
        raise ValueError(
            f"Need upper > lower in every coordinate (`lower`, `upper`); got "
            f"lower={lo}, upper={hi}."
        )
    if not bool(jnp.all(jnp.isfinite(hi - lo))):
        raise ValueError(
            f"The box [`lower`, `upper`] is too wide for the working precision; got "
            f"lower={lo}, upper={hi}."
        )
    return lo, hi, dim


def grid_nodes(
    lower: ArrayInput,
    upper: ArrayInput,
    num: int,
    dim: int | None = None,
    *,
    rule: Literal["midpoint", "trapezoid"] = "midpoint",
) -> tuple[Array, Array]:
    """A tensor grid on the box $[\\text{lower},\\text{upper}]^d$ with quadrature weights.

    **Arguments:**

    - `lower`, `upper`: scalars or `(d,)` corners of the box.
    - `num`: points per axis (so `num**d` nodes in all).
    - `dim`: $d$, when `lower`/`upper` are scalars (default 1).
    - `rule`: `"midpoint"` (cell centres, error $O(h^2)$ for smooth integrands)
      or `"trapezoid"` (cell corners).

    **Returns:** `(x (num**d, d), w (num**d,))` with $\\sum_iw_ig(x_i)\\approx\\int g$.

    **Raises:** `ValueError` for `num < 1` (or `< 2` for the trapezoid rule),
    an empty box, or mismatched corner lengths.
    """
    lower, upper, dim = _box(lower, upper, dim)
    if rule not in ("midpoint", "trapezoid"):
        raise ValueError(
            f"Unknown `rule` {rule!r}; expected 'midpoint' or 'trapezoid'."
        )
    least = 2 if rule == "trapezoid" else 1
    if isinstance(num, bool) or not isinstance(num, int | np.integer):
        raise TypeError(f"`num` must be an integer >= {least}; got {num!r}.")
    if num < least:
        raise ValueError(
            f"`num`: num must be >= {least} for the {rule} rule; got {num}."
        )
    check_memory(
        8.0 * float(num) ** dim * (dim + 1), f"grid_nodes(`num`={num}, `dim`={dim})"
    )
    axes, weights = [], []
    for d in range(dim):
        lo, hi = lower[d], upper[d]
        if rule == "midpoint":
            h = (hi - lo) / num
            axes.append(lo + h * (jnp.arange(num) + 0.5))
            weights.append(jnp.full(num, h))
        elif rule == "trapezoid":
            h = (hi - lo) / (num - 1)
            axes.append(jnp.linspace(lo, hi, num))
            weights.append(jnp.full(num, h).at[0].mul(0.5).at[-1].mul(0.5))
        else:
            raise ValueError(
                f"Unknown rule {rule!r}; expected 'midpoint' or 'trapezoid'."
            )
    mesh = jnp.meshgrid(*axes, indexing="ij")
    wmesh = jnp.meshgrid(*weights, indexing="ij")
    x = jnp.stack([g.reshape(-1) for g in mesh], axis=-1)
    w = math.prod(wm.reshape(-1) for wm in wmesh)
    return x, jnp.asarray(w)


def parameter_grid(
    a_max: float,
    b_max: float,
    num_a: int,
    num_b: int,
    dim: int = 1,
    *,
    rule: Literal["midpoint", "trapezoid"] = "midpoint",
) -> tuple[Array, Array, Array]:
    """A grid over hidden-unit parameters $(a,b)\\in[-A,A]^d\\times[-B,B]$ (ACHA section 7).

    **Returns:** `(a (J, d), b (J,), w (J,))` with `J = num_a**d * num_b`.
    """
    for value, name in ((a_max, "a_max"), (b_max, "b_max")):
        if isinstance(value, (int, float, np.integer, np.floating)) and not (
            isinstance(value, bool)
        ):
            if value <= 0:
                raise ValueError(
                    f"a_max and b_max must be positive; got {a_max}, {b_max}."
                )
        check_positive_float(value, name)
    num_a = check_positive_int(num_a, "num_a")
    num_b = check_positive_int(num_b, "num_b")
    dim = check_positive_int(dim, "dim")
    # a (J, d), b, w and the meshes: about (d + 4) floats per unit
    check_memory(
        8.0 * float(num_a) ** dim * num_b * (dim + 4),
        f"parameter_grid(num_a={num_a}, num_b={num_b}, dim={dim})",
    )
    a, wa = grid_nodes(-a_max, a_max, num_a, dim, rule=rule)
    b, wb = grid_nodes(-b_max, b_max, num_b, 1, rule=rule)
    num_units = a.shape[0] * num_b
    big_a = jnp.repeat(a, num_b, axis=0)
    big_b = jnp.tile(b[:, 0], a.shape[0])
    w = jnp.repeat(wa, num_b) * jnp.tile(wb, a.shape[0])
    assert big_a.shape[0] == num_units
    w = check_finite(
        w,
        "w",
        f"parameter_grid: the cell volume (2 a_max / num_a)^dim (2 b_max / num_b) "
        f"overflows (`a_max`={a_max}, `b_max`={b_max}, dim={dim}); rescale the problem.",
    )
    return big_a, big_b, w


def gaussian_nodes(
    key: Key, num: int, mean: ArrayInput, cov: ArrayInput
) -> tuple[Array, Array]:
    """Monte Carlo nodes $x_i\\sim N(\\mu,\\Sigma)$ with importance weights $1/(n\\,p(x_i))$.

    With these, $\\sum_iw_ig(x_i)$ is an unbiased estimate of $\\int g\\,dx$.
    """
    if isinstance(num, (int, np.integer)) and not isinstance(num, bool) and num < 1:
        raise ValueError(f"num must be >= 1; got {num}.")
    num = check_positive_int(num, "num")
    check_key(key)
    mean = as_real_array(mean, "mean", "a vector (d,)")
    cov = as_real_array(cov, "cov", "a matrix (d, d)")
    mean = jnp.atleast_1d(mean).astype(jnp.result_type(mean, float))
    cov = jnp.atleast_2d(cov).astype(jnp.result_type(cov, float))
    if mean.ndim != 1 or mean.shape[0] < 1:
        raise ValueError(f"`mean` must be a vector (d,) with d >= 1; got {mean.shape}.")
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(
            f"cov must have shape ({d}, {d}) to match mean; got {cov.shape}."
        )
    check_memory(8.0 * num * (2 * d + 2), f"gaussian_nodes(num={num})")
    mean = check_finite(mean, "mean")
    cov = check_finite(cov, "cov")
    cov = check_value(
        cov,
        lambda c: jnp.max(jnp.abs(c - c.T)) > 1e-6 * jnp.max(jnp.abs(c)),
        "`cov` must be symmetric positive definite; it is not symmetric.",
    )
    chol = jnp.linalg.cholesky(cov)
    chol = check_value(
        chol,
        lambda c: ~jnp.all(jnp.isfinite(c)),
        "`cov` must be symmetric positive definite (its Cholesky factorisation failed).",
    )
    z = jr.normal(key, (num, d), dtype=mean.dtype)
    x = mean + z @ chol.T
    logdet = 2 * jnp.sum(jnp.log(jnp.diag(chol)))
    logp = -0.5 * jnp.sum(z**2, axis=1) - 0.5 * logdet - 0.5 * d * jnp.log(2 * jnp.pi)
    return x, jnp.exp(-logp) / num


def uniform_nodes(
    key: Key, num: int, lower: ArrayInput, upper: ArrayInput, dim: int | None = None
) -> tuple[Array, Array]:
    """Monte Carlo nodes uniform on a box, weights $\\mathrm{vol}/n$."""
    lower, upper, dim = _box(lower, upper, dim)
    if isinstance(num, bool) or not isinstance(num, int | np.integer):
        raise TypeError(f"`num` must be an integer >= 1; got {num!r}.")
    if num < 1:
        raise ValueError(f"`num` must be >= 1; got {num}.")
    check_key(key)
    check_memory(8.0 * num * (dim + 1), f"uniform_nodes(`num`={num})")
    x = jr.uniform(key, (num, dim), minval=lower, maxval=upper)
    return x, jnp.full(num, jnp.prod(upper - lower) / num)


def _log_sphere_area(d: int) -> Array:
    # |S^{d-1}| = 2 pi^{d/2} / Gamma(d/2)
    return jnp.log(2.0) + 0.5 * d * jnp.log(jnp.pi) - jss.gammaln(d / 2)


def sample_parameters(
    key: Key,
    num: int,
    dim: int,
    *,
    radius_law: Literal["gaussian", "cauchy", "uniform"] = "gaussian",
    a_scale: float = 1.0,
    x_radius: float = 1.0,
    b_margin: float = 3.0,
) -> tuple[Array, Array, Array]:
    """Monte Carlo hidden units $(a_j,b_j)$ with importance weights $1/(J\\,q(a_j,b_j))$.

    The proposal is $a=r\\,u$ with $u$ uniform on the sphere $S^{d-1}$ and the
    radius $r$ from `radius_law`, then $b\\mid a$ uniform on
    $[-(\\|a\\|R+B_0),\\|a\\|R+B_0]$ with $R$ = `x_radius` (the radius of the region
    where $f$ lives) and $B_0$ = `b_margin`: a ridge $a\\cdot x=b$ misses the
    region otherwise, so this range covers where $R[f;\\rho](a,b)$ is not small.

    - `"gaussian"`: $a\\sim N(0,s^2I)$ (light tails; for smooth targets).
    - `"cauchy"`: $r$ half-Cauchy with scale $s$: heavy-tailed in $\\|a\\|$,
      recommended for ReLU whose integrand decays only like $\\|a\\|^{-2}$.
    - `"uniform"`: $a$ uniform in the ball of radius $s$ (truncation at $A=s$).

    **Returns:** `(a (J, d), b (J,), w (J,))`; $\\sum_jw_jg(a_j,b_j)$ is an unbiased
    estimate of $\\int g(a,b)\\,da\\,db$ (over the ball for `"uniform"`).
    """
    num = check_positive_int(num, "num")
    dim = check_positive_int(dim, "dim")
    check_key(key)
    a_scale = check_positive_float(a_scale, "a_scale")
    x_radius = check_positive_float(x_radius, "x_radius")
    if isinstance(b_margin, bool) or not isinstance(
        b_margin, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`b_margin` must be a number >= 0; got {b_margin!r}.")
    if not (math.isfinite(b_margin) and b_margin >= 0):
        raise ValueError(f"`b_margin` must be finite and >= 0; got {b_margin}.")
    check_memory(8.0 * num * (2 * dim + 4), f"sample_parameters(num={num})")
    k_dir, k_rad, k_b = jr.split(key, 3)
    if radius_law == "gaussian":
        a = a_scale * jr.normal(k_dir, (num, dim))
        r = jnp.linalg.norm(a, axis=1)
        log_qa = (
            -0.5 * jnp.sum((a / a_scale) ** 2, axis=1)
            - dim * jnp.log(a_scale)
            - 0.5 * dim * jnp.log(2 * jnp.pi)
        )
    elif radius_law in ("cauchy", "uniform"):
        u = jr.normal(k_dir, (num, dim))
        u = u / jnp.linalg.norm(u, axis=1, keepdims=True)
        if radius_law == "cauchy":
            r = a_scale * jnp.abs(jnp.tan(jnp.pi * (jr.uniform(k_rad, (num,)) - 0.5)))
            log_qr = jnp.log(2 / (jnp.pi * a_scale)) - jnp.log1p((r / a_scale) ** 2)
        else:
            r = a_scale * jr.uniform(k_rad, (num,)) ** (1.0 / dim)
            log_qr = jnp.log(dim) + (dim - 1) * jnp.log(r) - dim * jnp.log(a_scale)
        r = jnp.maximum(r, jnp.finfo(r.dtype).tiny)
        a = r[:, None] * u
        log_qa = log_qr - (dim - 1) * jnp.log(r) - _log_sphere_area(dim)
    else:
        raise ValueError(
            f"Unknown radius_law {radius_law!r}; expected 'gaussian', 'cauchy' or 'uniform'."
        )
    half = r * x_radius + b_margin
    b = half * jr.uniform(k_b, (num,), minval=-1.0, maxval=1.0)
    log_q = log_qa - jnp.log(2 * half)
    w = jnp.exp(-log_q) / num
    msg = (
        "sample_parameters: the units or their weights overflow (`a_scale`="
        f"{a_scale}, `x_radius`={x_radius}, dim={dim}); rescale the problem."
    )
    ok = jnp.stack([jnp.all(jnp.isfinite(t)) for t in (a, b, w)]).all()
    w = check_value(w, lambda _, good: ~good, msg, ok)
    return a, b, w
