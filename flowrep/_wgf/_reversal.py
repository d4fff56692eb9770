"""The DAE story closed: the deep DAE is the time reversal of the heat flow.

The deep DAE $\\dot x=\\nabla\\log\\mu_t$ is the Wasserstein gradient flow of
$H$ (it lowers the entropy at the rate of the Fisher information); the heat
flow is the gradient flow of $-H=\\int\\mu\\log\\mu$ (docs/theory/dae.md#deep-dae,
docs/theory/gradient-flows.md#entropy-dissipation). Running the deep DAE from
$\\mu_0$ to $\\mu_t$ and then the heat flow for the same time returns to $\\mu_0$
(Gaussian: $\\Sigma\\to\\Sigma-2tI\\to\\Sigma$; mixture: every covariance
$\\Sigma_k\\to\\Sigma_k-2tI\\to\\Sigma_k$, compared by densities,
docs/theory/gradient-flows.md#dae-reversal).
"""

import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array

from .._custom_types import Key
from .._dae._closed_form import deep_dae_flow, DeepDAEField
from .._dae._laws import AbstractLaw, GaussianLaw, GaussianMixture
from .._depth._flow import flow
from .._transport._w2 import wasserstein2
from .._validate import (
    as_points,
    check_key,
    check_memory,
    check_positive_int,
    check_value,
    is_concrete,
)
from ._energies import check_positive, EntropyEnergy
from ._flows import gradient_flow, jko


def _check_law(law) -> AbstractLaw:
    if not isinstance(law, (GaussianLaw, GaussianMixture)):
        raise TypeError(
            f"`law` must be a GaussianLaw or a GaussianMixture; got {type(law).__name__}."
        )
    return law


def gaussian_entropy_fisher(x: Array) -> tuple[Array, Array]:
    """$H$ and Fisher information $\\mathrm{tr}\\,\\hat\\Sigma^{-1}$ of the Gaussian fit $N(\\hat m,\\hat\\Sigma)$ to a cloud `x` `(n, d)`."""
    x = as_points(x, "x", min_samples=2)
    d = x.shape[1]
    if x.shape[0] <= d:
        raise ValueError(
            f"`x` needs more samples than dimensions (n > d) for a non-singular "
            f"covariance; got n={x.shape[0]}, d={d}."
        )
    # an exact power-of-two rescale keeps squares finite for huge clouds
    big = jnp.max(jnp.abs(x))
    k = jnp.exp2(jnp.floor(jnp.log2(jnp.maximum(big, jnp.finfo(x.dtype).tiny))))
    r = (x - jnp.mean(x, axis=0)) / k
    cov = r.T @ r / x.shape[0]
    sign, logdet = jnp.linalg.slogdet(cov)
    logdet = logdet + 2 * d * jnp.log(k)
    h = 0.5 * (d * jnp.log(2 * jnp.pi * jnp.e) + logdet)
    fisher = jnp.trace(jnp.linalg.inv(cov)) / k**2
    # coincident or collinear samples: a singular covariance (H = -inf); a
    # tiny float32 cloud: tr(cov^-1) beyond the dtype's range
    h = check_value(
        h,
        # (a Fisher information that underflows to 0, a cloud of scale
        # ~1e200 in float64, is the rounding of the result, not an error)
        lambda h, f, sign: ~(jnp.isfinite(h) & jnp.isfinite(f) & (f >= 0) & (sign > 0)),
        "gaussian_entropy_fisher: the covariance of `x` is singular (coincident "
        "or collinear samples) or its Fisher information overflows the dtype "
        "(use float64)",
        fisher,
        sign,
    )
    return h, fisher


def law_entropy_fisher(
    law: AbstractLaw, ts: Array, *, key: Key | None = None, num_samples: int = 20_000
) -> tuple[Array, Array]:
    """$H(\\mu_\\tau)$ and $I(\\mu_\\tau)=E_{\\mu_\\tau}\\|\\nabla\\log\\mu_\\tau\\|^2$ of the deep-DAE law $\\mu_\\tau$ at each of `ts`.

    A Gaussian: closed forms $\\frac12\\log\\det(2\\pi e(\\Sigma-2\\tau I))$ and
    $\\mathrm{tr}(\\Sigma-2\\tau I)^{-1}$. A mixture: tensor Gauss-Hermite
    quadrature (`GaussianMixture.expect`, dimension <= 4), else Monte Carlo
    with `num_samples` draws (needs `key`).

    **Arguments:** `law`, a `GaussianLaw` or `GaussianMixture`; `ts`, a
    non-empty 1-D array (or sequence) of times $\\ge0$; `key`; `num_samples`.

    Host-side (a loop over concrete times): not jittable, and a traced `ts`
    is refused with a `TypeError`.

    **Raises:** `ValueError` for a mixture of dimension > 4 without `key`, an
    empty or non-1-D `ts`, NaN or negative times, or a bad `num_samples`;
    `CollapseError` for a time past the collapse.
    """
    law = _check_law(law)
    num_samples = check_positive_int(num_samples, "num_samples")
    if isinstance(ts, str):
        raise TypeError("`ts` must be a 1-D array of times; got str.")
    if not is_concrete(ts):
        raise TypeError(
            "`ts` must be concrete: law_entropy_fisher runs on the host (a loop over "
            "the times) and is not jittable."
        )
    try:
        ts = jnp.asarray(ts)
    except TypeError as e:
        raise TypeError(
            f"`ts` must be a 1-D array of times; got {type(ts).__name__}."
        ) from e
    if ts.ndim == 0:
        ts = ts[None]
    if ts.ndim != 1 or ts.shape[0] == 0:
        raise ValueError(
            f"`ts` must be a non-empty 1-D array of times; got shape {ts.shape}."
        )
    if not jnp.issubdtype(ts.dtype, jnp.number) or jnp.issubdtype(ts.dtype, jnp.bool_):
        raise TypeError(f"`ts` must hold real numbers; got dtype {ts.dtype}.")
    bad = [i for i, s in enumerate(np.asarray(ts)) if not (np.isfinite(s) and s >= 0)]
    if bad:
        raise ValueError(
            f"`ts` must hold finite times >= 0; got ts[{bad[0]}] = {float(ts[bad[0]])}."
        )
    hs, fs = [], []
    for i, s in enumerate(ts):
        mu = law.backward_heat(float(s))
        if isinstance(mu, GaussianLaw):
            hs.append(mu.entropy())
            fs.append(jnp.sum(1 / mu.eigvals))
            continue
        assert isinstance(mu, GaussianMixture)
        sq = lambda y, mu=mu: jnp.sum(mu.score(y) ** 2)  # noqa: E731
        if mu.dim <= 4:
            hs.append(-mu.expect(mu.log_prob))
            fs.append(mu.expect(sq))
        else:
            if key is None:
                raise ValueError(
                    f"law_entropy_fisher needs `key` for a mixture of dimension {mu.dim} > 4 (Monte Carlo)."
                )
            y = mu.sample(num_samples, key=jr.fold_in(key, i))
            hs.append(-jnp.mean(jax.vmap(mu.log_prob)(y)))
            fs.append(jnp.mean(jax.vmap(sq)(y)))
    return jnp.stack(hs), jnp.stack(fs)


class DAEReversal(eqx.Module):
    """What `dae_reversal` returns.

    **Fields:**

    - `ts` `(T,)`: the recorded times on $[0,t]$.
    - `dae_tracks` `(T, n, d)`: the deep DAE from $x_0\\sim\\mu_0$ to $\\mu_t$.
    - `heat_tracks` `(T, n, d)`: the heat flow (particles) back from $\\mu_t$.
    - `jko_points` `(steps + 1, n, d)`: the JKO steps of the heat flow.
    - `dae_entropy`, `dae_fisher`, `heat_entropy`, `heat_fisher` `(T,)`: $H$
      and the Fisher information measured on the particles along both flows.
      Gaussian law: of the cloud's Gaussian fit (`gaussian_entropy_fisher`).
      Mixture: Monte Carlo under the exact law the particles should follow,
      $-\\frac1n\\sum_i\\log\\nu(x_i)$ and $\\frac1n\\sum_i\\|\\nabla\\log\\nu(x_i)\\|^2$
      with $\\nu=\\mu_s$ along the DAE and $\\nu=\\mu_{t-s}$ (the heat smoothing
      of $\\mu_t$ for time $s$) along the heat flow, so along the heat flow the
      entropy is a cross-entropy, $\\ge H(\\mu_{t-s})$ when the particles drift.
    - `law_entropy`, `law_fisher` `(T,)`: the exact $H(\\mu_s)$ and $I(\\mu_s)$
      (`law_entropy_fisher`), against which both are checked.
    - `estimator`: the heat flow's score estimator actually used.
    """

    ts: Array
    dae_tracks: Array
    heat_tracks: Array
    jko_points: Array
    dae_entropy: Array
    dae_fisher: Array
    heat_entropy: Array
    heat_fisher: Array
    law_entropy: Array
    law_fisher: Array
    estimator: str = eqx.field(static=True, default="gaussian")

    @property
    def x0(self) -> Array:
        return self.dae_tracks[0]

    @property
    def xt(self) -> Array:
        return self.dae_tracks[-1]

    @property
    def x_heat(self) -> Array:
        return self.heat_tracks[-1]

    @property
    def x_jko(self) -> Array:
        return self.jko_points[-1]


def dae_reversal(
    law: AbstractLaw,
    t: float,
    *,
    key: Key,
    num_samples: int = 2000,
    num_times: int = 9,
    jko_steps: int = 10,
    estimator: Literal["auto", "gaussian", "blob", "exact"] = "auto",
    rtol: float = 1e-8,
    atol: float = 1e-8,
) -> DAEReversal:
    """Deep DAE from $\\mu_0$ to $\\mu_t$, then the heat flow (continuous and JKO) for the same time.

    The deep DAE uses the law's exact score (`deep_dae_flow`). The heat flow
    $\\dot y=-\\nabla\\log\\nu_s(y)$ from the DAE's final particles uses, by `estimator`:

    - `"gaussian"` (the `"auto"` choice for a `GaussianLaw`):
      `EntropyEnergy(1.0, "gaussian")` on the particles alone. The cloud's
      covariance goes $\\hat\\Sigma_0\\to G\\hat\\Sigma_0G\\to G\\hat\\Sigma_0G+2tI$ with
      $G=((\\Sigma-2tI)\\Sigma^{-1})^{1/2}$, so it returns to $\\hat\\Sigma_0$ up to
      $(\\hat\\Sigma_0-\\Sigma)-G(\\hat\\Sigma_0-\\Sigma)G$, a sampling error of order
      $\\lambda\\sqrt{2/n}\\,(1-g^2)$. Biased for a mixture (it keeps only the
      cloud's first two moments).
    - `"blob"` (the `"auto"` choice for a `GaussianMixture`): `EntropyEnergy(1.0, "blob")`,
      the particles alone with the blob/KDE score (Carrillo, Craig &
      Patacchini 2019; Scott bandwidth): a genuine particle heat flow that
      does not know $\\mu_0$. It returns to $\\mu_0$ in law, up to the
      estimator's smoothing bias and sampling noise, not particle by particle.
    - `"exact"`: the exact score of the heat smoothing of $\\mu_t$,
      $\\nu_s=\\mu_{t-s}$ (the law's closed form). This is the DAE's own
      field run backwards, so it returns every particle to its start up to
      the ODE tolerance: a check of the identity, not an estimate.

    The JKO steps (`jko`, pairing transport, 25 L-BFGS iterations a step)
    use `EntropyEnergy(1.0, "gaussian")` with `"gaussian"` and the blob
    estimator otherwise (JKO needs an energy of the particles alone); they add
    an $O(\\tau)$ error, $\\tau=t/\\text{jko\\_steps}$.

    Compare the results with `reversal_scores` (mean log-density under
    $\\mu_0$, $W_2$ against the two-sample floor).

    **Arguments:** `law` ($\\mu_0$, a `GaussianLaw` or `GaussianMixture`), `t`
    ($0<t<t^*$), `key`, `num_samples`, `num_times` (recorded times),
    `jko_steps`, `estimator`, `rtol`, `atol` (of both ODE solves).

    **Returns:** a `DAEReversal`.

    **Raises:** `CollapseError` when $t\\ge t^*=\\min_k\\lambda_{\\min}(\\Sigma_k)/2$
    (the deep DAE does not exist that long); `ValueError` for $t\\le0$, bad
    counts or an unknown estimator.
    """
    law = _check_law(law)
    check_key(key)
    if isinstance(t, str):
        raise TypeError(f"`t` must be a positive number; got {t!r}.")
    # Checked before any sampling or solve (the flow would check them later).
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if isinstance(tol, (bool, str)) or not isinstance(tol, (int, float)):
            raise TypeError(f"`{name}` must be a number > 0; got {tol!r}.")
        if not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"`{name}` must be a finite number >= 0; got {tol}.")
    t = check_positive(t, "t")
    law.backward_heat(t)  # CollapseError past min_k lambda_min(Sigma_k) / 2
    num_samples = check_positive_int(num_samples, "num_samples", 2)
    num_times = check_positive_int(num_times, "num_times", 2)
    jko_steps = check_positive_int(jko_steps, "jko_steps")
    # The recorded tracks of both flows and the JKO steps, float64
    check_memory(
        8.0 * num_samples * law.dim * (4 * num_times + jko_steps + 1),
        f"dae_reversal(num_samples={num_samples}, num_times={num_times}, "
        f"jko_steps={jko_steps})",
    )
    if estimator == "auto":
        estimator = "gaussian" if isinstance(law, GaussianLaw) else "blob"
    if estimator not in ("gaussian", "blob", "exact"):
        raise ValueError(
            f"Unknown `estimator` {estimator!r}; expected 'auto', 'gaussian', 'blob' or 'exact'."
        )
    x0 = law.sample(num_samples, key=key)  # the same draws as before mixtures came
    k_law = jr.fold_in(key, 1)
    ts = jnp.linspace(0.0, t, num_times, dtype=x0.dtype)
    fwd = deep_dae_flow(law, x0, t, ts=ts, rtol=rtol, atol=atol)
    dae_field = DeepDAEField(law)
    if estimator == "exact":
        back = flow(
            lambda s, y, args: -dae_field(t - s, y),
            fwd.xs,
            0.0,
            t,
            ts=ts,
            rtol=rtol,
            atol=atol,
        )
        heat = EntropyEnergy(1.0, "blob")
    else:
        heat = EntropyEnergy(1.0, estimator)
        back = gradient_flow(heat, fwd.xs, t, ts=ts, rtol=rtol, atol=atol)
    steps = jko(heat, fwd.xs, t / jko_steps, jko_steps, inner_steps=25)
    law_h, law_f = law_entropy_fisher(law, ts, key=k_law)

    if isinstance(law, GaussianLaw):

        def curves(tracks, times):
            del times
            h, f = zip(*(gaussian_entropy_fisher(x) for x in tracks))
            return jnp.stack(h), jnp.stack(f)

    else:

        def curves(tracks, times):
            h, f = [], []
            for s, x in zip(times, tracks):
                h.append(-jnp.mean(jax.vmap(lambda y: dae_field.log_prob(s, y))(x)))
                f.append(jnp.mean(jnp.sum(dae_field(s, x) ** 2, axis=-1)))
            return jnp.stack(h), jnp.stack(f)

    dh, df = curves(fwd.tracks, ts)
    hh, hf = curves(back.tracks, t - ts)
    return DAEReversal(
        ts=ts,
        dae_tracks=fwd.tracks,
        heat_tracks=back.tracks,
        jko_points=steps.tracks.points,
        dae_entropy=dh,
        dae_fisher=df,
        heat_entropy=hh,
        heat_fisher=hf,
        law_entropy=law_h,
        law_fisher=law_f,
        estimator=estimator,
    )


def reversal_scores(
    rev: DAEReversal, law: AbstractLaw, *, key: Key
) -> dict[str, float]:
    """How well the heat flow recovered $\\mu_0$, measured against fresh samples of it.

    - `logp_x0`, `logp_heat`, `logp_jko`: the mean $\\log\\mu_0$ of the
      original samples, the heat flow's final particles and the JKO's, and
      `logp_se`, the standard error of the first ($\\mathrm{sd}/\\sqrt n$).
      Recovery means the last two are within a few `logp_se` of the first.
    - `w2_heat`, `w2_jko`: exact $W_2$ (Hungarian, so $n\\le1024$ is fast)
      from those particles to `n` fresh draws of $\\mu_0$, and `w2_floor`,
      $W_2$ from the original samples to the same fresh draws: the two-sample
      noise floor at this $n$.
    - `w2_xt`: the same for the un-reversed $\\mu_t$ particles (what no
      recovery looks like).

    **Arguments:** `rev` (from `dae_reversal`), `law` (its $\\mu_0$), `key`.

    **Raises:** `TypeError` for a `rev` that is not a `DAEReversal`, a bad
    `law` or `key`; `ValueError` when the dimensions disagree or the particles
    hold NaN/inf.
    """
    if not isinstance(rev, DAEReversal):
        raise TypeError(
            f"`rev` must be a DAEReversal (from dae_reversal); got {type(rev).__name__}."
        )
    law = _check_law(law)
    check_key(key)
    for name in ("x0", "xt", "x_heat", "x_jko"):
        as_points(
            getattr(rev, name),
            f"rev.{name}",
            min_samples=2,
            dim=law.dim,
            dim_of="the law's dimension",
        )
    n = rev.x0.shape[0]
    fresh = law.sample(n, key=key)
    lp = lambda x: jax.vmap(law.log_prob)(x)  # noqa: E731
    lp0 = lp(rev.x0)
    w2 = lambda x: float(wasserstein2(x, fresh, method="exact").distance)  # noqa: E731
    return dict(
        logp_x0=float(jnp.mean(lp0)),
        logp_se=float(jnp.std(lp0) / jnp.sqrt(n)),
        logp_heat=float(jnp.mean(lp(rev.x_heat))),
        logp_jko=float(jnp.mean(lp(rev.x_jko))),
        w2_floor=w2(rev.x0),
        w2_heat=w2(rev.x_heat),
        w2_jko=w2(rev.x_jko),
        w2_xt=w2(rev.xt),
    )
