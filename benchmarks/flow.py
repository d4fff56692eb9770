"""Benchmark `flowrep.flow` on a `RidgeletField` against torchdiffeq on the same weights.

The problem: a time-dependent ridgelet field $v_t(x)=\\sum_jc_j(t)\\tanh(a_j(t)\\cdot x-b_j(t))$
with J hidden units in dimension m (piecewise-linear in t on 4 knots), n
points flowed over $t\\in[0,1]$, float32:

- fixed: classical RK4, 100 steps;
- adaptive: Dopri5, rtol=1e-5, atol=1e-6 (each library's own controller;
  both are told the field's kinks in time, the knots, where steps must land:
  `flowrep.flow` passes them to diffrax itself, torchdiffeq gets `step_t`);

each as a forward pass and as forward + backward (gradient of a mean-square
loss with respect to all the field's weights). Peers run in the same process
on the same data: torchdiffeq's `odeint` (backpropagating through the
solver, its fastest mode) and a plain-JAX Euler ResNet of equal cost (400
Euler steps = 100 RK4 steps' evaluations, one `lax.scan`). Compile time is
reported separately. Timings are `min(timeit.repeat(...))`, except flowrep's
default row against the diffrax peer: interleaved rounds (`--rounds`, at least
5; the order reversed every other round), wall and user CPU time, the ratio
reported as the median (and range) of the per-round ratios.

    python benchmarks/flow.py --quick        # m in {2, 64}, n = 1024
    python benchmarks/flow.py                # J = 256, n = 4096, m in {2, 64}
    python benchmarks/flow.py --json out.json
    python benchmarks/flow.py --diffrax-only --rounds 9   # the plain-diffrax rows only
"""

import argparse
import json
import os
import sys
import time
import timeit
from typing import Any


# JAX must not preallocate 75 % of a GPU's memory: torch shares the device.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402

import flowrep  # noqa: E402


NUM_STEPS = 100
RTOL, ATOL = 1e-5, 1e-6


def _block(tree):
    return jax.block_until_ready(tree)


def _time(fn, repeat: int, number: int = 1) -> float:
    return min(timeit.repeat(fn, repeat=repeat, number=number)) / number


# ----------------------------------------------------------------------------- flowrep


def make_flowrep(mode: str, adjoint: str | None):
    kw: dict[str, Any] = (
        dict(solver="rk4", num_steps=NUM_STEPS)
        if mode == "fixed"
        else dict(solver="dopri5", rtol=RTOL, atol=ATOL)
    )

    @eqx.filter_jit
    def forward(field, x0):
        res = flowrep.flow(field, x0, 0.0, 1.0, adjoint=adjoint, **kw)
        return res.xs, res.stats["num_steps"]

    @eqx.filter_jit
    def loss_grad(field, x0):
        def loss(f):
            return jnp.mean(
                flowrep.flow(f, x0, 0.0, 1.0, adjoint=adjoint, **kw).xs ** 2
            )

        return eqx.filter_value_and_grad(loss)(field)

    return forward, loss_grad


def make_diffrax(mode: str):
    """The peer a user would write instead of `flowrep.flow`: plain
    `diffrax.diffeqsolve` on `field.batch_call` with the same solver, the same
    controller (`ClipStepSizeController(PIDController, step_ts=field.step_ts)`
    for Dopri5; 100 constant RK4 steps with flowrep's RK4 tableau, diffrax
    having no classical RK4) and diffrax's default adjoint."""
    import diffrax

    from flowrep._depth._solvers import RK4

    def solve(field, x0):
        term = diffrax.ODETerm(lambda t, y, args: field.batch_call(t, y))
        if mode == "fixed":
            kw: dict[str, Any] = dict(
                solver=RK4(),
                dt0=1.0 / NUM_STEPS,
                stepsize_controller=diffrax.ConstantStepSize(),
                max_steps=NUM_STEPS,
            )
        else:
            kw = dict(
                solver=diffrax.Dopri5(),
                dt0=None,
                stepsize_controller=diffrax.ClipStepSizeController(
                    diffrax.PIDController(rtol=RTOL, atol=ATOL),
                    step_ts=tuple(field.step_ts),
                ),
                max_steps=4096,
            )
        sol = diffrax.diffeqsolve(
            term, t0=0.0, t1=1.0, y0=x0, saveat=diffrax.SaveAt(t1=True), **kw
        )
        assert sol.ys is not None and sol.stats is not None
        return sol.ys[-1], sol.stats["num_steps"]

    fwd = eqx.filter_jit(solve)

    @eqx.filter_jit
    def loss_grad(field, x0):
        return eqx.filter_value_and_grad(lambda f: jnp.mean(solve(f, x0)[0] ** 2))(
            field
        )

    return fwd, loss_grad


def _interleaved(fns: dict, repeat: int) -> tuple[dict, dict]:
    """Wall times and user CPU times (`time.process_time`, all threads: less
    sensitive to other jobs' load) of `repeat` rounds of one call of each fn,
    the rounds interleaved (A/B/A/B...) so load from other jobs on a shared
    machine hits all alike, the order reversed every other round (B/A) so
    neither side always runs right after the other. Only the jitted call is
    timed (compiled beforehand). Returns per-fn lists, one entry a round."""
    wall: dict = {k: [] for k in fns}
    cpu: dict = {k: [] for k in fns}
    keys = list(fns)
    for r in range(repeat):
        for k in keys if r % 2 == 0 else keys[::-1]:
            t, c = time.perf_counter(), time.process_time()
            fns[k]()
            wall[k].append(time.perf_counter() - t)
            cpu[k].append(time.process_time() - c)
    return wall, cpu


def _paired(times: dict, mine: str, peer: str) -> tuple[float, float, float]:
    """Median and range over rounds of the per-round ratio peer/mine (> 1:
    `mine` faster). Pairing by round cancels the load both saw in it."""
    q = np.asarray(times[peer]) / np.asarray(times[mine])
    return float(np.median(q)), float(q.min()), float(q.max())


def make_euler_resnet(num_evals: int):
    """Plain JAX: `num_evals` Euler steps of the same field in one `lax.scan`."""
    h = 1.0 / num_evals

    def run(field, x0):
        def body(x, t):
            return x + h * field.batch_call(t, x), None

        ts = jnp.arange(num_evals, dtype=x0.dtype) * h
        x, _ = jax.lax.scan(body, x0, ts)
        return x

    fwd = eqx.filter_jit(run)

    @eqx.filter_jit
    def loss_grad(field, x0):
        return eqx.filter_value_and_grad(lambda f: jnp.mean(run(f, x0) ** 2))(field)

    return fwd, loss_grad


# ----------------------------------------------------------------------------- torch


def torch_problem(field: flowrep.RidgeletField, x0, device: str = "cpu"):
    import torch

    knots = torch.tensor(field.knots, dtype=torch.float32, device=device)

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.from_numpy(np.array(field.a)))
            self.b = torch.nn.Parameter(torch.from_numpy(np.array(field.b)))
            self.c = torch.nn.Parameter(torch.from_numpy(np.array(field.c)))
            self.nfe = 0
            self.step_ts = list(field.step_ts)

        def forward(self, t, x):
            self.nfe += 1
            # Piecewise-linear hats on the knots, as RidgeletField.units_at.
            tt = torch.clamp(t, knots[0], knots[-1])
            # A tensor index, not int(...): no host sync per evaluation.
            k = torch.clamp(
                torch.searchsorted(knots, tt.reshape(1), right=True)[0] - 1,
                0,
                len(knots) - 2,
            )
            frac = torch.clamp((tt - knots[k]) / (knots[k + 1] - knots[k]), 0.0, 1.0)
            a = (1 - frac) * self.a[k] + frac * self.a[k + 1]
            b = (1 - frac) * self.b[k] + frac * self.b[k + 1]
            c = (1 - frac) * self.c[k] + frac * self.c[k + 1]
            return torch.tanh(x @ a.T - b) @ c

    return Field().to(device), torch.from_numpy(np.asarray(x0)).to(device)


def make_torch(mode: str, tfield, tx0):
    import torch
    from torchdiffeq import odeint

    device = tx0.device
    tspan = torch.tensor([0.0, 1.0], device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    kw = (
        dict(method="rk4", options=dict(step_size=1.0 / NUM_STEPS))
        if mode == "fixed"
        else dict(
            method="dopri5",
            rtol=RTOL,
            atol=ATOL,
            # The field's kinks in time, as flowrep.flow passes them to diffrax.
            options=dict(step_t=torch.tensor(tfield.step_ts, device=device)),
        )
    )

    def forward():
        with torch.no_grad():
            out = odeint(tfield, tx0, tspan, **kw)[-1]
        sync()
        return out

    def loss_grad():
        tfield.zero_grad()
        loss = torch.mean(odeint(tfield, tx0, tspan, **kw)[-1] ** 2)
        loss.backward()
        sync()
        return loss

    return forward, loss_grad


# ----------------------------------------------------------------------------- main


def run_config(
    m: int,
    num_units: int,
    n: int,
    repeat: int,
    with_torch: bool,
    adjoints,
    *,
    rounds: int = 5,
    modes=("fixed", "adaptive"),
    with_euler: bool = True,
):
    key = jr.PRNGKey(0)
    kf, kx = jr.split(key)
    field = flowrep.RidgeletField.random(
        kf, m, num_units, sigma="tanh", num_knots=4, dtype=jnp.float32
    )
    x0 = jr.normal(kx, (n, m), jnp.float32)
    rows = []
    torch_ok = with_torch
    if with_torch:
        try:
            import torch

            cuda = torch.cuda.is_available()
            tfield, tx0 = torch_problem(field, np.array(x0), "cuda" if cuda else "cpu")
            torch_threads = torch.get_num_threads()
            # On a GPU: FP32 (TF32 off) is the like-for-like row; a TF32 row
            # beside it shows what torch's fast matmuls would give.
            precisions = ["fp32", "tf32"] if cuda else ["fp32"]
        except ImportError:
            print("# torch/torchdiffeq not installed: skipping the torchdiffeq peer")
            torch_ok = False
    for mode in modes:
        cfg = dict(m=m, J=num_units, n=n, mode=mode)
        peers = {}
        if torch_ok:
            import torch

            for prec in precisions:  # pyright: ignore
                torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
                tfwd, tgrad = make_torch(mode, tfield, tx0)  # pyright: ignore
                tfield.nfe = 0  # pyright: ignore
                out = tfwd().cpu().numpy()
                nfe = tfield.nfe  # pyright: ignore
                name = "torchdiffeq" if prec == "fp32" else "torchdiffeq[tf32]"
                if prec == "fp32":
                    t_x = out
                peers[name] = dict(
                    fwd=_time(tfwd, repeat),
                    fwd_bwd=_time(tgrad, repeat),
                    nfe=nfe,
                    threads=torch_threads,  # pyright: ignore
                    device=str(tx0.device),  # pyright: ignore
                    precision=prec,
                )
            torch.backends.cuda.matmul.allow_tf32 = False
        for adjoint in adjoints:
            if mode == "adaptive" and adjoint in ("scan", "scan_checkpoint"):
                continue
            fwd, grad = make_flowrep(mode, adjoint)
            t = time.perf_counter()
            xs, steps = _block(fwd(field, x0))
            c_fwd = time.perf_counter() - t
            t = time.perf_counter()
            _block(grad(field, x0))
            c_grad = time.perf_counter() - t
            if torch_ok:
                err = float(np.max(np.abs(np.asarray(xs) - t_x)))  # pyright: ignore
                tol = 1e-3 if mode == "fixed" else 1e-2
                if not err < tol:
                    print(
                        f"# WARNING: flowrep and torchdiffeq disagree: max |dx| = {err:.2e}"
                    )
            else:
                err = float("nan")
            row: dict[str, Any] = dict(
                compile_fwd=c_fwd,
                compile_fwd_bwd=c_grad,
                steps=int(steps),
                max_abs_diff_vs_torch=err,
            )
            if adjoint is None:
                # The diffrax peer, timed interleaved with flowrep.
                dfwd, dgrad = make_diffrax(mode)
                dxs, dsteps = _block(dfwd(field, x0))
                _block(dgrad(field, x0))
                wall, cpu = _interleaved(
                    {
                        "fwd": lambda: _block(fwd(field, x0)),
                        "dfwd": lambda: _block(dfwd(field, x0)),
                        "fwd_bwd": lambda: _block(grad(field, x0)),
                        "dfwd_bwd": lambda: _block(dgrad(field, x0)),
                    },
                    rounds,
                )
                med = {k: float(np.median(v)) for k, v in wall.items()}
                cmed = {k: float(np.median(v)) for k, v in cpu.items()}
                row.update(
                    fwd=med["fwd"],
                    fwd_bwd=med["fwd_bwd"],
                    cpu_fwd=cmed["fwd"],
                    cpu_fwd_bwd=cmed["fwd_bwd"],
                    rounds=rounds,
                )
                pw = {k: _paired(wall, k, "d" + k) for k in ("fwd", "fwd_bwd")}
                pc = {k: _paired(cpu, k, "d" + k) for k in ("fwd", "fwd_bwd")}
                # Medians of the per-round ratios; ranges: their min and max.
                row["ratio_vs_diffrax"] = {k: v[0] for k, v in pw.items()}
                row["ratio_vs_diffrax_cpu"] = {k: v[0] for k, v in pc.items()}
                row["ratio_vs_diffrax_range"] = {k: v[1:] for k, v in pw.items()}
                row["ratio_vs_diffrax_cpu_range"] = {k: v[1:] for k, v in pc.items()}
                peers["diffrax"] = dict(
                    fwd=med["dfwd"],
                    fwd_bwd=med["dfwd_bwd"],
                    cpu_fwd=cmed["dfwd"],
                    cpu_fwd_bwd=cmed["dfwd_bwd"],
                    steps=int(dsteps),
                    max_abs_diff_vs_flowrep=float(
                        np.max(np.abs(np.asarray(dxs) - np.asarray(xs)))
                    ),
                )
            else:
                row.update(
                    fwd=_time(lambda: _block(fwd(field, x0)), repeat),
                    fwd_bwd=_time(lambda: _block(grad(field, x0)), repeat),
                )
            peers[f"flowrep[{adjoint or 'auto'}]"] = row
        if mode == "fixed" and with_euler:
            efwd, egrad = make_euler_resnet(4 * NUM_STEPS)
            _block(efwd(field, x0))
            _block(egrad(field, x0))
            peers["jax_euler_resnet"] = dict(
                fwd=_time(lambda: _block(efwd(field, x0)), repeat),
                fwd_bwd=_time(lambda: _block(egrad(field, x0)), repeat),
            )
        base = peers.get("torchdiffeq")
        for name, r in peers.items():
            line = f"m={m:<3d} J={num_units} n={n} {mode:8s} {name:22s} fwd {r['fwd'] * 1e3:9.1f} ms  fwd+bwd {r['fwd_bwd'] * 1e3:9.1f} ms"
            if base is not None and name != "torchdiffeq":
                line += f"  ratio(torch/this) fwd {base['fwd'] / r['fwd']:5.2f} fwd+bwd {base['fwd_bwd'] / r['fwd_bwd']:5.2f}"
            if "compile_fwd" in r:
                line += f"  compile {r['compile_fwd']:.1f}s/{r['compile_fwd_bwd']:.1f}s steps {r['steps']}"
            if "ratio_vs_diffrax" in r:
                q = r["ratio_vs_diffrax"]
                qc = r["ratio_vs_diffrax_cpu"]
                rc = r["ratio_vs_diffrax_cpu_range"]
                line += (
                    f"  speed vs diffrax over {r['rounds']} rounds (median per-round wall ratio)"
                    f" fwd {q['fwd']:.2f}x fwd+bwd {q['fwd_bwd']:.2f}x"
                    f" (CPU time) fwd {qc['fwd']:.2f}x [{rc['fwd'][0]:.2f}-{rc['fwd'][1]:.2f}]"
                    f" fwd+bwd {qc['fwd_bwd']:.2f}x [{rc['fwd_bwd'][0]:.2f}-{rc['fwd_bwd'][1]:.2f}]"
                )
            if "nfe" in r:
                line += f"  nfe(fwd) {r['nfe']}"
            print(line, flush=True)
            rows.append(dict(cfg, impl=name, **r))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1024, 2 repeats")
    parser.add_argument("--full", action="store_true", help="also J = 1024")
    parser.add_argument(
        "--json", type=str, default=None, help="write rows to this file"
    )
    parser.add_argument("--dims", type=int, nargs="*", default=[2, 64])
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timing repeats (default 3; 2 with --quick)",
    )
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--diffrax-only",
        action="store_true",
        help="only flowrep's default path against plain diffrax (no torchdiffeq, no Euler ResNet)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds of the flowrep/diffrax comparison (default max(repeat, 5))",
    )
    parser.add_argument(
        "--modes",
        nargs="*",
        default=["fixed", "adaptive"],
        choices=["fixed", "adaptive"],
    )
    parser.add_argument(
        "--n", type=int, default=None, help="override the number of points"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="pin both JAX (XLA CPU) and torch to this many threads (fairer on a loaded machine)",
    )
    parser.add_argument(
        "--adjoints",
        nargs="*",
        default=["auto"],
        help="flowrep adjoints to time: auto (scan for fixed steps, recursive for adaptive), "
        "scan_checkpoint, recursive, backsolve, direct",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        # Read when the XLA backend starts, i.e. at the first computation below.
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + f" --xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'}"
            + f" intra_op_parallelism_threads={args.threads}"
        )
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    jax.config.update("jax_enable_x64", False)
    n = args.n or (1024 if args.quick else 4096)
    repeat = args.repeat or (2 if args.quick else 3)
    units = [256, 1024] if args.full else [256]
    print(
        f"# jax {jax.__version__} on {jax.devices()[0].platform}; float32; threads={args.threads or 'default'}; timings are noisy on a shared CPU"
    )
    rows = []
    for m in args.dims:
        for num_units in units:
            rows += run_config(
                m,
                num_units,
                n,
                repeat,
                not (args.no_torch or args.diffrax_only),
                [None]
                if args.diffrax_only
                else [None if a == "auto" else a for a in args.adjoints],
                rounds=args.rounds or max(repeat, 5),
                modes=tuple(args.modes),
                with_euler=not args.diffrax_only,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
