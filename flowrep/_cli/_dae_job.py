"""`flowrep reproduce dae`: Sonoda & Murata's DAE transport on a 2-D Gaussian mixture.

The job is `job(report, *, quick, seed) -> dict`: it returns JSON-able
results, adds PNG figures and a short explanation to the `Report`, and is
small enough for a CPU in quick mode. It runs in float64 (`jax.enable_x64`),
so the CLI and the tests see the same numbers.
"""

import time
from typing import Any

import jax.random as jr
import numpy as np

from ._claims import make_claim, verdict_of
from ._common import has_matplotlib, loglog_slope, verdict_line, x64
from ._report import Report


_DAE_FIGURES = (
    (
        "transport.png",
        "dae_transport.png",
        "Data, the shallow DAE g_t and the deep DAE flow phi_t on the same samples; contours: the exact mu_t. "
        "Look for: both maps carrying the samples towards the high-density regions of the contours.",
    ),
    (
        "displacement.png",
        "dae_displacement.png",
        "Displacement fields g_t(x) - x (shallow), phi_t(x) - x (deep) and a trained MLP denoiser's. "
        "Look for: the trained denoiser's arrows matching the shallow DAE's closed form.",
    ),
    (
        "entropy.png",
        "dae_entropy.png",
        "Entropy along the deep DAE flow: closed form (quadrature), continuity equation, k-NN. "
        "Look for: all three falling with t, the continuity estimate on the closed form.",
    ),
    (
        "depth.png",
        "dae_depth.png",
        "Deeper converges faster: L stacked DAEs of noise t/L against the deep limit. "
        "Look for: the distance to the deep limit falling at every increase of L.",
    ),
)


def _strictly_decreasing(values) -> bool:
    v = np.asarray(values, float)
    return bool(v.size >= 2 and np.all(np.diff(v) < 0))


def dae_verdicts(summary: dict[str, Any]) -> dict[str, Any]:
    """Read the DAE story's summary (`flowrep._dae.dae_story`) into checked claims.

    - entropy decreases along the deep flow, for each estimate (closed form,
      continuity equation, k-NN), and the continuity estimate agrees with the
      closed form within 3 standard errors;
    - the L-sweep ("deeper converges faster") is monotone: the distance to
      the deep limit falls strictly with L (Gaussian: exact $W_2$; mixture:
      map RMS), with its log-log slope over L.
    """
    ent = summary["entropy"]
    closed = np.asarray(ent["closed_form"], float)
    cont = np.asarray(ent["continuity"], float)
    stderr = np.asarray(ent["continuity_stderr"], float)
    decreasing = {
        k: _strictly_decreasing(ent[k]) for k in ("closed_form", "continuity", "knn")
    }
    z = np.abs(cont - closed) / np.maximum(stderr, 1e-300)
    out: dict[str, Any] = dict(
        entropy_decreasing=bool(decreasing["closed_form"] and decreasing["continuity"]),
        entropy_decreasing_by_estimate=decreasing,
        entropy_drop=float(closed[0] - closed[-1]),
        continuity_vs_closed_max_z=float(np.max(z)),
        continuity_agrees=bool(np.max(z) < 3.0),
        knn_vs_closed_max_abs=float(
            np.max(np.abs(np.asarray(ent["knn"], float) - closed))
        ),
    )
    sweeps = {}
    for name, key in (
        ("depth_table_gaussian", "w2_to_deep"),
        ("depth_table_mixture", "map_rms"),
    ):
        if name not in summary:
            continue
        rows = summary[name]["rows"]
        ls = [r["num_layers"] for r in rows]
        dist = [r[key] for r in rows]
        sweeps[name] = dict(
            t=summary[name]["t"],
            distance=key,
            rows=[
                dict(
                    L=r["num_layers"],
                    distance=r[key],
                    entropy=r["entropy"],
                    entropy_deep=r["entropy_deep"],
                )
                for r in rows
            ],
            monotone=_strictly_decreasing(dist),
            loglog_slope=loglog_slope(ls, dist) if len(ls) >= 2 else None,
        )
    out["l_sweep"] = sweeps
    out["l_sweep_monotone"] = bool(sweeps) and all(
        s["monotone"] for s in sweeps.values()
    )
    return out


@x64
def dae(report: Report, *, quick: bool, seed: int) -> dict[str, Any]:
    """Sonoda & Murata's DAE transport on a 2-D Gaussian mixture (docs/theory/dae.md#gaussian-mixtures).

    Runs `flowrep._dae.dae_story` (its four figures are saved as
    `dae_*.png` and shown in the report) and checks its claims with
    `dae_verdicts`: the entropy decreases along the deep DAE flow (three
    independent estimates), and L stacked DAEs of noise $t/L$ approach the
    deep limit monotonically in L.
    """
    from .._dae._story import dae_story

    t_start = time.perf_counter()
    summary = dae_story(quick=quick, key=jr.PRNGKey(seed), figures=has_matplotlib())
    plots = []
    checks = dae_verdicts(summary)
    ent = summary["entropy"]
    out = dict(
        claim="the deep DAE (grad log mu_t flow) decreases entropy; L stacked DAEs of noise t/L approach it "
        "as L grows (deeper converges faster)",
        t=summary["t"],
        collapse_time=summary["collapse_time"],
        num_samples=summary["num_samples"],
        learned_relative_error=summary.get("learned_relative_error"),
        entropy=dict(
            t=ent["t"],
            closed_form=ent["closed_form"],
            continuity=ent["continuity"],
            continuity_stderr=ent["continuity_stderr"],
            knn=ent["knn"],
            fisher=ent["fisher"],
        ),
        **checks,
        reproduced=bool(checks["entropy_decreasing"] and checks["l_sweep_monotone"]),
        figures=plots,
        seconds=time.perf_counter() - t_start,
    )
    out["claims"] = _dae_claims(checks, summary, quick=quick, seed=seed)
    # the entropy figure carries the entropy claim's verdict, the depth figure the L-sweep's
    claim_of = {
        "dae_entropy.png": "decreases the entropy",
        "dae_depth.png": "stacked DAEs",
    }
    for src, dst, caption in _DAE_FIGURES:
        fig = summary.get("figures", {}).get(src)
        if fig is not None:
            key = claim_of.get(dst)
            c = None
            if key is not None:
                c = next((c for c in out["claims"] if key in c["claim"]), None)
            verdict = None if c is None else verdict_line(c["verdict"], c.get("part"))
            report.figure(fig, dst, caption, verdict=verdict)
            plots.append(dst)
    sweep_txt = "; ".join(
        f"{name.removeprefix('depth_table_')}: {s['distance']} "
        + ", ".join(f"L={r['L']}: {r['distance']:.4f}" for r in s["rows"])
        for name, s in checks["l_sweep"].items()
    )
    dec = checks["entropy_decreasing_by_estimate"]
    dec_txt = ", ".join(k for k, v in dec.items() if v) or "none"
    report.section(
        "Denoising autoencoders as transport",
        f"On a 2-D three-component Gaussian mixture with noise t = {summary['t']:.4f} (80% of the collapse time "
        f"{summary['collapse_time']:.4f}): the entropy H[mu_t] along the deep DAE flow falls from "
        f"{ent['closed_form'][0]:.4f} to {ent['closed_form'][-1]:.4f} (closed form; continuity equation and "
        f"k-NN estimates: decreasing for {dec_txt}). Deeper converges faster "
        f"({'monotone' if checks['l_sweep_monotone'] else 'NOT monotone'}): {sweep_txt}.",
    )
    return out


_SONODA = dict(
    paper="Sonoda & Murata, Transportation analysis of denoising autoencoders: a novel "
    "method for analyzing deep neural networks, arXiv 1712.04145",
    version="v1 (2017)",
    section="deep DAE as transport; entropy decrease; stacked DAEs (docs/theory/dae.md#deep-dae)",
)


def _dae_claims(checks, summary, *, quick: bool, seed: int) -> list[dict[str, Any]]:
    """The DAE job's claims, verdicts from `dae_verdicts`' checks."""
    setting = (
        f"2-D three-component Gaussian mixture, t = {summary['t']:.4f} (0.8 x collapse time), "
        f"{summary['num_samples']} samples, seed {seed}, {'quick' if quick else 'full'} mode"
    )
    dec = checks["entropy_decreasing_by_estimate"]
    verdict, part = verdict_of(
        {
            "closed form decreasing": dec["closed_form"],
            "continuity decreasing": dec["continuity"],
            "continuity within 3 s.e. of closed form": checks["continuity_agrees"],
        }
    )
    ent = summary["entropy"]
    claims = [
        make_claim(
            claim="the deep DAE flow decreases the entropy of the data law",
            source=_SONODA,
            setting=setting,
            control="closed-form entropy of the mixture at each t (continuity-equation "
            "estimate compared with it)",
            value=dict(
                entropy_from=ent["closed_form"][0],
                entropy_to=ent["closed_form"][-1],
                max_z=checks["continuity_vs_closed_max_z"],
            ),
            interval=dict(
                mean=ent["continuity"][-1],
                se=ent["continuity_stderr"][-1],
                low=ent["continuity"][-1] - 2 * ent["continuity_stderr"][-1],
                high=ent["continuity"][-1] + 2 * ent["continuity_stderr"][-1],
                n=summary["num_samples"],
                method="continuity estimate at the last t, ± 2 sampling s.e.",
            ),
            verdict=verdict,
            rule="closed-form and continuity entropies strictly decrease in t, and the "
            "continuity estimate is within 3 s.e. of the closed form at every t",
            part=part,
        )
    ]
    sweeps = checks["l_sweep"]
    verdict, part = verdict_of({name: s["monotone"] for name, s in sweeps.items()})
    claims.append(
        make_claim(
            claim="L stacked DAEs of noise t/L approach the deep DAE as L grows (deeper converges faster)",
            source=_SONODA,
            setting="Gaussian N(0, [[1, .3], [.3, .6]]) at 0.8 x collapse time (exact W2) and the "
            "mixture above (map RMS)",
            control="the deep (L -> infinity) limit",
            value={
                name: dict(
                    L=[r["L"] for r in s["rows"]],
                    distance=[r["distance"] for r in s["rows"]],
                    loglog_slope=s["loglog_slope"],
                )
                for name, s in sweeps.items()
            },
            interval=None,
            verdict=verdict,
            rule="the distance to the deep limit falls strictly with L in each sweep",
            part=part,
        )
    )
    return claims
