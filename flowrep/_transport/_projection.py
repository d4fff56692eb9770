"""Linear projections of wide layers: PCA or a seeded Johnson-Lindenstrauss map.

See docs/theory/widths.md#projection.
"""

import math
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validate import check_key, check_positive_int
from ._clouds import HIGHEST
from ._tracks import Tracks


class ProjectionReport(eqx.Module):
    """What a projection of [`Tracks`][] did to each of its L+1 layers.

    - `method`: `"pca"` or `"jl"`; `width`: the target width k.
    - `widths_before`, `widths_after`: the layers' widths (layers already at
      most k wide are kept as they are, distortion 0).
    - `max_distortion`, `mean_distortion` `(L+1,)`: the max and mean over a
      sample of pairs $(i,j)$ of $\\big|\\,\\|P x_i-P x_j\\|/\\|x_i-x_j\\|-1\\big|$.
    - `retained_variance` `(L+1,)`: the share of the layer's variance kept
      (PCA; for JL the ratio of the projected to the original total variance).
    - `bound` `(L+1,)`: for JL, the distance distortion $1-\\sqrt{1-\\varepsilon}$
      that the Dasgupta-Gupta bound guarantees for *all* $n(n-1)/2$ pairs with
      probability at least $1-1/n$, where $\\varepsilon$ solves
      $k=4\\ln n/(\\varepsilon^2/2-\\varepsilon^3/3)$ (`inf` when $k$ is too
      small for any $\\varepsilon<1$); 0 for kept layers. For PCA no a-priori
      bound holds; `bound` is `nan` for projected layers.
    - `num_pairs`: the number of pairs measured.
    """

    method: str = eqx.field(static=True)
    width: int = eqx.field(static=True)
    widths_before: tuple[int, ...] = eqx.field(static=True)
    widths_after: tuple[int, ...] = eqx.field(static=True)
    max_distortion: Float[Array, " T"]
    mean_distortion: Float[Array, " T"]
    retained_variance: Float[Array, " T"]
    bound: Float[Array, " T"]
    num_pairs: int = eqx.field(static=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of plain numbers and lists."""
        return fields_to_dict(self)


def fields_to_dict(result: eqx.Module, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of a result module (but `skip`) as plain JSON values: static
    strings and ints as they are, tuples as lists, boolean and 0-d arrays as
    `bool` and `float`, other arrays as lists of floats. Shared by the
    `to_dict` of the transport results."""
    out: dict[str, Any] = {}
    for name in result.__dataclass_fields__:  # pyright: ignore[reportAttributeAccessIssue]
        if name in skip:
            continue
        val = getattr(result, name)
        if isinstance(val, str | int):
            out[name] = val
            continue
        if isinstance(val, tuple):
            out[name] = list(val)
            continue
        val = np.asarray(val)
        if val.dtype == bool and val.ndim == 0:
            out[name] = bool(val)
        elif val.ndim == 0:
            out[name] = float(val)
        else:
            out[name] = [float(v) for v in val]
    return out


def jl_epsilon(n: int, k: int) -> float:
    """The $\\varepsilon$ of the Dasgupta-Gupta (2003) Johnson-Lindenstrauss
    bound: a Gaussian projection to $k$ coordinates keeps every squared
    pairwise distance of $n$ points within factors $1\\pm\\varepsilon$ with
    probability at least $1-1/n$ when $k\\ge4\\ln n/(\\varepsilon^2/2-\\varepsilon^3/3)$.
    Returns the smallest such $\\varepsilon$ in $(0,1)$, or `inf`."""
    n, k = check_positive_int(n, "n"), check_positive_int(k, "k")
    need = 4 * math.log(max(n, 2)) / k
    # eps^2/2 - eps^3/3 is increasing on (0, 1), with value 1/6 at 1.
    if need >= 1 / 6:
        return math.inf
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if mid**2 / 2 - mid**3 / 3 >= need:
            hi = mid
        else:
            lo = mid
    return hi


def _pairs(key, n: int, num_pairs: int):
    ki, kj = jr.split(key)
    i = jr.randint(ki, (num_pairs,), 0, n)
    j = (i + jr.randint(kj, (num_pairs,), 1, n)) % n  # j != i
    return i, j


@jax.jit
def _distortion(x, y, i, j):
    d0 = jnp.linalg.norm(x[i] - x[j], axis=-1)
    d1 = jnp.linalg.norm(y[i] - y[j], axis=-1)
    ok = d0 > 0
    rel = jnp.where(ok, jnp.abs(d1 / jnp.where(ok, d0, 1.0) - 1.0), 0.0)
    cnt = jnp.maximum(jnp.sum(ok), 1)
    return jnp.max(rel), jnp.sum(rel) / cnt


def _pca_basis(x, k: int):
    xc = x - jnp.mean(x, 0)
    n, d = x.shape
    if d <= n:
        cov = jnp.matmul(xc.T, xc, precision=HIGHEST)
        vals, vecs = jnp.linalg.eigh(cov)
        V = vecs[:, ::-1][:, :k]
        total = jnp.sum(vals)
        kept = jnp.sum(vals[::-1][:k])
    else:
        _, svals, vt = jnp.linalg.svd(xc, full_matrices=False)
        V = vt[:k].T
        total = jnp.sum(svals**2)
        kept = jnp.sum(svals[:k] ** 2)
    return V, kept / jnp.where(total > 0, total, 1.0)


def project_tracks(
    tracks: Tracks,
    width: int,
    method: Literal["pca", "jl"] = "pca",
    *,
    key: PRNGKeyArray | None = None,
    num_pairs: int = 4096,
) -> tuple[Tracks, ProjectionReport]:
    """Project every layer wider than `width` linearly to `width` coordinates.

    A layer $x^l$ `(n, d_l)` with $d_l>k$ becomes $x^lP_l$ with $P_l$ `(d_l, k)`:

    - `"pca"`: the top-$k$ principal axes of the layer (orthonormal columns),
      the best rank-$k$ linear isometry on average; the variance kept is reported.
    - `"jl"`: a seeded Gaussian Johnson-Lindenstrauss map $G/\\sqrt k$,
      $G_{ab}\\sim N(0,1)$ (Dasgupta & Gupta 2003): no data-dependence, and
      with probability $\\ge1-1/n$ all pairwise distances move by at most the
      stated bound (see [`ProjectionReport`][]).

    Both are linear maps without per-layer translation, so the tracks stay
    comparable across layers. The distortion of pairwise distances is
    measured on `num_pairs` random pairs (the same pairs for every layer).

    **Arguments:**

    - `tracks`: [`Tracks`][] (of any widths).
    - `width`: the target width k >= 1.
    - `method`: `"pca"` or `"jl"`.
    - `key`: PRNG key; required for `"jl"`, optional for `"pca"` (pair sampling).
    - `num_pairs`: pairs measured for the distortion.

    **Returns:** `(projected_tracks, report)`, a [`Tracks`][] with widths
    $\\min(d_l,k)$ and a [`ProjectionReport`][].

    **Raises:** `ValueError` for a non-positive `width` or `num_pairs`, an
    unknown method, or `"jl"` without a `key`; `TypeError` if `tracks` is not
    a [`Tracks`][].
    """
    if not isinstance(tracks, Tracks):
        raise TypeError(f"`tracks` must be a Tracks; got {type(tracks).__name__}.")
    width = check_positive_int(width, "width")
    num_pairs = check_positive_int(num_pairs, "num_pairs")
    if method not in ("pca", "jl"):
        raise ValueError(f"`method` must be 'pca' or 'jl'; got {method!r}.")
    if method == "jl" and key is None:
        raise ValueError("`method='jl'` needs a PRNG `key` (the projection is random).")
    if key is None:
        key = jr.key(0)
    kpairs, kproj = jr.split(check_key(key))
    n = tracks.num_samples
    i, j = _pairs(kpairs, n, num_pairs)
    new, mx, mean, kept, bound = [], [], [], [], []
    for li, w in enumerate(tracks.widths):
        x = tracks.layer(li)
        if w <= width:
            new.append(x)
            mx.append(0.0)
            mean.append(0.0)
            kept.append(1.0)
            bound.append(0.0)
            continue
        if method == "pca":
            P, frac = _pca_basis(x, width)
            b = math.nan
        else:
            G = jr.normal(jr.fold_in(kproj, li), (w, width), dtype=x.dtype)
            P = G / math.sqrt(width)
            frac = None
            eps = jl_epsilon(n, width)
            b = 1 - math.sqrt(1 - eps) if eps < 1 else math.inf
        y = jnp.matmul(x, P.astype(x.dtype), precision=HIGHEST)
        if frac is None:
            tv = jnp.sum(jnp.var(x, 0))
            frac = jnp.sum(jnp.var(y, 0)) / jnp.where(tv > 0, tv, 1.0)
        a, m = _distortion(x, y, i, j)
        new.append(y)
        mx.append(a)
        mean.append(m)
        kept.append(frac)
        bound.append(b)
    dtype = tracks.points.dtype
    as_arr = lambda v: jnp.asarray([jnp.asarray(t, dtype) for t in v])  # noqa: E731
    out = Tracks(new, tracks.times)
    report = ProjectionReport(
        method=method,
        width=width,
        widths_before=tracks.widths,
        widths_after=out.widths,
        max_distortion=as_arr(mx),
        mean_distortion=as_arr(mean),
        retained_variance=as_arr(kept),
        bound=as_arr(bound),
        num_pairs=num_pairs,
    )
    return out, report
