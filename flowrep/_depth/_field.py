"""`RidgeletField`: a time-dependent finite integral representation (the double continuum).

$v_t(x)=S[\\gamma_t](x)=\\sum_jc_j(t)\\,\\sigma(a_j(t)\\cdot x-b_j(t))$, $c_j(t)\\in\\mathbb R^m$
(docs/theory/flows.md#double-continuum; Sonoda & Murata, JMLR 2019). The units depend on time
through a basis over $[t_0,t_1]$: each parameter is
$p(t)=\\sum_k\\phi_k(t)\\,p_k$ with $\\phi_k$ piecewise-linear hats on knots,
piecewise constants on knots, Chebyshev polynomials, or a single constant.

Precision (see `flowrep/_width/_precision.py`): the pre-activations
$a_j\\cdot x-b_j$ (a small inner dimension $m$; they feed the activation,
often an exponential) are computed at `Precision.HIGHEST`; the output layer
$\\sigma(\\cdot)\\,c$ follows `jax.default_matmul_precision`.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike

from .._custom_types import Key, Point, Points, UnitBiases, UnitScales
from .._validate import (
    check_finite,
    check_memory,
    check_positive_int,
    is_concrete,
)
from .._width._activations import (
    AbstractActivation,
    activation_argument,
)
from .._width._precision import exact_matmul
from ._vector_field import AbstractUnitField


Basis = Literal["linear", "piecewise_constant", "chebyshev", "constant"]
_BASES = ("linear", "piecewise_constant", "chebyshev", "constant")


def _basis_weights(
    basis: str, knots: tuple[float, ...], t0: float, t1: float, t: ArrayLike
) -> Array:
    """$\\phi_k(t)$ for k = 0..K-1 (a `(K,)` array); t is clamped to the basis' range."""
    t = jnp.asarray(t)
    dtype = jnp.result_type(t, float)
    t = t.astype(dtype)
    num = len(knots)
    if basis == "constant" or num == 1:
        return jnp.ones((1,), dtype)
    if basis == "chebyshev":
        s = jnp.clip(2 * (t - t0) / (t1 - t0) - 1, -1.0, 1.0)
        values = [jnp.ones_like(s), s]
        for _ in range(2, num):
            values.append(2 * s * values[-1] - values[-2])
        return jnp.stack(values[:num])
    kn = jnp.asarray(knots, dtype)
    lo, hi = min(knots[0], knots[-1]), max(knots[0], knots[-1])
    t = jnp.clip(t, lo, hi)
    if basis == "piecewise_constant":
        # Piece k is [knot_k, knot_{k+1}); the last knot belongs to the last piece.
        idx = jnp.clip(jnp.searchsorted(kn, t, side="right") - 1, 0, num - 1)
        return jax.nn.one_hot(idx, num, dtype=dtype)
    idx = jnp.clip(jnp.searchsorted(kn, t, side="right") - 1, 0, num - 2)
    left, right = kn[idx], kn[idx + 1]
    frac = jnp.clip((t - left) / (right - left), 0.0, 1.0)
    return (1 - frac) * jax.nn.one_hot(idx, num, dtype=dtype) + frac * jax.nn.one_hot(
        idx + 1, num, dtype=dtype
    )


def _check_knots(
    knots: Sequence[float] | ArrayLike, basis: str, name: str = "knots"
) -> tuple[float, ...]:
    try:
        arr = np.asarray(knots, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a sequence of real times; got {knots!r}."
        ) from None
    knots = tuple(float(k) for k in arr)
    if len(knots) == 0:
        raise ValueError(f"Need at least one time knot (`{name}`).")
    if not all(math.isfinite(k) for k in knots):
        raise ValueError(f"Time knots must be finite (`{name}`); got {knots}.")
    if basis in ("linear", "piecewise_constant") and len(knots) > 1:
        if any(k2 <= k1 for k1, k2 in zip(knots[:-1], knots[1:])):
            raise ValueError(
                f"Time knots must be strictly increasing for basis={basis!r} "
                f"(`{name}`); got {knots}."
            )
    return knots


class RidgeletField(AbstractUnitField):
    """A time-dependent vector field $v_t(x)=\\sum_jc_j(t)\\sigma(a_j(t)\\cdot x-b_j(t))$.

    The double continuum limit of a ResNet (docs/theory/flows.md#double-continuum): each layer's
    field is a finite integral representation $S[\\gamma_t]$ with
    $\\gamma_t=\\sum_jc_j(t)\\delta_{(a_j(t),b_j(t))}$, and depth is time. It
    follows the diffrax convention `field(t, x, args) -> dx` for one unbatched
    point, so it drops into `diffrax.ODETerm`; `flowrep.flow` evaluates it on a
    whole batch at once through `batch_call`.

    Parameters are stored per basis function: `a` is `(K, J, d)` (or `(J, d)`
    when the units are fixed in time), `b` is `(K, J)` (or `(J,)`), `c` is
    `(K, J, d)`, and a parameter at time t is $\\sum_k\\phi_k(t)p_k$. Time is
    clamped to the basis' range $[t_0,t_1]$.

    Build one with `RidgeletField.random`, `RidgeletField.from_field` (by the
    ridgelet transform of a known field) or `RidgeletField.from_units` (from
    per-time hidden units, e.g. the blocks of a ResNet).
    """

    a: Array
    b: Array
    c: Array
    sigma: AbstractActivation
    basis: str = eqx.field(static=True)
    knots: tuple[float, ...] = eqx.field(static=True)
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    num_units: int = eqx.field(static=True)
    fixed_units: bool = eqx.field(static=True)

    def __init__(
        self,
        a: ArrayLike,
        b: ArrayLike,
        c: ArrayLike,
        *,
        sigma: "str | AbstractActivation" = "tanh",
        basis: Basis = "linear",
        knots: Sequence[float] | None = None,
        t0: float | None = None,
        t1: float | None = None,
    ):
        """**Arguments:**

        - `a`: `(K, J, d)` scales per basis function, or `(J, d)` fixed in time.
        - `b`: `(K, J)` biases, or `(J,)` fixed in time (must match `a`).
        - `c`: `(K, J, d)` output vectors per basis function.
        - `sigma`: the activation (a name or an `AbstractActivation`).
        - `basis`: `"linear"` (hats on `knots`), `"piecewise_constant"` (value k
            on `[knots[k], knots[k+1])`), `"chebyshev"` ($T_k$ on $[t_0,t_1]$)
            or `"constant"` (K = 1).
        - `knots`: K time knots for the knot bases (default: uniform on
            $[t_0,t_1]$); ignored by `"chebyshev"` and `"constant"`.
        - `t0`, `t1`: the time interval. Defaults: the first and last knot
            when `knots` are given, else 0 and 1. For the knot bases time is
            clamped to the knots, so `t1` past the last knot holds the last
            value (a piecewise-constant field's last piece ends at `t1`).

        **Raises:** `ValueError` on inconsistent shapes, an unknown basis or
        bad knots.
        """
        if basis not in _BASES:
            raise ValueError(f"Unknown basis {basis!r}; expected one of {_BASES}.")
        for name, v in (("a", a), ("b", b), ("c", c)):
            if isinstance(v, (str, bytes)) or v is None:
                raise TypeError(f"`{name}` must be a numeric array; got {v!r}.")
        a, b, c = jnp.asarray(a), jnp.asarray(b), jnp.asarray(c)
        a, b, c = check_finite(a, "a"), check_finite(b, "b"), check_finite(c, "c")
        if c.ndim != 3:
            raise ValueError(f"`c` must have shape [K, J, m]; got {c.shape}.")
        num_basis, num_units, dim = c.shape
        if num_units == 0 or dim == 0:
            raise ValueError(
                f"Need J >= 1 units and dimension m >= 1; got c {c.shape}."
            )
        if a.ndim == 2:
            fixed = True
            if a.shape != (num_units, dim) or b.shape != (num_units,):
                raise ValueError(
                    f"Fixed units need a [J, m]=({num_units}, {dim}) and b [J]=({num_units},); "
                    f"got a {a.shape}, b {b.shape}."
                )
        elif a.ndim == 3:
            fixed = False
            if a.shape != (num_basis, num_units, dim) or b.shape != (
                num_basis,
                num_units,
            ):
                raise ValueError(
                    f"Time-varying units need a [K, J, m]=({num_basis}, {num_units}, {dim}) "
                    f"and b [K, J]=({num_basis}, {num_units}); got a {a.shape}, b {b.shape}."
                )
        else:
            raise ValueError(f"`a` must have shape [J, m] or [K, J, m]; got {a.shape}.")
        if basis == "constant" and num_basis != 1:
            raise ValueError(f"basis='constant' needs K = 1; got K = {num_basis}.")
        if basis in ("linear", "piecewise_constant") and knots is not None:
            knots = _check_knots(knots, basis)
            if len(knots) != num_basis:
                raise ValueError(
                    f"basis={basis!r} needs one knot per basis function: K={num_basis}, "
                    f"got {len(knots)} knots."
                )
            t0 = knots[0] if t0 is None else t0
            t1 = (knots[-1] if num_basis > 1 else knots[0] + 1.0) if t1 is None else t1
        t0 = 0.0 if t0 is None else float(t0)
        t1 = 1.0 if t1 is None else float(t1)
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise ValueError(f"`t0` and `t1` must be finite; got t0={t0}, t1={t1}.")
        if not t0 < t1:
            raise ValueError(f"Need t0 < t1; got t0={t0}, t1={t1}.")
        if knots is not None and basis in ("linear", "piecewise_constant"):
            knot_list = [float(k) for k in knots]
        else:
            knot_list = np.linspace(t0, t1, num_basis).tolist()
        self.a, self.b, self.c = a, b, c
        self.sigma = activation_argument(sigma, "sigma")
        self.basis = basis
        self.knots = tuple(knot_list)
        self.t0, self.t1 = float(t0), float(t1)
        self.dim, self.num_units = dim, num_units
        self.fixed_units = fixed

    @property
    def num_basis(self) -> int:
        """K, the number of time basis functions."""
        return self.c.shape[0]

    @property
    def step_ts(self) -> tuple[float, ...]:
        """Times where $v_t$ is continuous but not smooth in t: the knots of the
        `"linear"` basis (t is clamped outside them). `flowrep.flow` makes
        adaptive steps land on them instead of rejecting steps across the kinks."""
        return self.knots if self.basis == "linear" and self.num_basis > 1 else ()

    @property
    def jump_ts(self) -> tuple[float, ...]:
        """Times where $v_t$ jumps: the knots `knots[1:]` of the
        `"piecewise_constant"` basis. `flowrep.flow` tells adaptive solvers
        about them (diffrax's `jump_ts`)."""
        if self.basis == "piecewise_constant" and self.num_basis > 1:
            return self.knots[1:]
        return ()

    def basis_weights(self, t: ArrayLike) -> Array:
        """$\\phi_k(t)$, `(K,)`."""
        return _basis_weights(self.basis, self.knots, self.t0, self.t1, t)

    def units_at(self, t: ArrayLike) -> tuple[UnitScales, UnitBiases, Points]:
        """The hidden units at time t: `(a [J, m], b [J], c [J, m])`."""
        phi = self.basis_weights(t).astype(self.c.dtype)
        c = jnp.tensordot(phi, self.c, axes=1)
        if self.fixed_units:
            return self.a, self.b, c
        return jnp.tensordot(phi, self.a, axes=1), jnp.tensordot(phi, self.b, axes=1), c

    def __call__(self, t: ArrayLike, x: Point, args: Any = None) -> Point:
        """$v_t(x)$ for one point `x` `(d,)`; `args` is ignored (diffrax convention)."""
        del args
        x = jnp.asarray(x)
        if x.shape != (self.dim,):
            raise ValueError(
                f"`x` must be one point of shape ({self.dim},) (the field acts on "
                f"R^{self.dim}); got shape {x.shape}. Use `batch_call` or `jax.vmap` "
                "for many points."
            )
        if is_concrete(t) and not bool(np.all(np.isfinite(np.asarray(t)))):
            raise ValueError(f"`t` must be finite; got {t}.")
        a, b, c = self.units_at(t)
        return self.sigma(exact_matmul(a, x) - b) @ c

    def batch_call(self, t: ArrayLike, xs: Points, args: Any = None) -> Points:
        """$v_t$ on a batch `xs` `(n, d)`: two matmuls, `[n, m] x [m, J]` and `[n, J] x [J, m]`."""
        del args
        a, b, c = self.units_at(t)
        return self.sigma(exact_matmul(xs, a.T) - b) @ c

    def batch_divergence(
        self, t: ArrayLike, xs: Points, args: Any = None
    ) -> tuple[Points, Array]:
        """$v_t(x_i)$ and $\\nabla\\cdot v_t(x_i)=\\sum_j\\sigma'(a_j\\cdot x_i-b_j)\\,c_j\\cdot a_j$.

        **Returns:** `(v [n, m], div [n])`, fused: no per-point Jacobian.
        """
        del args
        a, b, c = self.units_at(t)
        z = exact_matmul(xs, a.T) - b
        s, ds = jax.jvp(self.sigma, (z,), (jnp.ones_like(z),))
        return s @ c, ds @ jnp.sum(a * c, axis=-1)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def random(
        cls,
        key: Key,
        dim: int,
        num_units: int,
        *,
        sigma: "str | AbstractActivation" = "tanh",
        basis: Basis = "linear",
        num_knots: int = 4,
        t0: float = 0.0,
        t1: float = 1.0,
        fixed_units: bool = False,
        scale: float = 1.0,
        output_scale: float = 1.0,
        dtype: Any = None,
    ) -> "RidgeletField":
        """A random field: $a\\sim N(0,\\mathrm{scale}^2/m)$, $b\\sim N(0,1)$, $c\\sim N(0,\\mathrm{output\\_scale}^2/J)$.

        **Arguments:**

        - `key`: a PRNG key.
        - `dim`: m; `num_units`: J.
        - `sigma`, `basis`, `t0`, `t1`: as in `__init__`.
        - `num_knots`: K, the number of basis functions (forced to 1 for
            `basis="constant"`).
        - `fixed_units`: keep $a_j, b_j$ fixed in time (only $c_j$ moves).
        - `scale`, `output_scale`: the spread of $a$ and of $c$.
        - `dtype`: floating dtype (default: JAX's default float).

        **Returns:** a `RidgeletField`.
        """
        # named checks: `dim=2.5` failed deep in jax.random with a shape error
        dim = check_positive_int(dim, "dim")
        num_units = check_positive_int(num_units, "num_units")
        num = 1 if basis == "constant" else check_positive_int(num_knots, "num_knots")
        try:
            dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        except TypeError:
            raise TypeError(
                f"`dtype` must be a floating dtype; got {dtype!r}."
            ) from None
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype; got {dtype!r}.")
        for name, value in (("scale", scale), ("output_scale", output_scale)):
            # a spread: any finite real (its sign does not change N(0, s^2))
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                raise TypeError(f"`{name}` must be a real number; got {value!r}.")
            if not np.isfinite(value):
                raise ValueError(f"`{name}` must be finite; got {value}.")
        check_memory(
            jnp.dtype(dtype).itemsize * num * num_units * (2 * dim + 1),
            f"RidgeletField.random(`num_units`={num_units}, `num_knots`={num})",
        )
        ka, kb, kc = jr.split(key, 3)
        lead = () if fixed_units else (num,)
        a = jr.normal(ka, lead + (num_units, dim), dtype) * (scale / math.sqrt(dim))
        b = jr.normal(kb, lead + (num_units,), dtype)
        c = jr.normal(kc, (num, num_units, dim), dtype) * (
            output_scale / math.sqrt(num_units)
        )
        return cls(a, b, c, sigma=sigma, basis=basis, t0=t0, t1=t1)

    @classmethod
    def from_units(
        cls,
        a_list: "Sequence[ArrayLike] | Array",
        b_list: "Sequence[ArrayLike] | Array",
        c_list: "Sequence[ArrayLike] | Array",
        ts: Sequence[float] | ArrayLike,
        *,
        sigma: "str | AbstractActivation" = "tanh",
        basis: Literal["linear", "piecewise_constant"] = "linear",
    ) -> "RidgeletField":
        """A field from hidden units given at times `ts` (e.g. a ResNet's blocks).

        Unit k, `(a_list[k] [J, m], b_list[k] [J], c_list[k] [J, m])`, is the
        field at `ts[k]`. With `basis="linear"` the *parameters* are
        interpolated linearly between knots; with `"piecewise_constant"` unit k
        holds on `[ts[k], ts[k+1])`, so the Euler broken line with steps at
        `ts` reproduces a ResNet $x_{l+1}=x_l+h_l\\sum_jc_{lj}\\sigma(a_{lj}\\cdot x_l-b_{lj})$
        exactly. `ts` has K entries, or K + 1 where the extra last one sets
        $t_1$ (the end of the last block's interval).

        **Raises:** `ValueError` on mismatched lengths or shapes.
        """
        for name, units in (("a_list", a_list), ("b_list", b_list), ("c_list", c_list)):
            if isinstance(units, (str, bytes)) or len(units) == 0:
                raise ValueError(
                    f"`{name}` must be a non-empty sequence of per-time unit arrays; "
                    f"got {units!r}."
                )
        a = jnp.stack([jnp.asarray(x) for x in a_list])
        b = jnp.stack([jnp.asarray(x) for x in b_list])
        c = jnp.stack([jnp.asarray(x) for x in c_list])
        ts = np.asarray(_check_knots(ts, basis, "ts"))
        num = c.shape[0]
        if not a.shape[0] == b.shape[0] == num:
            raise ValueError(
                f"a_list, b_list, c_list must have the same length; got {a.shape[0]}, {b.shape[0]}, {num}."
            )
        t1 = None
        if len(ts) == num + 1:
            t1 = float(ts[-1])
            _check_knots(ts, basis, "ts")
            ts = ts[:-1]
        if len(ts) != num:
            raise ValueError(
                f"Need one time per unit set (`ts`): {num} sets of units but {len(ts)} times."
            )
        return cls(a, b, c, sigma=sigma, basis=basis, knots=tuple(ts.tolist()), t1=t1)

    @classmethod
    def from_field(
        cls,
        v: Callable[[Any, Array, Any], Array],
        rho: Callable[[Array], Array],
        a: UnitScales,
        b: UnitBiases,
        x: Points,
        w: ArrayLike,
        t_knots: Sequence[float] | ArrayLike,
        *,
        sigma: "str | AbstractActivation",
        unit_weights: ArrayLike,
        pairing: complex | float | None = None,
        basis: Literal["linear", "piecewise_constant"] = "linear",
        s: float = 0.0,
        chunk_size: int | None = None,
    ) -> "RidgeletField":
        """A field from a known one by the ridgelet transform at time knots.

        $\\gamma_{t_k}=R[v_{t_k};\\rho]/\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$
        (docs/theory/ridgelets.md#admissibility and docs/theory/flows.md#double-continuum, Ghosts Thm 6), discretised on the fixed nodes
        $(a_j,b_j)$ with weights $w^{ab}_j$, so $c_j(t_k)=w^{ab}_j\\gamma_{t_k}(a_j,b_j)$
        and $S[\\gamma_t](x)\\approx\\sum_jc_j(t)\\sigma(a_j\\cdot x-b_j)$. Between
        knots $c_j(t)$ is interpolated (`basis`).

        **Arguments:**

        - `v`: the known field `v(t, x, args) -> [m]` (diffrax convention;
            called with `args=None`).
        - `rho`: the ridgelet profile (elementwise; e.g. $G^{(k)}$).
        - `a`: `(J, d)`, `b`: `(J,)`: the nodes in parameter space.
        - `x`: `(n, d)` points and `w`: `(n,)` their quadrature weights for $R$.
        - `t_knots`: the times at which $v$ is transformed.
        - `sigma`: the activation of the field.
        - `unit_weights`: `(J,)` quadrature/importance weights of the nodes
            $(a_j,b_j)$ for $S$ (cell volumes on a grid, $1/(Jp(a_j,b_j))$
            for Monte Carlo).
        - `pairing`: $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$; computed by
            `flowrep.admissibility(sigma, rho, m)` when `None`.
        - `s`, `chunk_size`: passed to `flowrep.ridgelet_transform`.

        **Returns:** a `RidgeletField` with fixed units.

        **Raises:** `ValueError` on shape mismatches or a zero/non-finite
        pairing (a ghost: $S[R[f]]=0$).
        """
        from .._width._transform import ridgelet_transform

        sigma = activation_argument(sigma, "sigma")
        a, b, x = jnp.asarray(a), jnp.asarray(b), jnp.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"`x` must have shape [n, m]; got {x.shape}.")
        dim = x.shape[1]
        if a.ndim != 2 or a.shape[1] != dim:
            raise ValueError(f"`a` must have shape [J, {dim}]; got {a.shape}.")
        unit_weights = jnp.asarray(unit_weights)
        if unit_weights.shape != (a.shape[0],):
            raise ValueError(
                f"`unit_weights` must have shape [J]=({a.shape[0]},); got {unit_weights.shape}."
            )
        if pairing is None:
            from .._width._admissibility import admissibility  # pyright: ignore

            p = admissibility(sigma, rho, dim)
            pairing = getattr(p, "value", p)
        pairing = complex(pairing)  # pyright: ignore
        if pairing == 0 or not math.isfinite(abs(pairing)):
            raise ValueError(
                f"The pair (sigma={sigma.name}, rho) is not admissible in dimension {dim}: "
                f"<<sigma, rho>> = {pairing}. Need a finite, non-zero pairing."
            )
        pairing = pairing.real if pairing.imag == 0 else pairing
        t_knots = _check_knots(t_knots, basis, "t_knots")
        num = len(t_knots)
        # v at every knot, stacked as one vector-valued function: R is linear.
        values = jnp.concatenate(
            [jax.vmap(lambda xi, tk=tk: v(tk, xi, None))(x) for tk in t_knots], axis=1
        )
        if values.shape != (x.shape[0], num * dim):
            raise ValueError(
                f"`v(t, x, args)` must return a vector of the point's dimension m={dim}."
            )
        gamma = ridgelet_transform(
            values,
            rho,
            a,
            b,
            x,
            jnp.asarray(w),
            s=s,
            chunk_size=chunk_size,  # None: the backend's default
        )
        gamma = gamma.reshape(a.shape[0], num, dim).transpose(1, 0, 2) / pairing
        if jnp.iscomplexobj(gamma):
            gamma = gamma.real
        c = unit_weights[None, :, None] * gamma
        if s != 0:
            c = c / (jnp.linalg.norm(a, axis=-1) ** s)[None, :, None]
        return cls(a, b, c, sigma=sigma, basis=basis, knots=t_knots)

    @classmethod
    def gradient_of(
        cls,
        a: ArrayLike,
        b: ArrayLike,
        s: ArrayLike,
        *,
        sigma: "str | AbstractActivation" = "tanh",
        basis: Basis = "linear",
        knots: Sequence[float] | None = None,
        t0: float | None = None,
        t1: float | None = None,
    ) -> "RidgeletField":
        """A gradient field: $c_j(t)=s_j(t)\\,a_j(t)$, so $v_t=\\nabla_x\\sum_js_j(t)\\tilde\\sigma(a_j(t)\\cdot x-b_j(t))$ with $\\tilde\\sigma'=\\sigma$.

        The optimal (Benamou-Brenier) velocities are gradients
        (docs/theory/gradient-flows.md#curl-fraction); this parameterises them
        exactly. `flowrep.ridgelet_potential` evaluates the potential.

        **Arguments:**

        - `a`: `(J, d)` fixed or `(K, J, d)` time-varying scales (the latter
            with the `"piecewise_constant"` or `"constant"` basis only: linear
            interpolation of $a_j$ and $s_j$ separately is not a gradient);
            `b`: `(J,)` or `(K, J)` biases, as in `__init__`.
        - `s`: `(K, J)` scalar output weights per basis function (or `(J,)`
            for K = 1).
        - `sigma`, `basis`, `knots`, `t0`, `t1`: as in `__init__`.

        **Returns:** a `RidgeletField` with `c = s[..., None] * a`.

        **Raises:** `ValueError` on inconsistent shapes or time-varying `a`
        with an interpolating basis.
        """
        a, s = jnp.asarray(a), jnp.asarray(s)
        if s.ndim == 1:
            s = s[None]
        if s.ndim != 2 or a.ndim not in (2, 3) or s.shape[1] != a.shape[-2]:
            raise ValueError(
                f"`s` must have shape (K, J) with J = a.shape[-2]; got s {s.shape}, a {a.shape}."
            )
        if a.ndim == 3 and basis not in ("piecewise_constant", "constant"):
            # Interpolating a_j and s_j separately breaks c_j(t) = s_j(t) a_j(t).
            raise ValueError(
                f"Time-varying `a` keeps c_j(t) = s_j(t) a_j(t) only with basis "
                f"'piecewise_constant' or 'constant'; got basis={basis!r}. Fix a (J, d) in time instead."
            )
        if a.ndim == 3 and a.shape[0] != s.shape[0]:
            raise ValueError(
                f"Time-varying `a` (K, J, d) needs `s` (K, J) with the same K; got a {a.shape}, s {s.shape}."
            )
        c = s[:, :, None] * (a if a.ndim == 3 else a[None])
        return cls(a, b, c, sigma=sigma, basis=basis, knots=knots, t0=t0, t1=t1)
