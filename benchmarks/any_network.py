"""Benchmark: record and score a 10-layer network of changing width (issue 15).

A plain MLP given as a list of callables with random weights, widths
3 -> 256 -> 1024 -> 1024 -> 512 -> ... -> 2 (`--max-width`), n samples
(`--n`, default 1e4): time and peak memory of

1. `record_tracks` (width-changing layers, zero-padded common embedding),
2. `Tracks.project` to `--width` coordinates (PCA or JL) with its distortion,
3. `coordinate_free_scores` (GW between consecutive layers on a subset of
   `--gw-samples` samples, distance-matrix path on all n),
4. `score_tracks` on the projected tracks (Sinkhorn for n > 1024).

Each stage is run twice: the first call includes compilation, the second is
the run time (`jax.block_until_ready` around both). Peak memory is the
process's high-water mark (`VmHWM` from /proc/self/status) after each stage,
so it is cumulative. Correctness first: the recorded last layer is compared
with a plain NumPy forward pass, and the projection's distortion is
reported.

    python benchmarks/any_network.py --json any_network.json
    python benchmarks/any_network.py --n 2000 --quick
"""

import argparse
import json
import time

import jax
import jax.random as jr
import numpy as np

import flowrep


def _vmhwm_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _widths(max_width: int) -> list[int]:
    w = [3, 256, max_width, max_width, 512, 256, 128, 64, 32, 16, 2]
    return [min(v, max_width) if 0 < i < 10 else v for i, v in enumerate(w)]


def _network(key, widths):
    Ws, bs = [], []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        k1, k2 = jr.split(jr.fold_in(key, i))
        Ws.append(jr.normal(k1, (b, a)) * np.sqrt(2.0 / a))
        bs.append(0.1 * jr.normal(k2, (b,)))
    layers = []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        last = i == len(Ws) - 1
        layers.append(
            (lambda v, W=W, b=b: W @ v + b)
            if last
            else (lambda v, W=W, b=b: jax.nn.relu(W @ v + b))
        )
    return layers, Ws, bs


class _Rows(dict):
    """Prints each stage as soon as it is measured (one line per stage)."""

    def __setitem__(self, name, row):
        super().__setitem__(name, row)
        print(name, json.dumps(row), flush=True)


def _timed(fn):
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, first, time.perf_counter() - t


def main(
    n=10_000,
    max_width=1024,
    width=64,
    method="pca",
    gw_samples=512,
    json_path=None,
    skip_w2=False,
):
    key = jr.key(0)
    widths = _widths(max_width)
    layers, Ws, bs = _network(key, widths)
    x = jr.normal(jr.fold_in(key, 99), (n, 3))
    rows = _Rows()

    tr, c, r = _timed(lambda: flowrep.record_tracks(layers, x))
    h = np.asarray(x, np.float64)
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = h @ np.asarray(W, np.float64).T + np.asarray(b, np.float64)
        if i < len(Ws) - 1:
            h = np.maximum(h, 0)
    err = float(np.max(np.abs(np.asarray(tr.layer(10)) - h)) / np.max(np.abs(h)))
    rows["record"] = dict(
        first_s=c, run_s=r, peak_mib=_vmhwm_mib(), rel_error_vs_numpy=err
    )

    (pt, rep), c, r = _timed(
        lambda: tr.project(width, method, key=jr.key(1), num_pairs=4096)
    )
    rows["project"] = dict(
        first_s=c,
        run_s=r,
        peak_mib=_vmhwm_mib(),
        max_distortion=float(np.max(rep.max_distortion)),
        mean_distortion=float(np.max(rep.mean_distortion)),
        min_retained_variance=float(np.min(rep.retained_variance)),
        jl_bound=float(np.max(rep.bound)),
    )

    cf, c, r = _timed(
        lambda: flowrep.coordinate_free_scores(pt, max_samples=gw_samples)
    )
    rows["coordinate_free_scores"] = dict(
        first_s=c,
        run_s=r,
        peak_mib=_vmhwm_mib(),
        gw_path_ratio=float(cf.gw_path_ratio),
        dm_path_ratio=float(cf.dm_path_ratio),
        converged=bool(cf.converged),
        gw_samples=cf.num_samples,
    )
    if not skip_w2:
        sc, c, r = _timed(lambda: flowrep.score_tracks(pt))
        rows["score_tracks"] = dict(
            first_s=c,
            run_s=r,
            peak_mib=_vmhwm_mib(),
            method=sc.method,
            path_ratio=float(sc.path_ratio),
            lss=float(sc.lss),
            converged=bool(sc.converged),
        )
    out = dict(
        n=n,
        widths=widths,
        projected_width=width,
        projection=method,
        backend=jax.default_backend(),
        devices=jax.device_count(),
        x64=bool(jax.config.read("jax_enable_x64")),
        stages=dict(rows),
    )
    if json_path:
        with open(json_path, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--max-width", type=int, default=1024)
    p.add_argument("--width", type=int, default=64, help="projected width")
    p.add_argument("--method", choices=("pca", "jl"), default="pca")
    p.add_argument("--gw-samples", type=int, default=512)
    p.add_argument("--skip-w2", action="store_true", help="skip score_tracks")
    p.add_argument("--quick", action="store_true", help="n=2000, max width 256")
    p.add_argument("--json", dest="json_path", default=None)
    a = p.parse_args()
    if a.quick:
        a.n, a.max_width = min(a.n, 2000), 256
    main(a.n, a.max_width, a.width, a.method, a.gw_samples, a.json_path, a.skip_w2)
