"""Checkpoints: `save_field` and `load_field` write and read a field's arrays."""

import os
from typing import Any

import equinox as eqx

from .._io import write_atomic


def save_field(path: "str | os.PathLike", field: Any) -> None:
    """Write a field's arrays with `eqx.tree_serialise_leaves` (no pickle).

    The file is written to a temporary name and renamed, so a failed write
    never leaves a half-written checkpoint.
    """

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            eqx.tree_serialise_leaves(f, field)

    write_atomic(path, write)


def load_field(path: "str | os.PathLike", like: Any) -> Any:
    """Read arrays saved by `save_field` into a field with the same structure as `like`.

    **Raises:** `FileNotFoundError` if `path` does not exist; equinox's error
    when the stored leaves do not match `like`'s shapes.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No saved field at {path!r}.")
    return eqx.tree_deserialise_leaves(path, like)
