"""Gaussian optimal transport: fits, the Bures-Wasserstein distance and map."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import FloatScalar, Point, Points
from ._clouds import as_cloud


def _sqrtm_psd(S: Array) -> Array:
    w, V = jnp.linalg.eigh(S)
    return (V * jnp.sqrt(jnp.clip(w, 0.0))) @ V.T


def _inv_sqrtm_pd(S: Array) -> Array:
    w, V = jnp.linalg.eigh(S)
    return (V / jnp.sqrt(w)) @ V.T


def gaussian_fit(x: Points) -> tuple[Point, Float[Array, "d d"]]:
    """Sample mean and (biased, $1/n$) covariance of a cloud.

    **Arguments:**

    - `x`: points, shape `(n, d)`.

    **Returns:** `(mean, cov)` of shapes `(d,)` and `(d, d)`.
    """
    x = as_cloud(x, "x")
    m = jnp.mean(x, 0)
    xc = x - m
    return m, xc.T @ xc / x.shape[0]


def gaussian_w2(
    m1: ArrayLike, S1: ArrayLike, m2: ArrayLike, S2: ArrayLike
) -> FloatScalar:
    """Squared Wasserstein-2 distance between two Gaussians (Bures form).

    $W_2^2=\\|m_1-m_2\\|^2+\\mathrm{tr}(\\Sigma_1+\\Sigma_2
    -2(\\Sigma_2^{1/2}\\Sigma_1\\Sigma_2^{1/2})^{1/2})$ (docs/theory/scores.md#gaussian-closed-forms;
    Dowson & Landau 1982, Givens & Shortt 1984).

    **Arguments:**

    - `m1`, `m2`: means, shape `(d,)`.
    - `S1`, `S2`: positive semi-definite covariances, shape `(d, d)`.

    **Returns:** $W_2^2$ as a scalar (not its square root).

    **Raises:** `ValueError` on inconsistent shapes.
    """
    return _gaussian_w2(*_check_gaussians(m1, S1, m2, S2))


@jax.jit
def _gaussian_w2(m1, S1, m2, S2):
    r2 = _sqrtm_psd(S2)
    cross = _sqrtm_psd(r2 @ S1 @ r2)
    val = jnp.sum((m1 - m2) ** 2) + jnp.trace(S1) + jnp.trace(S2) - 2 * jnp.trace(cross)
    return jnp.maximum(val, 0.0)


def _check_gaussians(m1, S1, m2, S2):
    m1, S1, m2, S2 = (jnp.asarray(a) for a in (m1, S1, m2, S2))
    dtype = jnp.result_type(m1, S1, m2, S2, float)
    m1, S1, m2, S2 = (a.astype(dtype) for a in (m1, S1, m2, S2))
    d = m1.shape[-1] if m1.ndim == 1 else -1
    for name, m, S in (("1", m1, S1), ("2", m2, S2)):
        if m.ndim != 1 or S.shape != (m.shape[0], m.shape[0]):
            raise ValueError(
                f"Gaussian {name} needs a mean of shape (d,) and a covariance of "
                f"shape (d, d); got {m.shape} and {S.shape}."
            )
        if m.shape[0] != d:
            raise ValueError(
                f"both Gaussians must have the same dimension; got {m1.shape[0]} "
                f"and {m2.shape[0]}."
            )
    return m1, S1, m2, S2


class AffineMap(eqx.Module):
    """The affine map $x\\mapsto Ax+c$; `__call__` takes one sample `(d,)`."""

    matrix: Float[Array, "d d"]
    shift: Point

    def __call__(self, x: Point) -> Point:
        return self.matrix @ x + self.shift


def gaussian_ot_map(
    m1: ArrayLike, S1: ArrayLike, m2: ArrayLike, S2: ArrayLike
) -> AffineMap:
    """Optimal transport map between two Gaussians (docs/theory/scores.md#gaussian-closed-forms).

    $T(x)=m_2+A(x-m_1)$ with
    $A=\\Sigma_1^{-1/2}(\\Sigma_1^{1/2}\\Sigma_2\\Sigma_1^{1/2})^{1/2}\\Sigma_1^{-1/2}$,
    the unique symmetric positive semi-definite $A$ with $A\\Sigma_1A=\\Sigma_2$.

    **Arguments:**

    - `m1`, `S1`: source mean `(d,)` and positive-definite covariance `(d, d)`.
    - `m2`, `S2`: target mean and covariance.

    **Returns:** an [`AffineMap`][] with `matrix` $A$ and `shift` $m_2-Am_1$.

    **Raises:** `ValueError` on inconsistent shapes.
    """
    return _gaussian_ot_map(*_check_gaussians(m1, S1, m2, S2))


@jax.jit
def _gaussian_ot_map(m1, S1, m2, S2):
    r1 = _sqrtm_psd(S1)
    ir1 = _inv_sqrtm_pd(S1)
    A = ir1 @ _sqrtm_psd(r1 @ S2 @ r1) @ ir1
    A = (A + A.T) / 2
    return AffineMap(A, m2 - A @ m1)
