"""The closed-form ridgelet transform of a Gaussian bump and of Gaussian mixtures.

See docs/theory/ridgelets.md#gaussian-ridgelet-transform.
"""

import math
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._custom_types import UnitBiases, UnitScales
from .._validate import check_finite, check_value
from ._precision import exact_matmul
from ._ridgelets import check_order, MAX_GAUSSIAN_ORDER, MAX_GAUSSIAN_ORDER_FLOAT32
from ._special import gaussian_derivative
from ._transform import as_real_array, check_exponent


class _CovarianceError(ValueError, eqx.EquinoxRuntimeError):
    """A covariance that is not symmetric positive definite. A `ValueError`
    (raised at once for a concrete `cov`), and an `EquinoxRuntimeError` as it
    was when the check ran only inside the compiled call."""


def _check_spd(cov: Array, name: str) -> Array:
    """`cov` `(..., d, d)` finite, symmetric and positive definite: eager when
    concrete, `eqx.error_if` under a trace (`check_value`)."""
    cov = check_finite(cov, name)

    def asym(c):
        scale = jnp.max(jnp.abs(c), axis=(-2, -1))
        return jnp.max(jnp.abs(c - jnp.swapaxes(c, -1, -2)), axis=(-2, -1)) > (
            1e-6 * scale
        )

    cov = check_value(
        cov,
        asym,
        f"`{name}` must be symmetric positive definite; it is not symmetric.",
        error=_CovarianceError,
    )

    def not_pd(c):
        c = c.astype(jnp.result_type(c, float))
        sym = 0.5 * (c + jnp.swapaxes(c, -1, -2))
        chol = jnp.linalg.cholesky(sym)
        return ~jnp.all(jnp.isfinite(chol), axis=(-2, -1)) | jnp.any(
            jnp.diagonal(chol, axis1=-2, axis2=-1) <= 0, axis=-1
        )

    return check_value(
        cov,
        not_pd,
        f"`{name}` must be symmetric positive definite; its Cholesky "
        "factorisation failed.",
        error=_CovarianceError,
    )


def _check_order_range(k: int, *arrays: Array) -> None:
    """The closed form evaluates $G^{(k)}$: the same stable range as
    `GaussianDerivative` (300 in float64, 56 in float32 or lower)."""
    dtype = jnp.result_type(*arrays, float)
    limit = (
        MAX_GAUSSIAN_ORDER_FLOAT32
        if jnp.finfo(dtype).bits <= 32
        else MAX_GAUSSIAN_ORDER
    )
    if k > limit:
        raise ValueError(
            f"The ridgelet order k={k} is beyond the stable range 0 <= k <= {limit} "
            f"in {jnp.dtype(dtype).name} (300 in float64, 56 in float32): above it "
            "G^(k) overflows to inf/NaN."
        )


# --------------------------------------------------------------------------
# Closed-form ridgelet transform of a Gaussian bump
# --------------------------------------------------------------------------


def _check_gaussian(a: Array, b: Array, mean: Array, cov: Array) -> int:
    if a.ndim != 2:
        raise ValueError(f"`a` must have shape (J, d); got shape {a.shape}.")
    num_units, d = a.shape
    if num_units == 0 or d == 0:
        raise ValueError(
            f"`a` must be non-empty with shape (J, d), J, d >= 1; got {a.shape}."
        )
    if b.shape != (num_units,):
        raise ValueError(
            f"`b` must have shape (J,)=({num_units},) to match `a`; got {b.shape}."
        )
    if mean.shape != (d,):
        raise ValueError(
            f"`mean` must have shape (d,)=({d},) to match `a` of shape {a.shape}; got {mean.shape}."
        )
    if cov.shape != (d, d):
        raise ValueError(f"`cov` must have shape (d, d)=({d}, {d}); got {cov.shape}.")
    return d


def _gaussian_transform(a, b, mean, cov, k, s):
    d = a.shape[1]
    dtype = jnp.result_type(a, b, mean, cov, float)
    a, b, mean, cov = (jnp.asarray(t, dtype) for t in (a, b, mean, cov))
    # `cov` was checked (finite, symmetric, PD) before the compiled call.
    chol = jnp.linalg.cholesky(cov)
    half_logdet = jnp.sum(jnp.log(jnp.diag(chol)))
    # Reference values, and c feeds an exponential: HIGHEST (see _precision).
    proj = exact_matmul(a, chol)  # a^T Sigma a = |L^T a|^2
    scale = jnp.sqrt(1.0 + jnp.sum(proj * proj, axis=-1))
    c = (b - exact_matmul(a, mean)) / scale
    sign = -1.0 if k % 2 else 1.0
    # He_k(c) e^{-c^2/2} = (-1)^k G^(k)(c)
    out = (
        sign
        * gaussian_derivative(k, c)
        * jnp.exp(0.5 * d * math.log(2 * math.pi) + half_logdet)
    )
    out = out * scale ** (-(k + 1))
    if s != 0:
        out = out * jnp.linalg.norm(a, axis=-1) ** s
    return out


def _check_k_s(k, s) -> tuple[int, float]:
    k = check_order(k, "The ridgelet order k")
    if not isinstance(s, numbers.Real) or not math.isfinite(s):
        raise ValueError(f"`s` must be a finite real number; got {s!r}.")
    return k, check_exponent(s)


_gaussian_transform_jit = eqx.filter_jit(_gaussian_transform)


@eqx.filter_jit
def _mixture_transform(a, b, coeffs, means, covs, k, s):
    parts = jax.vmap(lambda mu, cov: _gaussian_transform(a, b, mu, cov, k, s))(
        means, covs
    )
    return jnp.tensordot(coeffs.astype(parts.dtype), parts, axes=1)


def gaussian_ridgelet_transform(
    a: UnitScales,
    b: UnitBiases,
    mean: ArrayLike,
    cov: ArrayLike,
    k: int,
    *,
    s: float = 0.0,
) -> Array:
    """Closed-form $R[f;G^{(k)}](a_j,b_j)$ of the Gaussian bump $f(x)=e^{-\\frac12(x-\\mu)^\\top\\Sigma^{-1}(x-\\mu)}$.

    $R[f;G^{(k)}](a,b)=(2\\pi)^{d/2}\\det(\\Sigma)^{1/2}\\,t^{-(k+1)}He_k(c)e^{-c^2/2}$,
    $t=\\sqrt{1+a^\\top\\Sigma a}$, $c=(b-a\\cdot\\mu)/t$ (docs/theory/ridgelets.md#gaussian-ridgelet-transform; it
    follows from $a\\cdot x\\sim N(a\\cdot\\mu,a^\\top\\Sigma a)$ under the
    normalised $f$ and $\\mathbb E\\,G(Y-b)=t^{-1}e^{-c^2/2}$, differentiated $k$
    times in $b$). With `s` it carries ACHA's weight $\\|a\\|^s$, as
    `ridgelet_transform` does. The transform is linear in $f$: see
    `gaussian_mixture_ridgelet_transform` for sums of bumps.

    **Arguments:**

    - `a`: `(J, d)` scales; `b`: `(J,)` biases.
    - `mean`: `(d,)`; `cov`: `(d, d)` symmetric positive definite.
    - `k`: the order of the Gaussian-derivative ridgelet $G^{(k)}$, $k\\ge0$.
    - `s`: exponent of the weight $\\|a\\|^s$ (default 0).

    **Returns:** `(J,)` values $R[f;G^{(k)}](a_j,b_j)$.

    **Raises:** `ValueError` on shape mismatches, NaN/inf inputs, a bad `k`/`s`
    (`k` beyond 300, or 56 in float32, overflows), or a `cov` that is not
    symmetric positive definite (this error is also an
    `eqx.EquinoxRuntimeError`); under `jit` the value checks raise an
    `eqx.EquinoxRuntimeError` when the computation runs. `TypeError` for
    non-numeric arrays.
    """
    k, s = _check_k_s(k, s)
    a = as_real_array(a, "a", "an array (J, d)")
    b = as_real_array(b, "b", "an array (J,)")
    mean = as_real_array(mean, "mean", "an array (d,)")
    cov = as_real_array(cov, "cov", "an array (d, d)")
    _check_gaussian(a, b, mean, cov)
    _check_order_range(k, a, b, mean, cov)
    a, b, mean = (check_finite(t, n) for t, n in ((a, "a"), (b, "b"), (mean, "mean")))
    cov = _check_spd(cov, "cov")
    return _gaussian_transform_jit(a, b, mean, cov, k, s)


def gaussian_mixture_ridgelet_transform(
    a: UnitScales,
    b: UnitBiases,
    coeffs: ArrayLike,
    means: ArrayLike,
    covs: ArrayLike,
    k: int,
    *,
    s: float = 0.0,
) -> Array:
    """Closed-form $R[f;G^{(k)}]$ of $f(x)=\\sum_ic_ie^{-\\frac12(x-\\mu_i)^\\top\\Sigma_i^{-1}(x-\\mu_i)}$.

    The sum over components of `gaussian_ridgelet_transform` ($R$ is linear in $f$).

    **Arguments:**

    - `a`: `(J, d)`; `b`: `(J,)`.
    - `coeffs`: `(K,)` weights $c_i$; `means`: `(K, d)`; `covs`: `(K, d, d)`.
    - `k`, `s`: as in `gaussian_ridgelet_transform`.

    **Returns:** `(J,)`.

    **Raises:** as `gaussian_ridgelet_transform`, plus `ValueError` when the
    component arrays disagree in `K`.
    """
    k, s = _check_k_s(k, s)
    a = as_real_array(a, "a", "an array (J, d)")
    b = as_real_array(b, "b", "an array (J,)")
    coeffs = as_real_array(coeffs, "coeffs", "an array (K,)")
    means = as_real_array(means, "means", "an array (K, d)")
    covs = as_real_array(covs, "covs", "an array (K, d, d)")
    if coeffs.ndim != 1 or coeffs.shape[0] == 0:
        raise ValueError(
            f"`coeffs` must have shape (K,) with K >= 1; got {coeffs.shape}."
        )
    num = coeffs.shape[0]
    if means.ndim != 2 or means.shape[0] != num:
        raise ValueError(
            f"`means` must have shape (K, d) with K={num}; got {means.shape}."
        )
    if covs.ndim != 3 or covs.shape[0] != num:
        raise ValueError(
            f"`covs` must have shape (K, d, d) with K={num}; got {covs.shape}."
        )
    _check_gaussian(a, b, means[0], covs[0])
    _check_order_range(k, a, b, means, covs)
    a, b, coeffs, means = (
        check_finite(t, n)
        for t, n in ((a, "a"), (b, "b"), (coeffs, "coeffs"), (means, "means"))
    )
    covs = _check_spd(covs, "covs")
    return _mixture_transform(a, b, coeffs, means, covs, k, s)
