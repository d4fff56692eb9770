"""Figures for tracks and transport scores (matplotlib, imported lazily)."""

import errno
import os
from typing import Any

import numpy as np

from .._io import write_atomic
from .._transport._scores import TransportScores
from .._transport._tracks import Tracks
from .._validate import check_bool, check_positive_int


def _figure(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes; got {type(ax).__name__}.")
    return ax.get_figure(), ax


def _check_path(path) -> str | None:
    """`path` as a string, refused before drawing when it cannot be written:
    empty, a folder, or in a missing or read-only folder."""
    if path is None:
        return None
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"`path` must be a file path; got {type(path).__name__}."
        ) from None
    if path == "":
        raise ValueError("`path` is empty: pass a file name such as 'tracks.png'.")
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "`path` is a folder, not a file", path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "`path`'s folder does not exist", path)
    if not os.access(folder, os.W_OK):
        raise PermissionError(errno.EACCES, "`path`'s folder is not writable", path)
    return path


def _save(fig, path):
    if path is not None:
        # The format follows the extension (PNG without one), and the file
        # appears whole or not at all.
        ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
        write_atomic(
            path, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format=ext)
        )


def _check_scores(scores, what: str = "scores") -> TransportScores:
    if not isinstance(scores, TransportScores):
        raise TypeError(
            f"`{what}` must be TransportScores (from score_tracks); got {type(scores).__name__}."
        )
    return scores


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

    **Raises:** `ValueError` if the tracks are not 2-D (or as [`Tracks`][]:
    NaN, too few layers or samples), `max_tracks` is not an integer >= 1;
    `TypeError` for a bad `ax` or `pairing`; `FileNotFoundError`,
    `PermissionError` or `IsADirectoryError` naming `path`, before drawing.
    The PNG (or the format of `path`'s extension) is written atomically.
    """
    from .._transport._exact import exact_assignment

    max_tracks = check_positive_int(max_tracks, "max_tracks")
    pairing = check_bool(pairing, "pairing")
    path = _check_path(path)
    if not isinstance(tracks, Tracks):
        try:
            tracks = Tracks(tracks)
        except (TypeError, ValueError) as e:
            # Tracks names its own `points`; say which argument of ours it was
            raise type(e)(f"`tracks`: {e}") from None
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

    **Raises:** `TypeError` if `scores` is not `TransportScores` or `ax` not
    an Axes; an `OSError` naming `path` (as `plot_tracks`), before drawing.
    """
    scores = _check_scores(scores)
    path = _check_path(path)
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

    **Raises:** `TypeError` if `scores` (or a dict value) is not
    `TransportScores` or `ax` not an Axes; `ValueError` for an empty dict; an
    `OSError` naming `path` (as `plot_tracks`), before drawing.
    """
    sets = scores if isinstance(scores, dict) else {"": scores}
    if not sets:
        raise ValueError("`scores` is an empty dict: pass at least one score set.")
    for label, sc in sets.items():
        _check_scores(sc, "scores" if label == "" else f"scores[{label!r}]")
    path = _check_path(path)
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
