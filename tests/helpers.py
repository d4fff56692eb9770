import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def tree_allclose(x, y, *, rtol=1e-5, atol=1e-8):
    return eqx.tree_equal(x, y, typematch=True, rtol=rtol, atol=atol)


def loglog_slope(hs, errors) -> float:
    """Least-squares slope of log(error) against log(h)."""
    hs = np.log(np.asarray(hs, dtype=float))
    es = np.log(np.asarray(errors, dtype=float))
    return float(np.polyfit(hs, es, 1)[0])


def finite(x) -> bool:
    return bool(jnp.all(jnp.isfinite(jnp.asarray(x))))


__all__ = ["finite", "jax", "loglog_slope", "tree_allclose"]
