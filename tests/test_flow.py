from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.extend
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

import flowrep
from flowrep._depth._flow import _solve_counted

from .helpers import loglog_slope


A = np.array([[0.1, -1.0, 0.3], [0.8, -0.2, 0.0], [-0.4, 0.5, 0.05]])


def linear_field(t, x, args):
    return jnp.asarray(A) @ x


class LinearModule(eqx.Module):
    mat: jax.Array

    def __call__(self, t, x, args):
        return self.mat @ x


FIXED: dict[str, Any] = dict(solver="rk4", num_steps=40)
TIGHT: dict[str, Any] = dict(rtol=1e-10, atol=1e-10)


def smooth_field(key):
    # Chebyshev in time: smooth, so fixed-step orders are clean.
    return flowrep.RidgeletField.random(
        key, 2, 12, basis="chebyshev", num_knots=3, sigma="tanh"
    )


# ----------------------------------------------------------------------------- linear fields


@pytest.mark.parametrize(
    "kw,tol",
    [
        (dict(rtol=1e-10, atol=1e-10), 1e-8),
        pytest.param(
            dict(solver="dopri5", rtol=1e-10, atol=1e-10), 1e-8, marks=pytest.mark.slow
        ),
        (dict(solver="rk4", num_steps=200), 1e-8),
        (dict(solver="rk4", num_steps=200, adjoint="recursive"), 1e-8),
        pytest.param(dict(solver="heun", dt0=1e-3), 1e-5, marks=pytest.mark.slow),
    ],
)
def test_linear_field_matches_expm(getkey, kw, tol):
    x0 = jr.normal(getkey(), (7, 3))
    ts = np.linspace(0.0, 1.5, 4)
    res = flowrep.flow(linear_field, x0, 0.0, 1.5, ts=ts, **kw)
    assert res.tracks.shape == (4, 7, 3)
    assert bool(res.successful)
    for k, t in enumerate(ts):
        expected = x0 @ scipy.linalg.expm(t * A).T
        np.testing.assert_allclose(res.tracks[k], expected, atol=tol, rtol=0)
    np.testing.assert_allclose(res.xs, res.tracks[-1])


def test_backward_flow_inverts(getkey):
    x0 = jr.normal(getkey(), (5, 3))
    x1 = x0 @ scipy.linalg.expm(1.2 * A).T
    back = flowrep.flow(
        LinearModule(jnp.asarray(A)), x1, 1.2, 0.0, rtol=1e-11, atol=1e-11
    )
    np.testing.assert_allclose(back.xs, x0, atol=1e-8)
    back = flowrep.flow(
        linear_field, x1, 1.2, 0.0, solver="rk4", num_steps=300
    )  # the scan path
    np.testing.assert_allclose(back.xs, x0, atol=1e-8)
    # A nonlinear field: forward then backward returns to the start.
    field = smooth_field(getkey())
    y0 = jr.normal(getkey(), (8, 2))
    fwd = flowrep.flow(field, y0, 0.0, 1.0, **TIGHT)
    bwd = flowrep.flow(field, fwd.xs, 1.0, 0.0, **TIGHT)
    np.testing.assert_allclose(bwd.xs, y0, atol=1e-8)
    assert float(jnp.max(jnp.abs(fwd.xs - y0))) > 1e-2  # it did move


def test_single_point_and_batch_agree(getkey):
    field = smooth_field(getkey())
    x0 = jr.normal(getkey(), (8, 2))
    batch = flowrep.flow(field, x0, 0.0, 1.0, **FIXED)
    for i in range(2):
        one = flowrep.flow(field, x0[i], 0.0, 1.0, **FIXED)
        assert one.tracks.shape == (2, 2)
        np.testing.assert_allclose(one.xs, batch.xs[i], rtol=1e-12, atol=1e-12)
    # A plain vmapped field (no batch_call) gives the same as the fused one.
    plain = lambda t, x, args: field(t, x, args)  # noqa: E731
    res = flowrep.flow(plain, x0, 0.0, 1.0, **FIXED)
    np.testing.assert_allclose(res.xs, batch.xs, rtol=1e-12, atol=1e-12)


def cubic_field(t, x, args):
    # Smooth, nonlinear, time-dependent (random ridgelet fields sit
    # pre-asymptotic at these step sizes).
    return -(x**3) / 3 + jnp.sin(5 * t)


@pytest.mark.parametrize(
    "solver,order,kw",
    [
        ("euler", 1, {}),
        ("heun", 2, {}),
        pytest.param("midpoint", 2, {}, marks=pytest.mark.slow),
        ("rk4", 4, {}),
        # The same through diffrax's loop (dt0, one compilation for all h).
        pytest.param("rk4", 4, dict(max_steps=64), marks=pytest.mark.slow),
    ],
)
def test_fixed_step_order(solver, order, kw):
    # Midpoint's error on this field reaches its asymptotic ratio 4 per halving
    # from above (ratios 5.8, 4.9, 4.4, 4.2, 4.1 from h = 1/8), so its fitted
    # order on h = 1/8..1/64 is 2.32; it is fitted on h = 1/64..1/512.
    # As diffrax/test/test_integrate.py::test_ode_order: regress log error on log h.
    x0 = jr.normal(jr.PRNGKey(0), (8, 3))
    ref = flowrep.flow(
        cubic_field, x0, 0.0, 1.0, solver="dopri8", rtol=1e-13, atol=1e-13
    ).xs
    steps = [64, 128, 256, 512] if solver == "midpoint" else [8, 16, 32, 64]
    step_kw = [dict(dt0=1 / s) if kw else dict(num_steps=s) for s in steps]
    errors = [
        float(
            jnp.max(
                jnp.abs(
                    flowrep.flow(
                        cubic_field, x0, 0.0, 1.0, solver=solver, **skw, **kw
                    ).xs
                    - ref
                )
            )
        )
        for skw in step_kw
    ]
    slope = loglog_slope([1 / s for s in steps], errors)
    assert abs(slope - order) < 0.1, (slope, errors)


def _affine_pieces(field):
    """Per-piece affine maps of a RidgeletField with the identity activation:
    $v(x)=\\sum_jc_j(a_j\\cdot x-b_j)=Mx+d$ with $M=C^\\top A$, $d=-C^\\top b$."""
    a, b, c = (np.asarray(p) for p in (field.a, field.b, field.c))
    return [(c[k].T @ a[k], -c[k].T @ b[k]) for k in range(c.shape[0])]


def _affine_flow(mat, shift, h, x):
    """Exact time-h map of $\\dot x=Mx+d$ (expm of the augmented matrix)."""
    m = mat.shape[0]
    aug = np.zeros((m + 1, m + 1))
    aug[:m, :m], aug[:m, m] = mat, shift
    e = scipy.linalg.expm(h * aug)
    return x @ e[:m, :m].T + e[:m, m]


def test_piecewise_constant_field_steps_onto_its_jumps(getkey):
    # A field that jumps at its knots: the exact flow is a product of expms.
    knots = (0.0, 0.3, 0.55, 1.0)
    shape = (len(knots), 3, 2)
    field = flowrep.RidgeletField(
        0.7 * jr.normal(getkey(), shape),
        0.5 * jr.normal(getkey(), shape[:2]),
        0.7 * jr.normal(getkey(), shape),
        sigma="identity",
        basis="piecewise_constant",
        knots=knots,
        t1=1.2,
    )
    assert field.jump_ts == knots[1:] and field.step_ts == ()
    x0 = jr.normal(getkey(), (6, 2))
    expected, edges = np.asarray(x0), (0.0, 0.3, 0.55, 1.0, 1.2)
    for (mat, shift), lo, hi in zip(_affine_pieces(field), edges[:-1], edges[1:]):
        expected = _affine_flow(mat, shift, hi - lo, expected)
    tol: dict[str, Any] = dict(rtol=1e-9, atol=1e-9)
    res = flowrep.flow(field, x0, 0.0, 1.2, **tol)
    np.testing.assert_allclose(res.xs, expected, rtol=0, atol=1e-7)
    # Without the jump times the controller rejects the steps across each jump.
    plain = flowrep.flow(
        field,
        x0,
        0.0,
        1.2,
        stepsize_controller=diffrax.PIDController(**tol),
    )
    assert int(res.stats["num_rejected_steps"]) < int(plain.stats["num_rejected_steps"])
    assert int(res.stats["num_steps"]) < int(plain.stats["num_steps"])
    # Backward in time: the inverse map, with the jumps crossed the other way.
    back = flowrep.flow(field, jnp.asarray(expected), 1.2, 0.0, **tol)
    np.testing.assert_allclose(back.xs, x0, rtol=0, atol=1e-7)


def test_linear_basis_steps_onto_its_kinks(getkey):
    field = flowrep.RidgeletField.random(
        getkey(), 2, 8, sigma="tanh", num_knots=5, scale=2.0
    )
    assert field.step_ts == field.knots and field.jump_ts == ()
    x0 = jr.normal(getkey(), (10, 2))
    # Reference: integrate knot interval by knot interval (smooth on each).
    ref = x0
    for lo, hi in zip(field.knots[:-1], field.knots[1:]):
        ref = flowrep.flow(field, ref, lo, hi, rtol=1e-12, atol=1e-12).xs
    tol: dict[str, Any] = dict(rtol=1e-8, atol=1e-8)
    res = flowrep.flow(field, x0, 0.0, 1.0, **tol)
    np.testing.assert_allclose(res.xs, ref, rtol=0, atol=1e-6)
    plain = flowrep.flow(
        field, x0, 0.0, 1.0, stepsize_controller=diffrax.PIDController(**tol)
    )
    assert int(res.stats["num_rejected_steps"]) < int(plain.stats["num_rejected_steps"])


# ----------------------------------------------------------------------------- log-density


def test_log_density_exact_gaussian_pushforward(getkey):
    n, t1 = 64, 0.8
    x0 = jr.normal(getkey(), (n, 3))
    ts = np.array([0.0, 0.4, 0.8])
    logp0 = scipy.stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(  # pyright: ignore
        np.asarray(x0)
    )
    res = flowrep.flow(
        LinearModule(jnp.asarray(A)),
        x0,
        0.0,
        t1,
        ts=ts,
        log_density="exact",
        solver="rk4",
        num_steps=100,
    )
    logp = res.log_densities(logp0)
    for k, t in enumerate(ts):
        e = scipy.linalg.expm(t * A)
        closed = scipy.stats.multivariate_normal(np.zeros(3), e @ e.T).logpdf(  # pyright: ignore
            np.asarray(res.tracks[k])
        )
        np.testing.assert_allclose(logp[k], closed, atol=1e-8)
    assert res.log_density_change is not None
    np.testing.assert_allclose(res.log_density_change, -t1 * np.trace(A), atol=1e-9)
    # Entropy: H_t = H_0 + t tr A exactly for the estimator; H_0 close to the closed form.
    h = flowrep.flow_entropy(res, logp0)
    np.testing.assert_allclose(h - h[0], ts * np.trace(A), atol=1e-9)
    closed_h0 = 0.5 * 3 * np.log(2 * np.pi * np.e)
    assert abs(float(h[0]) - closed_h0) < 4 * np.std(logp0) / np.sqrt(n)


@pytest.mark.slow
def test_log_density_exact_ridgelet_liouville(getkey):
    field = smooth_field(getkey())
    x0 = jr.normal(getkey(), (8, 2))
    fused = flowrep.flow(field, x0, 0.0, 1.0, log_density="exact", **FIXED)
    # Against the Jacobian determinant of the time-1 map (Liouville), by reverse mode.
    flow_map = lambda x: flowrep.flow(field, x, 0.0, 1.0, **FIXED).xs  # noqa: E731
    jac = jax.jacrev(flow_map)(x0)  # [8, 2, 8, 2]: block diagonal in the points
    for i in range(3):
        logdet = np.linalg.slogdet(np.asarray(jac[i, :, i, :]))[1]
        # Both sides are RK4 discretisations of the same quantity: agree to O(h^4).
        assert fused.log_density_change is not None
        np.testing.assert_allclose(-fused.log_density_change[i], logdet, atol=1e-5)


def test_log_density_hutchinson_statistics(getkey):
    n, t1 = 4000, 1.0
    x0 = jr.normal(getkey(), (n, 3))
    res = flowrep.flow(
        linear_field,
        x0,
        0.0,
        t1,
        log_density="hutchinson",
        key=getkey(),
        solver="rk4",
        num_steps=20,
    )
    est = np.asarray(res.log_density_change)
    # For a linear field each estimate is -t eps^T A eps: mean -t trA, variance t^2 sum_{i<j}(A_ij+A_ji)^2.
    sym = A + A.T
    var = t1**2 * sum(sym[i, j] ** 2 for i in range(3) for j in range(i + 1, 3))
    assert abs(est.mean() + t1 * np.trace(A)) < 4 * np.sqrt(var / n)
    assert abs(est.var() / var - 1) < 0.15
    # More probes shrink the variance.
    res4 = flowrep.flow(
        linear_field,
        x0,
        0.0,
        t1,
        log_density="hutchinson",
        key=getkey(),
        num_probes=4,
        solver="rk4",
        num_steps=20,
    )
    assert np.var(np.asarray(res4.log_density_change)) < 0.4 * var


def test_kinetic_and_jacobian_regularisers(getkey):
    x0 = jr.normal(getkey(), (3000, 3))
    t1 = 0.5
    res = flowrep.flow(
        linear_field,
        x0,
        0.0,
        t1,
        kinetic=True,
        jacobian=True,
        key=getkey(),
        solver="rk4",
        num_steps=50,
        ts=np.linspace(0, t1, 51),
    )
    assert res.kinetic is not None and res.jacobian_frobenius is not None
    # Kinetic energy: trapezoid of |A x_t|^2 along the recorded track.
    speed2 = jnp.sum((res.tracks @ A.T) ** 2, axis=-1)
    trap = 0.5 * (speed2[1:] + speed2[:-1]).sum(0) * (t1 / 50)
    np.testing.assert_allclose(res.kinetic, trap, rtol=1e-3)
    # Jacobian term: E|A eps|^2 = ||A||_F^2 per unit time.
    frob = float(jnp.mean(res.jacobian_frobenius))
    assert abs(frob / (t1 * np.sum(A**2)) - 1) < 0.05


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "adjoint",
    [None, "recursive", "backsolve", pytest.param("direct", marks=pytest.mark.slow)],
)
def test_gradient_matches_finite_differences(getkey, adjoint):
    field = smooth_field(getkey())
    x0 = jr.normal(getkey(), (8, 2))
    params, static = eqx.partition(field, eqx.is_inexact_array)
    direction = jax.tree.map(lambda p: jr.normal(getkey(), p.shape), params)

    def loss(p, x):
        f = eqx.combine(p, static)
        res = flowrep.flow(f, x, 0.0, 1.0, adjoint=adjoint, **TIGHT)
        return jnp.sum(jnp.sin(res.xs) ** 2)

    gp, gx = jax.grad(loss, argnums=(0, 1))(params, x0)
    eps = 1e-5
    shift = lambda s: jax.tree.map(lambda p, d: p + s * d, params, direction)  # noqa: E731
    fd = (loss(shift(eps), x0) - loss(shift(-eps), x0)) / (2 * eps)
    ad = sum(
        jnp.sum(g * d) for g, d in zip(jax.tree.leaves(gp), jax.tree.leaves(direction))
    )
    np.testing.assert_allclose(ad, fd, rtol=1e-6)
    dx = jr.normal(getkey(), x0.shape)
    fdx = (loss(params, x0 + eps * dx) - loss(params, x0 - eps * dx)) / (2 * eps)
    np.testing.assert_allclose(jnp.sum(gx * dx), fdx, rtol=1e-6)


_LOOP_CASES = [
    (solver, basis, solver_index == basis_index)
    for solver_index, solver in enumerate(["tsit5", "dopri5", "bosh3"])
    for basis_index, basis in enumerate(["linear", "piecewise_constant", "chebyshev"])
]


@pytest.mark.parametrize(
    "solver,basis",
    [
        pytest.param(solver, basis, marks=() if fast else pytest.mark.slow)
        for solver, basis, fast in _LOOP_CASES
    ],
)
def test_adaptive_default_matches_plain_diffeqsolve(getkey, basis, solver):
    # The default adaptive path against what a user would write instead: one
    # diffrax.diffeqsolve on field.batch_call with the field's kinks/jumps
    # given to ClipStepSizeController. Same steps, values, gradients; on a
    # failure (throw=False) the same result code and the last accepted state.
    field = flowrep.RidgeletField.random(
        getkey(), 3, 10, basis=basis, num_knots=4, scale=2.0
    )
    x0 = jr.normal(getkey(), (12, 3))
    kw: dict[str, Any] = dict(solver=solver, rtol=1e-7, atol=1e-9)

    def plain(f, max_steps=4096):
        controller = diffrax.ClipStepSizeController(
            diffrax.PIDController(rtol=1e-7, atol=1e-9),
            step_ts=tuple(f.step_ts) or None,
            jump_ts=tuple(f.jump_ts) or None,
        )
        return diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, args: f.batch_call(t, y)),
            {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "bosh3": diffrax.Bosh3}[
                solver
            ](),
            0.0,
            1.3,
            None,
            x0,
            stepsize_controller=controller,
            saveat=diffrax.SaveAt(t1=True),
            max_steps=max_steps,
            throw=False,
        )

    ours = flowrep.flow(field, x0, 0.0, 1.3, **kw)
    ref = plain(field)
    assert ref.ys is not None and ref.stats is not None
    for name in ("num_steps", "num_accepted_steps", "num_rejected_steps"):
        assert int(ours.stats[name]) == int(ref.stats[name]), name
    assert int(ours.stats["num_rejected_steps"]) > 0 or basis != "chebyshev"
    np.testing.assert_allclose(ours.xs, ref.ys[-1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.tracks[0], x0)
    np.testing.assert_allclose(ours.ts, [0.0, 1.3])
    assert ours.result == ref.result == diffrax.RESULTS.successful

    def loss(f):
        return jnp.sum(jnp.sin(flowrep.flow(f, x0, 0.0, 1.3, **kw).xs) ** 2)

    def loss_ref(f):
        ys = plain(f).ys
        assert ys is not None
        return jnp.sum(jnp.sin(ys[-1]) ** 2)

    g1 = eqx.filter_grad(loss)(field)
    g2 = eqx.filter_grad(loss_ref)(field)
    for u, v in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)
    # Out of budget: the same result code, and the state where it stopped.
    short = flowrep.flow(field, x0, 0.0, 1.3, max_steps=5, throw=False, **kw)
    short_ref = plain(field, max_steps=5)
    assert short_ref.ys is not None
    assert short.result == short_ref.result == diffrax.RESULTS.max_steps_reached
    assert int(short.stats["num_steps"]) == 5
    np.testing.assert_allclose(short.xs, short_ref.ys[-1], rtol=0, atol=1e-12)
    assert np.all(np.isfinite(short.xs))


def test_gradient_fixed_step_matches_finite_differences(getkey):
    field = smooth_field(getkey())
    x0 = jr.normal(getkey(), (8, 2))

    def loss(f):
        return jnp.sum(flowrep.flow(f, x0, 0.0, 1.0, **FIXED).xs ** 2)

    g = eqx.filter_grad(loss)(field)
    d = jr.normal(getkey(), field.c.shape)
    eps = 1e-6
    plus = eqx.tree_at(lambda f: f.c, field, field.c + eps * d)
    minus = eqx.tree_at(lambda f: f.c, field, field.c - eps * d)
    fd = (loss(plus) - loss(minus)) / (2 * eps)
    np.testing.assert_allclose(jnp.sum(g.c * d), fd, rtol=1e-7)
    # The scan storing every stage gives the same gradient.
    for adjoint in ("scan",):
        g2 = eqx.filter_grad(
            lambda f: jnp.sum(
                flowrep.flow(f, x0, 0.0, 1.0, adjoint=adjoint, **FIXED).xs ** 2
            )
        )(field)
        np.testing.assert_allclose(g2.c, g.c, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- jit


def test_no_retrace_on_new_values(getkey):
    field = smooth_field(getkey())
    x0 = jr.normal(getkey(), (8, 2))
    flowrep.flow(field, x0, 0.0, 1.0, **FIXED)
    before = eqx.debug.get_num_traces(_solve_counted)
    # New points, new times, new weights (same shapes): no new trace.
    field2 = eqx.tree_at(lambda f: f.c, field, 2 * field.c)
    flowrep.flow(field2, x0 + 1.0, 0.5, 1.7, **FIXED)
    flowrep.flow(field, 2 * x0, 1.0, 0.0, **FIXED)
    assert eqx.debug.get_num_traces(_solve_counted) == before


def test_jit_and_vmap_of_flow(getkey):
    field = smooth_field(getkey())
    x0 = jr.normal(getkey(), (8, 2))

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(f, x, t1):
        return flowrep.flow(f, x, 0.0, t1, **FIXED).xs

    a = run(field, x0, jnp.asarray(1.0))
    b = run(field, x0, jnp.asarray(1.0))
    c = run(field, x0 + 1, jnp.asarray(0.5))
    np.testing.assert_allclose(a, b)
    assert c.shape == a.shape
    np.testing.assert_allclose(a, flowrep.flow(field, x0, 0.0, 1.0, **FIXED).xs)


def _sub_jaxprs(eqn):
    for v in eqn.params.values():
        for u in v if isinstance(v, (tuple, list)) else (v,):
            if isinstance(u, jax.extend.core.ClosedJaxpr):
                yield u.jaxpr
            elif isinstance(u, jax.extend.core.Jaxpr):
                yield u


def _primitives(jaxpr, counts):
    for eqn in jaxpr.eqns:
        counts[eqn.primitive.name] = counts.get(eqn.primitive.name, 0) + 1
        for sub in _sub_jaxprs(eqn):
            _primitives(sub, counts)
    return counts


def _step_loops(jaxpr):
    """(kind, primitive counts of the body) of every loop that evaluates the field."""
    out = []
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in ("scan", "while"):
            body = eqn.params["jaxpr" if name == "scan" else "body_jaxpr"].jaxpr
            counts = _primitives(body, {})
            if counts.get("tanh"):
                out.append((name, counts))
        for sub in _sub_jaxprs(eqn):
            out += _step_loops(sub)
    return out


@pytest.mark.parametrize("kw", [FIXED, TIGHT])
def test_step_loops_hold_no_checks(getkey, kw):
    # The run-time checks act on the final state, never per step: the loop
    # body of the solve is the field evaluations and the solver's arithmetic
    # (issue 19: the fixed-step body is 4 fused field calls, one per RK4
    # stage, and nothing else).
    field = smooth_field(getkey())
    x0 = jr.normal(getkey(), (8, 2))
    jaxpr = jax.make_jaxpr(lambda x: flowrep.flow(field, x, 0.0, 1.0, **kw).tracks)(
        x0
    ).jaxpr
    loops = _step_loops(jaxpr)
    checks = ("cond", "pure_callback", "io_callback", "debug_callback", "is_finite")
    # The solve's loop is the first; later ones (the failure diagnosis, run
    # only on failure inside a `lax.cond`) may check.
    kind, counts = loops[0]
    assert not [c for c in checks if c in counts], counts
    if "num_steps" in kw:
        assert kind == "scan" and counts["tanh"] == 4


@pytest.mark.parametrize(
    "kw", [FIXED, TIGHT, dict(ts=[0.0, 0.5, 1.0]), dict(adjoint="backsolve")]
)
def test_failure_diagnosis_costs_no_scratch_memory(kw):
    # XLA sizes a program's scratch memory for every branch of a conditional,
    # taken or not. The diagnosis (run only on failure) once probed the field
    # at 6-8 times in one vmap: 52 MiB of scratch instead of 4.3 MiB at
    # n = 4096, J = 256, and ~4 % slower successful solves at n = 16384 (fresh
    # pages every call); with `ts`, the separate probe at t0 still doubled it.
    # With `throw=True` the compiled solve may need only a little more scratch
    # than with `throw=False`, whatever n is.
    field = flowrep.RidgeletField.random(jr.PRNGKey(0), 2, 256, num_knots=4)
    x0 = jr.normal(jr.PRNGKey(1), (4096, 2))

    def scratch(throw):
        f = lambda x: flowrep.flow(field, x, 0.0, 1.0, throw=throw, **kw).xs  # noqa: E731
        analysis = jax.jit(f).lower(x0).compile().memory_analysis()
        if analysis is None:
            pytest.skip("this backend gives no memory analysis")
        return analysis.temp_size_in_bytes

    # One (n, J) float64 buffer is 8 MiB here: less than one extra is allowed.
    assert scratch(True) <= 1.1 * scratch(False) + 2**20


# ----------------------------------------------------------------------------- bad input


def test_bad_input_dimension(getkey):
    field = smooth_field(getkey())
    with pytest.raises(ValueError, match="dimension d=3 but the field acts on R\\^2"):
        flowrep.flow(field, jnp.ones((4, 3)), 0.0, 1.0)
    with pytest.raises(ValueError, match="velocity of shape \\(3,\\)"):
        flowrep.flow(lambda t, x, args: x[:2], jnp.ones((4, 3)), 0.0, 1.0)
    with pytest.raises(ValueError, match="does the field act on R\\^3"):
        flowrep.flow(
            lambda t, x, args: jnp.ones((2, 2)) @ x, jnp.ones((4, 3)), 0.0, 1.0
        )
    with pytest.raises(ValueError, match="shape \\(n, d\\) or \\(d,\\)"):
        flowrep.flow(field, jnp.ones((2, 2, 2)), 0.0, 1.0)
    with pytest.raises(ValueError, match="empty"):
        flowrep.flow(field, jnp.ones((0, 2)), 0.0, 1.0)


def test_bad_input_times_and_options(getkey):
    field = smooth_field(getkey())
    x0 = jnp.ones((4, 2))
    with pytest.raises(ValueError, match="t1 == t0"):
        flowrep.flow(field, x0, 0.5, 0.5)
    with pytest.raises(ValueError, match="must be finite"):
        flowrep.flow(field, x0, 0.0, float("inf"))
    with pytest.raises(ValueError, match="Unknown solver"):
        flowrep.flow(field, x0, 0.0, 1.0, solver="rk45")
    with pytest.raises(ValueError, match="Unknown adjoint"):
        flowrep.flow(field, x0, 0.0, 1.0, adjoint="magic")
    with pytest.raises(ValueError, match="no error estimate"):
        flowrep.flow(field, x0, 0.0, 1.0, solver="euler")
    with pytest.raises(ValueError, match="log_density must be"):
        flowrep.flow(field, x0, 0.0, 1.0, log_density="trace")  # pyright: ignore
    with pytest.raises(ValueError, match="need a PRNG `key`"):
        flowrep.flow(field, x0, 0.0, 1.0, log_density="hutchinson")
    with pytest.raises(ValueError, match="needs a fixed-step explicit Runge-Kutta"):
        flowrep.flow(field, x0, 0.0, 1.0, adjoint="scan")
    with pytest.raises(ValueError, match="either `dt0` or `num_steps`"):
        flowrep.flow(field, x0, 0.0, 1.0, dt0=0.1, num_steps=10)
    with pytest.raises(ValueError, match="Give t0 and t1"):
        flowrep.flow(linear_field, jnp.ones((2, 3)))


def test_bad_input_traced_equal_times(getkey):
    field = smooth_field(getkey())

    @jax.jit
    def run(t):
        return flowrep.flow(field, jnp.ones((8, 2)), t, t, **FIXED).xs

    with pytest.raises(Exception, match="t1 == t0"):
        run(0.3)


def test_nan_in_x0(getkey):
    field = smooth_field(getkey())
    x0 = jnp.ones((8, 2)).at[1, 0].set(jnp.nan)
    with pytest.raises(Exception, match="x0 contains NaN or inf"):
        flowrep.flow(field, x0, 0.0, 1.0, **FIXED)
    with pytest.raises(Exception, match="x0 contains NaN or inf"):
        flowrep.flow(field, x0.at[1, 0].set(jnp.inf), 0.0, 1.0, **FIXED)


def test_diverging_flow(getkey):
    blowup = lambda t, x, args: x**2  # noqa: E731  x(t) = x0 / (1 - x0 t): blows up at t = 1/x0
    x0 = jnp.ones((3, 1))
    with pytest.raises(Exception, match="max_steps.*diverged"):
        flowrep.flow(blowup, x0, 0.0, 2.0, max_steps=256)
    res = flowrep.flow(blowup, x0, 0.0, 2.0, max_steps=256, throw=False)
    assert not bool(res.successful)
    assert res.result == diffrax.RESULTS.max_steps_reached
    # Fixed steps run into inf instead.
    with pytest.raises(Exception, match="NaN or inf before t1: the flow diverged"):
        flowrep.flow(blowup, 3 * x0, 0.0, 2.0, solver="euler", num_steps=20)
    res = flowrep.flow(
        blowup, 3 * x0, 0.0, 2.0, solver="euler", num_steps=20, throw=False
    )
    assert res.result == diffrax.RESULTS.nonfinite
    # Below the blow-up time the same field is fine and matches x0 / (1 - x0 t).
    ok = flowrep.flow(blowup, 0.5 * x0, 0.0, 1.0, max_steps=256, throw=False)
    assert bool(ok.successful)
    np.testing.assert_allclose(ok.xs, 0.5 / (1 - 0.5) * np.ones((3, 1)), rtol=1e-4)
