"""Energies: values, first variations and velocities against closed forms."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep as fr
from flowrep._wgf._energies import (
    EntropyEnergy,
    InteractionEnergy,
    kl_energy,
    PotentialEnergy,
    SumEnergy,
)


def _cloud(key, n=300, d=2):
    L = jnp.array([[1.5, 0.0], [0.4, 0.6]])[:d, :d]
    return jr.normal(key, (n, d)) @ L.T + jnp.array([0.5, -1.0])[:d]


def _cov(x):
    m = x.mean(0)
    return (x - m).T @ (x - m) / x.shape[0]


def test_sum_flattens_and_adds():
    e = PotentialEnergy(lambda x: x @ x) + InteractionEnergy(lambda z: z @ z)
    e = e + EntropyEnergy(2.0)
    assert isinstance(e, SumEnergy) and len(e.terms) == 3


@pytest.mark.parametrize("estimator", ["blob", "gaussian"])
def test_particle_velocity_is_minus_n_grad_of_value(getkey, estimator):
    x = _cloud(getkey(), n=120)
    e = kl_energy(lambda y: 0.25 * jnp.sum(y**4), 0.7, estimator=estimator)
    e = e + InteractionEnergy(lambda z: jnp.exp(-0.5 * z @ z))
    n = x.shape[0]
    np.testing.assert_allclose(e.velocity(x), -n * jax.grad(e)(x), atol=1e-10)


def test_closed_form_particle_velocities(getkey):
    x = _cloud(getkey())
    m, S = x.mean(0), _cov(x)
    # potential: -grad V; interaction |z|^2/2: -(x - m); Gaussian entropy: kappa S^-1 (x - m)
    np.testing.assert_allclose(
        PotentialEnergy(lambda y: 0.5 * y @ y).velocity(x), -x, atol=1e-12
    )
    np.testing.assert_allclose(
        InteractionEnergy(lambda z: 0.5 * z @ z, chunk_size=64).velocity(x),
        -(x - m),
        atol=1e-12,
    )
    v = EntropyEnergy(2.0, "gaussian").velocity(x)
    np.testing.assert_allclose(v, 2.0 * np.linalg.solve(S, (x - m).T).T, atol=1e-10)


def test_values_closed_form(getkey):
    x = _cloud(getkey())
    S = np.asarray(_cov(x))
    h_gauss = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * S))
    np.testing.assert_allclose(EntropyEnergy(3.0, "gaussian")(x), -3.0 * h_gauss)
    np.testing.assert_allclose(
        InteractionEnergy(lambda z: 0.5 * z @ z)(x), np.trace(S) / 2, rtol=1e-12
    )
    # blob value against a brute-force numpy KDE
    h = 0.4
    xn = np.asarray(x)
    sq = ((xn[:, None] - xn[None]) ** 2).sum(-1)
    rho = np.exp(-0.5 * sq / h**2).mean(1) / (2 * np.pi * h**2)
    np.testing.assert_allclose(
        EntropyEnergy(1.0, bandwidth=h, chunk_size=50)(x), np.log(rho).mean()
    )


def test_law_velocities_exact():
    law = fr.GaussianLaw(jnp.array([1.0, -0.5]), jnp.array([[2.0, 0.3], [0.3, 0.5]]))
    y = jnp.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]])
    P = np.linalg.inv(np.asarray(law.cov))
    r = np.asarray(y - law.mean)
    np.testing.assert_allclose(
        EntropyEnergy(1.5).law_velocity(law, y), 1.5 * r @ P.T, atol=1e-12
    )
    np.testing.assert_allclose(
        InteractionEnergy(lambda z: 0.5 * z @ z).law_velocity(law, y), -r, atol=1e-10
    )
    ou = kl_energy(lambda z: 0.5 * z @ z)
    np.testing.assert_allclose(ou.law_velocity(law, y), -y + r @ P.T, atol=1e-10)
    mix = fr.GaussianMixture(
        jnp.array([0.3, 0.7]),
        jnp.array([[-1.0, 0.0], [1.0, 0.5]]),
        jnp.stack([jnp.eye(2) * 0.5, jnp.eye(2)]),
    )
    np.testing.assert_allclose(
        EntropyEnergy(1.0).law_velocity(mix, y), -jax.vmap(mix.score)(y), atol=1e-12
    )


def _blob_limit(xs, h):
    """Population limit of the blob velocity for N(0, 1) in 1-D, by numpy quadrature:
    -[rho'/rho + int phi_h'(x - z) mu(z)/rho(z) dz], rho = N(0, 1 + h^2)."""
    z = np.linspace(-10, 10, 8001)
    dz = z[1] - z[0]
    mu = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    s2 = 1 + h**2
    rho = np.exp(-0.5 * z**2 / s2) / np.sqrt(2 * np.pi * s2)
    inner = xs[:, None] - z[None]
    dphi = -inner / h**2 * np.exp(-0.5 * inner**2 / h**2) / np.sqrt(2 * np.pi * h**2)
    return -(-xs / s2 + (dphi * (mu / rho)).sum(1) * dz)


def test_blob_velocity_sampling_error(getkey):
    """n = 2000 samples of N(0, 1), h = 0.3: the blob velocity is within its
    sampling error (RMS ~ 0.1 in |x| < 1.5, measured) of its population limit."""
    h, n = 0.3, 2000
    x = jr.normal(getkey(), (n, 1))
    v = np.asarray(EntropyEnergy(1.0, bandwidth=h).velocity(x))[:, 0]
    xs = np.asarray(x)[:, 0]
    bulk = np.abs(xs) < 1.5
    diff = (v - _blob_limit(xs, h))[bulk]
    assert np.sqrt(np.mean(diff**2)) < 0.15
    assert abs(np.mean(diff)) < 0.04


def test_blob_bias_order_in_h():
    """The stated bias: the population blob velocity of a Gaussian differs from the
    exact velocity x by O(h^4) (log-log slope over h = 0.4, 0.2, 0.1)."""
    xs = np.linspace(-1.5, 1.5, 31)
    hs = np.array([0.4, 0.2, 0.1])
    bias = [np.max(np.abs(_blob_limit(xs, h) - xs)) for h in hs]
    slope = np.polyfit(np.log(hs), np.log(bias), 1)[0]
    assert 3.5 < slope < 4.5, slope
    assert bias[1] < 0.002


def test_scott_bandwidth(getkey):
    x = _cloud(getkey(), n=500)
    s = np.sqrt(np.mean(np.var(np.asarray(x), axis=0, ddof=1)))
    np.testing.assert_allclose(
        EntropyEnergy().scott_bandwidth(x), s * 500 ** (-1 / 6), rtol=1e-12
    )


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_kappa_and_bandwidth(bad):
    with pytest.raises(ValueError, match="kappa"):
        EntropyEnergy(bad)
    with pytest.raises(ValueError, match="bandwidth"):
        EntropyEnergy(1.0, bandwidth=bad)


def test_bad_estimator_and_small_cloud():
    with pytest.raises(ValueError, match="estimator"):
        EntropyEnergy(1.0, "knn")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="more particles than dimensions"):
        EntropyEnergy(1.0, "gaussian")(jnp.ones((2, 3)))


def test_nan_velocity_is_an_error(getkey):
    x = _cloud(getkey())
    e = PotentialEnergy(lambda y: jnp.sqrt(y[0]))  # NaN where y0 < 0
    with pytest.raises(ValueError, match="velocity is NaN"):
        e.velocity(x)
    with pytest.raises(ValueError, match="NaN"):
        e.velocity(x.at[0, 0].set(jnp.nan))
