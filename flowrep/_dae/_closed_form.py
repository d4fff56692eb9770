"""Denoising autoencoders of a law as transport (Sonoda & Murata, arXiv 1712.04145).

See docs/theory/dae.md#optimal-dae. With Gaussian noise of variance $t$ and data law
$\\mu_0$, the optimal DAE is the transport map
$g_t(x)=E[x\\mid x+\\sqrt t\\varepsilon]=x+t\\nabla\\log(W_t*\\mu_0)(x)$
(Tweedie); on an empirical cloud it is one Gaussian mean-shift step. A deep
DAE (infinitesimal noise, retrained on each pushforward) is the flow
$\\dot x=\\nabla\\log\\mu_t(x)$, whose marginal solves the backward heat
equation $\\partial_t\\mu_t=-\\Delta\\mu_t$ and whose entropy decreases,
$\\frac{d}{dt}H[\\mu_t]=-\\int|\\nabla\\log\\mu_t|^2d\\mu_t$. L stacked DAEs of
noise $t/L$ each approach that flow as L grows.

This module holds the DAEs of a Gaussian or mixture law in closed form
(shallow map, deep flow, entropy along it) and the checks the other DAE
modules share. Clouds: `_dae_empirical`; stacks and the depth table:
`_dae_stacked`; trained denoisers: `_dae_learned`; the displacement as an
integral network: `_dae_ridgelet`; the paper's figures: `_dae_story`.
"""

import math
from collections.abc import Callable
from typing import Literal, overload

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._custom_types import Key, Points
from .._depth._flow import flow
from .._depth._vector_field import AbstractVectorField
from .._transport._entropy import knn_entropy
from .._transport._tracks import Tracks
from .._validate import (
    check_bool,
    check_key,
    check_positive_int,
    check_size,
    check_value,
    is_concrete,
)
from ._checks import check_before_collapse, check_horizon, check_points, check_time
from ._laws import (
    AbstractLaw,
    as_mixture,
    component_logpdfs,
    GaussianLaw,
    GaussianMixture,
)


def _spectral(c: Array, fn: Callable[[Array], Array]) -> Array:
    """$V\\,\\mathrm{diag}(fn(\\lambda))V^\\top$ for a symmetric $c=V\\,\\mathrm{diag}(\\lambda)V^\\top$."""
    lam, vec = jnp.linalg.eigh(c)
    out = (vec * fn(lam)) @ vec.T
    return 0.5 * (out + out.T)  # exactly symmetric (float32 rounding is not)


# --------------------------------------------------------------------------
# Shallow DAE of a law: the closed form
# --------------------------------------------------------------------------


def shallow_dae(law: AbstractLaw, t, x: Points) -> Points:
    """The optimal DAE of noise variance $t$ for a Gaussian or mixture law, applied to `x`.

    $g_t(x)=\\sum_kw_k(x)[m_k+\\Sigma_k(\\Sigma_k+tI)^{-1}(x-m_k)]$ with
    $w_k\\propto\\pi_kN(x;m_k,\\Sigma_k+tI)$ (docs/theory/dae.md#gaussian-mixtures), which is
    $x+t\\nabla\\log(W_t*\\mu)(x)$. For one Gaussian,
    $g_t(x)=m+\\Sigma(\\Sigma+tI)^{-1}(x-m)$.

    **Arguments:** `law` (`GaussianLaw` or `GaussianMixture`), `t >= 0`,
    `x` `(n, d)`.

    **Returns:** $g_t(x_i)$, `(n, d)`.

    **Raises:** `ValueError` for $t<0$, a dimension mismatch, or a NaN/inf
    result (points so far out that a mixture's quadratic forms overflow;
    one Gaussian is linear and never overflows before `x` does).
    """
    mix = as_mixture(law)
    x = check_points(x, mix.dim)
    t = check_time(t)
    out = _shallow_dae(mix.weights, mix.means, mix.covs, jnp.asarray(t, x.dtype), x)
    return check_value(
        out,
        lambda g: ~jnp.isfinite(g),
        "shallow_dae: the result is NaN/inf at the points `x`: they are so far "
        "from the mixture's means that the responsibilities' quadratic forms "
        "overflow their dtype; centre or rescale them, or use float64.",
    )


@jax.jit
def _shallow_dae(weights, means, covs, t, x):
    smoothed = covs + t * jnp.eye(means.shape[1], dtype=covs.dtype)
    # Sigma (Sigma + tI)^{-1} = ((Sigma + tI)^{-1} Sigma)^T, both symmetric
    gains = jax.vmap(lambda c, cs: jnp.linalg.solve(cs, c).T)(covs, smoothed)

    def one(xi):
        targets = means + jnp.einsum("kij,kj->ki", gains, xi - means)
        if means.shape[0] == 1:  # one Gaussian: linear, finite wherever x is
            return targets[0]
        r = jax.nn.softmax(jnp.log(weights) + component_logpdfs(xi, means, smoothed))
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
    t = check_time(t)
    return GaussianLaw(
        law.mean, _spectral(law.cov, lambda lam: lam * (lam / (lam + t)) ** 2)
    )


# --------------------------------------------------------------------------
# Deep DAE: the flow x' = grad log mu_t(x)
# --------------------------------------------------------------------------


class DeepDAEField(AbstractVectorField):
    """The deep-DAE vector field $v(t,x)=\\nabla\\log\\mu_t(x)$, $\\mu_t=\\sum_k\\pi_kN(m_k,\\Sigma_k-2tI)$.

    Built once from the eigendecompositions $\\Sigma_k=V_k\\Lambda_kV_k^\\top$ so
    each evaluation costs $O(Km^2)$. Call as `field(t, x, args)` with one
    point `x` `(d,)` (diffrax convention) or a batch `(n, d)`. Valid for
    $t<t^*=\\min_k\\lambda_{\\min}/2$; `deep_dae_flow` enforces it.
    """

    log_weights: Array
    means: Array
    eigvals: Array
    eigvecs: Array

    def __init__(self, law: AbstractLaw):
        mix = as_mixture(law)
        self.log_weights = jnp.log(mix.weights)
        self.means = mix.means
        self.eigvals, self.eigvecs = jnp.linalg.eigh(mix.covs)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def t0(self) -> None:
        return None

    @property
    def t1(self) -> None:  # the horizon t* is an array: `collapse_time`
        return None

    @property
    def collapse_time(self) -> Array:
        return jnp.min(self.eigvals) / 2

    def _project(self, t, x):
        """Per component: the eigenvalues of $\\Sigma_k-2tI$ and $V_k^\\top(x-m_k)$."""
        lam = self.eigvals - 2 * t
        return lam, jnp.einsum("kji,kj->ki", self.eigvecs, x - self.means)

    def log_prob(self, t, x: Array) -> Array:
        """$\\log\\mu_t(x)$ at one point."""
        lam, proj = self._project(t, x)
        terms = self.log_weights - 0.5 * jnp.sum(
            proj**2 / lam + jnp.log(2 * jnp.pi * lam), axis=-1
        )
        return jax.nn.logsumexp(terms)

    def _parts(self, t, x):
        lam, proj = self._project(t, x)
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
        """$v_t(x)$ for one point `(d,)` or a batch `(n, d)`.

        **Raises:** `ValueError` for a point of the wrong shape; `t` NaN or
        at/past the collapse time $t^*$ (eagerly, or at run time when traced;
        there $\\mu_t$ does not exist and the field would be NaN); a NaN/inf
        score (NaN points, or points so far out that the quadratic form
        overflows their dtype). `batch_call` and `batch_divergence`, which
        `flow` uses, check the same.
        """
        x = jnp.asarray(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ValueError(
                f"DeepDAEField takes one point `x` ({self.dim},) or a batch (n, {self.dim}); "
                f"got shape {x.shape}."
            )
        t = self._checked_t(t)
        if x.ndim == 2:
            return self.batch_call(t, x, args)
        return self._checked_score(self._one(t, x))

    def _checked_t(self, t):
        return check_value(
            jnp.asarray(t),
            lambda t, ts: ~jnp.isfinite(t) | ~(t < ts),
            "DeepDAEField: `t` must be finite and below the collapse time "
            "t* = lambda_min/2 (mu_t does not exist there).",
            self.collapse_time,
        )

    @staticmethod
    def _checked_score(v):
        # Every evaluation is checked (also `batch_call`, which `flow` uses):
        # a NaN here names its cause instead of flow's generic "the field
        # returned NaN".
        return check_value(v, lambda v: ~jnp.isfinite(v), _SCORE_MESSAGE)

    def batch_call(self, t, xs, args=None):
        """$v_t$ on a batch `(n, d)`; checked as `__call__` is."""
        t = self._checked_t(t)
        return self._checked_score(jax.vmap(lambda xi: self._one(t, xi))(xs))

    def batch_divergence(self, t, xs, args=None):
        """`(v, div)` of shapes `(n, d)` and `(n,)` with the closed form $\\nabla\\cdot v=\\Delta\\log\\mu_t$."""
        t = self._checked_t(t)
        v, div = jax.vmap(lambda xi: self._one_div(t, xi))(xs)
        return self._checked_score(v), self._checked_score(div)


_SCORE_MESSAGE = (
    "DeepDAEField: the score grad log mu_t is NaN/inf at the points `x` (t is "
    "valid): they are NaN/inf, or so far from the law's means that "
    "(x - m)^T Sigma_t^-1 (x - m) overflows their dtype; centre or rescale "
    "them, or use float64."
)


def deep_dae_map(law: GaussianLaw, t, x: Points) -> Points:
    """Closed-form deep-DAE flow map of a Gaussian: $\\phi_t(x)=m+((\\Sigma-2tI)\\Sigma^{-1})^{1/2}(x-m)$.

    **Raises:** `TypeError` for a non-Gaussian law; `ValueError` for $t<0$
    or a dimension mismatch; `CollapseError` for $t\\ge\\lambda_{\\min}/2$.
    """
    if not isinstance(law, GaussianLaw):
        raise TypeError(
            "deep_dae_map is closed form for a GaussianLaw only; use deep_dae_flow for mixtures."
        )
    x = check_points(x, law.dim)
    t = check_before_collapse(check_time(t), law.collapse_time)
    gain = _spectral(law.cov, lambda lam: jnp.sqrt((lam - 2 * t) / lam))
    return law.mean + (x - law.mean) @ gain.T


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
    $x_0\\sim\\mu_0$ (docs/theory/dae.md#deep-dae): the velocity makes $\\mu_t$ solve
    $\\partial_t\\mu_t=-\\nabla\\cdot(\\mu_t\\nabla\\log\\mu_t)=-\\Delta\\mu_t$.

    **Arguments:**

    - `law`: the data law $\\mu_0$ (`GaussianLaw` or `GaussianMixture`).
    - `x0`: `(n, d)` starting points. `t1`: final time, $0<t_1<t^*$.
    - `ts`: optional times to record (within $[0,t_1]$).
    - `log_density`: `False`, `"exact"` or `"hutchinson"` (with `key`): the
      change of $\\log\\mu_t(x_t)$ along each path, $-\\int\\nabla\\cdot v$.
    - `flow_kwargs`: passed to `flowrep.flow` (`solver`, `rtol`, `atol`, ...).

    **Returns:** the `FlowResult` of `flowrep.flow`.

    **Raises:** `CollapseError` if $t_1\\ge t^*=\\min_k\\lambda_{\\min}(\\Sigma_k)/2$
    (raised before integrating, so no NaN is ever returned); `ValueError`
    for $t_1<0$, bad `ts`, a dimension mismatch, or `x0` so far from the
    law's means that the score overflows its dtype (before integrating; at
    run time when traced).
    """
    field = DeepDAEField(law)
    x0 = check_points(x0, field.means.shape[1], "x0")
    t1, ts = check_horizon(t1, ts, field.collapse_time)
    if is_concrete(t1) and float(t1) == 0:
        raise ValueError(
            "deep_dae_flow needs `t1` > 0 (flowrep.flow integrates over a "
            "non-empty interval; at t1 = 0 the map is the identity)."
        )
    x0 = check_value(
        x0,
        lambda x, *_: ~jnp.isfinite(jax.vmap(lambda xi: field._one(0.0, xi))(x)),
        "deep_dae_flow: the score grad log mu_0 overflows at the starting points "
        "`x0` (too far from the law's means for their dtype: "
        "(x - m)^T Sigma^-1 (x - m) is past its range); centre or rescale "
        "them, or use float64.",
        *jax.tree.leaves(field),  # eager only when the law is concrete too
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


# --------------------------------------------------------------------------
# Entropy along the deep flow: three estimates side by side
# --------------------------------------------------------------------------


@overload
def entropy_curves(
    law: AbstractLaw,
    ts: ArrayLike,
    *,
    key: Key,
    num_samples: int = ...,
    k: int = ...,
    rtol: float = ...,
    atol: float = ...,
    return_tracks: Literal[False] = False,
) -> dict[str, np.ndarray]: ...


@overload
def entropy_curves(
    law: AbstractLaw,
    ts: ArrayLike,
    *,
    key: Key,
    num_samples: int = ...,
    k: int = ...,
    rtol: float = ...,
    atol: float = ...,
    return_tracks: Literal[True],
) -> tuple[dict[str, np.ndarray], Tracks]: ...


def entropy_curves(
    law: AbstractLaw,
    ts: ArrayLike,
    *,
    key: Key,
    num_samples: int = 2000,
    k: int = 5,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    return_tracks: bool = False,
) -> dict[str, np.ndarray] | tuple[dict[str, np.ndarray], Tracks]:
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

    **Arguments:**

    - `law`: the data law $\\mu_0$ (`GaussianLaw` or `GaussianMixture`).
    - `ts`: `[T]` times, starting at 0, non-decreasing, below $t^*$.
    - `key`: draws the `num_samples` samples of $\\mu_0$ that are flowed.
    - `k`: neighbours for the k-NN estimate. `rtol`, `atol`: solver tolerances.
    - `return_tracks`: also return the flowed samples, so they can be plotted
      or scored (`flowrep.score_tracks`) without integrating again. Needs
      `ts` strictly increasing with at least two times.

    **Returns:** a dict of `[T]` numpy arrays plus `t`; with
    `return_tracks=True`, the pair `(curves, tracks)` where `tracks` is a
    `flowrep.Tracks` with `points` `[T, num_samples, m]` (the samples at each
    time of `ts`, the very ones the `continuity` and `knn` curves are computed
    on) and `times` = `ts`.

    **Raises:** `TypeError` under `jax.jit` (not jittable); `CollapseError`
    if `ts` reaches $t^*$; `ValueError` for bad
    `ts` (or, with `return_tracks`, times that do not strictly increase).
    """
    leaves = jax.tree_util.tree_leaves(law)
    if not is_concrete(ts, *leaves):
        raise TypeError(
            "entropy_curves is not jittable (it returns numpy curves and runs a "
            "k-NN estimate per time): call it outside jax.jit, with concrete `ts` and `law`."
        )
    if not isinstance(law, AbstractLaw):
        raise TypeError(
            f"`law` must be a GaussianLaw or GaussianMixture; got {type(law).__name__}."
        )
    if ts is None or isinstance(ts, (str, bytes)):
        raise TypeError(f"`ts` must be a 1-D array of times; got {ts!r}.")
    try:
        ts = np.asarray(ts, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"`ts` must be a 1-D array of real times; got {ts!r}."
        ) from None
    if ts.ndim != 1 or ts.size == 0:
        raise ValueError(
            f"`ts` must be a non-empty 1-D array of times; got shape {ts.shape}."
        )
    if not np.all(np.isfinite(ts)) or np.any(np.diff(ts) < 0):
        raise ValueError(f"`ts` must be finite and non-decreasing; got {ts.tolist()}.")
    if ts[0] != 0:
        raise ValueError("`ts` must start at 0 (the data law).")
    num_samples = check_positive_int(num_samples, "num_samples", 2)
    check_size(num_samples, "num_samples", 8 * law.dim * (ts.size + 4), num_samples)
    k = check_positive_int(k, "k")
    if k >= num_samples:
        raise ValueError(
            f"`k` must be < num_samples={num_samples} (neighbours among the samples); got {k}."
        )
    return_tracks = check_bool(return_tracks, "return_tracks")
    if return_tracks and (ts.size < 2 or np.any(np.diff(ts) <= 0)):
        raise ValueError(
            "return_tracks=True needs at least two strictly increasing times in `ts` "
            f"(the times of a flowrep.Tracks); got {ts.tolist()}."
        )
    mix = as_mixture(law)
    check_horizon(ts[-1], ts, float(mix.collapse_time))
    check_key(key)
    x0 = mix.sample(num_samples, key=key)
    if ts[-1] == 0:  # every time is 0: the data law itself, no flow
        tracks = jnp.broadcast_to(x0, (ts.size, *x0.shape))
        logp = jnp.broadcast_to(jax.vmap(mix.log_prob)(x0), (ts.size, num_samples))
        res_ts = jnp.asarray(ts)
    else:
        res = deep_dae_flow(
            mix, x0, float(ts[-1]), ts=ts, log_density="exact", rtol=rtol, atol=atol
        )
        assert res.log_density_tracks is not None
        logp = jax.vmap(mix.log_prob)(x0)[None] + res.log_density_tracks
        tracks, res_ts = jnp.asarray(res.tracks), res.ts
    closed, fisher = [], []
    for t in ts:
        lt = law.backward_heat(float(t))
        closed.append(float(lt.entropy()))
        if isinstance(lt, GaussianLaw):
            fisher.append(float(jnp.trace(jnp.linalg.inv(lt.cov))))
        else:
            assert isinstance(lt, GaussianMixture)
            fisher.append(float(lt.expect(lambda z, lt=lt: jnp.sum(lt.score(z) ** 2))))
    knn = [float(knn_entropy(tracks[i], k=k)) for i in range(ts.size)]
    curves = dict(
        t=ts,
        closed_form=np.asarray(closed),
        continuity=np.asarray(-jnp.mean(logp, axis=1)),
        continuity_stderr=np.asarray(jnp.std(logp, axis=1) / math.sqrt(num_samples)),
        knn=np.asarray(knn),
        fisher=np.asarray(fisher),
    )
    if return_tracks:
        return curves, Tracks(tracks, res_ts)
    return curves
