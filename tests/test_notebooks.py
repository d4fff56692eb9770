"""The notebooks in `notebooks/`: committed with outputs, in sync with `_build.py`, and executable.

The static checks are fast and run by default. Executing a notebook takes
20-60 s on a CPU (each imports JAX, compiles, trains), so those tests are
marked `slow`; each runs the notebook in a temporary copy with nbclient on the
CPU, appends a cell that prints `results["summary"]` as JSON, and checks the
key numbers against what the mathematics says (not against stored outputs).
"""

import copy
import importlib.util
import json
import math
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest


nbformat = pytest.importorskip("nbformat")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = [
    "01_ridgelet_transform",
    "02_flows_and_resnet_depth",
    "03_dae_transport_entropy",
    "04_geodesics_and_scores",
    "05_analyze_your_network",
]
MARKER = "NOTEBOOK_SUMMARY "


def _read(name: str):
    return nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _load_builder():
    spec = importlib.util.spec_from_file_location(
        "_flowrep_notebook_build", NOTEBOOKS / "_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ruff_available() -> bool:
    try:
        subprocess.run(
            [sys.executable, "-m", "ruff", "--version"],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


# ----------------------------------------------------------------- static checks


@pytest.mark.parametrize("name", NAMES)
def test_committed_with_outputs(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    assert path.stat().st_size < 1_000_000, f"{path.name} is over 1 MB"
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = _code_cells(nb)
    # Colab install first: guarded, so it is a no-op outside Colab
    assert nb.cells[0].cell_type == "code"
    first = cells[0].source
    assert '"google.colab" in sys.modules' in first
    assert 'find_spec("flowrep") is None' in first
    assert "pip" in first and "git+https://" in first
    # built around main(), called by the last cell
    assert any(c.source.lstrip().startswith("def main(") for c in cells)
    assert cells[-1].source.strip() == "results = main()"
    # executed, in order, without errors, and the last cell shows figures
    counts = [c.execution_count for c in cells]
    assert all(isinstance(n, int) for n in counts), f"{name}: not executed"
    assert counts == sorted(counts)
    for cell in cells:
        assert not [o for o in cell.outputs if o.output_type == "error"]
        for out in cell.outputs:
            if out.output_type == "stream":
                assert out.name == "stdout", f"{name}: stderr output {out.text[:200]}"
    images = [o for o in cells[-1].outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    text = "".join(o.text for o in cells[-1].outputs if o.output_type == "stream")
    assert "main() took" in text


@pytest.mark.skipif(not _ruff_available(), reason="ruff formats the generated cells")
def test_in_sync_with_builder():
    """Every committed cell source is what `notebooks/_build.py` generates."""
    builder = _load_builder()
    assert list(builder.NOTEBOOKS) == NAMES
    for name in NAMES:
        expected = builder.build(name, builder.NOTEBOOKS[name])
        committed = _read(name)
        assert [(c.cell_type, c.source) for c in committed.cells] == [
            (c.cell_type, c.source) for c in expected.cells
        ], (
            f"{name}.ipynb differs from _build.py: run `python notebooks/_build.py {name[:2]}`"
        )


# ----------------------------------------------------------------- execution


def _execute(name: str, tmp_path, monkeypatch) -> dict:
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_path / f"{name}.ipynb")
    nb = _read(name)
    nb = copy.deepcopy(nb)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import json\n\n"
            f"print({MARKER!r} + json.dumps(results['summary'], "
            "default=lambda o: np.asarray(o).tolist()))"
        )
    )
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on any error
    lines = [
        line
        for out in nb.cells[-1].outputs
        if out.output_type == "stream"
        for line in out.text.splitlines()
        if line.startswith(MARKER)
    ]
    assert len(lines) == 1
    return json.loads(lines[0][len(MARKER) :])


def _decreasing(values) -> bool:
    return all(b < a for a, b in zip(values, values[1:]))


@pytest.mark.slow
def test_01_ridgelet_transform(tmp_path, monkeypatch):
    s = _execute(NAMES[0], tmp_path, monkeypatch)
    assert s["pairing_relu_g4"] == pytest.approx(-2 * math.sqrt(2 * math.pi), rel=1e-9)
    assert s["tanh_g2"] == "vanishes" and s["relu_g2"] == "diverges"
    assert s["pairing_tanh_g3"] > 0
    assert s["table5_matches_published"] is True
    assert s["table5_status"]["relu"] == ["inf", "inf", "+"]
    assert s["table5_status"]["identity"] == ["0", "0", "0"]
    for name, errors in s["reconstruction_rms"].items():
        assert _decreasing(errors), name
    # truncation |a| <= A costs O(1/A) for ReLU (docs/theory/ridgelets.md)
    assert -1.4 < s["reconstruction_slopes"]["relu / G^(4)"] < -0.8
    assert s["reconstruction_rms"]["tanh / G^(3)"][-1] < 0.05
    # a ghost: S[R[f; G^(2)]] ~ 0 for tanh, against O(1) for the admissible G^(3)
    assert s["ghost"]["spectrum_max_ghost"] > 0.1
    assert s["ghost"]["ratio"] < 1e-6
    # oracle sampling is Monte Carlo: RMS ~ J^(-1/2); the refit beats it
    samp = s["sampling"]
    assert -0.8 < samp["slope"] < -0.3
    assert all(r < o for r, o in zip(samp["rms_refit"], samp["rms"]))


@pytest.mark.slow
def test_02_flows_and_resnet_depth(tmp_path, monkeypatch):
    s = _execute(NAMES[1], tmp_path, monkeypatch)
    assert s["inverse_error"] < 1e-6
    ent = s["entropy"]
    assert ent["entropy_flow"][0] == pytest.approx(
        math.log(2 * math.pi * math.e), abs=4 * ent["stderr"][0]
    )
    # two independent estimates of H[mu_t] agree within the Monte Carlo error
    diff = np.abs(np.asarray(ent["entropy_flow"]) - np.asarray(ent["entropy_knn"]))
    assert np.all(diff < 3 * np.asarray(ent["stderr"]) + 0.05)
    dep = s["depth"]
    assert _decreasing(dep["errors"])
    assert -1.2 < dep["slope"] < -0.85
    li = s["li_shi"]
    assert li["flow_error"] < 1e-8
    assert _decreasing(li["errors"])
    assert -1.3 < li["slope"] < -0.8


@pytest.mark.slow
def test_03_dae_transport_entropy(tmp_path, monkeypatch):
    s = _execute(NAMES[2], tmp_path, monkeypatch)
    tr = s["transport"]
    assert tr["logp_error"] < 1e-3
    assert tr["w2_flow"] < 1.5 * tr["w2_noise"]
    var = tr["variance"]
    # the deep flow removes exactly 2 t m of total variance; the shallow DAE less
    assert var["deep"] == pytest.approx(var["data"] - 2 * s["t"] * 2, abs=0.05)
    assert var["shallow"] > var["deep"] + 0.1
    ent = s["entropy"]
    assert _decreasing(ent["closed_form"]) and _decreasing(ent["continuity"])
    err = np.abs(np.asarray(ent["continuity"]) - np.asarray(ent["closed_form"]))
    assert np.all(err < 3 * np.asarray(ent["continuity_stderr"]))
    # de Bruijn: -dH/dt equals the Fisher information
    t = np.asarray(ent["t"])
    dh = -np.diff(ent["closed_form"]) / np.diff(t)
    mid = 0.5 * (np.asarray(ent["fisher"][1:]) + np.asarray(ent["fisher"][:-1]))
    np.testing.assert_allclose(dh, mid, rtol=0.05)
    rows = s["depth"]["gaussian"]
    assert _decreasing([r["w2_to_deep"] for r in rows])
    assert _decreasing([r["entropy"] for r in rows])
    assert all(r["entropy"] > r["entropy_deep"] for r in rows)
    assert s["collapse"]["raised"] is True


@pytest.mark.slow
def test_04_geodesics_and_scores(tmp_path, monkeypatch):
    s = _execute(NAMES[3], tmp_path, monkeypatch)
    w2 = s["w2"]
    for row in w2["rows"]:
        for method in ("exact", "sinkhorn", "gaussian"):
            assert row[method] == pytest.approx(w2["closed_form"], rel=0.2)
    sc = s["scores"]
    for key in ("lss", "cost_ratio", "kinetic_ratio", "path_ratio"):
        assert sc["straight OT"][key] == pytest.approx(1.0, abs=1e-4)
    assert sc["zig-zag"]["cost_ratio"] == pytest.approx(1.0, abs=1e-4)
    assert 1.2 < sc["zig-zag"]["lss"] <= math.sqrt(2) + 1e-4
    assert sc["zig-zag"]["kinetic_ratio"] > 1.5
    assert sc["wrong pairing"]["lss"] == pytest.approx(1.0, abs=1e-4)
    assert sc["wrong pairing"]["cost_ratio"] > 1.05
    # training reaches the target; the kinetic penalty gives (nearly) the geodesic
    for name, fit in s["fits"].items():
        assert fit["w2_to_target"] < 0.5, name
    assert sc["+ kinetic penalty"]["kinetic_ratio"] < 1.05
    assert sc["+ kinetic penalty"]["lss"] < 1.01
    assert sc["trained"]["kinetic_ratio"] > sc["+ kinetic penalty"]["kinetic_ratio"]


@pytest.mark.slow
def test_05_analyze_your_network(tmp_path, monkeypatch):
    s = _execute(NAMES[4], tmp_path, monkeypatch)
    rows = s["rows"]
    assert rows["mlp"]["widths"] == [64, 128, 64, 32, 10]
    assert rows["resnet"]["widths"] == [64] * 9 + [10]
    for name, r in rows.items():
        assert r["accuracy"] > 0.9, name
        # LSS >= 1 (a broken line is no shorter than its chord); the cost
        # ratio >= 1 up to the OT solver (the network's pairing is a coupling)
        assert r["lss"] >= 1.0 - 1e-4, name
        assert r["cost_ratio"] >= 1.0 - 1e-3, name
        assert r["gw_path_ratio"] >= 1.0 - 1e-2, name
        assert 0.0 < r["dm_straightness"] <= 1.0 + 1e-6, name
    # a permutation of hidden units keeps the function and the coordinate-free
    # scores (to the solver tolerance), not the zero-padded embedding's
    perm = s["permutation"]
    assert perm["output_change"] < 1e-4
    assert perm["dm_change"] < 1e-5
    assert perm["layer_gw_change"] < 1e-3
    assert perm["layer_w2_change"] > 10 * perm["layer_gw_change"]
    if s["torch_max_diff"] is not None:
        # float32 features: torch's and XLA's matmuls round differently, by a
        # few ulps of the largest features (1.14e-5 = 3 * 2**-18 with the
        # packages of 2026-12-02: three ulps at magnitude 32-64; it was < 1e-5
        # before); a wrong copy (a transposed weight, a missing bias) is off
        # by O(1).
        assert s["torch_max_diff"] < 1e-4
