"""Width-continuum jobs: ACHA section 7 reconstructions, Table 5, ghosts."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._width._activations import Gaussian, ReLU, Sigmoid, Softplus, Step, Tanh
from .._width._admissibility import (
    admissibility,
    admissibility_table,
    NotAdmissibleError,
)
from .._width._nodes import grid_nodes, parameter_grid
from .._width._ridgelets import GaussianDerivative, LambdaGaussian
from .._width._transform import dual_ridgelet_transform, ridgelet_transform
from ._common import has_matplotlib, subplots
from ._html import Table
from ._report import Report


def _sin2pi(p):
    return jnp.sin(2 * jnp.pi * p[0])


# (activation, ridgelet) pairs in the spirit of ACHA section 7, with Gaussian-derivative
# ridgelets (fast to evaluate; docs/theory/ridgelets.md#gaussian-derivative-ridgelets: admissible for the parities and orders below).
ACHA_PAIRS = [
    ("relu", ReLU(), "G^(4)", GaussianDerivative(4)),
    ("softplus", Softplus(), "G^(4)", GaussianDerivative(4)),
    ("sigmoid", Sigmoid(), "G^(3)", GaussianDerivative(3)),
    ("step", Step(), "G^(3)", GaussianDerivative(3)),
    ("gaussian", Gaussian(), "G^(2)", GaussianDerivative(2)),
    ("tanh", Tanh(), "G^(3)", GaussianDerivative(3)),
    # not admissible: the pairing vanishes (a ghost) or diverges
    ("tanh", Tanh(), "G^(2)", GaussianDerivative(2)),
    ("relu", ReLU(), "G^(2)", GaussianDerivative(2)),
]

# The same activations with ACHA's own ridgelets $\Lambda^1G^{(l)}$ (Table 5, dim 1):
# admissible where Table 5 has "+", a ghost where it has "0", divergent at "inf".
# Their algebraic tails make the spectrum decay slowly in (a, b), so the
# truncated reconstruction converges more slowly in A than with G^(k).
ACHA_LAMBDA_PAIRS = [
    ("relu", ReLU(), "Lambda^1 G^(2)", LambdaGaussian(1, 2)),
    ("softplus", Softplus(), "Lambda^1 G^(2)", LambdaGaussian(1, 2)),
    ("sigmoid", Sigmoid(), "Lambda^1 G^(1)", LambdaGaussian(1, 1)),
    ("step", Step(), "Lambda^1 G^(1)", LambdaGaussian(1, 1)),
    ("gaussian", Gaussian(), "Lambda^1 G^(0)", LambdaGaussian(1, 0)),
    ("tanh", Tanh(), "Lambda^1 G^(1)", LambdaGaussian(1, 1)),
    ("tanh", Tanh(), "Lambda^1 G^(2)", LambdaGaussian(1, 2)),
    ("relu", ReLU(), "Lambda^1 G^(0)", LambdaGaussian(1, 0)),
]


def acha_1d(report: Report, *, quick: bool) -> dict[str, Any]:
    """Reconstruct $\\sin2\\pi x$ on [-1, 1] from Riemann sums over $(a,b)\\in[-A,A]^2$."""
    big_a, num = (20.0, 200) if quick else (30.0, 600)
    x, w = grid_nodes(-1.0, 1.0, num)
    a, b, wab = parameter_grid(big_a, big_a, num, num)
    xe = jnp.linspace(-1, 1, 201)[:, None]
    fe = jax.vmap(_sin2pi)(xe)
    inner = jnp.abs(xe[:, 0]) <= 0.8
    rows, curves = [], {}
    for sname, sigma, rname, rho in ACHA_PAIRS + ACHA_LAMBDA_PAIRS:
        try:
            pairing = admissibility(sigma, rho, 1)
            status, reason = "admissible", None
        except NotAdmissibleError as err:
            pairing, status, reason = (
                None,
                ("ghost" if err.reason == "vanishes" else "diverges"),
                str(err),
            )
        gamma = ridgelet_transform(_sin2pi, rho, a, b, x, w)
        raw = dual_ridgelet_transform(gamma, sigma, a, b, wab, xe)
        rec = raw / pairing if pairing is not None else raw
        err_in = (
            float(jnp.max(jnp.abs(rec - fe)[inner])) if pairing is not None else None
        )
        rows.append(
            dict(
                activation=sname,
                ridgelet=rname,
                status=status,
                pairing=pairing
                if not isinstance(pairing, complex)
                else [pairing.real, pairing.imag],
                sup_error_inner=err_in,
                raw_max_abs=float(jnp.max(jnp.abs(raw))),
                reconstructs=bool(err_in is not None and err_in < 0.15),
                reason=reason,
            )
        )
        curves[f"{sname} / {rname}"] = np.asarray(rec)
    if has_matplotlib():
        fig, axes = subplots(4, 4, figsize=(14, 11), sharex=True)
        for ax, (label, rec), row in zip(axes.ravel(), curves.items(), rows):
            ax.plot(xe[:, 0], fe, "k--", lw=1, label="f")
            ax.plot(
                xe[:, 0],
                rec,
                lw=1.5,
                label="S[R f] / <<σ,ρ>>"
                if row["pairing"] is not None
                else "S[R f] (raw)",
            )
            ax.set_title(f"{label}: {row['status']}", fontsize=9)
            ax.set_ylim(-1.6, 1.6)
        for ax in axes[-1]:
            ax.set_xlabel("x")
        for ax in axes[:, 0]:
            ax.set_ylabel("f(x), reconstruction")
        # one legend for all panels, above them (off the data)
        fig.legend(
            *axes[0, 0].get_legend_handles_labels(),
            loc="outside lower center",
            ncol=2,
            frameon=False,
        )
        fig.suptitle(
            f"ACHA §7: sin 2πx from its ridgelet spectrum, (a,b) ∈ [-{big_a:g},{big_a:g}]², {num}² units"
        )
        report.figure(
            fig,
            "acha_1d.png",
            "Reconstructions of sin 2πx with Gaussian-derivative ridgelets G^(k) (top two rows) "
            "and ACHA's Λ¹G^(l) (bottom two rows); admissible pairs reconstruct, ghosts give ~0.",
        )
        # the spectrum of one admissible pair
        g = np.asarray(
            ridgelet_transform(_sin2pi, GaussianDerivative(4), a, b, x, w)
        ).reshape(num, num)
        fig, ax = subplots(figsize=(5, 4))
        im = ax.imshow(
            g.T,
            origin="lower",
            extent=(-big_a, big_a, -big_a, big_a),
            aspect="auto",
            cmap="RdBu_r",
        )
        ax.set_xlabel("a")
        ax.set_ylabel("b")
        ax.set_title("ridgelet spectrum R[sin 2πx; G^(4)](a, b)")
        fig.colorbar(im, ax=ax, label="gamma(a, b)")
        report.figure(
            fig,
            "spectrum.png",
            "The parameter distribution gamma = R[f; G^(4)] over (a, b).",
        )
    return dict(grid=dict(A=big_a, num=num), pairs=rows)


def _table5_html(table: Any) -> Table:
    """Computed status (pairing value) and ACHA's published entry, per pair."""
    columns = ["σ"]
    for c in table.columns:
        columns += [f"{c}: computed", f"{c}: ACHA"]
    rows = []
    for r in table.rows:
        cells: list[Any] = [r]
        for st, val, pub in zip(table.status[r], table.values[r], table.published[r]):
            shown = f"{st} ({val:.4g})" if isinstance(val, float) else str(st)
            cells += [shown, str(pub)]
        rows.append(cells)
    verdict = "matches" if table.matches_published() else "DIFFERS FROM"
    return Table(
        columns,
        rows,
        caption=f"Status of <<σ, ρ>> (+: admissible, with its value; 0: vanishes; ∞: diverges) "
        f"computed in dimension m = {table.dim}; the pattern {verdict} ACHA's Table 5.",
    )


def table5(report: Report, *, dims=(1, 2)) -> dict[str, Any]:
    """ACHA Table 5 computed next to the published +/0/inf pattern."""
    out = {}
    for dim in dims:
        table = admissibility_table(dim)
        out[f"dim{dim}"] = table.to_dict()
        report.section(
            f"ACHA Table 5, m = {dim}", table.format(), table=_table5_html(table)
        )
    out["matches_published"] = all(v["matches_published"] for v in out.values())
    return out


def ghosts(report: Report, *, quick: bool) -> dict[str, Any]:
    """tanh with even Gaussian-derivative ridgelets: the pairing vanishes and S[R f] ~ 0."""
    big_a, num = (20.0, 200) if quick else (30.0, 500)
    x, w = grid_nodes(-1.0, 1.0, num)
    a, b, wab = parameter_grid(big_a, big_a, num, num)
    xe = jnp.linspace(-0.8, 0.8, 81)[:, None]
    rows = []
    for k in (0, 1, 2, 3, 4):
        rho = GaussianDerivative(k)
        gamma = ridgelet_transform(_sin2pi, rho, a, b, x, w)
        raw = dual_ridgelet_transform(gamma, Tanh(), a, b, wab, xe)
        try:
            pairing, status = admissibility(Tanh(), rho, 1), "admissible"
        except NotAdmissibleError as err:
            pairing, status = (
                None,
                ("ghost" if err.reason == "vanishes" else "diverges"),
            )
        rows.append(
            dict(
                k=k,
                status=status,
                pairing=pairing,
                raw_max_abs=float(jnp.max(jnp.abs(raw))),
                spectrum_max_abs=float(jnp.max(jnp.abs(gamma))),
            )
        )
    return dict(activation="tanh", rows=rows)
