"""Ridgelet profiles $\\rho$: Gaussian derivatives $G^{(k)}$, ACHA's $\\Lambda^mG^{(l)}$, user profiles.

A ridgelet profile has the interface of an activation (`__call__`, `fourier`,
`parity`, `name`), so any profile can also serve as an activation and any
integrable activation (the Gaussian, $\\sigma'$) as a ridgelet profile.
Fourier convention as everywhere in flowrep: $\\hat f(\\omega)=\\int f(z)e^{-iz\\omega}dz$.
"""

import math
import numbers
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._activations import (
    AbstractActivation,
    as_complex,
    as_input,
    check_custom_profile,
)
from ._special import gaussian_derivative, lambda_gaussian_odd


_I_POWERS = (1.0 + 0.0j, 1.0j, -1.0 + 0.0j, -1.0j)


def check_order(value, what: str) -> int:
    """`value` as a Python int >= 0: the order of a Gaussian-family profile."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{what} must be a non-negative integer; got {value!r} ({type(value).__name__})."
        )
    if value < 0:
        raise ValueError(f"{what} must be a non-negative integer; got {value}.")
    return int(value)


# Largest orders whose values |G^(k)(z)| stay finite on all of R (measured: the
# peak grows like sqrt(k!); k=305 overflows float64, k=58 overflows float32).
MAX_GAUSSIAN_ORDER = 300
MAX_GAUSSIAN_ORDER_FLOAT32 = 56
# Odd-m Lambda^m G^(l) (Dawson tables, n = m + l): the tables take about a
# minute to build at n = 100 on one CPU core (cost grows like n^3), and in
# float32 the values overflow from n = 55 (measured).
MAX_LAMBDA_ODD_ORDER = 100
MAX_LAMBDA_ODD_ORDER_FLOAT32 = 54


def _as_float(z: ArrayLike) -> Array:
    z = as_input(z)
    z = z.astype(jnp.result_type(z, float))
    # float16/bfloat16 are promoted: |G^(k)| passes 65504 already at k ~ 20.
    return z.astype(jnp.float32) if jnp.finfo(z.dtype).bits < 32 else z


def _gaussian_family_fourier(omega: ArrayLike, m: int, k: int) -> Array:
    """$|\\omega|^m(i\\omega)^k\\sqrt{2\\pi}e^{-\\omega^2/2}$, free of overflow for large $m+k$."""
    omega = _as_float(omega)
    n = m + k
    if n == 0:
        mag = jnp.exp(-0.5 * omega**2)
    else:
        # (|w| e^{-w^2/(2n)})^n <= (n/e)^{n/2}: the power never overflows first.
        mag = (jnp.abs(omega) * jnp.exp(-0.5 * omega**2 / n)) ** n
        if k % 2:
            mag = jnp.sign(omega) * mag
    return as_complex(math.sqrt(2 * math.pi) * mag) * _I_POWERS[k % 4]


# --------------------------------------------------------------------------
# Public profiles
# --------------------------------------------------------------------------


class AbstractRidgelet(AbstractActivation):
    """A ridgelet profile $\\rho:\\mathbb R\\to\\mathbb R$ (or $\\mathbb C$), applied elementwise.

    Same interface as `AbstractActivation` (`__call__`, `fourier`, `parity`,
    `growth`, `name`), so a profile can be paired with any activation in
    `flowrep.admissibility` and used as an activation itself. Admissibility
    accepts any object with a `fourier` method, so activations such as
    `flowrep.Gaussian` serve as ridgelet profiles too.
    """


class GaussianDerivative(AbstractRidgelet):
    """The $k$-th derivative of the Gaussian, $G^{(k)}(z)=(-1)^kHe_k(z)e^{-z^2/2}$.

    $He_k$ is the probabilists' Hermite polynomial; the Fourier transform is
    $(i\\omega)^k\\sqrt{2\\pi}e^{-\\omega^2/2}$ (docs/theory/ridgelets.md#gaussian-derivative-ridgelets). For $k\\le8$
    values come from $He_k$ by Horner's rule (fastest); above, from a
    normalised three-term recurrence that cannot overflow (accurate for
    $k$ up to a few hundred in float64; in float32 up to $k\\approx60$, values
    below float32's range flush to 0 for $|z|\\gtrsim19$). Derivatives in $z$
    are exact: $\\frac{d}{dz}G^{(k)}=G^{(k+1)}$ (custom JVP).

    **Arguments:**

    - `k`: the order, an integer $0\\le k\\le300$ ($k=0$ is $e^{-z^2/2}$);
      in float32 (or lower) `z` up to $k=56$, beyond which the values overflow.

    **Raises:** `ValueError`/`TypeError` when `k` is not a non-negative integer
    or is beyond the stable range (300; 56 when called on float32 `z`).
    """

    k: int = eqx.field(static=True)
    name: str = eqx.field(static=True)
    parity: int = eqx.field(static=True)
    growth: int = eqx.field(static=True)

    def __init__(self, k: int = 0):
        self.k = check_order(k, "GaussianDerivative order k")
        if self.k > MAX_GAUSSIAN_ORDER:
            raise ValueError(
                f"GaussianDerivative order k={self.k} is beyond the stable range "
                f"0 <= k <= {MAX_GAUSSIAN_ORDER} (float64; 0 <= k <= "
                f"{MAX_GAUSSIAN_ORDER_FLOAT32} in float32): above it |G^(k)| overflows "
                "to inf/NaN."
            )
        self.name = f"G^({self.k})"
        self.parity = -1 if self.k % 2 else 1
        self.growth = -1

    def __call__(self, z: ArrayLike) -> Array:
        z = _as_float(z)
        if jnp.finfo(z.dtype).bits <= 32 and self.k > MAX_GAUSSIAN_ORDER_FLOAT32:
            raise ValueError(
                f"GaussianDerivative order k={self.k} overflows in {z.dtype}: the stable "
                f"range there is 0 <= k <= {MAX_GAUSSIAN_ORDER_FLOAT32} (up to "
                f"{MAX_GAUSSIAN_ORDER} in float64: enable jax_enable_x64 and pass float64 `z`)."
            )
        return gaussian_derivative(self.k, z)

    def fourier(self, omega: ArrayLike) -> Array:
        return _gaussian_family_fourier(omega, 0, self.k)


class LambdaGaussian(AbstractRidgelet):
    """ACHA's $\\Lambda^mG^{(l)}$: Fourier multiplier $|\\omega|^m$ applied to $G^{(l)}$.

    $\\rho^\\sharp(\\omega)=|\\omega|^m(i\\omega)^l\\sqrt{2\\pi}e^{-\\omega^2/2}$
    (ACHA section 6 and Table 5, with the standard backprojection filter
    $|\\omega|^m$; ACHA's extra $i^m$ is a known slip). For even $m$ this is
    exactly $(-1)^{m/2}G^{(l+m)}$. For odd $m$ it is a Hilbert transform of
    $G^{(l+m)}$ with algebraic tails $\\sim|z|^{-(m+l+1)}$:
    $\\Lambda^mG^{(l)}(z)=(-1)^{(m-1)/2}\\frac2{\\sqrt\\pi}2^{-n/2}D^{(n)}(z/\\sqrt2)$,
    $n=m+l$, with $D$ Dawson's integral. Values come from a Taylor table of
    $D^{(n)}$ (nodes computed once per $n$ in exact decimal arithmetic, a
    one-off cost on first use) and the asymptotic series for large $|z|$:
    dearer than `GaussianDerivative` per value, about 1e-15 relative error in the
    tails and 5e-16 of the peak value near the zeros (float64).
    Derivatives are exact: $\\frac{d}{dz}\\Lambda^mG^{(l)}=\\Lambda^mG^{(l+1)}$.

    **Arguments:**

    - `m`: the order of the filter, an integer $\\ge0$ (in ACHA, the input dimension).
    - `l`: the order of the Gaussian derivative, an integer $\\ge0$.

    **Raises:** `ValueError`/`TypeError` when `m` or `l` is not a non-negative integer.
    """

    m: int = eqx.field(static=True)
    l: int = eqx.field(static=True)  # noqa: E741 (ACHA's notation)
    name: str = eqx.field(static=True)
    parity: int = eqx.field(static=True)
    growth: int = eqx.field(static=True)

    def __init__(self, m: int, l: int = 0):  # noqa: E741
        self.m = check_order(m, "LambdaGaussian filter order m")
        self.l = check_order(l, "LambdaGaussian derivative order l")
        self.name = f"Lambda^{self.m} G^({self.l})"
        self.parity = -1 if self.l % 2 else 1
        self.growth = -1

    def __call__(self, z: ArrayLike) -> Array:
        z = _as_float(z)
        n = self.m + self.l
        low = jnp.finfo(z.dtype).bits <= 32
        if self.m % 2 == 0:
            limit = MAX_GAUSSIAN_ORDER_FLOAT32 if low else MAX_GAUSSIAN_ORDER
        else:
            limit = MAX_LAMBDA_ODD_ORDER_FLOAT32 if low else MAX_LAMBDA_ODD_ORDER
        if n > limit:
            raise ValueError(
                f"LambdaGaussian(m={self.m}, l={self.l}) values: the order m + l = {n} "
                f"is beyond the stable range m + l <= {limit} in {z.dtype} (even m: "
                f"{MAX_GAUSSIAN_ORDER} in float64, {MAX_GAUSSIAN_ORDER_FLOAT32} in "
                f"float32; odd m: {MAX_LAMBDA_ODD_ORDER} in float64, "
                f"{MAX_LAMBDA_ODD_ORDER_FLOAT32} in float32). Its `fourier` has no limit."
            )
        if self.m % 2 == 0:
            sign = -1.0 if (self.m // 2) % 2 else 1.0
            return sign * gaussian_derivative(self.l + self.m, z)
        return lambda_gaussian_odd(self.m, self.l, z)

    def fourier(self, omega: ArrayLike) -> Array:
        return _gaussian_family_fourier(omega, self.m, self.l)


class CustomRidgelet(AbstractRidgelet):
    """A user-supplied ridgelet profile: a callable and its 1-D Fourier transform.

    **Arguments:**

    - `fn`: elementwise $z\\mapsto\\rho(z)$.
    - `fourier_fn`: elementwise $\\omega\\mapsto\\rho^\\sharp(\\omega)=\\int\\rho(z)e^{-iz\\omega}dz$.
    - `name`: a label used in messages and tables.
    - `parity`: +1 even, -1 odd, 0 neither (used only in messages).
    - `growth`: polynomial growth order, -1 (default) for integrable profiles.
    """

    fn: Callable[[Array], Array] = eqx.field(static=True)
    fourier_fn: Callable[[Array], Array] = eqx.field(static=True)
    name: str = eqx.field(static=True, default="custom_ridgelet")
    parity: int = eqx.field(static=True, default=0)
    growth: int = eqx.field(static=True, default=-1)

    def __check_init__(self):
        check_custom_profile(self, "CustomRidgelet")

    def __call__(self, z: ArrayLike) -> Array:
        return self.fn(as_input(z))

    def fourier(self, omega: ArrayLike) -> Array:
        return as_complex(self.fourier_fn(as_input(omega, "omega")))
