"""Claims as data: the interval helper, the verdict rules, the schema, the HTML and README tables."""

import json
from typing import Any

import numpy as np
import pytest
import scipy.stats

from flowrep._cli import _claims, _gai_zhang, _ridgelet_jobs
from flowrep._cli._report import Report


# ------------------------------------------------------------------ helpers


def test_interval_se_matches_scipy():
    v = [1.0, 1.4, 0.9, 1.2, 1.1]
    iv = _claims.make_interval(v)
    assert iv["mean"] == pytest.approx(np.mean(v))
    assert iv["se"] == pytest.approx(scipy.stats.sem(v))
    assert iv["low"] == pytest.approx(np.mean(v) - 2 * scipy.stats.sem(v))
    assert iv["high"] == pytest.approx(np.mean(v) + 2 * scipy.stats.sem(v))
    assert iv["n"] == 5


def test_interval_one_seed_is_a_point():
    iv = _claims.make_interval([2.5])
    assert iv["se"] is None and iv["low"] == iv["high"] == 2.5


def test_bootstrap_interval_brackets_the_mean_and_matches_scipy():
    rng = np.random.default_rng(0)
    v = rng.normal(3.0, 1.0, size=40)
    iv = _claims.make_interval(v, method="bootstrap", resamples=4000)
    ref = scipy.stats.bootstrap(
        (v,),
        np.mean,
        method="percentile",
        n_resamples=4000,
        random_state=1,  # pyright: ignore[reportCallIssue]
    ).confidence_interval
    assert iv["low"] < iv["mean"] < iv["high"]
    assert abs(iv["low"] - ref.low) < 0.05 and abs(iv["high"] - ref.high) < 0.05


@pytest.mark.parametrize(
    "bad, match",
    [([], "empty"), ([1.0, np.nan], "non-finite")],
)
def test_interval_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        _claims.make_interval(bad)


def test_interval_bad_method():
    with pytest.raises(ValueError, match="method"):
        _claims.make_interval([1.0, 2.0], method="t")


def test_verdict_rules():
    assert _claims.verdict_of({"a": True, "b": True}) == ("reproduced", None)
    assert _claims.verdict_of({"a": False}) == ("not reproduced", None)
    v, part = _claims.verdict_of({"a": True, "b": False})
    assert v == "partly" and part == "holds: a; fails: b"
    with pytest.raises(ValueError, match="checks"):
        _claims.verdict_of({})
    lo = dict(low=0.0, high=1.0)
    hi = dict(low=1.5, high=2.0)
    assert _claims.below(lo, hi) and not _claims.below(hi, lo)
    assert not _claims.below(lo, dict(low=0.9, high=3.0))  # overlapping


_SRC = dict(paper="P", version="v1", section="s1")


def _claim(**kw):
    base: dict[str, Any] = dict(
        claim="c",
        source=_SRC,
        setting="s",
        control=None,
        value=1.0,
        interval=None,
        verdict="reproduced",
        rule="r",
    )
    base.update(kw)
    return _claims.make_claim(**base)


def test_make_claim_schema_and_errors():
    c = _claim()
    _claims.check_claims([c])
    assert set(_claims.CLAIM_KEYS) <= set(c)
    with pytest.raises(ValueError, match="verdict"):
        _claim(verdict="yes")
    with pytest.raises(ValueError, match="part"):
        _claim(verdict="partly")
    with pytest.raises(ValueError, match="why"):
        _claim(verdict="not testable")
    with pytest.raises(ValueError, match="source"):
        _claim(source=dict(paper="P"))
    with pytest.raises(ValueError, match="missing"):
        _claims.check_claims([{"claim": "c"}])
    with pytest.raises(ValueError, match="non-empty"):
        _claims.check_claims([])


def test_claims_html_escapes_and_report_includes_it(tmp_path):
    c = _claim(claim="<b>x</b> & y", verdict="partly", part="holds: a")
    out = _claims.claims_html([c])
    assert out.startswith("<table") and out.endswith("</table>")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in out and "<b>" not in out
    report = Report(tmp_path, "t")
    report.data["claims"] = [c]
    report.write()
    assert "<table class='claims'>" in (tmp_path / "index.html").read_text()
    assert (
        json.loads((tmp_path / "report.json").read_text())["claims"][0]["verdict"]
        == "partly"
    )


def test_generated_table_round_trip():
    c = _claim(claim="a | b", interval=_claims.make_interval([1.0, 2.0]))
    table = _claims.generated_table([dict(job="job", claims=[c])])
    text = "before\n" + _claims.TABLE_BEGIN + "\nold\n" + _claims.TABLE_END + "\nafter"
    new = _claims.replace_table(text, table)
    assert new.startswith("before\n") and new.endswith("\nafter") and "old" not in new
    assert "a \\| b" in new and "**reproduced**" in new
    with pytest.raises(ValueError, match="markers"):
        _claims.replace_table("no markers", table)


# --------------------------------------------------------- job verdict rules


def _row(arch, setting, lss, cost, acc, spread=0.01, l2=0.0):
    def iv(m):
        return dict(
            mean=m, se=spread / 2, low=m - spread, high=m + spread, n=5, method="x"
        )

    return dict(
        arch=arch,
        setting=setting,
        l2=l2,
        weight_decay=0.0,
        lss=lss,
        cost_ratio=cost,
        accuracy=acc,
        interval=dict(lss=iv(lss), cost_ratio=iv(cost), accuracy=iv(acc)),
    )


def _synthetic(resnet_l2_lss, resnet_l2_acc):
    sweep = [
        _row("plain", "adam", 6.0, 1.5, 0.95),
        _row("plain", "adamw", 6.0, 1.5, 0.95),
        _row("plain", "l2=0.001", 6.0, 1.5, 0.95, l2=1e-3),
        _row("resnet", "adam", 1.8, 1.10, 0.95),
        _row("resnet", "adamw", 1.9, 1.12, 0.95),
        _row("resnet", "l2=0.001", resnet_l2_lss, 1.05, resnet_l2_acc, l2=1e-3),
    ]
    init = _row("resnet", "init", 1.2, 1.0, 0.5)
    return dict(
        task="spirals",
        embedding="e",
        width=8,
        depth=6,
        n_scored=10,
        sweep=sweep,
        at_init=dict(resnet=init, plain=init),
    )


def test_gai_zhang_rules_on_synthetic_numbers():
    claims = _gai_zhang._gz_claims(_synthetic(1.5, 0.94), seeds=[0], steps=1, lr=0.1)
    _claims.check_claims(claims)
    by = {c["claim"].split(" (")[0]: c for c in claims}
    l2 = claims[0]
    assert "coupled L2" in l2["claim"] and l2["verdict"] == "reproduced"
    # AdamW here moves away from the geodesic
    assert claims[1]["verdict"] == "not reproduced"
    # the untrained ResNet (LSS 1.2, cost 1.0) is closer to 1 than the trained one
    assert claims[2]["verdict"] == "not reproduced"
    assert claims[3]["verdict"] == "reproduced"  # ResNet below plain everywhere
    assert claims[4]["verdict"] == "reproduced"  # all accuracies equal
    # v1: plain nets are not line-shaped, ResNets not either (1.8 > 1.5)
    assert claims[5]["verdict"] == "not reproduced"
    assert len(by) == 6


def test_gai_zhang_accuracy_floor_excludes_a_destructive_regulariser():
    # L2 gives a perfect LSS but destroys accuracy: not testable, not reproduced
    claims = _gai_zhang._gz_claims(_synthetic(1.0, 0.6), seeds=[0], steps=1, lr=0.1)
    assert claims[0]["verdict"] == "not testable"
    assert "accuracy" in claims[0]["why"]
    assert "l2=0.001" in claims[0]["rule"]


def test_gai_zhang_mlp_rules_on_synthetic_numbers():
    """The changing-width MLP's claims: L2 helps, AdamW does not, training
    straightens the tracks, which are not line-shaped (LSS 3 > 1.5)."""
    sweep = [
        dict(_row("mlp", "adam", 3.0, 1.10, 0.95), weight_decay=0.0),
        dict(_row("mlp", "adamw", 3.2, 1.12, 0.95), weight_decay=0.1),
        _row("mlp", "l2=0.001", 2.0, 1.02, 0.95, l2=1e-3),
    ]
    res = dict(
        task="digits MLP", embedding="e", widths="64-128-64-32", n_scored=10,
        sweep=sweep, at_init=dict(mlp=_row("mlp", "init", 4.0, 1.3, 0.1)),
    )  # fmt: skip
    claims = _gai_zhang._mlp_claims(res, seeds=[0], steps=1, lr=0.1)
    _claims.check_claims(claims)
    assert [c["verdict"] for c in claims] == [
        "reproduced",
        "not reproduced",
        "reproduced",
        "not reproduced",
    ]
    assert all("MLP" in c["claim"] or "changing width" in c["claim"] for c in claims)
    assert "unregularised changing-width MLP's" in claims[0]["rule"]
    assert "64-128-64-32" in claims[0]["setting"]


def test_truncation_factor_and_a_needed():
    import scipy.special

    f = _ridgelet_jobs.truncation_factor(20.0)
    assert f == pytest.approx(scipy.special.erfc(np.sqrt(2) * np.pi / 20))
    a = _ridgelet_jobs.a_for_factor(0.85)
    assert _ridgelet_jobs.truncation_factor(a) == pytest.approx(0.85, abs=1e-12)


def test_table5_claims(tmp_path):
    out = _ridgelet_jobs.table5(Report(tmp_path, "t"), dims=(1,))
    _claims.check_claims(out["claims"])
    want = "reproduced" if out["matches_published"] else "not reproduced"
    assert out["claims"][0]["verdict"] == want


# --------------------------------------------- quick-mode jobs: the rules hold


def _recompute_gz(res):
    """Recompute the coupled-L2 verdict of one data set from its sweep, by the stated rule."""
    rows = {(r["arch"], r["setting"]): r for r in res["sweep"]}
    base = rows[("resnet", "adam")]
    checks = {}
    for (arch, st), r in rows.items():
        if arch != "resnet" or r["l2"] <= 0:
            continue
        if r["accuracy"] < base["accuracy"] - _gai_zhang.ACCURACY_DROP:
            continue
        for m in ("lss", "cost_ratio"):
            checks[f"{m} at {st}"] = (
                r["interval"][m]["high"] < base["interval"][m]["low"]
            )
    if not checks:
        return "not testable"
    return _claims.verdict_of(checks)[0]


@pytest.mark.slow
def test_gai_zhang_quick_verdicts_follow_the_rules(tmp_path):
    report = Report(tmp_path, "t")
    out = _gai_zhang.gai_zhang(report, quick=True, seed=0)
    _claims.check_claims(out["claims"])
    assert len(out["setup"]["seeds"]) >= 2
    for res in out["datasets"].values():
        assert res["claims"][0]["verdict"] == _recompute_gz(res)
        assert res["claims"][1]["source"]["section"].endswith("variant: decoupled")
        # every interval is mean +- 2 s.e. over the seeds
        for r in res["sweep"]:
            iv = r["interval"]["lss"]
            assert iv["n"] == len(out["setup"]["seeds"])
            assert iv["mean"] == pytest.approx(r["lss"])
    assert out["reproduced"] == all(
        r["claims"][0]["verdict"] == "reproduced" for r in out["datasets"].values()
    )
    mlp = out["mlp"]
    assert mlp["widths"] == "64-128-64-32" and len(mlp["claims"]) == 4
    assert mlp["claims"][0]["verdict"] == _recompute_gz(
        dict(mlp, sweep=[dict(r, arch="resnet") for r in mlp["sweep"]])
    )
    assert all(c in out["claims"] for c in mlp["claims"])


@pytest.mark.slow
def test_li_shi_and_dae_quick_claims(tmp_path):
    from flowrep._cli import _dae_job, _li_shi

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    out = _li_shi.li_shi(Report(tmp_path / "a", "t"), quick=True, seed=0)
    _claims.check_claims(out["claims"])
    ok = out["error_decreasing"] and -1.3 <= out["slope"] <= -0.7
    assert (out["claims"][1]["verdict"] == "reproduced") == ok
    out = _dae_job.dae(Report(tmp_path / "b", "t"), quick=True, seed=0)
    _claims.check_claims(out["claims"])
    assert (out["claims"][1]["verdict"] == "reproduced") == out["l_sweep_monotone"]
