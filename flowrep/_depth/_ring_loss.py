"""`fit`'s Sinkhorn loss with flowrep's own solver: both clouds sharded by rows.

The debiased divergence $S_\\varepsilon(\\mu,\\nu)=\\mathrm{OT}_\\varepsilon(\\mu,\\nu)
-\\frac12\\mathrm{OT}_\\varepsilon(\\mu,\\mu)-\\frac12\\mathrm{OT}_\\varepsilon(\\nu,\\nu)$
(Feydy et al. 2019, eq. 3), uniform weights, cost $\\|x-y\\|^2$, solved in the
log domain. Over a mesh every log-sum-exp runs ring style: each device keeps
its rows of the queries, the blocks of the other cloud (with their
potentials) pass round the devices with `ppermute`, running (max, sum) pairs
merge; marginal errors and values are `psum`s. No device ever holds a whole
cloud or an $n\\times p$ block: memory per device
$O((n+p)d/D+\\text{chunk}\\cdot p/D)$. On one device the same code runs with
no hops, so the two agree to float rounding.

The gradient is the envelope one (Feydy et al. 2019, Prop. 2): with the
converged potentials,
$\\nabla_{x_i}S_\\varepsilon=2a_i\\,(T_{\\mu\\mu}(x_i)-T_{\\mu\\nu}(x_i))$ and
$\\nabla_{y_j}S_\\varepsilon=2b_j\\,(T_{\\nu\\nu}(y_j)-T_{\\nu\\mu}(y_j))$, $T$ the
barycentric projections of the plans (one more ring pass each), exact at the
fixed point (ott-jax differentiates its solve implicitly instead; the two
agree to the solvers' tolerance). docs/scaling.md, "Training".

This module is `_depth`'s own (the layering keeps `_depth` off `_transport`):
a small fixed-point solver, plain Sinkhorn for the cross problem and the
averaged symmetric update for the self problems.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from .._sharding import Layout, pad_rows, ring, unpad_rows


THRESHOLD = 1e-3  # L1 marginal error, as ott-jax's default stopping rule
MAX_ITERATIONS = 2000
CHUNK = 128  # query rows per tile of a ring pass: memory chunk * p / D


def _visit(q, z, h, eps, chunk, state):
    """Merge one block `(z, h)` into the running `(max, sum, weighted sum)` of
    $\\sum_j e^{(h_j-\\|q_i-z_j\\|^2)/\\varepsilon}$ (and of its $z_j$) per query."""

    def one(args):
        qi, mi, si, ai = args
        v = (h - jnp.sum((z - qi) ** 2, -1)) / eps
        new = jnp.maximum(mi, jnp.max(v))
        safe = jnp.where(jnp.isfinite(new), new, 0.0)
        scale, w = jnp.exp(mi - safe), jnp.exp(v - safe)
        return new, si * scale + jnp.sum(w), ai * scale + w @ z

    return jax.lax.map(one, (q, *state), batch_size=chunk)


def _ring_softmin(q, z, h, eps, chunk, layout: Layout | None):
    """Per local query $q_i$: $\\varepsilon\\log\\sum_je^{(h_j-\\|q_i-z_j\\|^2)/\\varepsilon}$
    over every block of `(z, h)` (all devices', round the ring), and the
    softmax-weighted mean of the $z_j$ (the barycentric image)."""
    init = (
        jnp.full(q.shape[:1], -jnp.inf, q.dtype),
        jnp.zeros(q.shape[:1], q.dtype),
        jnp.zeros_like(q),
    )
    state = _visit(q, z, h, eps, chunk, init)
    if layout is not None and layout.size > 1:
        perm = ring(layout)

        def hop(carry, _):
            state, z, h = carry
            z, h = (jax.lax.ppermute(a, layout.axis, perm) for a in (z, h))
            return (_visit(q, z, h, eps, chunk, state), z, h), None

        (state, _, _), _ = jax.lax.scan(
            hop, (state, z, h), None, length=layout.size - 1
        )
    m, s, acc = state
    return eps * (m + jnp.log(s)), acc / s[:, None]


def _local(x, y, la, lb, eps, *, layout: Layout | None, chunk: int, threshold: float):
    """The divergence and its gradients on this device's rows (`la`, `lb`:
    log-weights, $-\\infty$ on padding rows)."""
    total = (
        (lambda v: v) if layout is None else (lambda v: jax.lax.psum(v, layout.axis))
    )
    mask_x, mask_y = jnp.isfinite(la), jnp.isfinite(lb)
    a, b = jnp.exp(la), jnp.exp(lb)

    def lse(q, z, h):
        return _ring_softmin(q, z, h, eps, chunk, layout)[0]

    def error(w, mask, f, fT):
        return total(
            jnp.sum(jnp.where(mask, w * jnp.abs(jnp.expm1((f - fT) / eps)), 0.0))
        )

    def solve(step, state):
        def cond(c):
            _, it, err = c
            return (it < MAX_ITERATIONS) & (err > threshold)

        def body(c):
            state, it, _ = c
            state, err = step(state)
            return state, it + 1, err

        inf = jnp.array(jnp.inf, x.dtype)
        state, _, _ = jax.lax.while_loop(cond, body, (state, jnp.array(0), inf))
        return state

    # Cross problem, plain Sinkhorn: f = T(g), g = T(f); fT = T(g) next.
    def cross(state):
        _, g, fT = state
        f = fT
        g = -lse(y, x, f + eps * la)
        fT = -lse(x, y, g + eps * lb)
        return (f, g, fT), error(a, mask_x, f, fT)

    g0 = jnp.zeros(y.shape[:1], x.dtype)
    f0 = jnp.zeros(x.shape[:1], x.dtype)
    f, g, _ = solve(cross, (f0, g0, -lse(x, y, g0 + eps * lb)))

    # Self problems, the averaged update f <- (f + T(f)) / 2.
    def symmetric(z, lw, w, mask):
        def step(state):
            f, fT = state
            f = 0.5 * (f + fT)
            fT = -lse(z, z, f + eps * lw)
            return (f, fT), error(w, mask, f, fT)

        f0 = jnp.zeros(z.shape[:1], z.dtype)
        f, _ = solve(step, (f0, -lse(z, z, f0 + eps * lw)))
        return f

    fx = symmetric(x, la, a, mask_x)
    fy = symmetric(y, lb, b, mask_y)

    def mean(w, mask, f):
        return total(jnp.sum(jnp.where(mask, w * f, 0.0)))

    value = (
        mean(a, mask_x, f)
        + mean(b, mask_y, g)
        - mean(a, mask_x, fx)
        - mean(b, mask_y, fy)
    )

    def image(q, z, h):
        return _ring_softmin(q, z, h, eps, chunk, layout)[1]

    gx = 2 * a[:, None] * (image(x, x, fx + eps * la) - image(x, y, g + eps * lb))
    gy = 2 * b[:, None] * (image(y, y, fy + eps * lb) - image(y, x, f + eps * la))
    gx = jnp.where(mask_x[:, None], gx, 0.0)
    gy = jnp.where(mask_y[:, None], gy, 0.0)
    return value, gx, gy


def _value_and_grads(x, y, eps, layout: Layout | None, chunk: int, threshold: float):
    n, p = x.shape[0], y.shape[0]
    dtype = x.dtype
    # S is translation invariant: centre at the common mean, for precision.
    centre = (jnp.sum(x, 0) + jnp.sum(y, 0)) / (n + p)
    x, y = x - centre, y - centre
    la = jnp.full(n, -jnp.log(jnp.asarray(n, dtype)), dtype)
    lb = jnp.full(p, -jnp.log(jnp.asarray(p, dtype)), dtype)
    eps = jnp.asarray(eps, dtype)
    if layout is None:
        return _local(x, y, la, lb, eps, layout=None, chunk=chunk, threshold=threshold)
    xp, yp = pad_rows(x, layout), pad_rows(y, layout)
    lap, lbp = pad_rows(la, layout, -jnp.inf), pad_rows(lb, layout, -jnp.inf)
    rows2, rows1 = P(layout.axis, None), P(layout.axis)
    fn = jax.shard_map(
        lambda *a: _local(*a, layout=layout, chunk=chunk, threshold=threshold),
        mesh=layout.mesh,
        in_specs=(rows2, rows2, rows1, rows1, P()),
        out_specs=(P(), rows2, rows2),
        check_vma=False,
    )
    value, gx, gy = fn(xp, yp, lap, lbp, eps)
    return value, unpad_rows(gx, layout, n), unpad_rows(gy, layout, p)


def ring_sinkhorn_loss(
    x: Any,
    y: Any,
    epsilon: Any,
    layout: Layout | None = None,
    chunk: int = CHUNK,
    threshold: float = THRESHOLD,
):
    """$S_\\varepsilon$ between the uniform clouds `x` `(n, d)` and `y`
    `(p, d)` (absolute `epsilon`), over `layout`'s mesh (rows of both
    sharded) or on one device; differentiable in `x` and `y` (envelope
    gradient, see the module docstring). Each solve stops when its L1
    marginal error is at most `threshold` (or after 2000 iterations).
    Traceable; no input checks (`fit` checks its samples)."""

    @jax.custom_vjp
    def loss(x, y, eps):
        return _value_and_grads(x, y, eps, layout, chunk, threshold)[0]

    def fwd(x, y, eps):
        value, gx, gy = _value_and_grads(x, y, eps, layout, chunk, threshold)
        return value, (gx, gy, eps)

    def bwd(res, ct):
        gx, gy, eps = res
        return ct * gx, ct * gy, jnp.zeros_like(eps)

    loss.defvjp(fwd, bwd)
    return loss(x, y, jnp.asarray(epsilon, x.dtype))
