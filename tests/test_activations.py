import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as si
import scipy.special as ss

import flowrep as fr


ALL = [
    fr.ReLU(),
    fr.LeakyReLU(0.2),
    fr.Tanh(),
    fr.Sigmoid(),
    fr.Softplus(),
    fr.Gaussian(),
    fr.Step(),
    fr.SigmoidDerivative(),
    fr.Identity(),
]


def _gk(k, z):
    # G^(k)(z) = (-1)^k He_k(z) e^{-z^2/2}, from scipy (independent of flowrep)
    return (-1) ** k * ss.eval_hermitenorm(k, z) * np.exp(-(z**2) / 2)


@pytest.mark.parametrize("sigma", ALL, ids=lambda s: s.name)
@pytest.mark.parametrize("k", [4, 5])
def test_fourier_by_parseval(sigma, k):
    """Check sigma^# away from 0 through Parseval against a test function G^(k).

    \\int sigma(z) G^(k)(z) dz = (1/2pi) \\int sigma^#(w) conj((iw)^k) sqrt(2pi) e^{-w^2/2} dw.
    G^(k)'s transform vanishes to order k at 0, so delta terms of sigma^# at 0 do not count.
    """

    def real_side(z):
        return float(np.asarray(sigma(jnp.asarray(z)))) * _gk(k, z)

    lhs = si.quad(real_side, -40, 40, limit=400, points=[0.0])[0]

    def fourier_side(w, part):
        val = (
            complex(np.asarray(sigma.fourier(jnp.asarray(w))))
            * np.conj((1j * w) ** k)
            * np.sqrt(2 * np.pi)
            * np.exp(-(w**2) / 2)
        )
        return val.real if part == 0 else val.imag

    re = (
        si.quad(fourier_side, 1e-12, 40, args=(0,), limit=400)[0]
        + si.quad(fourier_side, -40, -1e-12, args=(0,), limit=400)[0]
    )
    im = (
        si.quad(fourier_side, 1e-12, 40, args=(1,), limit=400)[0]
        + si.quad(fourier_side, -40, -1e-12, args=(1,), limit=400)[0]
    )
    rhs = complex(re, im) / (2 * np.pi)
    assert abs(rhs.imag) < 1e-7
    np.testing.assert_allclose(rhs.real, lhs, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("sigma", ALL, ids=lambda s: s.name)
def test_parity(sigma):
    z = jnp.linspace(0.1, 3.0, 7)
    if sigma.parity == 1:
        np.testing.assert_allclose(sigma(-z), sigma(z))
    elif sigma.parity == -1:
        np.testing.assert_allclose(sigma(-z), -sigma(z))
    else:
        assert not np.allclose(sigma(-z), sigma(z)) and not np.allclose(
            sigma(-z), -sigma(z)
        )


@pytest.mark.parametrize("sigma", ALL, ids=lambda s: s.name)
def test_growth(sigma):
    z = jnp.array([1e3, -1e3])
    vals = np.abs(np.asarray(sigma(z)))
    if sigma.growth < 0:
        assert vals.max() < 1e-6
    else:
        assert vals.max() <= 2 * 1e3**sigma.growth
        if sigma.growth >= 1:
            assert vals.max() > 1e3**sigma.growth / 10


def test_get_activation_and_errors():
    assert isinstance(fr.get_activation("ReLU"), fr.ReLU)
    assert fr.get_activation(fr.Tanh()) == fr.Tanh()
    with pytest.raises(ValueError, match="Unknown activation 'swish'; expected one of"):
        fr.get_activation("swish")
    with pytest.raises(TypeError, match="activation name"):
        fr.get_activation(3)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="0 < alpha < 1"):
        fr.LeakyReLU(1.5)


def test_custom_activation():
    sig = fr.CustomActivation(
        fn=jnp.sin, fourier_fn=jnp.zeros_like, parity=-1, growth=0, name="sin"
    )
    assert sig.name == "sin" and sig.parity == -1
    np.testing.assert_allclose(sig(jnp.array([0.5])), np.sin([0.5]))
    assert sig.fourier(jnp.array([1.0])).dtype.kind == "c"
