"""Checkpoints: `save_field` and `load_field` write and read a field's arrays.

A checkpoint is exactly what `eqx.tree_serialise_leaves` writes (so equinox
can read it too), followed by a fixed-size trailer holding the payload's
length and SHA-256, which lets `load_field` tell a truncated or corrupt file
from a template that does not match it.
"""

import hashlib
import io
import os
import re
from typing import Any

import equinox as eqx
import jax

from .._io import write_atomic


_MAGIC = b"\nflowrep-field v1 "
_TRAILER = re.compile(re.escape(_MAGIC) + rb"([0-9a-f]{64}) ([0-9a-f]{16})\n")
_TRAILER_SIZE = len(_MAGIC) + 64 + 1 + 16 + 1


def _trailer(payload: bytes) -> bytes:
    digest = hashlib.sha256(payload).hexdigest()
    return _MAGIC + b"%s %016x\n" % (digest.encode(), len(payload))


def _check_has_arrays(field: Any) -> None:
    # a field without array or number leaves (a string, None) saves nothing
    leaves = jax.tree.leaves(field)
    if not any(
        eqx.is_array(leaf) or isinstance(leaf, (int, float, complex)) for leaf in leaves
    ):
        raise TypeError(
            f"`field` must be a PyTree with array leaves (an eqx.Module field); got "
            f"{type(field).__name__} with nothing to save."
        )


def save_field(path: "str | os.PathLike", field: Any) -> None:
    """Write a field's arrays with `eqx.tree_serialise_leaves` (no pickle).

    The file is written to exactly `path` (no suffix is added), through a
    temporary name beside it that is renamed on success, so a failed or
    interrupted write never leaves a half-written checkpoint. A short trailer
    with the length and SHA-256 of the arrays lets `load_field` detect
    truncation and corruption.

    **Arguments:**

    - `path`: the file to write, any name.
    - `field`: any PyTree (typically an `eqx.Module` field); its array and
        Python-number leaves are saved, static fields are not.

    **Raises:** `FileNotFoundError` / `PermissionError` naming `path` when its
    directory is missing or not writable; `IsADirectoryError` when `path` is
    a directory.
    """
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, field)
    payload = buf.getvalue()

    _check_has_arrays(field)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.write(_trailer(payload))
            f.flush()
            os.fsync(f.fileno())

    write_atomic(path, write)


def _payload(path: str, data: bytes) -> tuple[bytes, bool]:
    """The serialised leaves in a checkpoint, and whether a trailer vouched for
    them (checked: a wrong length or checksum raises)."""
    m = _TRAILER.fullmatch(data[-_TRAILER_SIZE:])
    if m is None:
        # no trailer: written by equinox directly, or cut off; the leaves are
        # checked as they are read
        if _MAGIC in data[-_TRAILER_SIZE:]:
            raise ValueError(
                f"checkpoint {path!r} is truncated: its checksum trailer is cut off"
            )
        return data, False
    payload = data[:-_TRAILER_SIZE]
    size = int(m.group(2), 16)
    if len(payload) != size:
        raise ValueError(
            f"checkpoint {path!r} is truncated or corrupt: it holds {len(payload)} "
            f"bytes of arrays, its trailer says {size}"
        )
    if hashlib.sha256(payload).hexdigest() != m.group(1).decode():
        raise ValueError(
            f"checkpoint {path!r} is corrupt: its contents do not match the "
            "checksum written with it"
        )
    return payload, True


def _reason(e: BaseException) -> str:
    cause = e.__cause__ or e.__context__
    text = f"{type(e).__name__}: {e}"
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({type(cause).__name__}: {cause})"
    return text[:300]


def load_field(path: "str | os.PathLike", like: Any) -> Any:
    """Read arrays saved by `save_field` into a field with the same structure as `like`.

    **Arguments:**

    - `path`: the file `save_field` wrote, exactly as given to it.
    - `like`: a field (or `eqx.filter_eval_shape` of one) with the structure,
        shapes and dtypes of the saved one; its static fields are kept.

    **Returns:** a copy of `like` holding the saved arrays.

    **Raises:** `FileNotFoundError` if `path` does not exist;
    `IsADirectoryError` if it is a directory; `ValueError` naming `path` when
    the file is truncated or corrupt, is not a checkpoint, or does not match
    `like` (other leaves, shapes or dtypes).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No saved field at {path!r}.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"`path` {path!r} is a directory, not a saved field.")
    with open(path, "rb") as f:
        data = f.read()
    payload, intact = _payload(path, data)
    buf = io.BytesIO(payload)
    try:
        out = eqx.tree_deserialise_leaves(buf, like)
    except Exception as e:
        if intact:
            msg = f"checkpoint {path!r} does not match `like` (its leaves, shapes or dtypes)"
        else:
            msg = (
                f"cannot load checkpoint {path!r}: it is truncated or corrupt, is not "
                "a saved field, or `like` does not match it (leaves, shapes or dtypes)"
            )
        raise ValueError(f"{msg}: {_reason(e)}") from e
    left = len(payload) - buf.tell()
    if left:
        raise ValueError(
            f"checkpoint {path!r} does not match `like`: {left} bytes of saved arrays "
            "are left over (the saved field has more leaves than `like`)"
            + ("" if intact else ", or the file is not a saved field")
        )
    return out
