"""`flowrep bench`: run the benchmark scripts and print one table of flowrep vs peers."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ._report import CLIError


SCRIPTS = ("ridgelet", "flow", "scores")


def find_benchmarks() -> Path:
    """The `benchmarks/` folder of the source checkout flowrep runs from."""
    here = Path(__file__).resolve().parents[2] / "benchmarks"
    if not (here / "ridgelet.py").exists():
        raise CLIError(
            "flowrep bench needs a source checkout: benchmarks/ was not found next to the flowrep package (pip install -e . from the repository)"
        )
    return here


def _rows_ridgelet(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        dict(
            benchmark="ridgelet",
            config=f"{r['op']} n=J={r['n']} m={r['m']}",
            flowrep=f"{r['pairs_per_s']:.3g} pairs/s",
            peer="numpy",
            peer_result=f"{r['numpy_pairs_per_s']:.3g} pairs/s",
            ratio=r["speedup"],
        )
        for r in rows
    ]


def _rows_flow(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    torch = {
        (r.get("m"), r.get("mode")): r for r in rows if r.get("impl") == "torchdiffeq"
    }
    for r in rows:
        if not str(r.get("impl", "")).startswith("flowrep"):
            continue
        base = torch.get((r.get("m"), r.get("mode")))
        out.append(
            dict(
                benchmark="flow",
                config=f"{r.get('mode')} m={r.get('m')} J={r.get('num_units', r.get('J'))} n={r.get('n')} {r['impl']}",
                flowrep=f"fwd+bwd {r['fwd_bwd']:.3g} s",
                peer="torchdiffeq" if base else "(torchdiffeq not installed)",
                peer_result=f"fwd+bwd {base['fwd_bwd']:.3g} s" if base else "-",
                ratio=base["fwd_bwd"] / r["fwd_bwd"] if base else None,
            )
        )
    return out


def _rows_scores(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    sink = [r for r in rows if r.get("kind") == "sinkhorn"]
    mine = {(r["n"], r["d"]): r for r in sink if r.get("solver") == "flowrep"}
    for r in sink:
        if r.get("solver") == "flowrep":
            continue
        f = mine.get((r["n"], r["d"]))
        if f is None:
            continue
        out.append(
            dict(
                benchmark="sinkhorn",
                config=f"n={r['n']} d={r['d']}",
                flowrep=f"{f['time_s']:.3g} s",
                peer=r["solver"],
                peer_result=f"{r['time_s']:.3g} s",
                ratio=r["time_s"] / f["time_s"],
            )
        )
    if sink and not out:
        for (n, d), f in mine.items():
            out.append(
                dict(
                    benchmark="sinkhorn",
                    config=f"n={n} d={d}",
                    flowrep=f"{f['time_s']:.3g} s",
                    peer="(POT not installed)",
                    peer_result="-",
                    ratio=None,
                )
            )
    return out


def run_bench(quick: bool) -> list[dict[str, Any]]:
    folder = find_benchmarks()
    table: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCRIPTS:
            path = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(folder / f"{name}.py"), "--json", str(path)] + (
                ["--quick"] if quick else []
            )
            print(f"== {' '.join(cmd[1:])}", flush=True)
            proc = subprocess.run(cmd)
            if proc.returncode != 0 or not path.exists():
                raise CLIError(f"benchmark {name} failed (exit code {proc.returncode})")
            data = json.loads(path.read_text())
            rows = data["rows"] if isinstance(data, dict) else data
            table += {
                "ridgelet": _rows_ridgelet,
                "flow": _rows_flow,
                "scores": _rows_scores,
            }[name](rows)
    return table


def run_scaling(devices: int, quick: bool, real: bool) -> int:
    """`flowrep bench --devices N [--mesh real]`: benchmarks/scaling.py over
    1, 2, 4, ... N devices (fake CPU devices unless `real`)."""
    if isinstance(devices, bool) or devices < 1:
        raise CLIError(f"--devices must be a positive integer; got {devices}.")
    counts = [1]
    while counts[-1] * 2 <= devices:
        counts.append(counts[-1] * 2)
    if counts[-1] != devices:
        counts.append(devices)
    cmd = [sys.executable, str(find_benchmarks() / "scaling.py"), "--devices"]
    cmd += [str(c) for c in counts] + (["--quick"] if quick else [])
    cmd += ["--real"] if real else []
    print(f"== {' '.join(cmd[1:])}", flush=True)
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise CLIError(f"benchmark scaling failed (exit code {proc.returncode})")
    return 0
