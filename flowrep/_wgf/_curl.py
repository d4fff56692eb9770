"""Is a flow a gradient flow? Curl fractions and Helmholtz fits of vector fields.

docs/theory/gradient-flows.md#curl-fraction. The optimal velocity between
two laws is a gradient, $v_t=\\nabla\\phi_t$ (Benamou & Brenier 2000).
"""

import math
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike

from .._custom_types import Key, Points
from .._depth._field import RidgeletField
from .._depth._vector_field import AbstractVectorField
from .._validate import (
    as_points,
    check_finite,
    check_key,
    check_positive_float,
    check_positive_int,
    check_value,
    is_concrete,
    is_traced,
)
from .._width._activations import activation_argument


def _check_time(t: Any, dtype: Any) -> Array:
    """A scalar, real, finite time: `TypeError`/`ValueError` naming `t` (NaN/inf
    eagerly when concrete, at run time under `jit`; see `_attach_time_check`)."""
    if isinstance(t, str) or (isinstance(t, bool)):
        raise TypeError(f"`t` must be a real number; got {t!r}.")
    try:
        arr = jnp.asarray(t)
    except TypeError as e:
        raise TypeError(f"`t` must be a real number; got {type(t).__name__}.") from e
    if not jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(
        arr.dtype, jnp.complexfloating
    ):
        raise TypeError(f"`t` must be a real number; got dtype {arr.dtype}.")
    if arr.ndim != 0:
        raise ValueError(f"`t` must be a scalar time; got shape {arr.shape}.")
    return check_finite(arr.astype(dtype), "t", "`t` must be finite (got NaN or inf).")


def _attach_time_check(out: Array, t: Array) -> Array:
    # A field that ignores `t` would let XLA drop the check on `t`: tie it to
    # the result as well.
    if is_traced(t):
        return eqx.error_if(
            out, ~jnp.isfinite(t), "`t` must be finite (got NaN or inf)."
        )
    return out


EXACT_MAX_DIM = 32


def _field_fn(field):
    if isinstance(field, AbstractVectorField):
        return field
    if not callable(field):
        raise TypeError(
            f"`field` must be a vector field v(t, x, args); got {type(field).__name__}."
        )
    return field


def curl_fraction(
    field: Any,
    x: Points | ArrayLike,
    *,
    t: float | ArrayLike = 0.0,
    args: Any = None,
    method: Literal["auto", "exact", "hutchinson"] = "auto",
    num_probes: int = 16,
    key: Key | None = None,
) -> Array:
    """The curl fraction $\\mathbb E_\\mu\\|\\frac12(Dv-Dv^\\top)\\|_F^2/\\mathbb E_\\mu\\|Dv\\|_F^2$ at samples `x` of $\\mu$.

    0 for a gradient field $v=\\nabla\\phi$ (symmetric Jacobian), 1 for a
    rotation $v=Ax$, $A^\\top=-A$, and $\\|\\frac12(M-M^\\top)\\|_F^2/\\|M\\|_F^2$
    for $v=Mx$ (docs/theory/gradient-flows.md#curl-fraction).

    **Arguments:**

    - `field`: an `AbstractVectorField` or a callable `f(t, x, args)` on one point.
    - `x`: `(n, d)` samples of $\\mu_t$.
    - `t`, `args`: where the field is evaluated.
    - `method`: `"exact"` (`jax.jacfwd` per point, cost $O(d)$ evaluations),
      `"hutchinson"` (Rademacher probes $\\varepsilon$: $\\mathbb E\\|J\\varepsilon\\|^2=\\|J\\|_F^2$ and
      $\\mathbb E\\|\\frac12(J-J^\\top)\\varepsilon\\|^2=\\|\\frac12(J-J^\\top)\\|_F^2$, one jvp and one
      vjp per probe; a ratio of unbiased estimates), or `"auto"` (exact for
      $d\\le32$).
    - `num_probes`, `key`: for Hutchinson.

    **Returns:** a scalar in $[0, 1]$.

    **Raises:** `ValueError` on bad points, an unknown method, a missing key,
    or a field with zero Jacobian on the samples (the fraction is undefined).
    """
    f = _field_fn(field)
    x = as_points(x, "x")
    d = x.shape[1]
    if method == "auto":
        method = "exact" if d <= EXACT_MAX_DIM else "hutchinson"
    if method not in ("exact", "hutchinson"):
        raise ValueError(
            f"Unknown method `method`={method!r}; expected 'auto', 'exact' or "
            "'hutchinson'."
        )

    t = _check_time(t, x.dtype)
    out = jax.eval_shape(lambda y: f(t, y, args), x[0])
    if getattr(out, "shape", None) != (d,):
        raise ValueError(
            f"`field` must map a point (d,) = ({d},) to a velocity ({d},); "
            f"got {getattr(out, 'shape', type(out).__name__)}."
        )

    def fn(y):
        return f(t, y, args)

    if method == "exact":

        def parts(y):
            jac = jax.jacfwd(fn)(y)
            skew = 0.5 * (jac - jac.T)
            return jnp.sum(skew**2), jnp.sum(jac**2)

        num, den = jax.vmap(parts)(x)
    else:
        if key is None:
            raise ValueError("method='hutchinson' needs a PRNG `key`.")
        num_probes = check_positive_int(num_probes, "num_probes")
        # probes in the velocity's dtype: vjp needs cotangents of its type
        # (a float64 field of float32 points under x64)
        eps = jr.rademacher(key, (num_probes,) + x.shape, dtype=out.dtype)

        def parts_probe(y, e):
            # tangents in the points' dtype, cotangents in the velocity's
            _, jv = jax.jvp(fn, (y,), (e.astype(y.dtype),))
            _, vjp = jax.vjp(fn, y)
            (jtv,) = vjp(e)
            return jnp.sum((0.5 * (jv - jtv)) ** 2), jnp.sum(jv**2)

        num, den = jax.vmap(jax.vmap(parts_probe))(jnp.broadcast_to(x, eps.shape), eps)
    num, den = jnp.mean(num), jnp.mean(den)
    den = eqx.error_if(
        den,
        ~(den > 0),
        "curl_fraction: the field's Jacobian is zero (or NaN) on the samples; the fraction is undefined.",
    )
    frac = num / den
    if is_traced(x):
        # the NaN check on `x` is dead code for a field whose Jacobian does
        # not depend on x (a linear field): tie it to the result
        frac = eqx.error_if(
            frac, ~jnp.all(jnp.isfinite(x)), "`x` contains NaN or inf values."
        )
    return _attach_time_check(frac, t)


# ---------------------------------------------------------------- potentials


def _log_cosh(z):
    z = jnp.abs(z)
    return z + jnp.log1p(jnp.exp(-2 * z)) - math.log(2.0)


_ANTIDERIVATIVES = {
    "tanh": _log_cosh,
    "sigmoid": jax.nn.softplus,
    "relu": lambda z: 0.5 * jnp.maximum(z, 0) ** 2,
    "identity": lambda z: 0.5 * z**2,
    "step": lambda z: jnp.maximum(z, 0),
    "gaussian": lambda z: (
        math.sqrt(math.pi / 2) * jax.scipy.special.erf(z / math.sqrt(2))
    ),
    "sigmoid_derivative": jax.nn.sigmoid,
}


# Quadrature of a profile flowrep has no closed form for: QUAD_PANELS panels
# of 64 Gauss-Legendre nodes on [0, z]. For a profile varying on the unit
# scale (cos z included) the rule is accurate to ~1e-12 while each panel is
# at most ~32 long, so |z| <= QUAD_MAX; beyond it the antiderivative refuses
# (a run-time error under jit) instead of returning a wrong number.
QUAD_PANELS = 16
QUAD_MAX = 512.0
# The resolution probe: the rule against one with QUAD_REFINE times as many
# panels at +-QUAD_PROBES (z spread over [-QUAD_MAX, QUAD_MAX]; panels grow
# with |z|, so the largest probes are the hardest). They must agree to
# QUAD_TOL_EPS float epsilons of int_0^z |sigma|.
QUAD_REFINE = 8
QUAD_PROBES = (0.75, 3.1, 12.7, 50.3, 131.0, 257.9, 389.3, QUAD_MAX)
QUAD_TOL_EPS = 1e3


def _panel_rule(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets in [0, 1] and weights of `panels` panels of 64 Gauss-Legendre nodes."""
    nodes, weights = np.polynomial.legendre.leggauss(64)
    # panel k covers [k z / P, (k + 1) z / P]: nodes (k + (node + 1) / 2) / P
    offsets = (np.arange(panels)[:, None] + 0.5 * (nodes + 1)) / panels
    return offsets.ravel(), np.tile(weights, panels) / panels


def _check_resolved(sigma, offsets, weights):
    """Refuse a profile the rule under-resolves: a `ValueError` when concrete,
    otherwise an `eqx.error_if` on the returned weights (a traced profile)."""
    dtype = jnp.result_type(float)
    zp = jnp.asarray(QUAD_PROBES, dtype)
    zp = jnp.concatenate([-zp, zp])
    fine_o, fine_w = _panel_rule(QUAD_PANELS * QUAD_REFINE)

    def rule(offs, ws):
        vals = jnp.asarray(sigma(zp[:, None] * jnp.asarray(offs, dtype)))  # pyright: ignore[reportCallIssue]
        if vals.shape != (zp.shape[0], offs.shape[0]):
            raise ValueError(
                "antiderivative: `sigma` must act elementwise (one value per "
                f"argument); on an array of shape {(zp.shape[0], offs.shape[0])} it "
                f"returned shape {vals.shape}."
            )
        vals = vals.astype(dtype)
        w = jnp.asarray(ws, dtype)
        return 0.5 * zp * jnp.sum(w * vals, -1), 0.5 * jnp.abs(zp) * jnp.sum(
            w * jnp.abs(vals), -1
        )

    with jax.ensure_compile_time_eval():  # once, at trace time, for a plain profile
        coarse, _ = rule(offsets, weights)
        fine, l1 = rule(fine_o, fine_w)
    tol = QUAD_TOL_EPS * float(jnp.finfo(dtype).eps)
    return check_value(
        jnp.asarray(weights, dtype),
        lambda w, c, f, a: ~jnp.all(jnp.abs(c - f) <= tol * a),
        "antiderivative: this profile `sigma` (no closed form) is not resolved by "
        f"the quadrature ({QUAD_PANELS} panels of 64 Gauss-Legendre nodes on "
        f"[0, z], |z| <= {QUAD_MAX:g}): it disagrees with a {QUAD_REFINE}x finer "
        "rule (it oscillates or varies faster than the rule resolves, or is "
        "NaN/inf somewhere). Pass a profile with a closed-form antiderivative by "
        "name, rescale it to vary on the unit scale, or integrate it yourself.",
        coarse,
        fine,
        l1,
    )


def antiderivative(sigma) -> Any:
    """$\\tilde\\sigma$ with $\\tilde\\sigma'=\\sigma$ (closed form for flowrep's named
    activations, given as an instance or by name; otherwise composite
    Gauss-Legendre quadrature of $\\int_0^z\\sigma$: 16 panels of 64 nodes,
    accurate to ~1e-12 for profiles that vary on the unit scale, for
    $|z|\\le512$).

    A profile without a closed form is first checked to be resolved: at 16
    probes $z$ spread over $[-512, 512]$ the rule must agree with one on 8
    times as many panels to $10^3$ float epsilons of $\\int_0^z|\\sigma|$
    (docs/reliability.md). This catches fast oscillations (`sin(50 z)`) and
    kinks or bumps the rule misses at those probes; a feature narrower than
    the finer rule's node spacing (~0.03 at $|z|=512$) can still escape it.

    **Raises:** `TypeError` when `sigma` is neither callable nor a name;
    `ValueError` for an unknown name, or for a profile the quadrature does not
    resolve (or that is NaN/inf or not elementwise at the probes; at run time
    under `jit` when the profile carries traced arrays). The quadrature's
    function raises a `ValueError` (eagerly; at run time under `jit`) for
    $|z|>512$ or a non-finite $z$, where it would not be accurate.
    """
    if isinstance(sigma, str):
        # ValueError naming the known names and the argument `sigma`
        sigma = activation_argument(sigma, "sigma")
    if not callable(sigma):
        raise TypeError(
            f"`sigma` must be an activation (callable elementwise) or its name; got "
            f"{type(sigma).__name__}."
        )
    name = getattr(sigma, "name", None)
    if name in _ANTIDERIVATIVES:
        return _ANTIDERIVATIVES[name]
    offsets, weights_np = _panel_rule(QUAD_PANELS)
    weights = _check_resolved(sigma, offsets, weights_np)

    def quad(z):
        z = check_value(
            jnp.asarray(z),
            lambda z: ~(jnp.abs(z) <= QUAD_MAX),
            f"antiderivative: no closed form for this profile, and its quadrature "
            f"is accurate only for a finite `z` with |z| <= {QUAD_MAX:g}; got a "
            "larger or non-finite `z`.",
        )
        u = z[..., None] * jnp.asarray(offsets, z.dtype)
        vals = jnp.asarray(sigma(u))  # pyright: ignore[reportCallIssue]
        return 0.5 * z * jnp.sum(weights.astype(z.dtype) * vals, axis=-1)

    return quad


def ridgelet_potential(field: RidgeletField, t: ArrayLike, x: Points | Array) -> Array:
    """$\\phi_t(x)=\\sum_js_j(t)\\tilde\\sigma(a_j(t)\\cdot x-b_j(t))$ of a gradient field from `RidgeletField.gradient_of`.

    $s_j=c_j\\cdot a_j/\\|a_j\\|^2$ is read back from the field. **Arguments:**
    `field`, a time `t`, points `x` `(n, d)` or `(d,)`. **Returns:** `(n,)`
    or a scalar. **Raises:** `ValueError` when the field's $c_j$ are not
    parallel to its $a_j$ (it is not a `gradient_of` field), checked when concrete.
    """
    if not isinstance(field, RidgeletField):
        raise TypeError(f"`field` must be a RidgeletField; got {type(field).__name__}.")
    d = field.a.shape[-1]
    if isinstance(x, str):
        raise TypeError("`x` must be points (n, d) or one point (d,); got str.")
    x_arr = jnp.asarray(x)
    if x_arr.ndim not in (1, 2):
        raise ValueError(f"`x` must have shape (n, d) or (d,); got {x_arr.shape}.")
    x = as_points(
        x_arr.reshape(-1, x_arr.shape[-1]) if x_arr.ndim == 1 else x_arr,
        "x",
        dim=d,
        dim_of="the field acts on R^d",
    )
    x = x[0] if x_arr.ndim == 1 else x
    t = _check_time(t, x.dtype)
    a, b, c = field.units_at(t)
    s = jnp.sum(c * a, axis=-1) / jnp.sum(a * a, axis=-1)
    resid = c - s[:, None] * a
    if is_concrete(resid, c) and float(jnp.max(jnp.abs(resid))) > 1e-6 * (
        1 + float(jnp.max(jnp.abs(c)))
    ):
        raise ValueError(
            "ridgelet_potential: the field is not a gradient field (c_j is not s_j a_j); "
            "build it with RidgeletField.gradient_of."
        )
    anti = antiderivative(field.sigma)
    return _attach_time_check(anti(x @ a.T - b) @ s, t)


class HelmholtzFit(eqx.Module):
    """What `non_gradient_fraction` returns.

    **Fields:** `fraction` $\\|v-\\nabla\\phi\\|^2_{L^2(\\mu)}/\\|v\\|^2_{L^2(\\mu)}$ on the
    samples, `field` the fitted gradient field $\\nabla\\phi$ (a `RidgeletField`
    from `gradient_of`; `ridgelet_potential` gives $\\phi$).
    """

    fraction: Array
    field: RidgeletField


def non_gradient_fraction(
    field: Any,
    x: Points | ArrayLike,
    *,
    t: float | ArrayLike = 0.0,
    args: Any = None,
    num_units: int = 256,
    sigma: str = "tanh",
    scale: float = 0.5,
    ridge: float = 1e-8,
    key: Key,
) -> HelmholtzFit:
    """The Helmholtz fit $v\\approx\\nabla\\phi$ with $\\phi$ an integral network, and the non-gradient fraction.

    $\\phi(x)=\\sum_js_j\\tilde\\sigma(a_j\\cdot x-b_j)$ with random fixed units
    ($a_j\\sim N(0,\\mathrm{scale}^2/\\hat s^2 I)$, $\\hat s$ the cloud's spread, and
    $b_j=a_j\\cdot x_{k_j}$ at random samples) so $\\nabla\\phi=\\sum_js_j\\sigma(a_j\\cdot x-b_j)a_j$
    is linear in $s$: the least-squares fit on the samples is one ridge-regularised
    solve. The fraction $\\|v-\\nabla\\phi\\|^2/\\|v\\|^2$ (in $L^2$ of the empirical law) is
    0 for a gradient field the units can represent and near 1 for a field
    $L^2(\\mu)$-orthogonal to gradients (a rotation under a rotation-invariant
    $\\mu$); with $J$ units and $nd$ equations it is biased low by about $J/(nd)$
    (docs/theory/gradient-flows.md#curl-fraction).

    **Arguments:** `field` (a field or `f(t, x, args)`), samples `x` `(n, d)`,
    `t`, `args`, `num_units` $J$, `sigma`, `scale`, `ridge` (relative Tikhonov
    weight), `key`.

    **Returns:** a `HelmholtzFit`.

    **Raises:** `ValueError` on bad points or a field that vanishes on the samples.
    """
    f = _field_fn(field)
    x = as_points(x, "x", min_samples=2)
    n, d = x.shape
    num_units = check_positive_int(num_units, "num_units")
    scale = check_positive_float(scale, "scale")
    if (
        isinstance(ridge, bool)
        or not isinstance(ridge, (int, float))
        or not (math.isfinite(ridge) and ridge >= 0)
    ):
        raise ValueError(f"`ridge` must be a finite number >= 0; got {ridge!r}.")
    key = check_key(key)
    activation_argument(sigma, "sigma")
    v = jnp.asarray(jax.vmap(lambda y: f(t, y, args))(x))
    ka, kb = jr.split(key)
    spread = jnp.sqrt(jnp.mean(jnp.var(x, axis=0)))
    a = jr.normal(ka, (num_units, d), x.dtype) * (scale / spread)
    idx = jr.randint(kb, (num_units,), 0, n)
    b = jnp.sum(a * x[idx], axis=-1)
    tmp = RidgeletField.gradient_of(
        a, b, jnp.zeros((num_units,), x.dtype), sigma=sigma, basis="constant"
    )
    act = tmp.sigma(x @ a.T - b)  # (n, J)
    design = (act[:, :, None] * a[None]).transpose(0, 2, 1).reshape(n * d, num_units)
    # Ridge least squares through the SVD of the design, not its Gram matrix:
    # the Gram squares the condition number, which float32 cannot hold
    # (the normal equations gave fractions > 1 in the float32 demo).
    u, sv, vt = jnp.linalg.svd(design, full_matrices=False)
    lam = ridge * jnp.sum(sv**2) / num_units
    cut = sv > jnp.finfo(x.dtype).eps * max(design.shape) * sv[0]
    filt = jnp.where(cut, sv / (sv**2 + lam), 0.0)
    s = vt.T @ (filt * (u.T @ v.reshape(-1)))
    resid = v.reshape(-1) - design @ s
    total = jnp.sum(v**2)
    total = eqx.error_if(
        total,
        ~(total > 0),
        "non_gradient_fraction: the field vanishes (or is NaN) on the samples.",
    )
    fit = RidgeletField.gradient_of(a, b, s, sigma=sigma, basis="constant")
    return HelmholtzFit(fraction=jnp.sum(resid**2) / total, field=fit)
