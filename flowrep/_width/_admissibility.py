"""The admissibility pairing $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$ and ACHA's Table 5.

$\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle=(2\\pi)^{d-1}\\int_{\\mathbb R}\\sigma^\\sharp(\\omega)\\overline{\\rho^\\sharp(\\omega)}|\\omega|^{-d}d\\omega$
(Ghosts Def. 5 / Thm 6, ACHA Thm 5.6; docs/theory/ridgelets.md#admissibility). The pair is
admissible when the integral converges absolutely and is non-zero; then
$S[R[f;\\rho]]=\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle f$.

This is host-side code (NumPy and SciPy on concrete values, float64), meant
to run once per (activation, profile, dimension), not inside `jit`. The
profiles' `fourier` methods are JAX functions evaluated eagerly, point by
point: the quadrature is pinned to the CPU device, so on a GPU/TPU it neither
pays a launch and a transfer per evaluation nor depends on the device's
float64 support.
"""

import dataclasses
import math
import numbers
from typing import Any, Literal

import jax
import jax.numpy as jnp

from ._activations import (
    Gaussian,
    Identity,
    ReLU,
    Sigmoid,
    SigmoidDerivative,
    Softplus,
    Step,
)
from ._pairing import NotAdmissibleError as NotAdmissibleError, pairing
from ._ridgelets import LambdaGaussian


Status = Literal["+", "0", "inf"]


def _check_profile(obj: Any, what: str) -> None:
    if not callable(getattr(obj, "fourier", None)):
        raise TypeError(
            f"`{what}` must have a `fourier(omega)` method (an activation or ridgelet "
            f"profile); got {type(obj).__name__}."
        )
    # A user's `fourier` that fails or returns the wrong shape is named here,
    # not deep inside the quadrature.
    probe = jnp.array([0.25, 0.5, 1.0, 2.0, 4.0])
    try:
        with jax.default_device(jax.devices("cpu")[0]):
            out = jnp.asarray(obj.fourier(probe))
    except Exception as e:  # noqa: BLE001 (re-raised with the argument's name)
        raise TypeError(
            f"`{what}.fourier(omega)` failed on a test array of frequencies: "
            f"{type(e).__name__}: {e}"
        ) from e
    if out.shape != probe.shape or not jnp.issubdtype(out.dtype, jnp.number):
        raise ValueError(
            f"`{what}.fourier(omega)` must be elementwise (same shape as omega, "
            f"numbers); on omega of shape {probe.shape} it gave {out.shape} "
            f"{out.dtype}."
        )


# (2 pi)^(d-1) overflows a float64 from d = 387; the pairing is then not a number.
MAX_DIM = 380


def _check_dim(dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"`dim` must be a positive integer; got {dim!r}.")
    if dim < 1:
        raise ValueError(
            f"`dim` must be a positive integer (the input dimension d); got {dim}."
        )
    if int(dim) > MAX_DIM:
        raise ValueError(
            f"`dim`={dim} is too large: the pairing's factor (2 pi)^(d-1) overflows "
            f"a float64 beyond d = {MAX_DIM}."
        )
    return int(dim)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def admissibility(sigma: Any, rho: Any, dim: int, *, s: float = 0.0) -> float | complex:
    """The admissibility pairing $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$ in dimension $d$.

    $\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle=(2\\pi)^{d-1}\\int\\sigma^\\sharp(\\omega)\\overline{\\rho^\\sharp(\\omega)}|\\omega|^{-d}d\\omega$
    (Ghosts Thm 6; ACHA Thm 5.6; docs/theory/ridgelets.md#admissibility), so that
    $S[R[f;\\rho]]=\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle f$.

    Closed forms for ReLU/leaky ReLU or a Gaussian-family activation against
    $G^{(k)}$, $\\Lambda^pG^{(l)}$ or the Gaussian (the formulas of docs/theory/ridgelets.md#gaussian-derivative-ridgelets and
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
    - `dim`: the input dimension $d\\ge1$.
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
    if isinstance(s, bool) or not isinstance(s, numbers.Real):
        raise TypeError(f"`s` must be a finite real number; got {s!r}.")
    if not math.isfinite(s):
        raise ValueError(f"`s` must be a finite real number; got {s!r}.")
    with jax.default_device(jax.devices("cpu")[0]):
        return pairing(sigma, rho, dim)


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

    - `dim`: the input dimension $d$.
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
    with filter order $m=d=$ `dim` (`LambdaGaussian(dim, l)`, $l=0,1,2$). Sonoda & Murata,
    ACHA 2017, Table 5; docs/theory/ridgelets.md#acha-table-5.

    **Arguments:**

    - `dim`: the input dimension $d\\ge1$.

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
