"""Wasserstein-2 distances and optimal-transport maps between point clouds.

Three estimators of $W_2^2(\\mu,\\nu)$ from samples (THEORY.md section 4):

- **exact**: for $n$ vs $n$ equal-weight samples the optimal plan is a
  permutation; it is found by the Hungarian algorithm of ott-jax
  (`ott.tools.unreg.hungarian`, implemented in JAX by optax).
- **sinkhorn**: the debiased Sinkhorn divergence
  $S_\\varepsilon=\\mathrm{OT}_\\varepsilon(\\mu,\\nu)-\\frac12\\mathrm{OT}_\\varepsilon(\\mu,\\mu)
  -\\frac12\\mathrm{OT}_\\varepsilon(\\nu,\\nu)$ (Feydy et al. 2019), solved in
  JAX either on a dense absorbed kernel (when it fits in memory) or online in
  log-domain chunks so that memory is $O((n+m)d + \\text{chunk}\\cdot m)$.
- **gaussian**: the Bures-Wasserstein closed form of fitted Gaussians.
"""

from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._custom_types import FloatScalar, Points
from .._validate import _check_finite, _is_traced


_Method = Literal["auto", "exact", "sinkhorn", "gaussian"]
_Mode = Literal["auto", "dense", "online"]


# ----------------------------------------------------------------- validation


def _as_cloud(x: ArrayLike, name: str) -> Array:
    """Check a point cloud's static shape and (when concrete) its values."""
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"`{name}` must be a point cloud of shape (n, d); got shape {x.shape}."
        )
    if x.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 samples; got {x.shape[0]}.")
    if x.shape[1] < 1:
        raise ValueError(f"`{name}` must have dimension d >= 1; got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return _check_finite(x, name)


def _as_pair(x: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            "`x` and `y` must live in the same dimension; got "
            f"x of shape {x.shape} and y of shape {y.shape}."
        )
    dtype = jnp.result_type(x.dtype, y.dtype)
    return x.astype(dtype), y.astype(dtype)


def mean_cost(x: Points, y: Points) -> FloatScalar:
    """Mean squared distance $\\frac{1}{nm}\\sum_{ij}\\|x_i-y_j\\|^2$ in $O((n+m)d)$."""
    return (
        jnp.mean(jnp.sum(x**2, -1))
        + jnp.mean(jnp.sum(y**2, -1))
        - 2 * jnp.dot(jnp.mean(x, 0), jnp.mean(y, 0))
    )


# ------------------------------------------------------------ Gaussian forms


def _sqrtm_psd(S: Array) -> Array:
    w, V = jnp.linalg.eigh(S)
    return (V * jnp.sqrt(jnp.clip(w, 0.0))) @ V.T


def _inv_sqrtm_pd(S: Array) -> Array:
    w, V = jnp.linalg.eigh(S)
    return (V / jnp.sqrt(w)) @ V.T


def gaussian_fit(x: Points) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
    """Sample mean and (biased, $1/n$) covariance of a cloud.

    **Arguments:**

    - `x`: points, shape `(n, d)`.

    **Returns:** `(mean, cov)` of shapes `(d,)` and `(d, d)`.
    """
    x = _as_cloud(x, "x")
    m = jnp.mean(x, 0)
    xc = x - m
    return m, xc.T @ xc / x.shape[0]


def gaussian_w2(
    m1: ArrayLike, S1: ArrayLike, m2: ArrayLike, S2: ArrayLike
) -> FloatScalar:
    """Squared Wasserstein-2 distance between two Gaussians (Bures form).

    $W_2^2=\\|m_1-m_2\\|^2+\\mathrm{tr}(\\Sigma_1+\\Sigma_2
    -2(\\Sigma_2^{1/2}\\Sigma_1\\Sigma_2^{1/2})^{1/2})$ (THEORY.md section 4;
    Dowson & Landau 1982, Givens & Shortt 1984).

    **Arguments:**

    - `m1`, `m2`: means, shape `(d,)`.
    - `S1`, `S2`: positive semi-definite covariances, shape `(d, d)`.

    **Returns:** $W_2^2$ as a scalar (not its square root).

    **Raises:** `ValueError` on inconsistent shapes.
    """
    return _gaussian_w2(*_check_gaussians(m1, S1, m2, S2))


@jax.jit
def _gaussian_w2(m1, S1, m2, S2):
    r2 = _sqrtm_psd(S2)
    cross = _sqrtm_psd(r2 @ S1 @ r2)
    val = jnp.sum((m1 - m2) ** 2) + jnp.trace(S1) + jnp.trace(S2) - 2 * jnp.trace(cross)
    return jnp.maximum(val, 0.0)


def _check_gaussians(m1, S1, m2, S2):
    m1, S1, m2, S2 = (jnp.asarray(a) for a in (m1, S1, m2, S2))
    dtype = jnp.result_type(m1, S1, m2, S2, float)
    m1, S1, m2, S2 = (a.astype(dtype) for a in (m1, S1, m2, S2))
    d = m1.shape[-1] if m1.ndim == 1 else -1
    for name, m, S in (("1", m1, S1), ("2", m2, S2)):
        if m.ndim != 1 or S.shape != (m.shape[0], m.shape[0]):
            raise ValueError(
                f"Gaussian {name} needs a mean of shape (d,) and a covariance of "
                f"shape (d, d); got {m.shape} and {S.shape}."
            )
        if m.shape[0] != d:
            raise ValueError(
                f"both Gaussians must have the same dimension; got {m1.shape[0]} "
                f"and {m2.shape[0]}."
            )
    return m1, S1, m2, S2


class AffineMap(eqx.Module):
    """The affine map $x\\mapsto Ax+c$; `__call__` takes one sample `(d,)`."""

    matrix: Float[Array, "d d"]
    shift: Float[Array, " d"]

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " d"]:
        return self.matrix @ x + self.shift


def gaussian_ot_map(
    m1: ArrayLike, S1: ArrayLike, m2: ArrayLike, S2: ArrayLike
) -> AffineMap:
    """Optimal transport map between two Gaussians (THEORY.md section 4).

    $T(x)=m_2+A(x-m_1)$ with
    $A=\\Sigma_1^{-1/2}(\\Sigma_1^{1/2}\\Sigma_2\\Sigma_1^{1/2})^{1/2}\\Sigma_1^{-1/2}$,
    the unique symmetric positive semi-definite $A$ with $A\\Sigma_1A=\\Sigma_2$.

    **Arguments:**

    - `m1`, `S1`: source mean `(d,)` and positive-definite covariance `(d, d)`.
    - `m2`, `S2`: target mean and covariance.

    **Returns:** an [`AffineMap`][] with `matrix` $A$ and `shift` $m_2-Am_1$.

    **Raises:** `ValueError` on inconsistent shapes.
    """
    return _gaussian_ot_map(*_check_gaussians(m1, S1, m2, S2))


@jax.jit
def _gaussian_ot_map(m1, S1, m2, S2):
    r1 = _sqrtm_psd(S1)
    ir1 = _inv_sqrtm_pd(S1)
    A = ir1 @ _sqrtm_psd(r1 @ S2 @ r1) @ ir1
    A = (A + A.T) / 2
    return AffineMap(A, m2 - A @ m1)


# -------------------------------------------------------------------- exact


def exact_assignment(x: Points, y: Points) -> Int[Array, " n"]:
    """Optimal assignment $\\sigma$ minimising $\\frac1n\\sum_i\\|x_i-y_{\\sigma(i)}\\|^2$.

    Hungarian algorithm from ott-jax (`ott.tools.unreg.hungarian`, O(n^3),
    dense n x n cost: use it for n up to a few thousand).

    **Arguments:**

    - `x`, `y`: clouds of the same shape `(n, d)`.

    **Returns:** integer array `perm` of shape `(n,)`: $x_i$ is sent to `y[perm[i]]`.

    **Raises:** `ValueError` for different sizes or dimensions, fewer than 2
    samples, NaN or inf.
    """
    x, y = _as_pair(x, y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            "the exact (assignment) solver needs clouds of equal size; got "
            f"{x.shape[0]} and {y.shape[0]} points. Use method='sinkhorn'."
        )
    return _hungarian(x, y)


@eqx.filter_jit
def _hungarian(x: Array, y: Array) -> Array:
    from ott.geometry import pointcloud
    from ott.tools import unreg

    _, out = unreg.hungarian(pointcloud.PointCloud(x, y))
    i, j = out.paired_indices
    return jnp.zeros(x.shape[0], dtype=j.dtype).at[i].set(j)


def assignment_map(x: Points, y: Points) -> Points:
    """Exact OT map on the samples: row i is the image `y[perm[i]]` of `x[i]`.

    See [`exact_assignment`][]; same arguments and errors.
    """
    x, y = _as_pair(x, y)
    return y[exact_assignment(x, y)]


# ----------------------------------------------------------------- Sinkhorn


class SinkhornResult(eqx.Module):
    """Output of [`sinkhorn`][]: entropic OT between uniform clouds.

    - `f`, `g`: dual potentials, shapes `(n,)` and `(m,)`, for the cost
      $\\|x-y\\|^2$; the plan is $P_{ij}=\\frac{1}{nm}e^{(f_i+g_j-C_{ij})/\\varepsilon}$.
    - `reg_ot_cost`: the dual value $\\langle f,a\\rangle+\\langle g,b\\rangle$.
    - `error`: marginal error $\\|P^\\top 1-b\\|_p$ at the last check.
    - `n_iterations`, `converged`, `epsilon`.
    """

    f: Float[Array, " n"]
    g: Float[Array, " m"]
    reg_ot_cost: FloatScalar
    error: FloatScalar
    n_iterations: Int[Array, ""]
    converged: Bool[Array, ""]
    epsilon: FloatScalar


# Pairs per tile of the streamed log-sum-exp: 2**19 float32 values (2 MiB)
# stay in cache, which on CPU is ~1.3-1.9x faster than whole-row chunks.
_TILE_PAIRS = 2**19


def _lse_rows(F, X, Y, eps, chunk):
    """For each row $x_i$ of `X`:
    $\\varepsilon\\,\\mathrm{lse}_j((F_j+2x_i\\cdot y_j)/\\varepsilon)$ over the rows
    $y_j$ of `Y`, streamed over tiles of `chunk` rows x `_TILE_PAIRS // chunk`
    columns with a running (max, sum) pair, as in streaming softmax. Memory is
    O(tile) on top of the inputs and the output."""
    n, d = X.shape
    m = Y.shape[0]
    cols = max(1, min(m, _TILE_PAIRS // chunk))
    nb = -(-m // cols)
    pad = nb * cols - m
    Yb = jnp.concatenate([Y, jnp.zeros((pad, d), Y.dtype)]).reshape(nb, cols, d)
    Fb = jnp.concatenate([F, jnp.full((pad,), -jnp.inf, F.dtype)]).reshape(nb, cols)

    def rows(xb):
        def tile(carry, block):
            mx, acc = carry
            yb, fb = block
            z = (fb[None, :] + 2 * (xb @ yb.T)) / eps
            new = jnp.maximum(mx, jnp.max(z, 1))
            acc = acc * jnp.exp(mx - new) + jnp.sum(jnp.exp(z - new[:, None]), 1)
            return (new, acc), None

        init = (
            jnp.full(xb.shape[0], -jnp.inf, X.dtype),
            jnp.zeros(xb.shape[0], X.dtype),
        )
        (mx, acc), _ = jax.lax.scan(tile, init, (Yb, Fb))
        return eps * (mx + jnp.log(acc))

    rows_per = min(chunk, n)
    nr = -(-n // rows_per)
    Xb = jnp.concatenate([X, jnp.zeros((nr * rows_per - n, d), X.dtype)])
    out = jax.lax.map(rows, Xb.reshape(nr, rows_per, d))
    return out.reshape(-1)[:n]


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


class _Options(NamedTuple):
    """Static solver options shared by every Sinkhorn entry point."""

    threshold: float
    norm: int
    max_iterations: int
    inner: int
    omega: float | str
    chunk: int


# Adaptive over-relaxation (Lehmann et al. 2021, eq. 5): run plain Sinkhorn,
# measure the linear rate r of the marginal error between two checkpoints and
# switch to omega = 2 / (1 + sqrt(1 - r)).
_ADAPTIVE_WINDOW = 10
_ADAPTIVE_MAX_RATE = 0.99


def _lehmann_checkpoints(inner: int) -> tuple[int, int]:
    k = -(-_ADAPTIVE_WINDOW // inner) * inner
    return k, 2 * k


def _iterate(step, error_of, state, opts: _Options, dtype):
    """The Sinkhorn loop shared by all solvers.

    `step(state, omega)` is one (over-relaxed) iteration; `error_of(state)`
    returns `(marginal error, bad flag)` from quantities the state already
    carries, so checking costs no extra kernel pass and is done every
    `opts.inner` iterations. Returns `(state, iterations, error, bad)`.
    """
    adaptive = opts.omega == "adaptive"
    omega0 = jnp.asarray(1.0 if adaptive else opts.omega, dtype)
    k_a, k_b = _lehmann_checkpoints(opts.inner)

    def cond(c):
        _, it, err, bad, _, _ = c
        return (it < opts.max_iterations) & (err > opts.threshold) & ~bad

    def body(c):
        state, it, _, _, omega, err_a = c
        state = jax.lax.fori_loop(0, opts.inner, lambda _, s: step(s, omega), state)
        it = it + opts.inner
        err, bad = error_of(state)
        if adaptive:
            err_a = jnp.where(it == k_a, err, err_a)
            rate = (err / err_a) ** (1.0 / (k_b - k_a))
            rate = jnp.where(jnp.isfinite(rate), rate, 0.0)
            rate = jnp.clip(rate, 0.0, _ADAPTIVE_MAX_RATE)
            omega = jnp.where(it == k_b, 2.0 / (1.0 + jnp.sqrt(1.0 - rate)), omega)
        return state, it, err, bad, omega, err_a

    inf = jnp.array(jnp.inf, dtype)
    init = (state, jnp.array(0), inf, jnp.array(False), omega0, inf)
    state, it, err, bad, _, _ = jax.lax.while_loop(cond, body, init)
    return state, it, err, bad


def _solve_dense(x, y, eps, p, q, opts: _Options):
    """Absorbed-kernel Sinkhorn in scaling form on a dense n x m kernel.

    $K_{ij}=\\exp((p_i+q_j+2x_i\\cdot y_j)/\\varepsilon)\\le1$ is built once;
    the scalings are kept as logs and renormalised by their max before each
    matrix-vector product, so nothing overflows (Schmitzer 2019, absorption).
    Each iteration is two matrix-vector products; the column marginal of the
    current plan falls out of the second one, so the error check is free.
    Returns the log-potentials (du, dv), iterations, error and an underflow flag.
    """
    n, m = x.shape[0], y.shape[0]
    dtype = x.dtype
    K = jnp.exp(jnp.minimum((p[:, None] + q[None, :] + 2 * (x @ y.T)) / eps, 0.0))
    log_a = -jnp.log(jnp.asarray(n, dtype))
    log_b = -jnp.log(jnp.asarray(m, dtype))
    tiny = jnp.finfo(dtype).tiny

    def col(lu):
        cu = jnp.max(lu)
        s = jnp.exp(lu - cu) @ K
        return cu + jnp.log(jnp.maximum(s, tiny)), jnp.any(s <= 0)

    def row(lv):
        cv = jnp.max(lv)
        s = K @ jnp.exp(lv - cv)
        return cv + jnp.log(jnp.maximum(s, tiny)), jnp.any(s <= 0)

    def step(s, omega):
        lu, lv, lKu, bad = s
        lv = (1 - omega) * lv + omega * (log_b - lKu)
        lKv, bad_row = row(lv)
        lu = (1 - omega) * lu + omega * (log_a - lKv)
        lKu, bad_col = col(lu)
        return lu, lv, lKu, bad | bad_row | bad_col

    def error_of(s):
        _, lv, lKu, bad = s
        return jnp.linalg.norm(jnp.exp(lv + lKu) - jnp.exp(log_b), ord=opts.norm), bad

    lu = jnp.zeros(n, dtype)
    lKu, bad = col(lu)
    state = (lu, jnp.zeros(m, dtype), lKu, bad)
    (lu, lv, _, _), it, err, bad = _iterate(step, error_of, state, opts, dtype)
    return eps * lu, eps * lv, it, err, bad


def _solve_online(x, y, eps, p, q, opts: _Options):
    """Log-domain Sinkhorn with the cost streamed in row chunks: O((n+m)d) memory.

    Potentials are kept in the reduced form $F=f-\\|x\\|^2$, $G=g-\\|y\\|^2$, so
    $f_i+g_j-C_{ij}=F_i+G_j+2x_i\\cdot y_j$. Two streamed passes per iteration;
    the error check reuses the second.
    """
    n, m = x.shape[0], y.shape[0]
    dtype = x.dtype
    log_a = -jnp.log(jnp.asarray(n, dtype))
    log_b = -jnp.log(jnp.asarray(m, dtype))

    def step(s, omega):
        F, G, LF = s
        G = (1 - omega) * G + omega * (eps * log_b - LF)
        F = (1 - omega) * F + omega * (
            eps * log_a - _lse_rows(G, x, y, eps, opts.chunk)
        )
        return F, G, _lse_rows(F, y, x, eps, opts.chunk)

    def error_of(s):
        _, G, LF = s
        marg = jnp.exp((G + LF) / eps)
        return jnp.linalg.norm(marg - jnp.exp(log_b), ord=opts.norm), jnp.array(False)

    state = (p, q, _lse_rows(p, y, x, eps, opts.chunk))
    (F, G, _), it, err, bad = _iterate(step, error_of, state, opts, dtype)
    return F - p, G - q, it, err, bad


def _resolve_mode(mode: str, n: int, m: int, dense_limit: int) -> str:
    if mode == "auto":
        return "dense" if n * m <= dense_limit else "online"
    if mode not in ("dense", "online"):
        raise ValueError(f"`mode` must be 'auto', 'dense' or 'online'; got {mode!r}.")
    return mode


@eqx.filter_jit
def _sinkhorn_impl(x, y, epsilon, *, mode, init, opts: _Options):
    dtype = x.dtype
    eps = jnp.asarray(epsilon, dtype)
    if init == "gaussian":
        p, q = _gauss_init(x, y)
    else:
        p, q = -jnp.sum(x**2, -1), -jnp.sum(y**2, -1)
    if mode == "dense":
        du, dv, it, err, bad = _solve_dense(x, y, eps, p, q, opts)

        # Underflow of a whole kernel row (far outliers, tiny epsilon): redo
        # the solve in the log domain, which cannot underflow.
        def fallback(_):
            return _solve_online(x, y, eps, p, q, opts)

        du, dv, it, err, bad = jax.lax.cond(
            bad, fallback, lambda _: (du, dv, it, err, bad), None
        )
    else:
        du, dv, it, err, bad = _solve_online(x, y, eps, p, q, opts)
    # Convert raw potentials (P = exp((f+g-C)/eps)) to the KL(P | a x b)
    # convention P = a_i b_j exp((f+g-C)/eps), where OT_eps = <f,a> + <g,b>.
    f = p + jnp.sum(x**2, -1) + du + eps * jnp.log(jnp.asarray(x.shape[0], dtype))
    g = q + jnp.sum(y**2, -1) + dv + eps * jnp.log(jnp.asarray(y.shape[0], dtype))
    cost = jnp.mean(f) + jnp.mean(g)
    converged = (err <= opts.threshold) & jnp.isfinite(cost)
    return SinkhornResult(f, g, cost, err, it, converged, eps)


def _default_epsilon(x, y, epsilon, relative_epsilon):
    if epsilon is None:
        return relative_epsilon * mean_cost(x, y)
    eps = jnp.asarray(epsilon)
    if not _is_traced(eps) and not float(eps) > 0:
        raise ValueError(f"`epsilon` must be positive; got {epsilon}.")
    return eps


def _options(
    threshold, norm_error, max_iterations, inner_iterations, over_relaxation, chunk
) -> _Options:
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
    return _Options(
        float(threshold),
        int(norm_error),
        int(max_iterations),
        int(inner_iterations),
        omega,
        int(chunk),
    )


def _check_init(init):
    if init not in ("gaussian", "zero"):
        raise ValueError(f"`init` must be 'gaussian' or 'zero'; got {init!r}.")


def sinkhorn(
    x: Points,
    y: Points,
    *,
    epsilon: float | None = None,
    relative_epsilon: float = 0.01,
    threshold: float = 1e-3,
    norm_error: int = 1,
    max_iterations: int = 2000,
    inner_iterations: int = 1,
    over_relaxation: float | Literal["adaptive"] = "adaptive",
    init: Literal["gaussian", "zero"] = "gaussian",
    mode: _Mode = "auto",
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
    x, y = _as_pair(x, y)
    eps = _default_epsilon(x, y, epsilon, relative_epsilon)
    opts = _options(
        threshold,
        norm_error,
        max_iterations,
        inner_iterations,
        over_relaxation,
        chunk_size,
    )
    _check_init(init)
    resolved = _resolve_mode(mode, x.shape[0], y.shape[0], dense_limit)
    out = _sinkhorn_impl(x, y, eps, mode=resolved, init=init, opts=opts)
    if throw:
        out = _throw_if_not_converged(out, max_iterations)
    return out


def _throw_if_not_converged(out, max_iterations):
    return eqx.error_if(
        out,
        ~jnp.all(jnp.asarray(out.converged)),
        f"Sinkhorn did not converge within max_iterations={max_iterations}; "
        "increase it, or epsilon, or the threshold.",
    )


# ------------------------------------------------------ symmetric & divergence


def _solve_symmetric(x, eps, *, mode, opts: _Options):
    """$\\mathrm{OT}_\\varepsilon(\\mu,\\mu)$ by the averaged symmetric update
    $f\\leftarrow\\frac12(f+T(f))$ (Feydy et al. 2019), which converges fast."""
    n = x.shape[0]
    dtype = x.dtype
    log_a = -jnp.log(jnp.asarray(n, dtype))
    sq = jnp.sum(x**2, -1)
    # Potentials in the raw convention P_ij = exp((f_i + f_j - C_ij)/eps);
    # lK(f)_i = eps log sum_j exp((f_j - C_ij)/eps).
    if mode == "dense":
        K = jnp.exp(jnp.minimum((2 * (x @ x.T) - sq[:, None] - sq[None, :]) / eps, 0.0))

        def lK_dense(f):
            c = jnp.max(f) / eps
            return eps * (c + jnp.log(K @ jnp.exp(f / eps - c)))

        lK = lK_dense
    else:

        def lK_online(f):
            return _lse_rows(f - sq, x, x, eps, opts.chunk) - sq

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
    (f, _), it, err, _ = _iterate(step, error_of, (f, lK(f)), plain, dtype)
    # OT_eps(mu, mu) = <f, a> + <f, a> in the KL(P | a x a) convention.
    return 2 * (jnp.mean(f) - eps * log_a), err, it


class SinkhornDivergenceResult(eqx.Module):
    """Output of [`sinkhorn_divergence`][].

    - `divergence`: $S_\\varepsilon$, an estimate of $W_2^2$ (biased by
      $O(\\varepsilon^2)$ for smooth densities).
    - `cross`: the $\\mu,\\nu$ [`SinkhornResult`][] (potentials for maps).
    - `self_costs`: $(\\mathrm{OT}_\\varepsilon(\\mu,\\mu),\\mathrm{OT}_\\varepsilon(\\nu,\\nu))$.
    - `errors`, `n_iterations`: of the three problems; `converged`: all three.
    """

    divergence: FloatScalar
    cross: SinkhornResult
    self_costs: Float[Array, " 2"]
    errors: Float[Array, " 3"]
    n_iterations: Int[Array, " 3"]
    converged: Bool[Array, ""]
    epsilon: FloatScalar


@eqx.filter_jit
def _divergence_impl(x, y, eps, *, mode, init, opts: _Options):
    xy = _sinkhorn_impl(x, y, eps, mode=mode, init=init, opts=opts)
    eps = xy.epsilon
    sx, ex, ix = _solve_symmetric(x, eps, mode=mode, opts=opts)
    sy, ey, iy = _solve_symmetric(y, eps, mode=mode, opts=opts)
    div = xy.reg_ot_cost - 0.5 * (sx + sy)
    errors = jnp.stack([xy.error, ex, ey])
    thr = opts.threshold
    converged = xy.converged & (ex <= thr) & (ey <= thr) & jnp.isfinite(div)
    return SinkhornDivergenceResult(
        jnp.maximum(div, 0.0),
        xy,
        jnp.stack([sx, sy]),
        errors,
        jnp.stack([xy.n_iterations, ix, iy]),
        converged,
        eps,
    )


def sinkhorn_divergence(
    x: Points,
    y: Points,
    *,
    epsilon: float | None = None,
    relative_epsilon: float = 0.01,
    threshold: float = 1e-3,
    norm_error: int = 1,
    max_iterations: int = 2000,
    inner_iterations: int | None = None,
    over_relaxation: float | Literal["adaptive"] = "adaptive",
    init: Literal["gaussian", "zero"] = "gaussian",
    mode: _Mode = "auto",
    dense_limit: int = 2**27,
    chunk_size: int = 128,
    backend: Literal["flowrep", "ott"] = "flowrep",
    throw: bool = False,
) -> SinkhornDivergenceResult:
    """Debiased Sinkhorn divergence, an estimate of $W_2^2$ (cost $\\|x-y\\|^2$).

    $S_\\varepsilon(\\mu,\\nu)=\\mathrm{OT}_\\varepsilon(\\mu,\\nu)
    -\\frac12\\mathrm{OT}_\\varepsilon(\\mu,\\mu)-\\frac12\\mathrm{OT}_\\varepsilon(\\nu,\\nu)$
    (Feydy et al. 2019, eq. 3); $S_\\varepsilon\\ge0$, $=0$ iff $\\mu=\\nu$, and
    $S_\\varepsilon\\to W_2^2$ as $\\varepsilon\\to0$.

    **Arguments:** as [`sinkhorn`][], plus `backend`: `"flowrep"` (the solver
    above) or `"ott"` (ott-jax's `sinkdiv` with an online
    `PointCloud(batch_size=chunk_size)` when `mode` resolves to online; it
    ignores `init` and `over_relaxation`). `inner_iterations` defaults to 1
    for flowrep (its error checks are free) and to 10 for ott-jax (whose
    checks cost a kernel pass).

    **Returns:** a [`SinkhornDivergenceResult`][] (the `cross` field's
    potentials are ott-jax's and its `reg_ot_cost` is NaN for the ott backend).

    **Raises:** as [`sinkhorn`][].
    """
    x, y = _as_pair(x, y)
    eps = _default_epsilon(x, y, epsilon, relative_epsilon)
    if inner_iterations is None:
        inner_iterations = 10 if backend == "ott" else 1
    opts = _options(
        threshold,
        norm_error,
        max_iterations,
        inner_iterations,
        over_relaxation,
        chunk_size,
    )
    _check_init(init)
    size = max(x.shape[0], y.shape[0])
    resolved = _resolve_mode(mode, size, size, dense_limit)
    if backend == "ott":
        out = _ott_divergence(x, y, eps, online=resolved == "online", opts=opts)
    elif backend == "flowrep":
        out = _divergence_impl(x, y, eps, mode=resolved, init=init, opts=opts)
    else:
        raise ValueError(f"`backend` must be 'flowrep' or 'ott'; got {backend!r}.")
    if throw:
        out = _throw_if_not_converged(out, max_iterations)
    return out


@eqx.filter_jit
def _ott_divergence(x, y, eps, *, online, opts: _Options):
    from ott.geometry import pointcloud
    from ott.tools import sinkhorn_divergence as sd

    kw: dict[str, Any] = {"batch_size": opts.chunk} if online else {}
    solve_kwargs = dict(
        threshold=opts.threshold,
        norm_error=opts.norm,
        max_iterations=opts.max_iterations,
        inner_iterations=opts.inner,
    )
    div, out = sd.sinkhorn_divergence(
        pointcloud.PointCloud,
        x,
        y,
        epsilon=eps,
        solve_kwargs=solve_kwargs,
        **kw,
    )
    converged = jnp.all(jnp.stack([jnp.asarray(c) for c in out.converged]))
    errs = []
    for e in out.errors:
        e = jnp.asarray(e)
        e = jnp.where(e < 0, jnp.inf, e).reshape(-1)
        errs.append(jnp.min(e))
    f, g = out.potentials[0]
    dummy = SinkhornResult(
        f,
        g,
        jnp.asarray(jnp.nan, x.dtype),
        errs[0],
        jnp.asarray(out.n_iters[0]),
        jnp.asarray(out.converged[0]),
        jnp.asarray(eps, x.dtype),
    )
    return SinkhornDivergenceResult(
        jnp.maximum(div, 0.0),
        dummy,
        jnp.full(2, jnp.nan, x.dtype),
        jnp.stack(errs),
        jnp.stack([jnp.asarray(i) for i in out.n_iters]),
        converged,
        jnp.asarray(eps, x.dtype),
    )


# ------------------------------------------------------------------ W2 facade


class W2Result(eqx.Module):
    """Output of [`wasserstein2`][].

    - `cost`: the estimate of $W_2^2$; `distance`: its square root.
    - `converged`: `True` for exact/gaussian, the Sinkhorn flag otherwise.
    - `error`: final marginal error (0 for exact/gaussian).
    - `n_iterations`: Sinkhorn iterations of the cross problem (0 otherwise).
    - `method`: the method actually used.
    """

    cost: FloatScalar
    distance: FloatScalar
    converged: Bool[Array, ""]
    error: FloatScalar
    n_iterations: Int[Array, ""]
    method: str = eqx.field(static=True)


def wasserstein2(
    x: Points,
    y: Points,
    *,
    method: _Method = "auto",
    epsilon: float | None = None,
    relative_epsilon: float = 0.01,
    exact_max: int = 1024,
    throw: bool = False,
    **sinkhorn_kwargs,
) -> W2Result:
    """Wasserstein-2 distance between two uniform clouds.

    **Arguments:**

    - `x`, `y`: clouds `(n, d)` and `(m, d)`.
    - `method`: `"exact"` (Hungarian assignment, equal sizes), `"sinkhorn"`
      (debiased Sinkhorn divergence, see [`sinkhorn_divergence`][]),
      `"gaussian"` (Bures closed form of the fitted Gaussians), or `"auto"`:
      exact when `n == m <= exact_max`, else Sinkhorn.
    - `epsilon`, `relative_epsilon`, `**sinkhorn_kwargs`: passed to Sinkhorn.
    - `throw`: raise if Sinkhorn does not converge.

    **Returns:** a [`W2Result`][].

    **Raises:** `ValueError` for different dimensions, fewer than 2 samples,
    NaN/inf, unknown methods, or `method="exact"` with unequal sizes.
    """
    x, y = _as_pair(x, y)
    if method == "auto":
        method = "exact" if x.shape[0] == y.shape[0] <= exact_max else "sinkhorn"
    zero = jnp.zeros((), x.dtype)
    if method == "exact":
        perm = exact_assignment(x, y)
        cost = jnp.mean(jnp.sum((x - y[perm]) ** 2, -1))
        return W2Result(
            cost, jnp.sqrt(cost), jnp.array(True), zero, jnp.array(0), "exact"
        )
    if method == "gaussian":
        m1, S1 = gaussian_fit(x)
        m2, S2 = gaussian_fit(y)
        cost = gaussian_w2(m1, S1, m2, S2).astype(x.dtype)
        return W2Result(
            cost, jnp.sqrt(cost), jnp.array(True), zero, jnp.array(0), "gaussian"
        )
    if method == "sinkhorn":
        out = sinkhorn_divergence(
            x,
            y,
            epsilon=epsilon,
            relative_epsilon=relative_epsilon,
            throw=throw,
            **sinkhorn_kwargs,
        )
        return W2Result(
            out.divergence,
            jnp.sqrt(out.divergence),
            out.converged,
            jnp.max(out.errors),
            out.n_iterations[0],
            "sinkhorn",
        )
    raise ValueError(
        f"`method` must be 'auto', 'exact', 'sinkhorn' or 'gaussian'; got {method!r}."
    )


# --------------------------------------------------------------- OT maps


class EntropicMap(eqx.Module):
    """Entropic OT map $T_\\varepsilon(z)=\\sum_jw_j(z)y_j$,
    $w(z)=\\mathrm{softmax}_j((g_j-\\|z-y_j\\|^2)/\\varepsilon)$, from the dual
    potential $g$ (Pooladian & Niles-Weed 2021, eq. 3.6); it is the gradient
    map $z-\\frac12\\nabla f_\\varepsilon(z)$ of the extended potential.
    `__call__` takes one sample `(d,)`."""

    y: Float[Array, "m d"]
    g: Float[Array, " m"]
    epsilon: FloatScalar

    def __call__(self, z: Float[Array, " d"]) -> Float[Array, " d"]:
        logits = (self.g - jnp.sum((self.y - z) ** 2, -1)) / self.epsilon
        return jax.nn.softmax(logits) @ self.y


def entropic_map(
    x: Points, y: Points, *, epsilon: float | None = None, **sinkhorn_kwargs
) -> EntropicMap:
    """Fit the entropic OT map from `x` to `y` (Sinkhorn, then [`EntropicMap`][]).

    **Arguments:** clouds `x` `(n, d)`, `y` `(m, d)`; `epsilon` and other
    keywords as in [`sinkhorn`][] (default `relative_epsilon=0.01`).

    **Returns:** an [`EntropicMap`][] (callable on one point; `jax.vmap` it).

    **Raises:** as [`sinkhorn`][].
    """
    x, y = _as_pair(x, y)
    out = sinkhorn(x, y, epsilon=epsilon, **sinkhorn_kwargs)
    return EntropicMap(y, out.g, out.epsilon)


def barycentric_projection(
    x: Points,
    y: Points,
    *,
    epsilon: float | None = None,
    chunk_size: int = 256,
    **sinkhorn_kwargs,
) -> Points:
    """Barycentric projection of the entropic plan: $\\hat T(x_i)=\\frac1{a_i}\\sum_jP_{ij}y_j$.

    Computed from the potentials in chunks of rows (no $n\\times m$ matrix).

    **Arguments:** as [`entropic_map`][].

    **Returns:** the images of the samples, shape `(n, d)`.

    **Raises:** as [`sinkhorn`][].
    """
    x, y = _as_pair(x, y)
    out = sinkhorn(x, y, epsilon=epsilon, chunk_size=chunk_size, **sinkhorn_kwargs)
    return _barycentric(x, y, out.f, out.g, out.epsilon, chunk_size)


@eqx.filter_jit
def _barycentric(x, y, f, g, eps, chunk):
    m = y.shape[0]

    def one(args):
        xi, fi = args
        w = jnp.exp((fi + g - jnp.sum((y - xi) ** 2, -1)) / eps) / m
        return w @ y

    return jax.lax.map(one, (x, f), batch_size=chunk)


@eqx.filter_jit
def plan_argmax(x: Points, y: Points, g: Float[Array, " m"], chunk_size: int = 256):
    """Row-wise argmax of the entropic plan, $\\arg\\max_j(g_j-\\|x_i-y_j\\|^2)$,
    streamed in chunks of rows. Returns integer indices `(n,)`."""

    def one(xi):
        return jnp.argmax(g - jnp.sum((y - xi) ** 2, -1))

    return jax.lax.map(one, x, batch_size=chunk_size)
