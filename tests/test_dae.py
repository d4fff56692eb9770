"""DAEs of a law: the shallow closed form, the deep flow and entropy along it (docs/theory/dae.md#deep-dae)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from flowrep._dae._closed_form import (
    deep_dae_flow,
    deep_dae_map,
    DeepDAEField,
    entropy_curves,
    shallow_dae,
    shallow_dae_pushforward,
)
from flowrep._dae._empirical import mean_shift
from flowrep._dae._laws import CollapseError

from ._dae_laws import COV, gaussian, LAM, MEAN, mixture


# ------------------------------------------------------------------ shallow


def test_gaussian_shallow_map_and_covariance(getkey):
    t = 0.4
    law = gaussian()
    x = law.sample(40_000, key=getkey())
    y = shallow_dae(law, t, x)
    # the map's formula, with numpy
    gain = COV @ np.linalg.inv(COV + t * np.eye(2))
    np.testing.assert_allclose(
        y, MEAN + (np.asarray(x) - MEAN) @ gain.T, rtol=1e-10, atol=1e-12
    )
    push = shallow_dae_pushforward(law, t)
    np.testing.assert_allclose(push.eigvals, LAM**3 / (LAM + t) ** 2, rtol=1e-12)
    np.testing.assert_allclose(np.cov(np.asarray(y).T), push.cov, atol=0.03)


def test_mixture_shallow_map_is_tweedie(getkey):
    """Closed-form mixture map = x + t grad log(W_t * mu) = E[x | x + sqrt(t) eps] (brute force)."""
    mix = mixture()
    t = 0.3
    q = mix.sample(40, key=getkey())
    g = shallow_dae(mix, t, q)
    smooth = mix.smooth(t)
    tweedie = q + t * jax.vmap(jax.grad(smooth.log_prob))(q)
    np.testing.assert_allclose(g, tweedie, rtol=1e-10, atol=1e-10)
    # posterior mean from a large sample of mu: a mean-shift step on the cloud
    cloud = mix.sample(50_000, key=getkey())
    post = mean_shift(cloud, t, q)
    assert float(jnp.max(jnp.abs(post - g))) < 0.05


# ------------------------------------------------------------------ deep


def test_gaussian_deep_flow_against_closed_form(getkey):
    law = gaussian()
    t = 0.2
    x0 = law.sample(300, key=getkey())
    res = deep_dae_flow(law, x0, t, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.xs, deep_dae_map(law, t, x0), rtol=1e-6, atol=1e-7)
    # the map's covariance, exactly: G Sigma G^T = Sigma - 2tI
    eye = np.eye(2)
    gx = deep_dae_map(law, t, jnp.asarray(eye) + law.mean) - law.mean
    g = np.asarray(gx).T
    np.testing.assert_allclose(g @ COV @ g.T, COV - 2 * t * eye, atol=1e-12)
    x = law.sample(40_000, key=getkey())
    np.testing.assert_allclose(
        np.cov(np.asarray(deep_dae_map(law, t, x)).T), COV - 2 * t * eye, atol=0.03
    )


def test_deep_field_divergence_closed_form(getkey):
    field = DeepDAEField(mixture())
    xs = jr.normal(getkey(), (20, 2)) * 2
    v, div = field.batch_divergence(0.1, xs)
    ref = jax.vmap(lambda x: jnp.trace(jax.jacfwd(lambda y: field(0.1, y))(x)))(xs)
    np.testing.assert_allclose(div, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(v, field(0.1, xs), rtol=1e-12)
    mu_t = mixture().backward_heat(0.1)
    np.testing.assert_allclose(v, jax.vmap(mu_t.score)(xs), rtol=1e-10, atol=1e-12)


def test_mixture_deep_flow_transports_to_mu_t(getkey):
    """docs/theory/dae.md#gaussian-mixtures [derived]: x' = grad log mu_t carries mu_0 to sum_k pi_k N(m_k, Sigma_k - 2tI).

    Pointwise: log mu_0(x_0) - int div v = log mu_t(x_t) along every path
    (the continuity equation). In law: Sinkhorn divergence to a fresh sample
    of mu_t is as small as between two fresh samples.
    """
    mix = mixture()
    t = 0.2
    ts = jnp.linspace(0.0, t, 3)
    x0 = mix.sample(400, key=getkey())
    res = deep_dae_flow(mix, x0, t, ts=ts, log_density="exact", rtol=1e-8, atol=1e-9)
    assert res.log_density_tracks is not None
    lp0 = jax.vmap(mix.log_prob)(x0)
    for i, ti in enumerate(np.asarray(ts)):
        lpt = jax.vmap(mix.backward_heat(float(ti)).log_prob)(res.tracks[i])
        np.testing.assert_allclose(lp0 + res.log_density_tracks[i], lpt, atol=1e-5)
    from flowrep._transport._divergence import sinkhorn_divergence

    mu_t = mix.backward_heat(t)
    ref = mu_t.sample(400, key=getkey())
    d_flow = float(sinkhorn_divergence(res.xs, ref).divergence)
    # baseline: fresh same-size samples of the exact mu_t (finite-sample bias)
    d_base = np.mean(
        [
            float(sinkhorn_divergence(mu_t.sample(400, key=getkey()), ref).divergence)
            for _ in range(3)
        ]
    )
    d_stale = float(sinkhorn_divergence(mix.sample(400, key=getkey()), ref).divergence)
    print(
        f"sinkhorn: flow {d_flow:.4f}, fresh baseline {d_base:.4f}, mu_0 {d_stale:.4f}"
    )
    assert d_flow < 2 * d_base
    assert d_stale > 2 * d_flow


def test_entropy_decreases_and_matches_closed_form(getkey):
    law = gaussian()
    ts = np.linspace(0.0, 0.9 * LAM[0] / 2, 4)
    out = entropy_curves(law, ts, key=getkey(), num_samples=1000)
    exact = 0.5 * np.sum(
        np.log(2 * np.pi * np.e * (LAM[None] - 2 * ts[:, None])), axis=1
    )
    np.testing.assert_allclose(out["closed_form"], exact, rtol=1e-12)
    assert np.all(np.diff(out["closed_form"]) < 0)
    assert np.all(np.diff(out["continuity"]) < 0)
    # the continuity estimate is a Monte Carlo mean: within 4 standard errors
    assert np.all(
        np.abs(out["continuity"] - exact) < 4 * out["continuity_stderr"] + 1e-6
    )
    # and its *change* is exact for a Gaussian up to the solver (the same samples all along)
    assert np.all(np.abs(np.diff(out["continuity"]) - np.diff(exact)) < 0.02)
    assert np.all(np.abs(out["knn"] - exact) < 0.2)
    # dH/dt = -Fisher information = -tr Sigma_t^{-1}
    np.testing.assert_allclose(
        out["fisher"], np.sum(1 / (LAM[None] - 2 * ts[:, None]), axis=1), rtol=1e-10
    )


def test_mixture_entropy_rate_is_minus_fisher():
    """docs/theory/dae.md#deep-dae: dH[mu_t]/dt = -int |grad log mu_t|^2 dmu_t (checked by quadrature)."""
    mix = mixture()
    t, h = 0.1, 1e-4
    dh = (
        float(mix.backward_heat(t + h).entropy())
        - float(mix.backward_heat(t - h).entropy())
    ) / (2 * h)
    lt = mix.backward_heat(t)
    fisher = float(lt.expect(lambda z: jnp.sum(lt.score(z) ** 2)))
    np.testing.assert_allclose(dh, -fisher, rtol=1e-5)


def test_flow_stops_before_collapse(getkey):
    law = gaussian()
    tstar = LAM[0] / 2
    x0 = law.sample(10, key=getkey())
    with pytest.raises(CollapseError, match="collapses"):
        deep_dae_flow(law, x0, tstar)
    with pytest.raises(CollapseError, match="collapses"):
        deep_dae_flow(mixture(), x0, 1.0)
    res = deep_dae_flow(law, x0, 0.999 * tstar)
    assert bool(jnp.all(jnp.isfinite(res.xs)))


def test_entropy_curves_return_tracks(getkey):
    """`return_tracks=True` gives the flowed samples the curves were computed on.

    For a Gaussian the deep DAE flow is affine, $\\phi_t(x)=m+G_t(x-m)$ with
    $G_t=((\\Sigma-2tI)\\Sigma^{-1})^{1/2}$ (computed here with numpy): the
    tracks must match it, and their covariance must be $\\Sigma-2tI$ within
    sampling error. $G_t$ is symmetric positive definite, the gradient of a
    convex function, so by Brenier every layer-to-layer map is the optimal
    transport map: `score_tracks` must find the tracks matched and cost-optimal.
    """
    from flowrep import score_tracks, Tracks
    from flowrep._transport._entropy import knn_entropy

    # same sizes and tolerances as test_entropy_decreases_and_matches_closed_form:
    # the compiled flow is shared
    ts = np.linspace(0.0, 0.8 * LAM[0] / 2, 4)
    n = 1000
    curves, tracks = entropy_curves(
        gaussian(), ts, key=getkey(), num_samples=n, return_tracks=True
    )
    assert isinstance(tracks, Tracks)
    assert tracks.points.shape == (4, n, 2)
    np.testing.assert_allclose(tracks.times, ts, rtol=0, atol=1e-15)
    # the very samples the k-NN curve was computed on
    np.testing.assert_allclose(
        curves["knn"], [float(knn_entropy(p, k=5)) for p in tracks.points], rtol=1e-12
    )
    lam, vec = np.linalg.eigh(COV)
    x0 = np.asarray(tracks.source)
    for i, t in enumerate(ts):
        gain = (vec * np.sqrt((lam - 2 * t) / lam)) @ vec.T
        np.testing.assert_allclose(
            tracks.points[i], MEAN + (x0 - MEAN) @ gain.T, rtol=1e-5, atol=1e-6
        )
        # sample covariance vs Sigma - 2tI: Var(S_ij) ~ (S_ij^2 + S_ii S_jj) / n
        sigma_t = COV - 2 * t * np.eye(2)
        se = np.sqrt((sigma_t**2 + np.outer(np.diag(sigma_t), np.diag(sigma_t))) / n)
        err = np.cov(np.asarray(tracks.points[i]).T) - sigma_t
        assert np.all(np.abs(err) < 4 * se), (t, err, se)
    scores = score_tracks(Tracks(tracks.points[:, :200], ts), method="exact")
    assert float(scores.matched_fraction) == 1.0
    np.testing.assert_allclose(float(scores.cost_ratio), 1.0, rtol=1e-9)


# ------------------------------------------------------------------ bad input


def test_bad_input():
    law = gaussian()
    x3 = jnp.zeros((5, 3))
    with pytest.raises(ValueError, match="dimension"):
        shallow_dae(law, 0.1, x3)
    with pytest.raises(ValueError, match="dimension"):
        deep_dae_flow(law, x3, 0.1)
    with pytest.raises(ValueError, match=">= 0"):
        shallow_dae(law, -0.1, jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match=">= 0"):
        deep_dae_flow(law, jnp.zeros((5, 2)), -0.1)
    with pytest.raises(CollapseError):
        deep_dae_map(law, 10.0, jnp.zeros((5, 2)))
    with pytest.raises(TypeError, match="GaussianLaw"):
        shallow_dae_pushforward(mixture(), 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="GaussianLaw"):
        deep_dae_map(mixture(), 0.1, jnp.zeros((5, 2)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-decreasing"):
        deep_dae_flow(law, jnp.zeros((5, 2)), 0.1, ts=jnp.array([0.0, 0.2]))
    with pytest.raises(ValueError, match="start at 0"):
        entropy_curves(law, jnp.array([0.1, 0.2]), key=jr.PRNGKey(0))
    with pytest.raises(CollapseError):
        entropy_curves(law, jnp.array([0.0, 10.0]), key=jr.PRNGKey(0))
    # Tracks need two strictly increasing times: refused before integrating
    for bad in (jnp.array([0.0]), jnp.array([0.0, 0.1, 0.1])):
        with pytest.raises(ValueError, match="strictly increasing"):
            entropy_curves(law, bad, key=jr.PRNGKey(0), return_tracks=True)
