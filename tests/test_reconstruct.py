"""Reconstruction f = S[R f] / <<sigma, rho>> (ACHA section 7) and ghosts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as si
import scipy.special

import flowrep as fr

from .helpers import loglog_slope


def _g(k):
    coeffs = {2: (1.0, 0.0, -1.0), 4: (1.0, 0.0, -6.0, 0.0, 3.0)}[k]

    def rho(z):
        return jnp.polyval(jnp.asarray(coeffs), z) * jnp.exp(-(z**2) / 2)

    return rho


def _pairing_1d(sigma_hat, k):
    """<<sigma, G^(k)>> in 1-D by scipy quadrature (independent of flowrep)."""

    def integrand(w):
        return (
            sigma_hat(w)
            * np.conj((1j * w) ** k)
            * np.sqrt(2 * np.pi)
            * np.exp(-(w**2) / 2)
        ).real / abs(w)

    return 2 * si.quad(integrand, 0, np.inf)[0] if k % 2 == 0 else 0.0


RELU_G4 = _pairing_1d(lambda w: -1 / w**2, 4)
GAUSS_G2 = _pairing_1d(lambda w: np.sqrt(2 * np.pi) * np.exp(-(w**2) / 2), 2)


def test_pairings_used_here():
    np.testing.assert_allclose(RELU_G4, -2 * np.sqrt(2 * np.pi), rtol=1e-8)
    np.testing.assert_allclose(GAUSS_G2, -2 * np.pi, rtol=1e-8)


def _sin(p):
    return jnp.sin(2 * jnp.pi * p[0])


def _bump(p):
    return jnp.exp(-(p[0] ** 2) / (2 * 0.3**2))


@pytest.mark.parametrize(
    "sigma, k, pairing, f, lim, max_slope",
    [
        (fr.ReLU(), 4, RELU_G4, _sin, 1.0, -0.9),
        (fr.Gaussian(), 2, GAUSS_G2, _sin, 1.0, -1.5),
        (fr.ReLU(), 4, RELU_G4, _bump, 3.0, -0.9),
        (fr.Gaussian(), 2, GAUSS_G2, _bump, 3.0, -1.5),
    ],
    ids=["relu-sin", "gauss-sin", "relu-bump", "gauss-bump"],
)
def test_reconstruction_error_falls(sigma, k, pairing, f, lim, max_slope):
    """ACHA section 7: Riemann sums over (a, b) in [-A, A]^2; refining the grid and
    growing A together, the sup error on [-0.8, 0.8] falls (ReLU like 1/A: its
    spectrum decays like |a|^-2)."""
    xe = jnp.linspace(-0.8, 0.8, 41)[:, None]
    fe = jax.vmap(f)(xe)
    sizes = [(10.0, 100), (20.0, 200), (40.0, 400)]
    errs = []
    for big_a, num in sizes:
        x, w = fr.grid_nodes(-lim, lim, num)
        a, b, wab = fr.parameter_grid(big_a, big_a, num, num)
        rec = fr.reconstruct(f, sigma, _g(k), x, w, a, b, wab, xe, pairing=pairing)
        errs.append(float(jnp.max(jnp.abs(rec - fe))))
    assert errs[0] > errs[1] > errs[2]
    assert errs[-1] < 0.1
    assert loglog_slope([s[0] for s in sizes], errs) < max_slope, errs


@pytest.mark.parametrize(
    "rho,kept",
    [
        # ReLU pairing integrands: |zeta| e^{-zeta^2/2} for G^(4), e^{-zeta^2/2} for
        # ACHA's Lambda^1 G^(2); the part from |zeta| >= c keeps e^{-c^2/2}, erfc(c/sqrt 2).
        (fr.GaussianDerivative(4), lambda c: np.exp(-(c**2) / 2)),
        (fr.LambdaGaussian(1, 2), lambda c: scipy.special.erfc(c / np.sqrt(2))),
    ],
)
def test_truncated_scales_shrink_a_sinusoid_by_the_lost_pairing(rho, kept):
    # Cutting the units at |a| <= A drops the frequencies |zeta| = 2 pi / |a| < 2 pi / A
    # of the pairing integral, so sin(2 pi x) comes back scaled by the kept fraction.
    # ACHA's Lambda^1 G^(2) puts far more of its pairing there than G^(4) does.
    big_a, num = 20.0, 200
    x, w = fr.grid_nodes(-1.0, 1.0, num)
    a, b, wab = fr.parameter_grid(big_a, big_a, num, num)
    xe = jnp.linspace(-0.8, 0.8, 161)[:, None]
    fe = np.sin(2 * np.pi * np.asarray(xe[:, 0]))
    sigma = fr.ReLU()
    gamma = fr.ridgelet_transform(lambda p: jnp.sin(2 * jnp.pi * p[0]), rho, a, b, x, w)
    rec = np.asarray(fr.dual_ridgelet_transform(gamma, sigma, a, b, wab, xe))
    rec = rec / fr.admissibility(sigma, rho, 1)
    amplitude = rec @ fe / (fe @ fe)
    np.testing.assert_allclose(amplitude, kept(2 * np.pi / big_a), atol=0.03)
    assert np.max(np.abs(rec - amplitude * fe)) < 0.1  # a scaled copy of f


def test_ghost_non_admissible_pair_reconstructs_zero():
    """tanh (odd) with G'' (even): the pairing vanishes and S[R f] is a ghost (~0)."""
    xe = jnp.linspace(-0.8, 0.8, 41)[:, None]
    x, w = fr.grid_nodes(-1.0, 1.0, 200)
    a, b, wab = fr.parameter_grid(20.0, 20.0, 200, 200)
    gamma = fr.ridgelet_transform(_sin, _g(2), a, b, x, w)
    ghost = fr.dual_ridgelet_transform(gamma, fr.Tanh(), a, b, wab, xe)
    # the same spectrum with an admissible activation gives -2 pi f, not 0
    real = fr.dual_ridgelet_transform(gamma, fr.Gaussian(), a, b, wab, xe)
    scale = float(jnp.max(jnp.abs(real)))
    assert scale > 5.0
    assert float(jnp.max(jnp.abs(ghost))) < 1e-3 * scale


def test_vector_valued_reconstruction():
    xe = jnp.linspace(-0.8, 0.8, 21)[:, None]

    def f(p):
        return jnp.stack([_sin(p), _bump(p)])

    x, w = fr.grid_nodes(-1.0, 1.0, 200)
    a, b, wab = fr.parameter_grid(20.0, 20.0, 200, 200)
    rec = fr.reconstruct(f, fr.Gaussian(), _g(2), x, w, a, b, wab, xe, pairing=GAUSS_G2)
    assert rec.shape == (21, 2)
    for i, fi in enumerate([_sin, _bump]):
        scalar = fr.reconstruct(
            fi, fr.Gaussian(), _g(2), x, w, a, b, wab, xe, pairing=GAUSS_G2
        )
        np.testing.assert_allclose(rec[:, i], scalar, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rec, jax.vmap(f)(xe), atol=0.1)


@pytest.mark.slow
def test_reconstruction_2d_monte_carlo(getkey):
    """A 2-D Gaussian bump from Monte Carlo units (Gaussian activation, G^(4)).

    G^(4), not G^(2): with k = m = 2 the spectrum of a Gaussian decays like
    |a|^-k per unit b-width, which is not integrable over a in R^2 (log
    divergent), so Monte Carlo over (a, b) has infinite variance although the
    pairing is finite. The x-grid must also resolve rho(a . x - b) at the
    sampled |a| (spacing << 1/|a|), hence the moderate proposal scale.
    """
    pairing = (
        (2 * np.pi) ** 2 * np.sqrt(np.pi) / 2
    )  # (2pi)^m (-1)^{k/2} Gamma((k-m+1)/2), m=2, k=4

    def f(p):
        return jnp.exp(-jnp.sum(p**2) / (2 * 0.5**2))

    x, w = fr.grid_nodes(-3.0, 3.0, 60, dim=2)
    a, b, wab = fr.sample_parameters(
        getkey(), 100_000, 2, radius_law="gaussian", a_scale=3.0, x_radius=2.0
    )
    xe = jax.random.uniform(getkey(), (30, 2), minval=-1, maxval=1)
    rec = fr.reconstruct(f, fr.Gaussian(), _g(4), x, w, a, b, wab, xe, pairing=pairing)
    np.testing.assert_allclose(rec, jax.vmap(f)(xe), atol=0.06)


def test_bad_pairing():
    x, w = fr.grid_nodes(-1.0, 1.0, 10)
    a, b, wab = fr.parameter_grid(1.0, 1.0, 5, 5)
    with pytest.raises(ValueError, match="finite and non-zero"):
        fr.reconstruct(_sin, fr.Tanh(), _g(2), x, w, a, b, wab, x, pairing=0.0)
