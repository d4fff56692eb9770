"""Sonoda & Murata's DAE story in pictures: transport, displacement, entropy, depth.

`dae_story` reproduces the paper's claims on a 2-D mixture (THEORY.md
section 3) and writes its figures and a JSON summary atomically.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Key
from .._io import _write_atomic
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
    out_dir: str, *, quick: bool = True, key: Key | None = None, progress: bool = False
) -> dict:
    """Reproduce Sonoda & Murata's DAE story on a 2-D mixture; write PNGs and `dae_story.json`.

    1. `transport.png`: data, the shallow DAE $g_t$ and the deep DAE $\\phi_t$
       applied to the same samples, with the exact $\\mu_t$ contours.
    2. `displacement.png`: the displacement fields $g_t(x)-x$, $\\phi_t(x)-x$
       and a trained denoiser's $g(x)-x$ on a grid.
    3. `entropy.png`: $H[\\mu_t]$ along the deep flow: closed form
       (quadrature), continuity equation, k-NN.
    4. `depth.png`: the "deeper converges faster" sweep: L stacked DAEs of
       noise $t/L$ against the deep limit (Gaussian: exact $W_2$; mixture:
       map RMS).

    **Arguments:** `out_dir` (created if missing); `quick` (smaller sizes,
    about a minute on a CPU); `key` (default `PRNGKey(0)`); `progress`
    (tqdm bars while training).

    **Returns:** the summary dict also written to `dae_story.json`.
    """
    import json
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
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
    summary: dict = dict(t=t, collapse_time=tstar, num_samples=n, quick=quick)

    def _save(fig, name):
        path = os.path.join(out_dir, name)
        _write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)
        return path

    lo, hi = np.array([-4.5, -2.5]), np.array([4.5, 5.0])
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    grid = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1))

    def contour(ax, law, color):
        dens = np.asarray(jnp.exp(jax.vmap(law.log_prob)(grid))).reshape(gx.shape)
        ax.contour(gx, gy, dens, levels=6, colors=color, linewidths=0.7)

    def panel_row(titles):
        fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharex=True, sharey=True)
        for ax, title in zip(axes, titles):
            ax.set_title(title, fontsize=10)
            ax.set_aspect("equal")
        return fig, axes

    fig, axes = panel_row(
        [
            "data $x\\sim\\mu_0$",
            f"shallow DAE $g_t(x)$, t={t:.3f}",
            "deep DAE $\\phi_t(x)$ (flow), contours: $\\mu_t$",
        ]
    )
    for ax, pts, law in zip(axes, (x0, shallow, deep), (mix, None, mu_t)):
        ax.scatter(*np.asarray(pts).T, s=3, alpha=0.5)
        if law is not None:
            contour(ax, law, "k")
    _save(fig, "transport.png")

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
    fig, axes = panel_row(
        [
            "shallow $g_t(x)-x$",
            "deep $\\phi_t(x)-x$",
            f"learned MLP DAE (rel. err {summary['learned_relative_error']:.3f})",
        ]
    )
    for ax, d in zip(axes, (d_shallow, d_deep, d_learned)):
        contour(ax, mix, "0.7")
        ax.quiver(
            *np.asarray(q).T,
            *np.asarray(d).T,
            angles="xy",
            scale_units="xy",
            scale=1.0,
            width=0.004,
        )
    _save(fig, "displacement.png")

    # entropy along the deep flow
    ts = np.linspace(0.0, t, 6 if quick else 12)
    ent = entropy_curves(mix, ts, key=k_ent, num_samples=n)
    summary["entropy"] = {k: np.asarray(v).tolist() for k, v in ent.items()}
    fig, ax = plt.subplots(figsize=(5.5, 4))
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
    ax.set_xlabel("t")
    ax.set_ylabel("$H[\\mu_t]$")
    ax.set_title("entropy decreases along the deep DAE")
    ax.legend(fontsize=8)
    _save(fig, "entropy.png")

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
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].loglog(ls, [r["w2_to_deep"] for r in table_g], "o-")
    axes[0].set_title(
        f"Gaussian: $W_2$(L stacked DAEs, deep limit), t={t_g:.3f}", fontsize=9
    )
    axes[0].set_xlabel("L")
    axes[1].loglog(ls_mix, [r["map_rms"] for r in table_m], "o-")
    axes[1].set_title("mixture: RMS $|g^{(L)}(x)-\\phi_t(x)|$", fontsize=9)
    axes[1].set_xlabel("L")
    _save(fig, "depth.png")

    summary["files"] = sorted(f for f in os.listdir(out_dir) if f.endswith(".png")) + [
        "dae_story.json"
    ]

    def _dump(p):
        with open(p, "w") as fh:
            json.dump(summary, fh, indent=2)

    _write_atomic(os.path.join(out_dir, "dae_story.json"), _dump)
    return summary
