"""Sonoda & Murata's DAE story in pictures: transport, displacement, entropy, depth.

`dae_story` reproduces the paper's claims on a 2-D mixture (docs/theory/dae.md#gaussian-mixtures) and returns its numbers, the arrays its figures show and, on
request, the figures themselves; it writes files only in its old form
`dae_story(out_dir)`.
"""

import errno
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Key
from .._io import write_atomic
from .._validate import check_bool, check_key
from ._closed_form import deep_dae_flow, entropy_curves, shallow_dae
from ._laws import GaussianLaw, GaussianMixture
from ._learned import relative_map_error, train_denoiser
from ._stacked import depth_table


def story_mixture() -> GaussianMixture:
    """The 2-D, three-component mixture used by `dae_story`."""
    return GaussianMixture(
        jnp.array([0.3, 0.4, 0.3]),
        jnp.array([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5]]),
        jnp.array(
            [
                [[0.6, 0.0], [0.0, 0.6]],
                [[0.9, 0.2], [0.2, 0.7]],
                [[0.6, -0.1], [-0.1, 0.8]],
            ]
        ),
    )


def dae_story(
    out_dir: str | os.PathLike | None = None,
    *,
    quick: bool = True,
    key: Key | None = None,
    progress: bool = False,
    figures: bool = False,
) -> dict[str, Any]:
    """Reproduce Sonoda & Murata's DAE story on a 2-D mixture: numbers, arrays, figures.

    Its four figures (matplotlib `Figure`s, made without pyplot or a global
    backend, keyed by file name):

    1. `transport.png`: data, the shallow DAE $g_t$ and the deep DAE $\\phi_t$
       applied to the same samples, with the exact $\\mu_t$ contours.
    2. `displacement.png`: the displacement fields $g_t(x)-x$, $\\phi_t(x)-x$
       and a trained denoiser's $g(x)-x$ on a grid.
    3. `entropy.png`: $H[\\mu_t]$ along the deep flow: closed form
       (quadrature), continuity equation, k-NN.
    4. `depth.png`: the "deeper converges faster" sweep: L stacked DAEs of
       noise $t/L$ against the deep limit (Gaussian: exact $W_2$; mixture:
       map RMS).

    **Arguments:** `quick` (smaller sizes, about a minute on a CPU); `key`
    (default `PRNGKey(0)`); `progress` (tqdm bars while training); `figures`
    (also draw the four figures; needs matplotlib). `out_dir` is the old
    interface, kept for now: when given, the four PNGs and `dae_story.json`
    are written there (each atomically) and the summary is returned as
    before; without it nothing is written.

    **Returns:** the summary dict: JSON-able numbers (`t`, `collapse_time`,
    `num_samples`, `quick`, `learned_relative_error`, `learned_steps`,
    `entropy`, `depth_table_gaussian`, `depth_table_mixture`), plus `arrays`
    (the numpy arrays the figures show: samples, their shallow and deep DAE
    images, the densities on a grid, the displacement fields) and, with
    `figures=True`, `figures` (file name -> `Figure`). With `out_dir`: the
    summary written to `dae_story.json` (no `arrays` or `figures`; `files`
    lists what the folder holds).

    **Raises:** `TypeError` for a non-bool `quick`/`progress`/`figures` or a
    bad `key`; `OSError` (`NotADirectoryError`, `PermissionError`, ...)
    naming `out_dir` when it cannot be made or written, before any work.
    """
    quick = check_bool(quick, "quick")
    progress = check_bool(progress, "progress")
    figures = check_bool(figures, "figures")
    if key is not None:
        check_key(key)
    folder = None
    if out_dir is not None:
        # Refuse an unusable folder before a minute of work, not after it.
        if not isinstance(out_dir, (str, os.PathLike)):
            raise TypeError(
                f"`out_dir` must be a folder path (str or os.PathLike); got {out_dir!r}."
            )
        folder = os.fspath(out_dir)
        if folder == "":
            raise ValueError("`out_dir` is empty: pass a folder path.")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise type(e)(
                e.errno, f"`out_dir` cannot be used as a folder: {e.strerror}", folder
            ) from None
        if not os.access(folder, os.W_OK):
            raise PermissionError(errno.EACCES, "`out_dir` is not writable", folder)
    story = _compute(quick=quick, key=key, progress=progress)
    if folder is not None:
        return _write(folder, story)
    if figures:
        story["figures"] = story_figures(story)
    return story


def _compute(*, quick: bool, key: Key | None, progress: bool) -> dict[str, Any]:
    key = jr.PRNGKey(0) if key is None else key
    k_data, k_ent, k_depth, k_train, k_test = jr.split(key, 5)
    mix = story_mixture()
    tstar = float(mix.collapse_time)
    t = 0.8 * tstar
    n = 800 if quick else 4000
    x0 = mix.sample(n, key=k_data)
    shallow = shallow_dae(mix, t, x0)
    deep_res = deep_dae_flow(mix, x0, t)
    deep = jnp.asarray(deep_res.xs)
    mu_t = mix.backward_heat(t)
    summary: dict[str, Any] = dict(t=t, collapse_time=tstar, num_samples=n, quick=quick)

    lo, hi = np.array([-4.5, -2.5]), np.array([4.5, 5.0])
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    grid = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1))

    def density(law):
        return np.asarray(jnp.exp(jax.vmap(law.log_prob)(grid))).reshape(gx.shape)

    # displacement fields on a coarse grid, plus a learned DAE
    qx, qy = np.meshgrid(np.linspace(-4, 4, 17), np.linspace(-2, 4.5, 14))
    q = jnp.asarray(np.stack([qx.ravel(), qy.ravel()], 1))
    d_shallow = shallow_dae(mix, t, q) - q
    d_deep = jnp.asarray(deep_dae_flow(mix, q, t).xs) - q
    steps = 300 if quick else 2000
    x_train = mix.sample(4000 if quick else 20_000, key=k_train)
    model = train_denoiser(x_train, t, key=k_train, num_steps=steps, progress=progress)
    d_learned = jax.vmap(model.displacement)(q)
    x_test = mix.sample(1000, key=k_test)
    summary["learned_relative_error"] = float(
        relative_map_error(jax.vmap(model), lambda z: shallow_dae(mix, t, z), x_test)
    )
    summary["learned_steps"] = steps

    # entropy along the deep flow
    ts = np.linspace(0.0, t, 6 if quick else 12)
    ent = entropy_curves(mix, ts, key=k_ent, num_samples=n)
    summary["entropy"] = {k: np.asarray(v).tolist() for k, v in ent.items()}

    # deeper converges faster
    ls = (1, 2, 4, 8, 16, 32, 64) if not quick else (1, 2, 4, 8, 16)
    gauss = GaussianLaw(jnp.zeros(2), jnp.array([[1.0, 0.3], [0.3, 0.6]]))
    t_g = 0.8 * float(gauss.collapse_time)
    table_g = depth_table(gauss, t_g, ls)
    ls_mix = (1, 2, 4, 8) if quick else (1, 2, 4, 8, 16)
    table_m = depth_table(
        mix, t, ls_mix, key=k_depth, num_samples=1500 if quick else 4000, em_iters=30
    )
    summary["depth_table_gaussian"] = dict(t=t_g, rows=table_g)
    summary["depth_table_mixture"] = dict(t=t, rows=table_m)

    summary["arrays"] = dict(
        samples=np.asarray(x0),
        shallow=np.asarray(shallow),
        deep=np.asarray(deep),
        grid_x=gx,
        grid_y=gy,
        density_data=density(mix),
        density_t=density(mu_t),
        quiver_points=np.asarray(q),
        displacement_shallow=np.asarray(d_shallow),
        displacement_deep=np.asarray(d_deep),
        displacement_learned=np.asarray(d_learned),
    )
    return summary


def story_figures(story: dict[str, Any]) -> dict[str, Any]:
    """The four figures of `dae_story`'s result, as matplotlib `Figure`s keyed by file name.

    Made with `matplotlib.figure.Figure`: no pyplot state, no global backend.
    """
    from matplotlib.figure import Figure

    arr = story["arrays"]
    t = story["t"]
    gx, gy = arr["grid_x"], arr["grid_y"]

    def panel_row(titles):
        fig = Figure(figsize=(13, 4.2), layout="constrained")
        axes = fig.subplots(1, 3, sharex=True, sharey=True)
        for ax, title in zip(axes, titles):
            ax.set_title(title, fontsize=10)
            ax.set_aspect("equal")
            ax.set_xlabel("$x_1$ (data units)")
        axes[0].set_ylabel("$x_2$ (data units)")
        return fig, axes

    def contour(ax, dens, color):
        ax.contour(gx, gy, dens, levels=6, colors=color, linewidths=0.7)

    out = {}
    fig, axes = panel_row(
        [
            "data $x\\sim\\mu_0$",
            f"shallow DAE $g_t(x)$, t={t:.3f}",
            "deep DAE $\\phi_t(x)$ (flow), contours: $\\mu_t$",
        ]
    )
    for ax, pts, dens in zip(
        axes,
        (arr["samples"], arr["shallow"], arr["deep"]),
        (arr["density_data"], None, arr["density_t"]),
    ):
        ax.scatter(*pts.T, s=3, alpha=0.5)
        if dens is not None:
            contour(ax, dens, "k")
    out["transport.png"] = fig

    fig, axes = panel_row(
        [
            "shallow $g_t(x)-x$",
            "deep $\\phi_t(x)-x$",
            f"learned MLP DAE (rel. err {story['learned_relative_error']:.3f})",
        ]
    )
    for ax, name in zip(axes, ("shallow", "deep", "learned")):
        contour(ax, arr["density_data"], "0.7")
        ax.quiver(
            *arr["quiver_points"].T,
            *arr[f"displacement_{name}"].T,
            angles="xy",
            scale_units="xy",
            scale=1.0,
            width=0.004,
        )
    out["displacement.png"] = fig

    ent = {k: np.asarray(v) for k, v in story["entropy"].items()}
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    ts = ent["t"]
    ax.plot(ts, ent["closed_form"], "k-", label="closed form $\\mu_t$ (quadrature)")
    ax.errorbar(
        ts,
        ent["continuity"],
        yerr=2 * ent["continuity_stderr"],
        fmt="o",
        ms=4,
        label="continuity equation ($\\pm2$ s.e.)",
    )
    ax.plot(ts, ent["knn"], "s--", ms=4, label="k-NN (Kozachenko-Leonenko)")
    ax.set_xlabel("noise variance t (data units²)")
    ax.set_ylabel("entropy $H[\\mu_t]$ (nats)")
    ax.set_title("entropy decreases along the deep DAE")
    ax.legend(fontsize=8)
    out["entropy.png"] = fig

    table_g = story["depth_table_gaussian"]
    table_m = story["depth_table_mixture"]["rows"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    axes[0].loglog(
        [r["num_layers"] for r in table_g["rows"]],
        [r["w2_to_deep"] for r in table_g["rows"]],
        "o-",
    )
    axes[0].set_title(
        f"Gaussian: $W_2$(L stacked DAEs, deep limit), t={table_g['t']:.3f}",
        fontsize=9,
    )
    axes[0].set_xlabel("number of stacked DAEs L")
    axes[1].loglog(
        [r["num_layers"] for r in table_m], [r["map_rms"] for r in table_m], "o-"
    )
    axes[1].set_title("mixture: RMS $|g^{(L)}(x)-\\phi_t(x)|$", fontsize=9)
    axes[1].set_xlabel("number of stacked DAEs L")
    axes[0].set_ylabel("$W_2$ to the deep limit (data units)")
    axes[1].set_ylabel("RMS map error (data units)")
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    for ax, ls in zip(
        axes,
        (
            [r["num_layers"] for r in table_g["rows"]],
            [r["num_layers"] for r in table_m],
        ),
    ):
        # ticks at the depths run, no crowded minor labels
        ax.set_xticks(ls, [str(v) for v in ls])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(LogLocator(10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    out["depth.png"] = fig
    return out


def _write(out_dir: str, story: dict[str, Any]) -> dict[str, Any]:
    """The old `dae_story(out_dir)`: the four PNGs and `dae_story.json`, each written atomically."""
    os.makedirs(out_dir, exist_ok=True)
    for name, fig in story_figures(story).items():
        write_atomic(
            os.path.join(out_dir, name),
            lambda p, fig=fig: fig.savefig(p, dpi=110, format="png"),
        )
    summary = {k: v for k, v in story.items() if k != "arrays"}
    summary["files"] = sorted(f for f in os.listdir(out_dir) if f.endswith(".png")) + [
        "dae_story.json"
    ]

    def _dump(p):
        with open(p, "w") as fh:
            json.dump(summary, fh, indent=2)

    write_atomic(os.path.join(out_dir, "dae_story.json"), _dump)
    return summary
