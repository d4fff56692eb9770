"""`flow`: integrate $\\dot x_t=v_t(x_t)$ for a batch of points, with the continuity equation.

A deep network is the time-$T$ map of a flow (docs/theory/flows.md#depth-continuum; Sonoda &
Murata, JMLR 2019). `flow` solves the ODE for `n` points at once inside one
`diffrax.diffeqsolve`: the state is the `(n, d)` array and the field is
evaluated on the whole batch (`field.batch_call` when it has one, a `vmap`
otherwise). Optional extra state rides along the same solve:

- $\\frac{d}{dt}\\log\\mu_t(x_t)=-\\nabla\\cdot v_t(x_t)$ (continuity equation),
  by the exact trace or Hutchinson's estimator $\\varepsilon^\\top J\\varepsilon$;
- RNODE regularisers (Finlay et al. 2020): $\\int\\|v_t(x_t)\\|^2dt$ and
  $\\int\\|\\nabla v_t(x_t)\\|_F^2dt$ (the latter as $\\|J\\varepsilon\\|^2$).
"""

import math
from typing import Any, Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike

from .._custom_types import Key, Points, VectorFieldFn
from .._sharding import auto_axes_for, give_back, place, resolve_layout
from .._validate import check_bool, check_positive_int, check_value
from ._integrate import last_finite_step, scan_solve
from ._result import FlowResult
from ._solvers import explicit_tableau, get_adjoint, get_solver
from ._term import FlowTerm
from ._vector_field import AbstractVectorField, as_vector_field


def _with_breakpoints(controller, field: AbstractVectorField):
    """Clip adaptive steps to the field's kinks (`step_ts`) and jumps (`jump_ts`).

    A field that is only piecewise smooth in time (a `RidgeletField` on a knot
    basis, a ResNet read as a field) otherwise makes the controller reject
    the steps that straddle a knot, and every rejected step is also paid for
    again by reverse-mode differentiation.
    """
    step_ts, jump_ts = tuple(field.step_ts), tuple(field.jump_ts)
    if not step_ts and not jump_ts:
        return controller
    return diffrax.ClipStepSizeController(
        controller, step_ts=step_ts or None, jump_ts=jump_ts or None
    )


def _concrete_float(x) -> float | None:
    try:
        return float(x)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return None


def _bad_ts(ts, t0, t1):
    # True where the recorded times are not finite, not monotone from t0
    # towards t1, or outside the interval (diffrax's SaveAt needs all three).
    d = jnp.sign(t1 - t0)
    steps = (ts[1:] - ts[:-1]) * d
    lo, hi = jnp.minimum(t0, t1), jnp.maximum(t0, t1)
    # a few ulps of slack: times built by arithmetic may overshoot t1 by one
    slack = 8 * jnp.finfo(ts.dtype).eps * jnp.maximum(jnp.maximum(-lo, hi), 1)
    return (
        ~jnp.all(jnp.isfinite(ts))
        | jnp.any(steps < 0)
        | jnp.any(ts < lo - slack)
        | jnp.any(ts > hi + slack)
    )


def _check_field_shape(field: AbstractVectorField, t0, x0, args) -> Any:
    m = x0.shape[-1]
    dim = field.dim
    if dim is not None and dim != m:
        raise ValueError(
            f"The points have dimension d={m} but the field acts on R^{dim}; "
            f"expected x0 of shape (n, {dim}) or ({dim},)."
        )
    try:
        out = jax.eval_shape(lambda x: field(t0, x, args), x0[0])
    except Exception as e:  # a shape error deep in the user's field
        raise ValueError(
            f"Evaluating the field on one point of shape ({m},) failed; does the field act on R^{m}? ({type(e).__name__}: {e})"
        ) from e
    if not hasattr(out, "shape") or out.shape != (m,):
        got = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"The field must map a point of shape ({m},) to a velocity of shape ({m},); it returned {got}."
        )
    return out.dtype


# How much the state may grow over max|x0| before a failed solve is called a
# blow-up rather than a field that turned NaN/inf on a bounded state.
_GROWTH = 1e3
_TENTHS = 10


def _where_messages() -> tuple[str, ...]:
    """`_TENTHS` phrases 'in tenth k of [t0, t1]' (no numbers: the times are
    traced, so new times do not recompile the solve)."""
    return tuple(f"in tenth {k + 1}/{_TENTHS} of [t0, t1]" for k in range(_TENTHS))


def _failure_messages() -> tuple[str, ...]:
    """The messages of a failed solve; see `_diagnose` for the index."""
    where = _where_messages()
    msgs = [
        "flow: the field returned NaN or inf at t0 on the finite starting points "
        "(NaN/inf in the field or its parameters); this is not a blow-up of the flow.",
    ]
    msgs += [
        f"flow: the field returned NaN or inf {w} on a finite, bounded state "
        f"(|x| <= {_GROWTH:g} (1 + max|x0|)): the field or its parameters turned "
        "NaN/inf there; this is not a blow-up of the flow."
        for w in where
    ]
    msgs += [
        "flow: the state became NaN or inf before t1: the flow diverged (blew "
        f"up); its last finite state, {w}, had grown past {_GROWTH:g} (1 + max|x0|). "
        "Use smaller steps, an adaptive solver, or check the field."
        for w in where
    ]
    msgs += [
        f"flow: the maximum number of solver steps (max_steps) was reached {w}, "
        f"the state having grown past {_GROWTH:g} (1 + max|x0|): the flow probably "
        "diverged (blew up in finite time); check the field or shorten [t0, t1]."
        for w in where
    ]
    msgs += [
        f"flow: the maximum number of solver steps (max_steps) was reached {w}, "
        "with a finite field on a bounded state: the flow is stiff or needs more "
        "steps, or it nears a blow-up in finite time that the steps shrink "
        f"towards before the state passes {_GROWTH:g} (1 + max|x0|) (e.g. x' = x^3); "
        "raise `max_steps` to tell these apart, loosen `rtol`/`atol`, or shorten "
        "[t0, t1]."
        for w in where
    ]
    msgs.append(
        "flow: the ODE solve failed (step size collapsed or solver breakdown); "
        "the flow may be diverging or stiff."
    )
    return tuple(msgs)


def _finite(tree) -> Array:
    leaves = [jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves))


# Where, after the last finite state, the field is probed on a failure:
# offsets as fractions of t1 - t0 (an adaptive solve that met a NaN keeps
# shrinking its step just before it).
_PROBES = (0.0, 1e-7, 1e-5, 1e-3, 1e-2, 1e-1)


def _diagnose(field, args, x0, t0, t1, t_last, x_last, result, h=None) -> Array:
    """Index into `_failure_messages` of a failed solve (run only on failure).

    `(t_last, x_last)`: the last time and finite state the solve reached; `h`:
    the fixed step, if any. The field is probed on `x_last` at and just after
    `t_last`: NaN/inf there on a bounded state (or a bounded state that became
    NaN/inf in one step) is the field's fault; a state grown past `_GROWTH`
    (1 + max|x0|) a blow-up.
    """
    field, args, x0, t_last, x_last = jax.tree.map(
        lambda a: jax.lax.stop_gradient(a) if eqx.is_array(a) else a,
        (field, args, x0, t_last, x_last),
    )
    offsets = jnp.asarray(_PROBES, t0.dtype) * (t1 - t0)
    if h is not None:
        offsets = jnp.concatenate([offsets, jnp.stack([0.5 * h, h])])
    room = jnp.abs(t1 - t_last)
    ts = jnp.where(jnp.abs(offsets) <= room, t_last + offsets, t1)

    # The field at (t0, x0), then at the probe times on x_last, one at a
    # time in one loop (lax.map, not vmap): XLA sizes the program's scratch
    # memory for this branch too, and 6-8 (n, J) buffers made every
    # successful solve ~4 % slower at n = 16384 (benchmarks/README.md).
    probe_ts = jnp.concatenate([jnp.reshape(t0, (1,)), ts])

    def probe(i):
        x = jnp.where(i == 0, x0, x_last)
        return _finite(field.batch_call(probe_ts[i], x, args))

    oks = jax.lax.map(probe, jnp.arange(probe_ts.shape[0]))
    at_start, v_ok = oks[0], oks[1:]
    scale = 1 + jnp.max(jnp.abs(x0))
    x_ok = _finite(x_last)
    bounded = x_ok & (jnp.max(jnp.abs(jnp.where(x_ok, x_last, 0))) <= _GROWTH * scale)
    frac = (t_last - t0) / (t1 - t0)
    tenth = jnp.clip(jnp.floor(frac * _TENTHS), 0, _TENTHS - 1).astype(jnp.int32)
    tenth = jnp.where(jnp.isfinite(frac), tenth, 0)
    max_steps = result == diffrax.RESULTS.max_steps_reached
    nonfinite = result == diffrax.RESULTS.nonfinite
    field_bad = bounded & (~jnp.all(v_ok) | nonfinite)
    k = 1 + tenth
    return jnp.select(
        [~at_start, field_bad, nonfinite, max_steps & ~bounded, max_steps],
        [jnp.asarray(0), k, k + _TENTHS, k + 2 * _TENTHS, k + 3 * _TENTHS],
        1 + 4 * _TENTHS,
    ).astype(jnp.int32)


def _guard(like, pred, index, msgs) -> Array:
    """A scalar zero of `like`'s dtype carrying a run-time check.

    The error is attached to a scalar, never to the (possibly sharded) state:
    `eqx.error_if` on an array makes the compiler replicate it.
    """
    return eqx.branched_error_if(jnp.zeros((), like.dtype), pred, index, msgs)


def _solve_impl(
    field,
    x0,
    t0,
    t1,
    ts,
    dt0,
    probes,
    args,
    *,
    solver,
    controller,
    adjoint,
    max_steps,
    throw,
    log_density,
    kinetic,
    jacobian,
    scan,
    num_steps,
    ts_given,
    times_checked,
):
    # One scalar check before the solve (it feeds t0, so it runs first): x0
    # finite, and, for traced times, t0/t1 finite and t1 != t0.
    preds = [~_finite(x0)]
    msgs = ["flow: x0 contains NaN or inf; expected finite starting points."]
    if not times_checked:
        preds += [~jnp.isfinite(t0), ~jnp.isfinite(t1), t1 == t0]
        msgs += [
            "flow: `t0` must be finite.",
            "flow: `t1` must be finite.",
            "flow: t1 == t0; expected t1 != t0.",
        ]
    pred = jnp.stack(preds)
    t0 = t0 + _guard(t0, jnp.any(pred), jnp.argmax(pred), tuple(msgs))
    n = x0.shape[0]
    y0 = {"x": x0}
    zeros = jnp.zeros((n,), x0.dtype)
    if log_density:
        y0["logp"] = zeros
    if kinetic:
        y0["kin"] = zeros
    if jacobian:
        y0["jac"] = zeros
    term = diffrax.ODETerm(FlowTerm(field, log_density or None, kinetic, jacobian))
    if scan is not None:
        tableau = explicit_tableau(solver)
        ys = scan_solve(
            term,
            y0,
            t0,
            t1,
            num_steps,
            (args, probes),
            tableau,
            scan == "scan_checkpoint",
        )
        sol_ts = jnp.stack([t0, t1])
        result = diffrax.RESULTS.successful
        k = jnp.asarray(num_steps)
        stats = dict(
            num_steps=k,
            num_accepted_steps=k,
            num_rejected_steps=0 * k,
            max_steps=num_steps,
        )

        def last_scan():
            t, y = last_finite_step(
                term, y0, t0, t1, num_steps, (args, probes), tableau
            )
            return t, y["x"]

        last_state = last_scan

    else:
        backsolve = isinstance(adjoint, diffrax.BacksolveAdjoint)
        if not ts_given:
            # Only the endpoints: what a user of diffeqsolve would write, and
            # as fast as it (benchmarks/README.md). On a failure (throw=False)
            # the end state is the last accepted one, where the solve stopped.
            saveat = diffrax.SaveAt(t0=True, t1=True)
        elif backsolve:
            # The requested times, and where the solve stopped (t1 on success);
            # diffrax's BacksolveAdjoint takes no `subs`: t1 joins the times
            # there (on a failure its entry is unreached, inf, and the last
            # finite saved state is used below).
            saveat = diffrax.SaveAt(ts=jnp.concatenate([ts, jnp.reshape(t1, (1,))]))
        else:
            saveat = diffrax.SaveAt(
                subs=(diffrax.SubSaveAt(ts=ts), diffrax.SubSaveAt(t1=True))
            )
        sol = diffrax.diffeqsolve(
            term,
            solver,
            t0,
            t1,
            dt0,
            y0,
            (args, probes),
            saveat=saveat,
            stepsize_controller=controller,
            adjoint=adjoint,
            max_steps=max_steps,
            throw=False,
        )
        assert sol.ys is not None and sol.ts is not None
        if not ts_given:
            ys = y_end = sol.ys
            sol_ts, t_end = jnp.stack([t0, t1]), sol.ts
        elif backsolve:
            head = lambda a: a[:-1]  # noqa: E731
            tail = lambda a: a[-1:]  # noqa: E731
            ys, y_end = jax.tree.map(head, sol.ys), jax.tree.map(tail, sol.ys)
            sol_ts, t_end = head(sol.ts), tail(sol.ts)
        else:
            (ys, y_end), (sol_ts, t_end) = sol.ys, sol.ts
        result = sol.result
        stats = dict(sol.stats)

        def last_state():  # pyright: ignore[reportRedeclaration]
            # Where the solve stopped; if that state is not finite, the last
            # saved time whose state is (unreached ones are inf).
            xs = ys["x"]
            ok = jax.vmap(_finite)(xs) & jnp.isfinite(sol_ts)
            i = jnp.where(jnp.any(ok), xs.shape[0] - 1 - jnp.argmax(ok[::-1]), 0)
            t_saved = jnp.where(jnp.any(ok), sol_ts[i], t0)
            x_saved = jnp.where(jnp.any(ok), xs[i], x0)
            end_ok = _finite(y_end["x"][-1])
            return (
                jnp.where(end_ok, t_end[-1], t_saved),
                jnp.where(end_ok, y_end["x"][-1], x_saved),
            )

    finite = _finite(ys["x"])
    result = diffrax.RESULTS.where(
        (result == diffrax.RESULTS.successful) & ~finite,
        diffrax.RESULTS.nonfinite,  # pyright: ignore[reportArgumentType]
        result,
    )
    tracks = ys["x"]
    if throw:
        failed = result != diffrax.RESULTS.successful

        h = None if scan is None else (t1 - t0) / num_steps

        def diagnose():
            t_last, x_last = last_state()
            return _diagnose(field, args, x0, t0, t1, t_last, x_last, result, h)

        # Only on failure: where the solve stopped and why (one conditional).
        cause = jax.lax.cond(failed, diagnose, lambda: jnp.zeros((), jnp.int32))
        tracks = tracks + _guard(tracks, failed, cause, _failure_messages())
    return FlowResult(
        ts=sol_ts,
        tracks=tracks,
        log_density_tracks=ys.get("logp"),
        kinetic=ys["kin"][-1] if kinetic else None,
        jacobian_frobenius=ys["jac"][-1] if jacobian else None,
        stats=stats,
        result=result,
    )


# Counted (never limited) so tests can check that repeated calls do not retrace.
_solve_counted = eqx.debug.assert_max_traces(_solve_impl, max_traces=None)
_solve = eqx.filter_jit(_solve_counted)


@auto_axes_for("x0")  # under an outer jit, Explicit mesh axes (_sharding.py)
def flow(
    field: AbstractVectorField | VectorFieldFn,
    x0: Points | Array,
    t0: float | ArrayLike | None = None,
    t1: float | ArrayLike | None = None,
    *,
    ts: ArrayLike | None = None,
    solver: "str | diffrax.AbstractSolver | None" = None,
    dt0: float | None = None,
    num_steps: int | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    max_steps: int | None = None,
    adjoint: "str | diffrax.AbstractAdjoint | None" = None,
    throw: bool = True,
    args: Any = None,
    log_density: Literal[False, "exact", "hutchinson"] = False,
    key: Key | None = None,
    num_probes: int = 1,
    kinetic: bool = False,
    jacobian: bool = False,
    mesh: jax.sharding.Mesh | None = None,
) -> FlowResult:
    """Flow points along a vector field: solve $\\dot x_t=v_t(x_t)$ from $t_0$ to $t_1$.

    The time-$t_1$ map of the flow is the depth limit of a ResNet (docs/theory/flows.md#depth-continuum). All `n` points are integrated in one `diffrax.diffeqsolve`
    whose state is the `(n, d)` array (one shared adaptive step size; error
    control is over the whole batch). With $t_1<t_0$ it integrates backward:
    the inverse map.

    **Arguments:**

    - `field`: an `AbstractVectorField` (e.g. a `RidgeletField`), or any
        callable `field(t, x, args) -> dx` on one point `(d,)` (an
        `eqx.Module`, a plain function), wrapped once. The batch is evaluated
        by `field.batch_call` (`RidgeletField` fuses it into two matmuls; a
        `vmap` by default).
    - `x0`: `(n, d)` starting points, or one point `(d,)`.
    - `t0`, `t1`: start and end times (default: the field's `t0`, `t1`).
    - `ts`: `(T,)` times to record (monotone from `t0` towards `t1`); default
        `[t0, t1]`.
    - `solver`: a name (`"tsit5"` default, `"dopri5"`, `"dopri8"`, `"bosh3"`,
        `"euler"`, `"heun"`, `"midpoint"`, `"ralston"`, `"rk4"`) or a diffrax
        solver.
    - `dt0`, `num_steps`: a fixed step size (its sign is taken from
        $t_1-t_0$) or number of steps. Either one makes the solve fixed-step (`ConstantStepSize`) unless a
        `stepsize_controller` is given. Euler, Heun, Midpoint, Ralston and RK4
        need one of them.
    - `stepsize_controller`: a diffrax controller; default
        `PIDController(rtol, atol)` for adaptive solves, wrapped in a
        `ClipStepSizeController` when the field has `step_ts` (kinks in time,
        e.g. the knots of a `RidgeletField` with a `"linear"` basis) or
        `jump_ts` (jumps, `"piecewise_constant"`), so that steps land on them
        instead of being rejected across them. A controller you pass is used
        as given.
    - `rtol`, `atol`: tolerances of the default controller.
    - `max_steps`: step budget (default: `num_steps` for fixed steps, 4096
        otherwise).
    - `adjoint`: how reverse mode differentiates the solve. `None` (default)
        picks `"scan_checkpoint"` for a fixed-step explicit RK solve given by
        `num_steps` (and no `ts`), otherwise `"recursive"` (an adaptive
        solve is one `diffrax.diffeqsolve`, as fast as calling it directly
        with the same controller: benchmarks/README.md). `"scan"`: one
        `lax.scan` over the steps storing every stage (fastest, memory
        O(steps x stages x n x J));
        `"scan_checkpoint"`: the same with each step rematerialised (memory
        O(steps x n x m)); `"recursive"`: diffrax's `RecursiveCheckpointAdjoint`;
        `"backsolve"`: `BacksolveAdjoint` (O(1) memory, solves the adjoint ODE
        backward); `"direct"`: `DirectAdjoint`; or a diffrax adjoint.
    - `throw`: raise on failure (the default) or report it in `result`.
    - `mesh`: integrate on this `jax.sharding.Mesh` (default: the mesh of
      `x0` when it is sharded with a `NamedSharding`; rule in
      `flowrep/_sharding.py`): the samples are placed sharded by rows, the
      field replicated, and the partitioning of the solve is left to the
      compiler. The state stays sharded by rows through the solve (the
      run-time checks guard scalars, never the state), so the tracks come
      back sharded, `P(None, axis, None)`, and memory per device is
      $O(nd/D)$ plus the replicated field; results equal the single-device
      solve. README, "Scaling out".
    - `args`: passed to the field.
    - `log_density`: `False`, `"exact"` (trace of the Jacobian: fused for a
        `RidgeletField`, `jacfwd` per point otherwise; for small m) or
        `"hutchinson"` ($\\varepsilon^\\top J\\varepsilon$ with Rademacher
        probes drawn once per solve; needs `key`).
    - `key`: PRNG key for the Hutchinson probes.
    - `num_probes`: probes per point for the Hutchinson estimates.
    - `kinetic`: also integrate $\\|v_t(x_t)\\|^2$ (RNODE's kinetic energy).
    - `jacobian`: also integrate $\\|J\\varepsilon\\|^2$, an unbiased estimate
        of $\\|\\nabla v_t(x_t)\\|_F^2$ (RNODE); needs `key`.

    **Returns:** a `FlowResult`.

    **dtypes:** the solve runs in `x0`'s floating dtype; float16 and
    bfloat16 `x0` are promoted to float32 (the default tolerances are below
    their resolution), integer `x0` to the default float, and `x0` to the
    field's output dtype when that is wider (float32 points, float64 field
    under `jax_enable_x64`). `result.tracks.dtype` says which precision was
    used.

    **Raises:** `ValueError` when x0 and the field disagree in dimension,
    `t1 == t0`, `t0`/`t1` are not finite, `rtol`/`atol` are negative or both
    zero, `num_steps`/`max_steps` are not positive integers, a fixed-step
    solver lacks `dt0`/`num_steps`, or an option is unknown;
    `eqx.EquinoxRuntimeError` when x0 holds NaN/inf (or traced `t0`/`t1` are
    not finite) or, with `throw=True`, when the solve fails, with the cause
    and about when (the tenth of $[t_0, t_1]$ holding the last finite state):
    the field is NaN/inf at the start; the field turned NaN/inf later on a
    bounded state (|x| <= 1e3 (1 + max|x0|)), not a blow-up; the state grew
    past that bound and became NaN/inf or exhausted `max_steps` (a blow-up);
    `max_steps` reached on a bounded state with a finite field (stiff, or
    too few steps). The cause is worked out only on failure, in the compiled
    solve (no host round-trip on success); for a `ts` solve the time is that
    of the last state the solver reached.
    """
    try:
        x0 = jnp.asarray(x0)
    except TypeError as e:
        raise TypeError(
            f"`x0` must be an array of shape (n, d) or (d,); got {type(x0).__name__}."
        ) from e
    if jnp.issubdtype(x0.dtype, jnp.complexfloating) or x0.dtype == jnp.bool_:
        raise TypeError(f"`x0` must hold real numbers; got dtype {x0.dtype}.")
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.result_type(float))
    elif jnp.finfo(x0.dtype).bits < 32:
        # float16/bfloat16 cannot meet the default tolerances (and diffrax's
        # controller breaks down in them): solve in float32; tracks say so.
        x0 = x0.astype(jnp.float32)
    for name, tol in (("rtol", rtol), ("atol", atol)):
        tv = _concrete_float(tol)
        if tv is not None and not (math.isfinite(tv) and tv >= 0):
            raise ValueError(f"`{name}` must be a finite number >= 0; got {tv}.")
    if _concrete_float(rtol) == 0 and _concrete_float(atol) == 0:
        raise ValueError(
            "`rtol` and `atol` are both 0: no adaptive step can meet a zero tolerance; "
            "give a positive `rtol` or `atol` (or a fixed step with `num_steps`)."
        )
    if num_steps is not None:
        num_steps = check_positive_int(num_steps, "num_steps")
    if max_steps is not None:
        max_steps = check_positive_int(max_steps, "max_steps")
    if dt0 is not None:
        dv = _concrete_float(dt0)
        if dv is not None and not (math.isfinite(dv) and dv != 0):
            raise ValueError(f"`dt0` must be finite and non-zero; got {dv}.")
    single = x0.ndim == 1
    if single:
        x0 = x0[None]
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape (n, d) or (d,); got {x0.shape}.")
    if x0.shape[0] == 0 or x0.shape[1] == 0:
        raise ValueError(
            f"x0 is empty (shape {x0.shape}); need n >= 1 points in d >= 1 dims."
        )
    layout = resolve_layout(mesh, x0)
    if layout is not None:  # before the checks: they index x0
        x0 = place(x0, layout)
    field = as_vector_field(field)
    t0 = field.t0 if t0 is None else t0
    t1 = field.t1 if t1 is None else t1
    if t0 is None or t1 is None:
        raise ValueError("Give t0 and t1 (this field has no default time interval).")
    for name, tv in (("t0", t0), ("t1", t1)):
        if isinstance(tv, (str, bytes, bool, complex)) or (
            hasattr(tv, "dtype")
            and not jnp.issubdtype(getattr(tv, "dtype"), jnp.number)
        ):
            raise TypeError(f"`{name}` must be a real number; got {tv!r}.")
    throw = check_bool(throw, "throw")
    kinetic = check_bool(kinetic, "kinetic")
    jacobian = check_bool(jacobian, "jacobian")
    t0c, t1c = _concrete_float(t0), _concrete_float(t1)
    if t0c is not None and t1c is not None:
        if not (math.isfinite(t0c) and math.isfinite(t1c)):
            bad = "t0" if not math.isfinite(t0c) else "t1"
            raise ValueError(
                f"`{bad}` must be finite; got t0={t0c}, t1={t1c} (a flow over an "
                "infinite interval never ends)."
            )
        if t0c == t1c:
            raise ValueError(
                f"t1 == t0 == {t0c}: the flow over an empty interval is the identity; expected t1 != t0."
            )
    if log_density not in (False, None, "exact", "hutchinson"):
        raise ValueError(
            f"log_density must be False, 'exact' or 'hutchinson'; got {log_density!r}."
        )
    dtype = x0.dtype
    t0a = jnp.asarray(t0, dtype)
    t1a = jnp.asarray(t1, dtype)
    out_dtype = _check_field_shape(field, t0a, x0, args)
    if jnp.issubdtype(out_dtype, jnp.floating):
        # One dtype for state and velocity (a float64 field on float32 points
        # under x64 solves in float64): `result.tracks.dtype` says which.
        promoted = jnp.promote_types(dtype, out_dtype)
        if promoted != dtype:
            dtype = promoted
            x0 = x0.astype(dtype)
            t0a = jnp.asarray(t0, dtype)
            t1a = jnp.asarray(t1, dtype)
    solver_ = get_solver(solver)
    scan_names = ("scan", "scan_checkpoint")
    scan_ok = num_steps is not None and stepsize_controller is None and ts is None
    scan_ok = scan_ok and explicit_tableau(solver_) is not None
    if isinstance(adjoint, str) and adjoint.lower() in scan_names:
        if not scan_ok:
            raise ValueError(
                f"adjoint={adjoint!r} needs a fixed-step explicit Runge-Kutta solve given by "
                "`num_steps` (no `dt0`, `ts` or `stepsize_controller`)."
            )
        scan = adjoint.lower()
    elif adjoint is None and scan_ok:
        scan = "scan_checkpoint"
    else:
        scan = None
    adjoint_ = get_adjoint(None if scan else adjoint)
    if num_steps is not None and dt0 is not None:
        raise ValueError("Give either `dt0` or `num_steps`, not both.")
    fixed = stepsize_controller is None and (num_steps is not None or dt0 is not None)
    if stepsize_controller is None:
        if fixed:
            controller = diffrax.ConstantStepSize()
        else:
            if isinstance(solver_, diffrax.Euler):
                raise ValueError(
                    f"{type(solver_).__name__} has no error estimate: give `num_steps` or `dt0` for a fixed-step solve."
                )
            controller = _with_breakpoints(
                diffrax.PIDController(rtol=rtol, atol=atol), field
            )
    else:
        controller = stepsize_controller
    if num_steps is not None:
        dt0a = (t1a - t0a) / num_steps
        if max_steps is None:
            max_steps = num_steps
    elif dt0 is not None:
        dt0a = jnp.abs(jnp.asarray(dt0, dtype)) * jnp.sign(t1a - t0a)
        if max_steps is None and t0c is not None and t1c is not None:
            max_steps = int(math.ceil(abs(t1c - t0c) / abs(float(dt0)) - 1e-9)) + 1
    else:
        dt0a = None
    if max_steps is None:
        max_steps = 4096
    if ts is None:
        ts_a = jnp.stack([t0a, t1a])
    else:
        if isinstance(ts, (str, bytes)):
            raise TypeError(f"`ts` must be a 1-D array of times; got {ts!r}.")
        ts_a = jnp.asarray(ts, dtype)
        if ts_a.ndim > 1:
            raise ValueError(
                f"`ts` must be a 1-D array of times; got shape {ts_a.shape}."
            )
        ts_a = ts_a.reshape(-1)
        if ts_a.shape[0] == 0:
            raise ValueError("`ts` is empty: give at least one time to record.")
        ts_a = check_value(
            ts_a,
            _bad_ts,
            "`ts` must be finite, monotone from `t0` towards `t1` and within [t0, t1].",
            t0a,
            t1a,
        )
    needs_probes = log_density == "hutchinson" or jacobian
    if needs_probes:
        if key is None:
            raise ValueError(
                "Hutchinson estimates (log_density='hutchinson' or jacobian=True) need a PRNG `key`."
            )
        if num_probes < 1:
            raise ValueError(f"num_probes must be >= 1; got {num_probes}.")
        probes = jr.rademacher(key, (num_probes,) + x0.shape, dtype=dtype)
    else:
        probes = None
    res = _solve(
        field,
        x0,
        t0a,
        t1a,
        ts_a,
        dt0a,
        probes,
        args,
        solver=solver_,
        controller=controller,
        adjoint=adjoint_,
        max_steps=max_steps,
        throw=throw,
        log_density=log_density or None,
        kinetic=kinetic,
        jacobian=jacobian,
        scan=scan,
        num_steps=num_steps,
        ts_given=ts is not None,
        times_checked=t0c is not None and t1c is not None,
    )
    if single:
        res = eqx.tree_at(
            lambda r: (
                r.tracks,
                r.log_density_tracks,
                r.kinetic,
                r.jacobian_frobenius,
            ),
            res,
            (
                res.tracks[:, 0],
                None
                if res.log_density_tracks is None
                else res.log_density_tracks[:, 0],
                None if res.kinetic is None else res.kinetic[0],
                None if res.jacobian_frobenius is None else res.jacobian_frobenius[0],
            ),
            is_leaf=lambda x: x is None,
        )
    return res if layout is None else give_back(res, layout)
