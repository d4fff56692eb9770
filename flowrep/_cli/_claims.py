"""Paper claims as data: the schema of a `reproduce` job's `claims`, intervals, verdict rules.

Every `reproduce` job's `report.json` carries `claims`, a list of objects
(see docs/reproductions.md for the schema):

- `claim`: what the paper says, in one sentence;
- `source`: `{paper, version, section}`, the version quoted (arXiv vN, year);
- `setting`: the setting that ran (data, sizes, optimiser, seeds);
- `control`: what the number is compared with (an untrained network, a plain
  net, the published table, a closed form), or `None`;
- `value`: the number(s) the verdict is computed from;
- `interval`: `{mean, se, low, high, n, method}` over seeds (`make_interval`),
  or `None` for a deterministic number;
- `verdict`: one of `VERDICTS`;
- `rule`: the stated rule that computed the verdict, in words;
- `part`: which part holds (verdict `partly`); `why`: why not testable.

The verdict is always computed by code from the numbers (`verdict_of`),
never written by hand.
"""

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


VERDICTS = ("reproduced", "not reproduced", "partly", "not testable")
CLAIM_KEYS = ("claim", "source", "setting", "control", "value", "interval", "verdict")


def make_interval(
    values: "Sequence[float] | np.ndarray",
    *,
    method: str = "se",
    width: float = 2.0,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """An interval for the mean of `values` (one per seed).

    - `method="se"`: mean $\\pm$ `width` standard errors, $s/\\sqrt n$ with
      the $n-1$ sample deviation (`se` is `None` and the interval a point
      when $n=1$: one seed has no error bar, and the rules say so).
    - `method="bootstrap"`: the percentile bootstrap interval of the mean at
      `level`, from `resamples` resamples (NumPy, seeded by `seed`).

    **Returns:** `{mean, se, low, high, n, method}`.

    **Raises:** `ValueError` if `values` is empty or holds a non-finite
    number, or `method` is unknown.
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("make_interval: `values` is empty")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"make_interval: `values` holds non-finite numbers: {v}")
    n = int(v.size)
    mean = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    if method == "se":
        half = 0.0 if se is None else width * se
        low, high = mean - half, mean + half
        name = f"mean ± {width:g} s.e."
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = v[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        a = (1.0 - level) / 2.0
        low, high = (float(q) for q in np.quantile(means, [a, 1.0 - a]))
        name = f"bootstrap {level:g}"
    else:
        raise ValueError(
            f"make_interval: `method` must be 'se' or 'bootstrap', got {method!r}"
        )
    return dict(mean=mean, se=se, low=low, high=high, n=n, method=name)


def below(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether interval `a` lies wholly below interval `b` (`a.high < b.low`)."""
    return bool(a["high"] < b["low"])


def verdict_of(checks: Mapping[str, bool]) -> tuple[str, str | None]:
    """The verdict from named sub-checks: all hold -> reproduced, none ->
    not reproduced, some -> partly (with `part` naming those that hold).

    **Raises:** `ValueError` if `checks` is empty.
    """
    if not checks:
        raise ValueError("verdict_of: `checks` is empty")
    held = [k for k, ok in checks.items() if ok]
    if len(held) == len(checks):
        return "reproduced", None
    if not held:
        return "not reproduced", None
    failed = [k for k in checks if k not in held]
    return "partly", f"holds: {', '.join(held)}; fails: {', '.join(failed)}"


def make_claim(
    *,
    claim: str,
    source: Mapping[str, str],
    setting: Any,
    control: Any,
    value: Any,
    interval: Mapping[str, Any] | None,
    verdict: str,
    rule: str,
    part: str | None = None,
    why: str | None = None,
) -> dict[str, Any]:
    """One claims entry, checked against the schema.

    **Raises:** `ValueError` if `verdict` is not one of `VERDICTS`, `source`
    lacks `paper`, `version` or `section`, a `partly` verdict has no `part`
    or a `not testable` one no `why`.
    """
    if verdict not in VERDICTS:
        raise ValueError(
            f"make_claim: `verdict` must be one of {VERDICTS}, got {verdict!r}"
        )
    missing = [k for k in ("paper", "version", "section") if k not in source]
    if missing:
        raise ValueError(f"make_claim: `source` lacks {missing}")
    if verdict == "partly" and not part:
        raise ValueError("make_claim: a 'partly' verdict needs `part`")
    if verdict == "not testable" and not why:
        raise ValueError("make_claim: a 'not testable' verdict needs `why`")
    out = dict(
        claim=claim,
        source=dict(source),
        setting=setting,
        control=control,
        value=value,
        interval=None if interval is None else dict(interval),
        verdict=verdict,
        rule=rule,
    )
    if part is not None:
        out["part"] = part
    if why is not None:
        out["why"] = why
    return out


def check_claims(claims: Any) -> None:
    """Check a `claims` list read back from a report.json.

    **Raises:** `ValueError` naming the first entry and key that is wrong.
    """
    if not isinstance(claims, list) or not claims:
        raise ValueError("claims: expected a non-empty list")
    for i, c in enumerate(claims):
        missing = [k for k in (*CLAIM_KEYS, "rule") if k not in c]
        if missing:
            raise ValueError(f"claims[{i}]: missing {missing}")
        if c["verdict"] not in VERDICTS:
            raise ValueError(f"claims[{i}]: verdict {c['verdict']!r} not in {VERDICTS}")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.3g}"
    if isinstance(x, Mapping):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in x.items())
    if isinstance(x, (list, tuple)):
        return ", ".join(_fmt(v) for v in x)
    return str(x)


def interval_text(iv: Mapping[str, Any] | None) -> str:
    """`mean [low, high] (n=…)`, or an em dash for no interval."""
    if iv is None:
        return "—"
    return f"{iv['mean']:.3g} [{iv['low']:.3g}, {iv['high']:.3g}] (n={iv['n']}, {iv['method']})"


def source_text(src: Mapping[str, str]) -> str:
    return f"{src['paper']} {src['version']}, {src['section']}"


def verdict_text(c: Mapping[str, Any]) -> str:
    extra = c.get("part") or c.get("why")
    return c["verdict"] + (f" ({extra})" if extra else "")


def claims_html(claims: Sequence[Mapping[str, Any]]) -> str:
    """The claims as an HTML `<table>` string (escaped), one row per claim."""
    cols = ("claim", "source", "control", "value", "interval", "verdict", "rule")
    rows = [
        "<table class='claims'>",
        "<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>",
    ]
    for c in claims:
        cells = (
            c["claim"],
            source_text(c["source"]),
            _fmt(c["control"]) if c["control"] is not None else "—",
            _fmt(c["value"]),
            interval_text(c["interval"]),
            verdict_text(c),
            c["rule"],
        )
        verdict_class = c["verdict"].replace(" ", "-")
        rows.append(
            f"<tr class='{verdict_class}'>"
            + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells)
            + "</tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _cell(s: str) -> str:
    """Text for one markdown table cell."""
    return s.replace("|", "\\|").replace("\n", " ")


def claims_markdown(
    job: str, claims: Sequence[Mapping[str, Any]], mode: str = "quick"
) -> list[str]:
    """Markdown rows `| job | claim (source) | value | interval | verdict and rule |`;
    a mode other than quick is named after the job."""

    name = f"`{job}`" + ("" if mode == "quick" else f" ({_cell(mode)})")
    return [
        f"| {name} | {_cell(c['claim'])} ({_cell(source_text(c['source']))}) | "
        f"{_cell(_fmt(c['value']))} | {_cell(interval_text(c['interval']))} | "
        f"**{_cell(verdict_text(c))}**; rule: {_cell(c['rule'])} |"
        for c in claims
    ]


TABLE_HEADER = [
    "| job | claim (source) | value | interval | verdict and rule |",
    "|---|---|---|---|---|",
]
TABLE_BEGIN = (
    "<!-- claims table: generated by python -m flowrep._cli._claims; do not edit -->"
)
TABLE_END = "<!-- end of claims table -->"


def generated_table(reports: Sequence[Mapping[str, Any]]) -> str:
    """The reproductions table for README/docs from report.json data
    (each with `job`, `claims` and optionally `mode`)."""
    lines = [TABLE_BEGIN, *TABLE_HEADER]
    for data in reports:
        lines += claims_markdown(data["job"], data["claims"], data.get("mode", "quick"))
    lines.append(TABLE_END)
    return "\n".join(lines)


SUMMARY_HEADER = [
    "| job | claim | verdict |",
    "|---|---|---|",
]
SUMMARY_BEGIN = (
    "<!-- claims summary: generated by python -m flowrep._cli._claims; do not edit -->"
)
SUMMARY_END = "<!-- end of claims summary -->"


def summary_markdown(
    job: str, claims: Sequence[Mapping[str, Any]], mode: str = "quick"
) -> list[str]:
    """Markdown rows `| job | claim | verdict |`: the short form of
    `claims_markdown` for README's front page (no source, numbers or rule)."""

    name = f"`{job}`" + ("" if mode == "quick" else f" ({_cell(mode)})")
    return [f"| {name} | {_cell(c['claim'])} | **{c['verdict']}** |" for c in claims]


def generated_summary(reports: Sequence[Mapping[str, Any]]) -> str:
    """The one-line-per-claim verdict summary for README, from the same data
    as `generated_table`."""
    lines = [SUMMARY_BEGIN, *SUMMARY_HEADER]
    for data in reports:
        lines += summary_markdown(
            data["job"], data["claims"], data.get("mode", "quick")
        )
    lines.append(SUMMARY_END)
    return "\n".join(lines)


def replace_table(
    text: str, table: str, begin: str = TABLE_BEGIN, end: str = TABLE_END
) -> str:
    """`text` with its generated block (between `begin` and `end`) replaced by `table`.

    **Raises:** `ValueError` if `text` has no such block.
    """
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise ValueError("replace_table: no generated claims table markers in the text")
    return text[:i] + table + text[j + len(end) :]


def write_generated(text: str, reports: Sequence[Mapping[str, Any]]) -> str:
    """`text` with every generated block it holds (the full claims table, the
    summary) regenerated from `reports`.

    **Raises:** `ValueError` if `text` holds neither block.
    """
    blocks = (
        (TABLE_BEGIN, TABLE_END, generated_table),
        (SUMMARY_BEGIN, SUMMARY_END, generated_summary),
    )
    found = [b for b in blocks if b[0] in text]
    if not found:
        raise ValueError(
            "write_generated: no generated claims block markers in the text"
        )
    for begin, end, make in found:
        text = replace_table(text, make(reports), begin, end)
    return text


if __name__ == "__main__":  # pragma: no cover
    import argparse
    import json
    from pathlib import Path

    p = argparse.ArgumentParser(
        description="Write the claims table (and README's one-line summary) of the given "
        "report directories into files between the generated-block markers."
    )
    p.add_argument(
        "reports", nargs="+", help="report directories (flowrep reproduce --out)"
    )
    p.add_argument("--write", nargs="*", default=[], help="markdown files to update")
    args = p.parse_args()
    data = []
    for d in args.reports:
        rep = json.loads((Path(d) / "report.json").read_text())
        check_claims(rep["claims"])
        data.append(rep)
    if not args.write:
        print(generated_table(data))
    for f in args.write:
        path = Path(f)
        path.write_text(write_generated(path.read_text(), data))
