"""Smoke test of `benchmarks/ridgelet.py` on tiny sizes (no timing claims)."""

import importlib.util
import json

import numpy as np

from flowrep._cli._bench import find_benchmarks


def _load():
    spec = importlib.util.spec_from_file_location(
        "bench_ridgelet", find_benchmarks() / "ridgelet.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_numpy_baselines_match_brute_force():
    bench = _load()
    rng = np.random.default_rng(0)
    n, num_units, m = 37, 29, 3
    x = rng.standard_normal((n, m))
    a, b = rng.standard_normal((num_units, m)), rng.standard_normal(num_units)
    w, fx = rng.uniform(size=n), rng.standard_normal(n)
    wj, gamma = rng.uniform(size=num_units), rng.standard_normal(num_units)
    z = a @ x.T - b[:, None]  # [J, n], dense
    g4 = (z**4 - 6 * z**2 + 3) * np.exp(-(z**2) / 2)
    for block in (1, 5, 2048):  # both chunkings the benchmark times
        np.testing.assert_allclose(
            bench.numpy_ridgelet(fx, a, b, x, w, block), g4 @ (w * fx), rtol=1e-12
        )
        np.testing.assert_allclose(
            bench.numpy_dual(gamma, a, b, wj, x, block),
            np.tanh(z).T @ (wj * gamma),
            rtol=1e-12,
        )


def test_script_runs_and_reports_the_dot_bound(tmp_path):
    # n*J above --numpy-max-pairs: NumPy runs on a slice of the units
    out = tmp_path / "r.json"
    bench = _load()
    argv = ["--sizes", "300", "--dims", "2", "64", "--repeat", "1"]
    assert bench.main(argv + ["--numpy-max-pairs", "3e4", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"jax", "numpy", "rows"} <= set(data)
    rows = {(r["op"], r["m"]): r for r in data["rows"]}
    assert set(rows) == {("R", 2), ("S", 2), ("R", 64), ("S", 64)}
    for r in rows.values():
        assert r["rel_err"] < 1e-3 and r["speedup"] > 0
        assert r["numpy_pairs_timed"] < 300 * 300
        # the dot-product bound is only reported where the product is compute-bound
        assert (r["dot_bound_speedup"] is None) == (r["m"] < 64)
