"""DAE transport: closed forms, flows, stacked and learned DAEs (THEORY.md section 3)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from flowrep._dae import (
    blurring_mean_shift_flow,
    deep_dae_flow,
    deep_dae_map,
    DeepDAEField,
    depth_table,
    displacement_network,
    entropy_curves,
    mean_shift,
    relative_map_error,
    shallow_dae,
    shallow_dae_pushforward,
    stacked_dae,
    stacked_dae_laws,
    train_denoiser,
    train_stacked_denoisers,
)
from flowrep._laws import CollapseError, GaussianLaw, GaussianMixture

from .helpers import loglog_slope, tree_allclose


MEAN = np.array([1.0, -1.0])
COV = np.array([[2.0, 0.5], [0.5, 1.0]])
LAM = np.linalg.eigvalsh(COV)


def _law():
    return GaussianLaw(MEAN, COV)


def _mixture():
    return GaussianMixture(
        jnp.array([0.3, 0.7]),
        jnp.array([[-2.0, 0.0], [2.0, 0.5]]),
        jnp.stack([0.5 * jnp.eye(2), jnp.array([[1.0, 0.3], [0.3, 0.6]])]),
    )


# ------------------------------------------------------------------ shallow


def test_gaussian_shallow_map_and_covariance(getkey):
    t = 0.4
    law = _law()
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
    mix = _mixture()
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


# ------------------------------------------------------------------ deep


def test_gaussian_deep_flow_against_closed_form(getkey):
    law = _law()
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
    field = DeepDAEField(_mixture())
    xs = jr.normal(getkey(), (20, 2)) * 2
    v, div = field.batch_divergence(0.1, xs)
    ref = jax.vmap(lambda x: jnp.trace(jax.jacfwd(lambda y: field(0.1, y))(x)))(xs)
    np.testing.assert_allclose(div, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(v, field(0.1, xs), rtol=1e-12)
    mu_t = _mixture().backward_heat(0.1)
    np.testing.assert_allclose(v, jax.vmap(mu_t.score)(xs), rtol=1e-10, atol=1e-12)


def test_mixture_deep_flow_transports_to_mu_t(getkey):
    """THEORY section 3 [derived]: x' = grad log mu_t carries mu_0 to sum_k pi_k N(m_k, Sigma_k - 2tI).

    Pointwise: log mu_0(x_0) - int div v = log mu_t(x_t) along every path
    (the continuity equation). In law: Sinkhorn divergence to a fresh sample
    of mu_t is as small as between two fresh samples.
    """
    mix = _mixture()
    t = 0.2
    ts = jnp.linspace(0.0, t, 3)
    x0 = mix.sample(400, key=getkey())
    res = deep_dae_flow(mix, x0, t, ts=ts, log_density="exact", rtol=1e-8, atol=1e-9)
    assert res.log_density_tracks is not None
    lp0 = jax.vmap(mix.log_prob)(x0)
    for i, ti in enumerate(np.asarray(ts)):
        lpt = jax.vmap(mix.backward_heat(float(ti)).log_prob)(res.tracks[i])
        np.testing.assert_allclose(lp0 + res.log_density_tracks[i], lpt, atol=1e-5)
    from flowrep._transport import sinkhorn_divergence

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
    law = _law()
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
    """THEORY section 3: dH[mu_t]/dt = -int |grad log mu_t|^2 dmu_t (checked by quadrature)."""
    mix = _mixture()
    t, h = 0.1, 1e-4
    dh = (
        float(mix.backward_heat(t + h).entropy())
        - float(mix.backward_heat(t - h).entropy())
    ) / (2 * h)
    lt = mix.backward_heat(t)
    fisher = float(lt.expect(lambda z: jnp.sum(lt.score(z) ** 2)))
    np.testing.assert_allclose(dh, -fisher, rtol=1e-5)


def test_flow_stops_before_collapse(getkey):
    law = _law()
    tstar = LAM[0] / 2
    x0 = law.sample(10, key=getkey())
    with pytest.raises(CollapseError, match="collapses"):
        deep_dae_flow(law, x0, tstar)
    with pytest.raises(CollapseError, match="collapses"):
        deep_dae_flow(_mixture(), x0, 1.0)
    res = deep_dae_flow(law, x0, 0.999 * tstar)
    assert bool(jnp.all(jnp.isfinite(res.xs)))


# ------------------------------------------------------------------ stacked


def test_stacked_gaussian_recursion_and_depth_table():
    law = _law()
    t = 0.2
    laws = stacked_dae_laws(law, t, 3)
    lam = LAM.copy()
    for _ in range(3):
        lam = lam**3 / (lam + t / 3) ** 2
    np.testing.assert_allclose(laws[-1].eigvals, lam, rtol=1e-12)
    ls = [1, 2, 4, 8, 16, 32, 64]
    table = depth_table(law, t, ls)
    w2 = np.array([row["w2_to_deep"] for row in table])
    ent = np.array([row["entropy"] for row in table])
    assert np.all(np.diff(w2) < 0)  # deeper is closer to the deep limit
    assert np.all(np.diff(ent) < 0)  # and removes more entropy
    assert np.all(ent > table[0]["entropy_deep"])
    np.testing.assert_allclose(table[0]["eigvals"], LAM**3 / (LAM + t) ** 2, rtol=1e-12)
    # W2 to the limit falls like 1/L (asymptotically: regress on L >= 8)
    assert abs(loglog_slope(ls[3:], w2[3:]) + 1) < 0.08


def test_stacked_mixture_dae_two_depths(getkey):
    table = depth_table(
        _mixture(), 0.2, (1, 4), key=getkey(), num_samples=400, em_iters=20
    )
    assert table[1]["map_rms"] < 0.8 * table[0]["map_rms"]
    assert table[1]["entropy"] < table[0]["entropy"]


@pytest.mark.slow
def test_stacked_mixture_dae_approaches_deep_flow(getkey):
    mix = _mixture()
    table = depth_table(mix, 0.2, (1, 3, 9), key=getkey(), num_samples=600, em_iters=20)
    rms = [row["map_rms"] for row in table]
    ent = [row["entropy"] for row in table]
    print(
        "mixture depth table: map_rms",
        rms,
        "entropy",
        ent,
        "deep",
        table[0]["entropy_deep"],
    )
    assert rms[0] > rms[1] > rms[2]
    assert rms[2] < 0.5 * rms[0]
    assert ent[0] > ent[1] > ent[2]


def test_stacked_dae_empirical_and_blurring_flow(getkey):
    """Stacked empirical DAEs with a bandwidth approach the blurring mean-shift flow as L grows."""
    x0 = _law().sample(150, key=getkey())
    t, h = 0.2, 0.3
    _, tracks = blurring_mean_shift_flow(x0, t, h, rtol=1e-7, atol=1e-8)
    errs = []
    for n in (2, 8, 32):
        out = stacked_dae(x0, t, n, fit="empirical", bandwidth=h)[-1]
        errs.append(float(jnp.sqrt(jnp.mean(jnp.sum((out - tracks[-1]) ** 2, axis=1)))))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.01
    # a Gaussian cloud under the KDE score: each eigenvalue obeys lam' = -2 lam / (lam + h)
    xs = _law().sample(1500, key=getkey())
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


def test_stacked_mixture_with_exact_gaussian_layers(getkey):
    """fit='mixture' with one component on Gaussian data reproduces the exact stacked law."""
    law = _law()
    x0 = law.sample(20_000, key=getkey())
    tracks = stacked_dae(x0, 0.2, 4, law=law, em_iters=30)
    exact = stacked_dae_laws(law, 0.2, 4)[-1]
    np.testing.assert_allclose(np.cov(np.asarray(tracks[-1]).T), exact.cov, atol=0.03)


# ------------------------------------------------------------------ learned


def test_trained_denoiser_matches_analytic_map(getkey):
    mix = _mixture()
    t = 0.3
    x = mix.sample(4000, key=getkey())
    key = getkey()
    model = train_denoiser(x, t, key=key, num_steps=250, progress=False)
    xt = mix.sample(1000, key=getkey())
    err = float(
        relative_map_error(jax.vmap(model), lambda z: shallow_dae(mix, t, z), xt)
    )
    assert err < 0.15
    # key-deterministic
    short = train_denoiser(
        x, t, key=key, num_steps=20, steps_per_call=20, progress=False
    )
    again = train_denoiser(
        x, t, key=key, num_steps=20, steps_per_call=7, progress=False
    )
    assert tree_allclose(short, again, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        jax.vmap(model.displacement)(xt),
        jax.vmap(model)(xt) - xt,
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.slow
def test_stacked_learned_denoisers_track_analytic_stack(getkey):
    law = _law()
    x = law.sample(4000, key=getkey())
    models, tracks = train_stacked_denoisers(
        x, 0.2, 2, key=getkey(), num_steps=400, progress=False
    )
    exact = stacked_dae_laws(law, 0.2, 2)[-1]
    np.testing.assert_allclose(np.cov(np.asarray(tracks[-1]).T), exact.cov, atol=0.08)
    assert len(models) == 2


@pytest.mark.slow
def test_displacement_as_integral_network(getkey):
    mix = _mixture()
    t = 0.3

    def disp(x):
        return shallow_dae(mix, t, x[None])[0] - x

    net, target = displacement_network(
        disp,
        jnp.zeros(2),
        2.5,
        key=getkey(),
        num_units=8000,
        num_nodes=32,
        compress_to=300,
    )
    xe = mix.sample(800, key=getkey())
    xe = xe[jnp.linalg.norm(xe, axis=1) < 2.5]
    true = jax.vmap(target)(xe)
    err = float(jnp.linalg.norm(net.evaluate(xe) - true) / jnp.linalg.norm(true))
    assert err < 0.1
    # inside the window the network is the displacement itself, up to the window's 1 - chi
    inner = xe[jnp.linalg.norm(xe, axis=1) < 1.0]
    np.testing.assert_allclose(
        jax.vmap(target)(inner), jax.vmap(disp)(inner), rtol=0.02, atol=1e-3
    )


@pytest.mark.slow
def test_raw_ridgelet_reconstruction_is_not_a_ghost(getkey):
    """Without the refit, S[R[d chi]] / <<G, G''>> already reproduces d chi (Monte Carlo error)."""
    mix = _mixture()

    def disp(x):
        return shallow_dae(mix, 0.3, x[None])[0] - x

    net, target = displacement_network(
        disp,
        jnp.zeros(2),
        2.5,
        key=getkey(),
        num_units=8000,
        num_nodes=32,
        compress_to=None,
    )
    xe = jr.uniform(getkey(), (300, 2), minval=-1.5, maxval=1.5)
    true = jax.vmap(target)(xe)
    err = float(jnp.linalg.norm(net.evaluate(xe) - true) / jnp.linalg.norm(true))
    assert err < 0.6  # a wrong sign or missing pairing gives >= 1


# ------------------------------------------------------------------ bad input


def test_bad_input(getkey):
    law = _law()
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
    with pytest.raises(CollapseError):
        depth_table(law, 10.0)
    with pytest.raises(TypeError, match="GaussianLaw"):
        shallow_dae_pushforward(_mixture(), 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive noise"):
        mean_shift(jnp.zeros((4, 2)), 0.0)
    with pytest.raises(ValueError, match="queries"):
        mean_shift(jnp.zeros((4, 2)), 0.1, jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        mean_shift(jnp.array([[jnp.nan, 0.0]]), 0.1)
    with pytest.raises(ValueError, match="unknown fit"):
        stacked_dae(jnp.zeros((4, 2)), 0.1, 2, fit="nope")
    with pytest.raises(ValueError, match="num_layers"):
        stacked_dae_laws(law, 0.1, 0)
    with pytest.raises(ValueError, match="bandwidth"):
        blurring_mean_shift_flow(jnp.zeros((4, 2)), 0.1, -1.0)
    with pytest.raises(ValueError, match="positive noise"):
        train_denoiser(jnp.zeros((4, 2)), 0.0, key=getkey())
    with pytest.raises(ValueError, match="even k"):
        displacement_network(lambda x: x, jnp.zeros(2), 1.0, key=getkey(), order=1)
