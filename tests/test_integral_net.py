import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep as fr

from .helpers import loglog_slope


def test_call_evaluate_and_mlp_round_trip(getkey):
    a = jax.random.normal(getkey(), (30, 3))
    b = jax.random.normal(getkey(), (30,))
    c = jax.random.normal(getkey(), (30, 2))
    net = fr.IntegralNetwork(a, b, c, fr.Tanh(), bias=jnp.array([0.5, -1.0]))
    x = jax.random.normal(getkey(), (17, 3))
    ref = np.tanh(np.asarray(x) @ np.asarray(a).T - np.asarray(b)) @ np.asarray(c) + [
        0.5,
        -1.0,
    ]
    np.testing.assert_allclose(jax.vmap(net)(x), ref, rtol=1e-10)
    np.testing.assert_allclose(net.evaluate(x, chunk_size=50), ref, rtol=1e-10)
    mlp = net.to_mlp()
    np.testing.assert_allclose(jax.vmap(mlp)(x), ref, rtol=1e-10)
    back = fr.IntegralNetwork.from_mlp(mlp)
    assert eqx.tree_equal(back.a, net.a) and eqx.tree_equal(back.c, net.c)


def test_from_mlp_scalar_and_relu(getkey):
    mlp = eqx.nn.MLP(2, "scalar", 16, depth=1, activation=jax.nn.relu, key=getkey())
    net = fr.IntegralNetwork.from_mlp(mlp)
    assert isinstance(net.sigma, fr.ReLU)
    x = jax.random.normal(getkey(), (9, 2))
    np.testing.assert_allclose(jax.vmap(net)(x), jax.vmap(mlp)(x), rtol=1e-10)


def test_mlp_errors(getkey):
    deep = eqx.nn.MLP(2, 2, 8, depth=2, key=getkey())
    with pytest.raises(ValueError, match="one-hidden-layer"):
        fr.IntegralNetwork.from_mlp(deep)
    odd = eqx.nn.MLP(2, 2, 8, depth=1, activation=jax.nn.gelu, key=getkey())
    with pytest.raises(ValueError, match="pass `sigma=`"):
        fr.IntegralNetwork.from_mlp(odd)


def test_construction_errors():
    with pytest.raises(ValueError, match="`c` must have shape"):
        fr.IntegralNetwork(jnp.ones((4, 2)), jnp.ones(4), jnp.ones(3), fr.ReLU())
    with pytest.raises(ValueError, match="`b` must have shape"):
        fr.IntegralNetwork(jnp.ones((4, 2)), jnp.ones(5), jnp.ones(4), fr.ReLU())
    net = fr.IntegralNetwork(jnp.ones((4, 2)), jnp.ones(4), jnp.ones(4), fr.ReLU())
    with pytest.raises(ValueError, match=r"one point of shape \(2,\)"):
        net(jnp.ones(3))


def test_oracle_sampling_converges(getkey):
    """Sampled networks approach S[gamma] at the Monte Carlo rate J^{-1/2}."""
    a, b, w = fr.parameter_grid(4.0, 4.0, 41, 41)
    gamma = jnp.exp(-0.5 * (a[:, 0] ** 2 + b**2)) * jnp.sin(a[:, 0] - b)
    xe = jnp.linspace(-2, 2, 50)[:, None]
    exact = fr.dual_ridgelet_transform(gamma, fr.Tanh(), a, b, w, xe)
    sizes = [100, 400, 1600, 6400]
    errs = []
    for num in sizes:
        trials = [
            jnp.sqrt(
                jnp.mean(
                    (
                        fr.sample_network(
                            gamma, a, b, w, fr.Tanh(), num, key=getkey()
                        ).evaluate(xe)
                        - exact
                    )
                    ** 2
                )
            )
            for _ in range(8)
        ]
        errs.append(float(jnp.mean(jnp.stack(trials))))
    slope = loglog_slope(sizes, errs)
    assert -0.65 < slope < -0.35, (errs, slope)


def test_refit_reduces_error(getkey):
    a, b, w = fr.parameter_grid(4.0, 4.0, 41, 41)
    gamma = jnp.exp(-0.5 * (a[:, 0] ** 2 + b**2)) * jnp.sin(a[:, 0] - b)
    xs = jnp.linspace(-2, 2, 200)[:, None]
    ys = fr.dual_ridgelet_transform(gamma, fr.Tanh(), a, b, w, xs)
    key = getkey()
    raw = fr.sample_network(gamma, a, b, w, fr.Tanh(), 64, key=key)
    fit = fr.sample_network(gamma, a, b, w, fr.Tanh(), 64, key=key, refit=(xs, ys))
    err_raw = float(jnp.sqrt(jnp.mean((raw.evaluate(xs) - ys) ** 2)))
    err_fit = float(jnp.sqrt(jnp.mean((fit.evaluate(xs) - ys) ** 2)))
    assert err_fit < err_raw / 10
    # chunked normal equations agree with a dense least-squares solve
    phi = jnp.tanh(xs @ fit.a.T - fit.b)
    dense = fr.refit_output(raw, xs, ys, chunk_size=10**8)
    chunked = fr.refit_output(raw, xs, ys, chunk_size=300)
    # (compare predictions: the Gram matrix is ill-conditioned, so c itself is not stable)
    np.testing.assert_allclose(
        chunked.evaluate(xs), dense.evaluate(xs), rtol=0, atol=1e-6
    )
    assert float(jnp.sqrt(jnp.mean((phi @ fit.c - ys) ** 2))) == pytest.approx(
        err_fit, rel=1e-6
    )


def test_sampling_errors(getkey):
    a, b, w = fr.parameter_grid(1.0, 1.0, 5, 5)
    with pytest.raises(ValueError, match="nothing to sample"):
        fr.sample_network(jnp.zeros(25), a, b, w, "tanh", 10, key=getkey())
    with pytest.raises(ValueError, match="`gamma` must have shape"):
        fr.sample_network(jnp.ones(24), a, b, w, "tanh", 10, key=getkey())
    with pytest.raises(ValueError, match="NaN"):
        fr.sample_network(jnp.full(25, jnp.nan), a, b, w, "tanh", 10, key=getkey())
    with pytest.raises(ValueError, match="num_units must be >= 1"):
        fr.sample_network(jnp.ones(25), a, b, w, "tanh", 0, key=getkey())
