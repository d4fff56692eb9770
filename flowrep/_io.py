"""File output shared by the library: atomic writes."""

import os
import tempfile
from collections.abc import Callable


def write_atomic(path: "str | os.PathLike", write: Callable[[str], object]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it to
    `path`, so a failed write never leaves a half-written file (and an
    existing file is replaced only on success). The temporary name keeps
    `path`'s extension, for writers that infer the format from it."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
