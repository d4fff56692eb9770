"""Real-space values of the Gaussian-family profiles: $G^{(k)}$ and, for odd $m$, $\\Lambda^mG^{(l)}$.

$G^{(k)}$ by Hermite functions (an explicit polynomial for low orders, a
normalised recurrence above); $\\Lambda^mG^{(l)}$ for odd $m$ from derivatives
of Dawson's integral, tabulated once per order in exact decimal arithmetic,
with a steepest-descent contour integral kept as an independent reference.
"""

import functools
import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import NamedTuple

import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


_UNROLL_LIMIT = 32  # unroll short recurrences so XLA fuses them into one kernel
# Low orders use the explicit Hermite polynomial instead of the recurrence.
_POLYNOMIAL_LIMIT = 8
# |z| beyond which every G^(k), k <= _POLYNOMIAL_LIMIT, is 0 in float32 and
# float64 alike (|He_k(z)| e^{-z^2/2} < 1e-334 at |z| = 40), and He_k(40) is finite.
_POLYNOMIAL_CLIP = 40.0


# --------------------------------------------------------------------------
# G^(k) by a normalised Hermite recurrence
# --------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=0)
def _gaussian_derivative_impl(k: int, z: Array) -> Array:
    """$G^{(k)}(z)=(-1)^kHe_k(z)e^{-z^2/2}$, elementwise.

    Runs the recurrence on $h_j=He_j(z)e^{-z^2/4}/\\sqrt{j!}$ (Hermite
    functions up to scaling). Cramer's inequality bounds $|h_j|\\le1.09$ for
    every $j$ and $z$, so nothing overflows; the factor $\\sqrt{k!}e^{-z^2/4}$
    is applied once at the end, in log space. Orders up to `_POLYNOMIAL_LIMIT`
    take the explicit polynomial instead (`_gaussian_derivative_polynomial`).
    """
    if k <= _POLYNOMIAL_LIMIT:
        return _gaussian_derivative_polynomial(k, z)
    g = jnp.exp(-0.25 * z * z)
    h_prev, h = g, z * g

    def step(j, h_prev, h):
        # multiplications by constants, not divisions: they are cheaper
        return h, z * h * (1 / math.sqrt(j + 1)) - h_prev * math.sqrt(j / (j + 1))

    log_scale = 0.5 * math.lgamma(k + 1)
    sign = -1.0 if k % 2 else 1.0
    if k <= _UNROLL_LIMIT:
        for j in range(1, k):
            h_prev, h = step(j, h_prev, h)
        # one exp (g) serves both Gaussian factors: sqrt(k!) < 1e18 is a
        # finite float32 constant, and g, which the recurrence starts from,
        # already sets where the values leave the normal range
        return h * (sign * math.exp(log_scale) * g)
    else:

        def body(j, carry):
            h_prev, h = carry
            jf = j.astype(z.dtype)
            return h, (z * h - jnp.sqrt(jf) * h_prev) / jnp.sqrt(jf + 1)

        h_prev, h = lax.fori_loop(1, k, body, (h_prev, h))
    return sign * h * jnp.exp(log_scale - 0.25 * z * z)


def _gaussian_derivative_polynomial(k: int, z: Array) -> Array:
    """$G^{(k)}$ for small $k$: $He_k$ by Horner's rule in $z^2$, times $e^{-z^2/4}$ twice.

    Cheaper than the recurrence (fewer operations per value). Multiplying by the
    two factors $e^{-z^2/4}$ one after the other keeps the product in range
    where $e^{-z^2/2}$ alone would underflow first, like the recurrence; $z$
    is clipped where every value is 0 anyway, so $He_k$ cannot overflow into
    `inf * 0`.
    """
    z = jnp.clip(z, -_POLYNOMIAL_CLIP, _POLYNOMIAL_CLIP)
    z2 = z * z
    # He_k's coefficients (exact integers for these k), highest power first,
    # every other one: He_k is z^(k mod 2) times a polynomial in z^2
    coefficients = np.polynomial.hermite_e.herme2poly([0] * k + [1])[k::-2]
    poly = jnp.full_like(z, float(coefficients[0]))
    for c in coefficients[1:]:
        poly = poly * z2 + float(c)
    if k % 2:
        poly = -poly * z  # G^(k) = (-1)^k He_k e^{-z^2/2}, odd He_k = z P(z^2)
    g = jnp.exp(-0.25 * z2)
    return (poly * g) * g


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def gaussian_derivative(k: int, z: Array) -> Array:
    return _gaussian_derivative_impl(k, z)


@gaussian_derivative.defjvp
def _gaussian_derivative_jvp(k, primals, tangents):
    # d/dz G^(k) = G^(k+1): exact, and no residuals of the recurrence are stored.
    (z,), (dz,) = primals, tangents
    return gaussian_derivative(k, z), gaussian_derivative(k + 1, z) * dz


# --------------------------------------------------------------------------
# Lambda^m G^(l) for odd m by a steepest-descent contour (slow reference)
# --------------------------------------------------------------------------


def _contour_integral(n: int, z: Array) -> Array:
    """$J_n(z)=\\int_0^z s^n e^{s^2/2-zs}ds$ for $z\\ge0$ (positive integrand, no cancellation).

    Substitutes $s=zv$, $v=1/(1+e^{-(y+c)})$ with the shift
    $c=-\\log(1+z^2/(n+1))$ that centres the peak of the integrand, and applies
    the trapezoid rule in $y$ (spectrally accurate: the integrand is analytic
    in a strip and decays at both ends). Step $h\\propto(n+1)^{-1/4}$ keeps the
    relative error near machine precision for $n\\le15$.
    """
    step = 0.3 / (n + 1) ** 0.25
    y_lo, y_hi = -24.0, 38.0
    num = int(math.ceil((y_hi - y_lo) / step)) + 1
    z_safe = jnp.where(z > 0, z, 1.0)
    log_z = jnp.where(z > 0, jnp.log(z_safe), -jnp.inf)
    spread = 1.0 + z * z / (n + 1)  # e^{-c}
    log_spread = jnp.log1p(z * z / (n + 1))
    z2 = z * z

    def term(y: float | Array) -> Array:
        e = jnp.exp(-y) * spread  # e^{-(y+c)}
        log1pe = jnp.log1p(e)
        v = 1.0 / (1.0 + e)
        # log[(zv)^{n+1} (1-v) e^{-z^2 (v - v^2/2)}] with 1-v = e/(1+e)
        log_f = (
            (n + 1) * (log_z - log1pe)
            + (log_spread - y - log1pe)
            - z2 * v * (1.0 - 0.5 * v)
        )
        return jnp.exp(log_f)

    def body(i, acc):
        y = y_lo + step * i.astype(z.dtype)
        return acc + term(y)

    acc = lax.fori_loop(0, num, body, jnp.zeros_like(z))
    return step * acc


def _gaussian_moment(j: int) -> float:
    """$\\int_0^\\infty t^je^{-t^2/2}dt$."""
    return 2.0 ** ((j - 1) / 2) * math.gamma((j + 1) / 2)


def _poly(coeffs: list[float], x: Array) -> Array:
    """$\\sum_p c_p x^p$ by Horner's rule (`coeffs[p]` multiplies $x^p$)."""
    out = jnp.zeros_like(x)
    for c in reversed(coeffs):
        out = out * x + c
    return out


@functools.partial(jax.jit, static_argnums=(0, 1))
def _lambda_gaussian_odd_contour(m: int, k: int, z: Array) -> Array:
    """Real-space $\\Lambda^mG^{(k)}(z)$ for odd $m$ (slow reference).

    $\\psi(z)=\\frac1{\\sqrt{2\\pi}}\\int|\\omega|^m(i\\omega)^ke^{-\\omega^2/2}e^{iz\\omega}d\\omega$
    reduces to $I_n(z)=\\int_0^\\infty\\omega^ne^{-\\omega^2/2+iz\\omega}d\\omega$,
    $n=m+k$ (real part for even $k$, imaginary part for odd $k$). Moving the
    path to $0\\to iz\\to iz+\\infty$ gives, for $z\\ge0$,
    $I_n(z)=i^{n+1}J_n(z)+e^{-z^2/2}\\sum_j\\binom njM_j(iz)^{n-j}$ with
    $M_j=\\int_0^\\infty t^je^{-t^2/2}dt$: no oscillatory integral, and the
    algebraic tail $\\sim|z|^{-(n+1)}$ comes out with full relative accuracy.

    Independent of the Dawson-table path below and kept to test it: a fixed
    250-400 node trapezoid rule per value, about 1e-14 relative error.
    """
    n = m + k
    az = jnp.abs(z)
    j_n = _contour_integral(n, az)
    gauss = jnp.exp(-0.5 * z * z)
    if k % 2 == 0:
        # Re I_n: i^{n+1} = (-1)^{(n+1)/2} (n odd); Re (iz)^{n-j} needs n-j even.
        coeffs = [0.0] * (n + 1)
        for j in range(n + 1):
            p = n - j
            if p % 2 == 0:
                coeffs[p] = math.comb(n, j) * (-1.0) ** (p // 2) * _gaussian_moment(j)
        part = (-1.0) ** ((n + 1) // 2) * j_n + gauss * _poly(coeffs, az)
        factor = (-1.0) ** (k // 2) * 2.0 / math.sqrt(2 * math.pi)
        return factor * part
    # Im I_n: i^{n+1} = i (-1)^{n/2} (n even); Im (iz)^{n-j} needs n-j odd.
    coeffs = [0.0] * (n + 1)
    for j in range(n + 1):
        p = n - j
        if p % 2 == 1:
            coeffs[p] = math.comb(n, j) * (-1.0) ** ((p - 1) // 2) * _gaussian_moment(j)
    part = (-1.0) ** (n // 2) * j_n + gauss * _poly(coeffs, az)
    factor = (-1.0) ** ((k + 1) // 2) * 2.0 / math.sqrt(2 * math.pi)
    return factor * jnp.sign(z) * part


# --------------------------------------------------------------------------
# Lambda^m G^(l) for odd m by derivatives of Dawson's integral
# --------------------------------------------------------------------------

# Table grid in x = z/sqrt(2): D^(k) at x_i = i/16, exact to >= 25 digits.
_DAWSON_STEP = Fraction(1, 16)
_TAYLOR_MAX = 28  # most Taylor terms per cell (12-14 are used for n <= 30)
_ASYMPTOTIC_MAX = 24  # most terms of the large-|z| series
_TRUNCATION = 1e-18  # relative truncation error allowed in either branch
_PI_DIGITS = "3.14159265358979323846264338327950288419716939937510"


def _decimal(x: Fraction) -> Decimal:
    return Decimal(x.numerator) / Decimal(x.denominator)


def _working_digits(i: int) -> int:
    # The Maclaurin series of D cancels e^{x^2} (0.43 x^2 digits) and the
    # derivative recurrence loses up to e^{2x^2} (0.87 x^2 digits).
    x = float(i * _DAWSON_STEP)
    return 45 + int(1.31 * x * x)


@functools.cache
def _dawson_decimal(i: int) -> Decimal:
    """$D(x_i)=\\sum_k(-2x_i^2)^kx_i/(2k+1)!!$ in decimal arithmetic at $x_i=i/16$."""
    with localcontext() as ctx:
        ctx.prec = _working_digits(i)
        x = _decimal(i * _DAWSON_STEP)
        x2 = x * x
        term, total, k = x, Decimal(0), 0
        eps = Decimal(10) ** (-ctx.prec)
        while term != 0 and (k <= x2 or abs(term) > eps * abs(total)):
            total += term
            term = term * (-2 * x2) / (2 * k + 3)
            k += 1
        return total


def _dawson_derivatives(i: int, order: int) -> list[Decimal]:
    """$D^{(k)}(x_i)$ for $k=0,\\dots,$`order`, by $D'=1-2xD$ and $D^{(k+1)}=-2xD^{(k)}-2kD^{(k-1)}$.

    The recurrence is unstable in floating point (its dominant solution is
    the Hermite polynomial $H_k(x)$), hence the decimal working precision.
    """
    with localcontext() as ctx:
        ctx.prec = _working_digits(i)
        x = _decimal(i * _DAWSON_STEP)
        out = [_dawson_decimal(i)]
        out.append(1 - 2 * x * out[0])
        for k in range(1, order):
            out.append(-2 * x * out[k] - 2 * k * out[k - 1])
        return out


class _DawsonTables(NamedTuple):
    taylor: np.ndarray  # (rows, terms): psi_n^(j)(z_i)/j! at z_i = i * step
    step: float  # grid step in z
    z_switch: float  # the asymptotic series takes over for |z| >= z_switch
    kappa: float  # psi_n(z) ~ (-1)^n (kappa/z)^(n+1) as z -> inf
    series: np.ndarray  # coefficients in v = (z_switch/z)^2 of the tail series


@functools.cache
def _dawson_tables(n: int) -> _DawsonTables:
    """Tables for $\\psi_n(z)=\\frac2{\\sqrt\\pi}2^{-n/2}D^{(n)}(z/\\sqrt2)$, $n\\ge1$ (built once per $n$).

    For $x=z/\\sqrt2\\ge X$ the asymptotic series
    $D^{(n)}(x)\\sim(-1)^n\\sum_ka_k(2k+1)_nx^{-(2k+1+n)}$, $a_k=(2k-1)!!/2^{k+1}$,
    is used, with $X$ the first half-integer where at most 24 terms reach
    relative error 1e-18 and the smallest term (the size of the exponentially
    small remainder) is below 1e-21. Below $X$, a Taylor polynomial about the
    nearest node $x_i=i/16$ whose degree makes the truncation 1e-18 of the
    local magnitude.
    """
    # Tail series: b_k / b_0 with b_k = a_k (2k+1)_n, b_0 = n!/2.
    ratios, a = [], Fraction(1)
    for k in range(_ASYMPTOTIC_MAX + 40):
        rising = math.prod(range(2 * k + 1, 2 * k + n + 1))
        ratios.append(a * Fraction(rising, math.factorial(n)))
        a = a * (2 * k + 1) / 2
    x_switch = Fraction(4)
    while True:
        terms = [float(r / x_switch ** (2 * k)) for k, r in enumerate(ratios)]
        num = next(
            (k for k in range(_ASYMPTOTIC_MAX + 1) if terms[k] < _TRUNCATION), None
        )
        if num is not None and min(terms) < 1e-3 * _TRUNCATION:
            break
        x_switch += Fraction(1, 2)
    series = np.array(terms[:num])

    rows = int(x_switch / _DAWSON_STEP) + 1
    taylor = np.empty((rows, _TAYLOR_MAX + 1))
    for i in range(rows):
        d = _dawson_derivatives(i, n + _TAYLOR_MAX)
        with localcontext() as ctx:
            ctx.prec = 40
            const = 2 / Decimal(_PI_DIGITS).sqrt()
            half = 1 / Decimal(2).sqrt()
            for j in range(_TAYLOR_MAX + 1):
                # psi_n^(j)(z)/j! = (2/sqrt(pi)) 2^{-(n+j)/2} D^(n+j)(x)/j!
                taylor[i, j] = float(
                    const * half ** (n + j) * d[n + j] / math.factorial(j)
                )
    step = float(_DAWSON_STEP) * math.sqrt(2)
    size = np.abs(taylor) * (0.5 * step) ** np.arange(_TAYLOR_MAX + 1)
    tails = np.cumsum(size[:, ::-1], axis=1)[:, ::-1] / size.max(axis=1, keepdims=True)
    num_taylor = next(
        (j for j in range(1, _TAYLOR_MAX + 1) if tails[:, j].max() < _TRUNCATION),
        _TAYLOR_MAX + 1,
    )
    # kappa^(n+1) = sqrt(2/pi) n!, in logs: n! overflows a float for n > 170.
    kappa = math.exp((0.5 * math.log(2 / math.pi) + math.lgamma(n + 1)) / (n + 1))
    return _DawsonTables(
        taylor[:, :num_taylor],
        step,
        float(x_switch) * math.sqrt(2),
        kappa,
        series,
    )


def _horner(coeffs: list, x: Array) -> Array:
    out = coeffs[-1]
    for c in coeffs[-2::-1]:
        out = out * x + c
    return out


@functools.partial(jax.jit, static_argnums=(0, 1))
def _lambda_gaussian_odd_impl(m: int, k: int, z: Array) -> Array:
    """Real-space $\\Lambda^mG^{(k)}(z)$ for odd $m$ from derivatives of Dawson's integral.

    With the Hilbert transform $\\mathcal H$ (multiplier $-i\\,\\mathrm{sign}\\,\\omega$),
    $|\\omega|^m=-i\\,\\mathrm{sign}(\\omega)(i\\omega)(-1)^{(m-1)/2}(i\\omega)^{m-1}$, so
    $\\Lambda^mG^{(k)}=(-1)^{(m-1)/2}\\frac{d^n}{dz^n}\\mathcal H[e^{-z^2/2}]$ with
    $n=m+k$, and $\\mathcal H[e^{-z^2/2}](z)=\\frac2{\\sqrt\\pi}D(z/\\sqrt2)$,
    $D(x)=e^{-x^2}\\int_0^xe^{t^2}dt$ (Dawson's integral). Hence
    $\\Lambda^mG^{(k)}(z)=(-1)^{(m-1)/2}\\frac2{\\sqrt\\pi}2^{-n/2}D^{(n)}(z/\\sqrt2)$,
    evaluated by a precomputed Taylor table (one gather, 12-14 multiply-adds)
    or the asymptotic series; parity $D^{(n)}(-x)=(-1)^{n+1}D^{(n)}(x)$.
    """
    n = m + k
    tables = _dawson_tables(n)
    dtype = z.dtype
    az = jnp.abs(z)
    rows, terms = tables.taylor.shape
    idx = jnp.clip(jnp.round(az * (1.0 / tables.step)), 0, rows - 1).astype(jnp.int32)
    offset = az - idx.astype(dtype) * tables.step
    # One 1-D gather per coefficient: faster on CPU than one 2-D gather.
    near = _horner(
        [jnp.asarray(tables.taylor[:, j], dtype)[idx] for j in range(terms)], offset
    )
    az_far = jnp.maximum(az, tables.z_switch)
    v = (tables.z_switch / az_far) ** 2
    far = (tables.kappa / az_far) ** (n + 1) * _horner(tables.series.tolist(), v)
    if n % 2:
        far = -far
    out = jnp.where(az < tables.z_switch, near, far)
    if n % 2 == 0:
        out = jnp.sign(z) * out
    if (m // 2) % 2:
        out = -out
    return out


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def lambda_gaussian_odd(m: int, k: int, z: Array) -> Array:
    return _lambda_gaussian_odd_impl(m, k, z)


@lambda_gaussian_odd.defjvp
def _lambda_gaussian_odd_jvp(m, k, primals, tangents):
    # d/dz Lambda^m G^(k) = Lambda^m G^(k+1): the Fourier multiplier gains i*omega.
    (z,), (dz,) = primals, tangents
    return lambda_gaussian_odd(m, k, z), lambda_gaussian_odd(m, k + 1, z) * dz
