"""Figures for tracks and transport scores (matplotlib, imported lazily)."""

from typing import Any

import numpy as np

from .._transport._scores import TransportScores
from .._transport._tracks import Tracks


def _figure(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.get_figure(), ax


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")


def plot_tracks(
    tracks: Tracks | Any,
    *,
    pairing: bool = True,
    max_tracks: int = 200,
    ax: Any = None,
    path: str | None = None,
) -> Any:
    """Draw 2-D tracks $x_i^0\\to x_i^L$ and, dashed, the exact OT pairing of
    $\\mu_0$ with $\\mu_L$ (straight lines are the W2 geodesic).

    **Arguments:**

    - `tracks`: [`Tracks`][] or an array `(L+1, n, 2)`.
    - `pairing`: draw the OT pairing (exact assignment on the plotted samples).
    - `max_tracks`: plot at most this many samples (the first ones).
    - `ax`: an existing matplotlib axis; `path`: save a PNG there.

    **Returns:** the matplotlib `Figure`.

    **Raises:** `ValueError` if the tracks are not 2-D.
    """
    from .._transport._exact import exact_assignment

    if not isinstance(tracks, Tracks):
        tracks = Tracks(tracks)
    if tracks.dim != 2:
        raise ValueError(f"plot_tracks draws 2-D tracks; got dimension {tracks.dim}.")
    pts = np.asarray(tracks.points)[:, :max_tracks]
    fig, ax = _figure(ax, (5, 5))
    for i in range(pts.shape[1]):
        ax.plot(pts[:, i, 0], pts[:, i, 1], "-", color="tab:blue", lw=0.6, alpha=0.6)
    ax.scatter(pts[0, :, 0], pts[0, :, 1], s=6, color="tab:green", label="layer 0")
    ax.scatter(pts[-1, :, 0], pts[-1, :, 1], s=6, color="tab:red", label="layer L")
    if pairing and pts.shape[1] >= 2:
        perm = np.asarray(exact_assignment(pts[0], pts[-1]))
        for i, j in enumerate(perm):
            ax.plot(
                [pts[0, i, 0], pts[-1, j, 0]],
                [pts[0, i, 1], pts[-1, j, 1]],
                "--",
                color="0.4",
                lw=0.5,
            )
        ax.plot([], [], "--", color="0.4", label="OT pairing")
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    # off the data: a row under the axes (blue lines: the network's tracks)
    ax.plot([], [], "-", color="tab:blue", lw=0.8, label="tracks")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    ax.set_title("tracks and optimal pairing")
    _save(fig, path)
    return fig


def plot_layer_w2(
    scores: TransportScores, *, ax: Any = None, path: str | None = None
) -> Any:
    """Per-layer $W_2(\\mu_0,\\mu_l)$ against the geodesic line $s_lW_2(\\mu_0,\\mu_L)$,
    with the step sizes $W_2(\\mu_l,\\mu_{l+1})$ as bars.

    **Arguments:** a [`TransportScores`][]; optional `ax` and PNG `path`.

    **Returns:** the matplotlib `Figure`.
    """
    prof = np.asarray(scores.w2_from_source)
    steps = np.asarray(scores.layer_w2)
    L = len(steps)
    layers = np.arange(L + 1)
    fig, ax = _figure(ax, (6, 4))
    ax.bar(
        layers[:-1] + 0.5, steps, width=0.8, alpha=0.4, label=r"$W_2(\mu_l,\mu_{l+1})$"
    )
    ax.plot(layers, prof, "o-", label=r"$W_2(\mu_0,\mu_l)$")
    ax.plot(
        layers, prof[-1] * layers / L, "k--", lw=1, label="geodesic (uniform speed)"
    )
    ax.set_xlabel("layer l")
    ax.set_ylabel("$W_2$ (data units)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    _save(fig, path)
    return fig


def plot_scores(
    scores: TransportScores | dict[str, TransportScores],
    *,
    ax: Any = None,
    path: str | None = None,
) -> Any:
    """Bars of the ratio scores (LSS, cost ratio, kinetic ratio, speed factor,
    path ratio; 1 is optimal), for one or several labelled score sets.

    **Arguments:** a [`TransportScores`][] or a dict label -> scores; optional
    `ax` and PNG `path`.

    **Returns:** the matplotlib `Figure`.
    """
    sets = scores if isinstance(scores, dict) else {"": scores}
    names = ["lss", "cost_ratio", "kinetic_ratio", "speed_factor", "path_ratio"]
    fig, ax = _figure(ax, (7, 4))
    width = 0.8 / max(len(sets), 1)
    for k, (label, sc) in enumerate(sets.items()):
        vals = [float(getattr(sc, name)) for name in names]
        ax.bar(
            np.arange(len(names)) + k * width, vals, width=width, label=label or None
        )
    ax.axhline(1.0, color="k", lw=1, ls="--")
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=20)
    ax.set_xlabel("score")
    ax.set_ylabel("ratio (1 = geodesic / optimal)")
    if len(sets) > 1:
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
        )
    _save(fig, path)
    return fig
