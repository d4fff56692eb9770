"""`flowrep reproduce li-shi`: a plain net is a glued flow; Euler steps refine it.

The job is `job(report, *, quick, seed) -> dict`: it returns JSON-able
results, adds PNG figures and a short explanation to the `Report`, and is
small enough for a CPU in quick mode. It runs in float64 (`jax.enable_x64`),
so the CLI and the tests see the same numbers.
"""

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._depth._flow import flow
from .._depth._plainnet import plain_net_flow, refine
from .._width._activations import LeakyReLU
from ._claims import make_claim, verdict_of
from ._common import colormap, has_matplotlib, loglog_slope, subplots, verdict_line, x64
from ._report import Report


def orientation_preserving_mlp(
    key: jax.Array, dim: int, depth: int, alpha: float
) -> eqx.nn.MLP:
    """A plain leaky-ReLU net of square `dim x dim` layers with $\\det W>0$ in every layer.

    `eqx.nn.MLP` (default initialisation from `key`, `depth` hidden layers, so
    `depth + 1` linear layers, leaky ReLU of slope `alpha` after each one,
    the last included); where a layer has $\\det W<0$ its first row and bias
    entry are negated, which makes $\\det W>0$ deterministically.
    """
    act = LeakyReLU(alpha)
    mlp = eqx.nn.MLP(
        dim, dim, dim, depth, activation=act, final_activation=act, key=key
    )
    for i, layer in enumerate(mlp.layers):
        assert layer.bias is not None  # eqx.nn.MLP layers have biases by default
        if float(jnp.linalg.det(layer.weight)) < 0:
            flip = jnp.ones(dim, layer.weight.dtype).at[0].set(-1.0)
            new = eqx.tree_at(
                lambda lin: (lin.weight, lin.bias),
                layer,
                (layer.weight * flip[:, None], layer.bias * flip),
            )
            mlp = eqx.tree_at(lambda m, i=i: m.layers[i], mlp, new)
    return mlp


@x64
def li_shi(report: Report, *, quick: bool, seed: int) -> dict[str, Any]:
    """Li & Shi (arXiv 1708.06257): a plain net is a glued flow; n Euler steps per piece refine it.

    See docs/theory/flows.md#li-shi. A leaky-ReLU plain net with square layers and
    $\\det W>0$ becomes the piecewise-in-time field of `plain_net_flow`
    (rotation, scaling, rotation, translation, activation per layer). Its
    accurate adaptive solve must reproduce the plain net; its Euler broken
    line with $n$ steps per unit piece (`refine`, a ResNet of depth $nP$)
    must approach the plain net as $O(1/n)$: log-log slope about $-1$.
    """
    t_start = time.perf_counter()
    dim, depth, alpha = 2, 2, 0.2
    ns = (
        (4, 8, 16, 32, 64, 128, 256)
        if quick
        else (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    )
    # O(1/n) is asymptotic: with n < ~16 a step (1 + g/n) of a rotation or a
    # leaky piece is far from exp(g/n), so the slope is fitted from n_fit on
    n_fit = 16 if quick else 32
    num_points = 256 if quick else 2048
    k_net, k_x = jr.split(jr.PRNGKey(seed))
    mlp = orientation_preserving_mlp(k_net, dim, depth, alpha)
    field = plain_net_flow(mlp)
    x = jr.normal(k_x, (num_points, dim))
    target = jax.vmap(mlp)(x)
    scale = float(jnp.max(jnp.linalg.norm(target, axis=1)))

    rows = []
    for n in ns:
        resnet = refine(field, n)
        err = jnp.linalg.norm(jax.vmap(resnet)(x) - target, axis=1)
        rows.append(
            dict(
                n=int(n),
                depth=int(resnet.depth),
                max_error=float(jnp.max(err)),
                rms_error=float(jnp.sqrt(jnp.mean(err**2))),
            )
        )
    errors = [r["max_error"] for r in rows]
    fit = [i for i, n in enumerate(ns) if n >= n_fit]
    slope = loglog_slope([ns[i] for i in fit], [errors[i] for i in fit])
    slope_all = loglog_slope(ns, errors)
    local = [float(np.log2(a / b)) for a, b in zip(errors, errors[1:])]
    decreasing = bool(all(b < a for a, b in zip(errors, errors[1:])))

    # one accurate adaptive solve, saved densely: its end points give the
    # error, its first few tracks the figure
    rtol = 1e-10
    ts = jnp.linspace(0.0, field.t1, 40 * field.num_pieces + 1)
    solved = flow(
        field,
        x,
        ts=ts,
        stepsize_controller=field.stepsize_controller(rtol=rtol, atol=rtol),
        max_steps=100_000,
    )
    flow_err = float(jnp.max(jnp.linalg.norm(solved.xs - target, axis=1)))
    # the flow is exact on leaky pieces; the tolerance sets the error
    flow_ok = bool(flow_err < 1e-6 * max(scale, 1.0))
    reproduced = bool(decreasing and -1.3 <= slope <= -0.7 and flow_ok)

    dets = [float(jnp.linalg.det(layer.weight)) for layer in mlp.layers]
    result = dict(
        claim="n Euler steps per unit flow of the glued plain-net flow give a ResNet whose error is O(1/n)",
        net=dict(
            dim=dim,
            layers=len(mlp.layers),
            activation=f"leaky_relu(alpha={alpha})",
            det_w=dets,
            num_pieces=field.num_pieces,
            pieces=list(field.kinds),
        ),
        num_points=num_points,
        rows=rows,
        slope=slope,
        slope_fit_from_n=n_fit,
        slope_all_n=slope_all,
        local_orders=local,
        error_decreasing=decreasing,
        flow_error=flow_err,
        flow_rtol=rtol,
        flow_matches_plain_net=flow_ok,
        reproduced=reproduced,
        seconds=time.perf_counter() - t_start,
    )
    src = dict(
        paper="Z. Li & Z. Shi, A flow model of neural networks, arXiv 1708.06257",
        version="v1 (2017)",
        section="plain networks as flows (glued flow; Euler refinement)",
    )
    setting = (
        f"leaky-ReLU plain net, {len(mlp.layers)} square {dim}x{dim} layers (det W > 0), "
        f"seed {seed}, {num_points} points; n = {ns[0]}..{ns[-1]} Euler steps per unit piece"
    )
    verdict, part = verdict_of({"flow error": flow_ok})
    flow_verdict = (verdict, part)
    claims = [
        make_claim(
            claim="a plain net with det W > 0 is the time-1 map of a glued (piecewise) flow",
            source=src,
            setting=setting,
            control="the plain net's own output",
            value=dict(flow_error=flow_err, scale=scale, rtol=rtol),
            interval=None,
            verdict=verdict,
            rule="max error of the accurate adaptive solve < 1e-6 x max |net(x)|",
        )
    ]
    verdict, part = verdict_of(
        {
            "error decreasing in n": decreasing,
            "slope in [-1.3, -0.7]": -1.3 <= slope <= -0.7,
        }
    )
    claims.append(
        make_claim(
            claim="n Euler steps per piece refine the glued flow into a ResNet with error O(1/n)",
            source=src,
            setting=setting + f"; slope fitted for n >= {n_fit}",
            control="the plain net's own output",
            value=dict(
                slope=slope,
                slope_all_n=slope_all,
                local_orders=[min(local), max(local)],
            ),
            interval=None,
            verdict=verdict,
            rule="max error decreases at every doubling of n and the log-log slope over the "
            "fitted range lies in [-1.3, -0.7]",
            part=part,
        )
    )
    result["claims"] = claims

    if has_matplotlib():
        fig, ax = subplots(figsize=(7.5, 4))
        ax.loglog(ns, errors, "o-", label="max |ResNet(x) - plain net(x)|")
        ax.loglog(
            ns,
            [r["rms_error"] for r in rows],
            "s--",
            ms=4,
            label="RMS error",
        )
        ref = errors[-1] * ns[-1] / np.asarray(ns, float)
        ax.loglog(ns, ref, "k:", lw=1, label="O(1/n)")
        ax.axhline(
            flow_err,
            color="0.5",
            lw=0.8,
            ls="-.",
            label=f"adaptive flow ({flow_err:.1e})",
        )
        ax.set_xlabel("Euler steps per unit flow, n")
        ax.set_ylabel("error (units of x)")
        ax.axvspan(n_fit, ns[-1], color="0.9", zorder=0, label="fitted range")
        ax.set_title(f"Li-Shi refinement: slope {slope:.2f}")
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
        )
        report.figure(
            fig,
            "li_shi_error.png",
            f"Refinement error of the ResNet (n Euler steps per unit piece) against the plain net "
            f"on {num_points} points. Look for: both error curves parallel to the dotted O(1/n) line "
            f"over the shaded fitted range (log-log slope {slope:.3f} for n >= {n_fit}; claim -1), "
            f"and the dash-dotted adaptive-solve error ({flow_err:.1e}) far below them.",
            verdict=verdict_line(verdict, part),
        )

        num_tracks = 12
        pts = np.asarray(solved.tracks[:, :num_tracks])
        knots = np.searchsorted(np.asarray(ts), np.arange(field.num_pieces + 1) - 1e-9)
        fig, ax = subplots(figsize=(7.5, 5.5))
        colors = colormap("tab10")
        kinds = sorted(set(field.kinds), key=field.kinds.index)
        for p in range(field.num_pieces):
            seg = pts[knots[p] : knots[p + 1] + 1]
            c = colors(kinds.index(field.kinds[p]))
            for i in range(num_tracks):
                ax.plot(seg[:, i, 0], seg[:, i, 1], "-", color=c, lw=1)
        for k, kind in enumerate(kinds):
            ax.plot([], [], "-", color=colors(k), label=kind)
        ax.scatter(*pts[0].T, s=14, c="k", label="input x", zorder=3)
        tgt = np.asarray(target[:num_tracks])
        ax.scatter(
            *tgt.T,
            s=60,
            facecolors="none",
            edgecolors="r",
            linewidths=1.5,
            zorder=4,
            label="plain net(x)",
        )
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$ (units of x)")
        ax.set_ylabel("$x_2$ (units of x)")
        ax.legend(
            title="tracks by unit piece",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7,
            frameon=False,
        )
        ax.set_title(
            f"glued Li-Shi flow of a {len(mlp.layers)}-layer plain net (d = 2)"
        )
        report.figure(
            fig,
            "li_shi_tracks.png",
            f"Tracks of {num_tracks} points (black dots) through the glued flow, coloured by the kind of "
            "unit piece (legend). Look for: every track ending inside its red circle, the plain net's "
            "output for that point.",
            verdict=verdict_line(*flow_verdict),
        )

    report.section(
        "Li & Shi: plain nets as flows",
        f"A {len(mlp.layers)}-layer leaky-ReLU plain net on R^2 (det W > 0 in every layer) is written as "
        f"{field.num_pieces} unit-time flows (rotation, scaling, rotation, translation, activation per layer). "
        f"Solving that glued flow accurately reproduces the plain net (max error {flow_err:.2e}); "
        f"n Euler steps per piece give a ResNet whose error falls with log-log slope {slope:.3f} for n >= {n_fit} "
        f"(claim O(1/n), slope -1): {'reproduced' if reproduced else 'NOT reproduced'}.",
    )
    return result
