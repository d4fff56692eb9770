"""`flowrep reproduce gradient-flow` in quick mode, and its verdict rules."""

import json

import pytest

from flowrep._cli import _gradient_flow_job as job
from flowrep._cli._jobs import JOBS
from flowrep._cli._report import Report


GOOD = dict(
    continuity_max_z=1.0,
    curl_fraction_dae=[0.0, 1e-20],
    heat_cov_error=0.01,
    jko_cov_error=0.02,
    reversal_tolerance=0.05,
    reversal_tolerance_jko=0.06,
    dae_rate_rel_error=1e-4,
    heat_rate_rel_error=1e-4,
    jko_order=1.0,
)


def test_verdict_rules():
    assert job.gradient_flow_verdicts(GOOD)["reproduced"] is True
    for k, bad in (
        ("continuity_max_z", 5.0),
        ("curl_fraction_dae", [0.1]),
        ("heat_cov_error", 0.1),
        ("heat_rate_rel_error", 0.05),
        ("jko_order", 0.5),
    ):
        v = job.gradient_flow_verdicts({**GOOD, k: bad})
        assert v["reproduced"] is False


def test_job_is_registered():
    assert JOBS["gradient-flow"].function == "gradient_flow_job"


@pytest.mark.slow
def test_quick(tmp_path):
    """About 50 s on a loaded 2-core CPU, hence slow (run with -m slow)."""
    report = Report(tmp_path, "t")
    out = JOBS["gradient-flow"].run(report, quick=True, seed=0)
    report.data.update(out)
    report.write()
    data = json.loads((tmp_path / "report.json").read_text())
    for k in (
        "continuity_agrees",
        "dae_is_gradient",
        "reversal_recovers",
        "entropy_rate_is_fisher",
        "jko_first_order",
    ):
        assert data[k] is True, (k, data)
    assert data["reproduced"] is True
    assert data["jko_order"] == pytest.approx(1.0, abs=0.2)
    assert job.SECTION in [h for h, _ in report.sections]
    html = (tmp_path / "index.html").read_text()
    assert "<b>Verdict:</b> reproduced" in html


def _trained(plain, regularised, flag=0.0):
    row = lambda c: dict(curl_fraction=c, non_gradient_fraction=c, final_loss=0.1)  # noqa: E731
    return dict(
        ridgelet={
            "plain": row(plain),
            "weight_decay+kinetic": row(regularised),
            "gradient_flag": row(flag),
        },
        resnet={"plain": row(plain), "weight_decay+kinetic": row(regularised)},
    )


def test_trained_curl_verdict_rules():
    v = job.trained_curl_verdicts(_trained(0.2, 0.1))
    assert v == dict(
        gradient_flag_is_gradient=True,
        ridgelet_regularised_less_curl=True,
        resnet_weight_decay_less_curl=True,
    )
    v = job.trained_curl_verdicts(_trained(0.1, 0.2, flag=1e-3))
    assert not any(v.values())


@pytest.mark.slow
def test_trained_curl_quick():
    """Seven short trainings (about 4 min on a loaded 2-core CPU)."""
    out = job.trained_curl(quick=True, seed=0)
    assert out["ridgelet"]["gradient_flag"]["curl_fraction"] < 1e-12
    assert out["ridgelet"]["plain"]["curl_fraction"] > 1e-3
    assert set(out["resnet"]) == {"plain", "weight_decay", "weight_decay+kinetic"}
