"""Atomic report directories: JSON, PNG figures and an index.html, all or nothing.

`--out` never loses a user's file: it may name a new directory or a previous
flowrep report (recognised by its `.flowrep-report` marker); any other
existing, non-empty directory is refused untouched, as are unsafe targets
(`/`, the home or current directory or one above them, an empty path, a
missing or read-only parent). The report is built in a hidden directory beside
`--out` and swapped in atomically on success only; Ctrl-C, SIGTERM and SIGHUP
remove it; its files keep the user's umask.
"""

import contextlib
import ctypes
import ctypes.util
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._io import current_umask, signals_as_interrupts, signals_blocked
from . import _html


MARKER = ".flowrep-report"
"""The file that marks a directory as a flowrep report, which `--out` may replace."""


class CLIError(Exception):
    """An error the command reports as one line with a non-zero exit."""


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


class Report:
    """Collects a report in a temporary directory; `commit` moves it into place.

    Sections and figures appear on the page in the order they were added, each
    section under its own heading; `report.json` holds `data` only.
    """

    def __init__(self, tmp: Path, title: str):
        self.dir = tmp
        self.title = title
        self.data: dict[str, Any] = {}
        self.figures: list[tuple[str, str]] = []
        self.sections: list[tuple[str, str]] = []
        self._blocks: list[tuple[str, int]] = []  # ("section" | "figure", index)
        self._tables: dict[int, _html.Table] = {}  # section index -> its HTML table
        self._verdicts: dict[int, str] = {}  # figure index -> its verdict

    def figure(
        self, fig: Any, name: str, caption: str, *, verdict: str | None = None
    ) -> None:
        """Save a matplotlib figure as PNG `name` in the report, shown with
        `caption` (what to look for) and, if given, the `verdict`."""
        fig.savefig(self.dir / name, dpi=110, bbox_inches="tight")
        # a figure made with pyplot is closed; one made with `Figure` needs nothing
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close(fig)
        if verdict is not None:
            self._verdicts[len(self.figures)] = verdict
        self._blocks.append(("figure", len(self.figures)))
        self.figures.append((name, caption))

    def section(
        self, heading: str, text: str, *, table: "_html.Table | None" = None
    ) -> None:
        """Add a section of text under `heading`; with `table`, the page shows
        that HTML table (captioned) in place of the plain text, which stays
        what `section_text` returns."""
        if table is not None:
            self._tables[len(self.sections)] = table
        self._blocks.append(("section", len(self.sections)))
        self.sections.append((heading, text))

    def section_text(self, heading: str) -> str:
        """The text of the section with this heading (the last one, if several share it).

        **Raises:** `KeyError` if the report has no such section.
        """
        for h, text in reversed(self.sections):
            if h == heading:
                return text
        raise KeyError(
            f"no report section {heading!r}; have: {[h for h, _ in self.sections]}"
        )

    def _html_body(self, data: dict[str, Any]) -> tuple[list[str], list[str]]:
        body: list[str] = []
        toc: list[str] = []
        if data.get("claims"):
            from ._claims import claims_html

            toc.append("Claims")
            body.append(_html.heading("Claims"))
            body.append(claims_html(data["claims"]))
        found = _html.verdicts(data)
        if found:
            toc.append("Verdicts")
            body.append(_html.heading("Verdicts"))
            body.append(
                "<ul>"
                + "".join(
                    f"<li>{_html.esc(path)}: {_html.verdict_html(ok)}</li>"
                    for path, ok in found
                )
                + "</ul>"
            )
        for kind, i in self._blocks:
            if kind == "section":
                heading, text = self.sections[i]
                toc.append(heading)
                body.append(_html.heading(heading))
                if i in self._tables:
                    body.append(_html.table(self._tables[i]))
                else:
                    body.append(_html.paragraphs(text))
            else:
                if "Figures" not in toc:  # one heading over the figures
                    toc.append("Figures")
                    body.append(_html.heading("Figures"))
                name, caption = self.figures[i]
                body.append(_html.figure(name, caption, verdict=self._verdicts.get(i)))
        # figures a job appended to `figures` directly (no block of their own)
        placed = {i for kind, i in self._blocks if kind == "figure"}
        for i, (name, caption) in enumerate(self.figures):
            if i not in placed:
                if "Figures" not in toc:
                    toc.append("Figures")
                    body.append(_html.heading("Figures"))
                body.append(_html.figure(name, caption, verdict=self._verdicts.get(i)))
        tables = _html.result_tables(data)
        summary = _html.summary_table(data)
        if tables or summary:
            toc.append("Results")
            body.append(_html.heading("Results"))
            body.append(
                "<p class='meta'>The numbers of <a href='report.json'>report.json</a>, "
                "as tables (floats to 4 significant digits).</p>"
            )
            if summary is not None:
                body.append(_html.table(summary))
            for key, t in tables:
                body.append(_html.heading(key, 3))
                body.append(_html.table(t))
        return body, toc

    def write(self) -> None:
        data = _jsonable(self.data)
        with open(self.dir / "report.json", "w") as fh:
            json.dump(data, fh, indent=2)
        body, toc = self._html_body(data if isinstance(data, dict) else {})
        body.append(
            "<footer>Machine-readable results: <a href='report.json'>report.json</a>"
            " (schema: the docs' Reports page). "
            "<a href='../index.html'>All reports in this directory</a>.</footer>"
        )
        (self.dir / "index.html").write_text(_html.page(self.title, body, toc=toc))


def write_root_index(root: Path) -> bool:
    """Write `root/index.html` linking every flowrep report in `root`.

    Only where `root` holds nothing but flowrep reports (and hidden entries,
    and an index flowrep wrote): a user's own directory is never written to.
    Written once `root` holds two reports (or is the default `flowrep-out`, or
    has an index already). Returns whether it wrote.
    """
    index = root / "index.html"
    entries = []
    try:
        children = sorted(root.iterdir())
    except OSError:
        return False
    for child in children:
        if child.name.startswith("."):
            continue
        if child == index:
            try:
                if _html.INDEX_MARK not in index.read_text():
                    return False
            except (OSError, UnicodeDecodeError):
                return False
            continue
        if not (child.is_dir() and not child.is_symlink() and is_report(child)):
            return False
        entry: dict[str, Any] = {"name": child.name}
        try:
            data = json.loads((child / "report.json").read_text())
            entry["job"] = data.get("job")
            entry["verdicts"] = _html.verdicts(data)
            title = re.search(
                r"<title>(.*?)</title>", (child / "index.html").read_text()
            )
            entry["title"] = html.unescape(title.group(1)) if title else None
        except (OSError, ValueError, AttributeError, UnicodeDecodeError):
            pass
        entries.append(entry)
    # a lone report gets no index beside it, unless in the default root
    if len(entries) < 2 and not index.exists() and root.name != "flowrep-out":
        return False
    tmp = root / f".index.html.tmp-{os.getpid()}"
    try:
        tmp.write_text(_html.index_page(entries))
        os.replace(tmp, index)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def _marker_text(job: str | None) -> str:
    import flowrep

    version = flowrep.__version__

    return json.dumps({"flowrep_report": 1, "job": job, "version": version}) + "\n"


def _is_legacy_report(out: Path) -> bool:
    """A report written before the marker existed: exactly report.json (with a
    "job" key), index.html, and the figures index.html shows, nothing else."""
    try:
        names = {p.name for p in out.iterdir()}
        if not {"report.json", "index.html"} <= names:
            return False
        if not isinstance(
            json.loads((out / "report.json").read_text()).get("job"), str
        ):
            return False
        shown = set(
            re.findall(r"<img src='([^'/]+)'", (out / "index.html").read_text())
        )
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        return False
    if names != {"report.json", "index.html"} | shown:
        return False
    return all((out / n).is_file() and not (out / n).is_symlink() for n in names)


def is_report(out: Path) -> bool:
    """Whether the directory `out` is a flowrep report that `--out` may replace."""
    marker = out / MARKER
    if marker.is_file() and not marker.is_symlink():
        return True
    return _is_legacy_report(out)


def _unsafe(out: Path) -> str | None:
    if out == Path(out.anchor):
        return "is the filesystem root"
    places = []
    with contextlib.suppress(OSError):  # a deleted current directory
        places.append((Path.cwd().resolve(), "current"))
    with contextlib.suppress(RuntimeError, KeyError):
        places.append((Path.home().resolve(), "home"))
    for place, name in places:
        if out == place:
            return f"is the {name} directory"
        if out in place.parents:
            return f"contains the {name} directory"
    return None


def check_out(out: "str | os.PathLike") -> Path:
    """Check that a report may be written to `out`, touching nothing, and
    return it as an absolute path.

    **Raises:** `CLIError` (one line) when `out` is empty, unsafe (the
    filesystem root, the home or current directory or one of their ancestors),
    its parent is missing or not writable, or it exists and is a file or a
    non-empty directory that is not a flowrep report.
    """
    given = os.fspath(out)
    if given.strip() == "":
        raise CLIError("--out is empty; give a directory name")
    path = Path(given).expanduser()
    if path.is_symlink() and not path.is_dir():
        raise CLIError(
            f"--out {given}: is a symbolic link to something not a directory"
        )
    path = path.resolve()
    why = _unsafe(path)
    if why is not None:
        raise CLIError(f"--out {given}: refusing to replace {path}, which {why}")
    parent = path.parent
    if not parent.exists():
        raise CLIError(f"--out {given}: parent directory {parent} does not exist")
    if not parent.is_dir():
        raise CLIError(f"--out {given}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CLIError(f"--out {given}: directory {parent} is not writable")
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise CLIError(f"--out {given} exists and is not a directory")
        try:
            empty = next(path.iterdir(), None) is None
        except OSError as e:
            raise CLIError(f"--out {given}: cannot read it: {e.strerror}") from None
        if not empty and not is_report(path):
            raise CLIError(
                f"--out {given} is a non-empty directory that is not a flowrep report "
                f"(no {MARKER} file); left untouched: choose a new path or remove it"
            )
    return path


def _libc_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return libc.renameat2
    except (OSError, AttributeError):
        return None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux `renameat2(RENAME_EXCHANGE)`);
    False where the system cannot."""
    renameat2 = _libc_renameat2()
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(
        at_fdcwd,
        os.fsencode(a),
        at_fdcwd,
        os.fsencode(b),
        ctypes.c_uint(rename_exchange),
    )
    return rc == 0


def _swap_in(tmp: Path, out: Path, given: str) -> None:
    """Put the finished report `tmp` at `out`, replacing a previous report."""
    if not out.exists():
        os.rename(tmp, out)
        return
    # checked again: files may have appeared in `out` while the job ran
    check_out(given)
    if next(out.iterdir(), None) is None:
        os.rmdir(out)
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):  # tmp now holds the old report
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, old / "old")
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old / "old", out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_report(
    out: str | os.PathLike, title: str, *, job: str | None = None
) -> Iterator[Report]:
    """Build a report in a hidden sibling directory; swap it onto `out` only on
    success. `out` is checked first (see `check_out`), before any work.

    **Raises:** `CLIError` for an `out` that `check_out` refuses or a parent
    where no temporary directory can be made; `flowrep._io.Terminated` (a
    `KeyboardInterrupt`) on SIGTERM/SIGHUP, after removing the temporary.
    """
    given = os.fspath(out)
    path = check_out(given)
    with signals_as_interrupts():
        try:
            with signals_blocked():
                tmp = Path(
                    tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent)
                )
        except OSError as e:
            raise CLIError(
                f"--out {given}: cannot write to {path.parent}: {e.strerror}"
            ) from None
        try:
            os.chmod(tmp, 0o777 & ~current_umask())
            report = Report(tmp, title)
            yield report
            report.write()
            (tmp / MARKER).write_text(_marker_text(job))
            _swap_in(tmp, path, given)
            write_root_index(path.parent)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
