"""`gaussian_ridgelet_transform` (closed form) against `ridgelet_transform` on nodes."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep
from flowrep import (
    gaussian_mixture_ridgelet_transform,
    gaussian_ridgelet_transform,
    GaussianDerivative,
)


def random_gaussian(key, m):
    k1, k2 = jr.split(key)
    mean = 0.7 * jr.normal(k1, (m,))
    factor = 0.5 * jr.normal(k2, (m, m))
    cov = factor @ factor.T + 0.4 * jnp.eye(m)
    return mean, cov


def random_units(key, num, m):
    k1, k2 = jr.split(key)
    a = jr.normal(k1, (num, m)) / math.sqrt(m)
    b = 1.5 * jr.normal(k2, (num,))
    return a, b


def gaussian_grid(mean, cov, per_axis, half_width=11.0):
    """Nodes x = mean + L t on a uniform t-grid, weights h^m det(L) (change of variables)."""
    m = mean.shape[0]
    t = jnp.linspace(-half_width, half_width, per_axis)
    h = t[1] - t[0]
    grid = jnp.stack(jnp.meshgrid(*([t] * m), indexing="ij"), axis=-1).reshape(-1, m)
    chol = jnp.linalg.cholesky(cov)
    x = mean + grid @ chol.T
    w = jnp.full(x.shape[0], h**m * jnp.prod(jnp.diag(chol)))
    return x, w


def bump(mean, cov):
    prec = jnp.linalg.inv(cov)

    def f(x):
        d = x - mean
        return jnp.exp(-0.5 * d @ prec @ d)

    return f


PER_AXIS = {1: 601, 2: 161}


@pytest.mark.parametrize("m,k", [(1, 0), (1, 3), (2, 1), (2, 6)])
def test_closed_form_matches_grid_quadrature(getkey, m, k):
    mean, cov = random_gaussian(getkey(), m)
    a, b = random_units(getkey(), 16, m)
    x, w = gaussian_grid(mean, cov, PER_AXIS[m])
    values = jax.vmap(bump(mean, cov))(x)
    numeric = flowrep.ridgelet_transform(values, GaussianDerivative(k), a, b, x, w)
    closed = gaussian_ridgelet_transform(a, b, mean, cov, k)
    scale = float(jnp.max(jnp.abs(closed)))
    assert scale > 1e-3
    # A uniform grid on a smooth, Gaussian-decaying integrand is spectrally accurate.
    np.testing.assert_allclose(closed, numeric, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("k", [0, 3])
def test_closed_form_matches_monte_carlo_dim3(getkey, k):
    m, n = 3, 50_000
    mean, cov = random_gaussian(getkey(), m)
    a, b = random_units(getkey(), 8, m)
    chol = jnp.linalg.cholesky(cov)
    x = mean + jr.normal(getkey(), (n, m)) @ chol.T
    # Importance sampling from f's own normalised law p = f / C: f / p = C.
    const = (2 * math.pi) ** (m / 2) * jnp.prod(jnp.diag(chol))
    f_over_p = const * jnp.ones(n)
    numeric = flowrep.ridgelet_transform(
        f_over_p, GaussianDerivative(k), a, b, x, jnp.full(n, 1.0 / n)
    )
    closed = gaussian_ridgelet_transform(a, b, mean, cov, k)
    samples = const * GaussianDerivative(k)(x @ a.T - b)  # [n, J]
    stderr = jnp.std(samples, axis=0) / math.sqrt(n)
    assert float(jnp.max(stderr)) < 0.05 * float(jnp.max(jnp.abs(closed)))
    # Each entry within 5 standard errors of the sample mean.
    assert bool(jnp.all(jnp.abs(numeric - closed) <= 5 * stderr)), (
        numeric - closed
    ) / stderr


@pytest.mark.parametrize("m", [1, 2])
def test_gradient_identity(getkey, m):
    # R[d_j f; rho](a, b) = a_j d/db R[f; rho](a, b)
    k = 2
    mean, cov = random_gaussian(getkey(), m)
    a, b = random_units(getkey(), 16, m)
    x, w = gaussian_grid(mean, cov, PER_AXIS[m])
    prec = jnp.linalg.inv(cov)
    f = bump(mean, cov)
    grad_f = jax.vmap(lambda xi: -(prec @ (xi - mean)) * f(xi))(x)  # analytic, [n, m]
    lhs = flowrep.ridgelet_transform(
        grad_f, GaussianDerivative(k), a, b, x, w
    )  # [J, m]

    def closed_one(aj, bj):
        return gaussian_ridgelet_transform(aj[None], bj[None], mean, cov, k)[0]

    dR_db = jax.vmap(jax.grad(closed_one, argnums=1))(a, b)
    rhs = a * dR_db[:, None]
    scale = float(jnp.max(jnp.abs(rhs)))
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-9 * scale)


def test_mixture_matches_grid_quadrature(getkey):
    m = 2
    (mu1, cov1), (mu2, cov2) = (
        random_gaussian(getkey(), m),
        random_gaussian(getkey(), m),
    )
    coeffs = jnp.array([0.7, -1.3])
    a, b = random_units(getkey(), 16, m)
    t = jnp.linspace(-12.0, 12.0, 161)
    h = t[1] - t[0]
    x = jnp.stack(jnp.meshgrid(t, t, indexing="ij"), axis=-1).reshape(-1, m)
    w = jnp.full(x.shape[0], h * h)
    values = 0.7 * jax.vmap(bump(mu1, cov1))(x) - 1.3 * jax.vmap(bump(mu2, cov2))(x)
    numeric = flowrep.ridgelet_transform(values, GaussianDerivative(1), a, b, x, w)
    closed = gaussian_mixture_ridgelet_transform(
        a, b, coeffs, jnp.stack([mu1, mu2]), jnp.stack([cov1, cov2]), 1
    )
    np.testing.assert_allclose(
        closed, numeric, rtol=0, atol=1e-9 * float(jnp.max(jnp.abs(closed)))
    )


def test_s_weight_matches_transform(getkey):
    mean, cov = random_gaussian(getkey(), 1)
    a, b = random_units(getkey(), 16, 1)
    x, w = gaussian_grid(mean, cov, PER_AXIS[1])
    values = jax.vmap(bump(mean, cov))(x)
    numeric = flowrep.ridgelet_transform(
        values, GaussianDerivative(3), a, b, x, w, s=1.0
    )
    closed = gaussian_ridgelet_transform(a, b, mean, cov, 3, s=1.0)
    np.testing.assert_allclose(
        closed, numeric, rtol=0, atol=1e-10 * float(jnp.max(jnp.abs(closed)))
    )


def test_closed_form_float32():
    a = jnp.array([[0.5, -1.0]], dtype=jnp.float32)
    b = jnp.array([0.3], dtype=jnp.float32)
    out = gaussian_ridgelet_transform(
        a, b, jnp.zeros(2, jnp.float32), jnp.eye(2, dtype=jnp.float32), 2
    )
    assert out.dtype == jnp.float32
    ref = gaussian_ridgelet_transform(
        a.astype(float), b.astype(float), jnp.zeros(2), jnp.eye(2), 2
    )
    np.testing.assert_allclose(out, ref, rtol=1e-5)


def test_bad_input():
    a, b = jnp.ones((3, 2)), jnp.zeros(3)
    mean, cov = jnp.zeros(2), jnp.eye(2)
    with pytest.raises(ValueError, match=r"`a` must have shape \(J, d\)"):
        gaussian_ridgelet_transform(jnp.ones(3), b, mean, cov, 1)
    with pytest.raises(ValueError, match="J, d >= 1"):
        gaussian_ridgelet_transform(
            jnp.ones((3, 0)), b, jnp.zeros(0), jnp.zeros((0, 0)), 1
        )
    with pytest.raises(ValueError, match=r"`b` must have shape \(J,\)"):
        gaussian_ridgelet_transform(a, jnp.zeros(4), mean, cov, 1)
    with pytest.raises(ValueError, match=r"`mean` must have shape \(d,\)=\(2,\)"):
        gaussian_ridgelet_transform(a, b, jnp.zeros(3), cov, 1)
    with pytest.raises(ValueError, match=r"`cov` must have shape \(d, d\)"):
        gaussian_ridgelet_transform(a, b, mean, jnp.ones((2, 3)), 1)
    with pytest.raises(ValueError, match="non-negative integer"):
        gaussian_ridgelet_transform(a, b, mean, cov, -1)
    with pytest.raises(TypeError, match="non-negative integer"):
        gaussian_ridgelet_transform(a, b, mean, cov, 1.5)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="finite real"):
        gaussian_ridgelet_transform(a, b, mean, cov, 1, s=float("nan"))
    with pytest.raises(eqx.EquinoxRuntimeError, match="positive definite"):
        gaussian_ridgelet_transform(a, b, mean, jnp.array([[1.0, 0.0], [0.0, -1.0]]), 1)
    with pytest.raises(eqx.EquinoxRuntimeError, match="not symmetric"):
        gaussian_ridgelet_transform(a, b, mean, jnp.array([[1.0, 0.5], [0.0, 1.0]]), 1)
    with pytest.raises(ValueError, match=r"`means` must have shape \(K, d\) with K=2"):
        gaussian_mixture_ridgelet_transform(
            a, b, jnp.ones(2), jnp.zeros((3, 2)), jnp.stack([cov, cov]), 1
        )
    with pytest.raises(ValueError, match=r"`covs` must have shape \(K, d, d\)"):
        gaussian_mixture_ridgelet_transform(
            a, b, jnp.ones(2), jnp.zeros((2, 2)), cov, 1
        )
    with pytest.raises(ValueError, match=r"`coeffs` must have shape \(K,\)"):
        gaussian_mixture_ridgelet_transform(
            a, b, jnp.ones(()), jnp.zeros((2, 2)), jnp.stack([cov, cov]), 1
        )
