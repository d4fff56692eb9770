"""The demo's goals as claims: the verdicts follow the stated rules (no training here)."""

import pytest

from flowrep._cli._claims import check_claims
from flowrep._cli._demo import _claims, _settings, CPU_GOAL_S, W2_GOAL


def _data(ratio, h_ratio, cpu, slope=-1.0):
    floor = 0.33
    return dict(
        flow=dict(
            w2_flowed_to_target=ratio * floor,
            w2_gaussian_sample_to_target=floor,
            w2_ratio_to_floor=ratio,
            entropy_flowed_held_out=2.7 * h_ratio,
            entropy_target_knn=2.7,
            entropy_ratio_held_out=h_ratio,
            entropy_held_out_samples=[2.7 * h_ratio] * 3,
            entropy_target_knn_samples=[2.7] * 3,
            entropy_ratio_held_out_mean=h_ratio,
        ),
        timings=dict(cpu_s=cpu),
        depth_sweep=dict(loglog_slope=slope),
    )


def _verdicts(data):
    claims = _claims(
        data,
        _settings(True),
        seed=0,
        quick=True,
        w2_ratios=[1.0, 1.1, 1.2],
        h_ratios=[0.9, 0.92, 0.95],
    )
    check_claims(claims)
    return [c["verdict"] for c in claims], claims


def test_all_goals_met():
    verdicts, claims = _verdicts(_data(1.1, 0.97, 50.0))
    assert verdicts == ["reproduced"] * 4
    # the W2 and entropy claims carry the floor's spread; CPU time has none
    w2, h, cpu, _ = claims
    assert (
        w2["interval"]["n"] == 3
        and w2["interval"]["low"] < 1.1 < w2["interval"]["high"]
    )
    assert h["interval"]["mean"] == pytest.approx(0.9233333)
    assert cpu["interval"] is None


@pytest.mark.parametrize(
    "args, failed",
    [
        ((W2_GOAL + 0.01, 0.97, 50.0), 0),
        ((1.1, 0.94, 50.0), 1),
        ((1.1, 1.06, 50.0), 1),
        ((1.1, 0.97, CPU_GOAL_S + 1), 2),
        ((1.1, 0.97, 50.0, -0.5), 3),
    ],
)
def test_a_missed_goal_is_not_reproduced(args, failed):
    verdicts, _ = _verdicts(_data(*args))
    assert verdicts[failed] == "not reproduced"
    assert verdicts.count("reproduced") == 3
