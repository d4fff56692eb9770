import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from numpy.polynomial import chebyshev
from scipy.special import gamma

import flowrep


def gaussian_derivative(k):
    """$G^{(k)}(z)=(-1)^kHe_k(z)e^{-z^2/2}$ (probabilists' Hermite by recurrence)."""

    def rho(z):
        he = [jnp.ones_like(z), z]
        for j in range(2, k + 1):
            he.append(z * he[-1] - (j - 1) * he[-2])
        return (-1) ** k * he[k] * jnp.exp(-(z**2) / 2)

    return rho


def brute_field(field, t, x):
    """sum_j c_j(t) sigma(a_j(t).x - b_j(t)) with the basis evaluated by hand, in NumPy."""
    t = float(t)
    kn = np.asarray(field.knots)
    num = field.num_basis
    if field.basis == "chebyshev":
        s = np.clip(2 * (t - field.t0) / (field.t1 - field.t0) - 1, -1, 1)
        phi = np.array([chebyshev.chebval(s, np.eye(num)[k]) for k in range(num)])
    elif field.basis == "linear":
        phi = np.array([np.interp(t, kn, np.eye(num)[k]) for k in range(num)])
    elif field.basis == "piecewise_constant":
        phi = np.zeros(num)
        phi[max(0, np.searchsorted(kn, t, side="right") - 1)] = 1.0
    else:
        phi = np.ones(1)
    a, b, c = (np.asarray(p) for p in (field.a, field.b, field.c))
    if not field.fixed_units:
        a = np.einsum("k,kjm->jm", phi, a)
        b = np.einsum("k,kj->j", phi, b)
    c = np.einsum("k,kjm->jm", phi, c)
    out = np.zeros(field.dim)
    for j in range(field.num_units):
        out += c[j] * np.asarray(field.sigma(jnp.asarray(a[j] @ np.asarray(x) - b[j])))
    return out


@pytest.mark.parametrize(
    "basis,fixed",
    [
        ("linear", False),
        ("linear", True),
        ("chebyshev", False),
        ("piecewise_constant", False),
        ("constant", True),
    ],
)
def test_field_against_brute_force(getkey, basis, fixed):
    field = flowrep.RidgeletField.random(
        getkey(), 3, 7, basis=basis, num_knots=5, fixed_units=fixed, sigma="softplus"
    )
    assert field.dim == 3 and field.num_units == 7
    assert field.fixed_units == fixed
    assert field.a.shape == ((7, 3) if fixed else (field.num_basis, 7, 3))
    xs = jr.normal(getkey(), (4, 3))
    for t in (0.0, 0.13, 0.5, 0.77, 1.0):
        for x in xs:
            np.testing.assert_allclose(
                field(t, x, None), brute_field(field, t, x), rtol=1e-12, atol=1e-12
            )
        batch = field.batch_call(t, xs)
        np.testing.assert_allclose(
            batch, jax.vmap(field, (None, 0, None))(t, xs, None), rtol=1e-12
        )
        a, b, c = field.units_at(t)
        assert a.shape == (7, 3) and b.shape == (7,) and c.shape == (7, 3)
        # Divergence: fused formula against the trace of jacfwd.
        v, div = field.batch_divergence(t, xs)
        np.testing.assert_allclose(v, batch, rtol=1e-12)
        jac_trace = jax.vmap(
            lambda x: jnp.trace(jax.jacfwd(lambda y: field(t, y, None))(x))
        )(xs)
        np.testing.assert_allclose(div, jac_trace, rtol=1e-10, atol=1e-12)


def test_linear_basis_hits_knots_and_interpolates(getkey):
    field = flowrep.RidgeletField.random(getkey(), 2, 5, basis="linear", num_knots=3)
    for k, tk in enumerate(field.knots):
        a, b, c = field.units_at(tk)
        np.testing.assert_allclose(c, field.c[k], rtol=1e-14)
        np.testing.assert_allclose(a, field.a[k], rtol=1e-14)
    _, _, c = field.units_at(0.25)
    np.testing.assert_allclose(c, 0.5 * (field.c[0] + field.c[1]), rtol=1e-14)
    # Time is clamped to [t0, t1].
    np.testing.assert_allclose(field.units_at(-3.0)[2], field.c[0])
    np.testing.assert_allclose(field.units_at(5.0)[2], field.c[-1])


def test_from_units_and_euler_resnet(getkey):
    num_blocks, dim, width = 4, 2, 6
    keys = jr.split(getkey(), 3)
    a_list = list(jr.normal(keys[0], (num_blocks, width, dim)))
    b_list = list(jr.normal(keys[1], (num_blocks, width)))
    c_list = list(0.3 * jr.normal(keys[2], (num_blocks, width, dim)))
    h = 0.25
    ts = [h * k for k in range(num_blocks + 1)]
    field = flowrep.RidgeletField.from_units(
        a_list, b_list, c_list, ts, basis="piecewise_constant"
    )
    assert field.t0 == 0.0 and field.t1 == 1.0 and field.num_basis == num_blocks
    for k in range(num_blocks):
        for t in (ts[k], ts[k] + 0.5 * h):
            a, b, c = field.units_at(t)
            np.testing.assert_allclose(a, a_list[k])
            np.testing.assert_allclose(c, c_list[k])
    # Euler with steps on the block times reproduces the ResNet x_{l+1} = x_l + h v_l(x_l).
    x = jr.normal(getkey(), (5, dim))
    res = flowrep.flow(field, x, 0.0, 1.0, solver="euler", num_steps=num_blocks)
    for k in range(num_blocks):
        x = x + h * jnp.tanh(x @ a_list[k].T - b_list[k]) @ c_list[k]
    np.testing.assert_allclose(res.xs, x, rtol=1e-12)
    # Linear interpolation of the units between knots.
    lin = flowrep.RidgeletField.from_units(
        a_list, b_list, c_list, ts[:-1], sigma="relu"
    )
    a, b, _ = lin.units_at(0.5 * (ts[1] + ts[2]))
    np.testing.assert_allclose(a, 0.5 * (a_list[1] + a_list[2]))
    np.testing.assert_allclose(b, 0.5 * (b_list[1] + b_list[2]))


def test_gaussian_pairing_closed_form():
    """<<Gaussian, G^(k)>> = (2pi)^m (-1)^{k/2} Gamma((k-m+1)/2) (docs/theory/index.md), by 1-D quadrature of the definition."""
    omega = np.linspace(-40, 40, 400001)
    d = omega[1] - omega[0]
    for m, k in [(1, 2), (1, 4), (2, 2), (2, 4), (3, 4)]:
        sig = np.sqrt(2 * np.pi) * np.exp(-(omega**2) / 2)
        rho = (1j * omega) ** k * np.sqrt(2 * np.pi) * np.exp(-(omega**2) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            integrand = np.where(
                omega == 0, 0.0, sig * np.conj(rho) * np.abs(omega) ** (-m)
            )
        # |omega|^{k-m} at 0 is integrable; the midpoint-free sum converges for k >= m.
        numeric = (2 * np.pi) ** (m - 1) * np.sum(integrand).real * d
        closed = (2 * np.pi) ** m * (-1) ** (k // 2) * gamma((k - m + 1) / 2)
        np.testing.assert_allclose(numeric, closed, rtol=2e-3 if k == m else 1e-6)


def _bump_field(t, x, args):
    return (0.5 + t) * jnp.exp(-jnp.sum(x**2) / 2) * jnp.ones_like(x)


def test_from_field_reproduces_field_and_flow():
    # 1-D: v_t(x) = (0.5 + t) exp(-x^2/2); sigma = Gaussian, rho = G^(4).
    k, m = 4, 1
    pairing = (2 * np.pi) ** m * (-1) ** (k // 2) * gamma((k - m + 1) / 2)
    a1 = np.linspace(-6, 6, 41)
    b1 = np.linspace(-30, 30, 121)
    aa, bb = np.meshgrid(a1, b1, indexing="ij")
    a, b = jnp.asarray(aa.reshape(-1, 1)), jnp.asarray(bb.reshape(-1))
    unit_w = np.full(b.shape, (a1[1] - a1[0]) * (b1[1] - b1[0]))
    x = jnp.linspace(-8, 8, 801)[:, None]
    w = jnp.full(801, x[1, 0] - x[0, 0])
    field = flowrep.RidgeletField.from_field(
        _bump_field,
        gaussian_derivative(k),
        a,
        b,
        x,
        w,
        [0.0, 0.5, 1.0],
        sigma="gaussian",
        unit_weights=unit_w,
        pairing=pairing,
    )
    assert field.fixed_units and field.num_units == a.shape[0]
    xe = jnp.linspace(-3, 3, 31)[:, None]
    for t in (0.0, 0.3, 1.0):
        err = jnp.max(
            jnp.abs(
                field.batch_call(t, xe)
                - jax.vmap(lambda xi: _bump_field(t, xi, None))(xe)
            )
        )
        assert float(err) < 3e-3 * (0.5 + t)
    x0 = jnp.linspace(-2, 2, 5)[:, None]
    ours = flowrep.flow(field, x0, 0.0, 1.0, solver="rk4", num_steps=20).xs
    exact = flowrep.flow(_bump_field, x0, 0.0, 1.0, solver="rk4", num_steps=20).xs
    assert float(jnp.max(jnp.abs(exact - x0))) > 0.5
    np.testing.assert_allclose(ours, exact, atol=3e-3)
    # A ghost pairing (0) is refused.
    with pytest.raises(ValueError, match="not admissible"):
        flowrep.RidgeletField.from_field(
            _bump_field,
            gaussian_derivative(3),
            a[:5],
            b[:5],
            x,
            w,
            [0.0, 1.0],
            sigma="gaussian",
            unit_weights=unit_w[:5],
            pairing=0.0,
        )


def test_save_load_roundtrip(getkey, tmp_path):
    field = flowrep.RidgeletField.random(getkey(), 2, 4, basis="chebyshev", num_knots=3)
    path = tmp_path / "field.eqx"
    flowrep.save_field(path, field)
    like = flowrep.RidgeletField.random(getkey(), 2, 4, basis="chebyshev", num_knots=3)
    loaded = flowrep.load_field(path, like)
    assert eqx.tree_equal(loaded, field)


def test_bad_construction(getkey):
    with pytest.raises(ValueError, match="Unknown basis"):
        flowrep.RidgeletField.random(getkey(), 2, 3, basis="fourier")  # pyright: ignore
    with pytest.raises(ValueError, match="c` must have shape"):
        flowrep.RidgeletField(jnp.ones((3, 2)), jnp.ones(3), jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="Fixed units need"):
        flowrep.RidgeletField(jnp.ones((3, 2)), jnp.ones(4), jnp.ones((1, 3, 2)))
    with pytest.raises(ValueError, match="strictly increasing"):
        flowrep.RidgeletField(
            jnp.ones((3, 2)), jnp.ones(3), jnp.ones((2, 3, 2)), knots=[1.0, 0.0]
        )
    with pytest.raises(ValueError, match="one knot per basis function"):
        flowrep.RidgeletField(
            jnp.ones((3, 2)), jnp.ones(3), jnp.ones((2, 3, 2)), knots=[0.0, 0.5, 1.0]
        )
    with pytest.raises(ValueError, match="Need t0 < t1"):
        flowrep.RidgeletField(
            jnp.ones((3, 2)),
            jnp.ones(3),
            jnp.ones((2, 3, 2)),
            basis="chebyshev",
            t0=1.0,
            t1=0.0,
        )
    with pytest.raises(ValueError, match="same length"):
        flowrep.RidgeletField.from_units(
            [jnp.ones((3, 2))] * 2, [jnp.ones(3)], [jnp.ones((3, 2))] * 2, [0.0, 1.0]
        )
    with pytest.raises(ValueError, match="one time per unit set"):
        flowrep.RidgeletField.from_units(
            [jnp.ones((3, 2))] * 2, [jnp.ones(3)] * 2, [jnp.ones((3, 2))] * 2, [0.0]
        )
    with pytest.raises(ValueError, match="unit_weights"):
        flowrep.RidgeletField.from_field(
            _bump_field,
            gaussian_derivative(4),
            jnp.ones((3, 1)),
            jnp.ones(3),
            jnp.ones((5, 1)),
            jnp.ones(5),
            [0.0],
            sigma="gaussian",
            unit_weights=jnp.ones(2),
            pairing=1.0,
        )
