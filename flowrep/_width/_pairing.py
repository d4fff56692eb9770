"""The pairing integral $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$: closed forms, else quadrature.

This is host-side code (NumPy and SciPy on concrete values, float64), meant
to run once per (activation, profile, dimension), not inside `jit`.

**Delta terms at $\\omega=0$.** The `fourier` methods return the transforms
away from 0. Activations that grow like $|z|^g$ also carry distributions at
0 (sigmoid and step: $\\pi\\delta$; ReLU: $i\\pi\\delta'$; a polynomial: only
such terms). Pairing $\\delta^{(j)}$ with $\\overline{\\rho^\\sharp}|\\omega|^{-d}$
takes the $j$-th derivative of the latter at 0. Near 0 the regular part of
$\\sigma^\\sharp$ behaves like $|\\omega|^{-(g+1)}$, so absolute integrability
of the pairing forces $\\rho^\\sharp(\\omega)|\\omega|^{-d}=O(|\\omega|^r)$ with
$r>g\\ge j$; for the power-type profiles here ($G^{(k)}$, $\\Lambda^mG^{(l)}$,
whose $\\rho^\\sharp|\\omega|^{-d}$ is $\\omega^r$ or $|\\omega|^r$ times an
analytic function) that makes every derivative up to order $g$ vanish at 0,
so the delta terms contribute nothing to any pair reported finite. E.g.
sigmoid/step with $\\Lambda^mG'$: $\\rho^\\sharp|\\omega|^{-d}\\propto\\omega e^{-\\omega^2/2}$
is 0 at 0; ReLU with $G^{(k)}$, $k\\ge d+2$: $\\omega^k|\\omega|^{-d}$ vanishes
to order $\\ge2>1$. Where the regular part already fails to be integrable
the pair is reported divergent whatever the delta terms do (ACHA's "inf"
entries). A polynomial's transform is all delta terms; it is reported as
vanishing (ACHA's "linear" row: the dual of the ridgelet side kills it).
"""

import math
import warnings
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

from ._activations import Gaussian, LeakyReLU, ReLU
from ._ridgelets import GaussianDerivative, LambdaGaussian


Reason = Literal["vanishes", "diverges"]

_DIVERGENCE_SLACK = 1e-2  # |h| ~ |w|^p counts as p = -1 when within this of -1
_VANISH_RTOL = 1e-9  # |integral| below this times the integral of |h|: cancellation
_ODD_RTOL = 1e-12  # h(w) + h(-w) below this times |h(w)| + |h(-w)|: odd integrand


class NotAdmissibleError(ValueError):
    """The pair $(\\sigma,\\rho)$ is not admissible in this dimension.

    `reason` is `"vanishes"` (the pairing is 0: $R[f;\\rho]$ is a ghost that
    $S$ maps to 0) or `"diverges"` (the pairing integral is infinite); the
    message says which and why.
    """

    def __init__(self, message: str, *, reason: Reason):
        if reason not in ("vanishes", "diverges"):
            raise ValueError(
                f"`reason` must be 'vanishes' or 'diverges'; got {reason!r}."
            )
        super().__init__(message)
        self.reason: Reason = reason


def _name(obj: Any) -> str:
    return str(getattr(obj, "name", type(obj).__name__))


# --------------------------------------------------------------------------
# Closed forms for Gaussian-family profiles
# --------------------------------------------------------------------------


def _gaussian_family(obj: Any) -> tuple[int, int] | None:
    """$(l, p)$ with $\\hat\\rho(\\omega)=(i\\omega)^l|\\omega|^p\\sqrt{2\\pi}e^{-\\omega^2/2}$, or None."""
    if type(obj) is Gaussian:
        return 0, 0
    if type(obj) is GaussianDerivative:
        return obj.k, 0
    if type(obj) is LambdaGaussian:
        return obj.l, obj.m
    return None


def _relu_weight(obj: Any) -> float | None:
    """$c$ with $\\hat\\sigma(\\omega)=-c/\\omega^2$ away from 0 (ReLU-type), or None."""
    if type(obj) is ReLU:
        return 1.0
    if type(obj) is LeakyReLU:
        return 1.0 - obj.alpha
    return None


def _vanishes(sigma: Any, rho: Any, why: str) -> NotAdmissibleError:
    return NotAdmissibleError(
        f"The pairing <<{_name(sigma)}, {_name(rho)}>> vanishes: {why}. "
        "R[f; rho] is then a ghost (S maps it to 0).",
        reason="vanishes",
    )


def _diverges(sigma: Any, rho: Any, dim: int, why: str) -> NotAdmissibleError:
    return NotAdmissibleError(
        f"The pairing <<{_name(sigma)}, {_name(rho)}>> in dimension d={dim} diverges: {why}.",
        reason="diverges",
    )


def _closed_form(sigma: Any, rho: Any, dim: int) -> float | None:
    """The pairing for ReLU-type or Gaussian-family sigma with Gaussian-family rho.

    With $\\hat\\rho=(i\\omega)^l|\\omega|^p\\sqrt{2\\pi}e^{-\\omega^2/2}$ and
    $\\int|\\omega|^qe^{-\\omega^2/\\beta}d\\omega=\\beta^{(q+1)/2}\\Gamma(\\frac{q+1}2)$:

    - ReLU-type, $\\hat\\sigma=-c/\\omega^2$: integrand
      $-c(2\\pi)^{d-1}\\sqrt{2\\pi}(-i)^l\\mathrm{sgn}(\\omega)^l|\\omega|^{q}e^{-\\omega^2/2}$,
      $q=p+l-2-d$; value $-c(2\\pi)^{d-1}\\sqrt{2\\pi}(-1)^{l/2}2^{(q+1)/2}\\Gamma(\\frac{q+1}2)$.
    - Gaussian family $(l_1,p_1)$: integrand
      $(2\\pi)^d i^{l_1}(-i)^{l_2}\\mathrm{sgn}^{l_1+l_2}|\\omega|^qe^{-\\omega^2}$,
      $q=p_1+p_2+l_1+l_2-d$; value $(2\\pi)^d(-1)^{(l_1-l_2)/2}\\Gamma(\\frac{q+1}2)$.

    Both need $q>-1$ (else divergence at 0) and an even total derivative
    order (else the integrand is odd and the pairing vanishes). The
    $G^{(k)}$ formulas of docs/theory/ridgelets.md#gaussian-derivative-ridgelets are the cases $p=0$ (checked against quadrature in the tests).
    """
    fam_rho = _gaussian_family(rho)
    if fam_rho is None:
        return None
    l2, p2 = fam_rho
    c = _relu_weight(sigma)
    fam_sigma = _gaussian_family(sigma)
    if c is not None:
        q = p2 + l2 - 2 - dim
        odd = l2 % 2 == 1
        base = 2.0
    elif fam_sigma is not None:
        l1, p1 = fam_sigma
        q = p1 + p2 + l1 + l2 - dim
        odd = (l1 + l2) % 2 == 1
        base = 1.0
    else:
        return None
    if q <= -1:
        raise _diverges(
            sigma,
            rho,
            dim,
            f"at omega -> 0 the integrand behaves like |omega|^{q}, not integrable "
            "(an exponent > -1 is needed; raise the order of the ridgelet's zero at 0)",
        )
    if odd:
        raise _vanishes(
            sigma,
            rho,
            "the integrand is odd in omega (one factor is even, the other odd), so it integrates to 0",
        )
    integral = base ** ((q + 1) / 2) * math.gamma((q + 1) / 2)
    if c is not None:
        sign = (-1.0) ** (l2 // 2)
        return (
            -c * (2 * math.pi) ** (dim - 1) * math.sqrt(2 * math.pi) * sign * integral
        )
    assert fam_sigma is not None
    l1 = fam_sigma[0]
    sign = (-1.0) ** (((l1 - l2) // 2) % 2)
    return (2 * math.pi) ** dim * sign * integral


# --------------------------------------------------------------------------
# Numerical pairing
# --------------------------------------------------------------------------


def _fourier_pair(sigma: Any, rho: Any):
    """$(\\hat\\sigma,\\hat\\rho)$ on a float64 NumPy array, complex128.

    Arrays are padded to power-of-two sizes so that the many calls of an
    adaptive quadrature hit JAX's per-shape caches of eager operations
    (shared across pairs) instead of compiling for every new length.
    """

    def evaluate(omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = omega.reshape(-1)
        size = max(64, 1 << max(flat.size - 1, 0).bit_length())
        padded = np.concatenate([flat, np.ones(size - flat.size)])
        with jax.enable_x64(True):
            w = jnp.asarray(padded)
            fs, fr = (
                np.broadcast_to(np.asarray(v, dtype=np.complex128), padded.shape)
                for v in (sigma.fourier(w), rho.fourier(w))
            )
        return fs[: flat.size].reshape(omega.shape), fr[: flat.size].reshape(
            omega.shape
        )

    return evaluate


def _integrand(sigma: Any, rho: Any, dim: int):
    """$h(\\omega)=(2\\pi)^{d-1}\\hat\\sigma(\\omega)\\overline{\\hat\\rho(\\omega)}|\\omega|^{-d}$ on NumPy arrays, complex128."""
    const = (2 * math.pi) ** (dim - 1)
    pair = _fourier_pair(sigma, rho)

    def h(omega: np.ndarray) -> np.ndarray:
        omega = np.asarray(omega, dtype=np.float64)
        fs, fr = pair(omega)
        fr = np.conj(fr)
        with np.errstate(all="ignore"):
            # A factor that is exactly 0 (underflow) wins over one that overflowed.
            zero = (fs == 0) | (fr == 0)
            out = np.where(zero, 0.0, const * fs * fr * np.abs(omega) ** (-dim))
        return out

    return h


def _power_law(omegas: np.ndarray, values: np.ndarray) -> float | None:
    """Slope of log(values) on log(omegas) over the positive entries (None if < 2)."""
    keep = values > 0
    if np.count_nonzero(keep) < 2:
        return None
    return float(np.polyfit(np.log(omegas[keep]), np.log(values[keep]), 1)[0])


def _integrate(fn, what: str, atol: float = 0.0) -> tuple[float, float]:
    """$\\int_0^\\infty$ fn: SciPy's vectorised tanh-sinh rule, QUADPACK as a fallback."""
    res = integrate.tanhsinh(fn, 0.0, np.inf, rtol=1e-12, atol=atol)
    if res.status == 0 and np.isfinite(res.integral):
        return float(res.integral), float(res.error)
    total, err = 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for lo, hi in ((0.0, 1.0), (1.0, np.inf)):
            val, e = integrate.quad(
                lambda w: float(fn(np.asarray([w]))[0]),
                lo,
                hi,
                limit=500,
                epsabs=0.5 * atol,
                epsrel=1e-11,
            )
            total, err = total + val, err + e
    if not np.isfinite(total):
        raise ValueError(f"The quadrature of the {what} did not converge.")
    return total, err


def _numerical(sigma: Any, rho: Any, dim: int) -> float | complex:
    h = _integrand(sigma, rho, dim)
    near0 = np.logspace(-9, -4, 21)
    body = np.logspace(-4, 2, 241)
    far = np.logspace(2, 6, 81)
    omegas = np.concatenate([near0, body[1:], far[1:]])
    hp, hm = h(omegas), h(-omegas)
    bad = ~(np.isfinite(hp) & np.isfinite(hm))
    if np.any(bad):
        where = omegas[np.argmax(bad)]
        raise _diverges(
            sigma, rho, dim, f"the integrand is not finite at omega = +/-{where:.3g}"
        )
    size = np.abs(hp) + np.abs(hm)
    if not np.any(size > 0):
        with jax.enable_x64(True):
            sigma_zero = not np.any(np.asarray(sigma.fourier(jnp.asarray(omegas))))
        who = _name(sigma) if sigma_zero else _name(rho)
        raise _vanishes(
            sigma,
            rho,
            f"sigma^#(omega) conj(rho^#(omega)) is 0 for every omega != 0 ({who}'s transform "
            "is supported at omega = 0, as for a polynomial)",
        )
    slope0 = _power_law(near0, size[: near0.size])
    if slope0 is not None and slope0 <= -1 + _DIVERGENCE_SLACK:
        raise _diverges(
            sigma,
            rho,
            dim,
            f"at omega -> 0 the integrand behaves like |omega|^{slope0:.2f}, not integrable "
            "(an exponent > -1 is needed)",
        )
    # Envelope per decade at infinity, so oscillation does not spoil the fit.
    tail_w = far[1:].reshape(4, -1)
    tail = size[-tail_w.size :].reshape(4, -1)
    peak = np.argmax(tail, axis=1)
    rows = np.arange(4)
    slope_inf = _power_law(tail_w[rows, peak], tail[rows, peak])
    if slope_inf is not None and slope_inf >= -1 - _DIVERGENCE_SLACK:
        raise _diverges(
            sigma,
            rho,
            dim,
            f"at omega -> infinity the integrand decays only like |omega|^{slope_inf:.2f} "
            "(an exponent < -1 is needed)",
        )
    sym = hp + hm
    if np.all(np.abs(sym) <= _ODD_RTOL * size):
        par_s, par_r = getattr(sigma, "parity", 0), getattr(rho, "parity", 0)
        if par_s * par_r == -1:
            why = f"{_name(sigma)} is {'odd' if par_s < 0 else 'even'} and {_name(rho)} is {'odd' if par_r < 0 else 'even'}"
        else:
            why = "sigma^#(omega) conj(rho^#(omega)) is odd in omega away from 0"
        raise _vanishes(
            sigma, rho, f"the integrand is odd ({why}), so it integrates to 0"
        )

    total_abs, _ = _integrate(
        lambda w: np.abs(h(w)) + np.abs(h(-w)), "absolute pairing"
    )
    # An absolute tolerance relative to the integral of |h|, so that a cancelling
    # (vanishing) pairing still converges.
    atol = 1e-14 * total_abs
    real, _ = _integrate(
        lambda w: np.real(h(w) + h(-w)), "real part of the pairing", atol
    )
    imag = 0.0
    if np.max(np.abs(np.imag(sym))) > _ODD_RTOL * np.max(size):
        imag, _ = _integrate(
            lambda w: np.imag(h(w) + h(-w)), "imaginary part of the pairing", atol
        )
    if math.hypot(real, imag) <= _VANISH_RTOL * total_abs:
        raise _vanishes(
            sigma,
            rho,
            f"the integral cancels to {math.hypot(real, imag):.2e} against an absolute "
            f"integral of {total_abs:.3g}",
        )
    if abs(imag) > 1e-10 * total_abs:
        return complex(real, imag)
    return real


def pairing(sigma: Any, rho: Any, dim: int) -> float | complex:
    """The pairing of two checked profiles in dimension `dim`.

    A closed form where one is known (`_closed_form`), else quadrature
    (`_numerical`). The caller validates `sigma`, `rho` and `dim`.

    **Raises:** `NotAdmissibleError` when the pairing vanishes or diverges.
    """
    value = _closed_form(sigma, rho, dim)
    if value is not None:
        return value
    return _numerical(sigma, rho, dim)
