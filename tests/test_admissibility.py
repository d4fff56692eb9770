import json
import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import flowrep
from flowrep import (
    admissibility,
    admissibility_status,
    admissibility_table,
    CustomActivation,
    CustomRidgelet,
    GaussianDerivative,
    LambdaGaussian,
    NotAdmissibleError,
)


def quad_pairing(sigma_hat, rho_hat, m):
    """(2pi)^{m-1} int sigma^#(w) conj(rho^#(w)) |w|^{-m} dw by QUADPACK, written from scratch.

    `sigma_hat`, `rho_hat` are plain Python functions of a float (complex values).
    """

    def h(w):
        return (
            (2 * math.pi) ** (m - 1)
            * sigma_hat(w)
            * np.conj(rho_hat(w))
            * abs(w) ** (-m)
        )

    def real_part(w):
        return (h(w) + h(-w)).real

    with np.errstate(over="ignore"):
        return sum(
            integrate.quad(real_part, lo, hi, limit=400, epsabs=0, epsrel=1e-12)[0]
            for lo, hi in ((0, 1), (1, np.inf))
        )


def gauss_deriv_hat(k, p=0):
    return lambda w: (
        abs(w) ** p * (1j * w) ** k * math.sqrt(2 * math.pi) * math.exp(-0.5 * w * w)
    )


def relu_hat(w):
    return -1.0 / w**2


def gaussian_hat(w):
    return math.sqrt(2 * math.pi) * math.exp(-0.5 * w * w)


def tanh_hat(w):
    return -1j * math.pi / np.sinh(math.pi * w / 2)


def sigmoid_hat(w):
    return -1j * math.pi / np.sinh(math.pi * w)


def test_relu_g4_dim1_value():
    # See docs/theory/ridgelets.md#gaussian-derivative-ridgelets: m = 1, k = 4 gives -2 sqrt(2 pi).
    assert admissibility(flowrep.ReLU(), GaussianDerivative(4), 1) == pytest.approx(
        -2 * math.sqrt(2 * math.pi), rel=1e-14
    )


@pytest.mark.parametrize(
    "m,k", [(1, 4), (1, 6), (1, 8), (2, 4), (2, 6), (3, 6), (4, 6), (5, 8)]
)
def test_relu_closed_form_vs_quadrature(m, k):
    got = admissibility(flowrep.ReLU(), GaussianDerivative(k), m)
    ref = quad_pairing(relu_hat, gauss_deriv_hat(k), m)
    assert got == pytest.approx(ref, rel=1e-10)
    leaky = admissibility(flowrep.LeakyReLU(alpha=0.2), GaussianDerivative(k), m)
    assert leaky == pytest.approx(0.8 * ref, rel=1e-10)


@pytest.mark.parametrize(
    "m,k", [(1, 2), (1, 4), (2, 2), (2, 4), (3, 4), (4, 4), (3, 6)]
)
def test_gaussian_closed_form_vs_quadrature(m, k):
    got = admissibility(flowrep.Gaussian(), GaussianDerivative(k), m)
    ref = quad_pairing(gaussian_hat, gauss_deriv_hat(k), m)
    assert got == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize(
    "sigma,sigma_hat,p,order,m",
    [
        (flowrep.ReLU(), relu_hat, 1, 2, 1),
        (flowrep.ReLU(), relu_hat, 2, 2, 2),
        (flowrep.ReLU(), relu_hat, 3, 4, 3),
        (flowrep.Gaussian(), gaussian_hat, 1, 0, 1),
        (flowrep.Gaussian(), gaussian_hat, 3, 2, 3),
        (GaussianDerivative(1), gauss_deriv_hat(1), 1, 1, 2),
    ],
)
def test_lambda_gaussian_closed_form_vs_quadrature(sigma, sigma_hat, p, order, m):
    got = admissibility(sigma, LambdaGaussian(p, order), m)
    ref = quad_pairing(sigma_hat, gauss_deriv_hat(order, p), m)
    assert got == pytest.approx(ref, rel=1e-10)


def custom_gauss_deriv(k):
    """G^(k) wrapped so that admissibility cannot recognise it: forces the numerical path."""
    rho = GaussianDerivative(k)
    return CustomRidgelet(fn=rho, fourier_fn=rho.fourier, name=f"custom G^({k})")


@pytest.mark.parametrize(
    "sigma,k,m",
    [
        (flowrep.ReLU(), 4, 1),
        (flowrep.ReLU(), 6, 3),
        (flowrep.Gaussian(), 2, 1),
        (flowrep.Gaussian(), 4, 3),
    ],
)
def test_numerical_path_agrees_with_closed_form(sigma, k, m):
    closed = admissibility(sigma, GaussianDerivative(k), m)
    numeric = admissibility(sigma, custom_gauss_deriv(k), m)
    assert numeric == pytest.approx(closed, rel=1e-10)


@pytest.mark.parametrize("m,k", [(1, 3), (1, 5), (2, 3), (2, 5), (3, 5)])
def test_tanh_numerical_vs_quadrature(m, k):
    got = admissibility(flowrep.Tanh(), GaussianDerivative(k), m)
    ref = quad_pairing(tanh_hat, gauss_deriv_hat(k), m)
    assert isinstance(got, float)
    assert got == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("m", [1, 2])
def test_sigmoid_numerical_vs_quadrature(m):
    # Like tanh (sigmoid = (1 + tanh(z/2)) / 2), odd k >= m + 1; the delta at 0 pairs to 0.
    got = admissibility(flowrep.Sigmoid(), GaussianDerivative(3), m)
    ref = quad_pairing(sigmoid_hat, gauss_deriv_hat(3), m)
    assert got == pytest.approx(ref, rel=1e-9)
    with pytest.raises(NotAdmissibleError, match="diverges"):
        admissibility(flowrep.Sigmoid(), GaussianDerivative(1), m)


def test_complex_profile_returns_complex():
    # rho = (1 + i) (-G''), a complex profile: the pairing is conj(1 + i) times a real one.
    rho = CustomRidgelet(
        fn=lambda z: (1 + 1j) * (1 - z**2) * jnp.exp(-0.5 * z**2),
        fourier_fn=lambda w: (
            (1 + 1j) * w**2 * jnp.sqrt(2 * jnp.pi) * jnp.exp(-0.5 * w**2)
        ),
    )
    got = admissibility(flowrep.Gaussian(), rho, 1)
    ref = (1 - 1j) * quad_pairing(gaussian_hat, lambda w: w**2 * gaussian_hat(w), 1)
    assert isinstance(got, complex)
    assert got == pytest.approx(ref, rel=1e-10)


# The published pattern, transcribed here independently of flowrep.ACHA_TABLE5.
PUBLISHED = {
    "sigmoid_derivative": "+ 0 +",
    "sigmoid": "inf + 0",
    "softplus": "inf inf +",
    "step": "inf + 0",
    "relu": "inf inf +",
    "identity": "0 0 0",
    "gaussian": "+ 0 +",
}


@pytest.mark.parametrize("dim", [1, 2])
def test_acha_table5(dim):
    table = admissibility_table(dim)
    assert table.dim == dim
    assert list(table.rows) == list(PUBLISHED)
    for row, pattern in PUBLISHED.items():
        assert " ".join(table.status[row]) == pattern, (row, table.reasons[row])
        assert " ".join(flowrep.ACHA_TABLE5[row]) == pattern
        for status, value, reason in zip(
            table.status[row], table.values[row], table.reasons[row]
        ):
            if status == "+":
                assert isinstance(value, float) and math.isfinite(value) and value != 0
                assert reason is None
            else:
                assert value is None
                assert reason is not None and ("vanishes" in reason) == (status == "0")
    assert table.matches_published()
    dumped = json.loads(json.dumps(table.to_dict()))
    assert dumped["matches_published"] is True
    assert dumped["status"]["relu"] == ["inf", "inf", "+"]
    text = table.format()
    assert "sigmoid_derivative" in text and "matches" in text


def test_table5_entry_values_vs_quadrature():
    # Two admissible entries computed numerically inside the table, checked independently.
    table = admissibility_table(1)
    sd = quad_pairing(
        lambda w: math.pi * w / np.sinh(math.pi * w), gauss_deriv_hat(0, 1), 1
    )
    assert table.values["sigmoid_derivative"][0] == pytest.approx(sd, rel=1e-9)
    sg = quad_pairing(sigmoid_hat, gauss_deriv_hat(1, 1), 1)
    assert table.values["sigmoid"][1] == pytest.approx(sg, rel=1e-9)


def test_status_helper():
    assert admissibility_status(flowrep.ReLU(), GaussianDerivative(4), 1) == "+"
    assert admissibility_status(flowrep.ReLU(), GaussianDerivative(2), 1) == "inf"
    assert admissibility_status(flowrep.Gaussian(), GaussianDerivative(1), 1) == "0"


def test_not_admissible_is_value_error():
    assert issubclass(NotAdmissibleError, ValueError)


@pytest.mark.parametrize(
    "sigma,rho,dim,reason,phrase",
    [
        (flowrep.Identity(), GaussianDerivative(2), 1, "vanishes", "omega = 0"),
        (flowrep.Identity(), GaussianDerivative(3), 3, "vanishes", "polynomial"),
        (flowrep.Gaussian(), GaussianDerivative(1), 1, "vanishes", "odd"),
        (flowrep.Gaussian(), GaussianDerivative(3), 2, "vanishes", "odd"),
        (
            flowrep.Tanh(),
            GaussianDerivative(2),
            1,
            "vanishes",
            "Tanh is odd and G^(2) is even",
        ),
        (flowrep.ReLU(), GaussianDerivative(5), 1, "vanishes", "odd"),
        (flowrep.ReLU(), GaussianDerivative(2), 1, "diverges", "omega -> 0"),
        (flowrep.ReLU(), GaussianDerivative(4), 3, "diverges", "|omega|^-1"),
        (flowrep.ReLU(), custom_gauss_deriv(2), 2, "diverges", "|omega|^-2.00"),
        (flowrep.Tanh(), GaussianDerivative(1), 2, "diverges", "omega -> 0"),
        (flowrep.Gaussian(), GaussianDerivative(0), 2, "diverges", "omega -> 0"),
    ],
)
def test_not_admissible_messages(sigma, rho, dim, reason, phrase):
    with pytest.raises(NotAdmissibleError, match=reason) as info:
        admissibility(sigma, rho, dim)
    assert info.value.reason == reason
    assert phrase.lower() in str(info.value).lower()


def test_vanishing_by_cancellation():
    # rho = G'' + G'''': <<Gaussian, rho>> in dim 1 is 2 pi (-Gamma(1) + Gamma(2)) = 0 exactly,
    # though the integrand is even (no parity argument applies).
    rho = CustomRidgelet(
        fn=lambda z: GaussianDerivative(2)(z) + GaussianDerivative(4)(z),
        fourier_fn=lambda w: (
            (-(w**2) + w**4) * jnp.sqrt(2 * jnp.pi) * jnp.exp(-0.5 * w**2)
        ),
        parity=1,
    )
    with pytest.raises(NotAdmissibleError, match="vanishes: the integral cancels"):
        admissibility(flowrep.Gaussian(), rho, 1)


class FourierOnly:
    """A profile known only through its transform (admissibility needs nothing else)."""

    def __init__(self, fn, name):
        self.fourier = fn
        self.name = name


def test_divergence_at_infinity():
    # sigma = Dirac delta (transform 1); rho^# = |w| e^{-1/w^2}: vanishes to all orders at
    # 0 but grows at infinity, so h -> 1 as w -> infinity in dim 1.
    delta = FourierOnly(lambda w: jnp.ones_like(w), "delta")
    rho = FourierOnly(
        lambda w: jnp.abs(w) * jnp.exp(-1.0 / jnp.where(w == 0, 1.0, w) ** 2), "rough"
    )
    with pytest.raises(
        NotAdmissibleError, match="diverges: at omega -> infinity"
    ) as info:
        admissibility(delta, rho, 1)
    assert info.value.reason == "diverges"


def test_non_finite_transform_is_reported():
    bad = CustomActivation(
        fn=jnp.tanh,
        fourier_fn=lambda w: jnp.where(jnp.abs(w - 1.0) < 0.05, jnp.inf, 1.0),
    )
    with pytest.raises(NotAdmissibleError, match="not finite"):
        admissibility(bad, GaussianDerivative(2), 1)


def test_bad_arguments():
    sigma, rho = flowrep.ReLU(), GaussianDerivative(4)
    with pytest.raises(ValueError, match="positive integer"):
        admissibility(sigma, rho, 0)
    with pytest.raises(ValueError, match="positive integer"):
        admissibility(sigma, rho, -2)
    with pytest.raises(TypeError, match="positive integer"):
        admissibility(sigma, rho, 1.5)  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="positive integer"):
        admissibility(sigma, rho, True)
    with pytest.raises(TypeError, match="fourier"):
        admissibility(jnp.tanh, rho, 1)
    with pytest.raises(TypeError, match="fourier"):
        admissibility(sigma, lambda z: z, 1)
    with pytest.raises(ValueError, match="finite real"):
        admissibility(sigma, rho, 1, s=float("inf"))
    with pytest.raises(ValueError, match="positive integer"):
        admissibility_table(0)
    # s only reweights R and S in opposite directions: the pairing does not change.
    assert admissibility(sigma, rho, 2, s=1.0) == admissibility(sigma, rho, 2)
