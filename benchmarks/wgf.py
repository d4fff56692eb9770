"""Benchmark `flowrep.gradient_flow` with the particle (blob) entropy against a NumPy loop.

The problem: $F=\\int\\frac12\\|x\\|^2d\\mu+\\int\\mu\\log\\mu$ (Fokker-Planck to
$N(0,I)$), the entropy by the blob estimator (Carrillo, Craig & Patacchini
2019; `EntropyEnergy(1.0, "blob")`, fixed bandwidth h), n particles in
d = 2 and d = 16, `num_steps` explicit Euler steps of size 0.01, float64 on
the CPU. The peer is a plain NumPy loop of the same estimator (row blocks of
1024, the same formulas), on the same data, run once; the two final clouds
are compared as a correctness check. flowrep's time excludes compilation
(reported separately).

    python benchmarks/wgf.py --quick     # n = 2000, 2 steps
    python benchmarks/wgf.py             # n = 10000, 2 steps
    python benchmarks/wgf.py --json out.json
"""

import argparse
import json
import time
from typing import Any

import jax
import jax.random as jr
import numpy as np

import flowrep


jax.config.update("jax_enable_x64", True)
H = 0.3
DT = 0.01
CHUNK = 1024


def numpy_velocity(x: np.ndarray, h: float) -> np.ndarray:
    """The blob velocity plus the potential's, -x, by NumPy in row blocks."""
    n, d = x.shape
    norm = (2 * np.pi * h**2) ** (-d / 2)
    rho = np.empty(n)
    for i in range(0, n, CHUNK):
        sq = ((x[i : i + CHUNK, None] - x[None]) ** 2).sum(-1)
        rho[i : i + CHUNK] = norm * np.exp(-0.5 * sq / h**2).mean(1)
    v = np.empty_like(x)
    for i in range(0, n, CHUNK):
        diff = x[i : i + CHUNK, None] - x[None]  # (B, n, d)
        k = norm * np.exp(-0.5 * (diff**2).sum(-1) / h**2)  # (B, n)
        grad_k = -diff / h**2 * k[..., None]
        term1 = grad_k.mean(1) / rho[i : i + CHUNK, None]
        term2 = (grad_k / rho[None, :, None]).mean(1)
        v[i : i + CHUNK] = -(term1 + term2)
    return v - x


def run(n: int, d: int, steps: int) -> dict:
    x0 = jr.normal(jr.PRNGKey(0), (n, d))
    energy = flowrep.kl_energy(lambda y: 0.5 * y @ y, 1.0, bandwidth=H)
    kw: dict[str, Any] = dict(solver="euler", num_steps=steps)
    t0 = time.perf_counter()
    jax.block_until_ready(flowrep.gradient_flow(energy, x0, steps * DT, **kw).xs)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    xs = jax.block_until_ready(flowrep.gradient_flow(energy, x0, steps * DT, **kw).xs)
    fr_time = time.perf_counter() - t0
    x = np.asarray(x0)
    t0 = time.perf_counter()
    for _ in range(steps):
        x = x + DT * numpy_velocity(x, H)
    np_time = time.perf_counter() - t0
    return dict(
        n=n,
        d=d,
        steps=steps,
        flowrep_s=fr_time,
        flowrep_compile_s=first - fr_time,
        numpy_s=np_time,
        speedup=np_time / fr_time,
        max_abs_diff=float(np.max(np.abs(np.asarray(xs) - x))),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    n = 2000 if a.quick else 10_000
    rows = [run(n, d, 2) for d in (2, 16)]
    for r in rows:
        print(
            f"n={r['n']} d={r['d']} steps={r['steps']}: flowrep {r['flowrep_s']:.3f} s "
            f"(compile {r['flowrep_compile_s']:.2f} s), numpy {r['numpy_s']:.3f} s, "
            f"x{r['speedup']:.1f}, max |diff| {r['max_abs_diff']:.1e}"
        )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
