import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as si

import flowrep as fr


@pytest.mark.parametrize("rule", ["midpoint", "trapezoid"])
def test_grid_integrates_against_scipy(rule):
    x, w = fr.grid_nodes([-1.0, 0.0], [2.0, 1.5], 120, rule=rule)
    g = np.exp(-(x[:, 0] ** 2)) * np.cos(x[:, 1])
    ref = si.dblquad(lambda y, x_: np.exp(-(x_**2)) * np.cos(y), -1, 2, 0, 1.5)[0]
    np.testing.assert_allclose(jnp.sum(w * g), ref, rtol=1e-4)


def test_grid_order_two():
    errs, hs = [], []
    for num in [10, 20, 40, 80]:
        x, w = fr.grid_nodes(0.0, 1.0, num)
        errs.append(abs(float(jnp.sum(w * jnp.exp(x[:, 0]))) - (np.e - 1)))
        hs.append(1 / num)
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert 1.9 < slope < 2.1


def test_parameter_grid_volume():
    a, b, w = fr.parameter_grid(3.0, 2.0, 11, 7, dim=2)
    assert a.shape == (11 * 11 * 7, 2) and b.shape == (11 * 11 * 7,)
    np.testing.assert_allclose(w.sum(), 6.0 * 6.0 * 4.0)


def test_gaussian_nodes_unbiased(getkey):
    x, w = fr.gaussian_nodes(getkey(), 200_000, [0.5, -1.0], [[2.0, 0.3], [0.3, 1.0]])
    # \int exp(-|x|^2) dx over R^2 = pi
    est = jnp.sum(w * jnp.exp(-jnp.sum(x**2, axis=1)))
    np.testing.assert_allclose(est, np.pi, rtol=0.03)


@pytest.mark.parametrize("law", ["gaussian", "cauchy"])
@pytest.mark.parametrize("dim", [1, 3])
def test_parameter_proposals_unbiased(getkey, law, dim):
    a, b, w = fr.sample_parameters(getkey(), 400_000, dim, radius_law=law, a_scale=1.5)
    # \int exp(-|a|^2/2 - b^2/2) da db = (2 pi)^{(dim+1)/2}
    est = jnp.sum(w * jnp.exp(-0.5 * jnp.sum(a**2, axis=1) - 0.5 * b**2))
    np.testing.assert_allclose(est, (2 * np.pi) ** ((dim + 1) / 2), rtol=0.05)


def test_uniform_ball_truncates(getkey):
    a, b, w = fr.sample_parameters(
        getkey(), 400_000, 2, radius_law="uniform", a_scale=2.0
    )
    assert float(jnp.linalg.norm(a, axis=1).max()) <= 2.0
    ref = 2 * np.pi * (1 - np.exp(-2.0)) * np.sqrt(2 * np.pi)
    est = jnp.sum(w * jnp.exp(-0.5 * jnp.sum(a**2, axis=1) - 0.5 * b**2))
    np.testing.assert_allclose(est, ref, rtol=0.05)


def test_bad_input(getkey):
    with pytest.raises(ValueError, match="upper > lower"):
        fr.grid_nodes(1.0, 0.0, 10)
    with pytest.raises(ValueError, match="num must be"):
        fr.grid_nodes(0.0, 1.0, 0)
    with pytest.raises(ValueError, match="positive definite"):
        fr.gaussian_nodes(getkey(), 10, [0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match=r"cov must have shape \(2, 2\)"):
        fr.gaussian_nodes(getkey(), 10, [0.0, 0.0], np.eye(3))
    with pytest.raises(ValueError, match="Unknown radius_law"):
        fr.sample_parameters(getkey(), 10, 2, radius_law="pareto")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="a_max and b_max must be positive"):
        fr.parameter_grid(0.0, 1.0, 3, 3)
