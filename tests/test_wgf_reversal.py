"""The deep DAE then the heat flow for the same time returns to mu_0."""

import jax
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


# --------------------------------------------------------------------------
# Gaussian mixtures: recovery by densities
# --------------------------------------------------------------------------

MIX = fr.GaussianMixture(
    jnp.array([0.4, 0.6]),
    jnp.array([[-1.5, 0.0], [1.5, 0.5]]),
    jnp.array([[[0.8, 0.2], [0.2, 0.6]], [[0.7, -0.1], [-0.1, 1.0]]]),
)
TM, NM = 0.2, 500  # t* = min_k lambda_min / 2 = 0.238


def test_mixture_entropy_rate_is_minus_fisher_by_quadrature():
    """de Bruijn along the deep DAE: H(mu_t) - H(mu_0) = -int_0^t I(mu_s) ds,
    with H and I computed independently by Gauss-Hermite quadrature (Simpson on
    17 times; observed agreement 1e-5 relative)."""
    ts = np.linspace(0.0, TM, 17)
    h, f = map(np.asarray, fr.law_entropy_fisher(MIX, jnp.asarray(ts)))
    np.testing.assert_allclose(h[-1] - h[0], -_simpson(f, ts), rtol=1e-3)
    assert np.all(np.diff(h) < 0) and np.all(np.diff(f) > 0)
    # the mixture's entropy at 0 is the law's own quadrature entropy
    np.testing.assert_allclose(h[0], MIX.entropy(), rtol=1e-12)


def test_law_entropy_fisher_closed_forms():
    ts = jnp.array([0.0, 0.1, 0.25])
    h, f = fr.law_entropy_fisher(LAW, ts)
    lam = np.linalg.eigvalsh(np.asarray(LAW.cov))
    for s, hs, fs in zip(np.asarray(ts), np.asarray(h), np.asarray(f)):
        np.testing.assert_allclose(
            hs, 0.5 * np.sum(np.log(2 * np.pi * np.e * (lam - 2 * s)))
        )
        np.testing.assert_allclose(fs, np.sum(1 / (lam - 2 * s)))
    # Monte Carlo past 4 dimensions: a one-component 5-D mixture has closed forms
    cov = np.diag([1.0, 1.5, 2.0, 0.8, 1.2])
    one = fr.GaussianMixture(jnp.ones(1), jnp.zeros((1, 5)), jnp.asarray(cov)[None])
    h5, f5 = fr.law_entropy_fisher(one, jnp.array([0.1]), key=jr.PRNGKey(0))
    lam5 = np.diag(cov) - 0.2
    # sd of log p is sqrt(d/2) = 1.6, of |score|^2 about 2.6: se 0.011, 0.018
    np.testing.assert_allclose(
        h5[0], 0.5 * np.sum(np.log(2 * np.pi * np.e * lam5)), atol=0.05
    )
    np.testing.assert_allclose(f5[0], np.sum(1 / lam5), atol=0.08)
    with pytest.raises(ValueError, match="needs `key`"):
        fr.law_entropy_fisher(one, jnp.array([0.1]))


def test_mixture_bad_input():
    # past the collapse of the narrowest component, t* = 0.238
    with pytest.raises(fr.CollapseError, match="collapses"):
        fr.dae_reversal(MIX, 0.25, key=jr.PRNGKey(0), num_samples=10)
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="`t`"):
            fr.dae_reversal(MIX, bad, key=jr.PRNGKey(0), num_samples=10)
    with pytest.raises(ValueError, match="`estimator`"):
        fr.dae_reversal(MIX, 0.1, key=jr.PRNGKey(0), estimator="kde")  # pyright: ignore


@pytest.fixture(scope="module")
def mix_revs():
    kw = dict(key=jr.PRNGKey(3), num_samples=NM, num_times=9, jko_steps=5)
    kw |= dict(rtol=1e-6, atol=1e-6)
    return {
        est: fr.dae_reversal(MIX, TM, estimator=est, **kw)  # pyright: ignore
        for est in ("exact", "blob")
    }


@pytest.mark.slow
def test_mixture_dae_entropy_follows_the_law(mix_revs):
    """The DAE particles are exact mu_s samples: their Monte Carlo entropy
    change follows the quadrature H(mu_s) - H(mu_0) within 4 standard errors
    of the per-particle change (observed -0.788 vs -0.813 at s = t, se 0.017),
    their Fisher information the quadrature I(mu_s) within 4 standard errors
    of |score|^2 (observed 2.12 vs 2.27 at s = 0, se 0.10; n = 500); that the quadrature H and I obey dH/dt = -I is
    the fast test above."""
    rev = mix_revs["exact"]
    ts = np.asarray(rev.ts)
    dh, lh = np.asarray(rev.dae_entropy), np.asarray(rev.law_entropy)
    field = fr.DeepDAEField(MIX)
    lp = lambda s, x: np.asarray(jax.vmap(lambda y: field.log_prob(s, y))(x))  # noqa: E731
    lp0 = lp(0.0, rev.dae_tracks[0])
    for s, x, h_mc, h_law in zip(ts, rev.dae_tracks, dh - dh[0], lh - lh[0]):
        se = np.std(lp(s, x) - lp0) / np.sqrt(NM)  # per-particle entropy change
        assert abs(h_mc - h_law) < 4 * se + 1e-9
    for s, x, f_mc, f_law in zip(ts, rev.dae_tracks, rev.dae_fisher, rev.law_fisher):
        sq = np.sum(np.asarray(field(s, x)) ** 2, axis=-1)
        se = sq.std() / np.sqrt(NM)
        assert abs(float(f_mc) - float(f_law)) < 4 * se


@pytest.mark.slow
def test_mixture_exact_heat_flow_reverses_each_particle(mix_revs):
    """With the exact score of mu_t's heat smoothing the heat flow is the DAE's
    field backwards: every particle returns (ODE tolerance 1e-6; observed 1.0e-5),
    and along it dH/ds = +I(mu_{t-s})."""
    rev = mix_revs["exact"]
    np.testing.assert_allclose(rev.x_heat, rev.x0, atol=1e-4)
    np.testing.assert_allclose(rev.heat_entropy, rev.dae_entropy[::-1], atol=1e-4)
    np.testing.assert_allclose(rev.heat_fisher, rev.dae_fisher[::-1], rtol=1e-4)


@pytest.mark.slow
def test_mixture_blob_heat_flow_recovers_mu0_in_law(mix_revs):
    """The particles-only heat flow (blob score, Scott bandwidth) returns to
    mu_0 in law within sampling error at n = 500: mean log mu_0 within 3
    standard errors of the original samples' (observed -3.025, JKO -3.013, vs
    -3.081, se 0.034: 1.6 and 2.0 se; the blob's smoothing leaves the cloud
    slightly too concentrated), W2 to fresh mu_0 samples below 1.2x the
    two-sample floor (observed 0.233, JKO 0.235, vs floor 0.260; the
    un-reversed mu_t cloud: 0.464)."""
    rev = mix_revs["blob"]
    sc = fr.reversal_scores(rev, MIX, key=jr.PRNGKey(7))
    for name in ("logp_heat", "logp_jko"):
        assert abs(sc[name] - sc["logp_x0"]) < 3 * sc["logp_se"], (name, sc)
    for name in ("w2_heat", "w2_jko"):
        assert sc[name] < 1.2 * sc["w2_floor"], (name, sc)
    assert sc["w2_xt"] > 1.5 * sc["w2_floor"]
    # the entropy comes back up, at a rate within 15% of +I(mu_{t-s})
    ts = np.asarray(rev.ts)
    hh = np.asarray(rev.heat_entropy)
    rise = -(np.asarray(rev.law_entropy)[-1] - np.asarray(rev.law_entropy)[0])
    assert np.all(np.diff(hh) > 0)
    np.testing.assert_allclose(hh[-1] - hh[0], rise, rtol=0.15)
    np.testing.assert_allclose(
        hh[-1] - hh[0], _simpson(np.asarray(rev.heat_fisher), ts), rtol=0.15
    )
