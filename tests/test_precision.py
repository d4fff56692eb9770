"""Matrix-product precision by intent (flowrep/_width/_precision.py).

Two checks: the jaxprs of the public entry points carry
`Precision.HIGHEST` exactly on the products that feed a distance, an exponent
or a folded bias (and leave the others to the user's default); and under an
emulated TF32 (every default-precision product rounds its inputs to 10
mantissa bits, as NVIDIA Ampere+ does) the results stay at float32 level.
"""

import contextlib
import math

import jax
import jax._src.lax.lax as lax_internal
import jax.extend as jex
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep
from flowrep import gaussian_ridgelet_transform, GaussianDerivative, RidgeletField


HIGHEST = jax.lax.Precision.HIGHEST


def _subjaxprs(value):
    if isinstance(value, jex.core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jex.core.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _subjaxprs(v)


def dot_generals(fn, *args):
    """`(contracted size, precision)` of every `dot_general` in `fn`'s jaxpr, recursively."""
    found = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "dot_general":
                (lhs_contract, _), _ = eqn.params["dimension_numbers"]
                shape = eqn.invars[0].aval.shape
                size = math.prod(shape[i] for i in lhs_contract)
                precision = eqn.params["precision"]
                if isinstance(precision, tuple):
                    precision = precision[0] if precision[0] == precision[1] else None
                found.append((size, precision))
            for v in eqn.params.values():
                for sub in _subjaxprs(v):
                    walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


D = 3  # the points' dimension: no tile or batch size below is D or D + 1


def _units(key, num, d=D):
    k1, k2 = jr.split(key)
    return jr.normal(k1, (num, d)), jr.normal(k2, (num,))


def _assert_split(dots, inner_sizes, rest_precision=None):
    """Products over `inner_sizes` (the pre-activations) are HIGHEST; the rest `rest_precision`."""
    assert dots, "no dot_general found"
    pre = [p for s, p in dots if s in inner_sizes]
    rest = [p for s, p in dots if s not in inner_sizes]
    assert pre and all(p == HIGHEST for p in pre), dots
    assert rest and all(p == rest_precision for p in rest), dots


@pytest.mark.parametrize("precision", [HIGHEST, None])
def test_jaxpr_ridgelet_transforms(getkey, precision):
    a, b = _units(getkey(), 40)
    x = jr.normal(getkey(), (50, D))
    w = jnp.ones(50)
    rho = GaussianDerivative(2)
    kw = dict(precision=precision)
    r = dot_generals(
        lambda x: flowrep.ridgelet_transform(jnp.sin(x[:, 0]), rho, a, b, x, w, **kw),
        x,
    )
    _assert_split(r, {D + 1}, precision)
    s = dot_generals(
        lambda x: flowrep.dual_ridgelet_transform(
            jnp.ones(40), jnp.tanh, a, b, None, x, **kw
        ),
        x,
    )
    _assert_split(s, {D + 1}, precision)
    # Tiled (scan over column blocks, map over row blocks): the same split.
    t = dot_generals(
        lambda x: flowrep.ridgelet_transform(
            jnp.sin(x[:, 0]), rho, a, b, x, w, chunk_size=70, **kw
        ),
        x,
    )
    _assert_split(t, {D + 1}, precision)


def test_jaxpr_reconstruct(getkey):
    a, b = _units(getkey(), 40)
    x = jr.normal(getkey(), (50, D))
    dots = dot_generals(
        lambda x: flowrep.reconstruct(
            jnp.sin(x[:, 0]),
            jnp.tanh,
            GaussianDerivative(4),
            x,
            jnp.ones(50),
            a,
            b,
            jnp.ones(40),
            x[:7],
            pairing=1.0,
        ),
        x,
    )
    _assert_split(dots, {D + 1}, HIGHEST)


def test_jaxpr_field(getkey):
    field = RidgeletField.random(getkey(), D, 40, sigma="gaussian")
    xs = jr.normal(getkey(), (50, D))
    _assert_split(dot_generals(lambda xs: field.batch_call(0.3, xs), xs), {D})
    div = dot_generals(lambda xs: field.batch_divergence(0.3, xs), xs)
    _assert_split(div, {D})
    one = dot_generals(lambda x: field(0.3, x), xs[0])
    _assert_split(one, {D})


def test_jaxpr_mean_shift_all_highest(getkey):
    cloud = jr.normal(getkey(), (50, D))
    dots = dot_generals(lambda q: flowrep.mean_shift(cloud, 0.1, q), cloud[:20])
    assert dots and all(p == HIGHEST for _, p in dots), dots


def test_jaxpr_refit_normal_equations_highest(getkey):
    a, b = _units(getkey(), 40)
    net = flowrep.IntegralNetwork(a, b, jnp.zeros(40), flowrep.get_activation("tanh"))
    x = jr.normal(getkey(), (60, D))
    y = jnp.sin(x[:, 0])
    dots = dot_generals(lambda x: flowrep.refit_output(net, x, y).c, x)
    highest = [s for s, p in dots if p == HIGHEST]
    # The pre-activations (inner D), the Gram matrix and the right-hand side
    # (inner: the 60 points).
    assert D in highest and highest.count(60) >= 2, dots


# ---------------------------------------------------------------- TF32 emulation


def tf32(x):
    """Round to TF32: float32's 8 exponent bits, 10 mantissa bits (round to nearest)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return jax.lax.reduce_precision(x, exponent_bits=8, mantissa_bits=10)


@contextlib.contextmanager
def emulated_tf32(monkeypatch):
    """Every `dot_general` at the default precision rounds its inputs to TF32."""
    original = lax_internal.dot_general

    def rounded(lhs, rhs, dimension_numbers, precision=None, *args, **kwargs):
        canon = lax_internal.canonicalize_precision(precision)
        if canon is None or (
            isinstance(canon, tuple)
            and all(p in (None, jax.lax.Precision.DEFAULT) for p in canon)
        ):
            lhs, rhs = tf32(lhs), tf32(rhs)
        return original(lhs, rhs, dimension_numbers, precision, *args, **kwargs)

    jax.clear_caches()  # compiled traces from before the patch would bypass it
    with monkeypatch.context() as m:
        m.setattr(lax_internal, "dot_general", rounded)
        yield
    jax.clear_caches()


def test_emulation_rounds_default_products(monkeypatch):
    x = jnp.float32(1 + 2**-15) * jnp.ones((1, 4), jnp.float32)
    y = jnp.ones((4, 1), jnp.float32)
    with emulated_tf32(monkeypatch):
        low = float((x @ y)[0, 0])
        high = float(jnp.matmul(x, y, precision=HIGHEST)[0, 0])
    assert low == 4.0
    assert high == pytest.approx(4 * (1 + 2**-15), rel=1e-7)


def _bump_problem(key, k):
    """R[f; G^(k)] of a Gaussian bump in 2-D: grid nodes, float32 inputs."""
    k1, k2, k3 = jr.split(key, 3)
    mean = np.array([0.6, -0.4])
    cov = np.array([[0.8, 0.2], [0.2, 0.5]])
    a = np.asarray(jr.normal(k1, (32, 2)), np.float64) / math.sqrt(2)
    b = 3.0 * np.asarray(jr.normal(k2, (32,)), np.float64)  # far ridges too
    t = np.linspace(-11.0, 11.0, 161)
    h = t[1] - t[0]
    grid = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    chol = np.linalg.cholesky(cov)
    x = mean + grid @ chol.T
    w = np.full(x.shape[0], h**2 * np.prod(np.diag(chol)))
    d = x - mean
    f = np.exp(-0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d))
    with jax.default_device(jax.devices("cpu")[0]):
        closed = np.asarray(
            gaussian_ridgelet_transform(
                jnp.asarray(a), jnp.asarray(b), jnp.asarray(mean), jnp.asarray(cov), k
            ),
            np.float64,
        )
    f32 = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
    return closed, (f32(f), f32(a), f32(b), f32(x), f32(w))


@pytest.mark.parametrize("k", [1, 4])
def test_tf32_ridgelet_transform_of_bump(getkey, monkeypatch, k):
    closed, (f, a, b, x, w) = _bump_problem(getkey(), k)
    scale = np.max(np.abs(closed))
    rho = GaussianDerivative(k)
    with emulated_tf32(monkeypatch):
        numeric = np.asarray(flowrep.ridgelet_transform(f, rho, a, b, x, w))
        # What flowrep computed before: the folded-bias product at the default.
        ab = jnp.concatenate([a, b[:, None]], 1)
        x1 = jnp.concatenate([x, -jnp.ones((x.shape[0], 1), x.dtype)], 1)
        naive = np.asarray(rho(ab @ x1.T) @ (w * f))
    err = np.max(np.abs(numeric - closed)) / scale
    naive_err = np.max(np.abs(naive - closed)) / scale
    assert err < 1e-5, err
    assert naive_err > 10 * err  # the emulation bites where precision is not set


def test_tf32_mean_shift(getkey, monkeypatch):
    cloud = np.asarray(3.0 + jr.normal(getkey(), (400, 2)), np.float64)
    queries = cloud[:50] + 0.05 * np.asarray(jr.normal(getkey(), (50, 2)))
    t = 0.05
    # float64 brute force in NumPy
    sq = np.sum((queries[:, None] - cloud[None]) ** 2, -1)
    logits = -sq / (2 * t)
    p = np.exp(logits - logits.max(1, keepdims=True))
    ref = (p @ cloud) / p.sum(1, keepdims=True)
    c32, q32 = jnp.asarray(cloud, jnp.float32), jnp.asarray(queries, jnp.float32)
    with emulated_tf32(monkeypatch):
        out = np.asarray(flowrep.mean_shift(c32, t, q32))
        hs = 0.5 * jnp.sum(c32**2, -1)
        naive_logits = (q32 @ c32.T - hs[None]) / t
        pn = jnp.exp(naive_logits - naive_logits.max(1, keepdims=True))
        naive = np.asarray((pn @ c32) / pn.sum(1, keepdims=True))
    err = np.max(np.abs(out - ref))
    assert err < 2e-5 * np.max(np.abs(cloud)), err  # float32 level
    assert np.max(np.abs(naive - ref)) > 10 * err
