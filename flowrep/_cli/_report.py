"""Atomic report directories: JSON, PNG figures and an index.html, all or nothing."""

import contextlib
import html
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
    """Collects a report in a temporary directory; `commit` moves it into place."""

    def __init__(self, tmp: Path, title: str):
        self.dir = tmp
        self.title = title
        self.data: dict[str, Any] = {}
        self.figures: list[tuple[str, str]] = []
        self.sections: list[tuple[str, str]] = []

    def figure(self, fig: Any, name: str, caption: str) -> None:
        """Save a matplotlib figure as PNG `name` in the report, shown with `caption`."""
        fig.savefig(self.dir / name, dpi=110, bbox_inches="tight")
        # a figure made with pyplot is closed; one made with `Figure` needs nothing
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close(fig)
        self.figures.append((name, caption))

    def section(self, heading: str, text: str) -> None:
        """Add a section of text under `heading`."""
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

    def write(self) -> None:
        with open(self.dir / "report.json", "w") as fh:
            json.dump(_jsonable(self.data), fh, indent=2)
        parts = [
            f"<!doctype html><meta charset='utf-8'><title>{html.escape(self.title)}</title>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        for heading, text in self.sections:
            parts.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(text)}</p>")
        for name, caption in self.figures:
            parts.append(
                f"<figure><img src='{html.escape(name)}' style='max-width:100%'><figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append(
            "<p>Machine-readable results: <a href='report.json'>report.json</a>.</p>"
        )
        (self.dir / "index.html").write_text("\n".join(parts))


@contextlib.contextmanager
def atomic_report(out: str | os.PathLike, title: str) -> Iterator[Report]:
    """Build a report in a sibling temp dir; rename it onto `out` only on success."""
    out = Path(out).resolve()
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(
            f"cannot create output directory {parent}: {e.strerror}"
        ) from None
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a directory")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"--out {out}: directory {parent} is not writable")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    except OSError as e:
        raise CLIError(f"cannot write to {parent}: {e.strerror}") from None
    try:
        report = Report(tmp, title)
        yield report
        report.write()
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.replace(out, backup / "old")
            os.replace(tmp, out)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
