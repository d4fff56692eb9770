"""`flowrep reproduce gradient-flow` in quick mode, and its verdict rules."""

import json
from typing import Any

import numpy as np
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
    # claims: each verdict follows its stated rule (docs/reproductions.md)
    from flowrep._cli._claims import check_claims, verdict_of

    check_claims(data["claims"])
    assert [c["verdict"] for c in data["claims"][:5]] == ["reproduced"] * 5
    assert (
        data["claims"][4]["verdict"]
        == verdict_of({"order": 0.8 <= data["jko_order"] <= 1.2})[0]
    )
    assert all(c["verdict"] == "not testable" for c in data["claims"][5:])
    assert "<table class='claims'>" in html


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


# ----------------------------------------------------------------- claims

_R = dict(
    GOOD,
    t=0.3,
    num_samples=600,
    entropy_se=[0.01, 0.02],
    entropy_continuity=[3.0, 2.5],
    entropy_closed_form=[3.0, 2.5],
    jko_steps=6,
    jko_taus=[0.1, 0.05],
    jko_errors=[0.02, 0.01],
    jko_order_se=None,
)


def _mixture_order(order):
    rows = [
        dict(tau=tk, rms_to_continuous=tk, cov_error_exact=0.04, rms_to_exact_map=0.09)
        for tk in (0.1, 0.05, 0.025)
    ]
    return dict(
        t=0.2, num_samples=200, rows=rows, order=order, order_se=0.05,
        cov_error_continuous=0.04, cov_error_exact_map=0.03, first_order=0.8 <= order <= 1.2,
    )  # fmt: skip


def test_claims_schema_and_rules_quick_mode():
    from flowrep._cli._claims import check_claims

    claims = job.gradient_flow_claims(
        _R, job.gradient_flow_verdicts(_R), None, None, None, quick=True, seed=0
    )
    check_claims(claims)
    verdicts = [c["verdict"] for c in claims]
    assert verdicts[:5] == ["reproduced"] * 5
    assert verdicts[5:] == ["not testable"] * 5  # full-mode rows, each with its why
    assert all(c["why"] for c in claims[5:])
    assert claims[0]["interval"]["se"] == 0.02  # the last time's sampling s.e.
    bad = {**_R, "heat_rate_rel_error": 0.05}
    c = job.gradient_flow_claims(
        bad, job.gradient_flow_verdicts(bad), None, None, None, quick=True, seed=0
    )[2]
    assert c["verdict"] == "partly" and "fails: heat rate" in c["part"]


def _trained_se(plain, reg, se):
    t: dict[str, Any] = _trained(plain, reg)
    for kind in ("ridgelet", "resnet"):
        for row in t[kind].values():
            row["curl_fraction_se"] = se
    t["num_samples"] = 256
    t["verdicts"] = job.trained_curl_verdicts(t)
    return t


def test_claims_full_mode_rules():
    from flowrep._cli._claims import check_claims

    mix = dict(
        t=0.2, num_samples=500, logp_x0=-3.0, logp_se=0.03, logp_heat=-3.01,
        logp_jko=-3.02, w2_heat=0.2, w2_jko=0.2, w2_floor=0.19, w2_xt=0.4,
        dae_rate_rel_error=0.01, recovers=True, entropy_rate_is_fisher=True,
    )  # fmt: skip
    checks = job.gradient_flow_verdicts(_R)
    args = (_R, checks, _trained_se(0.2, 0.1, 0.01), mix, _mixture_order(1.0))
    claims = job.gradient_flow_claims(*args, quick=False, seed=0)
    check_claims(claims)
    assert all(c["verdict"] == "reproduced" for c in claims), claims
    # overlapping intervals: the means are lower but the claim is not reproduced
    args = (_R, checks, _trained_se(0.2, 0.19, 0.02), mix, _mixture_order(0.5))
    claims = job.gradient_flow_claims(*args, quick=False, seed=0)
    assert [c["verdict"] for c in claims[-2:]] == ["not reproduced"] * 2
    assert "RidgeletField" in claims[-2]["claim"] and "ResNet" in claims[-1]["claim"]
    assert claims[6]["verdict"] == "not reproduced"  # mixture order 0.5
    assert claims[6]["interval"]["low"] == pytest.approx(0.4)


@pytest.mark.slow
def test_curl_with_se_linear_field_closed_form():
    """About 9 s on a loaded 2-core CPU (the first jacfwd compile)."""
    import jax.numpy as jnp
    import jax.random as jr

    M = jnp.array([[1.0, 2.0], [0.0, 1.0]])
    x = jr.normal(jr.PRNGKey(0), (50, 2))
    frac, se = job.curl_with_se(lambda t, y, a: M @ y, x)
    assert frac == pytest.approx(2 / 6, rel=1e-6)  # ||(M - M^T)/2||_F^2 / ||M||_F^2
    assert se < 1e-6  # a linear field: the same fraction at every point


@pytest.mark.slow
def test_curl_with_se_matches_resampling():
    """30 independent draws (about 30 s on a loaded 2-core CPU)."""
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np

    # a nonlinear field: the s.e. matches the spread over independent draws
    def v(t, y, a):
        return jnp.array([jnp.sin(y[1]) + y[0], y[0] ** 2 - y[1]])

    draws = [job.curl_with_se(v, jr.normal(jr.PRNGKey(k), (100, 2))) for k in range(30)]
    fr_, se_ = np.array(draws).T
    assert 0.6 < np.mean(se_) / np.std(fr_, ddof=1) < 1.6


@pytest.mark.slow
def test_mixture_jko_order():
    """JKO heat flow of the job's 2-D mixture for tau = 0.1, 0.05, 0.025 (about 4 min loaded).

    Measured (n = 150, seed 0): RMS to the continuous flow 0.0109, 0.0056,
    0.0028, order 0.969; covariance error to the exact law 0.070, 0.066,
    0.063 against the continuous blob flow's 0.060.
    """
    out = job.mixture_jko_order(seed=0, num_samples=150)
    rms = [row["rms_to_continuous"] for row in out["rows"]]
    assert rms[0] > rms[1] > rms[2]
    assert 0.8 <= out["order"] <= 1.2, out
    assert out["first_order"] is True
    assert (
        max(row["max_grad_norm"] for row in out["rows"]) < 1e-6
    )  # each step converged
    # against the exact law the error levels off at the estimator's bias, not at 0
    last = out["rows"][-1]["cov_error_exact"]
    assert abs(last - out["cov_error_continuous"]) < 0.5 * out["cov_error_continuous"]


def _trained_seeds(plain: list[float], reg: list[float]) -> dict[str, Any]:
    """Per-seed curl fractions, aggregated the way `trained_curl` does."""
    from flowrep._cli._claims import make_interval

    t: dict[str, Any] = _trained(float(np.mean(plain)), float(np.mean(reg)))
    t.update(num_samples=256, seeds=list(range(len(plain))), paired={})
    for kind in ("ridgelet", "resnet"):
        t[kind]["plain"]["per_seed"] = dict(curl_fraction=plain)
        t[kind]["weight_decay+kinetic"]["per_seed"] = dict(curl_fraction=reg)
        for row in t[kind].values():
            row["curl_fraction_se"] = 1e-4  # tiny sampling error: the seeds decide
        diffs = [r - p for p, r in zip(plain, reg)]
        t["paired"][kind] = dict(
            regularised_minus_plain=diffs, interval=make_interval(diffs)
        )
    t["verdicts"] = job.trained_curl_verdicts(t)
    return t


def test_trained_curl_claims_use_seeds_when_there_are_several():
    checks = job.gradient_flow_verdicts(_R)
    mix = None
    # every seed lower: the paired interval is below 0
    t = _trained_seeds([0.20, 0.17, 0.15], [0.08, 0.07, 0.06])
    claims = job.gradient_flow_claims(_R, checks, t, mix, None, quick=False, seed=0)
    curl = [c for c in claims if "less curl" in c["claim"]]
    assert [c["verdict"] for c in curl] == ["reproduced"] * 2
    iv = curl[0]["interval"]
    assert iv["n"] == 3 and iv["high"] < 0 and "paired by training seed" in iv["method"]
    assert "training seeds [0, 1, 2]" in curl[0]["setting"]
    assert curl[0]["value"]["plain"]["curl_fraction_per_seed"] == [0.20, 0.17, 0.15]
    # lower mean, but one seed goes the other way: the interval reaches 0
    t = _trained_seeds([0.20, 0.17, 0.05], [0.08, 0.07, 0.15])
    claims = job.gradient_flow_claims(_R, checks, t, mix, None, quick=False, seed=0)
    curl = [c for c in claims if "less curl" in c["claim"]]
    assert [c["verdict"] for c in curl] == ["not reproduced"] * 2


def test_trained_curl_aggregates_seeds(monkeypatch):
    """The aggregation over training seeds, on stand-in per-seed runs."""

    def one(*, n, steps, seed):
        def row(c):
            return dict(
                curl_fraction=c, curl_fraction_se=0.01, non_gradient_fraction=c / 2,
                final_loss=0.1 * seed,
            )  # fmt: skip

        names = ("plain", "weight_decay", "weight_decay+kinetic")
        rf = {k: row(0.2 + 0.01 * seed - 0.05 * i) for i, k in enumerate(names)}
        rf["gradient_flag"] = row(0.0)
        rn = {k: row(0.3 - 0.1 * i + 0.02 * seed) for i, k in enumerate(names)}
        return dict(ridgelet=rf, resnet=rn)

    monkeypatch.setattr(job, "_trained_curl_one", one)
    out = job.trained_curl(quick=False, seed=5)
    assert out["seeds"] == [5, 6, 7] and out["num_samples"] == 256
    plain = out["ridgelet"]["plain"]
    assert plain["per_seed"]["curl_fraction"] == pytest.approx([0.25, 0.26, 0.27])
    assert plain["curl_fraction"] == pytest.approx(0.26)
    assert plain["final_loss"] == pytest.approx(0.6)
    d = out["paired"]["resnet"]
    assert d["regularised_minus_plain"] == pytest.approx([-0.2] * 3)
    assert d["interval"]["n"] == 3 and d["interval"]["high"] < 0
    assert all(out["verdicts"].values())
    with pytest.raises(ValueError, match="num_seeds"):
        job.trained_curl(quick=True, seed=0, num_seeds=0)
