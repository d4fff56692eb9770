"""Transport scores: how close are tracks to the OT map and the W2 geodesic.

See docs/theory/scores.md (Gai & Zhang 2021; kinetic and Eulerian ratios derived;
affine non-linearity after Bouniot et al. 2023).
"""

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from jaxtyping import Array, ArrayLike, Bool, Float

from .._custom_types import FloatScalar
from .._sharding import (
    give_back,
    Layout,
    pad_rows,
    resolve_layout,
    ring,
    unpad_rows,
    valid_rows,
)
from .._validate import check_positive_int, check_value, is_traced
from ._clouds import HIGHEST, normalise, promote, scale_by
from ._divergence import solve_divergence
from ._exact import hungarian, resolve_host
from ._gaussian import bures_map
from ._maps import barycentric_images, plan_argmax
from ._projection import fields_to_dict
from ._sinkhorn import check_epsilon, solve_options
from ._tracks import as_tracks, Tracks


class TransportScores(eqx.Module):
    """All transport scores of a set of [`Tracks`][] (L steps, n samples).

    Lagrangian (sample-wise) scores:

    - `lss`: mean over samples of the line-shape score
      $\\mathrm{LSS}_i=L_i/\\|\\tilde x_i^L-\\tilde x_i^0\\|\\ge1$ (Gai & Zhang), where
      $\\tilde x$ advances by unit steps along $x^{l+1}-x^l$ and $L_i$ counts the
      non-zero steps (a resting sample has $\\mathrm{LSS}_i=1$; a sample whose
      unit steps return it to its start, as forward-then-back in 1-D, has
      $\\mathrm{LSS}_i=\\infty$, or a huge value where rounding leaves a
      residual, and so has `lss`). The paper's
      aggregation over samples is not stated; we report the mean, plus
      `lss_per_sample` `(n,)`.
    - `c_net`: $\\frac1n\\sum_i\\|x_i^L-x_i^0\\|^2$; `w2_sq`: $W_2^2(\\mu_0,\\mu_L)$.
    - `cost_ratio` $=c_{net}/W_2^2\\ge1$, `monge_gap` $=c_{net}-W_2^2\\ge0$,
      `matched_fraction`: share of samples the OT plan sends where the tracks do.
    - `kinetic_energy` $E=\\sum_l\\frac{1}{\\Delta t_l}\\frac1n\\sum_i\\|x_i^{l+1}-x_i^l\\|^2$
      ($=L\\sum_l\\ldots$ for uniform steps), `kinetic_ratio` $=E/W_2^2$
      $=$ `speed_factor` $(E/c_{net})\\times$ `cost_ratio`, all $\\ge1$.

    Eulerian (distribution-wise) scores:

    - `layer_w2` `(L,)`: $W_2(\\mu_l,\\mu_{l+1})$; `path_ratio`
      $=\\sum_lW_2(\\mu_l,\\mu_{l+1})/W_2(\\mu_0,\\mu_L)\\ge1$.
    - `w2_from_source` `(L+1,)`: $W_2(\\mu_0,\\mu_l)$ (a geodesic has $s_lW_2(\\mu_0,\\mu_L)$,
      $s_l$ the normalised time).
    - `speed_cv`: coefficient of variation of the metric speed
      $W_2(\\mu_l,\\mu_{l+1})/\\Delta t_l$ (0 iff constant speed).
    - `interpolant_deviation` `(L+1,)`: $W_2(\\mu_l,\\rho_{s_l})$, $\\rho$ the
      displacement interpolant $((1-s)\\mathrm{Id}+sT)_\\#\\mu_0$.
    - `nonlinearity` `(L,)`: $\\sqrt{W_2^2(T_{aff}\\#\\mu_l,\\mu_{l+1})/(2\\,\\mathrm{tr}\\Sigma_{l+1})}$
      with $T_{aff}$ the Gaussian OT map between fitted Gaussians; 0 for an
      affine layer on Gaussian data (and for an identity layer). This is
      $1-\\rho_{aff}$ between consecutive recorded *layers* in flowrep's
      convention ($1/n$ covariances, a relative ridge on the source); Bouniot
      et al.'s affinity score is per *activation function*, with AffScoreDeep's
      conventions: compute it with [`affine_score`][] (same formula with
      `convention="flowrep"`).

    `converged` is `False` if a Sinkhorn solve did not converge; `method` is
    `"exact"` or `"sinkhorn"`.
    """

    lss: FloatScalar
    lss_per_sample: Float[Array, " n"]
    c_net: FloatScalar
    w2_sq: FloatScalar
    cost_ratio: FloatScalar
    monge_gap: FloatScalar
    matched_fraction: FloatScalar
    kinetic_energy: FloatScalar
    kinetic_ratio: FloatScalar
    speed_factor: FloatScalar
    layer_w2: Float[Array, " L"]
    path_ratio: FloatScalar
    w2_from_source: Float[Array, " T"]
    speed_cv: FloatScalar
    interpolant_deviation: Float[Array, " T"]
    nonlinearity: Float[Array, " L"]
    converged: Bool[Array, ""]
    method: str = eqx.field(static=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of plain floats and lists (per-sample LSS is
        summarised by its median and max)."""
        out: dict[str, Any] = {"method": self.method}
        out.update(fields_to_dict(self, skip=("method", "lss_per_sample")))
        lps = np.asarray(self.lss_per_sample)
        out["lss_median"] = float(np.median(lps))
        out["lss_max"] = float(np.max(lps))
        return out


def _lss(points: Array) -> Array:
    steps = points[1:] - points[:-1]
    norms = jnp.linalg.norm(steps, axis=-1)
    moving = norms > 0
    unit = steps / jnp.where(moving, norms, 1.0)[..., None]
    chord = jnp.linalg.norm(jnp.sum(unit, 0), axis=-1)
    count = jnp.sum(moving, 0).astype(points.dtype)
    return jnp.where(count > 0, count / jnp.where(count > 0, chord, 1.0), 1.0)


def _ring_maps(x, y, f, g, eps, chunk, layout: Layout):
    """Over a mesh: [`barycentric_images`][] and [`plan_argmax`][] in one
    ring pass. Rows of `x` (with `f`) stay on their device; blocks of `y`
    (with `g` and their global start index) pass round the devices with
    `ppermute`; each device sums its images and keeps its running argmax
    (ties to the smallest index, as `jnp.argmax`)."""
    n, m = x.shape[0], y.shape[0]
    axis, perm = layout.axis, ring(layout)
    m_loc = layout.padded(m) // layout.size

    def local(xl, fl, yb, gb):
        gb = jnp.where(valid_rows(layout, m_loc, m), gb, -jnp.inf)
        start = jax.lax.axis_index(axis) * m_loc

        def visit(carry, yb, gb, start):
            def one(args):
                xi, fi, acc, best, arg = args
                c = jnp.sum((yb - xi) ** 2, -1)
                w = jnp.exp((fi + gb - c) / eps) / m
                acc = acc + jnp.matmul(w, yb, precision=HIGHEST)
                val = gb - c
                j = jnp.argmax(val)
                v, j = val[j], start + j
                better = (v > best) | ((v == best) & (j < arg))
                return acc, jnp.where(better, v, best), jnp.where(better, j, arg)

            return jax.lax.map(one, (xl, fl) + carry, batch_size=chunk)

        def hop(state, _):
            carry, yb, gb, start = state
            yb, gb, start = (jax.lax.ppermute(a, axis, perm) for a in (yb, gb, start))
            return (visit(carry, yb, gb, start), yb, gb, start), None

        init = (
            jnp.zeros_like(xl),
            jnp.full(xl.shape[:1], -jnp.inf, xl.dtype),
            jnp.zeros(xl.shape[:1], jnp.int32),
        )
        state = (visit(init, yb, gb, start), yb, gb, start)
        ((img, _, arg), _, _, _), _ = jax.lax.scan(
            hop, state, None, length=layout.size - 1
        )
        return img, arg

    fn = jax.shard_map(
        local,
        mesh=layout.mesh,
        in_specs=(P(axis, None), P(axis), P(axis, None), P(axis)),
        out_specs=(P(axis, None), P(axis)),
        check_vma=False,
    )
    img, arg = fn(*(pad_rows(a, layout) for a in (x, f, y, g)))
    return unpad_rows(img, layout, n), unpad_rows(arg, layout, n)


def _pair_solver(
    method: str,
    eps,
    kw: dict,
    layout: Layout | None = None,
    relative: float = 0.01,
    host: bool | None = None,
):
    """A traceable (w2_sq, images, argmatch, converged) solver for one pair;
    over a mesh (`layout`) the Sinkhorn one runs the ring engine. With `eps`
    `None` each pair's epsilon is `relative` times its own mean cost."""

    def exact(x, y):
        perm = hungarian(x, y, host=host)
        img = y[perm]
        return jnp.mean(jnp.sum((x - img) ** 2, -1)), img, perm, jnp.array(True)

    def sink(x, y):
        out = solve_divergence(x, y, eps, relative, **kw, layout=layout)
        if layout is not None:
            img, match = _ring_maps(
                x, y, out.cross.f, out.cross.g, out.epsilon, kw["opts"].chunk, layout
            )
            return out.divergence, img, match, out.converged
        img = barycentric_images(
            x, y, out.cross.f, out.cross.g, out.epsilon, kw["opts"].chunk
        )
        match = plan_argmax(x, y, out.cross.g, kw["opts"].chunk)
        return out.divergence, img, match, out.converged

    return exact if method == "exact" else sink


@eqx.filter_jit
def _score_impl(points, dt, epsilon, relative, *, method, kw, layout=None, host=None):
    """Scores of checked tracks `(L+1, n, d)`, computed in their normalised
    frame (all layers share one translation and power-of-two scaling) and
    returned in the user's units."""
    T, n, d = points.shape
    (flat,), _, k = normalise(points.reshape(T * n, d))
    pts = flat.reshape(T, n, d)
    # One epsilon per pair, relative to that pair's mean cost (the convention
    # of `wasserstein2`), unless the user fixed one: a single epsilon relative
    # to the end layers is far too small for wider middle layers (a ReLU net's
    # hidden layers can be 10x the spread of its input and output), and the
    # iterations grow like (spread^2 / epsilon).
    eps = None if epsilon is None else scale_by(jnp.asarray(epsilon, pts.dtype), -2 * k)
    out = _score_frame(
        pts, dt, eps, method=method, kw=kw, layout=layout, relative=relative,
        host=host,
    )  # fmt: skip
    sq = lambda a: scale_by(a, 2 * k)  # noqa: E731
    lin = lambda a: scale_by(a, k)  # noqa: E731
    return eqx.tree_at(
        lambda o: (
            o.c_net,
            o.w2_sq,
            o.monge_gap,
            o.kinetic_energy,
            o.layer_w2,
            o.w2_from_source,
            o.interpolant_deviation,
        ),
        out,
        (
            sq(out.c_net),
            sq(out.w2_sq),
            sq(out.monge_gap),
            sq(out.kinetic_energy),
            lin(out.layer_w2),
            lin(out.w2_from_source),
            lin(out.interpolant_deviation),
        ),
    )


def _score_frame(points, dt, eps, *, method, kw, layout=None, relative=0.01, host=None):
    L = points.shape[0] - 1
    n = points.shape[1]
    solve = _pair_solver(method, eps, kw, layout, relative, host)

    def w2sq(pair):
        c, _, _, ok = solve(*pair)
        return c, ok

    x0, xL = points[0], points[-1]
    lss_i = _lss(points)
    if layout is not None:  # per-sample scores stay with their samples
        spec = P(layout.axis) if n % layout.size == 0 else P()
        lss_i = jax.lax.with_sharding_constraint(
            lss_i, NamedSharding(layout.mesh, spec)
        )
    c_net = jnp.mean(jnp.sum((xL - x0) ** 2, -1))
    w2_sq, img, match, ok0 = solve(x0, xL)
    matched = jnp.mean((match == jnp.arange(n)).astype(points.dtype))
    steps_sq = jnp.mean(jnp.sum((points[1:] - points[:-1]) ** 2, -1), -1)
    energy = jnp.sum(steps_sq / dt)

    lw_sq, ok1 = jax.lax.map(w2sq, (points[:-1], points[1:]))
    layer_w2 = jnp.sqrt(lw_sq)
    w2 = jnp.sqrt(w2_sq)
    # W2(mu_0, mu_l) for 0 < l < L; the last one is the endpoint pair solved above
    src_sq, ok2 = jax.lax.map(
        w2sq, (jnp.broadcast_to(x0, points[1:-1].shape), points[1:-1])
    )
    w2_from_source = jnp.concatenate(
        [jnp.zeros(1, points.dtype), jnp.sqrt(src_sq), w2[None]]
    )
    speed = layer_w2 / dt
    mean_speed = jnp.sum(dt * speed)
    speed_cv = jnp.sqrt(jnp.sum(dt * (speed - mean_speed) ** 2)) / mean_speed

    s = jnp.concatenate([jnp.zeros(1, dt.dtype), jnp.cumsum(dt)])
    interp = (1 - s[:, None, None]) * x0 + s[:, None, None] * img
    dev_sq, ok3 = jax.lax.map(w2sq, (points[1:-1], interp[1:-1]))
    zero = jnp.zeros(1, points.dtype)
    deviation = jnp.concatenate([zero, jnp.sqrt(dev_sq), zero])

    def affine_push(pair):
        X, Y = pair
        d = X.shape[1]
        m1, m2 = jnp.mean(X, 0), jnp.mean(Y, 0)
        S1 = jnp.matmul((X - m1).T, X - m1, precision=HIGHEST) / n
        S2 = jnp.matmul((Y - m2).T, Y - m2, precision=HIGHEST) / n
        # a relative ridge above the working precision: padded (zero-variance)
        # coordinates of a layer of smaller width keep S1 invertible in float32
        rel = max(1e-9, 100 * float(jnp.finfo(X.dtype).eps))
        reg = rel * (jnp.trace(S1) + jnp.trace(S2)) / d + jnp.finfo(X.dtype).tiny
        T = bures_map(m1, S1 + reg * jnp.eye(d, dtype=X.dtype), m2, S2)
        Z = jnp.matmul(X, T.matrix.T, precision=HIGHEST) + T.shift
        c, ok = w2sq((Z.astype(X.dtype), Y))
        return jnp.sqrt(
            c / (2 * jnp.maximum(jnp.trace(S2), jnp.finfo(X.dtype).tiny))
        ), ok

    nonlin, ok4 = jax.lax.map(affine_push, (points[:-1], points[1:]))
    converged = ok0 & jnp.all(ok1) & jnp.all(ok2) & jnp.all(ok3) & jnp.all(ok4)
    del L
    return TransportScores(
        lss=jnp.mean(lss_i),
        lss_per_sample=lss_i,
        c_net=c_net,
        w2_sq=w2_sq,
        cost_ratio=c_net / w2_sq,
        monge_gap=c_net - w2_sq,
        matched_fraction=matched,
        kinetic_energy=energy,
        kinetic_ratio=energy / w2_sq,
        speed_factor=energy / c_net,
        layer_w2=layer_w2,
        path_ratio=jnp.sum(layer_w2) / w2,
        w2_from_source=w2_from_source,
        speed_cv=speed_cv,
        interpolant_deviation=deviation,
        nonlinearity=nonlin,
        converged=converged,
        method=method,
    )


def score_tracks(
    tracks: Tracks | ArrayLike,
    *,
    method: Literal["auto", "exact", "sinkhorn"] = "auto",
    exact_max: int = 1024,
    epsilon: float | None = None,
    relative_epsilon: float = 0.01,
    threshold: float = 1e-3,
    max_iterations: int = 2000,
    chunk_size: int = 256,
    mesh: jax.sharding.Mesh | None = None,
    host: bool | None = None,
) -> TransportScores:
    """Score how close tracks are to optimal transport and the W2 geodesic.

    One call computes every score of [`TransportScores`][] (docs/theory/scores.md).
    All $W_2$ values between pairs of layers use the same solver: the exact
    assignment (`"exact"`, default when `n <= exact_max`) or the debiased
    Sinkhorn divergence (`"sinkhorn"`). Each pair's $\\varepsilon$ is
    `relative_epsilon` times that pair's mean cost $\\frac1{n^2}\\sum_{ij}\\|x_i-y_j\\|^2$
    (the convention of [`wasserstein2`][], so `layer_w2[l]` is
    `wasserstein2(x_l, x_{l+1}, method="sinkhorn")`), unless `epsilon` is given:
    then one $\\varepsilon$ serves every pair. (Until this release one
    $\\varepsilon$ relative to the cost between $\\mu_0$ and $\\mu_L$ served every
    pair: hidden layers ten times wider in spread than the input and output
    then needed some 100x more iterations, and a 10-layer network at
    $n=2000$ did not finish.) With Sinkhorn the OT map is the barycentric
    projection and the matched fraction uses the row-wise argmax of the plan.

    **Arguments:**

    - `tracks`: [`Tracks`][] or an array `(L+1, n, d)`.
    - `method`, `exact_max`, `epsilon`, `relative_epsilon`, `threshold`,
      `max_iterations`, `chunk_size`: solver options. `exact_max` only picks
      the solver when `method="auto"` (exact up to `exact_max` samples); an
      explicit `method="exact"` is solved exactly at any `n` (O(n^3) time on
      the host or the device: `host`).
    - `mesh`: run over this `jax.sharding.Mesh` with the samples sharded
      (default: the mesh of `tracks.points` when it is a `jax.Array` sharded
      with a `NamedSharding`, e.g. `P(None, "data", None)`; rule in
      `flowrep/_sharding.py`). With `"sinkhorn"` every $W_2$ is the sharded
      online Sinkhorn divergence (ring log-sum-exp, see [`sinkhorn`][]; the
      dense engine is not used over a mesh), and the barycentric images and
      plan argmax are one more ring pass over blocks of the target; the
      per-sample parts (LSS, $c_{net}$, kinetic energy, the moments of the
      affine fit) run on the sharded samples, partitioned by XLA.
      `lss_per_sample` comes back sharded `P(axis)` when $n$ is a multiple of
      $D$, replicated otherwise; the scalars replicated. With `"exact"`
      (`n <= exact_max`, small by design) the Hungarian assignment needs
      whole layers, so the tracks are **gathered**: every device solves the
      same assignments and nothing is saved but the placement of the outputs.
    - `host`: where the exact assignments are solved, as in
      [`exact_assignment`][]: `True` scipy's `linear_sum_assignment` on the
      host (at n = 500 about 5x faster than the in-program Hungarian on a
      CPU, and the score makes about 3L of them), `False` ott-jax's Hungarian in the
      compiled program, `None` (default) the host on every backend but the CPU.
      The optimum is the same (ties aside); unused by `"sinkhorn"`.

    **Returns:** a [`TransportScores`][]; `.to_dict()` gives plain JSON.

    Scores are computed in the tracks' normalised frame (one common
    translation and exact power-of-two scaling of every layer), so they are
    translation invariant, ratios are scale invariant and $W_2$ values scale
    with the tracks. float16/bfloat16 tracks are promoted to float32.

    **Raises:** `ValueError` on bad tracks (see [`Tracks`][]), an unknown
    method, a non-positive or non-finite `epsilon`, `relative_epsilon` or
    `threshold`, non-integer or non-positive counts (`exact_max`,
    `max_iterations`, `chunk_size`), or a source and target that coincide
    ($W_2=0$: ratios undefined); `TypeError` for arguments of the wrong type.
    """
    tracks = as_tracks(tracks)
    n = tracks.num_samples
    if not isinstance(method, str) or method not in ("auto", "exact", "sinkhorn"):
        raise ValueError(
            f"`method` must be 'auto', 'exact' or 'sinkhorn'; got {method!r}."
        )
    exact_max = check_positive_int(exact_max, "exact_max")
    host = resolve_host(host)
    if method == "auto":
        method = "exact" if n <= exact_max else "sinkhorn"
    eps, rel = check_epsilon(epsilon, relative_epsilon)
    points = promote(tracks.points, "tracks")
    layout = resolve_layout(mesh, points)
    if layout is not None:
        spec = P(None, layout.axis, None) if n % layout.size == 0 else P()
        points = jax.device_put(points, NamedSharding(layout.mesh, spec))
    kw = dict(
        mode="dense" if n * n <= 2**27 and layout is None else "online",
        init="gaussian",
        opts=solve_options(threshold, 1, max_iterations, None, "adaptive", chunk_size),
    )
    out = _score_impl(
        points,
        tracks.dt.astype(points.dtype),
        eps,
        rel,
        method=method,
        kw=kw,
        layout=layout,
        host=host,
    )
    if layout is not None:
        out = give_back(out, layout)
    out = eqx.tree_at(
        lambda o: o.w2_sq,
        out,
        check_value(
            out.w2_sq,
            lambda c, k: ~(jnp.isfinite(c) & jnp.isfinite(k)),
            f"score_tracks: the W2^2 or kinetic energy of `tracks` overflows "
            f"{points.dtype.name} (values too large for it): pass float64 tracks "
            "(jax_enable_x64) or rescale them",
            out.kinetic_energy,
        ),
    )
    # W2^2 in the user's units may underflow (float32 tracks at scale 1e-20)
    # while the frame's ratios are exact: only a W2 of 0 in the frame (an
    # undefined cost ratio) is refused.
    if (
        not is_traced(out.w2_sq, out.cost_ratio)
        and float(out.w2_sq) <= 0
        and not np.isfinite(float(out.cost_ratio))
    ):
        raise ValueError(
            "the first and last layers of `tracks` have the same distribution (W2 = 0), so "
            "the transport ratios are undefined (for the affinity of an identity "
            "map, which is 1, use flowrep.affine_score)."
        )
    return out
