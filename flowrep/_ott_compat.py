"""Compatibility shim: ott-jax 0.6.0 online cost mode on jax >= 0.10.

ott-jax 0.6.0 calls `jax.interpreters.batching.is_vmappable` in
`ott.utils.batched_vmap`, which backs `PointCloud(..., batch_size=...)`. jax
0.10 removed that name from the public module (it still lives in
`jax._src.interpreters.batching`). Instead of patching jax, or patching ott
when flowrep is imported, [`ott_online_mode`][] rebinds the module reference
that `ott.utils` holds only inside a `with` block and restores it afterwards.

`batched_vmap` reads `is_vmappable` while it is traced, so the block must
surround the tracing of the ott calls, i.e. sit *inside* the function that
`jit` traces. A compiled function then keeps working outside the block (the
cache never re-runs Python), and a retrace re-enters the block.
"""

import contextlib
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import jax


__all__ = ["ott_online_mode", "traced_in_online_mode"]

# The rebinding is process-wide; a count under a lock makes nested blocks and
# blocks in several threads restore the original only when the last one ends.
_lock = threading.Lock()
_depth = 0
_saved: ModuleType | None = None


def _needs_shim() -> bool:
    import ott.utils

    held = getattr(ott.utils, "batching", None)
    # ott-jax no longer uses the module, or it has the name: nothing to do.
    return held is not None and not hasattr(held, "is_vmappable")


@contextlib.contextmanager
def ott_online_mode() -> Iterator[None]:
    """Make ott-jax's online (`batch_size=...`) cost mode traceable in the block.

    Does nothing when ott-jax (or jax) already provides `is_vmappable`.
    Re-entrant and thread-safe; `ott.utils.batching` is the original module
    again once every open block has ended.
    """
    global _depth, _saved
    import ott.utils

    with _lock:
        if _depth == 0 and _needs_shim():
            from jax._src.interpreters import batching as private_batching

            if hasattr(private_batching, "is_vmappable"):
                _saved = ott.utils.batching  # pyright: ignore[reportPrivateImportUsage]
                ott.utils.batching = private_batching  # pyright: ignore[reportAttributeAccessIssue, reportPrivateImportUsage]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                ott.utils.batching = _saved  # pyright: ignore[reportAttributeAccessIssue, reportPrivateImportUsage]
                _saved = None


def traced_in_online_mode(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn(*arrays)`, with its forward pass and its VJP traced in the block.

    `jax.grad` traces a `custom_vjp`'s backward rule (ott-jax's implicit
    differentiation) only when it transposes, after the forward `with` block
    has ended; this wrapper opens the block around that too. `fn` takes and
    returns pytrees of arrays. Reverse mode only, as ott's implicit rule.
    """

    @jax.custom_vjp
    def wrapped(*args):
        with ott_online_mode():
            return fn(*args)

    def fwd(*args):
        with ott_online_mode():
            return jax.vjp(fn, *args)

    def bwd(vjp_fn, cotangent):
        with ott_online_mode():
            return vjp_fn(cotangent)

    wrapped.defvjp(fwd, bwd)
    return wrapped
