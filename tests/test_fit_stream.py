"""fit's Sinkhorn loss streams its cost (ott-jax online mode) above
`STREAM_PAIRS` pairs: same value and gradient as the dense loss."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from flowrep._depth import _fit


@pytest.mark.slow  # ott-jax compiles two divergences and their gradients
def test_streamed_loss_matches_dense(getkey):
    x = jr.normal(getkey(), (60, 2))
    y = jr.normal(getkey(), (50, 2)) * 0.7 + 1.0
    dense = jax.value_and_grad(lambda x: _fit.sinkhorn_loss(x, y, 0.1))
    streamed = jax.value_and_grad(
        lambda x: _fit.sinkhorn_loss(x, y, 0.1, stream_pairs=1, batch_size=16)
    )
    v_dense, g_dense = jax.jit(dense)(x)
    v_stream, g_stream = jax.jit(streamed)(x)
    assert float(v_dense) > 0.1
    np.testing.assert_allclose(v_stream, v_dense, rtol=1e-8)
    np.testing.assert_allclose(g_stream, g_dense, rtol=1e-6, atol=1e-9)
    # The default threshold keeps small problems dense.
    assert 60 * 50 <= _fit.STREAM_PAIRS


@pytest.mark.slow
def test_streamed_loss_is_online(getkey, monkeypatch):
    # The streamed branch really builds an online PointCloud.
    from ott.geometry import pointcloud

    seen = []
    init = pointcloud.PointCloud.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("batch_size"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(pointcloud.PointCloud, "__init__", spy)
    x = jnp.zeros((8, 2)).at[:, 0].set(jnp.arange(8.0))
    _fit.sinkhorn_loss(x, x + 1, 0.5, stream_pairs=10, batch_size=4)
    assert seen and set(seen) == {4}
    seen.clear()
    _fit.sinkhorn_loss(x, x + 1, 0.5)
    assert seen and set(seen) == {None}


def test_auto_backend_switches_to_the_ring_loss_beyond_the_threshold(monkeypatch):
    # fit's default sinkhorn_backend="auto": ott-jax's divergence while dense,
    # flowrep's streamed ring loss beyond STREAM_PAIRS (ott's online gradient
    # keeps O(np) memory). The two losses agree to the solvers' tolerance
    # (tests/test_fit_ring_loss.py); here, which one runs.
    seen = []
    monkeypatch.setattr(
        _fit, "ring_sinkhorn_loss", lambda x, y, e, layout: seen.append("ring")
    )
    monkeypatch.setattr(
        _fit, "_sinkhorn_loss", lambda x, y, e, layout: seen.append("ott")
    )
    x, y = jnp.zeros((8, 2)), jnp.zeros((6, 2))
    for backend in ("auto", "ott", "flowrep"):
        _fit._data_loss("sinkhorn", 0.5, x, y, backend)
    monkeypatch.setattr(_fit, "STREAM_PAIRS", 47)  # 8 * 6 = 48 pairs
    for backend in ("auto", "ott", "flowrep"):
        _fit._data_loss("sinkhorn", 0.5, x, y, backend)
    assert seen == ["ott", "ott", "ring", "ring", "ott", "ring"]


def test_auto_backend_gradient_memory_is_linear_beyond_the_threshold():
    # n = p = 8200 (just past 2**26 pairs): the compiled gradient of the
    # default loss holds ~2 MB of temporaries per 1000 points, not an n x p
    # block (538 MB in float64; ott-jax's online gradient: 1.6 GB, measured)
    n = 8200
    x = jnp.ones((n, 2))

    def loss(x):
        return _fit._data_loss("sinkhorn", 0.05, x, x + 1, "auto")

    compiled = jax.jit(jax.grad(loss)).lower(x).compile()
    analysis = compiled.memory_analysis()
    assert analysis is not None
    assert analysis.temp_size_in_bytes < 0.05 * n * n * x.dtype.itemsize
