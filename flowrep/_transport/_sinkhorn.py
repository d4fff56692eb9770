"""Entropic optimal transport between uniform clouds: `sinkhorn`."""

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Int

from .._custom_types import FloatScalar, OtherPoints, OtherWeights, Points, Weights
from .._device import device_default
from .._sharding import give_back, pad_rows, place, resolve_layout, unpad_rows
from .._validate import (
    check_bool,
    check_positive_float,
    check_positive_int,
    check_value,
    is_concrete,
)
from ._clouds import as_pair, HIGHEST, mean_cost, normalise, scale_by
from ._engines import solve_dense, solve_online, solve_online_sharded, SolverOptions
from ._gaussian import bures_map, moments


Mode = Literal["auto", "dense", "online"]


class SinkhornResult(eqx.Module):
    """Output of [`sinkhorn`][]: entropic OT between uniform clouds.

    - `f`, `g`: dual potentials, shapes `(n,)` and `(m,)`, for the cost
      $\\|x-y\\|^2$; the plan is $P_{ij}=\\frac{1}{nm}e^{(f_i+g_j-C_{ij})/\\varepsilon}$.
    - `reg_ot_cost`: the dual value $\\langle f,a\\rangle+\\langle g,b\\rangle$.
    - `error`: marginal error $\\|P^\\top 1-b\\|_p$ at the last check.
    - `num_iterations`, `converged`, `epsilon`.
    """

    f: Weights
    g: OtherWeights
    reg_ot_cost: FloatScalar
    error: FloatScalar
    num_iterations: Int[Array, ""]
    converged: Bool[Array, ""]
    epsilon: FloatScalar

    @property
    def n_iterations(self) -> Array:
        """Alias of `num_iterations` (the name before flowrep used `num_*` everywhere)."""
        return self.num_iterations


def _gauss_init(x, y):
    """Half Brenier potentials p = -2phi(x), q = -2phi*(y) of the Gaussian map.

    With them $p_i+q_j+2x_i\\cdot y_j\\le0$ (Fenchel-Young), so the absorbed
    kernel is bounded by 1 and cannot overflow.
    """
    d = x.shape[1]
    m1, S1 = moments(x)
    m2, S2 = moments(y)
    tr = jnp.trace(S1) + jnp.trace(S2)
    # The ridge must exceed the eigensolver's rounding (about eps * trace): a
    # rank-deficient covariance (a narrow layer zero-padded or projected into a
    # wider space) otherwise gets negative eigenvalues, and the map NaNs.
    fin = jnp.finfo(x.dtype)
    reg = 1e-6 * tr / d + 10 * float(fin.eps) * tr + fin.tiny
    eye = jnp.eye(d, dtype=x.dtype)
    T = bures_map(m1, S1 + reg * eye, m2, S2 + reg * eye)
    A = T.matrix.astype(x.dtype) + 1e-6 * eye
    c = T.shift.astype(x.dtype)
    phi = 0.5 * jnp.sum(x * jnp.matmul(x, A, precision=HIGHEST), -1) + jnp.matmul(
        x, c, precision=HIGHEST
    )
    yc = y - c
    phistar = 0.5 * jnp.sum(yc * jnp.linalg.solve(A, yc.T).T, -1)
    p, q = -2 * phi, -2 * phistar
    # Only a starting point: should it still be non-finite, start from zero.
    ok = jnp.all(jnp.isfinite(p)) & jnp.all(jnp.isfinite(q))
    return (
        jnp.where(ok, p, -jnp.sum(x**2, -1)),
        jnp.where(ok, q, -jnp.sum(y**2, -1)),
    )


def resolve_mode(mode: str, n: int, m: int, dense_limit: int) -> str:
    """`"dense"` or `"online"` for clouds of n and m points."""
    if not isinstance(mode, str):
        raise ValueError(f"`mode` must be 'auto', 'dense' or 'online'; got {mode!r}.")
    if mode == "auto":
        return "dense" if n * m <= dense_limit else "online"
    if mode not in ("dense", "online"):
        raise ValueError(f"`mode` must be 'auto', 'dense' or 'online'; got {mode!r}.")
    return mode


def sinkhorn_core(x, y, eps, *, mode, init, opts: SolverOptions, layout=None):
    """Sinkhorn on clouds already in their normalised frame (see
    `_clouds.normalise`), with a positive `eps` in that frame; over a mesh
    (`layout`, see `flowrep/_sharding.py`) with the online engine, ring style."""
    dtype = x.dtype
    if init == "gaussian":
        p, q = _gauss_init(x, y)
    else:
        p, q = -jnp.sum(x**2, -1), -jnp.sum(y**2, -1)
    if layout is not None:
        n, m = x.shape[0], y.shape[0]
        xp, yp, pp, qp = (pad_rows(t, layout) for t in (x, y, p, q))
        du, dv, it, err, bad = solve_online_sharded(
            xp, yp, eps, pp, qp, opts=opts, layout=layout, n=n, m=m
        )
        du, dv = unpad_rows(du, layout, n), unpad_rows(dv, layout, m)
    elif mode == "dense":
        du, dv, it, err, bad = solve_dense(x, y, eps, p, q, opts)

        # Underflow of a whole kernel row (far outliers, tiny epsilon): redo
        # the solve in the log domain, which cannot underflow.
        def fallback(_):
            return solve_online(x, y, eps, p, q, opts)

        du, dv, it, err, bad = jax.lax.cond(
            bad, fallback, lambda _: (du, dv, it, err, bad), None
        )
    else:
        du, dv, it, err, bad = solve_online(x, y, eps, p, q, opts)
    # Convert raw potentials (P = exp((f+g-C)/eps)) to the KL(P | a x b)
    # convention P = a_i b_j exp((f+g-C)/eps), where OT_eps = <f,a> + <g,b>.
    f = p + jnp.sum(x**2, -1) + du + eps * jnp.log(jnp.asarray(x.shape[0], dtype))
    g = q + jnp.sum(y**2, -1) + dv + eps * jnp.log(jnp.asarray(y.shape[0], dtype))
    cost = jnp.mean(f) + jnp.mean(g)
    converged = (err <= opts.threshold) & jnp.isfinite(cost)
    return SinkhornResult(f, g, cost, err, it, converged, eps)


def frame_epsilon(x, y, epsilon, relative, k):
    """Epsilon in the normalised frame $x=2^kx'+c$: the user's `epsilon`
    divided by $4^k$, or `relative` times the mean cost of the frame's clouds."""
    if epsilon is None:
        return relative * mean_cost(x, y)
    # Split off the exponent in epsilon's own dtype first: an epsilon below
    # the clouds' normal range (1e-42 for float32 clouds at scale 1e-20 under
    # x64) is of order one in the frame.
    mant, e = jnp.frexp(jnp.asarray(epsilon))
    return scale_by(mant.astype(x.dtype), e.astype(jnp.int32) - 2 * k)


def rescale_result(out: SinkhornResult, k) -> SinkhornResult:
    """A frame's [`SinkhornResult`][] in the user's units (costs times $4^k$)."""
    s = lambda a: scale_by(a, 2 * k)  # noqa: E731
    return SinkhornResult(
        s(out.f),
        s(out.g),
        s(out.reg_ot_cost),
        out.error,
        out.num_iterations,
        out.converged,
        s(out.epsilon),
    )


@eqx.filter_jit
def solve_sinkhorn(
    x, y, epsilon, relative=0.01, *, mode, init, opts: SolverOptions, layout=None
):
    """Sinkhorn on checked clouds `(n, d)`, `(m, d)` with checked options:
    solved in their normalised frame, returned in the user's units."""
    (xn, yn), _, k = normalise(x, y)
    eps = frame_epsilon(xn, yn, epsilon, relative, k)
    out = sinkhorn_core(xn, yn, eps, mode=mode, init=init, opts=opts, layout=layout)
    return rescale_result(out, k)


def _int32_count(value, name: str) -> int:
    """A positive iteration count the solver's int32 loop counter can hold."""
    value = check_positive_int(value, name)
    if value > 2**31 - 1:
        raise ValueError(
            f"`{name}` must be at most 2**31 - 1 (the solver counts iterations "
            f"in int32); got {value}."
        )
    return value


def check_epsilon(epsilon, relative_epsilon):
    """`epsilon` (None, or positive and finite) and `relative_epsilon`
    (positive, finite); a traced `epsilon` is checked at run time."""
    rel = check_positive_float(relative_epsilon, "relative_epsilon")
    if epsilon is None:
        return None, rel
    if isinstance(epsilon, bool):
        raise TypeError(
            f"`epsilon` must be a positive number or None; got {epsilon!r}."
        )
    try:
        eps = jnp.asarray(epsilon)
    except TypeError as e:
        raise TypeError(
            f"`epsilon` must be a positive number or None; got {type(epsilon).__name__}."
        ) from e
    if (
        eps.ndim != 0
        or not jnp.issubdtype(eps.dtype, jnp.number)
        or jnp.issubdtype(eps.dtype, jnp.complexfloating)
    ):
        raise TypeError(
            f"`epsilon` must be a positive real scalar or None; got {epsilon!r}."
        )
    msg = f"`epsilon` must be positive and finite; got {epsilon}."
    if is_concrete(eps):
        with jax.ensure_compile_time_eval():
            ok = bool(jnp.isfinite(eps) & (eps > 0))
        if not ok:
            tiny = float(jnp.finfo(eps.dtype).tiny) if eps.dtype.kind == "f" else 0.0
            value = float(np.asarray(epsilon, dtype=np.float64))
            if 0 < value < tiny:  # positive, but flushed to 0 in the working dtype
                raise ValueError(
                    f"`epsilon` = {value:g} is below the smallest normal {eps.dtype} "
                    f"number ({tiny:.3g}) and rounds to 0 there; pass a larger "
                    "`epsilon` or enable float64 (jax_enable_x64)."
                )
            raise ValueError(msg)
        return eps, rel
    return eqx.error_if(
        eps, ~(jnp.isfinite(eps) & (eps > 0)), "`epsilon` must be positive and finite."
    ), rel


def solve_options(
    threshold,
    norm_error,
    max_iterations,
    inner_iterations,
    over_relaxation,
    chunk,
    tile_pairs=None,
) -> SolverOptions:
    """Validate the solver options shared by the public entry points; `None`
    for `inner_iterations`, `chunk` or `tile_pairs` takes the backend's default
    (flowrep/_device.py)."""
    inner_iterations = device_default("sinkhorn_inner_iterations", inner_iterations)
    chunk = device_default("sinkhorn_chunk_size", chunk)
    tile_pairs = device_default("sinkhorn_tile_pairs", tile_pairs)
    if isinstance(norm_error, bool) or norm_error not in (1, 2):
        raise ValueError(f"`norm_error` must be 1 or 2; got {norm_error!r}.")
    if isinstance(over_relaxation, str):
        if over_relaxation != "adaptive":
            raise ValueError(
                "`over_relaxation` must be a number in (0, 2) or 'adaptive'; "
                f"got {over_relaxation!r}."
            )
        omega = over_relaxation
    else:
        if isinstance(over_relaxation, bool) or not isinstance(
            over_relaxation, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                "`over_relaxation` must be a number in (0, 2) or 'adaptive'; "
                f"got {over_relaxation!r}."
            )
        if not 0 < over_relaxation < 2:
            raise ValueError(
                f"`over_relaxation` must lie in (0, 2) or be 'adaptive'; got {over_relaxation}."
            )
        omega = float(over_relaxation)
    return SolverOptions(
        check_positive_float(threshold, "threshold"),
        int(norm_error),
        _int32_count(max_iterations, "max_iterations"),
        _int32_count(inner_iterations, "inner_iterations"),
        omega,
        check_positive_int(chunk, "chunk_size"),
        check_positive_int(tile_pairs, "tile_pairs"),
    )


def check_init(init):
    """Refuse an unknown `init`."""
    if not isinstance(init, str) or init not in ("gaussian", "zero"):
        raise ValueError(f"`init` must be 'gaussian' or 'zero'; got {init!r}.")


def checked_problem(
    x, y, epsilon, relative_epsilon, init, dense_limit, *solver_args
) -> tuple[Array, Array, Any, Any, SolverOptions, int]:
    """The argument checks `sinkhorn` and `sinkhorn_divergence` share: the clouds,
    epsilon, the initialiser, `dense_limit` and the solver options
    (`solver_args` in `solve_options`'s order)."""
    x, y = as_pair(x, y)
    eps, rel = check_epsilon(epsilon, relative_epsilon)
    opts = solve_options(*solver_args)
    check_init(init)
    return x, y, eps, rel, opts, check_positive_int(dense_limit, "dense_limit")


def sinkhorn(
    x: Points | ArrayLike,
    y: OtherPoints | ArrayLike,
    *,
    epsilon: float | None = None,
    relative_epsilon: float = 0.01,
    threshold: float = 1e-3,
    norm_error: int = 1,
    max_iterations: int = 2000,
    inner_iterations: int | None = None,
    over_relaxation: float | Literal["adaptive"] = "adaptive",
    init: Literal["gaussian", "zero"] = "gaussian",
    mode: Mode = "auto",
    dense_limit: int = 2**27,
    chunk_size: int | None = None,
    tile_pairs: int | None = None,
    throw: bool = False,
    mesh: jax.sharding.Mesh | None = None,
) -> SinkhornResult:
    """Entropic optimal transport between two uniform clouds (cost $\\|x-y\\|^2$).

    Solves $\\mathrm{OT}_\\varepsilon=\\min_P\\langle P,C\\rangle+\\varepsilon\\mathrm{KL}(P\\|a\\otimes b)$
    with Sinkhorn's algorithm (Cuturi 2013), started from the potentials of the
    Gaussian OT map between the fitted Gaussians (a cheap, strong initialiser;
    Thornton & Cuturi 2023) and over-relaxed (Thibault et al. 2021; by default
    with the adaptive rule of Lehmann et al. 2021, eq. 5).

    - `mode="dense"`: the absorbed kernel $e^{(f^0_i+g^0_j-C_{ij})/\\varepsilon}\\le1$
      is formed once ($n m$ floats) and iterations are matrix-vector products.
    - `mode="online"`: log-domain updates streamed over chunks of `chunk_size`
      rows, each cut into tiles of `tile_pairs` pairs; memory
      $O((n+m)d+\\text{tile\\_pairs})$.
    - `mode="auto"`: dense when $nm\\le$ `dense_limit`.

    In both modes the column marginal of the current plan falls out of the
    last kernel pass of an iteration, so the stopping rule costs nothing
    extra and is checked every `inner_iterations` iterations (by default 1 on a
    CPU, 10 on a GPU/TPU, where each check is a device-to-host copy).

    **Arguments:**

    - `x`, `y`: clouds `(n, d)`, `(m, d)`.
    - `epsilon`: regularisation; default `relative_epsilon` times the mean cost.
    - `threshold`, `norm_error`: stop when $\\|P^\\top1-b\\|_p\\le$ threshold, checked
      every `inner_iterations` iterations.
    - `max_iterations`: cap on iterations.
    - `over_relaxation`: $\\omega\\in(0,2)$ ($\\omega=1$ is plain Sinkhorn), or
      `"adaptive"`: plain Sinkhorn for 20 iterations, then
      $\\omega=2/(1+\\sqrt{1-r})$ with $r$ the measured per-iteration
      contraction of the error (Lehmann et al. 2021). Problems that converge
      within 20 iterations are solved by plain Sinkhorn.
    - `init`: `"gaussian"` or `"zero"` starting potentials.
    - `inner_iterations`, `chunk_size`, `tile_pairs`: `None` takes the
      default for `jax.default_backend()` (CPU: 1, 128 rows, $2^{19}$ pairs;
      GPU/TPU: 10, 8192 rows, $2^{25}$ pairs; the table is in
      `flowrep/_device.py`). They change speed and memory, not the answer
      (up to the iterations between checks).
    - `throw`: raise if not converged.
    - `mesh`: run over this `jax.sharding.Mesh` (default: the mesh of an input
      sharded with a `NamedSharding`; data-axis rule in `flowrep/_sharding.py`).
      Over a mesh the online engine runs, rows of `x` and `y` sharded and the
      blocks of the other cloud passed round the devices with `ppermute`
      (ring log-sum-exp); memory per device $O((n+m)d/D+\text{tile})$.
      `mode="dense"` is refused there. README, "Scaling out".

    **Returns:** a [`SinkhornResult`][]; over a mesh `f` and `g` are sharded by
    rows (replicated when $n$, resp. $m$, is not a multiple of $D$).

    Potentials and costs come in the clouds' units and dtype
    (float16/bfloat16 clouds are promoted to float32, integers to the default
    float; see `flowrep._transport._clouds` for the dtype policy). The solve
    runs in the clouds' normalised frame (common mean removed, exact
    power-of-two rescaling), so it is translation invariant and scale
    equivariant: shifting both clouds changes nothing, scaling them by $s$
    scales costs, potentials and `epsilon` by $s^2$.

    **Raises:** `ValueError` on bad shapes, NaN/inf, a non-positive or
    non-finite `epsilon`, `relative_epsilon` or `threshold`, non-integer or
    non-positive counts (`max_iterations`, `inner_iterations`, `chunk_size`,
    `tile_pairs`, `dense_limit`), unknown `mode`/`init`/`norm_error`; `TypeError` for
    arguments of the wrong type; with `throw=True` a runtime error if not
    converged within `max_iterations`.
    """
    x, y, eps, rel, opts, dense_limit = checked_problem(
        x,
        y,
        epsilon,
        relative_epsilon,
        init,
        dense_limit,
        threshold,
        norm_error,
        max_iterations,
        inner_iterations,
        over_relaxation,
        chunk_size,
        tile_pairs,
    )
    resolved = resolve_mode(mode, x.shape[0], y.shape[0], dense_limit)
    out = solve_over_mesh(
        solve_sinkhorn, x, y, eps, rel, mesh=mesh, mode=mode, resolved=resolved,
        init=init, opts=opts,
    )  # fmt: skip
    if mesh is None or is_concrete(out.reg_ot_cost):
        # the solve runs in a normalised frame; back in the user's units the
        # potentials (~ squared distances) can overflow the clouds' dtype
        # (float32 clouds at scale 1e30)
        cost = check_value(
            out.reg_ot_cost,
            lambda c, f, g: (
                ~(jnp.isfinite(c) & jnp.all(jnp.isfinite(f)) & jnp.all(jnp.isfinite(g)))
            ),
            f"sinkhorn: the potentials overflow {x.dtype} at the scale of `x` and "
            "`y` (squared distances beyond its range); pass float64 clouds or "
            "rescale them",
            out.f,
            out.g,
        )
        out = eqx.tree_at(lambda o: o.reg_ot_cost, out, cost)
    if check_bool(throw, "throw"):
        out = throw_if_not_converged(out, max_iterations)
    return out


def solve_over_mesh(solve, x, y, *solve_args, mesh, mode, resolved, **solve_kw):
    """`solve(x, y, *solve_args, mode=..., layout=..., **solve_kw)` on the mesh of
    `mesh` or of the inputs' sharding (the online engine, rows placed and the
    result handed back sharded), or on one device in `resolved` mode."""
    layout = resolve_layout(mesh, x, y)
    if layout is not None:
        resolved = online_over_mesh(mode)
        x, y = place(x, layout), place(y, layout)
    out = solve(x, y, *solve_args, mode=resolved, layout=layout, **solve_kw)
    return out if layout is None else give_back(out, layout)


def online_over_mesh(mode) -> str:
    """Over a mesh only the online engine runs: a dense kernel would be
    $nm$ floats gathered on the devices."""
    if mode == "dense":
        raise ValueError(
            "`mode='dense'` cannot run over a mesh (the dense kernel is n*m "
            "floats); use mode='auto' or 'online'."
        )
    return "online"


def throw_if_not_converged(out, max_iterations):
    """`out`, with a run-time error if its `converged` flag is false."""
    return eqx.error_if(
        out,
        ~jnp.all(jnp.asarray(out.converged)),
        f"Sinkhorn did not converge within max_iterations={max_iterations}; "
        "increase it, or epsilon, or the threshold.",
    )
