"""`fit`'s default Sinkhorn loss (ott-jax, `sinkhorn_backend="ott"`) over a
mesh: its three cost matrices stay sharded by rows, the results equal one
device's to float rounding, and the compiled step's per-device memory falls
as 1/D. On 4 fake CPU devices (run via `tests/test_sharding.py`)."""

import re

import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from ._fit_step import compiled_fit_step, fit_one_and_mesh, temp_bytes


D = 4  # the devices tests/test_sharding.py starts (tests/sharded/conftest.py)


@pytest.mark.parametrize(
    "n, p", [(13, 10), pytest.param(16, 12, marks=pytest.mark.slow)]
)
def test_fit_ott_sinkhorn_equals_one_device(mesh, n, p):
    """Uneven n = 13, p = 10 with `mesh=`, or sharded n = 16, p = 12: the
    default loss' values and the trained parameters equal one device's
    (ott-jax on `PointCloud`s) to 1e-10 relative: the same solver on the
    same costs, only the order of the reductions changes."""
    h1, hD, a, b = fit_one_and_mesh(mesh, n, p)
    np.testing.assert_allclose(hD["loss"], h1["loss"], rtol=1e-10)
    for u, v in zip(a, b):
        scale = float(jnp.max(jnp.abs(u)))
        assert float(jnp.max(jnp.abs(np.asarray(v) - u))) <= 1e-10 * scale
        assert v.sharding.is_equivalent_to(NamedSharding(mesh, P()), v.ndim)
        assert len(v.sharding.device_set) == D


@pytest.mark.slow  # two compilations of the step (~9 s on 2 loaded cores)
def test_ott_sinkhorn_step_memory_falls_with_D():
    """n = p = 1024, 16 units, 8 Euler steps, float64: per-device
    temporaries of the compiled step at 4 devices are under 0.4x one
    device's (measured 33.8 / 21.2 / 10.6 MB at D = 1 / 2 / 4), and the
    only float arrays gathered are the (p, d) cloud and p-vectors of
    potentials: no n x p matrix is all-gathered."""
    config = dict(loss="sinkhorn", epsilon=0.05)
    compiled = {d: compiled_fit_step(d, n=1024, units=16, **config) for d in (1, 4)}
    temps = {d: temp_bytes(c) for d, c in compiled.items()}
    assert temps[4] < 0.4 * temps[1], temps
    hlo = compiled[4].as_text()
    assert hlo is not None
    gathered = set(re.findall(r"= f(?:32|64)\[([0-9,]*)\]\S* all-gather", hlo))
    assert gathered <= {"1024,2", "1024"}, gathered
