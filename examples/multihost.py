"""Sinkhorn and a ridgelet spectrum over every device of every host.

On several hosts (one process per host; e.g. under SLURM or with the
coordinator given explicitly)::

    python examples/multihost.py --distributed            # each host
    # or: JAX_COORDINATOR_ADDRESS=host0:1234 JAX_NUM_PROCESSES=2 \
    #     JAX_PROCESS_ID=<i> python examples/multihost.py --distributed

On one host with fake CPU devices (the same code path)::

    python examples/multihost.py --fake-devices 4

Each process builds only *its* rows of the clouds (here: from a key folded
with its process index) and hands them to
`jax.make_array_from_process_local_data`, which assembles one global array
sharded over the mesh's "data" axis; no process ever holds a whole cloud.
flowrep's entry points see the `NamedSharding` and run sharded.
"""

import argparse
import os


p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
p.add_argument(
    "--distributed", action="store_true", help="jax.distributed.initialize()"
)
p.add_argument("--fake-devices", type=int, default=0, help="fake CPU devices (1 host)")
p.add_argument("--n-local", type=int, default=256, help="points per process")
args = p.parse_args()
if args.fake_devices:
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_force_host_platform_device_count={args.fake_devices}"
    )

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec as P  # noqa: E402


if args.distributed:
    jax.distributed.initialize()  # reads the cluster from the environment

import flowrep as fr  # noqa: E402


mesh = jax.make_mesh((jax.device_count(),), ("data",))
rows = NamedSharding(mesh, P("data", None))
key = jr.fold_in(jr.PRNGKey(0), jax.process_index())
kx, ky = jr.split(key)
# This process's rows: n_local per process, so n = n_local * process_count.
# (With D devices in all, n must be a multiple of D to stay sharded.)
x_local = jr.normal(kx, (args.n_local, 2))
y_local = jr.normal(ky, (args.n_local, 2)) + 1.0
x = jax.make_array_from_process_local_data(rows, x_local)
y = jax.make_array_from_process_local_data(rows, y_local)

out = fr.sinkhorn(x, y, epsilon=0.1, mode="online")
w = jax.make_array_from_process_local_data(
    NamedSharding(mesh, P("data")), jnp.full((args.n_local,), 1.0 / x.shape[0])
)
gamma = fr.ridgelet_transform(
    jnp.sin(x[:, 0]), fr.GaussianDerivative(2), x, x[:, 1], x, w
)
if jax.process_index() == 0:
    print(f"{jax.process_count()} process(es), {jax.device_count()} devices")
    f_spec = getattr(out.f.sharding, "spec", None)
    g_spec = getattr(gamma.sharding, "spec", None)
    print(f"OT_eps = {float(out.reg_ot_cost):.6f}, f sharded as {f_spec}")
    print(f"R: {gamma.shape} sharded as {g_spec}")
