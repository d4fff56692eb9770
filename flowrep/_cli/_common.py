"""Helpers the reproduction jobs share: float64 runs, log-log slopes, figures."""

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def _pyplot():
    """matplotlib.pyplot on the Agg backend, or None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _x64(job: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Run a job with float64 on, whatever the caller's setting (CLI and tests agree)."""

    @functools.wraps(job)
    def wrapped(*args, **kwargs):
        with jax.enable_x64(True):
            return job(*args, **kwargs)

    return wrapped


def _loglog_slope(xs, ys) -> float:
    return float(
        np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0]
    )
