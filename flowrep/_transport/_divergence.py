"""The debiased Sinkhorn divergence (flowrep's solver or ott-jax's)."""

from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._custom_types import FloatScalar, OtherPoints, Points
from .._ott_compat import traced_in_online_mode
from .._sharding import pad_rows, valid_rows
from .._validate import check_bool
from ._clouds import HIGHEST, normalise, scale_by
from ._engines import iterate, lse_rows, ring_lse_rows, SolverOptions
from ._sinkhorn import (
    checked_problem,
    frame_epsilon,
    Mode,
    rescale_result,
    resolve_mode,
    sinkhorn_core,
    SinkhornResult,
    solve_over_mesh,
    throw_if_not_converged,
)


def _solve_symmetric(x, eps, *, mode, opts: SolverOptions, layout=None):
    """$\\mathrm{OT}_\\varepsilon(\\mu,\\mu)$ by the averaged symmetric update
    $f\\leftarrow\\frac12(f+T(f))$ (Feydy et al. 2019), which converges fast.
    Over a mesh (`layout`): rows sharded, the ring log-sum-exp of
    `ring_lse_rows`, the error a `psum`."""
    if layout is not None:
        return _solve_symmetric_sharded(x, eps, opts, layout)
    n = x.shape[0]
    dtype = x.dtype
    log_a = -jnp.log(jnp.asarray(n, dtype))
    sq = jnp.sum(x**2, -1)
    # Potentials in the raw convention P_ij = exp((f_i + f_j - C_ij)/eps);
    # lK(f)_i = eps log sum_j exp((f_j - C_ij)/eps).
    if mode == "dense":
        K = jnp.exp(
            jnp.minimum(
                (2 * jnp.matmul(x, x.T, precision=HIGHEST) - sq[:, None] - sq[None, :])
                / eps,
                0.0,
            )
        )

        def lK_dense(f):
            c = jnp.max(f) / eps
            return eps * (
                c + jnp.log(jnp.matmul(K, jnp.exp(f / eps - c), precision=HIGHEST))
            )

        lK = lK_dense
    else:

        def lK_online(f):
            return lse_rows(f - sq, x, x, eps, opts.chunk, opts.tile) - sq

        lK = lK_online

    def step(s, _):
        f, lKf = s
        f = 0.5 * (f + eps * log_a - lKf)
        return f, lK(f)

    def error_of(s):
        f, lKf = s
        marg = jnp.exp((f + lKf) / eps)
        return jnp.linalg.norm(marg - jnp.exp(log_a), ord=opts.norm), jnp.array(False)

    f = jnp.zeros(n, dtype)
    plain = opts._replace(omega=1.0)
    (f, _), it, err, _ = iterate(step, error_of, (f, lK(f)), plain, dtype)
    # OT_eps(mu, mu) = <f, a> + <f, a> in the KL(P | a x a) convention.
    return 2 * (jnp.mean(f) - eps * log_a), err, it


def _solve_symmetric_sharded(x, eps, opts: SolverOptions, layout):
    n = x.shape[0]
    dtype = x.dtype
    log_a = -jnp.log(jnp.asarray(n, dtype))
    axis = layout.axis

    def local(x, eps):
        mask = valid_rows(layout, x.shape[0], n)
        sq = jnp.sum(x**2, -1)

        def lK(f):
            return (
                ring_lse_rows(f - sq, mask, x, x, eps, opts.chunk, layout, opts.tile)
                - sq
            )

        def step(s, _):
            f, lKf = s
            f = 0.5 * (f + eps * log_a - lKf)
            return f, lK(f)

        def error_of(s):
            f, lKf = s
            diff = jnp.where(mask, jnp.exp((f + lKf) / eps) - jnp.exp(log_a), 0.0)
            if opts.norm == 1:
                err = jax.lax.psum(jnp.sum(jnp.abs(diff)), axis)
            else:
                err = jnp.sqrt(jax.lax.psum(jnp.sum(diff**2), axis))
            return err, jnp.array(False)

        f = jnp.zeros(x.shape[0], dtype)
        plain = opts._replace(omega=1.0)
        (f, _), it, err, _ = iterate(step, error_of, (f, lK(f)), plain, dtype)
        mean = jax.lax.psum(jnp.sum(jnp.where(mask, f, 0.0)), axis) / n
        return 2 * (mean - eps * log_a), err, it

    fn = jax.shard_map(
        local,
        mesh=layout.mesh,
        in_specs=(P(axis, None), P()),
        out_specs=(P(), P(), P()),
        check_vma=False,
    )
    return fn(pad_rows(x, layout), eps)


class SinkhornDivergenceResult(eqx.Module):
    """Output of [`sinkhorn_divergence`][].

    - `divergence`: $S_\\varepsilon$, an estimate of $W_2^2$ (biased by
      $O(\\varepsilon^2)$ for smooth densities).
    - `cross`: the $\\mu,\\nu$ [`SinkhornResult`][] (potentials for maps).
    - `self_costs`: $(\\mathrm{OT}_\\varepsilon(\\mu,\\mu),\\mathrm{OT}_\\varepsilon(\\nu,\\nu))$.
    - `errors`, `num_iterations`: of the three problems; `converged`: all three.
    """

    divergence: FloatScalar
    cross: SinkhornResult
    self_costs: Float[Array, " 2"]
    errors: Float[Array, " 3"]
    num_iterations: Int[Array, " 3"]
    converged: Bool[Array, ""]
    epsilon: FloatScalar

    @property
    def n_iterations(self) -> Array:
        """Alias of `num_iterations` (the name before flowrep used `num_*` everywhere)."""
        return self.num_iterations


@eqx.filter_jit
def solve_divergence(
    x, y, epsilon, relative=0.01, *, mode, init, opts: SolverOptions, layout=None
):
    """flowrep's divergence on checked clouds `(n, d)`, `(m, d)`: solved in
    their normalised frame, returned in the user's units."""
    (x, y), _, k = normalise(x, y)
    eps = frame_epsilon(x, y, epsilon, relative, k)
    xy = sinkhorn_core(x, y, eps, mode=mode, init=init, opts=opts, layout=layout)
    sx, ex, ix = _solve_symmetric(x, eps, mode=mode, opts=opts, layout=layout)
    sy, ey, iy = _solve_symmetric(y, eps, mode=mode, opts=opts, layout=layout)
    div = xy.reg_ot_cost - 0.5 * (sx + sy)
    errors = jnp.stack([xy.error, ex, ey])
    thr = opts.threshold
    converged = xy.converged & (ex <= thr) & (ey <= thr) & jnp.isfinite(div)
    s = lambda a: scale_by(a, 2 * k)  # noqa: E731
    return SinkhornDivergenceResult(
        s(jnp.maximum(div, 0.0)),
        rescale_result(xy, k),
        s(jnp.stack([sx, sy])),
        errors,
        jnp.stack([xy.num_iterations, ix, iy]),
        converged,
        s(eps),
    )


def sinkhorn_divergence(
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
    backend: Literal["flowrep", "ott"] = "flowrep",
    throw: bool = False,
    mesh: jax.sharding.Mesh | None = None,
) -> SinkhornDivergenceResult:
    """Debiased Sinkhorn divergence, an estimate of $W_2^2$ (cost $\\|x-y\\|^2$).

    $S_\\varepsilon(\\mu,\\nu)=\\mathrm{OT}_\\varepsilon(\\mu,\\nu)
    -\\frac12\\mathrm{OT}_\\varepsilon(\\mu,\\mu)-\\frac12\\mathrm{OT}_\\varepsilon(\\nu,\\nu)$
    (Feydy et al. 2019, eq. 3); $S_\\varepsilon\\ge0$, $=0$ iff $\\mu=\\nu$, and
    $S_\\varepsilon\\to W_2^2$ as $\\varepsilon\\to0$.

    **Arguments:** as [`sinkhorn`][], plus `backend`: `"flowrep"` (the solver
    above) or `"ott"` (ott-jax's `sinkdiv` with an online
    `PointCloud(batch_size=chunk_size)` when `mode` resolves to online; it
    ignores `init`, `over_relaxation` and `tile_pairs`). `inner_iterations`
    defaults to the backend's value for flowrep (1 on a CPU, where its error
    checks are free; 10 on a GPU/TPU) and to 10 for ott-jax (whose checks
    cost a kernel pass); `chunk_size` and `tile_pairs` default per backend
    (`flowrep/_device.py`). `mesh` (or inputs sharded over one) runs all
    three problems over the mesh with the flowrep backend's ring engine
    (see [`sinkhorn`][]); `backend="ott"` does not take a mesh.

    **Returns:** a [`SinkhornDivergenceResult`][] (the `cross` field's
    potentials are ott-jax's and its `reg_ot_cost` is NaN for the ott backend).

    **Raises:** as [`sinkhorn`][].
    """
    if inner_iterations is None:
        inner_iterations = 10 if backend == "ott" else None
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
    size = max(x.shape[0], y.shape[0])
    resolved = resolve_mode(mode, size, size, dense_limit)
    if backend == "ott":
        if mesh is not None:
            raise ValueError(
                "`mesh` runs with backend='flowrep' only; got backend='ott'."
            )
        out = _ott_divergence(x, y, eps, rel, online=resolved == "online", opts=opts)
    elif backend == "flowrep":
        out = solve_over_mesh(
            solve_divergence, x, y, eps, rel, mesh=mesh, mode=mode,
            resolved=resolved, init=init, opts=opts,
        )  # fmt: skip
    else:
        raise ValueError(f"`backend` must be 'flowrep' or 'ott'; got {backend!r}.")
    if check_bool(throw, "throw"):
        out = throw_if_not_converged(out, max_iterations)
    return out


class _OttOut(NamedTuple):
    converged: tuple[Array, ...]
    errors: tuple[Array, ...]
    potentials: tuple[Array, ...]
    n_iters: tuple[Array, ...]


@eqx.filter_jit
def _ott_divergence(x, y, epsilon, relative, *, online, opts: SolverOptions):
    from ott.geometry import pointcloud
    from ott.tools import sinkhorn_divergence as sd

    kw: dict[str, Any] = {"batch_size": opts.chunk} if online else {}
    solve_kwargs = dict(
        threshold=opts.threshold,
        norm_error=opts.norm,
        max_iterations=opts.max_iterations,
        inner_iterations=opts.inner,
    )

    def solve(x, y, eps):
        div, out = sd.sinkhorn_divergence(
            pointcloud.PointCloud,
            x,
            y,
            epsilon=eps,
            # uniform weights in the clouds' dtype (ott's default is float64
            # under x64, which breaks its `lax.cond` for float32 clouds)
            a=jnp.full(x.shape[0], 1.0 / x.shape[0], x.dtype),
            b=jnp.full(y.shape[0], 1.0 / y.shape[0], y.dtype),
            solve_kwargs=solve_kwargs,
            **kw,
        )
        # arrays only: the online path returns them through a custom_vjp
        return div, _OttOut(
            converged=tuple(jnp.asarray(c) for c in out.converged),
            errors=tuple(jnp.asarray(e) for e in out.errors),
            potentials=tuple(out.potentials[0]),
            n_iters=tuple(jnp.asarray(i) for i in out.n_iters),
        )

    # Solved in the normalised frame, as flowrep's solver.
    (x, y), _, k = normalise(x, y)
    # in the clouds' dtype: a float64 epsilon with float32 clouds (under x64)
    # breaks ott's `lax.cond` branches
    eps = jnp.asarray(frame_epsilon(x, y, epsilon, relative, k), x.dtype)
    # ott's online mode needs the shim while it is traced, and while its
    # implicit gradient is traced by `jax.grad`.
    div, out = (traced_in_online_mode(solve) if online else solve)(x, y, eps)
    converged = jnp.all(jnp.stack([jnp.asarray(c) for c in out.converged]))
    errs = []
    for e in out.errors:
        e = jnp.asarray(e)
        e = jnp.where(e < 0, jnp.inf, e).reshape(-1)
        errs.append(jnp.min(e))
    f, g = out.potentials
    s = lambda a: scale_by(jnp.asarray(a, x.dtype), 2 * k)  # noqa: E731
    dummy = SinkhornResult(
        s(f),
        s(g),
        jnp.asarray(jnp.nan, x.dtype),
        errs[0],
        jnp.asarray(out.n_iters[0]),
        jnp.asarray(out.converged[0]),
        s(eps),
    )
    return SinkhornDivergenceResult(
        s(jnp.maximum(div, 0.0)),
        dummy,
        jnp.full(2, jnp.nan, x.dtype),
        jnp.stack(errs),
        jnp.stack([jnp.asarray(i) for i in out.n_iters]),
        converged,
        s(eps),
    )
