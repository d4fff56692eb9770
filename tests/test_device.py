"""Per-backend defaults of tile sizes and column caps (flowrep/_device.py).

The backend is monkeypatched: `jax.default_backend` answers "gpu" or "tpu"
while the arrays stay on the CPU, so the test checks which sizes the
functions pick and that the result does not depend on them.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep
from flowrep import _device, GaussianDerivative
from flowrep._dae import _empirical
from flowrep._width import _transform


def test_defaults_table():
    cpu = _device.DEVICE_DEFAULTS["cpu"]
    # The CPU values are today's measured ones (benchmarks/notes/width.md).
    assert cpu == dict(chunk_size=2**22, max_tile_cols=4096, mean_shift_chunk=2**20)
    assert _transform.DEFAULT_CHUNK_SIZE == 2**22
    assert _transform._MAX_TILE_COLS == 4096
    assert _empirical.DEFAULT_CHUNK_SIZE == 2**20
    for backend in ("gpu", "tpu"):
        for name, value in _device.DEVICE_DEFAULTS[backend].items():
            assert value >= cpu[name]  # accelerators get larger tiles


@pytest.mark.parametrize("backend", ["cpu", "gpu", "tpu", "METAL"])
def test_device_default_follows_backend(monkeypatch, backend):
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    table = _device.DEVICE_DEFAULTS.get(backend, _device.DEVICE_DEFAULTS["gpu"])
    for name, value in table.items():
        assert _device.device_default(name) == value
        assert _device.device_default(name, 123) == 123  # given wins
    with pytest.raises(KeyError):
        _device.device_default("no_such_size")


def _spy_tiles(monkeypatch):
    seen = []
    tiles = _transform._tiles

    def spy(num_rows, num_cols, chunk_size, width=1, max_cols=4096):
        seen.append((chunk_size, max_cols))
        return tiles(num_rows, num_cols, chunk_size, width, max_cols)

    monkeypatch.setattr(_transform, "_tiles", spy)
    return seen


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_transforms_take_backend_defaults(getkey, monkeypatch, backend):
    a = jr.normal(getkey(), (30, 2))
    b = jr.normal(getkey(), (30,))
    x = jr.normal(getkey(), (41, 2))
    fx = jnp.sin(x[:, 0])
    w = jnp.ones(41)
    rho = GaussianDerivative(1)
    ref = flowrep.ridgelet_transform(
        fx, rho, a, b, x, w, chunk_size=64, max_tile_cols=8
    )
    jax.clear_caches()
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    seen = _spy_tiles(monkeypatch)
    got = flowrep.ridgelet_transform(fx, rho, a, b, x, w)
    dual = flowrep.dual_ridgelet_transform(got, jnp.tanh, a, b, None, x)
    table = _device.DEVICE_DEFAULTS[backend]
    expected = (table["chunk_size"], table["max_tile_cols"])
    assert seen == [expected, expected]
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)
    assert dual.shape == (41,)
    jax.clear_caches()


@pytest.mark.slow
def test_max_tile_cols_splits_wide_sums(getkey):
    # Points of dimension 16 (17 with the folded bias): the cap applies.
    a = jr.normal(getkey(), (20, 16)) / 4
    b = jr.normal(getkey(), (20,))
    x = jr.normal(getkey(), (300, 16))
    w = jnp.full(300, 1 / 300)
    fx = jnp.cos(x[:, 0])
    rho = GaussianDerivative(2)
    whole = flowrep.ridgelet_transform(fx, rho, a, b, x, w, max_tile_cols=10**6)
    split = flowrep.ridgelet_transform(fx, rho, a, b, x, w, max_tile_cols=7)
    brute = (rho(a @ x.T - b[:, None]) * (w * fx)).sum(1)
    np.testing.assert_allclose(whole, brute, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(split, brute, rtol=1e-12, atol=1e-14)
    assert _transform._tiles(5, 300, 2**22, 17, max_cols=7) == (5, 7)
    with pytest.raises(ValueError, match="max_tile_cols must be a positive integer"):
        flowrep.ridgelet_transform(fx, rho, a, b, x, w, max_tile_cols=0)


def test_mean_shift_takes_backend_default(getkey, monkeypatch):
    cloud = jr.normal(getkey(), (40, 2))
    ref = flowrep.mean_shift(cloud, 0.3, chunk_size=17)
    seen = []
    run = _empirical._mean_shift

    def spy(cloud, logw, t, queries, chunk_size):
        seen.append(chunk_size)
        return run(cloud, logw, t, queries, chunk_size)

    monkeypatch.setattr(_empirical, "_mean_shift", spy)
    for backend in ("cpu", "gpu"):
        monkeypatch.setattr(jax, "default_backend", lambda: backend)
        got = flowrep.mean_shift(cloud, 0.3)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)
    assert seen == [2**20, _device.DEVICE_DEFAULTS["gpu"]["mean_shift_chunk"]]


def test_import_flowrep_does_not_import_ott():
    # ott-jax is imported where it is used (Sinkhorn, exact OT, fit's loss).
    import subprocess
    import sys

    code = (
        "import sys, flowrep; print(any(m.split('.')[0] == 'ott' for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_sinkhorn_defaults_table():
    # CPU values are the ones measured before they became parameters.
    cpu = _device.SINKHORN_DEFAULTS["cpu"]
    assert cpu == dict(
        sinkhorn_chunk_size=128, sinkhorn_tile_pairs=2**19, sinkhorn_inner_iterations=1
    )
    from flowrep._transport import _engines

    assert _engines._TILE_PAIRS == 2**19
    for backend in ("gpu", "tpu"):
        table = _device.SINKHORN_DEFAULTS[backend]
        assert table["sinkhorn_inner_iterations"] == 10
        assert table["sinkhorn_tile_pairs"] >= cpu["sinkhorn_tile_pairs"]
        assert table["sinkhorn_chunk_size"] >= cpu["sinkhorn_chunk_size"]


@pytest.mark.parametrize("backend", ["cpu", "gpu", "tpu", "METAL"])
def test_sinkhorn_options_follow_backend(monkeypatch, backend):
    from flowrep._transport._sinkhorn import solve_options

    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    table = _device.SINKHORN_DEFAULTS.get(backend, _device.SINKHORN_DEFAULTS["gpu"])
    opts = solve_options(1e-3, 1, 100, None, "adaptive", None)
    assert opts.inner == table["sinkhorn_inner_iterations"]
    assert opts.chunk == table["sinkhorn_chunk_size"]
    assert opts.tile == table["sinkhorn_tile_pairs"]
    given = solve_options(1e-3, 1, 100, 3, "adaptive", 7, 99)
    assert (given.inner, given.chunk, given.tile) == (3, 7, 99)  # given wins
    with pytest.raises(ValueError, match="tile_pairs"):
        solve_options(1e-3, 1, 100, None, "adaptive", None, 0)


@pytest.mark.slow
def test_online_sinkhorn_takes_backend_defaults(getkey, monkeypatch):
    from flowrep._transport import _engines

    x = jr.normal(getkey(), (50, 2))
    y = jr.normal(getkey(), (40, 2)) + 0.5
    ref = flowrep.sinkhorn(
        x, y, mode="online", threshold=1e-9, inner_iterations=1, chunk_size=16
    )
    seen = set()
    lse = _engines.lse_rows

    def spy(F, X, Y, eps, chunk, tile_pairs=_engines._TILE_PAIRS):
        seen.add((chunk, tile_pairs))
        return lse(F, X, Y, eps, chunk, tile_pairs)

    monkeypatch.setattr(_engines, "lse_rows", spy)
    for backend in ("cpu", "gpu"):
        jax.clear_caches()
        monkeypatch.setattr(jax, "default_backend", lambda: backend)
        out = flowrep.sinkhorn(x, y, mode="online", threshold=1e-9)
        table = _device.SINKHORN_DEFAULTS[backend]
        assert (table["sinkhorn_chunk_size"], table["sinkhorn_tile_pairs"]) in seen
        assert int(out.num_iterations) % table["sinkhorn_inner_iterations"] == 0
        np.testing.assert_allclose(out.f, ref.f, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(out.reg_ot_cost, ref.reg_ot_cost, rtol=1e-7)
    # The tiles only regroup the sums: explicit small tiles agree too.
    tiny = flowrep.sinkhorn(x, y, mode="online", threshold=1e-9, tile_pairs=48)
    np.testing.assert_allclose(tiny.f, out.f, rtol=1e-10, atol=1e-12)
    jax.clear_caches()
