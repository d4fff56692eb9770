"""Benchmark: record and score a 10-layer network of changing width (issue 15).

A plain MLP given as a list of callables with random weights, widths
3 -> 256 -> 1024 -> 1024 -> 512 -> ... -> 2 (`--max-width`), n samples
(`--n`, default 1e4): time and peak memory of

1. `record_tracks` (width-changing layers, zero-padded common embedding),
2. `Tracks.project` to `--width` coordinates (PCA or JL) with its distortion,
3. `coordinate_free_scores`: entropic GW between consecutive layers on a
   random subset of `--gw-samples` samples (the same subset in every layer),
   the distance-matrix path on all n,
4. `score_tracks` on the projected tracks: the Sinkhorn divergence on all n
   samples (the exact assignment is only used up to n = 1024),
5. optionally (`--lr-samples N`) `coordinate_free_scores` with ott-jax's
   low-rank GW (`--rank`) on N samples, whose cost is linear in N.

Correctness first: the recorded last layer is compared with a plain NumPy
forward pass, and the projection's distortion and the solvers' `converged`
flags are reported.

Per stage: wall time of the first call (it includes compilation; with
`--repeat 2` a second call gives the run time alone), the process's CPU time
(user + system, all threads) over the stage, which depends much less than the
wall time on what else runs on the machine, the load average, and the peak
resident memory *of that stage*: the kernel's high-water mark (`VmHWM`) is
reset before each stage (`/proc/self/clear_refs`, Linux >= 4.0) and read
after it; where that is impossible the cumulative `ru_maxrss` is reported
and `peak_is_cumulative` says so. The device's own allocator statistics
(`memory_stats()`; `None` on the CPU) are added where the backend has them.

    python benchmarks/any_network.py --json any_network.json
    python benchmarks/any_network.py --n 2000 --quick

(From a checkout other than the installed one, `PYTHONPATH=.` makes it import
that checkout's flowrep; `flowrep_file` in the JSON says which was used.)
"""

import argparse
import json
import os
import resource
import time
from typing import Any

import jax
import jax.random as jr
import numpy as np

import flowrep


def _status_mib(field: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter of this process; False if it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _device_peak_mib():
    stats = jax.devices()[0].memory_stats()
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**20


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


def _timed(fn, repeat: int):
    """Runs `fn` `repeat` times; returns its output and the stage's numbers."""
    exact_peak = _reset_peak()
    rss0 = _status_mib("VmRSS")
    cpu0, load0 = _cpu_s(), os.getloadavg()[0]
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    row: dict[str, Any] = dict(first_s=time.perf_counter() - t)
    if repeat > 1:
        t = time.perf_counter()
        out = jax.block_until_ready(fn())
        row["run_s"] = time.perf_counter() - t
    row["cpu_s"] = _cpu_s() - cpu0
    row["load_avg_1min"] = [load0, os.getloadavg()[0]]
    if exact_peak:
        row["peak_mib"] = _status_mib("VmHWM")
    else:  # ru_maxrss is in KiB on Linux
        row["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row["peak_is_cumulative"] = True
    row["rss_before_mib"] = rss0
    dev = _device_peak_mib()
    if dev is not None:
        row["device_peak_mib"] = dev
    return out, row


def main(
    n=10_000,
    max_width=1024,
    width=64,
    method="pca",
    gw_samples=256,
    lr_samples=0,
    rank=32,
    json_path=None,
    skip_w2=False,
    repeat=1,
):
    key = jr.key(0)
    widths = _widths(max_width)
    layers, Ws, bs = _network(key, widths)
    x = jr.normal(jr.fold_in(key, 99), (n, 3))
    rows = _Rows()
    t_total, cpu_total = time.perf_counter(), _cpu_s()

    tr, row = _timed(lambda: flowrep.record_tracks(layers, x), repeat)
    h = np.asarray(x, np.float64)
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = h @ np.asarray(W, np.float64).T + np.asarray(b, np.float64)
        if i < len(Ws) - 1:
            h = np.maximum(h, 0)
    err = float(np.max(np.abs(np.asarray(tr.layer(10)) - h)) / np.max(np.abs(h)))
    rows["record"] = dict(row, rel_error_vs_numpy=err)

    (pt, rep), row = _timed(
        lambda tr=tr: tr.project(width, method, key=jr.key(1), num_pairs=4096),
        repeat,
    )
    rows["project"] = dict(
        row,
        max_distortion=float(np.max(rep.max_distortion)),
        mean_distortion=float(np.max(rep.mean_distortion)),
        min_retained_variance=float(np.min(rep.retained_variance)),
        jl_bound=float(np.max(rep.bound)),
    )
    del tr  # the padded (11, n, 1024) tracks are not needed any more

    def cf_row(cf, row):
        return dict(
            row,
            method=cf.method,
            gw_samples=cf.num_samples,
            converged=bool(cf.converged),
            gw_path_ratio=float(cf.gw_path_ratio),
            layer_gw=[float(v) for v in cf.layer_gw],
            dm_path_ratio=float(cf.dm_path_ratio),
        )

    cf, row = _timed(
        lambda: flowrep.coordinate_free_scores(pt, max_samples=gw_samples), repeat
    )
    rows["coordinate_free_scores"] = cf_row(cf, row)
    if not skip_w2:
        sc, row = _timed(lambda: flowrep.score_tracks(pt, method="sinkhorn"), repeat)
        rows["score_tracks"] = dict(
            row,
            method=sc.method,
            converged=bool(sc.converged),
            path_ratio=float(sc.path_ratio),
            lss=float(sc.lss),
            cost_ratio=float(sc.cost_ratio),
        )
    if lr_samples:
        cf, row = _timed(
            lambda: flowrep.coordinate_free_scores(
                pt, rank=rank, max_samples=lr_samples
            ),
            repeat,
        )
        rows["coordinate_free_scores_low_rank"] = dict(cf_row(cf, row), rank=rank)
    total = dict(
        wall_s=time.perf_counter() - t_total,
        cpu_s=_cpu_s() - cpu_total,
        peak_mib=max(r["peak_mib"] for r in rows.values()),
    )
    print("total", json.dumps(total), flush=True)
    out = dict(
        n=n,
        widths=widths,
        projected_width=width,
        projection=method,
        backend=jax.default_backend(),
        devices=jax.device_count(),
        cpu_count=os.cpu_count(),
        x64=bool(jax.config.read("jax_enable_x64")),
        jax=jax.__version__,
        flowrep_file=flowrep.__file__,
        repeat=repeat,
        stages=dict(rows),
        total=total,
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
    p.add_argument("--gw-samples", type=int, default=256)
    p.add_argument(
        "--lr-samples", type=int, default=0, help="low-rank GW on this many (0: off)"
    )
    p.add_argument("--rank", type=int, default=32, help="rank of the low-rank GW")
    p.add_argument("--skip-w2", action="store_true", help="skip score_tracks")
    p.add_argument("--repeat", type=int, choices=(1, 2), default=1)
    p.add_argument("--quick", action="store_true", help="n=2000, max width 256")
    p.add_argument("--json", dest="json_path", default=None)
    a = p.parse_args()
    if a.quick:
        a.n, a.max_width = min(a.n, 2000), 256
    main(
        a.n,
        a.max_width,
        a.width,
        a.method,
        a.gw_samples,
        a.lr_samples,
        a.rank,
        a.json_path,
        a.skip_w2,
        a.repeat,
    )
