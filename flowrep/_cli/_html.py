"""The HTML of the job reports: one page template and stylesheet for every job.

Helpers return HTML strings (everything they are given is escaped): headings,
paragraphs, tables with units, figures with captions, the verdicts found in a
job's results, and the index page of an `--out` root. `_report.Report.write`
assembles them; `report.json` is written separately and does not depend on
this module.
"""

import dataclasses
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any


STYLE = """
:root { --fg: #1d232b; --muted: #5b6470; --line: #d7dce2; --head: #f2f4f7;
        --ok: #1a7f37; --bad: #b42318; --accent: #3451b2; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); max-width: 72rem; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-bottom: .2rem;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .4rem; }
p.meta, .muted { color: var(--muted); }
a { color: var(--accent); }
nav.toc { font-size: .92rem; margin: .75rem 0 1rem; }
nav.toc a { margin-right: .9rem; white-space: nowrap; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
caption { caption-side: bottom; text-align: left; color: var(--muted);
          font-size: .85rem; padding-top: .3rem; }
th, td { border: 1px solid var(--line); padding: .25rem .6rem; text-align: left;
         vertical-align: top; }
th { background: var(--head); font-weight: 600; }
th .unit { font-weight: 400; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
pre { background: var(--head); padding: .6rem .8rem; overflow-x: auto; font-size: .85rem; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--fg); font-size: .9rem; margin-top: .35rem; max-width: 60rem; }
figcaption .verdict { display: block; margin-top: .2rem; }
footer { margin-top: 3rem; font-size: .85rem; color: var(--muted); }
"""

INDEX_MARK = '<meta name="generator" content="flowrep report index">'
"""Marks an index page flowrep wrote (and may rewrite)."""

UNITS: dict[str, str] = {
    "seconds": "s",
    "time_s": "s",
    "wall_s": "s",
    "entropy": "nats",
    "entropy_deep": "nats",
    "accuracy": "fraction",
}
"""Units shown in table headers for common result keys (a job can give its own)."""


@dataclasses.dataclass(frozen=True)
class Table:
    """An HTML table: `columns` (headers), `rows` (one sequence of cells each),
    optional `units` per column (shown under the header) and a `caption`."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    units: Sequence[str | None] | None = None
    caption: str | None = None


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(p for p in out.split("-") if p) or "section"


def heading(text: str, level: int = 2) -> str:
    return f"<h{level} id='{slug(text)}'>{esc(text)}</h{level}>"


def _looks_preformatted(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and sum("  " in line.strip() for line in lines) >= 2


def paragraphs(text: str) -> str:
    """Plain text as paragraphs (blank-line separated); column-aligned text as `<pre>`."""
    if _looks_preformatted(text):
        return f"<pre>{esc(text)}</pre>"
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return "".join(f"<p>{esc(' '.join(b.split()))}</p>" for b in blocks)


def cell(value: Any) -> str:
    """One `<td>`: floats to 4 significant digits, booleans as yes/no, None as a dash."""
    if isinstance(value, bool):
        return f"<td class='{'ok' if value else 'bad'}'>{'yes' if value else 'no'}</td>"
    if value is None:
        return "<td class='num muted'>–</td>"
    if isinstance(value, float):
        shown = f"{value:.4g}" if math.isfinite(value) else str(value)
        return f"<td class='num'>{esc(shown)}</td>"
    if isinstance(value, int):
        return f"<td class='num'>{value}</td>"
    if isinstance(value, list | tuple):
        return f"<td>{esc(', '.join(_short(v) for v in value))}</td>"
    return f"<td>{esc(value)}</td>"


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def table(t: Table) -> str:
    units = list(t.units) if t.units is not None else [None] * len(t.columns)
    head = "".join(
        f"<th>{esc(c)}"
        + (f"<br><span class='unit'>[{esc(u)}]</span>" if u else "")
        + "</th>"
        for c, u in zip(t.columns, units)
    )
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in t.rows)
    cap = f"<caption>{esc(t.caption)}</caption>" if t.caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, bool | int | float | str)


def _flat_rows(v: Any) -> bool:
    return (
        isinstance(v, list)
        and len(v) > 0
        and all(isinstance(r, dict) for r in v)
        and all(_scalar(x) or _short_list(x) for r in v for x in r.values())
    )


def _short_list(x: Any) -> bool:
    return isinstance(x, list) and len(x) <= 6 and all(_scalar(y) for y in x)


def rows_table(rows: list[dict[str, Any]], caption: str | None = None) -> Table:
    """A `Table` from a list of dicts (columns in first-seen order), with `UNITS`."""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    return Table(
        columns,
        [[r.get(c) for c in columns] for r in rows],
        [UNITS.get(c) for c in columns],
        caption,
    )


def result_tables(data: dict[str, Any], *, depth: int = 3) -> list[tuple[str, Table]]:
    """Every list of flat records in a job's results, as (dotted key, `Table`)."""
    found: list[tuple[str, Table]] = []

    def walk(obj: Any, path: list[str]) -> None:
        if len(path) > depth:
            return
        if _flat_rows(obj):
            found.append((".".join(path), rows_table(obj)))
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, path + [str(k)])

    # the claims have their own table (flowrep/_cli/_claims.py)
    walk({k: v for k, v in data.items() if k != "claims"}, [])
    return found


def summary_table(data: dict[str, Any]) -> Table | None:
    """The scalar results, one row each (dotted keys, at most two levels deep)."""
    rows: list[list[Any]] = []
    for k, v in data.items():
        if _scalar(v):
            rows.append([k, v])
        elif isinstance(v, dict):
            rows += [[f"{k}.{k2}", v2] for k2, v2 in v.items() if _scalar(v2)]
    return Table(["result", "value"], rows) if rows else None


def verdicts(data: dict[str, Any]) -> list[tuple[str, bool]]:
    """The `reproduced`/`reproduces` booleans of a job's results, by path."""
    out: list[tuple[str, bool]] = []

    def walk(obj: Any, path: list[str]) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in ("reproduced", "reproduces") and isinstance(v, bool):
                    out.append(("/".join(path) or "claim", v))
                else:
                    walk(v, path + [str(k)])

    walk(data, [])
    return out


def verdict_html(ok: bool) -> str:
    return (
        "<span class='ok'>reproduced</span>"
        if ok
        else "<span class='bad'>NOT reproduced</span>"
    )


def figure(src: str, caption: str, *, verdict: str | None = None) -> str:
    """A figure: the image and a caption (what to look for), then the verdict if given."""
    v = (
        f"<span class='verdict'><b>Verdict:</b> {esc(verdict)}</span>"
        if verdict
        else ""
    )
    return (
        f"<figure><img src='{esc(src)}' alt='{esc(caption)}'>"
        f"<figcaption>{esc(caption)}{v}</figcaption></figure>"
    )


def page(
    title: str, body: Iterable[str], *, toc: Sequence[str] = (), extra_head: str = ""
) -> str:
    """A whole page: the shared stylesheet, a title, an optional table of contents."""
    nav = (
        "<nav class='toc'>"
        + "".join(f"<a href='#{slug(h)}'>{esc(h)}</a>" for h in toc)
        + "</nav>"
        if toc
        else ""
    )
    return "\n".join(
        [
            "<!doctype html>",
            "<html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            "<link rel='icon' href='data:,'>",  # no favicon request
            extra_head,
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{esc(title)}</h1>",
            nav,
            *body,
            "</body></html>",
        ]
    )


def index_page(entries: Sequence[dict[str, Any]]) -> str:
    """The index of an `--out` root: one row per report (`name`, `title`, `job`, `verdicts`)."""
    rows = []
    for e in entries:
        vs = e.get("verdicts") or []
        ok = sum(v for _, v in vs)
        shown = f"{ok} of {len(vs)} reproduced" if vs else "–"
        rows.append(
            "<tr>"
            f"<td><a href='{esc(e['name'])}/index.html'>{esc(e['name'])}</a></td>"
            f"<td>{esc(e.get('job') or '')}</td><td>{esc(e.get('title') or '')}</td>"
            f"<td class='{('ok' if ok == len(vs) else 'bad') if vs else 'muted'}'>{esc(shown)}</td>"
            "</tr>"
        )
    body = [
        "<p class='meta'>Every flowrep report in this directory (rewritten after each job).</p>",
        "<table><thead><tr><th>report</th><th>job</th><th>title</th><th>claims</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
    return page("flowrep reports", body, extra_head=INDEX_MARK)
