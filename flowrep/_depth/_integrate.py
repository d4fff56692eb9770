"""Fixed-step and adaptive integrators of `flow` that keep only the endpoint.

A fixed-step explicit RK solve as one `lax.scan`, and diffeqsolve's adaptive
loop without its output, event and dense-output machinery.
"""

from typing import Any, NamedTuple

import diffrax
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jaxtyping import Array


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


class _LoopState(NamedTuple):
    tprev: Array
    tnext: Array
    y: Any
    solver_state: Any
    controller_state: Any
    made_jump: Array
    result: Any
    num_steps: Array
    num_accepted: Array


def adaptive_solve(term, solver, controller, y0, t0, t1, dt0, args, max_steps):
    """Adaptive solve from t0 to t1 > t0 keeping only the endpoint.

    Diffrax's own solver step and step-size controller, driven by one
    checkpointed while loop (reverse mode as `RecursiveCheckpointAdjoint`)
    without `diffeqsolve`'s output, event and dense-output machinery, whose
    overhead a gradient through the solve pays at every step. Same steps, same
    acceptance decisions, same statistics and result codes as `diffeqsolve`
    (tested). Also returns the time reached (`t1` on success): the last
    accepted state `ys[-1]` is the state there.
    """
    error_order = solver.error_order(term)
    if dt0 is None:
        # What diffeqsolve starts with: it wraps the terms before the
        # controller sees them, and PIDController's initial-step heuristic
        # returns 0.01 for anything but a bare ODETerm.
        dt0 = jnp.asarray(0.01, jnp.result_type(t0))
    tnext, controller_state = controller.init(
        term, t0, t1, y0, dt0, args, solver.func, error_order
    )
    tnext = jnp.minimum(tnext, t1)
    solver_state = solver.init(term, t0, tnext, y0, args)
    # As diffeqsolve: a step ending within 100 ULPs of t1 is rounded to t1.
    t1_clip_floor = t1
    for _ in range(100):
        t1_clip_floor = eqxi.prevbefore(t1_clip_floor)
    # Only jump times make a step restart its first-same-as-last stage.
    jumps = getattr(controller, "jump_ts", None) is not None
    zero = jnp.zeros((), jnp.int32)
    init = _LoopState(
        tprev=t0,
        tnext=tnext,
        y=y0,
        solver_state=solver_state,
        controller_state=controller_state,
        made_jump=jnp.asarray(False),
        result=diffrax.RESULTS.successful,
        num_steps=zero,
        num_accepted=zero,
    )

    def cond(state: _LoopState):
        return (state.tprev < t1) & (state.result == diffrax.RESULTS.successful)

    def body(state: _LoopState) -> _LoopState:
        y1, y_error, _, solver_state, solver_result = solver.step(
            term,
            state.tprev,
            state.tnext,
            state.y,
            args,
            state.solver_state,
            state.made_jump if jumps else False,
        )
        y_error = jax.tree.map(lambda e: jnp.where(jnp.isnan(e), jnp.inf, e), y_error)
        keep, tprev, tnext, made_jump, controller_state, controller_result = (
            controller.adapt_step_size(
                state.tprev,
                state.tnext,
                state.y,
                y1,
                args,
                y_error,
                error_order,
                state.controller_state,
            )
        )
        tprev = jnp.minimum(tprev, t1)
        clip = tnext > t1_clip_floor
        tnext = jnp.where(clip, jnp.where(keep, t1, tprev + 0.5 * (t1 - tprev)), tnext)

        def select(new, old):
            return jnp.where(keep, new, old)

        result = state.result
        for new_result in (
            diffrax.RESULTS.where(keep, solver_result, diffrax.RESULTS.successful),
            controller_result,
        ):
            result = diffrax.RESULTS.where(
                result == diffrax.RESULTS.successful, new_result, result
            )
        return _LoopState(
            tprev=tprev,
            tnext=tnext,
            y=jax.tree.map(select, y1, state.y),
            solver_state=jax.tree.map(select, solver_state, state.solver_state),
            controller_state=controller_state,
            made_jump=select(made_jump, state.made_jump),
            result=result,
            num_steps=state.num_steps + 1,
            num_accepted=state.num_accepted + keep.astype(jnp.int32),
        )

    final = eqxi.while_loop(cond, body, init, max_steps=max_steps, kind="checkpointed")
    result = diffrax.RESULTS.where(
        (final.result == diffrax.RESULTS.successful) & (final.tprev < t1),
        diffrax.RESULTS.max_steps_reached,  # pyright: ignore[reportArgumentType]
        final.result,
    )
    stats = dict(
        num_steps=final.num_steps,
        num_accepted_steps=final.num_accepted,
        num_rejected_steps=final.num_steps - final.num_accepted,
        max_steps=max_steps,
    )
    ys = jax.tree.map(lambda a, b: jnp.stack([a, b]), y0, final.y)
    return ys, result, stats, final.tprev
