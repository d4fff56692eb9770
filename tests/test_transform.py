import re
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep as fr


def _numpy_ridgelet(fx, rho, a, b, x, w, s=0.0):
    z = np.asarray(a) @ np.asarray(x).T - np.asarray(b)[:, None]
    vals = np.asarray(fx).reshape(len(x), -1) * np.asarray(w)[:, None]
    out = np.asarray(rho(z)) @ vals
    out = out * (np.linalg.norm(a, axis=1) ** s)[:, None]
    return out


def _numpy_dual(gamma, sigma, a, b, w, x, s=0.0):
    z = np.asarray(x) @ np.asarray(a).T - np.asarray(b)[None, :]
    coeff = np.asarray(w) / np.linalg.norm(a, axis=1) ** s
    return np.asarray(sigma(z)) @ (
        np.asarray(gamma).reshape(len(a), -1) * coeff[:, None]
    )


def _problem(getkey, n=301, num_units=257, m=3):
    x = jax.random.normal(getkey(), (n, m))
    w = jax.random.uniform(getkey(), (n,))
    a = jax.random.normal(getkey(), (num_units, m))
    b = jax.random.normal(getkey(), (num_units,))
    return x, w, a, b


def _g2(z):
    return (z**2 - 1) * jnp.exp(-(z**2) / 2)


@pytest.mark.parametrize("chunk_size", [1, 97, 5000, 10**8])
@pytest.mark.parametrize("vector", [False, True])
def test_ridgelet_transform_matches_brute_force(getkey, chunk_size, vector):
    x, w, a, b = _problem(getkey)
    if vector:

        def f(p):
            return jnp.stack([jnp.sin(p[0]), p[1] * p[2]])
    else:

        def f(p):
            return jnp.cos(p[0] + p[1])

    out = fr.ridgelet_transform(f, _g2, a, b, x, w, chunk_size=chunk_size, s=1.0)
    ref = _numpy_ridgelet(jax.vmap(f)(x), _g2, a, b, x, w, s=1.0)
    assert out.shape == ((len(a), 2) if vector else (len(a),))
    np.testing.assert_allclose(
        np.asarray(out).reshape(len(a), -1), ref, rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("chunk_size", [1, 97, 10**8])
def test_dual_matches_brute_force(getkey, chunk_size):
    x, _, a, b = _problem(getkey)
    gamma = jax.random.normal(getkey(), (len(a), 2))
    wj = jax.random.uniform(getkey(), (len(a),))
    out = fr.dual_ridgelet_transform(
        gamma, fr.Tanh(), a, b, wj, x, chunk_size=chunk_size, s=0.5
    )
    np.testing.assert_allclose(
        out, _numpy_dual(gamma, np.tanh, a, b, wj, x, s=0.5), rtol=1e-10, atol=1e-12
    )


def test_wide_sums_split_into_equal_column_blocks(getkey):
    # m >= 16 and more than 4096 units: the sum over units runs in equal
    # column blocks (padding < 1 column per block) accumulated by a scan
    from flowrep._width._transform import _tiles

    assert _tiles(7, 9000, 2**22, width=17) == (7, 3000)
    assert _tiles(7, 9000, 2**22, width=3) == (7, 9000)
    # rows in equal blocks too: 20000 rows of <= 1048 -> 20 blocks of 1000
    assert _tiles(20_000, 20_000, 2**22, width=129) == (1000, 4000)
    x, _, a, b = _problem(getkey, n=7, num_units=9001, m=16)
    gamma = jax.random.normal(getkey(), (len(a),))
    wj = jax.random.uniform(getkey(), (len(a),))
    out = fr.dual_ridgelet_transform(gamma, fr.Tanh(), a, b, wj, x)
    ref = _numpy_dual(gamma, np.tanh, a, b, wj, x)[:, 0]
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


def test_row_and_column_blocks_match_brute_force(getkey):
    # both sides cut: 13 rows in 3 equal blocks of 5 (2 padding rows, mapped)
    # x 9001 units in 3 equal blocks of 3001 (2 padding columns, scanned)
    from flowrep._width._transform import _tiles

    assert _tiles(13, 9001, 5 * 3001, width=17) == (5, 3001)
    x, w, a, b = _problem(getkey, n=13, num_units=9001, m=16)
    gamma = jax.random.normal(getkey(), (len(a),))
    wj = jax.random.uniform(getkey(), (len(a),))
    out = fr.dual_ridgelet_transform(gamma, fr.Tanh(), a, b, wj, x, chunk_size=5 * 3001)
    ref = _numpy_dual(gamma, np.tanh, a, b, wj, x)[:, 0]
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


def test_values_array_equals_callable(getkey):
    x, w, a, b = _problem(getkey)

    def f(p):
        return jnp.exp(-jnp.sum(p**2))

    np.testing.assert_allclose(
        fr.ridgelet_transform(f, _g2, a, b, x, w),
        fr.ridgelet_transform(jax.vmap(f)(x), _g2, a, b, x, w),
        rtol=1e-12,
    )


def test_float32_stays_float32(getkey):
    x, w, a, b = (t.astype(jnp.float32) for t in _problem(getkey))
    gamma = fr.ridgelet_transform(
        jnp.ones(len(x), jnp.float32), _g2, a, b, x, w, chunk_size=1000
    )
    assert gamma.dtype == jnp.float32
    out = fr.dual_ridgelet_transform(gamma, fr.ReLU(), a, b, None, x, chunk_size=1000)
    assert out.dtype == jnp.float32
    ref = _numpy_dual(
        np.asarray(gamma, np.float64),
        lambda z: np.maximum(z, 0),
        a,
        b,
        np.ones(len(a)),
        x,
    )[:, 0]
    np.testing.assert_allclose(out, ref, rtol=2e-4, atol=2e-4 * np.abs(ref).max())


def test_grad_and_vmap(getkey):
    x, w, a, b = _problem(getkey, n=50, num_units=40, m=2)
    gamma = jax.random.normal(getkey(), (40,))

    def loss(a_):
        return jnp.sum(
            fr.dual_ridgelet_transform(gamma, fr.Tanh(), a_, b, None, x, chunk_size=64)
            ** 2
        )

    def loss_ref(a_):
        return jnp.sum((jnp.tanh(x @ a_.T - b) @ gamma) ** 2)

    np.testing.assert_allclose(jax.grad(loss)(a), jax.grad(loss_ref)(a), rtol=1e-10)
    # vmap over a batch of coefficient vectors
    gammas = jax.random.normal(getkey(), (3, 40))
    batched = jax.vmap(
        lambda g: fr.dual_ridgelet_transform(g, fr.Tanh(), a, b, None, x, chunk_size=64)
    )(gammas)
    for i in range(3):
        np.testing.assert_allclose(
            batched[i], jnp.tanh(x @ a.T - b) @ gammas[i], rtol=1e-10
        )


def test_gradient_checkpointed_tiles_bound_memory(getkey):
    """The backward pass of the streamed dual must not keep every tile: compare the
    compiled temp memory of a small-tile and a whole-matrix evaluation."""
    x, _, a, b = _problem(getkey, n=2048, num_units=2048, m=2)
    gamma = jax.random.normal(getkey(), (2048,))

    def make(chunk):
        def loss(g):
            return jnp.sum(
                fr.dual_ridgelet_transform(
                    g, fr.Tanh(), a, b, None, x, chunk_size=chunk
                )
                ** 2
            )

        return jax.jit(jax.grad(loss)).lower(gamma).compile().memory_analysis()

    small, big = make(2**14), make(2**23)
    if small is None or big is None:
        pytest.skip("memory analysis unavailable on this backend")
    assert small.temp_size_in_bytes < big.temp_size_in_bytes / 8


def test_no_retrace(getkey):
    x, w, a, b = _problem(getkey, n=20, num_units=10, m=2)

    @eqx.debug.assert_max_traces(max_traces=1)
    def run(gamma):
        return fr.dual_ridgelet_transform(gamma, fr.Tanh(), a, b, None, x)

    jitted = eqx.filter_jit(run)
    for _ in range(3):
        jitted(jax.random.normal(getkey(), (10,)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(a=np.ones((5, 2))), "dimension 2 but the points have dimension d=3"),
        (dict(b=np.ones(4)), "`b` must have shape"),
        (dict(x=np.ones(7)), r"`x` must be a point cloud of shape \(n, d\)"),
        (dict(x=np.ones((0, 3)), w=np.ones(0)), "empty"),
        (dict(a=np.ones((0, 3)), b=np.ones(0)), "empty"),
        (dict(w=np.ones(6)), "`w` must have shape"),
        (dict(f=np.ones(6)), "`f` given as values"),
    ],
)
def test_bad_shapes(kwargs, match):
    args: dict = dict(
        f=np.ones(7),
        rho=_g2,
        a=np.ones((5, 3)),
        b=np.ones(5),
        x=np.ones((7, 3)),
        w=np.ones(7),
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fr.ridgelet_transform(**args)  # pyright: ignore[reportArgumentType]


def _poison(getkey, where):
    x, w, a, b = _problem(getkey, n=10, num_units=5, m=2)
    fx = jnp.ones(10)
    if where == "x":
        x = x.at[0, 0].set(jnp.nan)
    elif where == "w":
        w = w.at[1].set(jnp.inf)
    elif where == "f(x)":
        fx = fx.at[2].set(jnp.nan)
    elif where == "a":
        a = a.at[0, 1].set(jnp.nan)
    elif where == "b":
        b = b.at[3].set(-jnp.inf)
    return fx, x, w, a, b


@pytest.mark.parametrize("where", ["x", "w", "f(x)", "a", "b"])
def test_nan_input_raises(getkey, where):
    fx, x, w, a, b = _poison(getkey, where)
    # Concrete input: a ValueError at once, naming the argument.
    with pytest.raises(ValueError, match=f"`{re.escape(where)}` contains NaN or inf"):
        fr.ridgelet_transform(fx, _g2, a, b, x, w)
    # Traced input (under jit): the check runs with the computation.
    jitted = eqx.filter_jit(
        lambda fx, a, b, x, w: fr.ridgelet_transform(fx, _g2, a, b, x, w)
    )
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN or inf"):
        jax.block_until_ready(jitted(fx, a, b, x, w))
    # The clean problem passes both ways, with the same value.
    clean = _poison(getkey, "none")
    np.testing.assert_allclose(
        fr.ridgelet_transform(clean[0], _g2, *clean[3:], clean[1], clean[2]),
        jitted(clean[0], clean[3], clean[4], clean[1], clean[2]),
        rtol=1e-12,
    )


def test_nan_from_callable_f_raises(getkey):
    # Values made inside the compiled call can only be checked at run time.
    x, w, a, b = _problem(getkey, n=10, num_units=5, m=2)
    with pytest.raises(eqx.EquinoxRuntimeError, match="`f\\(x\\)` contains NaN"):
        fr.ridgelet_transform(lambda p: jnp.log(p[0]), _g2, a, b, x, w)


@pytest.mark.parametrize("where", ["x", "w", "gamma", "a", "b"])
def test_dual_nan_input_raises(getkey, where):
    x, _, a, b = _problem(getkey, n=6, num_units=5, m=2)
    w = jnp.ones(5)
    gamma = jnp.ones((5, 2))
    args: dict[str, Any] = dict(gamma=gamma, a=a, b=b, w=w, x=x)
    arr = args[where]
    args[where] = arr.at[(0,) * arr.ndim].set(jnp.nan)
    with pytest.raises(ValueError, match=f"`{where}` contains NaN or inf"):
        fr.dual_ridgelet_transform(sigma=fr.Tanh(), **args)
    jitted = eqx.filter_jit(
        lambda kw: fr.dual_ridgelet_transform(sigma=fr.Tanh(), **kw)
    )
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN or inf"):
        jax.block_until_ready(jitted(args))


def test_dual_bad_gamma():
    with pytest.raises(ValueError, match="`gamma` must have shape"):
        fr.dual_ridgelet_transform(
            np.ones(4), fr.ReLU(), np.ones((5, 2)), np.ones(5), None, np.ones((3, 2))
        )
    with pytest.raises(ValueError, match="`gamma` contains NaN"):
        fr.dual_ridgelet_transform(
            np.full(5, np.nan),
            fr.ReLU(),
            np.ones((5, 2)),
            np.ones(5),
            None,
            np.ones((3, 2)),
        )


def test_bad_chunk_size():
    with pytest.raises(ValueError, match="chunk_size"):
        fr.dual_ridgelet_transform(
            np.ones(5),
            fr.ReLU(),
            np.ones((5, 2)),
            np.ones(5),
            None,
            np.ones((3, 2)),
            chunk_size=0,
        )
