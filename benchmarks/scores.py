"""Benchmark: Sinkhorn W2 in flowrep against POT; exact OT against scipy.

Fairness (same process, same data, same float32 inputs unless stated):

- epsilon: one absolute value per configuration, 0.05 x the mean squared
  distance between the clouds (ott-jax's default scale), passed to both.
- stopping rule: both stop when the L2 error of the column marginal,
  ||P^T 1 - b||_2, is below threshold = 1e-3 * ||b||_2 = 1e-3 / sqrt(n)
  (POT's `stopThr` rule; flowrep `norm_error=2`). Each solver checks as its
  library does by default: POT every 10 iterations (a check costs it an
  extra kernel pass), flowrep after every iteration (its check reuses the
  iteration's last kernel pass, so it is free). flowrep uses its default
  adaptive over-relaxation (Lehmann et al. 2021) unless `--omega` is given.
- the timed region starts from the two point clouds (POT's `ot.dist` is
  inside it, as flowrep builds its kernel inside its call).
- correctness is checked outside the timed region: both plans'
  marginal errors and transport costs <P, C> are recomputed in float64 NumPy.

POT is optional (install `pot` and `torch`); missing peers are skipped.
ott-jax (a dependency of flowrep) is always a peer: same device, same clouds,
its own defaults (checks every 10 iterations), POT's stopping rule. POT-torch
runs on CUDA when torch sees a GPU (timed with `torch.cuda.synchronize`).
Timings on a shared CPU are noisy: read ratios, not absolute seconds.

    python benchmarks/scores.py --quick
    python benchmarks/scores.py --full --json scores.json
"""

import argparse
import json
import os


# JAX must not preallocate 75 % of a GPU's memory: torch shares the device.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
import resource
import subprocess
import sys
import time
import timeit

import jax
import jax.numpy as jnp
import numpy as np

import flowrep
from flowrep._transport._clouds import mean_cost


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (0.7 * rng.standard_normal((n, d)) + 1.0).astype(np.float32)
    return x, y


def _check_plan(x, y, f, g, eps, b_norm=True, chunk=2048):
    """Marginal error ||P^T 1 - b||_2 and <P, C> of P = exp((f+g-C)/eps)/(nm), float64."""
    x, y, f, g = (np.asarray(v, np.float64) for v in (x, y, f, g))
    n, m = len(x), len(y)
    col = np.zeros(m)
    cost = 0.0
    for s in range(0, n, chunk):
        C = ((x[s : s + chunk, None, :] - y[None]) ** 2).sum(-1)
        P = np.exp((f[s : s + chunk, None] + g[None] - C) / eps) / (n * m)
        col += P.sum(0)
        cost += (P * C).sum()
    return float(np.linalg.norm(col - 1.0 / m)), float(cost)


def _check_pot_plan(P, x, y, chunk=2048):
    P = np.asarray(P, np.float64)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m = len(y)
    cost = 0.0
    for s in range(0, len(x), chunk):
        C = ((x[s : s + chunk, None, :] - y[None]) ** 2).sum(-1)
        cost += (P[s : s + chunk] * C).sum()
    return float(np.linalg.norm(P.sum(0) - 1.0 / m)), float(cost)


def _time(fn, repeat):
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    if repeat <= 0:
        return out, first, first
    best = min(timeit.repeat(fn, number=1, repeat=repeat))
    return out, best, first


def bench_sinkhorn(n, d, repeat, peers, omega):
    x, y = _data(n, d)
    eps = float(0.05 * mean_cost(jnp.asarray(x), jnp.asarray(y)))
    thr = 1e-3 / np.sqrt(n)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    rows = []

    def run_flowrep():
        out = flowrep.sinkhorn(
            xj,
            yj,
            epsilon=eps,
            threshold=thr,
            norm_error=2,
            over_relaxation=omega,
            max_iterations=5000,
        )
        return jax.block_until_ready(out)

    out, t, first = _time(run_flowrep, repeat)
    err, cost = (
        _check_plan(x, y, out.f, out.g, eps)
        if n <= 10_000
        else (float(out.error), float("nan"))
    )
    rows.append(
        dict(
            solver="flowrep",
            n=n,
            d=d,
            time_s=t,
            compile_s=max(first - t, 0.0),
            iters=int(out.num_iterations),
            marg_err=err,
            transport_cost=cost,
            converged=bool(out.converged),
        )
    )
    for peer in peers:
        if peer == "ott-jax":
            rows.append(_ott_row(x, y, xj, yj, eps, thr, n, d, repeat))
            continue
        if n * n * 4 > 6e9:
            continue  # POT needs the dense n x n cost matrix
        sync = lambda: None  # noqa: E731
        if peer == "pot-torch":
            import torch

            torch.set_num_threads(max(os.cpu_count() or 1, 1))
            # On the GPU when there is one, as flowrep and ott-jax are.
            dev = "cuda" if torch.cuda.is_available() else "cpu"
            X, Y = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
            a = torch.full((n,), 1.0 / n, dtype=torch.float32, device=dev)
            if dev == "cuda":
                sync = torch.cuda.synchronize
        elif peer == "pot-numpy":
            X, Y = x.astype(np.float64), y.astype(np.float64)
            a = np.full(n, 1.0 / n)
        else:
            continue

        def run_pot():
            import ot

            M = ot.dist(X, Y)
            out = ot.sinkhorn(
                a, a, M, eps, method="sinkhorn", stopThr=thr, numItermax=5000, log=True
            )
            sync()
            return out

        (P, log), tp, _ = _time(run_pot, repeat if peer == "pot-torch" else 0)
        P = P.cpu() if hasattr(P, "cpu") else P
        err, cost = _check_pot_plan(np.asarray(P), x, y)
        rows.append(
            dict(
                solver=peer,
                n=n,
                d=d,
                time_s=tp,
                compile_s=0.0,
                iters=int(log["niter"]),
                marg_err=err,
                transport_cost=cost,
                converged=bool(err <= thr * 1.0001),
            )
        )
        del P
    for r in rows:
        r["threshold"] = thr
        r["epsilon"] = eps
        r["speedup_vs_flowrep"] = r["time_s"] / rows[0]["time_s"]
    return rows


def _ott_row(x, y, xj, yj, eps, thr, n, d, repeat):
    """ott-jax's Sinkhorn on the same device and clouds: its defaults
    (checks every 10 iterations, no over-relaxation), POT's stopping rule
    (`norm_error=2`), online cost above the dense size limit flowrep uses."""
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn as ott_sinkhorn

    from flowrep._ott_compat import ott_online_mode

    online = n * n > 2**27

    @jax.jit
    def solve(xj, yj):
        with ott_online_mode():
            geom = pointcloud.PointCloud(
                xj, yj, epsilon=eps, batch_size=1024 if online else None
            )
            out = ott_sinkhorn.Sinkhorn(
                threshold=thr, norm_error=2, max_iterations=5000
            )(linear_problem.LinearProblem(geom))
        return out.f, out.g, out.n_iters, out.converged

    def run():
        return jax.block_until_ready(solve(xj, yj))

    (f, g, iters, conv), t, first = _time(run, repeat)
    # ott's plan is exp((f+g-C)/eps) (the weights absorbed in f, g); ours
    # divides by n m.
    f, g = f + eps * np.log(n), g + eps * np.log(len(y))
    err, cost = (
        _check_plan(x, y, f, g, eps) if n <= 10_000 else (float("nan"), float("nan"))
    )
    return dict(
        solver="ott-jax",
        n=n,
        d=d,
        time_s=t,
        compile_s=max(first - t, 0.0),
        iters=int(iters),
        marg_err=err,
        transport_cost=cost,
        converged=bool(conv),
    )


def bench_exact(n, d, repeat):
    from scipy.optimize import linear_sum_assignment

    x, y = _data(n, d, seed=1)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)

    def run_flowrep():
        return jax.block_until_ready(
            flowrep.exact_assignment(jnp.asarray(x64), jnp.asarray(y64))
        )

    perm, t, first = _time(run_flowrep, repeat)

    def run_scipy():
        C = ((x64[:, None] - y64[None]) ** 2).sum(-1)
        return linear_sum_assignment(C)

    (ri, ci), ts, _ = _time(run_scipy, repeat)
    c_f = float(((x64 - y64[np.asarray(perm)]) ** 2).sum(-1).mean())
    c_s = float(((x64[ri] - y64[ci]) ** 2).sum(-1).mean())
    return [
        dict(
            solver="flowrep-exact",
            n=n,
            d=d,
            time_s=t,
            compile_s=max(first - t, 0.0),
            w2_sq=c_f,
        ),
        dict(solver="scipy-lsa", n=n, d=d, time_s=ts, compile_s=0.0, w2_sq=c_s),
    ]


def _peak_rss_mib():
    """Peak resident memory of this process in MiB. Reads VmHWM (per address
    space) because Linux carries the parent's ru_maxrss across fork + exec."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one_large(n, d, omega):
    """Child process: one large online Sinkhorn solve; prints time and peak RSS."""
    x, y = _data(n, d)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    eps = float(0.05 * mean_cost(xj, yj))
    maxit = int(os.environ.get("FLOWREP_BENCH_MAXIT", "5000"))
    t0 = time.perf_counter()
    out = flowrep.sinkhorn(
        xj,
        yj,
        epsilon=eps,
        threshold=1e-3 / np.sqrt(n),
        norm_error=2,
        over_relaxation=omega,
        mode="online",
        chunk_size=128,
        max_iterations=maxit,
    )
    jax.block_until_ready(out)
    el = time.perf_counter() - t0
    rss = _peak_rss_mib()
    print(
        json.dumps(
            dict(
                solver="flowrep-online",
                n=n,
                d=d,
                time_s=el,
                iters=int(out.num_iterations),
                marg_err=float(out.error),
                converged=bool(out.converged),
                peak_rss_mib=rss,
            )
        )
    )


def _omega(text):
    return text if text == "adaptive" else float(text)


def main():
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, ~ a few minutes")
    p.add_argument("--full", action="store_true", help="n up to 1e5 (slow on CPU)")
    p.add_argument("--json", type=str, default=None)
    p.add_argument(
        "--omega",
        type=_omega,
        default="adaptive",
        help="flowrep over-relaxation: a number in (0, 2) or 'adaptive' (default)",
    )
    p.add_argument(
        "--large-maxit", type=int, default=5000, help="iteration cap at n=1e5"
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        help="override the Sinkhorn sizes n (none: skip)",
    )
    p.add_argument("--dims", type=int, nargs="+", default=[2, 64], help="dimensions d")
    p.add_argument("--no-exact", action="store_true", help="skip exact-vs-scipy rows")
    p.add_argument("--no-ott", action="store_true", help="skip the ott-jax peer")
    p.add_argument(
        "--large",
        type=int,
        default=None,
        help="n of the online (streamed) run done with --full (default 100000)",
    )
    p.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        _one_large(*args.one, omega=args.omega)
        return

    peers = ["ott-jax"]
    try:
        import ot  # noqa: F401

        peers.append("pot-numpy")
        try:
            import torch  # noqa: F401

            peers.insert(0, "pot-torch")
        except ImportError:
            print("# torch not installed: skipping POT-torch")
    except ImportError:
        print("# POT not installed: skipping POT peers")

    if args.full:
        sizes, exact_sizes, repeat = [1000, 3000, 10_000], [500, 1000, 2000], 2
    elif args.quick:
        sizes, exact_sizes, repeat = [1000, 4000], [300, 1000], 1
    else:
        sizes, exact_sizes, repeat = [1000, 3000, 10_000], [500, 1000, 2000], 1

    if args.sizes is not None:
        sizes = args.sizes
    if args.no_exact:
        exact_sizes = []
    rows = []
    fmt = "{solver:>15s} n={n:>6d} d={d:>3d} time={time_s:8.3f}s compile={compile_s:6.2f}s"
    for d in args.dims:
        for n in sizes:
            use = [pp for pp in peers if pp != "pot-numpy" or n <= 4000]
            if args.no_ott:
                use = [pp for pp in use if pp != "ott-jax"]
            for r in bench_sinkhorn(n, d, repeat, use, args.omega):
                rows.append(dict(kind="sinkhorn", **r))
                print(
                    fmt.format(**r)
                    + f" iters={r['iters']:>5d} marg_err={r['marg_err']:.2e}"
                    f" (thr {r['threshold']:.1e}) cost={r['transport_cost']:.6f}"
                    f" time/flowrep={r['speedup_vs_flowrep']:.2f}",
                    flush=True,
                )
    for n in exact_sizes:
        for r in bench_exact(n, 2, repeat):
            rows.append(dict(kind="exact", **r))
            print(fmt.format(**r) + f" W2^2={r['w2_sq']:.8f}", flush=True)
    if args.full or args.large:
        env = dict(os.environ, FLOWREP_BENCH_MAXIT=str(args.large_maxit))
        for d in args.dims:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                str(args.large or 100_000),
                str(d),
                "--omega",
                str(args.omega),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = (
                res.stdout.strip().splitlines()[-1]
                if res.stdout.strip()
                else res.stderr[-500:]
            )
            print("# n=1e5:", line, flush=True)
            try:
                rows.append(dict(kind="large", **json.loads(line)))
            except json.JSONDecodeError:
                pass
    if args.json:
        with open(args.json + ".tmp", "w") as fh:
            json.dump(rows, fh, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
