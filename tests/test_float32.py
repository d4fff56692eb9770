"""The numerical core in float32: what GPU users run.

These tests run in both CI passes: with `jax_enable_x64` on (the default) and
with it off (`FLOWREP_TEST_X64=0 python -m pytest -m float32`, see
tests/conftest.py). Inputs are built in the run's float dtype; each test
states its tolerance for float64 and for float32. References are computed
in NumPy float64 or in closed form, never by the routine under test.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep
from flowrep import GaussianDerivative, RidgeletField


def _dtype(x64: bool):
    return jnp.float64 if x64 else jnp.float32


def test_run_dtype_follows_flag(x64):
    assert jnp.asarray(1.0).dtype == (jnp.float64 if x64 else jnp.float32)


@pytest.mark.parametrize("k", [0, 3])
def test_ridgelet_transform_of_bump_against_closed_form(getkey, x64, k):
    dt = _dtype(x64)
    mean = jnp.array([0.3, -0.2], dt)
    cov = jnp.array([[0.7, 0.1], [0.1, 0.4]], dt)
    a = (jr.normal(getkey(), (24, 2)) / math.sqrt(2)).astype(dt)
    b = (1.5 * jr.normal(getkey(), (24,))).astype(dt)
    t = np.linspace(-11.0, 11.0, 161)
    h = t[1] - t[0]
    grid = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    chol = np.linalg.cholesky(np.asarray(cov, np.float64))
    x = np.asarray(mean, np.float64) + grid @ chol.T
    w = np.full(x.shape[0], h**2 * np.prod(np.diag(chol)))
    d = x - np.asarray(mean, np.float64)
    prec = np.linalg.inv(np.asarray(cov, np.float64))
    f = np.exp(-0.5 * np.einsum("ni,ij,nj->n", d, prec, d))
    numeric = flowrep.ridgelet_transform(
        jnp.asarray(f, dt),
        GaussianDerivative(k),
        a,
        b,
        jnp.asarray(x, dt),
        jnp.asarray(w, dt),
    )
    assert numeric.dtype == dt
    closed = np.asarray(flowrep.gaussian_ridgelet_transform(a, b, mean, cov, k))
    scale = np.max(np.abs(closed))
    tol = 1e-10 if x64 else 2e-6  # of max|R|; float32 measures ~3e-7
    err = np.max(np.abs(np.asarray(numeric, np.float64) - closed)) / scale
    assert err < tol, err


def test_dual_transform_against_numpy(getkey, x64):
    dt = _dtype(x64)
    a = jr.normal(getkey(), (300, 3)).astype(dt)
    b = jr.normal(getkey(), (300,)).astype(dt)
    gamma = jr.normal(getkey(), (300, 2)).astype(dt)
    x = jr.normal(getkey(), (70, 3)).astype(dt)
    out = flowrep.dual_ridgelet_transform(
        gamma, jnp.tanh, a, b, None, x, chunk_size=999
    )
    a64, b64, g64, x64_ = (np.asarray(v, np.float64) for v in (a, b, gamma, x))
    ref = np.tanh(x64_ @ a64.T - b64) @ g64
    tol = 1e-12 if x64 else 2e-5  # relative to max|S|: 300 terms of size ~1
    assert out.dtype == dt
    assert np.max(np.abs(np.asarray(out, np.float64) - ref)) < tol * np.max(np.abs(ref))


def test_mean_shift_against_numpy(getkey, x64):
    dt = _dtype(x64)
    cloud = (3.0 + jr.normal(getkey(), (500, 2))).astype(dt)
    queries = (cloud[:40] + 0.1 * jr.normal(getkey(), (40, 2))).astype(dt)
    t = 0.05
    out = flowrep.mean_shift(cloud, t, queries, chunk_size=3000)
    c, q = np.asarray(cloud, np.float64), np.asarray(queries, np.float64)
    logits = -np.sum((q[:, None] - c[None]) ** 2, -1) / (2 * t)
    p = np.exp(logits - logits.max(1, keepdims=True))
    ref = p @ c / p.sum(1, keepdims=True)
    tol = 1e-11 if x64 else 1e-5  # absolute, points of size ~3
    assert out.dtype == dt
    assert np.max(np.abs(np.asarray(out, np.float64) - ref)) < tol


def test_field_batch_call_and_divergence_against_numpy(getkey, x64):
    dt = _dtype(x64)
    field = RidgeletField.random(getkey(), 3, 64, sigma="tanh")
    field = jax.tree_util.tree_map(
        lambda v: v.astype(dt) if eqx_inexact(v) else v, field
    )
    xs = jr.normal(getkey(), (50, 3)).astype(dt)
    v, div = field.batch_divergence(0.4, xs)
    a, b, c = (np.asarray(u, np.float64) for u in field.units_at(0.4))
    z = np.asarray(xs, np.float64) @ a.T - b
    ref_v = np.tanh(z) @ c
    ref_div = (1 - np.tanh(z) ** 2) @ np.sum(a * c, -1)
    tol = 1e-12 if x64 else 3e-5  # relative to the largest value
    assert v.dtype == dt
    assert np.max(np.abs(np.asarray(v) - ref_v)) < tol * np.max(np.abs(ref_v))
    assert np.max(np.abs(np.asarray(div) - ref_div)) < tol * np.max(np.abs(ref_div))


def eqx_inexact(v) -> bool:
    return isinstance(v, jax.Array) and jnp.issubdtype(v.dtype, jnp.inexact)


def _linear(t, x, args):
    return -0.7 * x


def test_flow_of_linear_field_against_exponential(getkey, x64):
    dt = _dtype(x64)
    x0 = jr.normal(getkey(), (20, 2)).astype(dt)
    res = flowrep.flow(_linear, x0, 0.0, 1.5, rtol=1e-5, atol=1e-6)
    ref = np.asarray(x0, np.float64) * math.exp(-0.7 * 1.5)
    # Error control at rtol 1e-5 in either precision; float32 adds ~1e-7 per step.
    tol = 2e-5
    assert res.xs.dtype == dt
    assert np.max(np.abs(np.asarray(res.xs, np.float64) - ref)) < tol


def test_refit_residual_against_lstsq(getkey, x64):
    dt = _dtype(x64)
    a = (2.0 * jr.normal(getkey(), (40, 1))).astype(dt)
    b = (2.0 * jr.normal(getkey(), (40,))).astype(dt)
    net = flowrep.IntegralNetwork(
        a, b, jnp.zeros(40, dt), flowrep.get_activation("tanh")
    )
    x = jnp.linspace(-2, 2, 400, dtype=dt)[:, None]
    y = jnp.sin(2 * x[:, 0])
    refit = flowrep.refit_output(net, x, y, ridge=1e-4)
    phi = np.tanh(
        np.asarray(x, np.float64) @ np.asarray(a, np.float64).T
        - np.asarray(b, np.float64)
    )
    y64 = np.asarray(y, np.float64)
    # The same ridge problem in float64: lambda = ridge * mean diagonal of the Gram.
    gram = phi.T @ phi
    lam = 1e-4 * np.trace(gram) / gram.shape[0]
    c_ref = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), phi.T @ y64)
    best = np.linalg.norm(phi @ c_ref - y64)
    got = np.linalg.norm(phi @ np.asarray(refit.c, np.float64) - y64)
    # float64 reproduces the reference; a float32 Gram (condition ~1e4 after
    # the ridge) loses some of the fit: stated as a factor on the residual.
    factor = 1.001 if x64 else 1.5
    assert got <= factor * best, (got, best)
