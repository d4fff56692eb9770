"""Curl fractions, gradient ridgelet fields and the Helmholtz fit."""

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep as fr
from flowrep._wgf._curl import curl_fraction, non_gradient_fraction, ridgelet_potential


A = jnp.array([[0.0, 1.0, 2.0], [-1.0, 0.0, 0.5], [-2.0, -0.5, 0.0]])


def _phi(y):
    return jnp.sum(jnp.sin(y)) + y[0] * y[1] ** 2


def test_curl_fraction_closed_forms(getkey):
    x = jr.normal(getkey(), (200, 3))
    M = jr.normal(getkey(), (3, 3))
    assert float(curl_fraction(lambda t, y, a: jax.grad(_phi)(y), x)) < 1e-28
    np.testing.assert_allclose(curl_fraction(lambda t, y, a: A @ y, x), 1.0)
    want = np.sum((0.5 * (M - M.T)) ** 2) / np.sum(M**2)
    np.testing.assert_allclose(curl_fraction(lambda t, y, a: M @ y, x), want)


@pytest.mark.slow
def test_curl_fraction_hutchinson(getkey):
    """For v = Mx the Hutchinson ratio has a standard error ~ 1/sqrt(n p); n p = 2000 here."""
    x = jr.normal(getkey(), (250, 6))
    M = jr.normal(getkey(), (6, 6))
    want = np.sum((0.5 * (M - M.T)) ** 2) / np.sum(M**2)
    got = curl_fraction(
        lambda t, y, a: M @ y, x, method="hutchinson", num_probes=8, key=getkey()
    )
    np.testing.assert_allclose(got, want, atol=0.05)
    rot = curl_fraction(
        lambda t, y, a: A @ y[:3], x[:, :3], method="hutchinson", key=getkey()
    )
    np.testing.assert_allclose(rot, 1.0, atol=1e-12)  # skew: J eps = -J^T eps exactly


def test_curl_fraction_of_a_field_at_time(getkey):
    f = fr.RidgeletField.random(getkey(), 2, 8)
    x = jr.normal(getkey(), (50, 2))
    got = curl_fraction(f, x, t=0.4)
    J = jax.vmap(jax.jacfwd(lambda y: f(0.4, y)))(x)
    want = np.sum((0.5 * (J - J.transpose(0, 2, 1))) ** 2) / np.sum(J**2)
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize(
    "sigma",
    ["tanh", "identity"]
    + [
        pytest.param(s, marks=pytest.mark.slow)
        for s in ("sigmoid", "relu", "gaussian", "softplus")
    ],
)
def test_gradient_of_matches_grad_of_potential(getkey, sigma):
    a = jr.normal(getkey(), (5, 3))
    b = jr.normal(getkey(), (5,))
    s = jr.normal(getkey(), (3, 5))
    f = fr.RidgeletField.gradient_of(a, b, s, sigma=sigma)
    x = jr.normal(getkey(), (20, 3))
    g = jax.vmap(jax.grad(lambda y: ridgelet_potential(f, 0.3, y)))(x)
    np.testing.assert_allclose(g, f.batch_call(0.3, x), atol=1e-10)
    assert float(curl_fraction(f, x, t=0.3)) < 1e-28


def test_gradient_of_time_varying_units(getkey):
    a = jr.normal(getkey(), (3, 4, 2))
    f = fr.RidgeletField.gradient_of(
        a,
        jr.normal(getkey(), (3, 4)),
        jr.normal(getkey(), (3, 4)),
        basis="piecewise_constant",
    )
    x = jr.normal(getkey(), (10, 2))
    g = jax.vmap(jax.grad(lambda y: ridgelet_potential(f, 0.7, y)))(x)
    np.testing.assert_allclose(g, f.batch_call(0.7, x), atol=1e-10)
    with pytest.raises(ValueError, match="piecewise_constant"):
        fr.RidgeletField.gradient_of(a, jnp.zeros((3, 4)), jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        fr.RidgeletField.gradient_of(a[0], jnp.zeros(4), jnp.ones((3, 5)))
    with pytest.raises(ValueError, match="not a gradient field"):
        ridgelet_potential(fr.RidgeletField.random(getkey(), 2, 4), 0.0, x)


@pytest.mark.slow
def test_helmholtz_fit(getkey):
    """Gradient: fraction ~ 0; v = Mx under N(0, I): the L2(mu) Helmholtz
    projection drops the skew part, so the fraction is ||skew M||^2/||M||^2, up
    to the fit's overfitting bias ~ J/(n d) = 64/4500."""
    x = jr.normal(getkey(), (1500, 3))
    M = jr.normal(getkey(), (3, 3))
    grad = non_gradient_fraction(
        lambda t, y, a: jax.grad(lambda z: jnp.sum(jnp.sin(z)) + 0.5 * z @ z)(y),
        x,
        num_units=64,
        key=getkey(),
    )
    assert float(grad.fraction) < 0.01
    want = np.sum((0.5 * (M - M.T)) ** 2) / np.sum(M**2)
    lin = non_gradient_fraction(lambda t, y, a: M @ y, x, num_units=64, key=getkey())
    np.testing.assert_allclose(lin.fraction, want, atol=0.04)
    rot = non_gradient_fraction(lambda t, y, a: A @ y, x, num_units=64, key=getkey())
    assert 0.95 < float(rot.fraction) <= 1.0
    assert float(curl_fraction(lin.field, x)) < 1e-20


def test_bad_input(getkey):
    x = jr.normal(getkey(), (10, 2))
    with pytest.raises(ValueError, match="method"):
        curl_fraction(lambda t, y, a: y, x, method="svd")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="key"):
        curl_fraction(lambda t, y, a: y, x, method="hutchinson")
    with pytest.raises(TypeError, match="vector field"):
        curl_fraction(3.0, x)
    with pytest.raises(Exception, match="Jacobian is zero"):
        curl_fraction(lambda t, y, a: jnp.zeros(2), x)
    with pytest.raises(ValueError, match="x"):
        curl_fraction(lambda t, y, a: y, x.at[0, 0].set(jnp.nan))
    with pytest.raises(Exception, match="vanishes"):
        non_gradient_fraction(lambda t, y, a: jnp.zeros(2), x, key=getkey())


def _moons_pair(key, n=64):
    kx, ky = jr.split(key)
    x = jr.normal(kx, (n, 2))
    y = 0.6 * x @ jnp.array([[1.0, 0.8], [-0.8, 1.0]]) + 0.5  # a rotation-shear map
    return x, y


def test_fit_gradient_flag_trains_a_gradient_field(getkey):
    """`fit(gradient=True)` keeps c_j = s_j a_j: curl fraction 0 (to rounding), a plain fit's is not."""
    x, y = _moons_pair(getkey())
    field = fr.RidgeletField.random(
        getkey(), 2, 16, basis="piecewise_constant", num_knots=2, output_scale=0.5
    )
    kw: dict[str, Any] = dict(
        key=getkey(), loss="mse", steps=30, learning_rate=3e-2, progress=False
    )
    flow_kwargs = dict(solver="euler", num_steps=4)
    grad_field, hist = fr.fit(field, x, y, gradient=True, flow_kwargs=flow_kwargs, **kw)
    plain_field, _ = fr.fit(field, x, y, flow_kwargs=flow_kwargs, **kw)
    assert type(grad_field) is fr.RidgeletField
    assert hist["loss"][-1] < hist["loss"][0]  # it does train
    a = grad_field.a if grad_field.a.ndim == 3 else grad_field.a[None]
    s = jnp.sum(grad_field.c * a, -1) / jnp.sum(a * a, -1)
    np.testing.assert_allclose(grad_field.c, s[..., None] * a, atol=1e-12)
    for t in (0.25, 0.75):
        assert float(curl_fraction(grad_field, x, t=t)) < 1e-24
        assert float(curl_fraction(plain_field, x, t=t)) > 1e-3


def test_fit_gradient_flag_bad_input(getkey):
    x, y = _moons_pair(getkey(), 8)
    linear = fr.RidgeletField.random(getkey(), 2, 4)  # time-varying units, hats
    with pytest.raises(ValueError, match="gradient=True"):
        fr.fit(linear, x, y, key=getkey(), steps=1, gradient=True, progress=False)
    with pytest.raises(TypeError, match="gradient=True"):
        fr.fit(
            lambda t, z, a: -z,
            x,
            y,
            key=getkey(),
            steps=1,
            gradient=True,
            progress=False,
        )


def test_flow_scores_of_gradient_and_rotation_flows(getkey):
    """Gradient flow: curl 0; rotation flow v = A x: curl 1 and non-gradient fraction near 1."""
    x0 = jr.normal(getkey(), (128, 2))
    grad = fr.RidgeletField.gradient_of(
        jr.normal(getkey(), (8, 2)),
        jr.normal(getkey(), (8,)),
        0.3 * jr.normal(getkey(), (8,)),
    )
    rot = lambda t, y, a: jnp.array([[0.0, 1.0], [-1.0, 0.0]]) @ y  # noqa: E731
    ts = jnp.linspace(0.0, 1.0, 4)
    for field, curl in ((grad, 0.0), (rot, 1.0)):
        res = fr.flow(field, x0, 0.0, 1.0, ts=ts, solver="rk4", num_steps=16)
        tracks = fr.Tracks.from_flow(res)
        sc = fr.flow_scores(field, tracks, key=getkey(), num_units=64)
        np.testing.assert_allclose(sc.curl_fractions, curl, atol=1e-12)
        np.testing.assert_allclose(sc.transport.lss, fr.score_tracks(tracks).lss)
        d = sc.to_dict()
        assert d["curl_fraction"] == pytest.approx(curl, abs=1e-12)
        assert len(d["non_gradient_fractions"]) == 4
        if curl == 0.0:
            assert d["non_gradient_fraction"] < 1e-2
        else:
            # Rotations are L2(mu)-orthogonal to gradients for a rotation-invariant
            # mu; J units on n d equations bias the fraction low by ~ J/(nd) = 0.25.
            assert d["non_gradient_fraction"] > 0.5


def test_flow_scores_bad_input(getkey):
    with pytest.raises(TypeError, match="tracks"):
        fr.flow_scores(lambda t, y, a: -y, jnp.zeros((3, 4, 2)), key=getkey())  # pyright: ignore[reportArgumentType]


def test_non_gradient_fraction_float32_stays_in_unit_interval(getkey):
    """The float32 normal equations gave 2.06 in the demo; the SVD solve keeps it in [0, 1]."""
    x = jr.normal(getkey(), (1024, 2), jnp.float32)
    f = fr.RidgeletField.random(getkey(), 2, 32, output_scale=0.5, dtype=jnp.float32)
    for t in (0.0, 0.5):
        frac = float(non_gradient_fraction(f, x, t=t, key=getkey()).fraction)
        assert 0.0 <= frac <= 1.0
