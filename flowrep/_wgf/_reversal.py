"""The DAE story closed: the deep DAE is the time reversal of the heat flow.

The deep DAE $\\dot x=\\nabla\\log\\mu_t$ is the Wasserstein gradient flow of
$H$ (it lowers the entropy at the rate of the Fisher information); the heat
flow is the gradient flow of $-H=\\int\\mu\\log\\mu$ (docs/theory/dae.md#deep-dae,
docs/theory/gradient-flows.md#entropy-dissipation). Running the deep DAE from
$\\mu_0$ to $\\mu_t$ and then the heat flow for the same time returns to $\\mu_0$
(Gaussian: $\\Sigma\\to\\Sigma-2tI\\to\\Sigma$).
"""

from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._custom_types import Key
from .._dae._closed_form import deep_dae_flow
from .._dae._laws import AbstractLaw
from .._validate import as_points, check_positive_int
from ._energies import check_positive, EntropyEnergy
from ._flows import gradient_flow, jko


def gaussian_entropy_fisher(x: Array) -> tuple[Array, Array]:
    """$H$ and Fisher information $\\mathrm{tr}\\,\\hat\\Sigma^{-1}$ of the Gaussian fit $N(\\hat m,\\hat\\Sigma)$ to a cloud `x` `(n, d)`."""
    x = as_points(x, "x", min_samples=2)
    d = x.shape[1]
    # an exact power-of-two rescale keeps squares finite for huge clouds
    big = jnp.max(jnp.abs(x))
    k = jnp.exp2(jnp.floor(jnp.log2(jnp.maximum(big, jnp.finfo(x.dtype).tiny))))
    r = (x - jnp.mean(x, axis=0)) / k
    cov = r.T @ r / x.shape[0]
    _, logdet = jnp.linalg.slogdet(cov)
    logdet = logdet + 2 * d * jnp.log(k)
    return 0.5 * (d * jnp.log(2 * jnp.pi * jnp.e) + logdet), jnp.trace(
        jnp.linalg.inv(cov)
    ) / k**2


class DAEReversal(eqx.Module):
    """What `dae_reversal` returns.

    **Fields:**

    - `ts` `(T,)`: the recorded times on $[0,t]$.
    - `dae_tracks` `(T, n, d)`: the deep DAE from $x_0\\sim\\mu_0$ to $\\mu_t$.
    - `heat_tracks` `(T, n, d)`: the heat flow (particles) back from $\\mu_t$.
    - `jko_points` `(steps + 1, n, d)`: the JKO steps of the heat flow.
    - `dae_entropy`, `dae_fisher`, `heat_entropy`, `heat_fisher` `(T,)`: $H$
      and the Fisher information of the Gaussian fit along both flows.
    """

    ts: Array
    dae_tracks: Array
    heat_tracks: Array
    jko_points: Array
    dae_entropy: Array
    dae_fisher: Array
    heat_entropy: Array
    heat_fisher: Array

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
    estimator: Literal["gaussian", "blob"] = "gaussian",
    rtol: float = 1e-8,
    atol: float = 1e-8,
) -> DAEReversal:
    """Deep DAE from $\\mu_0$ to $\\mu_t$, then the heat flow (continuous and JKO) for the same time.

    The deep DAE uses the law's exact score (`deep_dae_flow`); the heat flow
    is `gradient_flow` / `jko` of `EntropyEnergy(1.0, estimator)` on the
    particles alone. With the `"gaussian"` estimator and a Gaussian law the
    cloud's covariance goes $\\hat\\Sigma_0\\to G\\hat\\Sigma_0G\\to G\\hat\\Sigma_0G+2tI$ with
    $G=((\\Sigma-2tI)\\Sigma^{-1})^{1/2}$, so it returns to $\\hat\\Sigma_0$ up to
    $(\\hat\\Sigma_0-\\Sigma)-G(\\hat\\Sigma_0-\\Sigma)G$, a sampling error of order
    $\\lambda\\sqrt{2/n}\\,(1-g^2)$; the JKO adds its $O(\\tau)$ error.

    **Arguments:** `law` ($\\mu_0$), `t` ($0<t<t^*$), `key`, `num_samples`,
    `num_times` (recorded times), `jko_steps`, `estimator`, `rtol`, `atol`.

    **Returns:** a `DAEReversal`.

    **Raises:** `CollapseError` when $t\\ge t^*=\\lambda_{\\min}/2$ (the deep DAE
    does not exist that long); `ValueError` for $t\\le0$ or bad counts.
    """
    t = check_positive(t, "t")
    law.backward_heat(t)  # CollapseError past lambda_min / 2
    num_samples = check_positive_int(num_samples, "num_samples", 2)
    num_times = check_positive_int(num_times, "num_times", 2)
    jko_steps = check_positive_int(jko_steps, "jko_steps")
    x0 = law.sample(num_samples, key=key)
    ts = jnp.linspace(0.0, t, num_times, dtype=x0.dtype)
    fwd = deep_dae_flow(law, x0, t, ts=ts, rtol=rtol, atol=atol)
    heat = EntropyEnergy(1.0, estimator)
    back = gradient_flow(heat, fwd.xs, t, ts=ts, rtol=rtol, atol=atol)
    steps = jko(heat, fwd.xs, t / jko_steps, jko_steps, inner_steps=25)

    def curves(tracks):
        h, f = zip(*(gaussian_entropy_fisher(x) for x in tracks))
        return jnp.stack(h), jnp.stack(f)

    dh, df = curves(fwd.tracks)
    hh, hf = curves(back.tracks)
    return DAEReversal(
        ts=ts,
        dae_tracks=fwd.tracks,
        heat_tracks=back.tracks,
        jko_points=steps.tracks.points,
        dae_entropy=dh,
        dae_fisher=df,
        heat_entropy=hh,
        heat_fisher=hf,
    )
