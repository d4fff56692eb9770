"""End-to-end tests of the `flowrep` command (quick mode, into temp dirs)."""

import json
import os
import subprocess
import sys

import pytest

from flowrep._cli import main
from flowrep._cli._report import atomic_report, CLIError, MARKER


def _report(out):
    with open(out / "report.json") as fh:
        data = json.load(fh)
    assert (out / "index.html").exists()
    # every report carries the marker that lets a later --out replace it
    assert json.loads((out / MARKER).read_text())["job"] == data["job"]
    # and nothing hidden is left beside it
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name]
    return data


@pytest.mark.slow  # ~1.5 min on an idle 2-core CPU; .ci/run also runs `flowrep demo --quick` itself
def test_demo_quick(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--seed", "1"]) == 0
    data = _report(out)
    for name in ("tracks.png", "spectrum.png", "depth.png", "entropy.png"):
        assert (out / name).stat().st_size > 1000
    assert data["mode"] == "quick" and data["seed"] == 1
    # the flow moves held-out moons towards the Gaussian, to within a few sampling noise levels
    flow = data["flow"]
    assert flow["w2_flowed_to_target"] < flow["w2_source_to_target"]
    assert flow["w2_flowed_to_target"] < 3 * flow["w2_gaussian_sample_to_target"]
    assert 0 <= flow["curl_fraction"] <= 1 and 0 <= flow["non_gradient_fraction"] <= 1
    # the goal's ratios are reported beside the keys they are computed from
    assert flow["w2_ratio_to_floor"] == pytest.approx(
        flow["w2_flowed_to_target"] / flow["w2_gaussian_sample_to_target"]
    )
    assert 0 < flow["entropy_ratio"] < 1.5
    # Euler broken lines converge to the flow at O(1/L)
    sweep = data["depth_sweep"]
    errs = [r["rms_error_to_flow"] for r in sweep["rows"]]
    assert all(e1 > e2 for e1, e2 in zip(errs, errs[1:]))
    assert -1.3 < sweep["loglog_slope"] < -0.7 and sweep["reproduced"]
    # transport scores are >= 1 (1 = geodesic)
    for key in ("lss", "cost_ratio", "kinetic_ratio", "path_ratio"):
        assert data["scores"][key] >= 1 - 1e-6
    assert len(data["entropy"]["knn"]) == len(data["entropy"]["ts"])
    printed = capsys.readouterr().out
    assert "ResNet(L) -> flow" in printed and "wrote" in printed


def test_reproduce_admissibility_table(tmp_path):
    out = tmp_path / "t5"
    assert main(["reproduce", "admissibility-table", "--out", str(out)]) == 0
    data = _report(out)
    assert data["matches_published"] is True
    for dim in ("dim1", "dim2"):
        assert data[dim]["status"] == data[dim]["published"]
    assert data["dim1"]["status"]["relu"] == ["inf", "inf", "+"]


def test_reproduce_ghosts(tmp_path):
    out = tmp_path / "ghosts"
    assert main(["reproduce", "ghosts", "--out", str(out)]) == 0
    rows = {r["k"]: r for r in _report(out)["rows"]}
    # tanh is odd: even k >= 2 vanish (ghosts), odd k >= m + 1 = 2 are admissible;
    # k = 0, 1 diverge at omega -> 0 (tanh^# ~ 1/omega)
    for k in (2, 4):
        assert rows[k]["status"] == "ghost"
        assert rows[k]["raw_max_abs"] < 1e-3 * rows[3]["raw_max_abs"]
    assert rows[3]["status"] == "admissible"
    assert rows[0]["status"] == rows[1]["status"] == "diverges"


def test_reproduce_acha_1d(tmp_path):
    out = tmp_path / "acha"
    assert main(["reproduce", "acha-1d", "--out", str(out)]) == 0
    pairs = _report(out)["pairs"]
    by = {(p["activation"], p["ridgelet"]): p for p in pairs}
    assert (
        by[("relu", "G^(4)")]["reconstructs"]
        and by[("gaussian", "G^(2)")]["reconstructs"]
    )
    assert (
        by[("tanh", "G^(2)")]["status"] == "ghost"
        and not by[("tanh", "G^(2)")]["reconstructs"]
    )
    assert by[("relu", "G^(2)")]["status"] == "diverges"
    # ACHA's own ridgelets Lambda^1 G^(l): Table 5's pattern, and the admissible
    # pairs approximate sin 2 pi x (more slowly in A than G^(k): 0.25-0.35 at A = 20).
    lam = {k: v for k, v in by.items() if k[1].startswith("Lambda")}
    assert len(lam) == 8
    assert lam[("tanh", "Lambda^1 G^(2)")]["status"] == "ghost"
    assert lam[("tanh", "Lambda^1 G^(2)")]["raw_max_abs"] < 1e-4
    assert lam[("relu", "Lambda^1 G^(0)")]["status"] == "diverges"
    for key in [
        ("relu", "Lambda^1 G^(2)"),
        ("step", "Lambda^1 G^(1)"),
        ("gaussian", "Lambda^1 G^(0)"),
    ]:
        assert lam[key]["status"] == "admissible"
        assert lam[key]["sup_error_inner"] < 0.4
    assert (out / "acha_1d.png").exists()
    # the reconstructions' caption carries every claim's verdict
    assert (
        "<b>Verdict:</b> admissible pairs reconstruct"
        in (out / "index.html").read_text()
    )
    # claims: each verdict follows its stated rule (docs/reproductions.md)
    data = _report(out)
    from flowrep._cli._claims import check_claims, verdict_of

    check_claims(data["claims"])
    g_adm = [p for p in pairs[:8] if p["status"] == "admissible"]
    want = verdict_of(
        {str(i): p["sup_error_inner"] < 0.15 for i, p in enumerate(g_adm)}
    )
    assert data["claims"][0]["verdict"] == want[0]
    trunc = data["claims"][-1]
    assert trunc["value"]["truncation_factor"] == pytest.approx(0.7534, abs=1e-4)
    amp = trunc["value"]["amplitudes"]["relu/Lambda^1 G^(2)"]
    assert abs(amp - trunc["value"]["truncation_factor"]) < 0.02
    grid = data["lambda_check"]["grid"]
    assert grid and (data["lambda_check"]["A_met"] is not None) == (
        grid[0]["sup_error_inner"] < 0.15
    )


def test_unknown_reproduction(tmp_path, capsys):
    assert main(["reproduce", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown reproduction 'nope'" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_bad_option(capsys):
    assert main(["demo", "--seed", "abc"]) != 0
    assert "invalid int value" in capsys.readouterr().err


def test_version(capsys):
    import flowrep

    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"flowrep {flowrep.__version__}"
    assert flowrep.__version__ != "0+unknown"


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert (
        main(["reproduce", "admissibility-table", "--out", str(blocker / "sub")]) == 2
    )
    assert "error" in capsys.readouterr().err
    assert main(["reproduce", "admissibility-table", "--out", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_no_half_written_report(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(RuntimeError):
        with atomic_report(out, "t") as report:
            (report.dir / "partial.png").write_text("x")
            raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    # an existing report is replaced only on success
    with atomic_report(out, "t") as report:
        report.data["v"] = 1
    with pytest.raises(RuntimeError):
        with atomic_report(out, "t") as report:
            report.data["v"] = 2
            raise RuntimeError("boom")
    assert json.loads((out / "report.json").read_text())["v"] == 1


def test_job_error_is_one_line(tmp_path, capsys, monkeypatch):
    import flowrep._cli._ridgelet_jobs as rj

    def broken(*a, **k):
        raise ValueError("synthetic failure")

    monkeypatch.setattr(rj, "ghosts", broken)
    assert main(["reproduce", "ghosts", "--out", str(tmp_path / "g")]) == 1
    err = capsys.readouterr().err
    assert "ValueError: synthetic failure" in err and err.count("\n") == 1
    assert not (tmp_path / "g").exists()


def test_python_dash_m(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "flowrep", "reproduce", "nope"],
        capture_output=True,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert proc.returncode == 2 and "unknown reproduction" in proc.stderr


def test_cli_error_type():
    assert issubclass(CLIError, Exception)


@pytest.mark.slow  # the job's numbers are tested in test_paper_jobs.py; this is the CLI path
def test_reproduce_li_shi(tmp_path, capsys):
    out = tmp_path / "ls"
    assert main(["reproduce", "li-shi", "--out", str(out)]) == 0
    data = _report(out)
    errs = [r["max_error"] for r in data["rows"]]
    assert errs[-1] < errs[0] / 10
    assert data["reproduced"] is True
    assert "reproduced" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gai-zhang", "dae"])
def test_reproduce_slow_jobs(tmp_path, name):
    out = tmp_path / name
    assert main(["reproduce", name, "--out", str(out)]) == 0
    data = _report(out)
    assert isinstance(data["reproduced"], bool)


def test_bench_table_builders():
    from flowrep._cli import _bench

    assert (_bench.find_benchmarks() / "flow.py").exists()
    ridge = _bench._rows_ridgelet(
        [dict(op="R", n=10, m=2, pairs_per_s=2e8, numpy_pairs_per_s=1e7, speedup=20.0)]
    )
    assert ridge[0]["ratio"] == 20.0 and ridge[0]["peer"] == "numpy"
    flow_rows = [
        dict(m=2, J=256, n=64, mode="fixed", impl="torchdiffeq", fwd=1.0, fwd_bwd=4.0),
        dict(
            m=2, J=256, n=64, mode="fixed", impl="flowrep[auto]", fwd=0.5, fwd_bwd=1.0
        ),
        dict(
            m=2,
            J=256,
            n=64,
            mode="fixed",
            impl="jax_euler_resnet",
            fwd=0.5,
            fwd_bwd=1.0,
        ),
    ]
    flow = _bench._rows_flow(flow_rows)
    assert len(flow) == 1 and flow[0]["ratio"] == pytest.approx(4.0)
    no_torch = _bench._rows_flow(flow_rows[1:2])
    assert no_torch[0]["ratio"] is None and "not installed" in no_torch[0]["peer"]
    sink = _bench._rows_scores(
        [
            dict(kind="sinkhorn", solver="flowrep", n=100, d=2, time_s=0.5),
            dict(kind="sinkhorn", solver="pot-torch", n=100, d=2, time_s=2.0),
            dict(kind="exact", solver="flowrep", n=100, d=2, time_s=9.0),
        ]
    )
    assert len(sink) == 1 and sink[0]["ratio"] == pytest.approx(4.0)


def test_registry_drives_reproduce(capsys):
    from flowrep._cli._jobs import JOBS
    from flowrep._cli._main import _parser, REPRODUCTIONS

    assert REPRODUCTIONS == tuple(JOBS)
    assert all(name == job.name for name, job in JOBS.items())
    for job in JOBS.values():
        assert set(job.options) <= {"quick", "seed"}
    with pytest.raises(SystemExit):
        _parser().parse_args(["reproduce", "--help"])
    helptext = capsys.readouterr().out
    for job in JOBS.values():
        assert job.name in helptext and job.description in helptext


def test_registry_sections_are_written(tmp_path):
    from flowrep._cli._jobs import JOBS

    job = JOBS["admissibility-table"]
    with atomic_report(tmp_path / "t5", "t") as report:
        report.data.update(job.run(report, quick=True, seed=0))
    assert [h for h, _ in report.sections] == list(job.sections)
    assert "relu" in report.section_text("ACHA Table 5, m = 1")
    with pytest.raises(KeyError, match="no report section"):
        report.section_text("nope")
