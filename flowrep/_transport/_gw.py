"""Coordinate-free scores of tracks: Gromov-Wasserstein between layers and
distance-matrix paths (docs/theory/widths.md#gromov-wasserstein).

Every layer is seen as a metric-measure space $(X_l, c_l, \\mu_l)$ with
$c_l(x,x')=\\|x-x'\\|^2$ and $\\mu_l$ uniform on the n samples (Mémoli 2011).
"""

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.sharding import NamedSharding, PartitionSpec as P
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from .._custom_types import FloatScalar
from .._sharding import give_back, Layout, resolve_layout
from .._validate import check_key, check_positive_float, check_positive_int
from ._clouds import HIGHEST, promote
from ._projection import fields_to_dict
from ._tracks import as_tracks, Tracks


class CoordinateFreeScores(eqx.Module):
    """Scores of [`Tracks`][] that do not depend on the layers' coordinates.

    With $c_l(i,k)=\\|x_i^l-x_k^l\\|^2$ the squared distances of layer l:

    - `layer_gw` `(L,)`: $GW(\\mu_l,\\mu_{l+1})$ with
      $GW(\\mu,\\nu)^2=\\min_P\\sum_{ijkm}(c_\\mu(i,k)-c_\\nu(j,m))^2P_{ij}P_{km}$
      over couplings $P$ of the uniform weights (Mémoli 2011, no factor 1/2,
      on squared distances, so in units of squared distance), solved by
      ott-jax's entropic (or low-rank) GW solver and evaluated exactly at the
      returned plan.
    - `gw_source_target`: $GW(\\mu_0,\\mu_L)$; `gw_path_ratio`
      $=\\sum_lGW(\\mu_l,\\mu_{l+1})/GW(\\mu_0,\\mu_L)$ ($\\ge1$ up to solver error,
      by the triangle inequality for GW).
    - `layer_dm` `(L,)`: $\\delta(l,l+1)$ with
      $\\delta(l,m)^2=\\frac1{n^2}\\sum_{ik}(c_l(i,k)-c_m(i,k))^2$, the GW objective at
      the identity coupling (samples keep their identity across layers), so
      $\\delta\\ge GW$. `dm_from_source` `(L+1,)`: $\\delta(0,l)$. Computed in
      O(n d^2) without cancellation, so near-isometric layers read it at the
      rounding of the points (`identity_objective`).
    - `dm_path_ratio` $=\\sum_l\\delta(l,l+1)/\\delta(0,L)\\ge1$ and
      `dm_straightness` $=1/$`dm_path_ratio` $\\in(0,1]$: 1 iff the distance
      matrices move on a straight segment, monotonically.

    All of them are invariant under any isometry of any single layer, in
    particular a permutation of its hidden units and an orthogonal change of
    its coordinates (and a translation). They are *not* invariant under a
    positive per-unit rescaling of ReLU units, which keeps the network's
    function but is not an isometry of the layer.

    `num_samples`: samples used by the GW solves (a random subset when the
    tracks have more than `max_samples`); the $\\delta$ scores use all
    samples. `converged`: every GW solve converged (the outer iterations
    stopped before their cap and the final Sinkhorn solve met its threshold;
    for low-rank, ott-jax's flag). `method`: `"entropic"`
    or `"low-rank"`.
    """

    layer_gw: Float[Array, " L"]
    gw_source_target: FloatScalar
    gw_path_ratio: FloatScalar
    layer_dm: Float[Array, " L"]
    dm_from_source: Float[Array, " T"]
    dm_path_ratio: FloatScalar
    dm_straightness: FloatScalar
    converged: Bool[Array, ""]
    num_samples: int = eqx.field(static=True)
    method: str = eqx.field(static=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of plain floats and lists."""
        return fields_to_dict(self)


def _factors(x: Array) -> tuple[Array, Array]:
    """$c(i,k)=\\|x_i-x_k\\|^2=(UV^\\top)_{ik}$ with `U, V` `(n, d+2)`."""
    s = jnp.sum(x * x, -1, keepdims=True)
    one = jnp.ones_like(s)
    return jnp.concatenate([s, one, -2 * x], -1), jnp.concatenate([one, s, x], -1)


def _self_term(x: Array, a: Array) -> Array:
    """$\\sum_{ik}a_ia_kc(i,k)^2$ in O(n d^2)."""
    s = jnp.sum(x * x, -1)
    m = jnp.matmul(a, x, precision=HIGHEST)
    S = jnp.matmul(x.T * a, x, precision=HIGHEST)
    return (
        2 * jnp.sum(a * s * s)
        + 2 * jnp.sum(a * s) ** 2
        + 4 * jnp.sum(S * S)
        - 8 * jnp.sum(a * s * jnp.matmul(x, m, precision=HIGHEST))
    )


def gw_objective(x: Array, y: Array, apply_p, apply_pt) -> Array:
    """$\\sum_{ijkm}(c_x(i,k)-c_y(j,m))^2P_{ij}P_{km}$ for a plan given by its
    action `apply_p(B) = P @ B`, `apply_pt(A) = P.T @ A` (never forming n x n
    matrices for low-rank plans)."""
    n, m = x.shape[0], y.shape[0]
    a = apply_p(jnp.ones((m, 1), x.dtype))[:, 0]
    b = apply_pt(jnp.ones((n, 1), x.dtype))[:, 0]
    U1, V1 = _factors(x)
    U2, V2 = _factors(y)
    # tr(C1 P C2 P^T) = tr((V1^T P U2)(V2^T P^T U1))
    A = jnp.matmul(V1.T, apply_p(U2), precision=HIGHEST)
    B = jnp.matmul(V2.T, apply_pt(U1), precision=HIGHEST)
    cross = jnp.sum(A * B.T)
    return jnp.maximum(_self_term(x, a) + _self_term(y, b) - 2 * cross, 0.0)


def identity_objective(x: Array, y: Array) -> Array:
    """$\\frac1{n^2}\\sum_{ik}(c_x(i,k)-c_y(i,k))^2$ (samples matched to themselves),
    for centred `x` `(n, d_x)` and `y` `(n, d_y)`, in O(n (d_x+d_y)^2).

    With $s_i=\\|x_i\\|^2-\\|y_i\\|^2$ and $\\Delta G=XX^\\top-YY^\\top$,
    $c_x-c_y=s_i+s_k-2\\Delta G_{ik}$, so the sum is
    $2n\\|s\\|^2+2(\\sum_is_i)^2-8s^\\top\\Delta G\\mathbf 1+4\\|\\Delta G\\|_F^2$.
    $\\|\\Delta G\\|_F$ is $\\|R_xR_x^\\top-R_yR_y^\\top\\|_F$ for the QR factor
    $[X,Y]=Q[R_x,R_y]$ (Householder, backward stable), a difference of small
    matrices rather than of $\\|X^\\top X\\|_F^2+\\|Y^\\top Y\\|_F^2-2\\|X^\\top Y\\|_F^2$,
    which cancels: near-isometric layers then read $\\delta$ at the rounding
    of the distances, not at $\\sqrt{\\text{eps}}$ of them (float32, n = 2000,
    d = 64, an isometric pair: 0.088 by that expansion, 1.5e-5 by this one,
    1.2e-5 pair by pair in float64 from the same float32 points).
    """
    n, dx = x.shape
    s = jnp.sum(x * x, -1) - jnp.sum(y * y, -1)
    g1 = jnp.matmul(x, jnp.sum(x, 0), precision=HIGHEST) - jnp.matmul(
        y, jnp.sum(y, 0), precision=HIGHEST
    )
    r = jnp.linalg.qr(jnp.concatenate([x, y], -1), mode="r")
    rx, ry = r[:, :dx], r[:, dx:]
    dg = jnp.matmul(rx, rx.T, precision=HIGHEST) - jnp.matmul(
        ry, ry.T, precision=HIGHEST
    )
    total = (
        2 * n * jnp.sum(s * s)
        + 2 * jnp.sum(s) ** 2
        - 8 * jnp.sum(s * g1)
        + 4 * jnp.sum(dg * dg)
    )
    return jnp.maximum(total, 0.0) / (n * n)


def _gw_pair(x, y, *, epsilon, rank, threshold, max_iterations, outer_iterations):
    """GW between two centred clouds, in a common scale; returns (GW, converged)."""
    x = x - jnp.mean(x, 0)
    y = y - jnp.mean(y, 0)
    # c has mean 2 * total variance; one scale for the pair makes epsilon relative.
    scale = jnp.sum(jnp.var(x, 0)) + jnp.sum(jnp.var(y, 0))
    scale = jnp.where(scale > 0, scale, 1.0)
    xs, ys = x / jnp.sqrt(scale), y / jnp.sqrt(scale)
    # ott-jax is imported where it is used, so `import flowrep` does not need it
    from ott.geometry import pointcloud
    from ott.problems.quadratic import quadratic_problem
    from ott.solvers.linear import sinkhorn
    from ott.solvers.quadratic import gromov_wasserstein, gromov_wasserstein_lr

    prob = quadratic_problem.QuadraticProblem(
        pointcloud.PointCloud(xs), pointcloud.PointCloud(ys)
    )
    if rank is None:
        solver = gromov_wasserstein.GromovWasserstein(
            sinkhorn.Sinkhorn(threshold=threshold, max_iterations=max_iterations),
            epsilon=epsilon,
            threshold=threshold,
            max_iterations=outer_iterations,
            warm_start=True,
        )
        out = solver(prob)
        # ott's flag also fails when an intermediate linearisation's Sinkhorn
        # hit its cap; what matters is the outer loop and the final plan.
        outer = jnp.sum(out.costs != -1) < outer_iterations
        ok = outer & jnp.asarray(out.linear_state.converged)  # pyright: ignore[reportOptionalMemberAccess]
        P = out.matrix
        ap = lambda B: jnp.matmul(P, B, precision=HIGHEST)  # noqa: E731
        apt = lambda A: jnp.matmul(P.T, A, precision=HIGHEST)  # noqa: E731
    else:
        solver = gromov_wasserstein_lr.LRGromovWasserstein(
            rank=rank,
            epsilon=epsilon,
            threshold=threshold,
            min_iterations=0,
            max_iterations=max_iterations,
            inner_iterations=10,
        )
        out = solver(prob)
        ok = jnp.asarray(out.converged)
        q, r, g = out.q, out.r, out.g
        ap = lambda B: jnp.matmul(  # noqa: E731
            q, jnp.matmul(r.T, B, precision=HIGHEST) / g[:, None], precision=HIGHEST
        )
        apt = lambda A: jnp.matmul(  # noqa: E731
            r, jnp.matmul(q.T, A, precision=HIGHEST) / g[:, None], precision=HIGHEST
        )
    val = gw_objective(xs, ys, ap, apt)
    return jnp.sqrt(val) * scale, ok


def _gw_pairs(xs, ys, **kw):
    """`_gw_pair` over stacked pairs `(k, m, d)`, one after the other."""
    return jax.lax.map(lambda pair: _gw_pair(*pair, **kw), (xs, ys))


def _gw_stacks(points, sub):
    """The GW pairs: consecutive layers, then (first, last), on the subset."""
    ps = points[:, sub]
    xs = jnp.concatenate([ps[:-1], ps[:1]])
    ys = jnp.concatenate([ps[1:], ps[-1:]])
    return xs, ys


def _cf_scores(points, vals, ok, num_samples, rank):
    """The scores from the GW values and the tracks (the $\\delta$ scores)."""
    layer_gw, gw_st = vals[:-1], vals[-1]

    def dm(pair):
        x, y = pair
        return jnp.sqrt(identity_objective(x - jnp.mean(x, 0), y - jnp.mean(y, 0)))

    layer_dm = jax.lax.map(dm, (points[:-1], points[1:]))
    src = jax.lax.map(dm, (jnp.broadcast_to(points[0], points[1:].shape), points[1:]))
    dm_from_source = jnp.concatenate([jnp.zeros(1, points.dtype), src])
    ratio = jnp.sum(layer_dm) / src[-1]
    return CoordinateFreeScores(
        layer_gw=layer_gw,
        gw_source_target=gw_st,
        gw_path_ratio=jnp.sum(layer_gw) / gw_st,
        layer_dm=layer_dm,
        dm_from_source=dm_from_source,
        dm_path_ratio=ratio,
        dm_straightness=1 / ratio,
        converged=jnp.all(ok),
        num_samples=num_samples,
        method="entropic" if rank is None else "low-rank",
    )


@eqx.filter_jit
def _cf_impl(points, sub, **kw):
    vals, ok = _gw_pairs(*_gw_stacks(points, sub), **kw)
    return _cf_scores(points, vals, ok, sub.shape[0], kw["rank"])


@eqx.filter_jit
def _cf_mesh(points, sub, layout: Layout, **kw):
    """`_cf_impl` over a mesh: the L+1 GW pairs are spread over the devices
    of the data axis (`shard_map`, each device solving its own pairs one
    after the other, as `_cf_impl` solves all of them), padded to a multiple
    of $D$ with copies of the last pair; the $\\delta$ scores run on the
    tracks as placed (sharded by samples or replicated), partitioned by XLA."""
    xs, ys = _gw_stacks(points, sub)
    k = xs.shape[0]
    extra = layout.padded(k) - k
    if extra:  # a real pair, solved again and dropped
        xs = jnp.concatenate([xs, jnp.repeat(xs[-1:], extra, 0)])
        ys = jnp.concatenate([ys, jnp.repeat(ys[-1:], extra, 0)])
    pairs = NamedSharding(layout.mesh, P(layout.axis, None, None))
    xs = jax.lax.with_sharding_constraint(xs, pairs)
    ys = jax.lax.with_sharding_constraint(ys, pairs)
    fn = jax.shard_map(
        functools.partial(_gw_pairs, **kw),
        mesh=layout.mesh,
        in_specs=(P(layout.axis), P(layout.axis)),
        out_specs=(P(layout.axis), P(layout.axis)),
        check_vma=False,
    )
    vals, ok = fn(xs, ys)
    vals = jax.lax.with_sharding_constraint(vals[:k], layout.replicated())
    ok = jax.lax.with_sharding_constraint(ok[:k], layout.replicated())
    return _cf_scores(points, vals, ok, sub.shape[0], kw["rank"])


def coordinate_free_scores(
    tracks: Tracks | ArrayLike,
    *,
    epsilon: float | None = None,
    rank: int | None = None,
    max_samples: int | None = 1024,
    key: PRNGKeyArray | None = None,
    threshold: float = 1e-4,
    max_iterations: int = 5000,
    outer_iterations: int = 100,
    mesh: jax.sharding.Mesh | None = None,
) -> CoordinateFreeScores:
    """Scores of tracks that do not depend on the coordinates of any layer.

    Compares consecutive layers as metric-measure spaces (Mémoli 2011) with
    ott-jax's Gromov-Wasserstein solver, and the layers' distance matrices
    along the tracks; see [`CoordinateFreeScores`][] and
    docs/theory/widths.md#gromov-wasserstein. The results are the same (to
    solver tolerance) after any permutation of a layer's units or any
    orthogonal change of its coordinates; so they also do not depend on the
    common embedding of layers of different widths.

    **Arguments:**

    - `tracks`: [`Tracks`][] (any widths) or an array `(L+1, n, d)`.
    - `epsilon`: entropic regularisation of the GW solver, relative to the
      pair's costs (each pair is scaled by its total variance, so its squared
      distances have mean about 1). Default `1e-2` for the entropic solver,
      `0` for low-rank. At `1e-3` most inner Sinkhorn solves of a 256-sample
      pair hit 5000 iterations (float32) and each pair took 5-100x longer;
      on the benchmark network (benchmarks/any_network.py, 256 samples) 10
      of its 11 GW values moved by at most 1.5 % between `1e-3` and `1e-2`
      and one was 15 % higher at `1e-2` (the blur of the plan: GW is
      evaluated exactly at the returned plan, so a blurred plan raises it);
      on a narrower network one was 9 % lower (a better local minimum: GW
      is not convex). Larger values blur the plan more.
    - `rank`: use ott-jax's low-rank GW solver (Scetbon et al. 2022) with
      this rank: memory and time linear in n. Default `None`: entropic GW
      with dense `(n, n)` plans.
    - `max_samples`: the GW solves use a random subset of this many samples
      (the same in every layer) when n is larger; `None` uses all samples.
    - `key`: PRNG key for that subset (default `jax.random.key(0)`).
    - `threshold`: tolerance of the inner Sinkhorn solves (marginal error)
      and of the outer GW loop (relative change of its cost).
    - `max_iterations`: cap on each inner Sinkhorn solve (entropic) or on
      the low-rank solver's iterations.
    - `outer_iterations`: cap on the entropic solver's outer
      (linearisation) iterations; a pair that reaches it is not converged.
      With the defaults the pairs of the benchmark network stop after 5-26.
    - `mesh`: run over this `jax.sharding.Mesh` (default: the mesh of
      `tracks.points` when it is a `jax.Array` sharded with a
      `NamedSharding`, e.g. `P(None, "data", None)`, as for
      [`score_tracks`][]; rule in `flowrep/_sharding.py`). The $L+1$ GW
      solves (each needs its two sub-sampled layers whole: at most
      `max_samples` points each) are spread over the devices of the data
      axis, $\\lceil (L+1)/D\\rceil$ per device, one after the other; the
      $\\delta$ scores run on the samples sharded (when $n$ is a multiple of
      $D$, else replicated), partitioned by XLA. The results equal one
      device's up to float rounding and come back replicated on the mesh.

    **Returns:** a [`CoordinateFreeScores`][]; `.to_dict()` gives plain JSON.

    **Raises:** `ValueError` on bad tracks (see [`Tracks`][]), non-positive
    `epsilon`, `rank`, `max_samples`, `threshold`, `max_iterations` or
    `outer_iterations`, or a
    first and last layer that are isometric on the sampled points (GW = 0:
    the path ratio is undefined); `TypeError` if `mesh` is not a
    `jax.sharding.Mesh`.
    """
    tracks = as_tracks(tracks)
    if rank is not None:
        rank = check_positive_int(rank, "rank")
    if epsilon is None:
        epsilon = 1e-2 if rank is None else 0.0
    elif rank is None:
        epsilon = check_positive_float(epsilon, "epsilon")
    else:
        epsilon = float(epsilon)
        if not epsilon >= 0:
            raise ValueError(f"`epsilon` must be >= 0 with `rank`; got {epsilon}.")
    threshold = check_positive_float(threshold, "threshold")
    max_iterations = check_positive_int(max_iterations, "max_iterations")
    outer_iterations = check_positive_int(outer_iterations, "outer_iterations")
    n = tracks.num_samples
    if max_samples is not None:
        # one sample has no pairwise distances to compare
        max_samples = check_positive_int(max_samples, "max_samples", minimum=2)
    if key is not None:
        key = check_key(key)
    if max_samples is None or n <= max_samples:
        sub = jnp.arange(n)
    else:
        sub = jnp.sort(
            jr.permutation(jr.key(0) if key is None else key, n)[:max_samples]
        )
    if rank is not None and rank > sub.shape[0]:
        raise ValueError(
            f"`rank` must be at most the number of samples {sub.shape[0]}; got {rank}."
        )
    points = promote(tracks.points, "tracks")
    kw = dict(
        epsilon=epsilon,
        rank=rank,
        threshold=threshold,
        max_iterations=max_iterations,
        outer_iterations=outer_iterations,
    )
    layout = resolve_layout(mesh, points)
    if layout is None:
        out = _cf_impl(points, sub, **kw)
    else:
        spec = P(None, layout.axis, None) if n % layout.size == 0 else P()
        points = jax.device_put(points, NamedSharding(layout.mesh, spec))
        out = give_back(_cf_mesh(points, sub, layout, **kw), layout)
    # delta is in squared-distance units; compare it with the layers' variance.
    size = float(jnp.sum(jnp.var(points[0], 0)) + jnp.sum(jnp.var(points[-1], 0)))
    # (identity_objective does not cancel: isometric layers read at most
    # 3.2 eps * size, float32 and float64, n <= 2000, d <= 64; 1e3 eps leaves
    # ~300x. tests/test_gw.py::test_isometric_first_and_last_layers_are_refused)
    tol = 1e3 * float(jnp.finfo(points.dtype).eps)
    if float(out.dm_from_source[-1]) <= tol * size:
        raise ValueError(
            "the first and last layers are isometric (their distance matrices "
            "agree), so the coordinate-free path ratios are undefined."
        )
    return out
