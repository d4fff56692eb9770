"""Sinkhorn engines: the dense absorbed kernel and online log-domain updates.

Both share one loop (`iterate`) with free error checks and adaptive
over-relaxation; the online engine streams the cost through `lse_rows`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from .._sharding import ring, valid_rows


# The dots below feed squared distances and exponents: always full float32
# (or float64) precision, never TF32/bfloat16 passes.
HIGHEST = jax.lax.Precision.HIGHEST


# Pairs per tile of the streamed log-sum-exp: the CPU default, 2**19 float32
# values (2 MiB), stays in cache, which whole-row chunks do not. The value
# actually used is `SolverOptions.tile` (per backend: flowrep/_device.py).
_TILE_PAIRS = 2**19


def lse_rows(F, X, Y, eps, chunk, tile_pairs=_TILE_PAIRS):
    """For each row $x_i$ of `X` `(n, d)`:
    $\\varepsilon\\,\\mathrm{lse}_j((F_j+2x_i\\cdot y_j)/\\varepsilon)$ over the rows
    $y_j$ of `Y` `(m, d)` (`F` is `(m,)`), streamed over tiles of `chunk` rows x `tile_pairs // chunk`
    columns with a running (max, sum) pair ([`lse_stats`][]), as in streaming
    softmax. Memory is O(tile) on top of the inputs and the output."""
    mx, acc = lse_stats(F, X, Y, eps, chunk, tile_pairs, guard=False)
    return eps * (mx + jnp.log(acc))


class SolverOptions(NamedTuple):
    """Static solver options shared by every Sinkhorn entry point."""

    threshold: float
    norm: int
    max_iterations: int
    inner: int
    omega: float | str
    chunk: int
    tile: int = _TILE_PAIRS


# Adaptive over-relaxation (Lehmann et al. 2021, eq. 5): run plain Sinkhorn,
# measure the linear rate r of the marginal error between two checkpoints and
# switch to omega = 2 / (1 + sqrt(1 - r)).
_ADAPTIVE_WINDOW = 10
_ADAPTIVE_MAX_RATE = 0.99


def _lehmann_checkpoints(inner: int) -> tuple[int, int]:
    k = -(-_ADAPTIVE_WINDOW // inner) * inner
    return k, 2 * k


def iterate(step, error_of, state, opts: SolverOptions, dtype):
    """The Sinkhorn loop shared by all solvers.

    `step(state, omega)` is one (over-relaxed) iteration; `error_of(state)`
    returns `(marginal error, bad flag)` from quantities the state already
    carries, so checking costs no extra kernel pass and is done every
    `opts.inner` iterations. Returns `(state, iterations, error, bad)`.
    """
    adaptive = opts.omega == "adaptive"
    omega0 = jnp.asarray(1.0 if adaptive else opts.omega, dtype)
    k_a, k_b = _lehmann_checkpoints(opts.inner)

    def cond(c):
        _, it, err, bad, _, _ = c
        return (it < opts.max_iterations) & (err > opts.threshold) & ~bad

    def body(c):
        state, it, _, _, omega, err_a = c
        state = jax.lax.fori_loop(0, opts.inner, lambda _, s: step(s, omega), state)
        it = it + opts.inner
        err, bad = error_of(state)
        if adaptive:
            err_a = jnp.where(it == k_a, err, err_a)
            rate = (err / err_a) ** (1.0 / (k_b - k_a))
            rate = jnp.where(jnp.isfinite(rate), rate, 0.0)
            rate = jnp.clip(rate, 0.0, _ADAPTIVE_MAX_RATE)
            omega = jnp.where(it == k_b, 2.0 / (1.0 + jnp.sqrt(1.0 - rate)), omega)
        return state, it, err, bad, omega, err_a

    inf = jnp.array(jnp.inf, dtype)
    init = (state, jnp.array(0), inf, jnp.array(False), omega0, inf)
    state, it, err, bad, _, _ = jax.lax.while_loop(cond, body, init)
    return state, it, err, bad


def solve_dense(x, y, eps, p, q, opts: SolverOptions):
    """Absorbed-kernel Sinkhorn in scaling form on a dense `(n, m)` kernel.

    $K_{ij}=\\exp((p_i+q_j+2x_i\\cdot y_j)/\\varepsilon)$ is built once, after one
    exact log-domain iteration absorbed into $p, q$ (so $K\\le1$ with no row or
    column underflowing);
    the scalings are kept as logs and renormalised by their max before each
    matrix-vector product, so nothing overflows (Schmitzer 2019, absorption).
    Each iteration is two matrix-vector products; the column marginal of the
    current plan falls out of the second one, so the error check is free.
    Returns the log-potentials (du, dv), iterations, error and an underflow flag.
    """
    n, m = x.shape[0], y.shape[0]
    dtype = x.dtype
    log_a = -jnp.log(jnp.asarray(n, dtype))
    log_b = -jnp.log(jnp.asarray(m, dtype))
    Z = (p[:, None] + q[None, :] + 2 * jnp.matmul(x, y.T, precision=HIGHEST)) / eps
    # One exact log-domain Sinkhorn iteration absorbed into the starting
    # potentials: every column, then every row, of the kernel gets its
    # marginal, so no row or column underflows (each column keeps mass
    # >= 1/(n^2 m)) and no exponent is positive, whatever the initialiser.
    # Without it a poor Gaussian start (non-Gaussian, rank-deficient layers)
    # underflowed whole columns and sent the solve to the online engine.
    dq = log_b - jax.nn.logsumexp(Z, axis=0)
    Z = Z + dq[None, :]
    dp = log_a - jax.nn.logsumexp(Z, axis=1)
    K = jnp.exp(jnp.minimum(Z + dp[:, None], 0.0))
    del Z
    tiny = jnp.finfo(dtype).tiny

    def col(lu):
        cu = jnp.max(lu)
        s = jnp.matmul(jnp.exp(lu - cu), K, precision=HIGHEST)
        return cu + jnp.log(jnp.maximum(s, tiny)), jnp.any(s <= 0)

    def row(lv):
        cv = jnp.max(lv)
        s = jnp.matmul(K, jnp.exp(lv - cv), precision=HIGHEST)
        return cv + jnp.log(jnp.maximum(s, tiny)), jnp.any(s <= 0)

    def step(s, omega):
        lu, lv, lKu, bad = s
        lv = (1 - omega) * lv + omega * (log_b - lKu)
        lKv, bad_row = row(lv)
        lu = (1 - omega) * lu + omega * (log_a - lKv)
        lKu, bad_col = col(lu)
        return lu, lv, lKu, bad | bad_row | bad_col

    def error_of(s):
        _, lv, lKu, bad = s
        return jnp.linalg.norm(jnp.exp(lv + lKu) - jnp.exp(log_b), ord=opts.norm), bad

    lu = jnp.zeros(n, dtype)
    lKu, bad = col(lu)
    state = (lu, jnp.zeros(m, dtype), lKu, bad)
    (lu, lv, _, _), it, err, bad = iterate(step, error_of, state, opts, dtype)
    return eps * (lu + dp), eps * (lv + dq), it, err, bad


def solve_online(x, y, eps, p, q, opts: SolverOptions):
    """Log-domain Sinkhorn with the cost streamed in row chunks: O((n+m)d) memory.

    Potentials are kept in the reduced form $F=f-\\|x\\|^2$, $G=g-\\|y\\|^2$, so
    $f_i+g_j-C_{ij}=F_i+G_j+2x_i\\cdot y_j$. Two streamed passes per iteration;
    the error check reuses the second.
    """
    n, m = x.shape[0], y.shape[0]
    dtype = x.dtype
    log_a = -jnp.log(jnp.asarray(n, dtype))
    log_b = -jnp.log(jnp.asarray(m, dtype))

    def step(s, omega):
        F, G, LF = s
        G = (1 - omega) * G + omega * (eps * log_b - LF)
        F = (1 - omega) * F + omega * (
            eps * log_a - lse_rows(G, x, y, eps, opts.chunk, opts.tile)
        )
        return F, G, lse_rows(F, y, x, eps, opts.chunk, opts.tile)

    def error_of(s):
        _, G, LF = s
        marg = jnp.exp((G + LF) / eps)
        return jnp.linalg.norm(marg - jnp.exp(log_b), ord=opts.norm), jnp.array(False)

    state = (p, q, lse_rows(p, y, x, eps, opts.chunk, opts.tile))
    (F, G, _), it, err, bad = iterate(step, error_of, state, opts, dtype)
    return F - p, G - q, it, err, bad


# ---- Over a mesh: rows sharded, blocks rotated round a ring ---------------


def lse_stats(F, X, Y, eps, chunk, tile_pairs=_TILE_PAIRS, *, guard=True):
    """The running `(max, sum)` pair behind [`lse_rows`][] for the rows of `X`
    against the rows of `Y` (one block of them): `lse_rows` is
    $\\varepsilon(\\mathrm{max}+\\log\\mathrm{sum})$. With `guard`, rows whose
    `F` are all $-\\infty$ (a block of padding) give `(-inf, 0)` rather than
    NaN, so partial results from several blocks merge with [`merge_lse`][];
    `lse_rows` (finite `F`) skips that guard."""
    n, d = X.shape
    m = Y.shape[0]
    cols = max(1, min(m, tile_pairs // chunk))
    nb = -(-m // cols)
    pad = nb * cols - m
    Yb = jnp.concatenate([Y, jnp.zeros((pad, d), Y.dtype)]).reshape(nb, cols, d)
    Fb = jnp.concatenate([F, jnp.full((pad,), -jnp.inf, F.dtype)]).reshape(nb, cols)

    def rows(xb):
        def tile(carry, block):
            mx, acc = carry
            yb, fb = block
            z = (fb[None, :] + 2 * jnp.matmul(xb, yb.T, precision=HIGHEST)) / eps
            new = jnp.maximum(mx, jnp.max(z, 1))
            safe = jnp.where(jnp.isfinite(new), new, 0.0) if guard else new
            acc = acc * jnp.exp(mx - safe) + jnp.sum(jnp.exp(z - safe[:, None]), 1)
            return (new, acc), None

        init = (
            jnp.full(xb.shape[0], -jnp.inf, X.dtype),
            jnp.zeros(xb.shape[0], X.dtype),
        )
        return jax.lax.scan(tile, init, (Yb, Fb))[0]

    rows_per = min(chunk, n)
    nr = -(-n // rows_per)
    Xb = jnp.concatenate([X, jnp.zeros((nr * rows_per - n, d), X.dtype)])
    mx, acc = jax.lax.map(rows, Xb.reshape(nr, rows_per, d))
    return mx.reshape(-1)[:n], acc.reshape(-1)[:n]


def merge_lse(s1, s2):
    """Merge two `(max, sum)` pairs of the same rows over disjoint columns."""
    (m1, a1), (m2, a2) = s1, s2
    new = jnp.maximum(m1, m2)
    safe = jnp.where(jnp.isfinite(new), new, 0.0)
    return new, a1 * jnp.exp(m1 - safe) + a2 * jnp.exp(m2 - safe)


def ring_lse_rows(F, mask, X, Y, eps, chunk, layout, tile_pairs=_TILE_PAIRS):
    """[`lse_rows`][] inside `shard_map`, ring style: this device's rows `X`
    against every device's block `(Y, F)` (`mask`: the block's real rows;
    padding rows count as $F=-\\infty$). The device's own block first, then
    $D-1$ hops in which the blocks move on with `ppermute` and the running
    `(max, sum)` pairs merge."""
    axis, perm = layout.axis, ring(layout)
    F = jnp.where(mask, F, -jnp.inf)
    stats = lse_stats(F, X, Y, eps, chunk, tile_pairs)

    def hop(carry, _):
        stats, Yb, Fb = carry
        Yb = jax.lax.ppermute(Yb, axis, perm)
        Fb = jax.lax.ppermute(Fb, axis, perm)
        stats = merge_lse(stats, lse_stats(Fb, X, Yb, eps, chunk, tile_pairs))
        return (stats, Yb, Fb), None

    ((mx, acc), _, _), _ = jax.lax.scan(
        hop, (stats, Y, F), None, length=layout.size - 1
    )
    return eps * (mx + jnp.log(acc))


def solve_online_sharded(x, y, eps, p, q, opts: SolverOptions, layout, n, m):
    """[`solve_online`][] over a mesh, inside one `shard_map`.

    `x`, `p` `(n_pad, d)`, `(n_pad,)` and `y`, `q` `(m_pad, d)`, `(m_pad,)`
    are padded to multiples of $D$ and sharded by rows; `n`, `m` are the true
    sizes (padding rows get $-\\infty$ potentials wherever they would be summed
    over, so they carry no mass). Each log-sum-exp over the other cloud is
    built ring style: the device's own block first, then $D-1$ hops in which
    the blocks `(y, G)` move on with `ppermute` and the running `(max, sum)`
    pairs merge. The marginal error is a `psum`, so every device runs the same
    number of iterations. Per pass each device receives $(D-1)$ blocks of
    $(m/D)(d+1)$ floats; memory per device is $O((n+m)d/D+\\text{tile})$.
    Returns the potentials (sharded like `x`, `y`), iterations, error and flag.
    """
    axis = layout.axis
    dtype = x.dtype
    log_a = -jnp.log(jnp.asarray(n, dtype))
    log_b = -jnp.log(jnp.asarray(m, dtype))

    def local(x, y, p, q, eps):
        mask_x = valid_rows(layout, x.shape[0], n)
        mask_y = valid_rows(layout, y.shape[0], m)

        def ring_lse(F, mask, X, Y):
            return ring_lse_rows(F, mask, X, Y, eps, opts.chunk, layout, opts.tile)

        def step(s, omega):
            F, G, LF = s
            G = (1 - omega) * G + omega * (eps * log_b - LF)
            F = (1 - omega) * F + omega * (eps * log_a - ring_lse(G, mask_y, x, y))
            return F, G, ring_lse(F, mask_x, y, x)

        def error_of(s):
            _, G, LF = s
            diff = jnp.where(mask_y, jnp.exp((G + LF) / eps) - jnp.exp(log_b), 0.0)
            if opts.norm == 1:
                err = jax.lax.psum(jnp.sum(jnp.abs(diff)), axis)
            else:
                err = jnp.sqrt(jax.lax.psum(jnp.sum(diff**2), axis))
            return err, jnp.array(False)

        state = (p, q, ring_lse(p, mask_x, y, x))
        (F, G, _), it, err, bad = iterate(step, error_of, state, opts, dtype)
        return F - p, G - q, it, err, bad

    rows2, rows1 = P(axis, None), P(axis)
    fn = jax.shard_map(
        local,
        mesh=layout.mesh,
        in_specs=(rows2, rows2, rows1, rows1, P()),
        out_specs=(rows1, rows1, P(), P(), P()),
        check_vma=False,
    )
    return fn(x, y, p, q, eps)
