"""The fixed-step integrator of `flow`: an explicit RK solve as one `lax.scan`.

(Adaptive solves are `diffrax.diffeqsolve`: a copy of its loop without the
output machinery, kept until 2026-12-02, measured no faster: benchmarks/README.md.)
"""

import jax
import jax.numpy as jnp


def _rk_step(term, t0, h, args, tableau):
    """Step `i` of a fixed-step explicit RK solve, as a `lax.scan` body."""
    a_lower, b_sol, c = tableau

    def axpy(y, coeffs, ks):
        def comb(y_leaf, *k_leaves):
            acc = None
            for coeff, k in zip(coeffs, k_leaves):
                if coeff != 0:
                    term_ = float(coeff) * k
                    acc = term_ if acc is None else acc + term_
            return y_leaf if acc is None else y_leaf + h * acc

        return jax.tree.map(comb, y, *ks)

    def step(y, i):
        t = t0 + i * h
        ks = [term.vf(t, y, args)]
        for stage, row in enumerate(a_lower):
            yi = axpy(y, row, ks)
            ks.append(term.vf(t + float(c[stage]) * h, yi, args))
        return axpy(y, b_sol, ks), None

    return step


def last_finite_step(term, y0, t0, t1, num_steps, args, tableau):
    """Replay a fixed-step solve up to its first non-finite state.

    Returns `(t, y)`: the time and the state of the last step whose state was
    finite (`(t0, y0)` when the first step already fails). Only run on the
    failure path of `flow`, to name where a fixed-step solve broke down.
    """
    h = (t1 - t0) / num_steps
    step = _rk_step(term, t0, h, args, tableau)

    def finite(y):
        return jnp.all(
            jnp.asarray([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(y)])
        )

    def cond(carry):
        i, _, ok = carry
        return ok & (i < num_steps)

    def body(carry):
        i, y, _ = carry
        y1, _ = step(y, i.astype(jnp.result_type(t0)))
        ok = finite(y1)
        return (
            jnp.where(ok, i + 1, i),
            jax.tree.map(lambda a, b: jnp.where(ok, a, b), y1, y),
            ok,
        )

    i, y, _ = jax.lax.while_loop(
        cond, body, (jnp.zeros((), jnp.int32), y0, jnp.asarray(True))
    )
    return t0 + i.astype(jnp.result_type(t0)) * h, y


def scan_solve(term, y0, t0, t1, num_steps, args, tableau, checkpoint):
    """Fixed-step explicit RK as one `lax.scan`; reverse mode stores every stage.

    The same steps as diffrax's `ConstantStepSize` solve, without the
    recomputation of a checkpointed while loop (as torchdiffeq does it).
    """
    h = (t1 - t0) / num_steps

    step = _rk_step(term, t0, h, args, tableau)
    if checkpoint:
        step = jax.checkpoint(step)  # pyright: ignore
    steps = jnp.arange(num_steps, dtype=jnp.result_type(t0))
    y1, _ = jax.lax.scan(step, y0, steps)
    return jax.tree.map(lambda a, b: jnp.stack([a, b]), y0, y1)
