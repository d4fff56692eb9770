"""The admissibility pairing $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$ and ACHA's Table 5.

$\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle=(2\\pi)^{m-1}\\int_{\\mathbb R}\\sigma^\\sharp(\\omega)\\overline{\\rho^\\sharp(\\omega)}|\\omega|^{-m}d\\omega$
(Ghosts Def. 5 / Thm 6, ACHA Thm 5.6; THEORY.md section 1). The pair is
admissible when the integral converges absolutely and is non-zero; then
$S[R[f;\\rho]]=\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle f$.

This is host-side code (NumPy and SciPy on concrete values, float64), meant
to run once per (activation, profile, dimension), not inside `jit`.

**Delta terms at $\\omega=0$.** The `fourier` methods return the transforms
away from 0. Activations that grow like $|z|^g$ also carry distributions at
0 (sigmoid and step: $\\pi\\delta$; ReLU: $i\\pi\\delta'$; a polynomial: only
such terms). Pairing $\\delta^{(j)}$ with $\\overline{\\rho^\\sharp}|\\omega|^{-m}$
takes the $j$-th derivative of the latter at 0. Near 0 the regular part of
$\\sigma^\\sharp$ behaves like $|\\omega|^{-(g+1)}$, so absolute integrability
of the pairing forces $\\rho^\\sharp(\\omega)|\\omega|^{-m}=O(|\\omega|^r)$ with
$r>g\\ge j$; for the power-type profiles here ($G^{(k)}$, $\\Lambda^mG^{(l)}$,
whose $\\rho^\\sharp|\\omega|^{-m}$ is $\\omega^r$ or $|\\omega|^r$ times an
analytic function) that makes every derivative up to order $g$ vanish at 0,
so the delta terms contribute nothing to any pair reported finite. E.g.
sigmoid/step with $\\Lambda^mG'$: $\\rho^\\sharp|\\omega|^{-m}\\propto\\omega e^{-\\omega^2/2}$
is 0 at 0; ReLU with $G^{(k)}$, $k\\ge m+2$: $\\omega^k|\\omega|^{-m}$ vanishes
to order $\\ge2>1$. Where the regular part already fails to be integrable
the pair is reported divergent whatever the delta terms do (ACHA's "inf"
entries). A polynomial's transform is all delta terms; it is reported as
vanishing (ACHA's "linear" row: the dual of the ridgelet side kills it).
"""

import dataclasses
import math
import numbers
import warnings
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

from ._activations import (
    Gaussian,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SigmoidDerivative,
    Softplus,
    Step,
)
from ._ridgelets import GaussianDerivative, LambdaGaussian


Reason = Literal["vanishes", "diverges"]
Status = Literal["+", "0", "inf"]

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
        super().__init__(message)
        self.reason: Reason = reason


def _name(obj: Any) -> str:
    return str(getattr(obj, "name", type(obj).__name__))


def _check_profile(obj: Any, what: str) -> None:
    if not callable(getattr(obj, "fourier", None)):
        raise TypeError(
            f"`{what}` must have a `fourier(omega)` method (an activation or ridgelet "
            f"profile); got {type(obj).__name__}."
        )


def _check_dim(dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"`dim` must be a positive integer; got {dim!r}.")
    if dim < 1:
        raise ValueError(
            f"`dim` must be a positive integer (the input dimension m); got {dim}."
        )
    return int(dim)


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
        f"The pairing <<{_name(sigma)}, {_name(rho)}>> in dimension m={dim} diverges: {why}.",
        reason="diverges",
    )


def _closed_form(sigma: Any, rho: Any, dim: int) -> float | None:
    """The pairing for ReLU-type or Gaussian-family sigma with Gaussian-family rho.

    With $\\hat\\rho=(i\\omega)^l|\\omega|^p\\sqrt{2\\pi}e^{-\\omega^2/2}$ and
    $\\int|\\omega|^qe^{-\\omega^2/\\beta}d\\omega=\\beta^{(q+1)/2}\\Gamma(\\frac{q+1}2)$:

    - ReLU-type, $\\hat\\sigma=-c/\\omega^2$: integrand
      $-c(2\\pi)^{m-1}\\sqrt{2\\pi}(-i)^l\\mathrm{sgn}(\\omega)^l|\\omega|^{q}e^{-\\omega^2/2}$,
      $q=p+l-2-m$; value $-c(2\\pi)^{m-1}\\sqrt{2\\pi}(-1)^{l/2}2^{(q+1)/2}\\Gamma(\\frac{q+1}2)$.
    - Gaussian family $(l_1,p_1)$: integrand
      $(2\\pi)^m i^{l_1}(-i)^{l_2}\\mathrm{sgn}^{l_1+l_2}|\\omega|^qe^{-\\omega^2}$,
      $q=p_1+p_2+l_1+l_2-m$; value $(2\\pi)^m(-1)^{(l_1-l_2)/2}\\Gamma(\\frac{q+1}2)$.

    Both need $q>-1$ (else divergence at 0) and an even total derivative
    order (else the integrand is odd and the pairing vanishes). THEORY.md's
    $G^{(k)}$ formulas are the cases $p=0$ (checked against quadrature in the tests).
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
    """$h(\\omega)=(2\\pi)^{m-1}\\hat\\sigma(\\omega)\\overline{\\hat\\rho(\\omega)}|\\omega|^{-m}$ on NumPy arrays, complex128."""
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


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def admissibility(sigma: Any, rho: Any, dim: int, *, s: float = 0.0) -> float | complex:
    """The admissibility pairing $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$ in dimension $m$.

    $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle=(2\\pi)^{m-1}\\int\\sigma^\\sharp(\\omega)\\overline{\\rho^\\sharp(\\omega)}|\\omega|^{-m}d\\omega$
    (Ghosts Thm 6; ACHA Thm 5.6; THEORY.md section 1), so that
    $S[R[f;\\rho]]=\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle f$.

    Closed forms for ReLU/leaky ReLU or a Gaussian-family activation against
    $G^{(k)}$, $\\Lambda^pG^{(l)}$ or the Gaussian (THEORY.md's formulas and
    their $\\Lambda^p$ generalisation). Otherwise quadrature of the
    Fourier integral (host side, float64): the power law of $|h|$ is fitted
    on $\\omega\\in[10^{-9},10^{-4}]$ and on the decade envelope over
    $[10^2,10^6]$ to detect divergence; an odd integrand, or an integral
    below $10^{-9}$ of $\\int|h|$, counts as vanishing. See the module
    docstring for why the delta terms of sigmoid, step and ReLU at
    $\\omega=0$ can be ignored.

    **Arguments:**

    - `sigma`: the activation (anything with `fourier(omega)`).
    - `rho`: the ridgelet profile (anything with `fourier(omega)`, e.g.
        `GaussianDerivative(k)`, `LambdaGaussian(m, l)`, `flowrep.Gaussian()`).
    - `dim`: the input dimension $m\\ge1$.
    - `s`: ACHA's weight exponent. The pairing does not depend on it (the
        weights $\\|a\\|^{s}$ in $R$ and $\\|a\\|^{-s}$ in $S$ cancel); it is
        accepted so calls can mirror `ridgelet_transform`.

    **Returns:** the pairing as a Python `float` (real for real-valued
    profiles, where $h(-\\omega)=\\overline{h(\\omega)}$); a `complex` only for
    complex profiles whose pairing has a non-negligible imaginary part.

    **Raises:** `NotAdmissibleError` (a `ValueError`) whose message says
    "vanishes" or "diverges" and why; `TypeError`/`ValueError` for a profile
    without `fourier`, a bad `dim` or a non-finite `s`.
    """
    _check_profile(sigma, "sigma")
    _check_profile(rho, "rho")
    dim = _check_dim(dim)
    if not isinstance(s, numbers.Real) or not math.isfinite(s):
        raise ValueError(f"`s` must be a finite real number; got {s!r}.")
    value = _closed_form(sigma, rho, dim)
    if value is not None:
        return value
    return _numerical(sigma, rho, dim)


def admissibility_status(sigma: Any, rho: Any, dim: int) -> Status:
    """Classify a pair: `"+"` admissible, `"0"` the pairing vanishes, `"inf"` it diverges.

    The non-raising form of `admissibility` (ACHA Table 5's notation).
    """
    try:
        admissibility(sigma, rho, dim)
    except NotAdmissibleError as err:
        return "0" if err.reason == "vanishes" else "inf"
    return "+"


ACHA_TABLE5: dict[str, tuple[Status, Status, Status]] = {
    "sigmoid_derivative": ("+", "0", "+"),
    "sigmoid": ("inf", "+", "0"),
    "softplus": ("inf", "inf", "+"),
    "step": ("inf", "+", "0"),
    "relu": ("inf", "inf", "+"),
    "identity": ("0", "0", "0"),
    "gaussian": ("+", "0", "+"),
}
"""ACHA (Sonoda & Murata 2017) Table 5: rows $\\sigma'$, sigmoid, softplus, step,
ReLU, linear, Gaussian (keyed by flowrep's activation names); columns
$\\Lambda^mG$, $\\Lambda^mG'$, $\\Lambda^mG''$."""

TABLE5_COLUMNS: tuple[str, str, str] = ("Lambda^m G", "Lambda^m G'", "Lambda^m G''")


@dataclasses.dataclass(frozen=True)
class AdmissibilityTable:
    """ACHA Table 5 computed in dimension `dim`.

    **Fields:**

    - `dim`: the input dimension $m$.
    - `rows`: activation names; `columns`: ridgelet labels.
    - `status`: `status[row][j]` in `{"+", "0", "inf"}`.
    - `values`: the pairing where admissible, else `None`.
    - `reasons`: the `NotAdmissibleError` message where not admissible, else `None`.
    - `published`: `ACHA_TABLE5`.
    """

    dim: int
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    status: dict[str, tuple[Status, ...]]
    values: dict[str, tuple[float | complex | None, ...]]
    reasons: dict[str, tuple[str | None, ...]]
    published: dict[str, tuple[Status, Status, Status]]

    def matches_published(self) -> bool:
        """Whether every +/0/inf entry equals ACHA's Table 5."""
        return all(tuple(self.status[r]) == tuple(self.published[r]) for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary (complex values become `[re, im]`)."""

        def plain(v):
            return [v.real, v.imag] if isinstance(v, complex) else v

        return {
            "dim": self.dim,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "status": {r: list(self.status[r]) for r in self.rows},
            "values": {r: [plain(v) for v in self.values[r]] for r in self.rows},
            "reasons": {r: list(self.reasons[r]) for r in self.rows},
            "published": {r: list(self.published[r]) for r in self.rows},
            "matches_published": self.matches_published(),
        }

    def format(self) -> str:
        """A plain-text table: computed status, pairing value, and ACHA's entry."""
        width = max(len(r) for r in self.rows) + 2
        head = "sigma".ljust(width) + "".join(c.ljust(28) for c in self.columns)
        lines = [f"ACHA Table 5, dim = {self.dim} (computed [ACHA])", head]
        for r in self.rows:
            cells = []
            for st, val, pub in zip(self.status[r], self.values[r], self.published[r]):
                shown = f"{st} ({val:.4g})" if isinstance(val, float) else st
                cells.append(f"{shown} [{pub}]".ljust(28))
            lines.append(r.ljust(width) + "".join(cells))
        verdict = "matches" if self.matches_published() else "DIFFERS FROM"
        lines.append(f"pattern {verdict} the published table")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def admissibility_table(dim: int) -> AdmissibilityTable:
    """Compute ACHA Table 5 (the +/0/inf admissibility pattern) in dimension `dim`.

    Rows: $\\sigma'$ (`SigmoidDerivative`), sigmoid, softplus, step, ReLU,
    linear (`Identity`), Gaussian; columns $\\Lambda^mG,\\Lambda^mG',\\Lambda^mG''$
    with $m=$ `dim` (`LambdaGaussian(dim, l)`, $l=0,1,2$). Sonoda & Murata,
    ACHA 2017, Table 5; THEORY.md section 1.

    **Arguments:**

    - `dim`: the input dimension $m\\ge1$.

    **Returns:** an `AdmissibilityTable` (`.status`, `.values`, `.to_dict()`,
    `.format()`, `.matches_published()`).

    **Raises:** `TypeError`/`ValueError` for a bad `dim`.
    """
    dim = _check_dim(dim)
    activations = (
        SigmoidDerivative(),
        Sigmoid(),
        Softplus(),
        Step(),
        ReLU(),
        Identity(),
        Gaussian(),
    )
    ridgelets = tuple(LambdaGaussian(dim, order) for order in range(3))
    status: dict[str, tuple[Status, ...]] = {}
    values: dict[str, tuple[float | complex | None, ...]] = {}
    reasons: dict[str, tuple[str | None, ...]] = {}
    for sigma in activations:
        row_s, row_v, row_r = [], [], []
        for rho in ridgelets:
            try:
                val = admissibility(sigma, rho, dim)
            except NotAdmissibleError as err:
                row_s.append("0" if err.reason == "vanishes" else "inf")
                row_v.append(None)
                row_r.append(str(err))
            else:
                row_s.append("+")
                row_v.append(val)
                row_r.append(None)
        status[sigma.name] = tuple(row_s)
        values[sigma.name] = tuple(row_v)
        reasons[sigma.name] = tuple(row_r)
    return AdmissibilityTable(
        dim=dim,
        rows=tuple(a.name for a in activations),
        columns=TABLE5_COLUMNS,
        status=status,
        values=values,
        reasons=reasons,
        published=dict(ACHA_TABLE5),
    )
