"""Numbers quoted in README.md and docs/reproductions.md, regenerated.

The claims table (docs/reproductions.md) and README's one-line summary of it
are generated from the jobs' `claims` (`python -m flowrep._cli._claims`); the
other quoted numbers are recomputed here (quick mode where a job is needed,
marked slow).
"""

import re
from pathlib import Path

import jax.numpy as jnp
import pytest

from flowrep._cli import _claims
from flowrep._dae._laws import GaussianLaw
from flowrep._dae._stacked import depth_table


ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
REPRO = (ROOT / "docs" / "reproductions.md").read_text()


def test_stacked_dae_table_regenerates():
    row = re.search(r"\| \$W_2\$ to the deep limit \(exact\) \|(.*)\|\n", README)
    assert row is not None
    quoted = [c.strip() for c in row.group(1).split("|")]
    assert "$N(0,I_2)$, t = 0.2" in README
    rows = depth_table(GaussianLaw(jnp.zeros(2), jnp.eye(2)), 0.2)
    assert [f"{r['w2_to_deep']:.2g}" for r in rows] == quoted


def test_generated_claims_table_is_well_formed():
    i, j = REPRO.find(_claims.TABLE_BEGIN), REPRO.find(_claims.TABLE_END)
    assert 0 <= i < j, "generated claims table markers missing"
    rows = [r for r in REPRO[i:j].splitlines() if r.startswith("| `")]
    assert rows, "the generated claims table is empty"
    for r in rows:
        assert re.search(r"\*\*(reproduced|not reproduced|partly|not testable)", r), r


def _rows(text, begin, end):
    i, j = text.find(begin), text.find(end)
    assert 0 <= i < j, "generated block markers missing"
    return [r for r in text[i:j].splitlines() if r.startswith("| `")]


def test_readme_summary_agrees_with_the_docs_table():
    """README's one-line-per-claim summary and the full table in
    docs/reproductions.md come from the same claims: the same rows in the
    same order, each with the same job, claim and verdict."""
    split = re.compile(r"(?<!\\)\|")
    summary = _rows(README, _claims.SUMMARY_BEGIN, _claims.SUMMARY_END)
    full = _rows(REPRO, _claims.TABLE_BEGIN, _claims.TABLE_END)
    assert summary and len(summary) == len(full)
    for short, long in zip(summary, full):
        job, claim, verdict = (c.strip() for c in split.split(short)[1:-1])
        cells = [c.strip() for c in split.split(long)[1:-1]]
        assert cells[0] == job
        assert cells[1].startswith(claim + " ("), (claim, cells[1])
        word = re.match(
            r"\*\*(reproduced|not reproduced|partly|not testable)", cells[4]
        )
        assert word is not None and verdict == f"**{word.group(1)}**", (
            verdict,
            cells[4],
        )


def test_summary_rows_regenerate_from_claims():
    c = dict(claim="a | b", verdict="partly", part="holds: x")
    assert _claims.summary_markdown("job", [c], "full") == [
        "| `job` (full) | a \\| b | **partly** |"
    ]
    text = "x\n" + _claims.SUMMARY_BEGIN + "\nold\n" + _claims.SUMMARY_END + "\ny"
    new = _claims.write_generated(text, [dict(job="job", claims=[c])])
    assert new.startswith("x\n") and new.endswith("\ny") and "old" not in new
    assert "| `job` | a \\| b | **partly** |" in new
    with pytest.raises(ValueError, match="markers"):
        _claims.write_generated("no markers", [])


def _table_cells(job):
    return [
        r
        for r in _rows(REPRO, _claims.TABLE_BEGIN, _claims.TABLE_END)
        if r.startswith(f"| `{job}` |")
    ]


@pytest.mark.slow
def test_li_shi_local_orders_and_claims_rows(tmp_path):
    from flowrep._cli import _li_shi
    from flowrep._cli._report import Report

    out = _li_shi.li_shi(Report(tmp_path, "t"), quick=True, seed=0)
    lo, hi = min(out["local_orders"]), max(out["local_orders"])
    assert f"local orders {lo:.2f}–{hi:.2f}" in REPRO
    assert _table_cells("li-shi") == _claims.claims_markdown("li-shi", out["claims"])


def test_table5_claims_row(tmp_path):
    from flowrep._cli import _ridgelet_jobs
    from flowrep._cli._report import Report

    out = _ridgelet_jobs.table5(Report(tmp_path, "t"))
    assert _table_cells("admissibility-table") == _claims.claims_markdown(
        "admissibility-table", out["claims"]
    )
