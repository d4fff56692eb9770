"""Depth smoothness (Sander et al. 2022): beta ~ 1 for ResNets read from a
smooth field, ~ 0 for i.i.d. blocks; tracks against the flow of the field."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep
from flowrep._depth._smoothness import depth_smoothness, resnet_block_weights
from flowrep._width._activations import get_activation
from flowrep._width._integral_net import IntegralNetwork


def _smooth_resnet(key, depth, dim=2, width=6):
    ka, kb, kc, kd = jr.split(key, 4)
    A0, A1 = jr.normal(ka, (2, width, dim))
    b0 = jr.normal(kb, (width,))
    C0, C1 = 0.5 * jr.normal(kc, (2, width, dim)) / np.sqrt(width)
    h = 1.0 / depth
    s = jnp.arange(depth) * h  # the block times t_l = l h
    a = A0 + jnp.sin(2 * s)[:, None, None] * A1
    b = jnp.broadcast_to(b0, (depth, width)) * jnp.cos(s)[:, None]
    c = h * (C0 + s[:, None, None] * C1)
    sigma = get_activation("tanh")
    blocks = eqx.filter_vmap(lambda a, b, c, z: IntegralNetwork(a, b, c, sigma, z))(
        a, b, c, jnp.zeros((depth, dim))
    )
    return flowrep.ResNet(blocks)


def test_beta_smooth_vs_iid(getkey):
    key = getkey()
    depths = (8, 16, 32, 64)
    smooth = depth_smoothness([_smooth_resnet(key, L) for L in depths])
    iid = depth_smoothness(
        [flowrep.ResNet.random(getkey(), 2, 6, L, "tanh") for L in depths]
    )
    assert smooth.depths == depths
    assert smooth.beta == pytest.approx(1.0, abs=0.05)
    assert abs(float(iid.beta)) < 0.2
    # Independent check of the increments for one network.
    W = np.asarray(resnet_block_weights(_smooth_resnet(key, 8)))
    np.testing.assert_allclose(
        np.asarray(smooth.increment_norms[0]),
        np.linalg.norm(np.diff(W, axis=0), axis=1),
        rtol=1e-12,
    )
    d = smooth.to_dict()
    assert d["tracks_deviation"] is None and len(d["max_increment"]) == 4


def test_weights_lists_and_arrays(getkey):
    depths = (10, 20, 40)
    smooth = [
        [jnp.cos(jnp.arange(12.0).reshape(3, 4) * k / L) for k in range(L)]
        for L in depths
    ]
    iid = [jr.normal(getkey(), (L, 3, 4)) for L in depths]
    assert float(depth_smoothness(smooth).beta) == pytest.approx(1.0, abs=0.05)
    assert abs(float(depth_smoothness(iid).beta)) < 0.2
    one = depth_smoothness(iid[0])
    assert one.depths == (10,) and np.isnan(float(one.beta))


def test_tracks_against_flow(getkey):
    key = getkey()
    x = jr.normal(getkey(), (16, 2))
    out = depth_smoothness([_smooth_resnet(key, L) for L in (8, 32)], x=x)
    dev = np.asarray(out.tracks_deviation)
    assert dev[1] < dev[0] and dev[1] < 0.02
    # O(1/L): quadrupling the depth cuts the deviation by about 4.
    assert dev[0] / dev[1] == pytest.approx(4.0, rel=0.3)


def test_depth_smoothness_errors(getkey):
    with pytest.raises(ValueError, match="depth >= 2"):
        depth_smoothness(jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="same shape"):
        depth_smoothness([[jnp.zeros((2, 2)), jnp.zeros((3, 2))]])
    with pytest.raises(ValueError, match="leading depth axis"):
        depth_smoothness(jnp.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        depth_smoothness([])
    with pytest.raises(ValueError, match="ResNets"):
        depth_smoothness(jnp.zeros((4, 3)), x=jnp.zeros((5, 2)))
