"""The DAE of a cloud: streamed mean shift and the blurring mean-shift flow."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from flowrep._dae._empirical import blurring_mean_shift_flow, mean_shift

from ._dae_laws import gaussian


def test_mean_shift_matches_dense_and_streams(getkey):
    cloud = jr.normal(getkey(), (300, 3))
    q = jr.normal(getkey(), (37, 3)) * 2
    w = jr.uniform(getkey(), (300,), minval=0.5, maxval=2.0)
    t = 0.2
    k = np.asarray(w)[None] * np.exp(
        -np.sum((np.asarray(q)[:, None] - np.asarray(cloud)[None]) ** 2, -1) / (2 * t)
    )
    dense = k @ np.asarray(cloud) / k.sum(1, keepdims=True)
    for chunk in (7, 300 * 37, 1000):
        np.testing.assert_allclose(
            mean_shift(cloud, t, q, weights=w, chunk_size=chunk), dense, rtol=1e-10
        )
    # far-away queries: the running log-sum-exp does not underflow
    far = mean_shift(cloud, 1e-3, q + 50.0, chunk_size=64)
    assert bool(jnp.all(jnp.isfinite(far)))


def test_mean_shift_on_1e5_cloud_is_chunked(getkey):
    cloud = jr.normal(getkey(), (100_000, 2))
    q = jr.normal(getkey(), (64, 2))
    out = mean_shift(cloud, 0.5, q, chunk_size=2**16)
    # N(0, I) cloud: posterior mean of N(0, I) prior is q / (1 + t)
    np.testing.assert_allclose(out, q / 1.5, atol=0.03)


def test_blurring_flow_of_a_gaussian_cloud(getkey):
    """A Gaussian cloud under the KDE score: each eigenvalue obeys lam' = -2 lam / (lam + h)."""
    xs = gaussian().sample(1500, key=getkey())
    _, tr = blurring_mean_shift_flow(xs, 0.2, 0.3, chunk_size=2**18)
    lam0 = np.linalg.eigvalsh(np.cov(np.asarray(xs).T))
    lam_t = np.linalg.eigvalsh(np.cov(np.asarray(tr[-1]).T))
    # closed form of the scalar ODE: lam + h log lam = lam0 + h log lam0 - 2t
    from scipy.optimize import brentq

    pred = [
        brentq(
            lambda v, l0=l0: v + 0.3 * np.log(v) - l0 - 0.3 * np.log(l0) + 0.4, 1e-3, l0
        )
        for l0 in lam0
    ]
    np.testing.assert_allclose(lam_t, np.asarray(pred, dtype=float), rtol=0.05)  # pyright: ignore[reportArgumentType]


def test_empirical_bad_input():
    with pytest.raises(ValueError, match="positive noise"):
        mean_shift(jnp.zeros((4, 2)), 0.0)
    with pytest.raises(ValueError, match="queries"):
        mean_shift(jnp.zeros((4, 2)), 0.1, jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        mean_shift(jnp.array([[jnp.nan, 0.0]]), 0.1)
    with pytest.raises(ValueError, match="weights"):
        mean_shift(jnp.zeros((4, 2)), 0.1, weights=jnp.ones(3))
    with pytest.raises(ValueError, match="positive and finite"):
        mean_shift(jnp.zeros((4, 2)), 0.1, weights=-jnp.ones(4))
    with pytest.raises(ValueError, match="chunk_size"):
        mean_shift(jnp.zeros((4, 2)), 0.1, chunk_size=0)
    with pytest.raises(ValueError, match="bandwidth"):
        blurring_mean_shift_flow(jnp.zeros((4, 2)), 0.1, -1.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        blurring_mean_shift_flow(jnp.zeros((4, 2)), 0.1, 0.3, ts=jnp.array([0.0, 0.2]))
