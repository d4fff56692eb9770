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
reported separately. Timings are `min(timeit.repeat(...))`.

    python benchmarks/flow.py --quick        # m in {2, 64}, n = 1024
    python benchmarks/flow.py                # J = 256, n = 4096, m in {2, 64}
    python benchmarks/flow.py --json out.json
"""

import argparse
import json
import os
import sys
import time
import timeit
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import flowrep


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


def torch_problem(field: flowrep.RidgeletField, x0):
    import torch

    knots = torch.tensor(field.knots, dtype=torch.float32)

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
            k = int(
                torch.clamp(
                    torch.searchsorted(knots, tt, right=True) - 1, 0, len(knots) - 2
                )
            )
            frac = torch.clamp((tt - knots[k]) / (knots[k + 1] - knots[k]), 0.0, 1.0)
            a = (1 - frac) * self.a[k] + frac * self.a[k + 1]
            b = (1 - frac) * self.b[k] + frac * self.b[k + 1]
            c = (1 - frac) * self.c[k] + frac * self.c[k + 1]
            return torch.tanh(x @ a.T - b) @ c

    return Field(), torch.from_numpy(np.asarray(x0))


def make_torch(mode: str, tfield, tx0):
    import torch
    from torchdiffeq import odeint

    tspan = torch.tensor([0.0, 1.0])
    kw = (
        dict(method="rk4", options=dict(step_size=1.0 / NUM_STEPS))
        if mode == "fixed"
        else dict(
            method="dopri5",
            rtol=RTOL,
            atol=ATOL,
            # The field's kinks in time, as flowrep.flow passes them to diffrax.
            options=dict(step_t=torch.tensor(tfield.step_ts)),
        )
    )

    def forward():
        with torch.no_grad():
            return odeint(tfield, tx0, tspan, **kw)[-1]

    def loss_grad():
        tfield.zero_grad()
        loss = torch.mean(odeint(tfield, tx0, tspan, **kw)[-1] ** 2)
        loss.backward()
        return loss

    return forward, loss_grad


# ----------------------------------------------------------------------------- main


def run_config(m: int, num_units: int, n: int, repeat: int, with_torch: bool, adjoints):
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

            tfield, tx0 = torch_problem(field, np.array(x0))
            torch_threads = torch.get_num_threads()
        except ImportError:
            print("# torch/torchdiffeq not installed: skipping the torchdiffeq peer")
            torch_ok = False
    for mode in ("fixed", "adaptive"):
        cfg = dict(m=m, J=num_units, n=n, mode=mode)
        peers = {}
        if torch_ok:
            tfwd, tgrad = make_torch(mode, tfield, tx0)  # pyright: ignore
            tfield.nfe = 0  # pyright: ignore
            t_x = tfwd().numpy()
            nfe = tfield.nfe  # pyright: ignore
            peers["torchdiffeq"] = dict(
                fwd=_time(tfwd, repeat),
                fwd_bwd=_time(tgrad, repeat),
                nfe=nfe,
                threads=torch_threads,  # pyright: ignore
            )
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
            peers[f"flowrep[{adjoint or 'auto'}]"] = dict(
                fwd=_time(lambda: _block(fwd(field, x0)), repeat),
                fwd_bwd=_time(lambda: _block(grad(field, x0)), repeat),
                compile_fwd=c_fwd,
                compile_fwd_bwd=c_grad,
                steps=int(steps),
                max_abs_diff_vs_torch=err,
            )
        if mode == "fixed":
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
    n = 1024 if args.quick else 4096
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
                not args.no_torch,
                [None if a == "auto" else a for a in args.adjoints],
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
