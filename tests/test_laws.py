"""Gaussian and mixture laws against scipy, autodiff and the heat equations."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as ss

from flowrep._dae._laws import CollapseError, fit_mixture, GaussianLaw, GaussianMixture


MEAN = np.array([1.0, -1.0])
COV = np.array([[2.0, 0.5], [0.5, 1.0]])


def _mixture():
    return GaussianMixture(
        jnp.array([0.3, 0.7]),
        jnp.array([[-2.0, 0.0], [2.0, 0.5]]),
        jnp.stack([0.5 * jnp.eye(2), jnp.array([[1.0, 0.3], [0.3, 0.6]])]),
    )


def _mix_pdf_scipy(mix, x):
    return sum(
        float(w) * ss.multivariate_normal(np.asarray(m), np.asarray(c)).pdf(x)  # pyright: ignore[reportArgumentType]
        for w, m, c in zip(mix.weights, mix.means, mix.covs)
    )


def test_gaussian_density_score_entropy_vs_scipy(getkey):
    law = GaussianLaw(MEAN, COV)
    ref = ss.multivariate_normal(MEAN, COV)  # pyright: ignore[reportArgumentType]
    xs = np.asarray(jr.normal(getkey(), (20, 2)))
    np.testing.assert_allclose(
        jax.vmap(law.log_prob)(jnp.asarray(xs)), ref.logpdf(xs), rtol=1e-12
    )
    grads = jax.vmap(jax.grad(law.log_prob))(jnp.asarray(xs))
    np.testing.assert_allclose(jax.vmap(law.score)(jnp.asarray(xs)), grads, rtol=1e-10)
    np.testing.assert_allclose(float(law.entropy()), ref.entropy(), rtol=1e-12)
    x = law.sample(40_000, key=getkey())
    np.testing.assert_allclose(np.cov(np.asarray(x).T), COV, atol=0.05)
    np.testing.assert_allclose(np.mean(np.asarray(x), 0), MEAN, atol=0.03)


def test_mixture_density_score_sampling(getkey):
    mix = _mixture()
    xs = jr.normal(getkey(), (25, 2)) * 2
    np.testing.assert_allclose(
        jnp.exp(jax.vmap(mix.log_prob)(xs)),
        _mix_pdf_scipy(mix, np.asarray(xs)),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        jax.vmap(mix.score)(xs),
        jax.vmap(jax.grad(mix.log_prob))(xs),
        rtol=1e-9,
        atol=1e-12,
    )
    # moments of the sampler against the mixture's mean and covariance
    x = np.asarray(mix.sample(60_000, key=getkey()))
    w, mu, c = (np.asarray(a) for a in (mix.weights, mix.means, mix.covs))
    mean = w @ mu
    second = np.einsum("k,kij->ij", w, c + np.einsum("ki,kj->kij", mu, mu))
    np.testing.assert_allclose(x.mean(0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(x.T), second - np.outer(mean, mean), atol=0.06)


def test_quadrature_expectation_is_exact_for_polynomials():
    mix = _mixture()
    w, mu, c = (np.asarray(a) for a in (mix.weights, mix.means, mix.covs))
    second = np.einsum("k,kij->ij", w, c + np.einsum("ki,kj->kij", mu, mu))
    got = mix.expect(lambda x: jnp.outer(x, x))
    np.testing.assert_allclose(got, second, rtol=1e-12)


def test_mixture_entropy_quadrature_vs_scipy_1d_and_monte_carlo_2d(getkey):
    mix1 = GaussianMixture(
        jnp.array([0.4, 0.6]), jnp.array([[-1.5], [1.0]]), jnp.array([[[0.3]], [[0.8]]])
    )

    def integrand(x):
        p = _mix_pdf_scipy(mix1, np.array([x]))
        return -p * np.log(p) if p > 0 else 0.0

    ref, _ = si.quad(integrand, -12, 12, limit=200)
    np.testing.assert_allclose(float(mix1.entropy()), ref, rtol=1e-7)
    mix = _mixture()
    h = float(mix.entropy())
    mc, se = mix.entropy_monte_carlo(200_000, key=getkey())
    assert abs(h - float(mc)) < 4 * float(se)
    assert float(se) < 5e-3
    # single component: exact
    law = GaussianLaw(MEAN, COV)
    np.testing.assert_allclose(
        float(law.to_mixture().entropy()), float(law.entropy()), rtol=1e-12
    )


def test_smoothing_solves_heat_equation_and_backward_heat_its_reverse():
    """W_t * mu solves d/dt = Laplacian/2; mu_t (Sigma - 2tI) solves d/dt = -Laplacian (docs/theory/dae.md#deep-dae)."""
    mix = _mixture()
    x = jnp.array([0.3, -0.4])
    t = 0.1

    def lap(fn):
        return jnp.trace(jax.hessian(fn)(x))

    def dens_fwd(s):
        return mix.smooth(s).prob(x)

    def dens_bwd(s):
        return mix.backward_heat(s, check=False).prob(x)

    dfwd = jax.grad(dens_fwd)(t)
    np.testing.assert_allclose(
        dfwd, 0.5 * lap(lambda y: mix.smooth(t).prob(y)), rtol=1e-10
    )
    dbwd = jax.grad(dens_bwd)(t)
    np.testing.assert_allclose(
        dbwd, -lap(lambda y: mix.backward_heat(t).prob(y)), rtol=1e-10
    )
    # W_t * mu is the law of x + sqrt(t) eps: its covariance adds t I
    law = GaussianLaw(MEAN, COV)
    np.testing.assert_allclose(law.smooth(0.3).cov, COV + 0.3 * np.eye(2))
    np.testing.assert_allclose(
        law.backward_heat(0.2).eigvals, np.linalg.eigvalsh(COV) - 0.4, rtol=1e-12
    )


def test_fit_mixture_recovers_parameters(getkey):
    mix = _mixture()
    x = mix.sample(8000, key=getkey())
    fit = fit_mixture(x, 2, key=getkey(), num_iters=200)
    order = jnp.argsort(fit.means[:, 0])
    np.testing.assert_allclose(fit.weights[order], mix.weights, atol=0.03)
    np.testing.assert_allclose(fit.means[order], mix.means, atol=0.06)
    np.testing.assert_allclose(fit.covs[order], mix.covs, atol=0.08)


def test_collapse_time():
    law = GaussianLaw(MEAN, COV)
    np.testing.assert_allclose(float(law.collapse_time), np.linalg.eigvalsh(COV)[0] / 2)
    mix = _mixture()
    expected = min(np.linalg.eigvalsh(np.asarray(c))[0] for c in mix.covs) / 2
    np.testing.assert_allclose(float(mix.collapse_time), expected)
    with pytest.raises(CollapseError, match="collapses"):
        law.backward_heat(float(law.collapse_time))
    with pytest.raises(CollapseError, match="lambda_min/2"):
        mix.backward_heat(1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="positive definite"):
        GaussianLaw(MEAN, np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        GaussianLaw(MEAN, np.array([[1.0, 0.2], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        GaussianLaw(MEAN, np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        GaussianLaw(np.array([np.nan, 0.0]), np.eye(2))
    with pytest.raises(ValueError, match=r"covs\[1\]"):
        GaussianMixture(
            jnp.ones(2), jnp.zeros((2, 2)), jnp.stack([jnp.eye(2), -jnp.eye(2)])
        )
    with pytest.raises(ValueError, match="positive"):
        GaussianMixture(
            jnp.array([1.0, -1.0]), jnp.zeros((2, 2)), jnp.stack([jnp.eye(2)] * 2)
        )
    with pytest.raises(ValueError, match=r"\[K\]"):
        GaussianMixture(jnp.ones(3), jnp.zeros((2, 2)), jnp.stack([jnp.eye(2)] * 2))
    law = GaussianLaw(MEAN, COV)
    with pytest.raises(ValueError, match=">= 0"):
        law.smooth(-0.1)
    with pytest.raises(ValueError, match=">= 0"):
        law.backward_heat(-0.1)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        law.log_prob(jnp.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        _mixture().score(jnp.zeros(3))
    with pytest.raises(ValueError, match="key"):
        _mixture().entropy(method="monte_carlo")
    with pytest.raises(ValueError, match="unknown entropy method"):
        _mixture().entropy(method="nope")
    with pytest.raises(ValueError, match="num_components"):
        fit_mixture(jnp.zeros((2, 2)), 3, key=jr.PRNGKey(0))
