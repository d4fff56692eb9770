"""File output shared by the library: atomic writes that never lose a file.

A write goes to a hidden temporary name beside its target and is renamed onto
it only on success, so a failed or interrupted write leaves the old file (or
nothing) in place. SIGTERM and SIGHUP are turned into an exception for the
duration of the write, so the temporary is removed as on Ctrl-C, and the
result keeps the user's umask (`tempfile` would make it private, 0600/0700).
"""

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator


_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived during a write; raised like Ctrl-C's
    `KeyboardInterrupt` so that the same cleanup runs. `signum` is the signal."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `Terminated` instead of
    killing the process, so `finally` clauses (removing temporaries) run.

    Only signals whose handler is the default (kill the process) are taken
    over, a user's own handler or `SIG_IGN` is left alone, and the old handlers
    are restored on exit. A second signal during cleanup is held until the
    block has exited. Off the main thread (where Python cannot install
    handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state: dict = {"armed": True, "pending": None}

    def handler(signum, frame):
        if state["armed"]:
            state["armed"] = False
            raise Terminated(signum)
        state["pending"] = signum

    old = {}
    for s in _SIGNALS:
        if signal.getsignal(s) is signal.SIG_DFL:
            old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        # the caller's cleanup already ran inside the block; stop raising now
        state["armed"] = False
        for s, h in old.items():
            signal.signal(s, h)
    if state["pending"] is not None:
        raise Terminated(state["pending"])


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold SIGTERM/SIGHUP (delivered on exit) while a temporary is created
    and its name recorded, so no signal lands between the two."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_folder(path: str, folder: str) -> None:
    if not os.path.isdir(folder):
        what = "is not a directory" if os.path.exists(folder) else "does not exist"
        raise FileNotFoundError(
            f"cannot write `path` {path!r}: directory {folder!r} {what}"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write `path` {path!r}: directory {folder!r} is not writable"
        )
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write `path` {path!r}: it is a directory")


def write_atomic(path: "str | os.PathLike", write: Callable[[str], object]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it to
    `path`, so a failed write never leaves a half-written file (and an
    existing file is replaced only on success). The temporary name keeps
    `path`'s extension, for writers that infer the format from it.

    The file gets the mode of the file it replaces, or else `0o666` less the
    umask, as `open` would give it. SIGTERM/SIGHUP during the write remove
    the temporary (see `signals_as_interrupts`).

    **Raises:** `FileNotFoundError` / `PermissionError` / `IsADirectoryError`
    naming `path` when its directory is missing or not writable, or `path`
    is a directory (any other `OSError` of creating the file names `path`
    too); `TypeError` when `path` is not a str or `os.PathLike`.
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(
            f"`path` must be a str or os.PathLike; got {type(path).__name__}."
        )
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"`path` must be a str or os.PathLike; got {path!r}.")
    if path == "":
        raise FileNotFoundError("cannot write to an empty path ''")
    folder = os.path.dirname(os.path.abspath(path))
    _check_folder(path, folder)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~current_umask()
    with signals_as_interrupts():
        with signals_blocked():
            try:
                fd, tmp = tempfile.mkstemp(
                    dir=folder,
                    prefix=f".{os.path.basename(path)}.tmp-",
                    suffix=os.path.splitext(path)[1],
                )
            except OSError as e:  # e.g. a read-only or special file system
                raise type(e)(
                    e.errno, f"cannot write `path` {path!r}: {e.strerror} in {folder!r}"
                ) from None
            os.close(fd)
        try:
            write(tmp)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
