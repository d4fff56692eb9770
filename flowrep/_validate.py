"""The validation layer: every public entry point checks its inputs here.

One pattern for every check (STYLE.md, "Errors"):

- a static problem (shape, dtype, dimension mismatch, a bad count) raises a
  `ValueError`/`TypeError` at trace time, naming the argument and what was
  expected;
- a value problem (NaN/inf, a negative variance) raises a `ValueError` at
  once when the value is concrete, and goes through `eqx.error_if` with the
  same short message when it is traced (under `jit`, `vmap`, `grad`), so it
  is never silently skipped and never `bool()`-ed on a tracer.

Shapes are written `(n, d)` for a cloud of n points in dimension d.
"""

import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


__all__ = [
    "as_points",
    "check_bool",
    "check_memory",
    "memory_limit",
    "check_finite",
    "check_value",
    "check_positive_float",
    "check_positive_int",
    "is_concrete",
    "is_traced",
]


def is_traced(*xs: Any) -> bool:
    """True when any argument is a JAX tracer (its value is not known yet)."""
    return any(isinstance(x, jax.core.Tracer) for x in xs)  # pyright: ignore[reportAttributeAccessIssue]


def is_concrete(*xs: Any) -> bool:
    """True when every argument has a value now (none is a tracer).

    An array closed over by, or created inside, an enclosing `jit` is concrete
    even though `jnp` operations on it would be staged out: checks evaluate it
    under `jax.ensure_compile_time_eval`.
    """
    for x in xs:
        if is_traced(x):
            return False
        try:
            np.asarray(x)
        except (
            jax.errors.TracerArrayConversionError,
            jax.errors.ConcretizationTypeError,
        ):
            return False
    return True


def as_float_array(value: Any, name: str, dtype: Any = None) -> Array:
    """`value` as a floating array (`dtype`, or at least the default float).

    A `TypeError` naming the argument for strings, objects and other values
    jnp cannot read as numbers (jnp's own message does not name it).
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"`{name}` must be a numeric array; got {type(value).__name__}."
        )
    try:
        arr = jnp.asarray(value)
        if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == jnp.bool_):
            raise TypeError
        return jnp.asarray(arr, dtype=dtype or jnp.result_type(arr, float))
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"`{name}` must be a numeric array; got {type(value).__name__}."
        ) from e


def check_finite(x: Array, name: str, message: str | None = None) -> Array:
    """Return `x`, raising if it holds NaN or inf.

    Concrete: a `ValueError` now. Traced: `eqx.error_if` at run time, with the
    same message. `message` replaces the default "`name` contains NaN or inf
    values."
    """
    msg = message or f"`{name}` contains NaN or inf values."
    if is_traced(x):
        return eqx.error_if(x, jnp.any(~jnp.isfinite(x)), msg)
    with jax.ensure_compile_time_eval():
        finite = bool(jnp.all(jnp.isfinite(x)))
    if not finite:
        raise ValueError(msg)
    return x


def check_value(
    value: Any,
    bad: Any,
    message: str,
    *operands: Any,
    error: type[Exception] = ValueError,
    detail: Any = None,
) -> Any:
    """Return `value`, raising `error(message)` where `bad(value, *operands)` holds.

    The one pattern for a value check: when `value` and every operand are
    concrete the condition is evaluated now (under
    `jax.ensure_compile_time_eval`, so also inside an enclosing `jit` for
    closed-over arrays) and `error` is raised at once; otherwise the returned
    `value` carries an `eqx.error_if` with the same short message, so the check
    fires at run time. Callers must use the returned value.

    **Arguments:**

    - `value`: the checked array (or scalar); the one the error is attached to.
    - `bad`: `bad(value, *operands) -> bool array`; any `True` is an error.
    - `message`: the short, static message (it names the argument).
    - `operands`: other arrays the condition needs (a covariance for a time).
    - `error`: the exception class raised eagerly.
    - `detail`: optional `detail(value, *operands) -> str`, appended to the
      eager message only (traced values cannot be printed).
    """
    if is_concrete(value, *operands):
        with jax.ensure_compile_time_eval():
            arrays = [jnp.asarray(v) for v in (value, *operands)]
            failed = bool(jnp.any(bad(*arrays)))
            extra = f" {detail(value, *operands)}" if failed and detail else ""
        if failed:
            raise error(message + extra)
        return value
    arrays = [jnp.asarray(v) for v in (value, *operands)]
    return eqx.error_if(arrays[0], jnp.any(bad(*arrays)), message)


DEFAULT_MEMORY_LIMIT = 2**34  # 16 GiB


def memory_limit() -> int:
    """The largest array allocation (bytes) a size argument may ask for.

    `FLOWREP_MAX_BYTES` (an integer number of bytes) when set; otherwise
    $\\min(2^{34}$, the machine's physical memory$)$.
    """
    env = os.environ.get("FLOWREP_MAX_BYTES")
    if env:
        try:
            return int(env)
        except ValueError:
            raise ValueError(
                f"FLOWREP_MAX_BYTES must be an integer number of bytes; got {env!r}."
            ) from None
    limit = DEFAULT_MEMORY_LIMIT
    try:
        limit = min(limit, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    return limit


def check_memory(num_bytes: float, what: str) -> None:
    """Raise `MemoryError` before allocating `num_bytes` beyond `memory_limit()`.

    `what` names the argument and its value ("`depth`=100000000").
    """
    limit = memory_limit()
    if num_bytes > limit:
        raise MemoryError(
            f"{what} needs about {num_bytes / 2**30:.3g} GiB of arrays, above the limit "
            f"of {limit / 2**30:.3g} GiB (min(16 GiB, physical memory); set "
            "FLOWREP_MAX_BYTES to change it). Use a smaller size."
        )


def as_points(
    x: ArrayLike,
    name: str = "x",
    *,
    min_samples: int = 1,
    dim: int | None = None,
    dim_of: str = "",
    finite: bool = True,
) -> Array:
    """Check a point cloud `(n, d)` and return it as a floating array.

    **Arguments:**

    - `x`: the cloud, one row per point.
    - `name`: the argument's name, used in messages.
    - `min_samples`: the least number of rows accepted.
    - `dim`: the required dimension d, or `None` for any d >= 1.
    - `dim_of`: what fixes `dim`, for the message ("the field acts on R^d").
    - `finite`: also check for NaN/inf (eagerly when concrete, else at run time).

    **Raises:** `ValueError` for a wrong rank, too few rows, d = 0, a
    dimension mismatch, or NaN/inf; `TypeError` for a non-numeric or complex
    array.
    """
    try:
        arr = jnp.asarray(x)
    except (TypeError, ValueError) as e:  # jnp's ValueError for None names no argument
        raise TypeError(
            f"`{name}` must be an array of shape (n, d); got {type(x).__name__}."
        ) from e
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be a point cloud of shape (n, d) (one row per point); "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] < min_samples:
        if min_samples <= 1:
            raise ValueError(f"`{name}` is empty: need at least one point (n >= 1).")
        raise ValueError(
            f"`{name}` needs at least {min_samples} samples; got {arr.shape[0]}."
        )
    if arr.shape[1] < 1:
        raise ValueError(f"`{name}` must have dimension d >= 1; got shape {arr.shape}.")
    if dim is not None and arr.shape[1] != dim:
        of = f" ({dim_of})" if dim_of else ""
        raise ValueError(
            f"`{name}` has dimension {arr.shape[1]} but {dim} is expected{of}; "
            f"expected shape (n, {dim})."
        )
    if jnp.issubdtype(arr.dtype, jnp.bool_) or not jnp.issubdtype(
        arr.dtype, jnp.number
    ):
        raise TypeError(f"`{name}` must hold numbers; got dtype {arr.dtype}.")
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise TypeError(f"`{name}` must be real; got dtype {arr.dtype}.")
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        arr = arr.astype(jnp.result_type(float))
    return check_finite(arr, name) if finite else arr


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """`value` as a Python int >= `minimum` (bools and non-integers refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")
    value = int(value)
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value}.")
    return value


def check_positive_float(value: Any, name: str) -> float:
    """`value` as a positive, finite Python float (bools and non-numbers refused
    with a `TypeError`, other values with a `ValueError`)."""
    if isinstance(value, bool) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`{name}` must be a positive number; got {value!r}.")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be positive and finite; got {value}.")
    return value


def check_bool(value: Any, name: str) -> bool:
    """`value` as a Python bool (a `TypeError` for anything else, 0/1 included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False; got {value!r}.")
    return bool(value)


# Names kept for the modules that have not moved to the layer's public names.
_is_traced = is_traced
_check_finite = check_finite


def check_key(key: Any, name: str = "key") -> Any:
    """Return `key` if it is a JAX PRNG key (typed or raw `uint32[2]`), else a named `TypeError`."""
    try:
        jax.random.key_data(key)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a JAX PRNG key (jax.random.PRNGKey / jax.random.key); got {key!r}."
        ) from None
    return key


def check_size(value: Any, name: str, item_bytes: float, count: float) -> None:
    """`check_memory` for `count` items of `item_bytes` each, naming `name`=`value`."""
    check_memory(float(item_bytes) * float(count), f"`{name}`={value!r}")
