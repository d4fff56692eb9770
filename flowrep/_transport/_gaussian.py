"""Gaussian optimal transport: fits, the Bures-Wasserstein distance and map."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import FloatScalar, Point, Points
from .._validate import check_finite, check_value, is_concrete
from ._clouds import as_cloud, HIGHEST, normalise, promote, scale_by


def _sqrtm_psd(S: Array) -> Array:
    w, V = jnp.linalg.eigh(S)
    return jnp.matmul(V * jnp.sqrt(jnp.clip(w, 0.0)), V.T, precision=HIGHEST)


def _inv_sqrtm_pd(S: Array) -> Array:
    w, V = jnp.linalg.eigh(S)
    return jnp.matmul(V / jnp.sqrt(w), V.T, precision=HIGHEST)


def _mm(*mats: Array) -> Array:
    out = mats[0]
    for m in mats[1:]:
        out = jnp.matmul(out, m, precision=HIGHEST)
    return out


def moments(x: Points) -> tuple[Point, Float[Array, "d d"]]:
    """Mean and biased covariance of a checked cloud, no checks (traceable)."""
    m = jnp.mean(x, 0)
    xc = x - m
    return m, _mm(xc.T, xc) / x.shape[0]


def gaussian_fit(x: Points | ArrayLike) -> tuple[Point, Float[Array, "d d"]]:
    """Sample mean and (biased, $1/n$) covariance of a cloud.

    Computed in the normalised frame of `x` (centred, exactly rescaled by a
    power of two), so the covariance is exactly equivariant under scaling
    and invariant under translation, and nothing overflows before the
    covariance itself does.

    **Arguments:**

    - `x`: points, shape `(n, d)`, n >= 2 (float16/bfloat16 promoted to float32).

    **Returns:** `(mean, cov)` of shapes `(d,)` and `(d, d)`.

    **Raises:** `ValueError` for bad shapes, NaN/inf, or a covariance that
    overflows the dtype, or underflows it entirely (distinct points whose
    covariance is below the dtype's normal range, e.g. float32 points at
    scale 1e-20: it would come back 0); use float64 for either.
    """
    x = as_cloud(x, "x")
    m, S, Sn = _gaussian_fit(x)
    # Checked outside the jitted kernel: eagerly this raises a ValueError now;
    # under an enclosing jit it becomes a run-time `eqx.error_if`.
    S = check_finite(
        S, "x", "`x`: its covariance overflows the dtype; use float64 (x64)."
    )
    S = check_value(
        S,
        lambda S, Sn: (jnp.max(jnp.abs(S)) == 0) & (jnp.max(jnp.abs(Sn)) > 0),
        "`x`: its covariance underflows the dtype (below its normal range, it "
        "would be 0 for distinct points); use float64 (x64) or rescale `x`.",
        Sn,
    )
    return m, S


@jax.jit
def _gaussian_fit(x):
    (xn,), shift, k = normalise(x)
    m, Sn = moments(xn)
    S = scale_by(Sn, 2 * k)
    return scale_by(m, k) + shift, S, Sn


def _cov_exponent(S1: Array, S2: Array) -> Array:
    """$e$ with the larger covariance's largest entry in $[2^{e-1}, 2^e)$ (0 if both vanish)."""
    big = jnp.maximum(jnp.max(jnp.abs(S1)), jnp.max(jnp.abs(S2)))
    _, e = jnp.frexp(jnp.where(big > 0, big, jnp.ones_like(big)))
    return e


def bures_w2(m1, S1, m2, S2) -> FloatScalar:
    """$W_2^2$ between Gaussians on checked inputs, no checks (traceable).

    The covariance part is computed on $2^{-e}\\Sigma_i$ (exact power-of-two
    scaling, unit-scale entries) and scaled back: $\\Sigma_2^{1/2}\\Sigma_1
    \\Sigma_2^{1/2}$ is quadratic in the scale, and at covariances of 1e-20
    (1e20) in float32 it under- (over-)flowed.
    """
    e = _cov_exponent(S1, S2)
    S1, S2 = scale_by(S1, -e), scale_by(S2, -e)
    r2 = _sqrtm_psd(S2)
    cross = _sqrtm_psd(_mm(r2, S1, r2))
    cov = jnp.maximum(jnp.trace(S1) + jnp.trace(S2) - 2 * jnp.trace(cross), 0.0)
    return jnp.sum((m1 - m2) ** 2) + scale_by(cov, e)


def gaussian_w2(
    m1: ArrayLike, S1: ArrayLike, m2: ArrayLike, S2: ArrayLike
) -> FloatScalar:
    """Squared Wasserstein-2 distance between two Gaussians (Bures form).

    $W_2^2=\\|m_1-m_2\\|^2+\\mathrm{tr}(\\Sigma_1+\\Sigma_2
    -2(\\Sigma_2^{1/2}\\Sigma_1\\Sigma_2^{1/2})^{1/2})$ (docs/theory/scores.md#gaussian-closed-forms;
    Dowson & Landau 1982, Givens & Shortt 1984).

    **Arguments:**

    - `m1`, `m2`: finite means, shape `(d,)`.
    - `S1`, `S2`: symmetric positive semi-definite covariances, shape `(d, d)`
      (singular ones, degenerate Gaussians, are allowed).

    **Returns:** $W_2^2$ as a scalar (not its square root).

    **Raises:** `ValueError` on inconsistent shapes, NaN/inf, a non-symmetric
    or indefinite covariance (eagerly when concrete, through `eqx.error_if`
    under `jit`); `TypeError` for non-real arrays.
    """
    m1, S1, m2, S2 = _check_gaussians(m1, S1, m2, S2, pd1=False)
    return jax.jit(bures_w2)(m1, S1, m2, S2)


def _check_cov(S: Array, name: str, definite: bool) -> Array:
    """Symmetric, finite and PSD (PD when `definite`), eager or traced."""
    S = check_finite(S, name)
    # A Python float: computed with jnp it is a tracer under `jit`, and
    # `float(tol)` below raised a ConcretizationTypeError there.
    tol = float(np.sqrt(np.finfo(S.dtype).eps))
    if is_concrete(S):
        Sn = np.asarray(S, np.float64)
        scale = max(float(np.max(np.abs(Sn))), np.finfo(np.float64).tiny)
        if np.max(np.abs(Sn - Sn.T)) > float(tol) * scale:
            raise ValueError(f"`{name}` must be a symmetric covariance matrix.")
        w = np.linalg.eigvalsh((Sn + Sn.T) / 2)
        if definite and not w[0] > float(tol) * max(w[-1], 0.0):
            # PD but conditioned past 1/sqrt(eps): its inverse square root
            # would lose more than half the digits of the dtype
            why = (
                f"; in {S.dtype} it must be conditioned better than "
                f"1/sqrt(eps) = {1 / tol:.3g} (use float64 / x64)"
                if w[0] > 0
                else ""
            )
            raise ValueError(
                f"`{name}` must be positive definite (smallest eigenvalue "
                f"{w[0]:.3g}, largest {w[-1]:.3g}){why}."
            )
        if not definite and w[0] < -float(tol) * max(w[-1], 0.0):
            raise ValueError(
                f"`{name}` must be positive semi-definite (smallest eigenvalue "
                f"{w[0]:.3g})."
            )
        return S
    scale = jnp.maximum(jnp.max(jnp.abs(S)), jnp.finfo(S.dtype).tiny)
    S = eqx.error_if(
        S,
        jnp.max(jnp.abs(S - S.T)) > tol * scale,
        f"`{name}` must be a symmetric covariance matrix.",
    )
    w = jnp.linalg.eigvalsh((S + S.T) / 2)
    top = jnp.maximum(w[-1], 0.0)
    bad = (w[0] <= tol * top) if definite else (w[0] < -tol * top)
    kind = "positive definite" if definite else "positive semi-definite"
    return eqx.error_if(S, bad, f"`{name}` must be {kind}.")


def _check_gaussians(m1, S1, m2, S2, *, pd1: bool):
    names = ("m1", "S1", "m2", "S2")
    arrs = []
    for name, a in zip(names, (m1, S1, m2, S2)):
        try:
            a = jnp.asarray(a)
        except (TypeError, ValueError) as e:  # jnp's ValueError for None
            raise TypeError(
                f"`{name}` must be an array; got {type(a).__name__}."
            ) from e
        if jnp.issubdtype(a.dtype, jnp.bool_) or not jnp.issubdtype(
            a.dtype, jnp.number
        ):
            raise TypeError(f"`{name}` must hold numbers; got dtype {a.dtype}.")
        arrs.append(promote(a, name))
    dtype = jnp.result_type(*arrs, float)
    m1, S1, m2, S2 = (a.astype(dtype) for a in arrs)
    for mname, sname, m, S in (("m1", "S1", m1, S1), ("m2", "S2", m2, S2)):
        if m.ndim != 1 or m.shape[0] < 1:
            raise ValueError(f"`{mname}` must be a mean of shape (d,); got {m.shape}.")
        if S.shape != (m.shape[0], m.shape[0]):
            raise ValueError(
                f"`{sname}` must be a covariance of shape (d, d) = "
                f"({m.shape[0]}, {m.shape[0]}) to match `{mname}`; got {S.shape}."
            )
    if m1.shape[0] != m2.shape[0]:
        raise ValueError(
            "both Gaussians must have the same dimension; got `m1` of shape "
            f"{m1.shape} and `m2` of shape {m2.shape}."
        )
    m1 = check_finite(m1, "m1")
    m2 = check_finite(m2, "m2")
    S1 = _check_cov(S1, "S1", definite=pd1)
    S2 = _check_cov(S2, "S2", definite=False)
    return m1, S1, m2, S2


class AffineMap(eqx.Module):
    """The affine map $x\\mapsto Ax+c$; `__call__` takes one sample `(d,)`."""

    matrix: Float[Array, "d d"]
    shift: Point

    def __check_init__(self):
        for name in ("matrix", "shift"):
            value = getattr(self, name)
            dtype = getattr(value, "dtype", None)
            if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
                raise TypeError(
                    f"`{name}` must be a real floating array; got {type(value).__name__}"
                    + (f" of dtype {dtype}" if dtype is not None else "")
                    + "."
                )
        d = self.shift.shape[0] if self.shift.ndim == 1 else None
        if self.shift.ndim != 1 or self.matrix.shape != (d, d):
            raise ValueError(
                "`matrix` must be square (d, d) and `shift` a vector (d,); got "
                f"`matrix` {self.matrix.shape} and `shift` {self.shift.shape}."
            )
        for name in ("matrix", "shift"):
            value = getattr(self, name)
            if is_concrete(value) and not bool(jnp.all(jnp.isfinite(value))):
                raise ValueError(f"`{name}` contains NaN or inf.")

    def __call__(self, x: Point) -> Point:
        x = jnp.asarray(x)
        if x.shape != self.shift.shape:
            raise ValueError(
                f"AffineMap takes one point `x` of shape {self.shift.shape}; got "
                f"{x.shape}. Use `jax.vmap` for a cloud."
            )
        return jnp.matmul(self.matrix, x, precision=HIGHEST) + self.shift


def gaussian_ot_map(
    m1: ArrayLike, S1: ArrayLike, m2: ArrayLike, S2: ArrayLike
) -> AffineMap:
    """Optimal transport map between two Gaussians (docs/theory/scores.md#gaussian-closed-forms).

    $T(x)=m_2+A(x-m_1)$ with
    $A=\\Sigma_1^{-1/2}(\\Sigma_1^{1/2}\\Sigma_2\\Sigma_1^{1/2})^{1/2}\\Sigma_1^{-1/2}$,
    the unique symmetric positive semi-definite $A$ with $A\\Sigma_1A=\\Sigma_2$.

    **Arguments:**

    - `m1`, `S1`: source mean `(d,)` and symmetric positive-definite covariance `(d, d)`.
    - `m2`, `S2`: target mean and symmetric positive semi-definite covariance.

    **Returns:** an [`AffineMap`][] with `matrix` $A$ and `shift` $m_2-Am_1$.

    **Raises:** `ValueError` on inconsistent shapes, NaN/inf, a non-symmetric
    covariance, a singular or indefinite `S1`, an indefinite `S2` (eagerly
    when concrete, through `eqx.error_if` under `jit`).
    """
    return jax.jit(bures_map)(*_check_gaussians(m1, S1, m2, S2, pd1=True))


def bures_map(m1, S1, m2, S2) -> AffineMap:
    """The Gaussian OT map on checked inputs, no checks (traceable).

    $A$ is invariant under a common scaling of the covariances: computed on
    $2^{-e}\\Sigma_i$ (see `bures_w2`), so tiny or huge ones do not flush or
    overflow $\\Sigma_1^{1/2}\\Sigma_2\\Sigma_1^{1/2}$.
    """
    e = _cov_exponent(S1, S2)
    S1, S2 = scale_by(S1, -e), scale_by(S2, -e)
    r1 = _sqrtm_psd(S1)
    ir1 = _inv_sqrtm_pd(S1)
    A = _mm(ir1, _sqrtm_psd(_mm(r1, S2, r1)), ir1)
    A = (A + A.T) / 2
    return AffineMap(A, m2 - jnp.matmul(A, m1, precision=HIGHEST))
