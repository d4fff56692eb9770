"""Numbers quoted in README.md and docs/reproductions.md, regenerated.

The claims table is generated from the jobs' `claims`
(`python -m flowrep._cli._claims`); the other quoted numbers are recomputed
here (quick mode where a job is needed, marked slow).
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


@pytest.mark.parametrize("text", [README, REPRO], ids=["README", "reproductions"])
def test_generated_claims_tables_are_well_formed(text):
    i, j = text.find(_claims.TABLE_BEGIN), text.find(_claims.TABLE_END)
    assert 0 <= i < j, "generated claims table markers missing"
    rows = [r for r in text[i:j].splitlines() if r.startswith("| `")]
    assert rows, "the generated claims table is empty"
    for r in rows:
        assert re.search(r"\*\*(reproduced|not reproduced|partly|not testable)", r), r


def test_readme_and_docs_tables_agree():
    def block(text):
        return text[text.find(_claims.TABLE_BEGIN) : text.find(_claims.TABLE_END)]

    assert block(README) == block(REPRO)


def _table_cells(job):
    i, j = README.find(_claims.TABLE_BEGIN), README.find(_claims.TABLE_END)
    return [r for r in README[i:j].splitlines() if r.startswith(f"| `{job}` |")]


@pytest.mark.slow
def test_li_shi_local_orders_and_claims_rows(tmp_path):
    from flowrep._cli import _li_shi
    from flowrep._cli._report import Report

    out = _li_shi.li_shi(Report(tmp_path, "t"), quick=True, seed=0)
    lo, hi = min(out["local_orders"]), max(out["local_orders"])
    assert f"local orders {lo:.2f}–{hi:.2f}" in README
    assert _table_cells("li-shi") == _claims.claims_markdown("li-shi", out["claims"])


def test_table5_claims_row(tmp_path):
    from flowrep._cli import _ridgelet_jobs
    from flowrep._cli._report import Report

    out = _ridgelet_jobs.table5(Report(tmp_path, "t"))
    assert _table_cells("admissibility-table") == _claims.claims_markdown(
        "admissibility-table", out["claims"]
    )
