"""Helpers the reproduction jobs share: float64 runs, log-log slopes, figures."""

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def has_matplotlib() -> bool:
    """Whether matplotlib is installed (the jobs' figures need it; their numbers do not)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs) -> Any:
    """`(figure, axes)` like `pyplot.subplots`, on a `matplotlib.figure.Figure`.

    No pyplot state and no global backend: the report saves the figure and
    drops it. Constrained layout, so every job's panels keep their labels clear.
    """
    from matplotlib.figure import Figure

    # constrained layout: tick labels, colourbars and titles never overlap
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **kwargs)


def verdict_line(verdict: str, part: str | None = None) -> str:
    """A figure caption's verdict: the claim's verdict and, when partly, what holds."""
    return verdict + (f" ({part})" if part else "")


def colormap(name: str) -> Any:
    """A registered matplotlib colormap, without pyplot."""
    import matplotlib

    return matplotlib.colormaps[name]


def x64(job: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Run a job with float64 on, whatever the caller's setting (CLI and tests agree)."""

    @functools.wraps(job)
    def wrapped(*args, **kwargs):
        with jax.enable_x64(True):
            return job(*args, **kwargs)

    return wrapped


def loglog_slope(xs, ys) -> float:
    return float(
        np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0]
    )
