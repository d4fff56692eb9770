"""`fit`'s flowrep Sinkhorn loss (`sinkhorn_backend="flowrep"`) on one
device, against things it did not compute: a brute-force NumPy log-domain
Sinkhorn divergence, central finite differences and ott-jax. (Over a mesh:
tests/sharded/test_ring_loss.py.)"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.special import logsumexp

import flowrep as fr
from flowrep._depth._fit import _sinkhorn_loss
from flowrep._depth._ring_loss import ring_sinkhorn_loss


def _ot(x, y, eps, iters=3000):
    """OT_eps between uniform clouds, dense log-domain Sinkhorn in NumPy."""
    C = ((x[:, None] - y[None]) ** 2).sum(-1)
    la, lb = -np.log(len(x)), -np.log(len(y))
    f, g = np.zeros(len(x)), np.zeros(len(y))
    for _ in range(iters):
        f = -eps * logsumexp(lb + (g[None] - C) / eps, axis=1)
        g = -eps * logsumexp(la + (f[:, None] - C) / eps, axis=0)
    return f.mean() + g.mean()


def _ot_self(x, eps, iters=3000):
    """OT_eps(mu, mu): plain Sinkhorn oscillates on a self problem, so the
    symmetric fixed point f = T(f) is reached by damped iterations."""
    C = ((x[:, None] - x[None]) ** 2).sum(-1)
    la = -np.log(len(x))
    f = np.zeros(len(x))
    for _ in range(iters):
        f = 0.5 * (f - eps * logsumexp(la + (f[None] - C) / eps, axis=1))
    return 2 * f.mean()


def _clouds():
    x = np.asarray(jr.normal(jr.PRNGKey(0), (9, 2)))
    y = np.asarray(jr.normal(jr.PRNGKey(1), (7, 2))) * 0.7 + 0.3
    return x, y


@pytest.mark.slow  # two compilations of the solver: ~75 s on the loaded 2 cores
def test_value_and_gradient_against_brute_force():
    x, y = _clouds()
    eps = 0.5
    want = _ot(x, y, eps) - 0.5 * _ot_self(x, eps) - 0.5 * _ot_self(y, eps)
    loss = jax.jit(lambda x, y: ring_sinkhorn_loss(x, y, eps, threshold=1e-13))
    value, (gx, gy) = jax.value_and_grad(loss, (0, 1))(jnp.asarray(x), jnp.asarray(y))
    np.testing.assert_allclose(value, want, rtol=1e-10)
    h = 1e-5
    for i, k in ((0, 0), (4, 1), (8, 0)):
        d = np.zeros_like(x)
        d[i, k] = h
        fd = (loss(x + d, y) - loss(x - d, y)) / (2 * h)
        np.testing.assert_allclose(gx[i, k], fd, rtol=1e-6, atol=1e-10)
    d = np.zeros_like(y)
    d[2, 1] = h
    fd = (loss(x, y + d) - loss(x, y - d)) / (2 * h)
    np.testing.assert_allclose(gy[2, 1], fd, rtol=1e-6, atol=1e-10)


@pytest.mark.slow  # ott-jax's compile
def test_agrees_with_ott_to_solver_tolerance():
    """At the default stopping rule (L1 marginal error <= 1e-3, ott-jax's
    too) the two solvers' values agree to ~1e-6 and their gradients to
    ~1e-3 relative (measured 4e-7 and 1e-3)."""
    x, y = map(jnp.asarray, _clouds())
    v0, g0 = jax.value_and_grad(lambda x: _sinkhorn_loss(x, y, 0.5))(x)
    v1, g1 = jax.value_and_grad(lambda x: ring_sinkhorn_loss(x, y, 0.5))(x)
    np.testing.assert_allclose(v1, v0, rtol=1e-5)
    assert float(jnp.max(jnp.abs(g1 - g0)) / jnp.max(jnp.abs(g0))) < 1e-2


def test_fit_sinkhorn_backend_errors():
    """Refused before any work (the field is not even looked at)."""
    x = np.zeros((4, 2))
    with pytest.raises(
        ValueError, match="`sinkhorn_backend` must be 'auto', 'ott' or 'flowrep'"
    ):
        fr.fit(None, x, x, key=jr.PRNGKey(0), sinkhorn_backend="pot", progress=False)  # pyright: ignore[reportArgumentType]
