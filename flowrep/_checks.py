"""Value checks shared by the public entry points.

A concrete array with NaN/inf is a user error that can be reported at once,
as a `ValueError` naming the argument; a traced one (under `jit`, `vmap`,
`grad`) can only be checked when it runs, with `eqx.error_if`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)  # pyright: ignore[reportAttributeAccessIssue]


def _check_finite(x: Array, name: str) -> Array:
    if _is_traced(x):
        return eqx.error_if(
            x, jnp.any(~jnp.isfinite(x)), f"`{name}` contains NaN or inf values."
        )
    # A concrete array inside an enclosing `jit` (closed over, or made by
    # `jnp.ones`) would otherwise be staged out too: evaluate the check now.
    with jax.ensure_compile_time_eval():
        finite = bool(jnp.all(jnp.isfinite(x)))
    if not finite:
        raise ValueError(f"`{name}` contains NaN or inf values.")
    return x
