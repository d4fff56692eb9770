"""The displacement field of a DAE as an integral network (ridgelet transform)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from flowrep._dae._closed_form import shallow_dae
from flowrep._dae._ridgelet import displacement_network

from ._dae_laws import mixture


T = 0.3


def _disp(x):
    """The shallow DAE's displacement g_t(x) - x for the mixture, one point."""
    return shallow_dae(mixture(), T, x[None])[0] - x


def _network(key, compress_to):
    return displacement_network(
        _disp,
        jnp.zeros(2),
        2.5,
        key=key,
        num_units=8000,
        num_nodes=32,
        compress_to=compress_to,
    )


def _relative_error(net, target, xe):
    true = jax.vmap(target)(xe)
    return float(jnp.linalg.norm(net.evaluate(xe) - true) / jnp.linalg.norm(true))


@pytest.mark.slow
def test_displacement_as_integral_network(getkey):
    net, target = _network(getkey(), 300)
    xe = mixture().sample(800, key=getkey())
    xe = xe[jnp.linalg.norm(xe, axis=1) < 2.5]
    assert _relative_error(net, target, xe) < 0.1
    # inside the window the network is the displacement itself, up to the window's 1 - chi
    inner = xe[jnp.linalg.norm(xe, axis=1) < 1.0]
    np.testing.assert_allclose(
        jax.vmap(target)(inner), jax.vmap(_disp)(inner), rtol=0.02, atol=1e-3
    )


@pytest.mark.slow
def test_raw_ridgelet_reconstruction_is_not_a_ghost(getkey):
    """Without the refit, S[R[d chi]] / <<G, G''>> already reproduces d chi (Monte Carlo error)."""
    net, target = _network(getkey(), None)
    xe = jr.uniform(getkey(), (300, 2), minval=-1.5, maxval=1.5)
    assert (
        _relative_error(net, target, xe) < 0.6
    )  # a wrong sign or missing pairing gives >= 1


def test_ridgelet_bad_input(getkey):
    with pytest.raises(ValueError, match="even k"):
        displacement_network(lambda x: x, jnp.zeros(2), 1.0, key=getkey(), order=1)
    with pytest.raises(ValueError, match="radius"):
        displacement_network(lambda x: x, jnp.zeros(2), -1.0, key=getkey())
    with pytest.raises(ValueError, match=r"map a point"):
        displacement_network(lambda x: x[:1], jnp.zeros(2), 1.0, key=getkey())
