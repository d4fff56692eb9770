"""The ridgelet transform $R[f;\\rho]$ and its dual $S[\\gamma]$, streamed over tiles.

Both are sums over the $n\\times J$ pairs (point $x_i$, hidden unit $(a_j,b_j)$)
of a profile evaluated at $a_j\\cdot x_i-b_j$. Neither ever holds the whole
$n\\times J$ matrix: the pairs are cut into tiles of at most `chunk_size`
entries, mapped over one side and scanned over the other, and each tile is
rematerialised in the backward pass (`jax.checkpoint`), so memory is
$O(n+J+\\text{chunk\\_size})$ for values and gradients alike.

Precision (see `flowrep/_width/_precision.py`): the pre-activation tiles
`[a, b]·[x, -1]` carry the folded bias and are always computed at
`Precision.HIGHEST`; the accumulation of a tile against the values, the
quadrature sum that is the answer, has the keyword `precision` (default
HIGHEST; `None` follows `jax.default_matmul_precision`). Tile sizes default
per backend (`flowrep/_device.py`).
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._custom_types import (
    Gamma,
    Profile,
    Values,
)
from .._device import device_default, DEVICE_DEFAULTS
from .._sharding import (
    finite_on_mesh,
    give_back,
    Layout,
    pad_rows,
    place,
    resolve_layout,
    ring,
    unpad_rows,
)
from .._validate import as_points, check_finite, check_positive_int, check_value
from ._precision import exact_matmul, HIGHEST


# The CPU default of `chunk_size` (pairs per tile: 16 MiB of float32); the
# transforms take theirs from `device_default` (flowrep/_device.py).
DEFAULT_CHUNK_SIZE = DEVICE_DEFAULTS["cpu"]["chunk_size"]


# `max_tile_cols`, the widest tile along the summed axis for wide features
# (default: `device_default("max_tile_cols")`, 4096 on a CPU). With whole rows
# of 1e5 columns every tile re-reads all J units (J x d floats) for a few
# dozen points; capping the width keeps a block of units in cache across many
# points. Narrow features fit in cache anyway, and there whole-row tiles are
# faster, so the cap applies from `_CAP_MIN_WIDTH` on (the width counts the
# folded bias column). Measurements: benchmarks/README.md.
_MAX_TILE_COLS = DEVICE_DEFAULTS["cpu"]["max_tile_cols"]
_CAP_MIN_WIDTH = 16


def _equal_blocks(total: int, most: int) -> int:
    """Size of the fewest equal blocks of at most `most` that cover `total`."""
    blocks = -(-total // most)
    return -(-total // blocks)


def _tiles(
    num_rows: int,
    num_cols: int,
    chunk_size: int,
    width: int = 1,
    max_cols: int = _MAX_TILE_COLS,
) -> tuple[int, int]:
    """Tile shape (rows, cols) with rows*cols <= chunk_size.

    Columns are kept whole, except that for `width >= _CAP_MIN_WIDTH` features
    sums wider than `max_cols` are split into equal blocks (padding
    wastes less than one column per block). Rows are split into equal blocks
    too, padding less than one row per block (plain `chunk_size // cols` rows
    can pad by almost a whole tile).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}.")
    if max_cols < 1:
        raise ValueError(f"max_tile_cols must be a positive integer, got {max_cols}.")
    cols = min(num_cols, max(1, chunk_size))
    if width >= _CAP_MIN_WIDTH and cols > max_cols:
        cols = min(cols, _equal_blocks(num_cols, max_cols))
    rows = _equal_blocks(num_rows, min(num_rows, max(1, chunk_size // cols)))
    return rows, cols


def _pad_rows(x: Array, multiple: int, fill_from_first: bool = True) -> Array:
    """Pad axis 0 to a multiple of `multiple` (with copies of row 0, so values stay finite)."""
    n = x.shape[0]
    pad = (-n) % multiple
    if pad == 0:
        return x
    if fill_from_first:
        filler = jnp.broadcast_to(x[:1], (pad,) + x.shape[1:])
    else:
        filler = jnp.zeros((pad,) + x.shape[1:], x.dtype)
    return jnp.concatenate([x, filler], axis=0)


def pair_sum(
    kernel: Callable[[Array, Array], Array],
    rows: Array,
    cols: Array,
    values: Array,
    chunk_size: int,
    precision: "jax.lax.Precision | None" = None,
    max_cols: int = _MAX_TILE_COLS,
) -> Array:
    """$\\mathrm{out}_p=\\sum_q K(\\mathrm{rows}_p,\\mathrm{cols}_q)\\,\\mathrm{values}_q$, streamed.

    `kernel(rows_tile (P, ...), cols_tile (Q, ...)) -> (P, Q)`; `values` is
    `(Q, k)`. Returns `(P, k)`. Padding columns carry zero values.
    `precision` is that of the accumulation `K @ values` (`None`: the default);
    `max_cols` caps the tiles' width as in `_tiles`.
    """
    num_rows, num_cols = rows.shape[0], cols.shape[0]
    width = math.prod(cols.shape[1:])
    tp, tq = _tiles(num_rows, num_cols, chunk_size, width, max_cols)
    rows_p = _pad_rows(rows, tp)
    cols_p = _pad_rows(cols, tq)
    values_p = _pad_rows(values, tq, fill_from_first=False)
    num_p, num_q = rows_p.shape[0] // tp, cols_p.shape[0] // tq
    rows_b = rows_p.reshape((num_p, tp) + rows.shape[1:])
    cols_b = cols_p.reshape((num_q, tq) + cols.shape[1:])
    values_b = values_p.reshape((num_q, tq) + values.shape[1:])
    out_dtype = jnp.result_type(values.dtype, kernel(rows[:1], cols[:1]).dtype)

    @jax.checkpoint
    def tile(rows_tile, cols_tile, values_tile):
        return jnp.matmul(
            kernel(rows_tile, cols_tile).astype(out_dtype),
            values_tile.astype(out_dtype),
            precision=precision,
        )

    def one_row_block(rows_tile):
        if num_q == 1:
            return tile(rows_tile, cols_b[0], values_b[0])

        def body(acc, xs):
            cols_tile, values_tile = xs
            return acc + tile(rows_tile, cols_tile, values_tile), None

        init = jnp.zeros((tp,) + values.shape[1:], out_dtype)
        acc, _ = lax.scan(body, init, (cols_b, values_b))
        return acc

    if num_p == 1:
        out = one_row_block(rows_b[0])
    else:
        out = lax.map(one_row_block, rows_b)
    return out.reshape((num_p * tp,) + values.shape[1:])[:num_rows]


def ring_pair_sum(
    kernel: Callable[[Array, Array], Array],
    rows: Array,
    cols: Array,
    values: Array,
    chunk_size: int,
    precision: "jax.lax.Precision | None",
    max_cols: int,
    layout: Layout,
) -> Array:
    """[`pair_sum`][] inside `shard_map`: this device's `rows` against every
    device's `cols`, the blocks of `(cols, values)` passed round the ring with
    `ppermute` ($D-1$ hops), the partial sums accumulated locally. Memory per
    device is two blocks of `cols` plus one tile; no device ever holds all
    of `cols`."""
    perm = ring(layout)

    def partial(c, v):
        return pair_sum(kernel, rows, c, v, chunk_size, precision, max_cols)

    acc = partial(cols, values)

    def hop(carry, _):
        acc, c, v = carry
        c = lax.ppermute(c, layout.axis, perm)
        v = lax.ppermute(v, layout.axis, perm)
        return (acc + partial(c, v), c, v), None

    (acc, _, _), _ = lax.scan(hop, (acc, cols, values), None, length=layout.size - 1)
    return acc


def sharded_pair_sum(
    kernel, rows, cols, values, chunk_size, precision, max_cols, layout
):
    """`pair_sum` over a mesh (under `jit`): `rows`, `cols` and `values` are
    padded to multiples of $D$ (padding `values` are zero, so padding pairs add
    nothing) and sharded by rows; the result is sharded like `rows`."""
    num_rows = rows.shape[0]
    spec = lambda t: jax.sharding.PartitionSpec(  # noqa: E731
        layout.axis, *([None] * (t.ndim - 1))
    )
    args = tuple(pad_rows(t, layout) for t in (rows, cols, values))
    fn = jax.shard_map(
        lambda r, c, v: ring_pair_sum(
            kernel, r, c, v, chunk_size, precision, max_cols, layout
        ),
        mesh=layout.mesh,
        in_specs=tuple(spec(t) for t in args),
        out_specs=spec(values),
        check_vma=False,
    )
    return unpad_rows(fn(*args), layout, num_rows)


def check_units(a: Array, b: Array, d: int) -> None:
    """Check hidden units: `a` of shape `(J, d)`, J >= 1, and `b` of shape `(J,)`."""
    if a.ndim != 2:
        raise ValueError(f"`a` must have shape (J, d); got shape {a.shape}.")
    if a.shape[0] == 0:
        raise ValueError("`a` is empty: need at least one hidden unit (J >= 1).")
    if a.shape[1] != d:
        raise ValueError(
            f"`a` has dimension {a.shape[1]} but the points have dimension d={d}; expected `a` of shape (J, {d})."
        )
    if b.shape != (a.shape[0],):
        raise ValueError(
            f"`b` must have shape (J,)=({a.shape[0]},) to match `a`; got {b.shape}."
        )


def _check_weights(w: Array, n: int, what: str, of: str) -> None:
    if w.shape != (n,):
        raise ValueError(
            f"`{what}` must have shape ({n},) (one weight per {of}); got {w.shape}."
        )


def _norm_weight(a: Array, s: float, power: float = 1.0) -> Array:
    if s == 0:
        return jnp.ones(a.shape[:1], a.dtype)
    return jnp.linalg.norm(a, axis=-1) ** (power * s)


def _check_zero_units(a: Array, s: float, power: float) -> Array:
    # A unit with a = 0 has no finite weight ||a||^(power * s) when that
    # exponent is negative (R with s < 0, S with s > 0).
    if power * s >= 0:
        return a
    return check_value(
        a,
        lambda v: jnp.any(jnp.all(v == 0, axis=-1)),
        f"`a` has a zero row: its weight ||a||^{power * s:g} (from `s`={s:g}) is "
        "infinite; drop the units with a = 0 or use s = 0.",
    )


def _fold_bias(a: Array, b: Array, x: Array) -> tuple[Array, Array]:
    """`[a, b]` and `[x, -1]`, so that one matrix product gives $a_j\\cdot x_i-b_j$.

    With the bias inside the product, a tile is a matrix product and the
    profile, nothing else: subtracting `b` after the product costs an extra
    pass over the tile, with `b` gathered from the scanned block inside the
    fused loop.
    """
    ab = jnp.concatenate([a, b[:, None]], axis=1)
    x1 = jnp.concatenate([x, -jnp.ones(x.shape[:1] + (1,), x.dtype)], axis=1)
    return ab, x1


def as_real_array(value, name: str, what: str = "an array") -> Array:
    """`value` as a real numeric array; a `TypeError` naming `name` otherwise
    (strings, objects, bools and complex numbers are refused)."""
    try:
        arr = jnp.asarray(value)
    except TypeError as e:
        raise TypeError(
            f"`{name}` must be {what} of numbers; got {type(value).__name__}."
        ) from e
    if jnp.issubdtype(arr.dtype, jnp.bool_) or not jnp.issubdtype(
        arr.dtype, jnp.number
    ):
        raise TypeError(f"`{name}` must hold numbers; got dtype {arr.dtype}.")
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise TypeError(f"`{name}` must be real; got dtype {arr.dtype}.")
    return arr


def check_profile_callable(profile, name: str) -> None:
    """A profile (activation or ridgelet) must be callable elementwise."""
    if not callable(profile):
        raise TypeError(
            f"`{name}` must be a profile callable elementwise (an activation, a "
            f"ridgelet profile or a function); got {type(profile).__name__}."
        )


def check_exponent(s) -> float:
    """ACHA's weight exponent `s`: a finite real Python number."""
    if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)):
        raise TypeError(f"`s` must be a finite real number; got {s!r}.")
    if not math.isfinite(float(s)):
        raise ValueError(f"`s` must be a finite real number; got {s!r}.")
    return float(s)


def _check_sizes(chunk_size, max_tile_cols) -> None:
    for value, name in ((chunk_size, "chunk_size"), (max_tile_cols, "max_tile_cols")):
        if value is None:
            continue
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if value < 1:
                raise ValueError(
                    f"{name} must be a positive integer (`{name}` >= 1), got {value}."
                )
        check_positive_int(value, name)


def _float_dtype(*arrays):
    # Python `float` is weakly typed: float32 inputs stay float32.
    return jnp.result_type(*arrays, float)


def ridgelet_transform(
    f: Callable[[Array], Array] | ArrayLike,
    rho: Profile,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    *,
    s: float = 0.0,
    chunk_size: int | None = None,
    max_tile_cols: int | None = None,
    precision: jax.lax.Precision | None = HIGHEST,
    mesh: jax.sharding.Mesh | None = None,
) -> Gamma:
    """Ridgelet transform on nodes: $R[f;\\rho](a_j,b_j)\\approx\\|a_j\\|^s\\sum_iw_if(x_i)\\overline{\\rho(a_j\\cdot x_i-b_j)}$.

    Ghosts Def. 3 (docs/theory/ridgelets.md#ridgelet-transform) with quadrature or importance
    weights `w` over the points `x`. ACHA's weight $\\|a\\|^s$ is the option `s`.
    The sum runs in one compiled call (`eqx.filter_jit`); the function itself
    may be called under `jit`, `vmap` and `grad`.

    **Arguments:**

    - `f`: a callable taking one point `(d,)` to a scalar or a vector `(k,)`, or
        the values `f(x_i)` as an array `(n,)` or `(n, k)`.
    - `rho`: the ridgelet profile, elementwise (a `GaussianDerivative`, any
        activation-like module, or a plain function).
    - `a`: `(J, d)` scales; `b`: `(J,)` biases of the hidden units.
    - `x`: `(n, d)` nodes; `w`: `(n,)` their weights.
    - `s`: the exponent of ACHA's $\\|a\\|^s$ weight (default 0).
    - `chunk_size`: at most this many pairs are held at once (default: per
        backend, `flowrep/_device.py`; $2^{22}$ on a CPU).
    - `max_tile_cols`: the widest tile along the summed axis for points of
        dimension 15 or more (default: per backend; 4096 on a CPU).
    - `precision`: of the accumulation $\\sum_i\\rho(\\cdot)w_if(x_i)$. The
        default `Precision.HIGHEST` keeps the quadrature at float32 accuracy
        on GPU/TPU (under emulated TF32 the default precision leaves errors
        of ~4e-5 of $\\max|R|$ on a Gaussian bump, HIGHEST ~1e-7); `None`
        follows `jax.default_matmul_precision`. The pre-activations, which
        carry the folded bias, are always computed at HIGHEST.
    - `mesh`: run over this `jax.sharding.Mesh` (default: the mesh of any
        input sharded with a `NamedSharding`; see `flowrep/_sharding.py` for
        the data-axis rule). Points and units are both sharded over the data
        axis; each device sums its units against every block of points,
        passed round the devices with `ppermute`, so memory per device is
        $O((n+J)/D+\\text{chunk\\_size})$. README, "Scaling out".

    **Returns:** $\\gamma_j=R[f;\\rho](a_j,b_j)$, `(J,)` or `(J, k)`; over a
    mesh, sharded by units (replicated when $J$ is not a multiple of $D$).

    **Raises:** `ValueError` on mismatched shapes, empty inputs, or NaN/inf in
    a concrete input (the message names it); under `jit`/`vmap`/`grad`, and
    for NaN/inf values returned by a callable `f`, an `eqx.EquinoxRuntimeError`
    when the computation runs.
    """
    check_profile_callable(rho, "rho")
    s = check_exponent(s)
    _check_sizes(chunk_size, max_tile_cols)
    x = as_real_array(x, "x", "a point cloud (n, d)")
    a = as_real_array(a, "a", "an array (J, d)")
    b = as_real_array(b, "b", "an array (J,)")
    w = as_real_array(w, "w", "an array (n,)")
    # Checked as a point cloud but kept in its own dtype: the transform
    # promotes it together with the units'.
    as_points(x, "x", finite=False)
    n, d = x.shape
    check_units(a, b, d)
    _check_weights(w, n, "w", "point x_i")
    if not callable(f):
        try:
            fx = jnp.asarray(f)
        except TypeError as e:
            raise TypeError(
                "`f` must be a callable on one point or its values (n,) or (n, k); "
                f"got {type(f).__name__}."
            ) from e
        if not jnp.issubdtype(fx.dtype, jnp.number) or jnp.issubdtype(
            fx.dtype, jnp.bool_
        ):
            raise TypeError(f"`f` values must hold numbers; got dtype {fx.dtype}.")
        if fx.ndim not in (1, 2) or fx.shape[0] != n:
            raise ValueError(
                f"`f` given as values must have shape (n,) or (n, k) with n={n}; got {fx.shape}."
            )
    layout = resolve_layout(mesh, x, a, b, w, None if callable(f) else f)
    check = check_finite if layout is None else finite_on_mesh
    if not callable(f):
        f = check(jnp.asarray(f), "f(x)")
    x = check(x, "x")
    a = _check_zero_units(check(a, "a"), s, 1.0)
    b = check(b, "b")
    w = check(w, "w")
    if layout is not None:
        x, a, b, w = (place(t, layout) for t in (x, a, b, w))
        if not callable(f):
            f = place(jnp.asarray(f), layout)
    out = _ridgelet_transform(
        f,  # pyright: ignore[reportArgumentType]
        rho,
        a,
        b,
        x,
        w,
        s=s,
        chunk_size=device_default("chunk_size", chunk_size),
        max_cols=device_default("max_tile_cols", max_tile_cols),
        precision=precision,
        layout=layout,
    )
    return out if layout is None else give_back(out, layout)


@eqx.filter_jit
def _ridgelet_transform(
    f: Callable[[Array], Array] | Array,
    rho,
    a,
    b,
    x,
    w,
    *,
    s,
    chunk_size,
    max_cols,
    precision,
    layout=None,
):
    n = x.shape[0]
    dtype = _float_dtype(x, a, b, w)
    x, a, b, w = (t.astype(dtype) for t in (x, a, b, w))
    if callable(f):
        fx: Array = jax.vmap(f)(x)
        if fx.ndim not in (1, 2):
            raise ValueError(
                f"`f` must return a scalar or a vector (k,) per point; got values of shape {fx.shape}."
            )
        if layout is None:
            fx = check_finite(fx, "f(x)")  # traced here: checked when it runs
        else:
            # Guard a scalar, not the sharded values: `eqx.error_if` on a
            # whole array places it on one device.
            bad = jnp.where(jnp.all(jnp.isfinite(fx)), 0.0, jnp.nan).astype(fx.dtype)
            fx = fx + check_finite(bad, "f(x)")
    else:
        fx = f
    scalar = fx.ndim == 1
    values = (w[:, None] * fx.reshape(n, -1)).astype(jnp.result_type(fx, dtype))
    ab, x1 = _fold_bias(a, b, x)

    def kernel(ab_tile, x_tile):
        r = rho(exact_matmul(ab_tile, x_tile.T))  # folded bias: HIGHEST
        return jnp.conj(r) if jnp.iscomplexobj(r) else r

    if layout is None:
        out = pair_sum(kernel, ab, x1, values, chunk_size, precision, max_cols)
    else:
        out = sharded_pair_sum(
            kernel, ab, x1, values, chunk_size, precision, max_cols, layout
        )
    out = out * _norm_weight(a, s)[:, None]
    return out[:, 0] if scalar else out


def dual_ridgelet_transform(
    gamma: ArrayLike,
    sigma: Profile,
    a: ArrayLike,
    b: ArrayLike,
    w: ArrayLike | None,
    x: ArrayLike,
    *,
    s: float = 0.0,
    chunk_size: int | None = None,
    max_tile_cols: int | None = None,
    precision: jax.lax.Precision | None = HIGHEST,
    mesh: jax.sharding.Mesh | None = None,
) -> Values:
    """Dual ridgelet transform (integral representation) on nodes.

    $S[\\gamma](x_i)\\approx\\sum_jw_j\\gamma_j\\|a_j\\|^{-s}\\sigma(a_j\\cdot x_i-b_j)$
    (Ghosts Def. 1, docs/theory/ridgelets.md#ridgelet-transform). With `w = None` (all ones) this is
    the finite network $\\sum_jc_j\\sigma(a_j\\cdot x-b_j)$ with $c=\\gamma$.
    The sum runs in one compiled call (`eqx.filter_jit`).

    **Arguments:**

    - `gamma`: `(J,)` or `(J, k)` values of the parameter distribution.
    - `sigma`: the activation, elementwise.
    - `a`: `(J, d)`; `b`: `(J,)`; `w`: `(J,)` quadrature/importance weights or `None`.
    - `x`: `(n, d)` evaluation points.
    - `s`, `chunk_size`, `max_tile_cols`, `precision`: as in
        `ridgelet_transform` (`precision` of the sum over units).
    - `mesh`: as in `ridgelet_transform`; here each device sums its points
        against every block of units passed round the ring.

    **Returns:** `(n,)` or `(n, k)`; over a mesh, sharded by points
    (replicated when $n$ is not a multiple of $D$).

    **Raises:** `ValueError` on mismatched shapes, empty inputs, or NaN/inf in
    a concrete input (the message names it); under `jit`/`vmap`/`grad`, an
    `eqx.EquinoxRuntimeError` when the computation runs.
    """
    check_profile_callable(sigma, "sigma")
    s = check_exponent(s)
    _check_sizes(chunk_size, max_tile_cols)
    x = as_real_array(x, "x", "a point cloud (n, d)")
    a = as_real_array(a, "a", "an array (J, d)")
    b = as_real_array(b, "b", "an array (J,)")
    try:
        gamma = jnp.asarray(gamma)
    except TypeError as e:
        raise TypeError(
            f"`gamma` must be an array (J,) or (J, k); got {type(gamma).__name__}."
        ) from e
    if not jnp.issubdtype(gamma.dtype, jnp.number) or jnp.issubdtype(
        gamma.dtype, jnp.bool_
    ):
        raise TypeError(f"`gamma` must hold numbers; got dtype {gamma.dtype}.")
    as_points(x, "x", finite=False)  # kept in its own dtype, as above
    _, d = x.shape
    check_units(a, b, d)
    num_units = a.shape[0]
    if gamma.ndim not in (1, 2) or gamma.shape[0] != num_units:
        raise ValueError(
            f"`gamma` must have shape (J,) or (J, k) with J={num_units}; got {gamma.shape}."
        )
    w = (
        jnp.ones((num_units,), x.dtype)
        if w is None
        else as_real_array(w, "w", "an array (J,)")
    )
    _check_weights(w, num_units, "w", "hidden unit (a_j, b_j)")
    layout = resolve_layout(mesh, x, gamma, a, b, w)
    check = check_finite if layout is None else finite_on_mesh
    x = check(x, "x")
    a = _check_zero_units(check(a, "a"), s, -1.0)
    b = check(b, "b")
    w = check(w, "w")
    gamma = check(gamma, "gamma")
    if layout is not None:
        gamma, a, b, w, x = (place(t, layout) for t in (gamma, a, b, w, x))
    out = _dual_ridgelet_transform(
        gamma,
        sigma,
        a,
        b,
        w,
        x,
        s=s,
        chunk_size=device_default("chunk_size", chunk_size),
        max_cols=device_default("max_tile_cols", max_tile_cols),
        precision=precision,
        layout=layout,
    )
    return out if layout is None else give_back(out, layout)


@eqx.filter_jit
def _dual_ridgelet_transform(
    gamma, sigma, a, b, w, x, *, s, chunk_size, max_cols, precision, layout=None
):
    num_units = a.shape[0]
    dtype = _float_dtype(x, a, b, w)
    x, a, b, w = (t.astype(dtype) for t in (x, a, b, w))
    scalar = gamma.ndim == 1
    coeff = w * _norm_weight(a, s, -1.0) if s != 0 else w
    values = (coeff[:, None] * gamma.reshape(num_units, -1)).astype(
        jnp.result_type(gamma, dtype)
    )
    ab, x1 = _fold_bias(a, b, x)

    def kernel(x_tile, ab_tile):
        return sigma(exact_matmul(x_tile, ab_tile.T))  # folded bias: HIGHEST

    if layout is None:
        out = pair_sum(kernel, x1, ab, values, chunk_size, precision, max_cols)
    else:
        out = sharded_pair_sum(
            kernel, x1, ab, values, chunk_size, precision, max_cols, layout
        )
    return out[:, 0] if scalar else out
