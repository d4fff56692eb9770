import math
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

import flowrep
from flowrep import CustomRidgelet, GaussianDerivative, LambdaGaussian


def scipy_gaussian_derivative(k, z):
    z = np.asarray(z, dtype=float)
    return (-1) ** k * special.eval_hermitenorm(k, z) * np.exp(-0.5 * z * z)


# k <= 8: explicit Hermite polynomial; k = 9 and up: the recurrence
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 7, 8, 9, 15, 25, 40])
def test_gaussian_derivative_matches_scipy_hermite(k):
    z = np.linspace(-12.0, 12.0, 481)
    ref = scipy_gaussian_derivative(k, z)
    got = np.asarray(GaussianDerivative(k)(jnp.asarray(z)))
    scale = np.max(np.abs(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13 * scale)


def test_gaussian_derivative_tails_relative_accuracy():
    # Far tails: relative accuracy against scipy, not just absolute.
    z = np.array([-30.0, -22.5, 15.0, 25.0, 35.0])
    for k in (2, 4, 8, 9, 20):
        ref = scipy_gaussian_derivative(k, z)
        got = np.asarray(GaussianDerivative(k)(z))
        np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("k", [0, 3, 4, 8, 9])
def test_gaussian_derivative_far_out_is_zero_not_nan(k, dtype):
    # He_k(z) overflows long before e^{-z^2/2} stops underflowing: the value
    # must be the limit 0, never inf * 0 = NaN.
    z = jnp.asarray([-1e30, -1e6, -60.0, 60.0, 1e6, 1e30], dtype)
    out = np.asarray(GaussianDerivative(k)(z))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, 0.0)


def test_gaussian_derivative_matches_autodiff_of_gaussian():
    def gauss(z):
        return jnp.exp(-0.5 * z**2)

    z = jnp.linspace(-5.0, 5.0, 41)
    fn = gauss
    for k in range(6):
        auto = jax.jit(jax.vmap(fn))(z)
        np.testing.assert_allclose(
            auto, GaussianDerivative(k)(z), rtol=1e-11, atol=1e-12
        )
        fn = jax.grad(fn)


@pytest.mark.parametrize("k", [0, 3, 36])
def test_gaussian_derivative_gradient_is_next_order(k):
    z = np.linspace(-6.0, 6.0, 61)
    grad = jax.vmap(jax.grad(GaussianDerivative(k)))(jnp.asarray(z))
    ref = scipy_gaussian_derivative(k + 1, z)
    np.testing.assert_allclose(grad, ref, rtol=1e-11, atol=1e-12 * np.max(np.abs(ref)))


@pytest.mark.parametrize("k", [0, 1, 2, 5])
def test_gaussian_derivative_fourier_matches_quadrature(k):
    # \hat f(w) = int f(z) e^{-izw} dz = int f cos(wz) - i int f sin(wz)
    rho = GaussianDerivative(k)
    for w in (0.3, 1.0, 2.5):
        re = integrate.quad(
            lambda z: scipy_gaussian_derivative(k, z) * np.cos(w * z),
            -40,
            40,
            limit=200,
        )[0]
        im = -integrate.quad(
            lambda z: scipy_gaussian_derivative(k, z) * np.sin(w * z),
            -40,
            40,
            limit=200,
        )[0]
        got = complex(rho.fourier(w))
        assert abs(got - complex(re, im)) < 1e-10


def test_gaussian_derivative_no_overflow():
    rho = GaussianDerivative(40)
    assert bool(jnp.all(jnp.isfinite(rho(jnp.linspace(-60.0, 60.0, 101)))))
    assert bool(
        jnp.all(jnp.isfinite(rho(jnp.linspace(-30.0, 30.0, 101, dtype=jnp.float32))))
    )
    big = rho.fourier(jnp.array([1e4, -1e6, 0.0]))
    assert bool(jnp.all(big == 0))
    np.testing.assert_allclose(
        rho.fourier(3.0),
        (3.0j) ** 40 * math.sqrt(2 * math.pi) * math.exp(-4.5),
        rtol=1e-12,
    )


def test_gaussian_derivative_float32_jit_vmap():
    rho = GaussianDerivative(4)
    z32 = jnp.linspace(-3.0, 3.0, 7, dtype=jnp.float32)
    out = eqx.filter_jit(rho)(z32)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(
        out, scipy_gaussian_derivative(4, np.asarray(z32)), rtol=1e-5, atol=1e-5
    )
    out = jax.vmap(rho)(jnp.ones((3, 2)))
    assert out.shape == (3, 2)


# ----------------------------------------------------------------------------
# Lambda^m G^(l)
# ----------------------------------------------------------------------------


def inverse_transform_reference(m, order, z):
    """(1/2pi) int |w|^m (iw)^l sqrt(2pi) e^{-w^2/2} e^{izw} dw by QUADPACK (QAWO)."""
    n = m + order

    def r(w):
        return w**n * np.exp(-0.5 * w * w)

    const = math.sqrt(2 * math.pi) / math.pi  # 2 sqrt(2pi) / (2pi)
    out = []
    with warnings.catch_warnings():
        # QAWO reports round-off in the far tails; its accuracy there is checked
        # separately against the asymptotic series.
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for zi in np.atleast_1d(z):
            out.append(_reference_at(r, order, float(zi), const))
    return np.array(out)


def _reference_at(r, order, zi, const):
    if order % 2 == 0:
        if zi == 0:
            val = integrate.quad(r, 0, np.inf)[0]
        else:
            val = integrate.quad(
                r, 0, 40, weight="cos", wvar=zi, limit=2000, epsabs=0, epsrel=1e-13
            )[0]
        return (-1) ** (order // 2) * const * val
    if zi == 0:
        return 0.0
    val = integrate.quad(
        r, 0, 40, weight="sin", wvar=zi, limit=2000, epsabs=0, epsrel=1e-13
    )[0]
    return (-1) ** ((order + 1) // 2) * const * val


def asymptotic_reference(m, order, z, terms=12):
    """Large-|z| expansion of the same integral, int_0^inf f e^{izw} ~ sum_j i^{j+1} f^(j)(0)/z^{j+1}."""
    n = m + order
    z = float(z)
    az = abs(z)
    total = 0j
    for i in range(terms):
        j = n + 2 * i  # f = w^n e^{-w^2/2}: f^(j)(0) = j! (-1/2)^i / i!
        total += (
            (1j) ** (j + 1)
            * math.factorial(j)
            * (-0.5) ** i
            / math.factorial(i)
            / az ** (j + 1)
        )
    const = math.sqrt(2 * math.pi) / math.pi
    if order % 2 == 0:
        return (-1) ** (order // 2) * const * total.real
    return (-1) ** ((order + 1) // 2) * const * total.imag * np.sign(z)


@pytest.mark.parametrize("m,order", [(1, 0), (1, 1), (1, 2), (3, 0), (3, 2)])
def test_lambda_gaussian_odd_matches_quadrature(m, order):
    z = np.concatenate([np.linspace(-30.0, 30.0, 41), [0.0, 1e-3, -0.37, 2.2]])
    ref = inverse_transform_reference(m, order, z)
    got = np.asarray(LambdaGaussian(m, order)(jnp.asarray(z)))
    # QAWO itself is good to ~1e-9 relative in the far tails for m + l <= 5.
    np.testing.assert_allclose(got, ref, rtol=2e-8, atol=1e-15)


@pytest.mark.parametrize("m,order", [(1, 0), (1, 1), (1, 2), (3, 1)])
def test_lambda_gaussian_odd_far_tail_asymptotics(m, order):
    z = np.array([40.0, -100.0, 1e3, -1e4])
    got = np.asarray(LambdaGaussian(m, order)(jnp.asarray(z)))
    ref = np.array([asymptotic_reference(m, order, zi) for zi in z])
    np.testing.assert_allclose(got, ref, rtol=1e-11)
    # The tail decays like |z|^{-(m+l+1)}.
    slope = np.polyfit(np.log(np.abs(z)), np.log(np.abs(got)), 1)[0]
    assert abs(slope + (m + order + 1)) < 0.05


@pytest.mark.parametrize("m,order", [(2, 0), (2, 1), (4, 1)])
def test_lambda_gaussian_even_is_gaussian_derivative(m, order):
    z = np.linspace(-9.0, 9.0, 91)
    ref = (-1) ** (m // 2) * scipy_gaussian_derivative(order + m, z)
    np.testing.assert_allclose(LambdaGaussian(m, order)(z), ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("m,order", [(0, 3), (1, 0), (2, 1), (3, 2)])
def test_lambda_gaussian_fourier(m, order):
    w = np.array([-7.0, -1.3, -0.2, 0.0, 0.4, 2.0, 5.5, 50.0])
    ref = np.abs(w) ** m * (1j * w) ** order * np.sqrt(2 * np.pi) * np.exp(-0.5 * w * w)
    np.testing.assert_allclose(
        LambdaGaussian(m, order).fourier(w), ref, rtol=1e-13, atol=1e-300
    )
    if m == 0:
        np.testing.assert_allclose(
            LambdaGaussian(m, order).fourier(w), GaussianDerivative(order).fourier(w)
        )


def test_lambda_gaussian_gradient_matches_finite_differences():
    rho = LambdaGaussian(1, 0)
    z = jnp.array([-4.0, -0.7, 0.3, 1.9, 12.0])
    grad = jax.vmap(jax.grad(rho))(z)
    eps = 1e-5
    fd = (rho(z + eps) - rho(z - eps)) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(grad, LambdaGaussian(1, 1)(z), rtol=1e-13)


def test_lambda_gaussian_float32_and_jit():
    rho = LambdaGaussian(1, 2)
    z = jnp.linspace(-20.0, 20.0, 9, dtype=jnp.float32)
    out = eqx.filter_jit(rho)(z)
    assert out.dtype == jnp.float32
    ref = inverse_transform_reference(1, 2, np.asarray(z, dtype=float))
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-6)


def test_ridgelets_work_in_ridgelet_transform():
    # The profiles plug into the streamed transform (both rho sides of a pair).
    x = jnp.linspace(-1.0, 1.0, 5)[:, None]
    a = jnp.array([[1.0], [2.0]])
    b = jnp.array([0.0, 0.5])
    for rho in (GaussianDerivative(2), LambdaGaussian(1, 1)):
        got = flowrep.ridgelet_transform(jnp.ones(5), rho, a, b, x, jnp.ones(5))
        ref = jnp.sum(rho(a[:, 0][:, None] * x[:, 0][None, :] - b[:, None]), axis=1)
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_custom_ridgelet():
    rho = CustomRidgelet(
        fn=lambda z: (z**2 - 1) * jnp.exp(-0.5 * z**2),
        fourier_fn=lambda w: -(w**2) * jnp.sqrt(2 * jnp.pi) * jnp.exp(-0.5 * w**2),
        name="mexican_hat",
        parity=1,
    )
    z = np.linspace(-4, 4, 17)
    np.testing.assert_allclose(
        rho(z), scipy_gaussian_derivative(2, z), rtol=1e-13, atol=1e-15
    )
    np.testing.assert_allclose(
        rho.fourier(z), GaussianDerivative(2).fourier(z), rtol=1e-13
    )
    assert rho.fourier(1.0).dtype in (jnp.complex64, jnp.complex128)
    assert isinstance(rho, flowrep.AbstractRidgelet)
    assert isinstance(rho, flowrep.AbstractActivation)
    assert rho.name == "mexican_hat"


def test_bad_orders():
    with pytest.raises(ValueError, match="non-negative integer"):
        GaussianDerivative(-1)
    with pytest.raises(TypeError, match="non-negative integer"):
        GaussianDerivative(1.5)  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="non-negative integer"):
        GaussianDerivative(True)
    with pytest.raises(ValueError, match="filter order m"):
        LambdaGaussian(-1, 0)
    with pytest.raises(ValueError, match="derivative order l"):
        LambdaGaussian(1, -2)
    with pytest.raises(TypeError, match="callables"):
        CustomRidgelet(fn=3, fourier_fn=lambda w: w)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="parity"):
        CustomRidgelet(fn=jnp.sin, fourier_fn=jnp.cos, parity=2)


# ----------------------------------------------------------------------------
# Odd m: the Dawson-table path against the independent contour reference
# ----------------------------------------------------------------------------

_ODD_GRID = np.concatenate(
    [
        np.linspace(-30.0, 30.0, 1201),
        np.geomspace(30.0, 1e4, 60),
        -np.geomspace(1e-6, 1e4, 60),
        [0.0],
    ]
)


@pytest.mark.parametrize(
    "m,order", [(1, 0), (1, 1), (1, 4), (3, 0), (3, 3), (5, 2), (7, 1), (1, 8)]
)
def test_lambda_gaussian_odd_matches_contour_reference(m, order):
    from flowrep._width._special import _dawson_tables, _lambda_gaussian_odd_contour

    switch = _dawson_tables(m + order).z_switch
    z = np.concatenate([_ODD_GRID, [switch * (1 - 1e-12), switch, -switch]])
    ref = np.asarray(_lambda_gaussian_odd_contour(m, order, jnp.asarray(z)))
    got = np.asarray(LambdaGaussian(m, order)(jnp.asarray(z)))
    scale = np.max(np.abs(ref))
    # Everywhere: to 1e-14 of the peak value (the reference is good to ~5e-16).
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-14 * scale)
    # Tails (no zeros there): pointwise relative accuracy down to |z|^-(n+1) ~ 1e-40.
    tail = np.abs(z) >= 8.0
    np.testing.assert_allclose(got[tail], ref[tail], rtol=1e-12, atol=0)


def test_lambda_gaussian_odd_is_dawson_derivative():
    # Lambda^1 G^(l) = (2/sqrt pi) 2^{-n/2} D^(n)(z/sqrt2), n = l+1, with D from
    # scipy.special.dawsn and D' = 1-2xD, D^(k+1) = -2x D^(k) - 2k D^(k-1),
    # a recurrence that is stable for |x| <= 1.
    x = np.linspace(-1.0, 1.0, 81)
    z = math.sqrt(2) * x
    d = [special.dawsn(x), 1 - 2 * x * special.dawsn(x)]
    for k in range(1, 8):
        d.append(-2 * x * d[k] - 2 * k * d[k - 1])
    for n in range(1, 9):
        ref = 2 / math.sqrt(math.pi) * 2 ** (-n / 2) * d[n]
        got = np.asarray(LambdaGaussian(1, n - 1)(jnp.asarray(z)))
        np.testing.assert_allclose(
            got, ref, rtol=1e-12, atol=1e-14 * np.max(np.abs(ref))
        )
        # The odd-m reduction |w|^m = (-1)^{(m-1)/2} |w| (iw)^{m-1}.
        if n >= 3:
            got3 = np.asarray(LambdaGaussian(3, n - 3)(jnp.asarray(z)))
            np.testing.assert_allclose(
                got3, -ref, rtol=1e-12, atol=1e-14 * np.max(np.abs(ref))
            )


def test_lambda_gaussian_odd_tables_nodes_match_scipy_dawsn():
    from flowrep._width._special import _dawson_derivatives

    for i in (0, 3, 16, 47, 100, 200):
        x = i / 16
        d = _dawson_derivatives(i, 2)
        np.testing.assert_allclose(float(d[0]), special.dawsn(x), rtol=2e-15, atol=0)
        np.testing.assert_allclose(
            float(d[1]), 1 - 2 * x * float(d[0]), rtol=1e-13, atol=1e-300
        )


def test_lambda_gaussian_odd_high_order_matches_contour_reference():
    from flowrep._width._special import _lambda_gaussian_odd_contour

    z = np.concatenate([np.linspace(-25.0, 25.0, 501), [1e2, -1e3, 1e4]])
    ref = np.asarray(_lambda_gaussian_odd_contour(9, 6, jnp.asarray(z)))
    got = np.asarray(LambdaGaussian(9, 6)(jnp.asarray(z)))
    # The contour reference itself degrades to ~5e-15 of the peak at m + l = 15.
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=2e-14 * np.max(np.abs(ref)))


def test_lambda_gaussian_odd_derivatives_are_exact():
    rho = LambdaGaussian(3, 1)
    z = jnp.array([-25.0, -4.1, -0.6, 0.0, 0.35, 2.7, 11.0, 300.0])
    grad = jax.vmap(jax.grad(rho))(z)
    np.testing.assert_allclose(grad, LambdaGaussian(3, 2)(z), rtol=1e-13, atol=1e-15)
    second = jax.vmap(jax.grad(jax.grad(rho)))(z)
    np.testing.assert_allclose(second, LambdaGaussian(3, 3)(z), rtol=1e-13, atol=1e-15)
    # ... and match the profile itself: central differences (step 1e-4, error ~1e-8).
    h = 1e-4
    fd = (rho(z + h) - rho(z - h)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_lambda_gaussian_odd_float32_vmap_jit():
    from flowrep._width._special import _lambda_gaussian_odd_contour

    z = np.concatenate([np.linspace(-15.0, 15.0, 61), [40.0, -300.0, 2e3]])
    for m, order in ((1, 0), (3, 1)):
        rho = LambdaGaussian(m, order)
        ref = np.asarray(_lambda_gaussian_odd_contour(m, order, jnp.asarray(z)))
        out = eqx.filter_jit(rho)(jnp.asarray(z, jnp.float32))
        assert out.dtype == jnp.float32
        np.testing.assert_allclose(out, ref, rtol=2e-5, atol=1e-6 * np.max(np.abs(ref)))
        # Tails keep float32 relative accuracy.
        np.testing.assert_allclose(out[-3:], ref[-3:], rtol=2e-5)
        grid = jnp.asarray(z[:60].reshape(6, 10))
        batched = jax.vmap(rho)(grid)
        assert batched.shape == (6, 10)
        np.testing.assert_allclose(batched, rho(grid), rtol=1e-15)


def test_lambda_gaussian_odd_non_finite_inputs():
    rho = LambdaGaussian(1, 1)
    out = np.asarray(rho(jnp.array([jnp.nan, jnp.inf, -jnp.inf, 1.0])))
    assert np.isnan(out[0])
    # The algebraic tails go to 0 at +-inf.
    assert out[1] == 0.0 and out[2] == 0.0
    assert np.isfinite(out[3])
