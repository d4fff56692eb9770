"""Entropic optimal transport between uniform clouds: `sinkhorn`."""

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from .._custom_types import FloatScalar, OtherPoints, OtherWeights, Points, Weights
from .._validate import is_traced
from ._clouds import as_pair, mean_cost
from ._engines import solve_dense, solve_online, SolverOptions
from ._gaussian import gaussian_ot_map


Mode = Literal["auto", "dense", "online"]


class SinkhornResult(eqx.Module):
    """Output of [`sinkhorn`][]: entropic OT between uniform clouds.

    - `f`, `g`: dual potentials, shapes `(n,)` and `(m,)`, for the cost
      $\\|x-y\\|^2$; the plan is $P_{ij}=\\frac{1}{nm}e^{(f_i+g_j-C_{ij})/\\varepsilon}$.
    - `reg_ot_cost`: the dual value $\\langle f,a\\rangle+\\langle g,b\\rangle$.
    - `error`: marginal error $\\|P^\\top 1-b\\|_p$ at the last check.
    - `n_iterations`, `converged`, `epsilon`.
    """

    f: Weights
    g: OtherWeights
    reg_ot_cost: FloatScalar
    error: FloatScalar
    n_iterations: Int[Array, ""]
    converged: Bool[Array, ""]
    epsilon: FloatScalar


def _gauss_init(x, y):
    """Half Brenier potentials p = -2phi(x), q = -2phi*(y) of the Gaussian map.

    With them $p_i+q_j+2x_i\\cdot y_j\\le0$ (Fenchel-Young), so the absorbed
    kernel is bounded by 1 and cannot overflow.
    """
    d = x.shape[1]
    m1, S1 = jnp.mean(x, 0), jnp.cov(x.T, bias=True).reshape(d, d)
    m2, S2 = jnp.mean(y, 0), jnp.cov(y.T, bias=True).reshape(d, d)
    reg = 1e-6 * (jnp.trace(S1) + jnp.trace(S2)) / d + jnp.finfo(x.dtype).tiny
    eye = jnp.eye(d, dtype=x.dtype)
    T = gaussian_ot_map(m1, S1 + reg * eye, m2, S2 + reg * eye)
    A = T.matrix.astype(x.dtype) + 1e-6 * eye
    c = T.shift.astype(x.dtype)
    phi = 0.5 * jnp.sum(x * (x @ A), -1) + x @ c
    yc = y - c
    phistar = 0.5 * jnp.sum(yc * jnp.linalg.solve(A, yc.T).T, -1)
    return -2 * phi, -2 * phistar


def resolve_mode(mode: str, n: int, m: int, dense_limit: int) -> str:
    """`"dense"` or `"online"` for clouds of n and m points."""
    if mode == "auto":
        return "dense" if n * m <= dense_limit else "online"
    if mode not in ("dense", "online"):
        raise ValueError(f"`mode` must be 'auto', 'dense' or 'online'; got {mode!r}.")
    return mode


@eqx.filter_jit
def solve_sinkhorn(x, y, epsilon, *, mode, init, opts: SolverOptions):
    """Sinkhorn on checked clouds `(n, d)`, `(m, d)` with checked options."""
    dtype = x.dtype
    eps = jnp.asarray(epsilon, dtype)
    if init == "gaussian":
        p, q = _gauss_init(x, y)
    else:
        p, q = -jnp.sum(x**2, -1), -jnp.sum(y**2, -1)
    if mode == "dense":
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


def default_epsilon(x, y, epsilon, relative_epsilon):
    """The given `epsilon` (checked positive when concrete), or
    `relative_epsilon` times the mean cost between `x` and `y`."""
    if epsilon is None:
        return relative_epsilon * mean_cost(x, y)
    eps = jnp.asarray(epsilon)
    if not is_traced(eps) and not float(eps) > 0:
        raise ValueError(f"`epsilon` must be positive; got {epsilon}.")
    return eps


def solve_options(
    threshold, norm_error, max_iterations, inner_iterations, over_relaxation, chunk
) -> SolverOptions:
    """Validate the solver options shared by the public entry points."""
    if norm_error not in (1, 2):
        raise ValueError(f"`norm_error` must be 1 or 2; got {norm_error}.")
    if isinstance(over_relaxation, str):
        if over_relaxation != "adaptive":
            raise ValueError(
                "`over_relaxation` must be a number in (0, 2) or 'adaptive'; "
                f"got {over_relaxation!r}."
            )
    elif not 0 < over_relaxation < 2:
        raise ValueError(
            f"`over_relaxation` must lie in (0, 2) or be 'adaptive'; got {over_relaxation}."
        )
    if max_iterations < 1 or inner_iterations < 1:
        raise ValueError("`max_iterations` and `inner_iterations` must be >= 1.")
    if not threshold > 0:
        raise ValueError(f"`threshold` must be positive; got {threshold}.")
    if chunk < 1:
        raise ValueError(f"`chunk_size` must be >= 1; got {chunk}.")
    omega = (
        over_relaxation if isinstance(over_relaxation, str) else float(over_relaxation)
    )
    return SolverOptions(
        float(threshold),
        int(norm_error),
        int(max_iterations),
        int(inner_iterations),
        omega,
        int(chunk),
    )


def check_init(init):
    """Refuse an unknown `init`."""
    if init not in ("gaussian", "zero"):
        raise ValueError(f"`init` must be 'gaussian' or 'zero'; got {init!r}.")


def sinkhorn(
    x: Points,
    y: OtherPoints,
    *,
    epsilon: float | None = None,
    relative_epsilon: float = 0.01,
    threshold: float = 1e-3,
    norm_error: int = 1,
    max_iterations: int = 2000,
    inner_iterations: int = 1,
    over_relaxation: float | Literal["adaptive"] = "adaptive",
    init: Literal["gaussian", "zero"] = "gaussian",
    mode: Mode = "auto",
    dense_limit: int = 2**27,
    chunk_size: int = 128,
    throw: bool = False,
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
      rows; memory $O((n+m)d+\\text{chunk}\\cdot\\max(n,m))$.
    - `mode="auto"`: dense when $nm\\le$ `dense_limit`.

    In both modes the column marginal of the current plan falls out of the
    last kernel pass of an iteration, so the stopping rule costs nothing
    extra and is checked every `inner_iterations` (default 1) iterations.

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
    - `throw`: raise if not converged.

    **Returns:** a [`SinkhornResult`][].

    **Raises:** `ValueError` on bad shapes, NaN/inf, bad options; with
    `throw=True` a runtime error if not converged within `max_iterations`.
    """
    x, y = as_pair(x, y)
    eps = default_epsilon(x, y, epsilon, relative_epsilon)
    opts = solve_options(
        threshold,
        norm_error,
        max_iterations,
        inner_iterations,
        over_relaxation,
        chunk_size,
    )
    check_init(init)
    resolved = resolve_mode(mode, x.shape[0], y.shape[0], dense_limit)
    out = solve_sinkhorn(x, y, eps, mode=resolved, init=init, opts=opts)
    if throw:
        out = throw_if_not_converged(out, max_iterations)
    return out


def throw_if_not_converged(out, max_iterations):
    """`out`, with a run-time error if its `converged` flag is false."""
    return eqx.error_if(
        out,
        ~jnp.all(jnp.asarray(out.converged)),
        f"Sinkhorn did not converge within max_iterations={max_iterations}; "
        "increase it, or epsilon, or the threshold.",
    )
