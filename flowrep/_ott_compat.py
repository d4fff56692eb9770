"""Compatibility shim: ott-jax 0.6.0 online cost mode on jax >= 0.10.

ott-jax 0.6.0 calls `jax.interpreters.batching.is_vmappable` in
`ott.utils.batched_vmap`, which backs `PointCloud(..., batch_size=...)`. jax
0.10 removed that name from the public module (it still lives in
`jax._src.interpreters.batching`). Instead of patching jax globally we rebind
the module reference that `ott.utils` holds, and only when it is needed.
"""

import jax.interpreters.batching as _public_batching


def ensure_ott_online_mode() -> None:
    """Make ott-jax's online (`batch_size=...`) cost mode work on this jax."""
    if hasattr(_public_batching, "is_vmappable"):
        return
    import ott.utils

    if hasattr(ott.utils.batching, "is_vmappable"):  # pyright: ignore[reportPrivateImportUsage]
        return
    from jax._src.interpreters import batching as _private_batching

    ott.utils.batching = _private_batching  # pyright: ignore[reportAttributeAccessIssue, reportPrivateImportUsage]


ensure_ott_online_mode()
