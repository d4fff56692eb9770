"""The `flowrep reproduce` jobs li-shi, gai-zhang and dae, run in quick mode into a temp dir."""

import json
import sys
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from flowrep._cli import _common, _dae_job, _data, _gai_zhang, _li_shi
from flowrep._cli._report import CLIError, Report

from .helpers import loglog_slope, tree_allclose


def _written(report: Report) -> dict:
    """Write the report as the CLI does and read report.json back."""
    report.write()
    assert (report.dir / "index.html").exists()
    for name, _ in report.figures:
        assert (report.dir / name).stat().st_size > 0
    return json.loads((report.dir / "report.json").read_text())


def test_verdict_line():
    from flowrep._cli._common import verdict_line

    assert verdict_line("reproduced") == "reproduced"
    assert verdict_line("partly", "holds: a; fails: b") == "partly (holds: a; fails: b)"


# ------------------------------------------------------------------------- Li-Shi


def test_orientation_preserving_mlp_is_deterministic():
    for seed in range(6):
        a = _li_shi.orientation_preserving_mlp(jr.PRNGKey(seed), 3, 3, 0.2)
        b = _li_shi.orientation_preserving_mlp(jr.PRNGKey(seed), 3, 3, 0.2)
        for la, lb in zip(a.layers, b.layers):
            assert np.linalg.det(np.asarray(la.weight)) > 0
            assert np.array_equal(np.asarray(la.weight), np.asarray(lb.weight))


@pytest.mark.slow
def test_li_shi_quick(tmp_path):
    report = Report(tmp_path, "t")
    out = _li_shi.li_shi(report, quick=True, seed=0)
    report.data.update(out)
    data = _written(report)
    rows = data["rows"]
    ns = np.asarray([r["n"] for r in rows])
    errors = np.asarray([r["max_error"] for r in rows])
    assert np.all(np.diff(ns) > 0) and np.all(np.diff(errors) < 0)
    assert data["error_decreasing"] is True
    # the reported slope is the regression over the fitted range (recomputed here)
    fit = ns >= data["slope_fit_from_n"]
    assert fit.sum() >= 3
    assert data["slope"] == pytest.approx(loglog_slope(ns[fit], errors[fit]), abs=1e-9)
    assert -1.3 <= data["slope"] <= -0.7
    # halving the step about halves the error at the fine end
    assert 1.8 < errors[-2] / errors[-1] < 2.3
    # rms <= max, and the accurate flow reproduces the plain net
    assert all(r["rms_error"] <= r["max_error"] for r in rows)
    assert data["flow_error"] < 1e-6
    assert all(d > 0 for d in data["net"]["det_w"])
    assert data["net"]["num_pieces"] == 5 * data["net"]["layers"]
    assert data["reproduced"] is True
    names = [f for f, _ in report.figures]
    assert names == ["li_shi_error.png", "li_shi_tracks.png"]
    # both captions say what to look for and carry their claim's verdict
    html = (report.dir / "index.html").read_text()
    assert html.count("<b>Verdict:</b> reproduced") == 2
    assert all("Look for" in c for _, c in report.figures)
    assert report.sections and "Li & Shi" in report.sections[-1][0]


# ---------------------------------------------------------------------- Gai-Zhang


def test_adamw_without_decay_is_adam():
    """The job trains 'adam' as adamw with weight decay 0: check the updates agree."""
    params = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array(0.3)}
    grads = {"w": jnp.array([0.1, 0.4, -0.2]), "b": jnp.array(-1.0)}
    inj = optax.inject_hyperparams(optax.adamw)(learning_rate=1e-2, weight_decay=0.0)
    ref = optax.adam(1e-2)
    s1, s2 = inj.init(params), ref.init(params)
    for _ in range(3):
        u1, s1 = inj.update(grads, s1, params)
        u2, s2 = ref.update(grads, s2, params)
        assert tree_allclose(u1, u2, rtol=1e-12, atol=1e-15)


def test_digits_needs_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(CLIError, match=r"repro"):
        _data.digits_task(0, 8, 100)


def test_spirals_task_shapes():
    task = _data.spirals_task(0, 5, 64, 32)
    assert task["x_train"].shape == (64, 5) and task["x_test"].shape == (32, 5)
    # the padding coordinates are zero; the two classes are both present
    assert np.all(task["x_train"][:, 2:] == 0)
    assert set(np.unique(task["y_train"])) == {0, 1}


@pytest.mark.slow
def test_gai_zhang_quick(tmp_path):
    report = Report(tmp_path, "t")
    out = _gai_zhang.gai_zhang(report, quick=True, seed=0)
    report.data.update(out)
    data = _written(report)
    assert set(data["datasets"]) == {"spirals", "digits"}
    chance = {"spirals": 0.5, "digits": 0.1}
    for name, res in data["datasets"].items():
        table = {r["model"]: r for r in res["table"]}
        assert list(table) == ["plain", "plain+wd", "resnet", "resnet+wd"]
        for model, row in table.items():
            for m in ("lss", "cost_ratio", "kinetic_ratio", "path_ratio"):
                assert np.isfinite(row[m]), (name, model, m)
                # all four scores are >= 1, with 1 the geodesic
                assert row[m] >= 1 - 1e-9, (name, model, m, row[m])
            # kinetic ratio = speed factor x cost ratio (docs/theory/scores.md):
            # per run (the table holds means over seeds, and a mean of products
            # is not the product of means)
            for runs in res["runs"].values():
                for run in (r for rs in runs.values() for r in rs):
                    assert run["kinetic_ratio"] == pytest.approx(
                        run["speed_factor"] * run["cost_ratio"], rel=1e-9
                    )
            assert row["accuracy"] > chance[name] + 0.3, (name, model)
        for m, v in res["verdicts"].items():
            assert isinstance(v["reproduced"], bool)
            expect = (
                table["resnet+wd"][m] < table["plain"][m]
                and table["resnet+wd"][m] < table["plain+wd"][m]
            )
            assert v["reproduced"] == expect
    assert set(data["verdicts"]) == {"lss", "cost_ratio", "kinetic_ratio", "path_ratio"}
    assert all(isinstance(v, bool) for v in data["verdicts"].values())
    assert [f for f, _ in report.figures] == [
        "gai_zhang_scores.png",
        "gai_zhang_tracks.png",
    ]
    html = (report.dir / "index.html").read_text()
    assert html.count("<b>Verdict:</b>") == 2
    assert all("Look for" in c for _, c in report.figures)


# ---------------------------------------------------------------------------- DAE


def _summary(entropy, gauss, mix):
    t = np.linspace(0, 0.2, len(entropy))
    return dict(
        entropy=dict(
            t=t.tolist(),
            closed_form=list(entropy),
            continuity=[e + 0.01 for e in entropy],
            continuity_stderr=[0.02] * len(entropy),
            knn=[e - 0.02 for e in entropy],
            fisher=[1.0] * len(entropy),
        ),
        depth_table_gaussian=dict(
            t=0.1,
            rows=[
                dict(num_layers=2**i, w2_to_deep=d, entropy=0.0, entropy_deep=0.0)
                for i, d in enumerate(gauss)
            ],
        ),
        depth_table_mixture=dict(
            t=0.2,
            rows=[
                dict(num_layers=2**i, map_rms=d, entropy=0.0, entropy_deep=0.0)
                for i, d in enumerate(mix)
            ],
        ),
    )


def test_dae_verdicts_pass_and_fail():
    good = _dae_job.dae_verdicts(_summary([3.0, 2.8, 2.5], [0.4, 0.2, 0.1], [0.3, 0.2]))
    assert good["entropy_decreasing"] and good["l_sweep_monotone"]
    assert good["continuity_agrees"]
    assert good["l_sweep"]["depth_table_gaussian"]["loglog_slope"] == pytest.approx(
        -1.0
    )
    bad_entropy = _dae_job.dae_verdicts(
        _summary([3.0, 3.1, 2.5], [0.4, 0.2, 0.1], [0.3, 0.2])
    )
    assert not bad_entropy["entropy_decreasing"]
    bad_sweep = _dae_job.dae_verdicts(
        _summary([3.0, 2.8, 2.5], [0.4, 0.2, 0.1], [0.3, 0.31])
    )
    assert bad_sweep["entropy_decreasing"] and not bad_sweep["l_sweep_monotone"]
    assert not bad_sweep["l_sweep"]["depth_table_mixture"]["monotone"]


@pytest.mark.slow
def test_dae_quick(tmp_path):
    report = Report(tmp_path, "t")
    out = _dae_job.dae(report, quick=True, seed=0)
    report.data.update(out)
    data = _written(report)
    assert data["entropy_decreasing"] is True
    assert all(data["entropy_decreasing_by_estimate"].values())
    assert data["continuity_agrees"] is True
    assert data["l_sweep_monotone"] is True
    assert data["reproduced"] is True
    # the Gaussian L-sweep against an independent closed form: each DAE of noise
    # s = t/L maps the eigenvalues lam -> lam^3/(lam+s)^2; the deep limit is lam - 2t
    # (docs/theory/dae.md#deep-dae), and commuting Gaussians have W2 = |sqrt(lam1)-sqrt(lam2)|
    sweep = data["l_sweep"]["depth_table_gaussian"]
    lam0 = np.linalg.eigvalsh(np.array([[1.0, 0.3], [0.3, 0.6]]))  # the story's law
    t = sweep["t"]
    for row in sweep["rows"]:
        lam = lam0.copy()
        for _ in range(row["L"]):
            lam = lam**3 / (lam + t / row["L"]) ** 2
        w2 = np.sqrt(np.sum((np.sqrt(lam) - np.sqrt(lam0 - 2 * t)) ** 2))
        assert row["distance"] == pytest.approx(w2, rel=1e-6)
    assert [f for f, _ in report.figures] == [
        "dae_transport.png",
        "dae_displacement.png",
        "dae_entropy.png",
        "dae_depth.png",
    ]
    assert not (tmp_path / "_dae_story").exists()
    # the entropy and depth figures carry their claims' verdicts
    html = (report.dir / "index.html").read_text()
    assert html.count("<b>Verdict:</b>") == 2
    assert all("Look for" in c for _, c in report.figures)


def test_jobs_run_in_float64():
    seen = {}

    @_common.x64
    def job():
        seen["dtype"] = jnp.ones(1).dtype
        return {}

    with jax.enable_x64(False):
        job()
        assert jnp.ones(1).dtype == jnp.float32
    assert seen["dtype"] == jnp.float64


def _fake_story(quick=True, key=None, progress=False):
    """A small stand-in for `dae_story`'s computation, with the keys its figures read."""
    rng = np.random.default_rng(0)
    gx, gy = np.meshgrid(np.linspace(-1, 1, 8), np.linspace(-1, 1, 8))
    dens = np.exp(-(gx**2 + gy**2))
    q = rng.normal(size=(12, 2))
    story: dict[str, Any] = dict(_summary([3.0, 2.8, 2.5], [0.4, 0.2, 0.1], [0.3, 0.2]))
    story.update(t=0.2, collapse_time=0.25, num_samples=20, quick=quick)
    story.update(learned_relative_error=0.1, learned_steps=1)
    story["arrays"] = dict(
        samples=rng.normal(size=(20, 2)),
        shallow=rng.normal(size=(20, 2)),
        deep=rng.normal(size=(20, 2)),
        grid_x=gx,
        grid_y=gy,
        density_data=dens,
        density_t=dens,
        quiver_points=q,
        displacement_shallow=q,
        displacement_deep=q,
        displacement_learned=q,
    )
    return story


def test_dae_story_computes_and_writes_nothing(tmp_path, monkeypatch):
    import matplotlib
    from matplotlib.figure import Figure

    from flowrep._dae import _story

    monkeypatch.setattr(_story, "_compute", _fake_story)
    monkeypatch.chdir(tmp_path)
    backend = matplotlib.rcParams._get_backend_or_none()  # pyright: ignore
    story = _story.dae_story(quick=True)
    assert "figures" not in story and story["arrays"]["samples"].shape == (20, 2)
    story = _story.dae_story(quick=True, figures=True)
    assert list(story["figures"]) == [
        "transport.png",
        "displacement.png",
        "entropy.png",
        "depth.png",
    ]
    assert all(isinstance(f, Figure) for f in story["figures"].values())
    assert list(tmp_path.iterdir()) == []
    assert matplotlib.rcParams._get_backend_or_none() == backend  # pyright: ignore


def test_dae_story_old_call_writes_its_folder(tmp_path, monkeypatch):
    from flowrep._dae import _story

    monkeypatch.setattr(_story, "_compute", _fake_story)
    out = tmp_path / "story"
    summary = _story.dae_story(str(out), quick=True)
    assert summary["files"] == [
        "depth.png",
        "displacement.png",
        "entropy.png",
        "transport.png",
        "dae_story.json",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(summary["files"])
    assert "arrays" not in summary and "figures" not in summary
    written = json.loads((out / "dae_story.json").read_text())
    assert written == json.loads(json.dumps(summary))
