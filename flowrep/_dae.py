"""Denoising autoencoders as transport (Sonoda & Murata, arXiv 1712.04145).

THEORY.md section 3. With Gaussian noise of variance $t$ and data law
$\\mu_0$, the optimal DAE is the transport map
$g_t(x)=E[x\\mid x+\\sqrt t\\varepsilon]=x+t\\nabla\\log(W_t*\\mu_0)(x)$
(Tweedie); on an empirical cloud it is one Gaussian mean-shift step. A deep
DAE (infinitesimal noise, retrained on each pushforward) is the flow
$\\dot x=\\nabla\\log\\mu_t(x)$, whose marginal solves the backward heat
equation $\\partial_t\\mu_t=-\\Delta\\mu_t$ and whose entropy decreases,
$\\frac{d}{dt}H[\\mu_t]=-\\int|\\nabla\\log\\mu_t|^2d\\mu_t$. L stacked DAEs of
noise $t/L$ each approach that flow as L grows.
"""

import math
from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike

from ._activations import Gaussian
from ._admissibility import admissibility
from ._custom_types import Key, Points
from ._entropy import knn_entropy
from ._flow import flow
from ._integral_net import IntegralNetwork, sample_network
from ._laws import (
    _check_time,
    _component_logpdfs,
    _is_concrete,
    AbstractLaw,
    CollapseError,
    fit_mixture,
    GaussianLaw,
    GaussianMixture,
)
from ._nodes import grid_nodes, sample_parameters
from ._ridgelets import GaussianDerivative
from ._transform import ridgelet_transform


DEFAULT_CHUNK_SIZE = 2**20  # pairs per tile in mean shift


def _as_mixture(law: AbstractLaw) -> GaussianMixture:
    if isinstance(law, GaussianMixture):
        return law
    if isinstance(law, GaussianLaw):
        return law.to_mixture()
    raise TypeError(
        f"expected a GaussianLaw or GaussianMixture; got {type(law).__name__}."
    )


def _check_points(x, m: int | None = None, what: str = "x") -> Array:
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(x, float))
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"`{what}` must have shape [n, m] with n >= 1; got {x.shape}.")
    if m is not None and x.shape[1] != m:
        raise ValueError(
            f"`{what}` has dimension {x.shape[1]} but the law has dimension m={m}; expected [n, {m}]."
        )
    if _is_concrete(x) and not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"`{what}` contains NaN or inf.")
    return x


# --------------------------------------------------------------------------
# Shallow DAE: closed form for laws, mean shift for clouds
# --------------------------------------------------------------------------


def shallow_dae(law: AbstractLaw, t, x: Points) -> Points:
    """The optimal DAE of noise variance $t$ for a Gaussian or mixture law, applied to `x`.

    $g_t(x)=\\sum_kw_k(x)[m_k+\\Sigma_k(\\Sigma_k+tI)^{-1}(x-m_k)]$ with
    $w_k\\propto\\pi_kN(x;m_k,\\Sigma_k+tI)$ (THEORY.md section 3), which is
    $x+t\\nabla\\log(W_t*\\mu)(x)$. For one Gaussian,
    $g_t(x)=m+\\Sigma(\\Sigma+tI)^{-1}(x-m)$.

    **Arguments:** `law` (`GaussianLaw` or `GaussianMixture`), `t >= 0`,
    `x` `[n, m]`.

    **Returns:** $g_t(x_i)$, `[n, m]`.

    **Raises:** `ValueError` for $t<0$ or a dimension mismatch.
    """
    mix = _as_mixture(law)
    x = _check_points(x, mix.dim)
    _check_time(t)
    return _shallow_dae(mix.weights, mix.means, mix.covs, jnp.asarray(t, x.dtype), x)


@jax.jit
def _shallow_dae(weights, means, covs, t, x):
    smoothed = covs + t * jnp.eye(means.shape[1], dtype=covs.dtype)
    # Sigma (Sigma + tI)^{-1} = ((Sigma + tI)^{-1} Sigma)^T, both symmetric
    gains = jax.vmap(lambda c, cs: jnp.linalg.solve(cs, c).T)(covs, smoothed)

    def one(xi):
        r = jax.nn.softmax(jnp.log(weights) + _component_logpdfs(xi, means, smoothed))
        targets = means + jnp.einsum("kij,kj->ki", gains, xi - means)
        return r @ targets

    return jax.vmap(one)(x)


def shallow_dae_pushforward(law: GaussianLaw, t) -> GaussianLaw:
    """$(g_t)_\\#N(m,\\Sigma)=N(m,A\\Sigma A^\\top)$, $A=\\Sigma(\\Sigma+tI)^{-1}$: eigenvalues $\\lambda^3/(\\lambda+t)^2$.

    **Raises:** `TypeError` for a non-Gaussian law; `ValueError` for $t<0$.
    """
    if not isinstance(law, GaussianLaw):
        raise TypeError(
            "shallow_dae_pushforward is closed form for a GaussianLaw only; for mixtures push samples with shallow_dae."
        )
    _check_time(t)
    lam, vec = jnp.linalg.eigh(law.cov)
    return GaussianLaw(law.mean, (vec * (lam**3 / (lam + t) ** 2)) @ vec.T)


def _mean_shift_block(q: Array, cols: Array, logw: Array, t, tq: int) -> Array:
    """Stable streamed $\\sum_jw_jK(q,x_j)x_j/\\sum_jw_jK(q,x_j)$ for a block of queries."""
    n = cols.shape[0]
    pad = (-n) % tq
    cols_p = jnp.concatenate([cols, jnp.zeros((pad, cols.shape[1]), cols.dtype)])
    logw_p = jnp.concatenate([logw, jnp.full((pad,), -jnp.inf, logw.dtype)])
    cols_b = cols_p.reshape(-1, tq, cols.shape[1])
    logw_b = logw_p.reshape(-1, tq)
    # |q|^2 cancels in the normalisation: logits = log w_j + (q.x_j - |x_j|^2/2)/t
    half_sq_b = 0.5 * jnp.sum(cols_b**2, axis=-1)

    def body(carry, blk):
        mx, s, v = carry
        c, lw, hs = blk
        logits = lw[None] + (q @ c.T - hs[None]) / t
        new_mx = jnp.maximum(mx, jnp.max(logits, axis=1))
        scale = jnp.exp(mx - new_mx)
        p = jnp.exp(logits - new_mx[:, None])
        return (
            new_mx,
            s * scale + jnp.sum(p, axis=1),
            v * scale[:, None] + p @ c,
        ), None

    init = (
        jnp.full((q.shape[0],), -jnp.inf, q.dtype),
        jnp.zeros((q.shape[0],), q.dtype),
        jnp.zeros_like(q),
    )
    (_, s, v), _ = lax.scan(body, init, (cols_b, logw_b, half_sq_b))
    return v / s[:, None]


@eqx.filter_jit
def _mean_shift(cloud, logw, t, queries, chunk_size: int):
    n, m = cloud.shape
    nq = queries.shape[0]
    tq = min(n, max(1, chunk_size))
    tp = min(nq, max(1, chunk_size // tq))
    pad = (-nq) % tp
    qp = jnp.concatenate([queries, jnp.broadcast_to(queries[:1], (pad, m))])
    out = lax.map(
        lambda qb: _mean_shift_block(qb, cloud, logw, t, tq), qp.reshape(-1, tp, m)
    )
    return out.reshape(-1, m)[:nq]


def mean_shift(
    cloud: Points,
    t,
    queries: Points | None = None,
    *,
    weights: ArrayLike | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Points:
    """One Gaussian mean-shift step: the optimal DAE of the empirical law of `cloud`.

    $g_t(q)=\\sum_jw_jN(q;x_j,tI)\\,x_j/\\sum_jw_jN(q;x_j,tI)=q+t\\nabla\\log(W_t*\\hat\\mu)(q)$
    (THEORY.md section 3). Streamed over tiles of at most `chunk_size`
    (query, point) pairs with a running log-sum-exp, so memory is
    $O(n+n_q+\\text{chunk\\_size})$ and n = 1e5 fits easily.

    **Arguments:**

    - `cloud`: `[n, m]` the samples $x_j$; `weights`: optional `[n]` positive.
    - `t`: noise variance (> 0); the kernel is $N(0,tI)$.
    - `queries`: `[n_q, m]` points to move (default: the cloud itself).
    - `chunk_size`: pairs per tile.

    **Returns:** $g_t(q)$, `[n_q, m]`.

    **Raises:** `ValueError` for $t\\le0$, mismatched shapes, NaN/inf or
    non-positive weights.
    """
    cloud = _check_points(cloud, what="cloud")
    n, m = cloud.shape
    queries = cloud if queries is None else _check_points(queries, m, "queries")
    _check_time(t)
    if _is_concrete(t) and not float(t) > 0:
        raise ValueError(
            f"mean_shift needs a positive noise variance t; got {float(t)}."
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size}.")
    if weights is None:
        logw = jnp.zeros((n,), cloud.dtype)
    else:
        weights = jnp.asarray(weights, cloud.dtype)
        if weights.shape != (n,):
            raise ValueError(
                f"`weights` must have shape [{n}] (one per cloud point); got {weights.shape}."
            )
        if _is_concrete(weights) and not bool(
            jnp.all(weights > 0) & jnp.all(jnp.isfinite(weights))
        ):
            raise ValueError("`weights` must be positive and finite.")
        logw = jnp.log(weights)
    return _mean_shift(
        cloud,
        logw,
        jnp.asarray(t, cloud.dtype),
        queries.astype(cloud.dtype),
        chunk_size,
    )


# --------------------------------------------------------------------------
# Deep DAE: the flow x' = grad log mu_t(x)
# --------------------------------------------------------------------------


class DeepDAEField(eqx.Module):
    """The deep-DAE vector field $v(t,x)=\\nabla\\log\\mu_t(x)$, $\\mu_t=\\sum_k\\pi_kN(m_k,\\Sigma_k-2tI)$.

    Built once from the eigendecompositions $\\Sigma_k=V_k\\Lambda_kV_k^\\top$ so
    each evaluation costs $O(Km^2)$. Call as `field(t, x, args)` with one
    point `x` `[m]` (diffrax convention) or a batch `[n, m]`. Valid for
    $t<t^*=\\min_k\\lambda_{\\min}/2$; `deep_dae_flow` enforces it.
    """

    log_weights: Array
    means: Array
    eigvals: Array
    eigvecs: Array

    def __init__(self, law: AbstractLaw):
        mix = _as_mixture(law)
        self.log_weights = jnp.log(mix.weights)
        self.means = mix.means
        self.eigvals, self.eigvecs = jnp.linalg.eigh(mix.covs)

    @property
    def collapse_time(self) -> Array:
        return jnp.min(self.eigvals) / 2

    def log_prob(self, t, x: Array) -> Array:
        """$\\log\\mu_t(x)$ at one point."""
        lam = self.eigvals - 2 * t
        proj = jnp.einsum("kji,kj->ki", self.eigvecs, x - self.means)
        terms = self.log_weights - 0.5 * jnp.sum(
            proj**2 / lam + jnp.log(2 * jnp.pi * lam), axis=-1
        )
        return jax.nn.logsumexp(terms)

    def _parts(self, t, x):
        lam = self.eigvals - 2 * t
        proj = jnp.einsum("kji,kj->ki", self.eigvecs, x - self.means)
        terms = self.log_weights - 0.5 * jnp.sum(proj**2 / lam + jnp.log(lam), axis=-1)
        r = jax.nn.softmax(terms)
        scores = -jnp.einsum("kij,kj->ki", self.eigvecs, proj / lam)
        return r, scores, lam

    def _one(self, t, x):
        r, scores, _ = self._parts(t, x)
        return r @ scores

    def _one_div(self, t, x):
        # Laplacian of log mu_t: sum_k r_k(|s_k|^2 - tr Sigma_k(t)^-1) - |sum_k r_k s_k|^2
        r, scores, lam = self._parts(t, x)
        v = r @ scores
        div = r @ (jnp.sum(scores**2, axis=-1) - jnp.sum(1 / lam, axis=-1)) - v @ v
        return v, div

    def __call__(self, t, x, args=None):
        if x.ndim == 2:
            return self.batch_call(t, x, args)
        return self._one(t, x)

    def batch_call(self, t, xs, args=None):
        """$v_t$ on a batch `[n, m]`."""
        return jax.vmap(lambda xi: self._one(t, xi))(xs)

    def batch_divergence(self, t, xs, args=None):
        """`(v [n, m], div [n])` with the closed form $\\nabla\\cdot v=\\Delta\\log\\mu_t$."""
        return jax.vmap(lambda xi: self._one_div(t, xi))(xs)


def deep_dae_map(law: GaussianLaw, t, x: Points) -> Points:
    """Closed-form deep-DAE flow map of a Gaussian: $\\phi_t(x)=m+((\\Sigma-2tI)\\Sigma^{-1})^{1/2}(x-m)$.

    **Raises:** `TypeError` for a non-Gaussian law; `ValueError` for $t<0$
    or a dimension mismatch; `CollapseError` for $t\\ge\\lambda_{\\min}/2$.
    """
    if not isinstance(law, GaussianLaw):
        raise TypeError(
            "deep_dae_map is closed form for a GaussianLaw only; use deep_dae_flow for mixtures."
        )
    x = _check_points(x, law.dim)
    law.backward_heat(t)  # validates t
    lam, vec = jnp.linalg.eigh(law.cov)
    gain = (vec * jnp.sqrt((lam - 2 * t) / lam)) @ vec.T
    return law.mean + (x - law.mean) @ gain.T


def _check_horizon(t1, ts, tstar: float | None) -> None:
    _check_time(t1, "t1")
    if ts is not None:
        ts_np = np.asarray(ts)
        if ts_np.ndim != 1 or ts_np.size == 0:
            raise ValueError(
                f"`ts` must be a non-empty 1-D array of times; got shape {ts_np.shape}."
            )
        if np.any(np.diff(ts_np) < 0) or ts_np[0] < 0 or ts_np[-1] > float(t1) + 1e-12:
            raise ValueError("`ts` must be non-decreasing within [0, t1].")
    if tstar is not None and float(t1) >= tstar:
        raise CollapseError(
            f"the deep-DAE flow cannot reach t1={float(t1):.6g}: mu_t = sum_k pi_k N(m_k, Sigma_k - 2tI) collapses "
            f"at t* = lambda_min/2 = {tstar:.6g}. Choose t1 < {tstar:.6g}."
        )


def deep_dae_flow(
    law: AbstractLaw,
    x0: Points,
    t1,
    *,
    ts: ArrayLike | None = None,
    log_density: Literal[False, "exact", "hutchinson"] = False,
    key: Key | None = None,
    **flow_kwargs,
):
    """Integrate the deep DAE $\\dot x=\\nabla\\log\\mu_t(x)$ from $t=0$ to `t1` (diffrax, via `flow`).

    The marginal of $x_t$ is $\\mu_t=\\sum_k\\pi_kN(m_k,\\Sigma_k-2tI)$ when
    $x_0\\sim\\mu_0$ (THEORY.md section 3): the velocity makes $\\mu_t$ solve
    $\\partial_t\\mu_t=-\\nabla\\cdot(\\mu_t\\nabla\\log\\mu_t)=-\\Delta\\mu_t$.

    **Arguments:**

    - `law`: the data law $\\mu_0$ (`GaussianLaw` or `GaussianMixture`).
    - `x0`: `[n, m]` starting points. `t1`: final time, $0\\le t_1<t^*$.
    - `ts`: optional times to record (within $[0,t_1]$).
    - `log_density`: `False`, `"exact"` or `"hutchinson"` (with `key`): the
      change of $\\log\\mu_t(x_t)$ along each path, $-\\int\\nabla\\cdot v$.
    - `flow_kwargs`: passed to `flowrep.flow` (`solver`, `rtol`, `atol`, ...).

    **Returns:** the `FlowResult` of `flowrep.flow`.

    **Raises:** `CollapseError` if $t_1\\ge t^*=\\min_k\\lambda_{\\min}(\\Sigma_k)/2$
    (raised before integrating, so no NaN is ever returned); `ValueError`
    for $t_1<0$, bad `ts` or a dimension mismatch.
    """
    field = DeepDAEField(law)
    x0 = _check_points(x0, field.means.shape[1], "x0")
    _check_horizon(
        t1, ts, float(field.collapse_time) if _is_concrete(field.eigvals) else None
    )
    if not _is_concrete(t1):
        t1 = eqx.error_if(
            t1,
            t1 >= field.collapse_time,
            "deep-DAE flow: t1 is past the collapse time lambda_min/2.",
        )
    return flow(
        field,
        x0,
        0.0,
        t1,
        ts=None if ts is None else jnp.asarray(ts),
        log_density=log_density,
        key=key,
        **flow_kwargs,
    )


class BlurringMeanShiftField(eqx.Module):
    """The deep DAE of a cloud: $v(X)_i=\\nabla\\log(K_h*\\hat\\mu_X)(x_i)=(\\mathrm{ms}_h(x_i;X)-x_i)/h$.

    A field on the whole flattened cloud `[n * m]` (the particles interact:
    each moves along the score of the kernel density estimate of the
    current cloud, bandwidth variance `h`). This is the continuous-time
    blurring mean shift.
    """

    bandwidth: float = eqx.field(static=True)
    point_dim: int = eqx.field(static=True)
    chunk_size: int = eqx.field(static=True, default=DEFAULT_CHUNK_SIZE)

    def __call__(self, t, x, args=None):
        cloud = x.reshape(-1, self.point_dim)
        logw = jnp.zeros(cloud.shape[:1], cloud.dtype)
        ms = _mean_shift(
            cloud,
            logw,
            jnp.asarray(self.bandwidth, cloud.dtype),
            cloud,
            self.chunk_size,
        )
        return ((ms - cloud) / self.bandwidth).reshape(x.shape)


def blurring_mean_shift_flow(
    x0: Points,
    t1,
    bandwidth: float,
    *,
    ts: ArrayLike | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    **flow_kwargs,
):
    """Deep DAE of an empirical cloud: $\\dot x_i=\\nabla\\log(K_h*\\hat\\mu_t)(x_i)$ (blurring mean-shift flow).

    The empirical law has no score, so it is smoothed with the kernel
    $K_h=N(0,hI)$; as the cloud grows and $h\\to0$ this tends to the deep
    DAE of the law it samples.

    **Arguments:** `x0` `[n, m]`; `t1 >= 0`; `bandwidth` $h>0$; `ts`
    optional record times; `flow_kwargs` go to `flowrep.flow`.

    **Returns:** `(ts, tracks [T, n, m])`.

    **Raises:** `ValueError` for a bad bandwidth, times or points.
    """
    x0 = _check_points(x0, what="x0")
    if not (math.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"`bandwidth` must be a positive variance; got {bandwidth}.")
    _check_horizon(t1, ts, None)
    n, m = x0.shape
    field = BlurringMeanShiftField(float(bandwidth), m, chunk_size)
    ts_arr = jnp.asarray([0.0, float(t1)] if ts is None else ts, x0.dtype)
    res = flow(field, x0.reshape(1, n * m), 0.0, t1, ts=ts_arr, **flow_kwargs)
    tracks = jnp.asarray(res.tracks).reshape(ts_arr.shape[0], n, m)
    return ts_arr, tracks


# --------------------------------------------------------------------------
# Stacked DAEs and the "deeper converges faster" table
# --------------------------------------------------------------------------


def stacked_dae_laws(law: GaussianLaw, t, num_layers: int) -> list[GaussianLaw]:
    """L stacked DAEs of noise $t/L$ on a Gaussian, each fitted exactly to the current pushforward.

    Layer $l$ is the optimal DAE of $N(m,\\Sigma_l)$, so
    $\\lambda\\to\\lambda^3/(\\lambda+t/L)^2$ per eigenvalue, L times.

    **Returns:** the L+1 laws $\\mu^{(0)}=\\mu,\\dots,\\mu^{(L)}$.

    **Raises:** `TypeError` (non-Gaussian), `ValueError` ($t<0$, L < 1).
    """
    if not isinstance(law, GaussianLaw):
        raise TypeError(
            "stacked_dae_laws is exact for a GaussianLaw; for mixtures use stacked_dae on samples."
        )
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1; got {num_layers}.")
    _check_time(t)
    laws = [law]
    for _ in range(num_layers):
        laws.append(shallow_dae_pushforward(laws[-1], t / num_layers))
    return laws


def stacked_dae(
    x: Points,
    t,
    num_layers: int,
    *,
    law: AbstractLaw | None = None,
    fit: str = "mixture",
    num_components: int | None = None,
    bandwidth: float = 0.0,
    em_iters: int = 50,
    key: Key | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Array:
    """Push samples through L stacked DAEs of noise $\\tau=t/L$, each fitted to the current pushforward.

    Layer $l$ is the optimal DAE for (an estimate of) the law $\\nu_l$ of the
    current cloud:

    - `fit="mixture"`: $\\nu_l$ is a Gaussian mixture fitted by EM
      (`fit_mixture`, warm-started from the previous layer; layer 0 uses
      `law` exactly when given) and the layer is its closed-form map
      (`shallow_dae`). For a Gaussian `law` with `num_components=1` this is
      the exact stacked DAE up to sampling error in the refits.
    - `fit="empirical"`: $\\nu_l$ is the cloud smoothed by $N(0,hI)$,
      $h$ = `bandwidth`, and the layer is
      $x+\\tau\\nabla\\log(W_\\tau*K_h*\\hat\\nu_l)$, a mean-shift step of
      variance $\\tau+h$ and step $\\tau/(\\tau+h)$. With $h=0$ it is the exact
      DAE of the empirical law, which stalls as $\\tau\\to0$ (each point's own
      kernel dominates); $h>0$ gives the blurring mean-shift flow as $L\\to\\infty$.

    **Returns:** tracks `[L+1, n, m]`.

    **Raises:** `ValueError` on bad shapes, $t<0$, L < 1, an unknown `fit`,
    or a mixture fit without `law`, `num_components` or `key`.
    """
    x = _check_points(x, None if law is None else law.dim)
    _check_time(t)
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1; got {num_layers}.")
    tau = float(t) / num_layers
    tracks = [x]
    if fit == "mixture":
        current = None if law is None else _as_mixture(law)
        k = (
            num_components
            if num_components is not None
            else (None if current is None else current.num_components)
        )
        if k is None:
            raise ValueError(
                "stacked_dae(fit='mixture') needs `law` or `num_components`."
            )
        if current is None and key is None:
            raise ValueError(
                "stacked_dae(fit='mixture') without `law` needs `key` to initialise EM."
            )
        for layer in range(num_layers):
            if current is None or layer > 0:
                if current is not None and current.num_components == k:
                    current = fit_mixture(
                        tracks[-1], k, init=current, num_iters=em_iters
                    )
                else:
                    assert key is not None
                    key, sub = jr.split(key)
                    current = fit_mixture(tracks[-1], k, key=sub, num_iters=em_iters)
            tracks.append(shallow_dae(current, tau, tracks[-1]))
    elif fit == "empirical":
        if not bandwidth >= 0:
            raise ValueError(f"`bandwidth` must be >= 0; got {bandwidth}.")
        if tau == 0:
            return jnp.stack([x] * (num_layers + 1))
        for _ in range(num_layers):
            cur = tracks[-1]
            ms = mean_shift(cur, tau + bandwidth, chunk_size=chunk_size)
            tracks.append(cur + tau / (tau + bandwidth) * (ms - cur))
    else:
        raise ValueError(f"unknown fit {fit!r}; expected 'mixture' or 'empirical'.")
    return jnp.stack(tracks)


def _gaussian_w2(a: GaussianLaw, b: GaussianLaw) -> float:
    """Closed-form $W_2$ between two Gaussians (THEORY.md section 4)."""
    ra = _sqrtm(a.cov)
    cross = _sqrtm(ra @ b.cov @ ra)
    w2sq = jnp.sum((a.mean - b.mean) ** 2) + jnp.trace(a.cov + b.cov - 2 * cross)
    return float(jnp.sqrt(jnp.maximum(w2sq, 0.0)))


def _sqrtm(c: Array) -> Array:
    lam, vec = jnp.linalg.eigh(c)
    return (vec * jnp.sqrt(jnp.clip(lam, 0))) @ vec.T


def depth_table(
    law: AbstractLaw,
    t,
    num_layers: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    *,
    key: Key | None = None,
    num_samples: int = 2000,
    em_iters: int = 30,
) -> list[dict]:
    """The "deeper converges faster" table: L stacked DAEs of noise $t/L$ against the deep limit.

    For a `GaussianLaw` everything is closed form: the stacked output law
    (`stacked_dae_laws`), its $W_2$ to the deep limit $N(m,\\Sigma-2tI)$,
    its entropy against $H(t)=\\frac12\\sum_i\\log(2\\pi e(\\lambda_i-2t))$.
    For a `GaussianMixture`, the same `num_samples` samples (drawn with
    `key`) go through `stacked_dae(fit="mixture")` and through the deep flow
    `deep_dae_flow`; `map_rms` is $(\\frac1n\\sum_i|g^{(L)}(x_i)-\\phi_t(x_i)|^2)^{1/2}$,
    an upper bound on $W_2$ between the two output laws.

    **Returns:** one dict per L (`num_layers`, `w2_to_deep` or `map_rms`,
    `entropy`, `entropy_deep`, and for Gaussians `eigvals`).

    **Raises:** `CollapseError` if $t\\ge t^*$ (the deep limit does not
    exist); `ValueError` for $t<0$ or bad L; mixtures need `key`.
    """
    deep = law.backward_heat(t)
    if any(int(n) < 1 for n in num_layers):
        raise ValueError(
            f"every entry of num_layers must be >= 1; got {list(num_layers)}."
        )
    rows = []
    if isinstance(law, GaussianLaw):
        assert isinstance(deep, GaussianLaw)
        h_deep = float(deep.entropy())
        for n in num_layers:
            out = stacked_dae_laws(law, t, int(n))[-1]
            rows.append(
                dict(
                    num_layers=int(n),
                    w2_to_deep=_gaussian_w2(out, deep),
                    entropy=float(out.entropy()),
                    entropy_deep=h_deep,
                    eigvals=[float(v) for v in out.eigvals],
                )
            )
        return rows
    if key is None:
        raise ValueError("depth_table on a mixture needs `key` (it works on samples).")
    mix = _as_mixture(law)
    x0 = mix.sample(num_samples, key=key)
    x_deep = jnp.asarray(deep_dae_flow(mix, x0, t).xs)
    h_deep = float(_as_mixture(deep).entropy())
    for n in num_layers:
        out = stacked_dae(x0, t, int(n), law=mix, em_iters=em_iters)[-1]
        fitted = fit_mixture(
            out, mix.num_components, init=_as_mixture(deep), num_iters=em_iters
        )
        rows.append(
            dict(
                num_layers=int(n),
                map_rms=float(jnp.sqrt(jnp.mean(jnp.sum((out - x_deep) ** 2, axis=1)))),
                entropy=float(fitted.entropy()),
                entropy_deep=h_deep,
            )
        )
    return rows


# --------------------------------------------------------------------------
# Learned DAEs: an MLP denoiser trained with optax
# --------------------------------------------------------------------------


class Denoiser(eqx.Module):
    """A learned DAE $g(\\tilde x)=\\tilde x+f_\\theta(\\tilde x)$ with $f_\\theta$ an `eqx.nn.MLP`.

    The residual form makes $f_\\theta$ the transport displacement $g(x)-x$
    directly. `__call__` takes one point `[m]`.

    **Fields:** `mlp` ($\\mathbb R^m\\to\\mathbb R^m$), `noise` (the variance
    $t$ it was trained at, static).
    """

    mlp: eqx.nn.MLP
    noise: float = eqx.field(static=True)

    def __call__(self, x: Array) -> Array:
        return x + self.mlp(x)

    def displacement(self, x: Array) -> Array:
        """$g(x)-x$ at one point."""
        return self.mlp(x)


def train_denoiser(
    x: Points,
    t: float,
    *,
    key: Key,
    width: int = 64,
    depth: int = 2,
    num_steps: int = 500,
    batch_size: int = 256,
    learning_rate: float = 3e-3,
    progress: bool = True,
    steps_per_call: int = 50,
) -> Denoiser:
    """Train a DAE on samples: minimise $E\\|g(x+\\sqrt t\\varepsilon)-x\\|^2$ with Adam (optax).

    Its minimiser over all functions is $E[x\\mid\\tilde x]=\\tilde x+t\\nabla\\log(W_t*\\mu)(\\tilde x)$,
    the analytic DAE (THEORY.md section 3). Batches and noise are drawn
    from `key`, so a key fixes the result. Steps run `steps_per_call` at a
    time in one jitted `lax.scan`; a tqdm bar reports the loss.

    **Arguments:**

    - `x`: `[n, m]` clean samples. `t`: noise variance (> 0).
    - `key`: PRNG key (initialisation, batches, noise).
    - `width`, `depth`: MLP hidden width and number of hidden layers (GELU).
    - `num_steps`, `batch_size`, `learning_rate`: Adam with cosine decay.
    - `progress`: show a tqdm progress bar.

    **Returns:** the trained `Denoiser`.

    **Raises:** `ValueError` for bad shapes, $t\\le0$ or non-positive sizes.
    """
    x = _check_points(x)
    n, m = x.shape
    _check_time(t)
    if not float(t) > 0:
        raise ValueError(f"train_denoiser needs a positive noise variance t; got {t}.")
    if min(width, depth, num_steps, batch_size, steps_per_call) < 1:
        raise ValueError(
            "width, depth, num_steps, batch_size and steps_per_call must be >= 1."
        )
    kinit, ktrain = jr.split(key)
    mlp = eqx.nn.MLP(
        m, m, width, depth, activation=jax.nn.gelu, key=kinit, dtype=x.dtype
    )
    # start at the identity map: zero displacement
    mlp = eqx.tree_at(lambda f: f.layers[-1].weight, mlp, mlp.layers[-1].weight * 0.01)
    model = Denoiser(mlp, float(t))
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05)
    optim = optax.adam(schedule)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt_state = optim.init(params)
    sqrt_t = math.sqrt(float(t))

    def loss_fn(p, xb, noise):
        mdl = eqx.combine(p, static)
        out = jax.vmap(mdl)(xb + sqrt_t * noise)
        return jnp.mean(jnp.sum((out - xb) ** 2, axis=-1))

    @eqx.filter_jit
    def run(p, s, keys):
        def body(carry, k):
            p, s = carry
            ki, kn = jr.split(k)
            xb = x[jr.randint(ki, (batch_size,), 0, n)]
            noise = jr.normal(kn, xb.shape, xb.dtype)
            loss, g = jax.value_and_grad(loss_fn)(p, xb, noise)
            upd, s = optim.update(g, s, p)
            return (optax.apply_updates(p, upd), s), loss

        (p, s), losses = lax.scan(body, (p, s), keys)
        return p, s, losses

    keys = jr.split(ktrain, num_steps)
    from tqdm.auto import tqdm

    bar = tqdm(
        total=num_steps, desc=f"DAE t={float(t):.3g}", disable=not progress, leave=False
    )
    done = 0
    while done < num_steps:
        size = min(steps_per_call, num_steps - done)
        params, opt_state, losses = run(params, opt_state, keys[done : done + size])
        done += size
        bar.update(size)
        bar.set_postfix(loss=float(losses[-1]))
    bar.close()
    return eqx.combine(params, static)


def train_stacked_denoisers(
    x: Points,
    t: float,
    num_layers: int,
    *,
    key: Key,
    progress: bool = True,
    **train_kwargs,
) -> tuple[list[Denoiser], Array]:
    """Stack L learned DAEs of noise $t/L$, each retrained on the current pushforward.

    Layer $l$ is trained by `train_denoiser` on $x^{(l)}$ and
    $x^{(l+1)}=g_l(x^{(l)})$ (Sonoda-Murata's stacked DAE; its analytic
    counterpart is `stacked_dae`).

    **Returns:** `(denoisers, tracks [L+1, n, m])`.

    **Raises:** `ValueError` for L < 1 and as `train_denoiser`.
    """
    x = _check_points(x)
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1; got {num_layers}.")
    tau = float(t) / num_layers
    models, tracks = [], [x]
    for k in jr.split(key, num_layers):
        model = train_denoiser(
            tracks[-1], tau, key=k, progress=progress, **train_kwargs
        )
        models.append(model)
        tracks.append(jax.vmap(model)(tracks[-1]))
    return models, jnp.stack(tracks)


def relative_map_error(
    fn: Callable[[Array], Array], reference: Callable[[Array], Array], x: Points
) -> Array:
    """$\\|d-d^*\\|/\\|d^*\\|$ over `x` for displacements $d=f(x)-x$, $d^*=\\mathrm{ref}(x)-x$ (batched maps)."""
    x = _check_points(x)
    d, dref = fn(x) - x, reference(x) - x
    return jnp.sqrt(jnp.sum((d - dref) ** 2) / jnp.sum(dref**2))


# --------------------------------------------------------------------------
# The displacement field as an integral network (ridgelet transform)
# --------------------------------------------------------------------------


def displacement_network(
    displacement: Callable[[Array], Array],
    center: ArrayLike,
    radius: float,
    *,
    key: Key,
    num_units: int = 20_000,
    num_nodes: int = 40,
    a_scale: float = 1.5,
    order: int = 2,
    compress_to: int | None = 300,
) -> tuple[IntegralNetwork, Callable[[Array], Array]]:
    """Express a localised displacement field $d(x)\\chi(x)$ as an integral network by the ridgelet transform.

    A DAE's displacement $d=g_t-\\mathrm{id}$ grows linearly at infinity (the
    score of a Gaussian is linear), so its ridgelet transform does not exist;
    it is localised by the smooth window $\\chi(x)=\\exp(-\\frac12(|x-c|/r)^4)$
    ($\\chi\\approx1$ well inside the ball of radius r) (THEORY.md section 3).
    Then $\\gamma=R[d\\chi;G^{(k)}]/\\langle\\!\\langle G,G^{(k)}\\rangle\\!\\rangle$
    with the Gaussian activation $G$ and $\\rho=G^{(k)}$, $k$ even $\\ge m$
    (THEORY.md section 1): $R$ by a midpoint grid on the box $c\\pm2.6r$,
    $S$ by Monte Carlo units from `flowrep.sample_parameters`. With
    `compress_to`, `compress_to` units are then drawn from $|\\gamma|$ and
    their output weights refitted by least squares on the grid
    (`flowrep.sample_network`), which is far more accurate than the raw
    Monte Carlo $S[\\gamma]$ for the same cost at evaluation time.

    **Arguments:**

    - `displacement`: $d$, one point `[m]` to `[m]`.
    - `center` `[m]`, `radius` $r$: the region.
    - `key`: PRNG key. `num_units`: Monte Carlo units for $S$.
    - `num_nodes`: grid points per axis for $R$ (`num_nodes**m` in all).
    - `a_scale`: spread of the proposal $a\\sim N(0,\\text{a\\_scale}^2I)$.
    - `order`: $k$ (even, $\\ge m$). `compress_to`: units after refit, or None.

    **Returns:** `(network, target)`: the `IntegralNetwork` and the localised
    target $x\\mapsto d(x)\\chi(x)$ it represents.

    **Raises:** `ValueError` for a bad region, order or sizes.
    """
    center = jnp.atleast_1d(jnp.asarray(center, dtype=float))
    m = center.shape[0]
    if not (radius > 0 and math.isfinite(radius)):
        raise ValueError(f"`radius` must be positive and finite; got {radius}.")
    if order % 2 or order < m:
        raise ValueError(
            f"the Gaussian activation pairs with G^(k) for even k >= m={m}; got k={order}."
        )
    if min(num_units, num_nodes) < 1:
        raise ValueError("num_units and num_nodes must be >= 1.")
    out = jax.eval_shape(displacement, center)
    if out.shape != (m,):
        raise ValueError(
            f"`displacement` must map a point ({m},) to ({m},); got {out.shape}."
        )

    def target(x):
        chi = jnp.exp(-0.5 * (jnp.sum((x - center) ** 2) / radius**2) ** 2)
        return displacement(x) * chi

    sigma = Gaussian()
    rho = GaussianDerivative(order)
    pairing = admissibility(sigma, rho, m)
    half = 2.6 * radius
    xg, wg = grid_nodes(-half, half, num_nodes, m)
    values = jax.vmap(lambda z: target(z + center))(xg)
    ka, ks = jr.split(key)
    a, b, wab = sample_parameters(
        ka,
        num_units,
        m,
        radius_law="gaussian",
        a_scale=a_scale,
        x_radius=1.5 * radius,
        b_margin=3.0,
    )
    gamma = ridgelet_transform(values, rho, a, b, xg, wg) / pairing
    # centred transform: sigma(a.(x - c) - b) = sigma(a.x - (b + a.c))
    b_shift = b + a @ center
    if compress_to is None:
        net = IntegralNetwork(a, b_shift, gamma * wab[:, None], sigma)
    else:
        net = sample_network(
            gamma,
            a,
            b_shift,
            wab,
            sigma,
            compress_to,
            key=ks,
            refit=(xg + center, values),
        )
    return net, target


# --------------------------------------------------------------------------
# Entropy along the deep flow: three estimates side by side
# --------------------------------------------------------------------------


def entropy_curves(
    law: AbstractLaw,
    ts: ArrayLike,
    *,
    key: Key,
    num_samples: int = 2000,
    k: int = 5,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> dict[str, np.ndarray]:
    """$H[\\mu_t]$ along the deep-DAE flow from three independent routes.

    - `closed_form`: $H$ of $\\mu_t=\\sum_k\\pi_kN(m_k,\\Sigma_k-2tI)$: exact
      for a Gaussian, $\\frac12\\sum_i\\log(2\\pi e(\\lambda_i-2t))$; by
      Gauss-Hermite quadrature for a mixture.
    - `continuity`: $-\\frac1n\\sum_i[\\log\\mu_0(x_i)+\\int_0^t-\\nabla\\cdot v]$
      along the flow of `num_samples` samples (`flow(..., log_density="exact")`),
      with its standard error `continuity_stderr`.
    - `knn`: the Kozachenko-Leonenko k-NN estimate on the flowed samples.

    Also `fisher`: $\\int|\\nabla\\log\\mu_t|^2d\\mu_t$ (quadrature; for a
    Gaussian $\\mathrm{tr}\\,\\Sigma_t^{-1}$), so that $dH/dt=-$`fisher`.

    **Returns:** a dict of `[T]` numpy arrays plus `t`.

    **Raises:** `CollapseError` if `ts` reaches $t^*$; `ValueError` for bad `ts`.
    """
    ts = np.asarray(ts, dtype=float).reshape(-1)
    if ts.size == 0 or ts[0] != 0:
        raise ValueError("`ts` must start at 0 (the data law).")
    mix = _as_mixture(law)
    _check_horizon(ts[-1], ts, float(mix.collapse_time))
    x0 = mix.sample(num_samples, key=key)
    res = deep_dae_flow(
        mix, x0, float(ts[-1]), ts=ts, log_density="exact", rtol=rtol, atol=atol
    )
    assert res.log_density_tracks is not None
    logp = jax.vmap(mix.log_prob)(x0)[None] + res.log_density_tracks
    closed, fisher = [], []
    for t in ts:
        lt = law.backward_heat(float(t))
        closed.append(float(lt.entropy()))
        if isinstance(lt, GaussianLaw):
            fisher.append(float(jnp.trace(jnp.linalg.inv(lt.cov))))
        else:
            assert isinstance(lt, GaussianMixture)
            fisher.append(float(lt.expect(lambda z, lt=lt: jnp.sum(lt.score(z) ** 2))))
    tracks = jnp.asarray(res.tracks)
    knn = [float(knn_entropy(tracks[i], k=k)) for i in range(ts.size)]
    return dict(
        t=ts,
        closed_form=np.asarray(closed),
        continuity=np.asarray(-jnp.mean(logp, axis=1)),
        continuity_stderr=np.asarray(jnp.std(logp, axis=1) / math.sqrt(num_samples)),
        knn=np.asarray(knn),
        fisher=np.asarray(fisher),
    )


# --------------------------------------------------------------------------
# The paper's story in pictures
# --------------------------------------------------------------------------


def story_mixture() -> GaussianMixture:
    """The 2-D, three-component mixture used by `dae_story`."""
    return GaussianMixture(
        jnp.array([0.3, 0.4, 0.3]),
        jnp.array([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5]]),
        jnp.array(
            [
                [[0.6, 0.0], [0.0, 0.6]],
                [[0.9, 0.2], [0.2, 0.7]],
                [[0.6, -0.1], [-0.1, 0.8]],
            ]
        ),
    )


def _write_atomic(path, write) -> None:
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def dae_story(
    out_dir: str, *, quick: bool = True, key: Key | None = None, progress: bool = False
) -> dict:
    """Reproduce Sonoda & Murata's DAE story on a 2-D mixture; write PNGs and `dae_story.json`.

    1. `transport.png`: data, the shallow DAE $g_t$ and the deep DAE $\\phi_t$
       applied to the same samples, with the exact $\\mu_t$ contours.
    2. `displacement.png`: the displacement fields $g_t(x)-x$, $\\phi_t(x)-x$
       and a trained denoiser's $g(x)-x$ on a grid.
    3. `entropy.png`: $H[\\mu_t]$ along the deep flow: closed form
       (quadrature), continuity equation, k-NN.
    4. `depth.png`: the "deeper converges faster" sweep: L stacked DAEs of
       noise $t/L$ against the deep limit (Gaussian: exact $W_2$; mixture:
       map RMS).

    **Arguments:** `out_dir` (created if missing); `quick` (smaller sizes,
    about a minute on a CPU); `key` (default `PRNGKey(0)`); `progress`
    (tqdm bars while training).

    **Returns:** the summary dict also written to `dae_story.json`.
    """
    import json
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    key = jr.PRNGKey(0) if key is None else key
    k_data, k_ent, k_depth, k_train, k_test = jr.split(key, 5)
    mix = story_mixture()
    tstar = float(mix.collapse_time)
    t = 0.8 * tstar
    n = 800 if quick else 4000
    x0 = mix.sample(n, key=k_data)
    shallow = shallow_dae(mix, t, x0)
    deep_res = deep_dae_flow(mix, x0, t)
    deep = jnp.asarray(deep_res.xs)
    mu_t = mix.backward_heat(t)
    summary: dict = dict(t=t, collapse_time=tstar, num_samples=n, quick=quick)

    def _save(fig, name):
        path = os.path.join(out_dir, name)
        _write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))
        plt.close(fig)
        return path

    lo, hi = np.array([-4.5, -2.5]), np.array([4.5, 5.0])
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    grid = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1))

    def contour(ax, law, color):
        dens = np.asarray(jnp.exp(jax.vmap(law.log_prob)(grid))).reshape(gx.shape)
        ax.contour(gx, gy, dens, levels=6, colors=color, linewidths=0.7)

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharex=True, sharey=True)
    panels = [
        (x0, "data $x\\sim\\mu_0$", mix),
        (shallow, f"shallow DAE $g_t(x)$, t={t:.3f}", None),
        (deep, "deep DAE $\\phi_t(x)$ (flow), contours: $\\mu_t$", mu_t),
    ]
    for ax, (pts, title, law) in zip(axes, panels):
        ax.scatter(*np.asarray(pts).T, s=3, alpha=0.5)
        if law is not None:
            contour(ax, law, "k")
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
    _save(fig, "transport.png")

    # displacement fields on a coarse grid, plus a learned DAE
    qx, qy = np.meshgrid(np.linspace(-4, 4, 17), np.linspace(-2, 4.5, 14))
    q = jnp.asarray(np.stack([qx.ravel(), qy.ravel()], 1))
    d_shallow = shallow_dae(mix, t, q) - q
    d_deep = jnp.asarray(deep_dae_flow(mix, q, t).xs) - q
    steps = 300 if quick else 2000
    x_train = mix.sample(4000 if quick else 20_000, key=k_train)
    model = train_denoiser(x_train, t, key=k_train, num_steps=steps, progress=progress)
    d_learned = jax.vmap(model.displacement)(q)
    x_test = mix.sample(1000, key=k_test)
    summary["learned_relative_error"] = float(
        relative_map_error(jax.vmap(model), lambda z: shallow_dae(mix, t, z), x_test)
    )
    summary["learned_steps"] = steps
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharex=True, sharey=True)
    for ax, (d, title) in zip(
        axes,
        [
            (d_shallow, "shallow $g_t(x)-x$"),
            (d_deep, "deep $\\phi_t(x)-x$"),
            (
                d_learned,
                f"learned MLP DAE (rel. err {summary['learned_relative_error']:.3f})",
            ),
        ],
    ):
        contour(ax, mix, "0.7")
        ax.quiver(
            *np.asarray(q).T,
            *np.asarray(d).T,
            angles="xy",
            scale_units="xy",
            scale=1.0,
            width=0.004,
        )
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
    _save(fig, "displacement.png")

    # entropy along the deep flow
    ts = np.linspace(0.0, t, 6 if quick else 12)
    ent = entropy_curves(mix, ts, key=k_ent, num_samples=n)
    summary["entropy"] = {k: np.asarray(v).tolist() for k, v in ent.items()}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(ts, ent["closed_form"], "k-", label="closed form $\\mu_t$ (quadrature)")
    ax.errorbar(
        ts,
        ent["continuity"],
        yerr=2 * ent["continuity_stderr"],
        fmt="o",
        ms=4,
        label="continuity equation ($\\pm2$ s.e.)",
    )
    ax.plot(ts, ent["knn"], "s--", ms=4, label="k-NN (Kozachenko-Leonenko)")
    ax.set_xlabel("t")
    ax.set_ylabel("$H[\\mu_t]$")
    ax.set_title("entropy decreases along the deep DAE")
    ax.legend(fontsize=8)
    _save(fig, "entropy.png")

    # deeper converges faster
    ls = (1, 2, 4, 8, 16, 32, 64) if not quick else (1, 2, 4, 8, 16)
    gauss = GaussianLaw(jnp.zeros(2), jnp.array([[1.0, 0.3], [0.3, 0.6]]))
    t_g = 0.8 * float(gauss.collapse_time)
    table_g = depth_table(gauss, t_g, ls)
    ls_mix = (1, 2, 4, 8) if quick else (1, 2, 4, 8, 16)
    table_m = depth_table(
        mix, t, ls_mix, key=k_depth, num_samples=1500 if quick else 4000, em_iters=30
    )
    summary["depth_table_gaussian"] = dict(t=t_g, rows=table_g)
    summary["depth_table_mixture"] = dict(t=t, rows=table_m)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].loglog(ls, [r["w2_to_deep"] for r in table_g], "o-")
    axes[0].set_title(
        f"Gaussian: $W_2$(L stacked DAEs, deep limit), t={t_g:.3f}", fontsize=9
    )
    axes[0].set_xlabel("L")
    axes[1].loglog(ls_mix, [r["map_rms"] for r in table_m], "o-")
    axes[1].set_title("mixture: RMS $|g^{(L)}(x)-\\phi_t(x)|$", fontsize=9)
    axes[1].set_xlabel("L")
    _save(fig, "depth.png")

    summary["files"] = sorted(f for f in os.listdir(out_dir) if f.endswith(".png")) + [
        "dae_story.json"
    ]

    def _dump(p):
        with open(p, "w") as fh:
            json.dump(summary, fh, indent=2)

    _write_atomic(os.path.join(out_dir, "dae_story.json"), _dump)
    return summary
