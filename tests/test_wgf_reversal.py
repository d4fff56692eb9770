"""The deep DAE then the heat flow for the same time returns to mu_0."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep as fr


LAW = fr.GaussianLaw(jnp.array([1.0, -1.0]), jnp.array([[2.0, 0.4], [0.4, 1.0]]))
T, N = 0.3, 1000


def _cov(x):
    x = np.asarray(x)
    m = x.mean(0)
    return (x - m).T @ (x - m) / x.shape[0]


@pytest.fixture(scope="module")
def rev():
    return fr.dae_reversal(
        LAW, T, key=jr.PRNGKey(3), num_samples=N, num_times=9, jko_steps=6
    )


def test_covariances_go_down_and_back(rev):
    S = np.asarray(LAW.cov)
    lam = np.linalg.eigvalsh(S)
    sampling = 4 * lam.max() * np.sqrt(2 / N)  # 4 standard errors of a covariance entry
    S0, St = _cov(rev.x0), _cov(rev.xt)
    np.testing.assert_allclose(St, S - 2 * T * np.eye(2), atol=sampling)
    # the particle heat flow (Gaussian estimator) adds exactly 2tI
    np.testing.assert_allclose(_cov(rev.x_heat), St + 2 * T * np.eye(2), atol=1e-6)
    # ... so it returns to the sample covariance up to (S0 - S) - G (S0 - S) G
    back_err = sampling * (2 * T / lam.min())
    np.testing.assert_allclose(_cov(rev.x_heat), S0, atol=back_err)
    # JKO: plus its O(tau) error, about t tau / lambda_min per eigenvalue
    tau = T / 6
    np.testing.assert_allclose(
        _cov(rev.x_jko), S0, atol=back_err + 2 * T * tau / lam.min()
    )
    # the heat flow keeps the cloud's mean; the DAE moved it by (I - G)(m0_hat - m)
    mean = lambda x: np.mean(np.asarray(x), 0)  # noqa: E731
    np.testing.assert_allclose(mean(rev.x_heat), mean(rev.xt), atol=1e-8)
    np.testing.assert_allclose(
        mean(rev.x_heat), mean(rev.x0), atol=4 * np.sqrt(lam.max() / N)
    )


def _simpson(y, x):
    h = x[1] - x[0]
    return h / 3 * (y[0] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum() + y[-1])


def test_entropy_rate_is_minus_fisher(rev):
    """Along the deep DAE dH/dt = -I(mu_t) = -tr (Sigma - 2tI)^-1, so
    H(t) - H(0) = (1/2) sum log((lam - 2t)/lam); the cloud's Gaussian-fit entropy
    follows it exactly (the DAE map is linear), and the fit's Fisher information
    is the law's within sampling. Along the particle heat flow dH/dt = +I of
    the fit (Simpson on 9 times)."""
    ts = np.asarray(rev.ts)
    lam = np.linalg.eigvalsh(np.asarray(LAW.cov))
    dae_h, heat_h = np.asarray(rev.dae_entropy), np.asarray(rev.heat_entropy)
    exact_drop = 0.5 * np.sum(np.log((lam[None] - 2 * ts[:, None]) / lam[None]), -1)
    np.testing.assert_allclose(dae_h - dae_h[0], exact_drop, atol=1e-6)
    fisher = np.sum(1 / (lam[None] - 2 * ts[:, None]), -1)
    np.testing.assert_allclose(-_simpson(fisher, ts), exact_drop[-1], rtol=2e-3)
    np.testing.assert_allclose(np.asarray(rev.dae_fisher), fisher, rtol=0.1)
    np.testing.assert_allclose(
        heat_h[-1] - heat_h[0], _simpson(np.asarray(rev.heat_fisher), ts), rtol=5e-3
    )
    assert np.all(np.diff(dae_h) < 0) and np.all(np.diff(heat_h) > 0)
    # the entropy comes back: H(heat at s) = H(DAE at t - s) up to sampling
    np.testing.assert_allclose(heat_h, dae_h[::-1], atol=0.02)


def test_past_collapse_and_bad_t():
    with pytest.raises(fr.CollapseError, match="collapses"):
        fr.dae_reversal(LAW, 0.6, key=jr.PRNGKey(0), num_samples=10)
    with pytest.raises(ValueError, match="`t`"):
        fr.dae_reversal(LAW, 0.0, key=jr.PRNGKey(0), num_samples=10)


def test_gaussian_entropy_fisher():
    x = LAW.sample(500, key=jr.PRNGKey(1))
    S = _cov(x)
    h, f = fr.gaussian_entropy_fisher(x)
    np.testing.assert_allclose(h, 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * S)))
    np.testing.assert_allclose(f, np.trace(np.linalg.inv(S)))
