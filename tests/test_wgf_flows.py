"""gradient_flow and jko against the closed-form Gaussian flows.

With the `"gaussian"` entropy estimator the particle velocities are linear
in x with the cloud's own mean and covariance, so the cloud's empirical
moments follow the closed-form moment ODEs exactly (no sampling error):
Ornstein-Uhlenbeck $\\Sigma_t=e^{-2t}\\Sigma_0+(1-e^{-2t})I$, $m_t=e^{-t}m_0$;
heat $\\Sigma_t=\\Sigma_0+2\\kappa tI$; quadratic interaction
$W=\\|z\\|^2/2$: $\\Sigma_t=e^{-2t}\\Sigma_0$, $m_t=m_0$.
"""

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
)
from flowrep._wgf._flows import gradient_flow, jko


T1 = 0.4


def _cloud(key, n=200):
    return jr.normal(key, (n, 2)) @ jnp.array([[1.5, 0.0], [0.4, 0.6]]).T + jnp.array(
        [0.8, -1.0]
    )


def _moments(x):
    x = np.asarray(x)
    m = x.mean(0)
    return m, (x - m).T @ (x - m) / x.shape[0]


CASES = {
    "ou": (
        lambda: kl_energy(lambda y: 0.5 * y @ y, estimator="gaussian"),
        lambda m, S, t: (
            np.exp(-t) * m,
            np.exp(-2 * t) * S + (1 - np.exp(-2 * t)) * np.eye(2),
        ),
    ),
    "heat": (
        lambda: EntropyEnergy(0.5, "gaussian"),
        lambda m, S, t: (m, S + 2 * 0.5 * t * np.eye(2)),
    ),
    "interaction": (
        lambda: InteractionEnergy(lambda z: 0.5 * z @ z),
        lambda m, S, t: (m, np.exp(-2 * t) * S),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_flow_closed_form(getkey, case):
    make, exact = CASES[case]
    x0 = _cloud(getkey())
    res = gradient_flow(make(), x0, T1, rtol=1e-9, atol=1e-9)
    assert isinstance(res, fr.FlowResult)
    m, S = _moments(res.xs)
    me, Se = exact(*_moments(x0), T1)
    np.testing.assert_allclose(m, me, atol=1e-6)
    np.testing.assert_allclose(S, Se, atol=1e-6)


def _implicit_euler_eigs(case, lam, tau):
    """One backward-Euler (JKO) step of the covariance eigenvalues, solved in closed form.

    y - m' = A (x - m) with A commuting with Sigma; per eigenvalue
    ou: lam_x = lam_y (1 + tau - tau / lam_y)^2; heat (kappa 1/2):
    lam_x = lam_y (1 - tau kappa / lam_y)^2; interaction: lam_y = lam_x / (1 + tau)^2.
    """
    if case == "interaction":
        return lam / (1 + tau) ** 2
    # sqrt(lam_y) * c - tau k / sqrt(lam_y) = sqrt(lam_x): a quadratic in r = sqrt(lam_y)
    c, k = (1 + tau, 1.0) if case == "ou" else (1.0, 0.5)
    r = (np.sqrt(lam) + np.sqrt(lam + 4 * c * tau * k)) / (2 * c)
    return r**2


@pytest.mark.parametrize("case", list(CASES))
def test_jko_step_is_the_implicit_euler_step(getkey, case):
    """Two JKO steps of tau = 0.2 against the closed-form backward-Euler moments."""
    make, _ = CASES[case]
    x0 = _cloud(getkey(), n=100)
    _, S = _moments(x0)
    w, V = np.linalg.eigh(S)
    tau = 0.2
    for _ in range(2):
        w = _implicit_euler_eigs(case, w, tau)
    res = jko(make(), x0, tau, 2, inner_steps=25)
    np.testing.assert_allclose(_moments(res.xs)[1], (V * w) @ V.T, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_jko_first_order_in_tau(getkey, case):
    make, exact = CASES[case]
    x0 = _cloud(getkey(), n=100)
    _, Se = exact(*_moments(x0), T1)
    taus = np.array([0.1, 0.05, 0.025])
    errs = []
    for tau in taus:
        res = jko(make(), x0, float(tau), int(round(T1 / tau)), inner_steps=25)
        assert isinstance(res.tracks, fr.Tracks)
        np.testing.assert_allclose(res.tracks.times[-1], T1, rtol=1e-12)
        assert float(jnp.max(res.grad_norms)) < 1e-8  # each step is a minimiser
        errs.append(np.max(np.abs(_moments(res.xs)[1] - Se)))
    order = np.polyfit(np.log(taus), np.log(errs), 1)[0]
    assert 0.85 < order < 1.15, (order, errs)
    assert errs[-1] < 0.05


@pytest.mark.slow
def test_energy_decreases_at_the_kinetic_rate(getkey):
    """dF/dt = -(1/n) sum |v_i|^2 along the particle flow (blob entropy, potential)."""
    e = kl_energy(lambda y: 0.5 * y @ y, 1.0, bandwidth=0.4)
    x0 = _cloud(getkey(), n=150)
    ts = jnp.linspace(0.0, 0.2, 5)
    res = gradient_flow(e, x0, 0.2, ts=ts, rtol=1e-9, atol=1e-9)
    F = np.array([float(e(x)) for x in res.tracks])
    rate = np.array(
        [-float(jnp.mean(jnp.sum(e.velocity(x) ** 2, -1))) for x in res.tracks]
    )
    # Simpson over [0, 0.2]: F(T) - F(0) = int dF/dt
    h = 0.05
    integral = h / 3 * (rate[0] + 4 * rate[1] + 2 * rate[2] + 4 * rate[3] + rate[4])
    np.testing.assert_allclose(F[-1] - F[0], integral, rtol=2e-3)
    assert np.all(np.diff(F) < 0)


def test_gradient_flow_log_density(getkey):
    """Heat flow of the Gaussian fit: log mu_t(x_t) from the continuity equation
    matches the Gaussian density N(m, S_0 + 2t I) at the moved points."""
    x0 = _cloud(getkey(), n=100)
    m0, S0 = _moments(x0)
    res = gradient_flow(
        EntropyEnergy(1.0, "gaussian"),
        x0,
        0.3,
        log_density="exact",
        rtol=1e-9,
        atol=1e-9,
    )

    def logpdf(x, m, S):
        r = np.asarray(x) - m
        return -0.5 * np.sum(r @ np.linalg.inv(S) * r, -1) - 0.5 * np.log(
            np.linalg.det(2 * np.pi * S)
        )

    got = logpdf(x0, m0, S0) + np.asarray(res.log_density_change)
    np.testing.assert_allclose(got, logpdf(res.xs, m0, S0 + 0.6 * np.eye(2)), atol=1e-6)


def test_bad_input(getkey):
    x0 = _cloud(getkey(), n=20)
    e = PotentialEnergy(lambda y: 0.5 * y @ y)
    for tau in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="tau"):
            jko(e, x0, tau, 3)
    with pytest.raises(ValueError, match="steps"):
        jko(e, x0, 0.1, 0)
    with pytest.raises(ValueError, match="t1"):
        gradient_flow(e, x0, 0.0)
    with pytest.raises(TypeError, match="AbstractEnergy"):
        gradient_flow(lambda x: x, x0, 1.0)  # pyright: ignore[reportArgumentType]
    nan = PotentialEnergy(lambda y: jnp.sqrt(y[0]))
    with pytest.raises(ValueError, match="velocity is NaN"):
        gradient_flow(nan, x0, 1.0)
    with pytest.raises(ValueError, match="velocity is NaN"):
        jko(nan, x0, 0.1, 2)
    with pytest.raises(ValueError, match="x0"):
        gradient_flow(e, jnp.ones((5,)), 1.0)
    with pytest.raises(Exception, match="one particle has no velocity"):
        fr.ParticleField(e, dim=2)(0.0, jnp.ones(2))


@pytest.mark.slow
def test_jko_sinkhorn_agrees_with_pairing(getkey):
    """OU from N(m, diag(2.25, 0.49)): the Sinkhorn JKO's covariance is within 1e-4
    of the pairing JKO's (measured 7e-5 at epsilon 1e-2, 1.5e-6 at 1e-3 with n = 128),
    and both are within the JKO's O(tau) error (0.03 at tau = 0.1) of the closed form."""
    x0 = jr.normal(getkey(), (64, 2)) * jnp.array([1.5, 0.7]) + 1.0
    ou = kl_energy(lambda y: 0.5 * y @ y, estimator="gaussian")
    T, tau = 0.2, 0.1
    S0 = np.cov(np.asarray(x0).T, bias=True)
    exact = np.exp(-2 * T) * S0 + (1 - np.exp(-2 * T)) * np.eye(2)
    pair = jko(ou, x0, tau, 2, inner_steps=15)
    sink = jko(ou, x0, tau, 2, inner_steps=15, transport="sinkhorn", epsilon=1e-3)
    cs, cp = (np.cov(np.asarray(r.xs).T, bias=True) for r in (sink, pair))
    np.testing.assert_allclose(cs, cp, atol=1e-4)
    np.testing.assert_allclose(
        np.asarray(sink.xs).mean(0), np.asarray(pair.xs).mean(0), atol=1e-4
    )
    assert np.max(np.abs(cs - exact)) < 0.04


def test_jko_transport_bad_input(getkey):
    x0 = jr.normal(getkey(), (8, 2))
    e = kl_energy(lambda y: 0.5 * y @ y, estimator="gaussian")
    with pytest.raises(ValueError, match="transport"):
        jko(e, x0, 0.1, 1, transport="ott")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="epsilon"):
        jko(e, x0, 0.1, 1, transport="sinkhorn", epsilon=0.0)


def test_jko_blob_bandwidth_frozen_within_a_step():
    """With Scott's bandwidth recomputed from each candidate cloud (gradient
    stopped) the JKO objective's value and gradient disagreed and L-BFGS
    stalled; held at mu_k, every step is stationary."""
    # the mixture of the gradient-flow job's JKO order check, where it stalled
    law = fr.GaussianMixture(
        jnp.array([0.4, 0.6]),
        jnp.array([[-1.5, 0.0], [1.5, 0.5]]),
        jnp.array([[[0.8, 0.2], [0.2, 0.6]], [[0.7, -0.1], [-0.1, 1.0]]]),
    )
    x0 = law.sample(150, key=jr.PRNGKey(29))
    energy = fr.EntropyEnergy(1.0)
    frozen = energy.frozen_at(x0)
    assert frozen.frozen_bandwidth is not None
    assert float(frozen.frozen_bandwidth) == float(energy.scott_bandwidth(x0))
    # the frozen energy's value and autodiff gradient agree (central differences)
    y = x0 + 0.1
    v = jr.normal(jr.PRNGKey(4), y.shape)
    g = jax.grad(frozen)(y)
    s = 1e-5
    fd = (frozen(y + s * v) - frozen(y - s * v)) / (2 * s)
    assert abs(float(fd - jnp.sum(g * v))) < 1e-6 * abs(float(fd))
    res = fr.jko(energy, x0, 0.1, 1, inner_steps=100)
    assert float(jnp.max(res.grad_norms)) < 1e-6
    # a SumEnergy freezes its entropy term too; a fixed bandwidth is left as is
    kl = fr.kl_energy(lambda x: 0.5 * jnp.sum(x**2))
    entropy_term = kl.frozen_at(x0).terms[-1]
    assert isinstance(entropy_term, fr.EntropyEnergy)
    assert entropy_term.frozen_bandwidth is not None
    assert fr.EntropyEnergy(1.0, bandwidth=0.3).frozen_at(x0).frozen_bandwidth is None
