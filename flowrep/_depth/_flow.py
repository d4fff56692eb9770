"""`flow`: integrate $\\dot x_t=v_t(x_t)$ for a batch of points, with the continuity equation.

A deep network is the time-$T$ map of a flow (THEORY.md section 2; Sonoda &
Murata, JMLR 2019). `flow` solves the ODE for `n` points at once inside one
`diffrax.diffeqsolve`: the state is the `[n, m]` array and the field is
evaluated on the whole batch (`field.batch_call` when it has one, a `vmap`
otherwise). Optional extra state rides along the same solve:

- $\\frac{d}{dt}\\log\\mu_t(x_t)=-\\nabla\\cdot v_t(x_t)$ (continuity equation),
  by the exact trace or Hutchinson's estimator $\\varepsilon^\\top J\\varepsilon$;
- RNODE regularisers (Finlay et al. 2020): $\\int\\|v_t(x_t)\\|^2dt$ and
  $\\int\\|\\nabla v_t(x_t)\\|_F^2dt$ (the latter as $\\|J\\varepsilon\\|^2$).
"""

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal, NamedTuple

import diffrax
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from diffrax._local_interpolation import ThirdOrderHermitePolynomialInterpolation
from diffrax._solver.runge_kutta import AbstractERK, ButcherTableau
from jaxtyping import Array, ArrayLike

from .._custom_types import Key, Points, TrackArray


# ----------------------------------------------------------------------------- solvers

_rk4_tableau = ButcherTableau(
    a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])),
    b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    # Embedded midpoint method (order 2): only for adaptive use; fixed steps ignore it.
    b_error=np.array([1 / 6, 1 / 3 - 1, 1 / 3, 1 / 6]),
    c=np.array([0.5, 0.5, 1.0]),
)


class RK4(AbstractERK):
    """The classical 4th-order Runge-Kutta method (4 stages), for fixed steps.

    Carries an embedded midpoint method so it also runs under a
    `PIDController`, though `Tsit5`/`Dopri5` are better adaptive choices.
    """

    tableau: ClassVar[ButcherTableau] = _rk4_tableau
    interpolation_cls: ClassVar[
        Callable[..., ThirdOrderHermitePolynomialInterpolation]
    ] = ThirdOrderHermitePolynomialInterpolation.from_k

    def order(self, terms):
        del terms
        return 4


_SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "midpoint": diffrax.Midpoint,
    "ralston": diffrax.Ralston,
    "rk4": RK4,
    "bosh3": diffrax.Bosh3,
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
}
_ADJOINTS: dict[str, Callable[[], diffrax.AbstractAdjoint]] = {
    "recursive": diffrax.RecursiveCheckpointAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
    "direct": diffrax.DirectAdjoint,
}


def _get_solver(solver) -> diffrax.AbstractSolver:
    if solver is None:
        return diffrax.Tsit5()
    if isinstance(solver, str):
        try:
            return _SOLVERS[solver.lower()]()
        except KeyError:
            raise ValueError(
                f"Unknown solver {solver!r}; expected one of {sorted(_SOLVERS)} or a diffrax solver."
            ) from None
    if isinstance(solver, diffrax.AbstractSolver):
        return solver
    raise TypeError(f"`solver` must be a name or a diffrax solver; got {solver!r}.")


def _get_adjoint(adjoint) -> diffrax.AbstractAdjoint:
    if adjoint is None:
        return diffrax.RecursiveCheckpointAdjoint()
    if isinstance(adjoint, str):
        try:
            return _ADJOINTS[adjoint.lower()]()
        except KeyError:
            raise ValueError(
                f"Unknown adjoint {adjoint!r}; expected one of {sorted(_ADJOINTS)} or a diffrax adjoint."
            ) from None
    if isinstance(adjoint, diffrax.AbstractAdjoint):
        return adjoint
    raise TypeError(f"`adjoint` must be a name or a diffrax adjoint; got {adjoint!r}.")


# ----------------------------------------------------------------------------- result


class FlowResult(eqx.Module):
    """What `flow` returns.

    **Fields / properties:**

    - `ts`: `[T]` the saved times.
    - `tracks`: `[T, n, m]` the points at those times (`[T, m]` for one point).
    - `xs`: `[n, m]` the points at the last saved time (normally $t_1$).
    - `log_density_tracks`: `[T, n]` $\\log\\mu_t(x_t)-\\log\\mu_{t_0}(x_0)$, or `None`.
    - `log_density_change`: `[n]` its value at the last saved time, or `None`.
    - `kinetic`: `[n]` $\\int\\|v_t(x_t)\\|^2dt$ over the solve, or `None`.
    - `jacobian_frobenius`: `[n]` $\\int\\|\\nabla v_t(x_t)\\|_F^2dt$ (an
      unbiased estimate when Hutchinson probes are used), or `None`.
    - `stats`: solver statistics (`num_steps`, `num_accepted_steps`, ...).
    - `result`: a `diffrax.RESULTS`; `successful` is `result == successful`.
    """

    ts: Array
    tracks: TrackArray | Array
    log_density_tracks: Array | None
    kinetic: Array | None
    jacobian_frobenius: Array | None
    stats: dict[str, Any]
    result: diffrax.RESULTS

    @property
    def xs(self) -> Array:
        return self.tracks[-1]

    @property
    def log_density_change(self) -> Array | None:
        if self.log_density_tracks is None:
            return None
        return self.log_density_tracks[-1]

    @property
    def successful(self) -> Array:
        return self.result == diffrax.RESULTS.successful

    def log_densities(self, log_density0: ArrayLike) -> Array:
        """$\\log\\mu_t(x_t)$ at the saved times, `[T, n]`, from $\\log\\mu_{t_0}(x_0)$ `[n]`."""
        if self.log_density_tracks is None:
            raise ValueError(
                "This flow did not track the log-density: call flow(..., log_density='exact' or 'hutchinson')."
            )
        return jnp.asarray(log_density0) + self.log_density_tracks


def flow_entropy(result: FlowResult, log_density0: ArrayLike) -> Array:
    """Entropy estimates $H[\\mu_t]=-\\frac1n\\sum_i\\log\\mu_t(x_{i,t})$ at the saved times.

    The points $x_{i,t_0}$ must be samples of $\\mu_{t_0}$; then $x_{i,t}$ are
    samples of the pushforward $\\mu_t$ and the continuity equation gives
    $\\log\\mu_t(x_{i,t})$ (THEORY.md section 2).

    **Arguments:**

    - `result`: a `FlowResult` from `flow(..., log_density=...)`.
    - `log_density0`: `[n]` values $\\log\\mu_{t_0}(x_{i,t_0})$.

    **Returns:** `[T]` entropies.
    """
    return -jnp.mean(result.log_densities(log_density0), axis=-1)


# ----------------------------------------------------------------------------- vector field


def _batched(field, t, xs, args):
    batch_call = getattr(field, "batch_call", None)
    if batch_call is not None:
        return batch_call(t, xs, args)
    return jax.vmap(field, in_axes=(None, 0, None))(t, xs, args)


def _exact_divergence(field, t, xs, args):
    batch_div = getattr(field, "batch_divergence", None)
    if batch_div is not None:
        return batch_div(t, xs, args)

    def one(x):
        fn = lambda y: field(t, y, args)  # noqa: E731
        return fn(x), jnp.trace(jax.jacfwd(fn)(x))

    return jax.vmap(one)(xs)


class _FlowTerm(eqx.Module):
    """The augmented batched vector field of `flow` (a module, so adjoints see the field's arrays)."""

    field: Any
    log_density: str | None = eqx.field(static=True)
    kinetic: bool = eqx.field(static=True)
    jacobian: bool = eqx.field(static=True)

    def __call__(self, t, y, args):
        user_args, probes = args
        xs = y["x"]
        out = {}
        needs_jvp = self.log_density == "hutchinson" or self.jacobian
        div = None
        if needs_jvp:
            fn = lambda z: _batched(self.field, t, z, user_args)  # noqa: E731

            def jvp(eps):
                return jax.jvp(fn, (xs,), (eps,))

            v, jeps = jax.vmap(jvp, out_axes=(None, 0))(probes)
            if self.log_density == "hutchinson":
                div = jnp.mean(jnp.sum(probes * jeps, axis=-1), axis=0)
            if self.jacobian:
                out["jac"] = jnp.mean(jnp.sum(jeps**2, axis=-1), axis=0)
            if self.log_density == "exact":
                _, div = _exact_divergence(self.field, t, xs, user_args)
        elif self.log_density == "exact":
            v, div = _exact_divergence(self.field, t, xs, user_args)
        else:
            v = _batched(self.field, t, xs, user_args)
        out["x"] = v
        if div is not None:
            out["logp"] = -div
        if self.kinetic:
            out["kin"] = jnp.sum(v**2, axis=-1)
        return out


# ----------------------------------------------------------------------------- flow


def _with_breakpoints(controller, field):
    """Clip adaptive steps to the field's kinks (`step_ts`) and jumps (`jump_ts`).

    A field that is only piecewise smooth in time (a `RidgeletField` on a knot
    basis, a ResNet read as a field) otherwise makes the controller reject
    the steps that straddle a knot, and every rejected step is also paid for
    again by reverse-mode differentiation.
    """
    step_ts, jump_ts = _field_times(field, "step_ts"), _field_times(field, "jump_ts")
    if step_ts is None and jump_ts is None:
        return controller
    return diffrax.ClipStepSizeController(controller, step_ts=step_ts, jump_ts=jump_ts)


def _field_times(field, name):
    """`field.<name>` (a sequence or array of times) as a tuple; None if absent or empty."""
    ts = getattr(field, name, None)
    if ts is None:
        return None
    try:
        ts = tuple(np.asarray(ts, dtype=float).reshape(-1).tolist())
    except (TypeError, jax.errors.ConcretizationTypeError):  # traced: pass as is
        return jnp.asarray(ts).reshape(-1)
    return ts or None


def _concrete_float(x) -> float | None:
    try:
        return float(x)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return None


def _check_field_shape(field, t0, x0, args):
    m = x0.shape[-1]
    dim = getattr(field, "dim", None)
    if isinstance(dim, int) and dim != m:
        raise ValueError(
            f"The points have dimension m={m} but the field acts on R^{dim}; "
            f"expected x0 of shape [n, {dim}] or [{dim}]."
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


def _tableau(solver) -> tuple[tuple, np.ndarray, np.ndarray] | None:
    """(a_lower, b_sol, c) of an explicit RK solver, trailing unused stages dropped."""
    if type(solver) is diffrax.Euler:
        return (), np.array([1.0]), np.zeros(0)
    if not isinstance(solver, AbstractERK):
        return None
    tab = solver.tableau
    if not isinstance(tab, ButcherTableau):
        return None
    a_lower = tuple(np.asarray(a) for a in tab.a_lower)
    b = np.asarray(tab.b_sol)
    c = np.asarray(tab.c)
    # FSAL tableaus (Tsit5, Dopri5) end on a stage with zero weight: skip it.
    stages = len(b)
    while stages > 1 and b[stages - 1] == 0:
        stages -= 1
    return a_lower[: stages - 1], b[:stages], c[: stages - 1]


def _scan_solve(term, y0, t0, t1, num_steps, args, tableau, checkpoint):
    """Fixed-step explicit RK as one `lax.scan`; reverse mode stores every stage.

    The same steps as diffrax's `ConstantStepSize` solve, without the
    recomputation of a checkpointed while loop (as torchdiffeq does it).
    """
    a_lower, b_sol, c = tableau
    h = (t1 - t0) / num_steps

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


def _adaptive_solve(term, solver, controller, y0, t0, t1, dt0, args, max_steps):
    """Adaptive solve from t0 to t1 > t0 keeping only the endpoint.

    Diffrax's own solver step and step-size controller, driven by one
    checkpointed while loop (reverse mode as `RecursiveCheckpointAdjoint`)
    without `diffeqsolve`'s output, event and dense-output machinery, which on
    CPU costs ~20% of a gradient through the solve. Same steps, same
    acceptance decisions, same statistics and result codes as `diffeqsolve`
    (tested).
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
    return ys, result, stats


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
    adaptive_loop,
):
    x0 = eqx.error_if(
        x0,
        ~jnp.all(jnp.isfinite(x0)),
        "flow: x0 contains NaN or inf; expected finite starting points.",
    )
    t1 = eqx.error_if(t1, t1 == t0, "flow: t1 == t0; expected t1 != t0.")
    n = x0.shape[0]
    y0 = {"x": x0}
    zeros = jnp.zeros((n,), x0.dtype)
    if log_density:
        y0["logp"] = zeros
    if kinetic:
        y0["kin"] = zeros
    if jacobian:
        y0["jac"] = zeros
    term = diffrax.ODETerm(_FlowTerm(field, log_density or None, kinetic, jacobian))
    if adaptive_loop:
        ys, result, stats = _adaptive_solve(
            term, solver, controller, y0, t0, t1, dt0, (args, probes), max_steps
        )
        sol_ts = jnp.stack([t0, t1])
    elif scan is not None:
        ys = _scan_solve(
            term,
            y0,
            t0,
            t1,
            num_steps,
            (args, probes),
            _tableau(solver),
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
    else:
        sol = diffrax.diffeqsolve(
            term,
            solver,
            t0,
            t1,
            dt0,
            y0,
            (args, probes),
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller,
            adjoint=adjoint,
            max_steps=max_steps,
            throw=False,
        )
        ys, sol_ts, result = sol.ys, sol.ts, sol.result
        assert ys is not None and sol_ts is not None
        stats = dict(sol.stats)
    finite = jnp.all(jnp.isfinite(ys["x"]))
    result = diffrax.RESULTS.where(
        (result == diffrax.RESULTS.successful) & ~finite,
        diffrax.RESULTS.nonfinite,  # pyright: ignore[reportArgumentType]
        result,
    )
    tracks = ys["x"]
    if throw:
        tracks = eqx.error_if(
            tracks,
            result == diffrax.RESULTS.max_steps_reached,
            "flow: the maximum number of solver steps (max_steps) was reached before t1. "
            "The flow probably diverged (blew up in finite time) or is very stiff; "
            "check the field, shorten [t0, t1], or raise `max_steps`.",
        )
        tracks = eqx.error_if(
            tracks,
            result == diffrax.RESULTS.nonfinite,
            "flow: the solution became NaN or inf before t1: the flow diverged. "
            "Use smaller steps, an adaptive solver, or check the field.",
        )
        tracks = eqx.error_if(
            tracks,
            (result != diffrax.RESULTS.successful)
            & (result != diffrax.RESULTS.max_steps_reached)
            & (result != diffrax.RESULTS.nonfinite),
            "flow: the ODE solve failed (step size collapsed or solver breakdown); "
            "the flow may be diverging or stiff.",
        )
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


def flow(
    field: Callable[[Any, Array, Any], Array],
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
) -> FlowResult:
    """Flow points along a vector field: solve $\\dot x_t=v_t(x_t)$ from $t_0$ to $t_1$.

    The time-$t_1$ map of the flow is the depth limit of a ResNet (THEORY.md
    section 2). All `n` points are integrated in one `diffrax.diffeqsolve`
    whose state is the `[n, m]` array (one shared adaptive step size; error
    control is over the whole batch). With $t_1<t_0$ it integrates backward:
    the inverse map.

    **Arguments:**

    - `field`: any vector field `field(t, x, args) -> dx` on one point `[m]`
        (a `RidgeletField`, an `eqx.Module`, a plain function). A field with
        a `batch_call(t, xs, args)` method is evaluated on the whole batch by
        it (`RidgeletField` fuses it into two matmuls); otherwise `jax.vmap`.
    - `x0`: `[n, m]` starting points, or one point `[m]`.
    - `t0`, `t1`: start and end times (default: the field's `t0`, `t1`).
    - `ts`: `[T]` times to record (monotone from `t0` towards `t1`); default
        `[t0, t1]`.
    - `solver`: a name (`"tsit5"` default, `"dopri5"`, `"dopri8"`, `"bosh3"`,
        `"euler"`, `"heun"`, `"midpoint"`, `"ralston"`, `"rk4"`) or a diffrax
        solver.
    - `dt0`, `num_steps`: a fixed step size or number of steps. Either one
        makes the solve fixed-step (`ConstantStepSize`) unless a
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
        `num_steps` (and no `ts`); for an adaptive explicit RK solve forward
        in time with no `ts` it runs flowrep's own loop over diffrax's solver
        step and controller (checkpointed like `"recursive"`, with the same
        steps, values and gradients as `diffeqsolve`, ~5-10% faster);
        otherwise `"recursive"`. `"scan"`: one `lax.scan` over the
        steps storing every stage (fastest, memory O(steps x stages x n x J));
        `"scan_checkpoint"`: the same with each step rematerialised (memory
        O(steps x n x m)); `"recursive"`: diffrax's `RecursiveCheckpointAdjoint`;
        `"backsolve"`: `BacksolveAdjoint` (O(1) memory, solves the adjoint ODE
        backward); `"direct"`: `DirectAdjoint`; or a diffrax adjoint.
    - `throw`: raise on failure (the default) or report it in `result`.
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

    **Raises:** `ValueError` when x0 and the field disagree in dimension,
    `t1 == t0`, a fixed-step solver lacks `dt0`/`num_steps`, or an option is
    unknown; `eqx.EquinoxRuntimeError` when x0 holds NaN/inf or, with
    `throw=True`, when the solve fails (max_steps reached: the flow diverged
    or is stiff; NaN/inf along the way).
    """
    x0 = jnp.asarray(x0)
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.result_type(float))
    single = x0.ndim == 1
    if single:
        x0 = x0[None]
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape [n, m] or [m]; got {x0.shape}.")
    if x0.shape[0] == 0 or x0.shape[1] == 0:
        raise ValueError(
            f"x0 is empty (shape {x0.shape}); need n >= 1 points in m >= 1 dims."
        )
    if t0 is None:
        t0 = getattr(field, "t0", None)
    if t1 is None:
        t1 = getattr(field, "t1", None)
    if t0 is None or t1 is None:
        raise ValueError("Give t0 and t1 (this field has no default time interval).")
    t0c, t1c = _concrete_float(t0), _concrete_float(t1)
    if t0c is not None and t1c is not None:
        if not (math.isfinite(t0c) and math.isfinite(t1c)):
            raise ValueError(f"t0 and t1 must be finite; got t0={t0c}, t1={t1c}.")
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
    _check_field_shape(field, t0a, x0, args)
    solver_ = _get_solver(solver)
    scan_names = ("scan", "scan_checkpoint")
    scan_ok = num_steps is not None and stepsize_controller is None and ts is None
    scan_ok = scan_ok and _tableau(solver_) is not None
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
    adjoint_ = _get_adjoint(None if scan else adjoint)
    if num_steps is not None and dt0 is not None:
        raise ValueError("Give either `dt0` or `num_steps`, not both.")
    if num_steps is not None and num_steps < 1:
        raise ValueError(f"num_steps must be >= 1; got {num_steps}.")
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
        ts_a = jnp.asarray(ts, dtype).reshape(-1)
        if ts_a.shape[0] == 0:
            raise ValueError("`ts` is empty: give at least one time to record.")
    # Default adaptive solves forward in time that keep only the endpoint run
    # flowrep's leaner loop over diffrax's step and controller.
    adaptive_loop = (
        scan is None
        and adjoint is None
        and ts is None
        and t0c is not None
        and t1c is not None
        and t1c > t0c
        and isinstance(controller, diffrax.AbstractAdaptiveStepSizeController)
        and isinstance(solver_, AbstractERK)
        and getattr(solver_.tableau, "b_error", None) is not None
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
        adaptive_loop=adaptive_loop,
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
    return res
