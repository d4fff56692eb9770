"""Throughput of the streamed ridgelet transform pair against a NumPy baseline.

For n = J (points = hidden units) and dimension m, times

- R: `ridgelet_transform(f, G^(4), a, b, x, w)` (n*J pair evaluations), and
- S: `dual_ridgelet_transform(gamma, tanh, a, b, w, x)`,

in float32, compile time separately, against a straightforward NumPy
implementation on the same data in the same run (chunked over J so it fits in
memory; above `--numpy-max-pairs` pairs NumPy runs on a slice of the units
and its pairs/s is quoted, since its cost is linear in J). Both sides are
timed best of `--repeat` runs, NumPy also best of two chunkings (2048 rows
per block, and blocks of `--chunk-size` pairs like flowrep's tiles): a single
NumPy run with 2048-row blocks at n = J = 1e5 varied 4x between runs (it
pays the page faults of 800 MB temporaries).

`dot_bound` is the speed-up flowrep would reach if each pair cost only its
dot product (2m flops) run at the FP32 GEMM rate of NumPy's BLAS on this
machine (measured per m >= 64): where it is near or below a goal, the row
is bound by the matrix multiply, not by the profile or the streaming. The XLA temporary
buffer size of each compiled call shows that memory is bounded by the chunk
size, not by n*J. A GPU, when JAX sees one, is reported beside its FP32 peak.

    python benchmarks/ridgelet.py --quick
    python benchmarks/ridgelet.py            # n = J in {1e3, 1e4, 1e5}
    python benchmarks/ridgelet.py --full     # adds 3e5
    python benchmarks/ridgelet.py --json out.json
"""

import argparse
import json
import os
import sys
import time
import timeit


# Leave GPU memory to whatever else runs in the process (gpu.sh's peers).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import flowrep as fr  # noqa: E402


FP32_PEAK_TFLOPS = {
    "H100": 67.0,
    "H200": 67.0,
    "A100": 19.5,
    "V100": 15.7,
    "T4": 8.1,
    "L4": 30.3,
}


def _np_g4(z):
    z2 = z * z
    return (z2 * z2 - 6.0 * z2 + 3.0) * np.exp(-0.5 * z2)


def numpy_ridgelet(fx, a, b, x, w, block=2048):
    out = np.empty((a.shape[0],), dtype=x.dtype)
    v = w * fx
    for s in range(0, a.shape[0], block):
        z = a[s : s + block] @ x.T - b[s : s + block, None]
        out[s : s + block] = _np_g4(z) @ v
    return out


def numpy_dual(gamma, a, b, wj, x, block=2048):
    out = np.empty((x.shape[0],), dtype=x.dtype)
    c = wj * gamma
    for s in range(0, x.shape[0], block):
        z = x[s : s + block] @ a.T - b
        out[s : s + block] = np.tanh(z) @ c
    return out


def _best(fn, repeat):
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def _numpy_best(fn, cols, chunk_size, repeat):
    """Best time of `fn(block)` over `repeat` runs and two chunkings.

    Blocks of 2048 rows (temporaries of 2048 x cols floats: 800 MB at
    cols = 1e5), and blocks holding `chunk_size` pairs like flowrep's tiles.
    Neither always wins: the large blocks pay page faults that vary from run
    to run, the small ones Python overhead.
    """
    blocks = sorted({2048, max(1, chunk_size // cols)})
    return min(_best(lambda: fn(block), repeat) for block in blocks)


def blas_gflops(m, repeat=3, rows=2048, cols=4096):
    """FP32 GEMM rate of NumPy's BLAS for the dot products of the pair sums.

    A `[rows, m] @ [m, cols]` product: the same inner dimension m as every
    pair evaluation `a_j . x_i`.
    """
    rng = np.random.default_rng(1)
    p = rng.standard_normal((rows, m)).astype(np.float32)
    q = rng.standard_normal((m, cols)).astype(np.float32)
    return 2 * rows * m * cols / _best(lambda: p @ q, repeat) / 1e9


def run_one(n, m, chunk_size, repeat, numpy_max_pairs, rng):
    dtype = np.float32
    blas = blas_gflops(m, repeat) if m >= 64 else None
    x = rng.standard_normal((n, m)).astype(dtype)
    w = np.full(n, 1.0 / n, dtype)
    a = (rng.standard_normal((n, m)) / np.sqrt(m)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    fx = np.exp(-0.5 * np.sum(x**2, axis=1) / m).astype(dtype)
    rho, sigma = fr.GaussianDerivative(4), fr.Tanh()
    jx, jw, ja, jb, jfx = map(jnp.asarray, (x, w, a, b, fx))
    gamma = np.asarray(
        fr.ridgelet_transform(jfx, rho, ja, jb, jx, jw, chunk_size=chunk_size)
    )
    jg = jnp.asarray(gamma)

    def call_r():
        return fr.ridgelet_transform(jfx, rho, ja, jb, jx, jw, chunk_size=chunk_size)

    def call_s():
        return fr.dual_ridgelet_transform(
            jg, sigma, ja, jb, jw, jx, chunk_size=chunk_size
        )

    lowered_r = jax.jit(
        lambda fx_, a_, b_, x_, w_: fr.ridgelet_transform(
            fx_, rho, a_, b_, x_, w_, chunk_size=chunk_size
        )
    ).lower(jfx, ja, jb, jx, jw)
    lowered_s = jax.jit(
        lambda g_, a_, b_, w_, x_: fr.dual_ridgelet_transform(
            g_, sigma, a_, b_, w_, x_, chunk_size=chunk_size
        )
    ).lower(jg, ja, jb, jw, jx)
    rows = []
    for op in ("R", "S"):
        call, lowered = (call_r, lowered_r) if op == "R" else (call_s, lowered_s)
        t0 = time.perf_counter()
        compiled = lowered.compile()  # XLA compile time, separately from running
        compile_s = time.perf_counter() - t0
        mem = compiled.memory_analysis()
        out = jax.block_until_ready(call())
        temp_mb = None if mem is None else mem.temp_size_in_bytes / 2**20
        t_jax = _best(lambda: jax.block_until_ready(call()), repeat)
        # NumPy baseline on the same data (a slice of units when too large)
        units = n if n * n <= numpy_max_pairs else max(1, numpy_max_pairs // n)
        if op == "R":
            ref = numpy_ridgelet(fx, a[:units], b[:units], x, w)
            err = float(
                np.max(np.abs(np.asarray(out)[:units] - ref))
                / (np.max(np.abs(ref)) + 1e-30)
            )
            t_np = _numpy_best(
                lambda blk: numpy_ridgelet(fx, a[:units], b[:units], x, w, blk),
                n,
                chunk_size,
                repeat,
            )
        else:
            # all units, on a slice of the points when n * J is too large
            gamma_np = np.asarray(gamma)
            k = n if units == n else max(1, numpy_max_pairs // n)
            ref = numpy_dual(gamma_np, a, b, w, x[:k])
            err = float(
                np.max(np.abs(np.asarray(out)[:k] - ref))
                / (np.max(np.abs(ref)) + 1e-30)
            )
            t_np = _numpy_best(
                lambda blk: numpy_dual(gamma_np, a, b, w, x[:k], blk),
                n,
                chunk_size,
                repeat,
            )
            units = k
        if err > 1e-3:
            raise RuntimeError(
                f"{op} n={n} m={m}: flowrep and NumPy disagree (relative error {err:.2e})"
            )
        pairs = n * n
        np_rate = n * units / t_np
        # The speed-up flowrep would have if a pair cost nothing but its dot
        # product (2m flops) at the BLAS rate: a bound for GEMM-bound rows.
        # (Only for m >= 64: at small m the "GEMM" is memory-bound, and
        # flowrep, which fuses profile and sum, beat it at m = 16.)
        dot_bound = None if blas is None else blas * 1e9 / (2 * m) / np_rate
        rows.append(
            dict(
                op=op,
                n=n,
                J=n,
                m=m,
                compile_s=compile_s,
                run_s=t_jax,
                pairs_per_s=pairs / t_jax,
                numpy_pairs_per_s=np_rate,
                speedup=(pairs / t_jax) / np_rate,
                numpy_pairs_timed=n * units,
                blas_gflops=blas,
                dot_bound_speedup=dot_bound,
                temp_mib=temp_mb,
                rel_err=err,
            )
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="n = J in {1e3, 1e4}, m in {2, 16}"
    )
    parser.add_argument("--full", action="store_true", help="add n = J = 3e5")
    parser.add_argument("--dims", type=int, nargs="*", default=None)
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--chunk-size", type=int, default=2**22)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--numpy-max-pairs", type=float, default=2e8)
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args(argv)
    sizes = args.sizes or (
        [1000, 10_000]
        if args.quick
        else [1000, 10_000, 100_000] + ([300_000] if args.full else [])
    )
    dims = args.dims or ([2, 16] if args.quick else [1, 2, 16, 128])
    device = jax.devices()[0]
    print(
        f"# flowrep ridgelet benchmark on {device.platform}: {device.device_kind}; float32; chunk_size={args.chunk_size}; "
        f"jax {jax.__version__}, numpy {np.__version__}; best of {args.repeat}"
    )
    peak = next(
        (v for k, v in FP32_PEAK_TFLOPS.items() if k in device.device_kind), None
    )
    rng = np.random.default_rng(0)
    rows = []
    header = f"{'op':>2} {'n=J':>7} {'m':>4} {'compile_s':>9} {'run_s':>9} {'pairs/s':>10} {'numpy/s':>10} {'speedup':>8} {'dot_bound':>9} {'temp_MiB':>9} {'fp32_peak':>9}"
    print(header)
    for n in sizes:
        for m in dims:
            for r in run_one(
                n, m, args.chunk_size, args.repeat, int(args.numpy_max_pairs), rng
            ):
                if peak is not None:
                    # ~2m flops (matmul) + ~20 (profile) + 2 (reduction) per pair
                    r["fraction_of_fp32_peak"] = (
                        r["pairs_per_s"] * (2 * m + 22) / (peak * 1e12)
                    )
                rows.append(r)
                temp = "n/a" if r["temp_mib"] is None else f"{r['temp_mib']:.1f}"
                bound = r["dot_bound_speedup"]
                bound = "-" if bound is None else f"{bound:.1f}x"
                frac = r.get("fraction_of_fp32_peak")
                frac = "-" if frac is None else f"{100 * frac:.1f}%"
                print(
                    f"{r['op']:>2} {n:>7} {m:>4} {r['compile_s']:>9.3f} {r['run_s']:>9.4f} {r['pairs_per_s']:>10.3e} "
                    f"{r['numpy_pairs_per_s']:>10.3e} {r['speedup']:>7.1f}x {bound:>9} {temp:>9} {frac:>9}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                dict(
                    device=device.device_kind,
                    platform=device.platform,
                    jax=jax.__version__,
                    numpy=np.__version__,
                    rows=rows,
                ),
                fh,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
