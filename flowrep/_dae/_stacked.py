"""Stacked DAEs and the "deeper converges faster" table (Sonoda & Murata, arXiv 1712.04145).

See docs/theory/dae.md#stacked-daes: L DAEs of noise $t/L$, each optimal for the current
pushforward, approach the deep DAE flow $\\dot x=\\nabla\\log\\mu_t(x)$ as L
grows. Exact for a Gaussian (each layer maps the eigenvalues
$\\lambda\\mapsto\\lambda^3/(\\lambda+t/L)^2$); from samples otherwise.
"""

import math
from collections.abc import Sequence

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array

from .._custom_types import Key, Points
from .._transport._gaussian import gaussian_w2
from .._validate import check_positive_int, check_size
from ._checks import check_concrete_time, check_layers, check_points, check_time
from ._closed_form import (
    deep_dae_flow,
    shallow_dae,
    shallow_dae_pushforward,
)
from ._empirical import DEFAULT_CHUNK_SIZE, mean_shift
from ._laws import AbstractLaw, as_mixture, fit_mixture, GaussianLaw


def stacked_dae_laws(law: GaussianLaw, t, num_layers: int) -> list[GaussianLaw]:
    """L stacked DAEs of noise $t/L$ on a Gaussian, each fitted exactly to the current pushforward.

    Layer $l$ is the optimal DAE of $N(m,\\Sigma_l)$, so
    $\\lambda\\to\\lambda^3/(\\lambda+t/L)^2$ per eigenvalue, L times.

    **Returns:** the L+1 laws $\\mu^{(0)}=\\mu,\\dots,\\mu^{(L)}$.

    **Raises:** `TypeError` for a non-Gaussian law; `ValueError` for $t<0$
    or not finite, or a `num_layers` that is not an integer >= 1. Jittable
    in `t` (checked at run time when traced).
    """
    if not isinstance(law, GaussianLaw):
        raise TypeError(
            "stacked_dae_laws is exact for a GaussianLaw; for mixtures use stacked_dae on samples."
        )
    num_layers = check_layers(num_layers)
    # each layer is a Python-side law (eigendecomposition, arrays, object)
    check_size(num_layers, "num_layers", 8 * (law.dim**2 + law.dim) + 4096, num_layers)
    t = check_time(t)
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

    **Raises:** `ValueError` on bad shapes, NaN/inf points, $t<0$, L < 1,
    `em_iters` < 1, a negative or non-finite `bandwidth`, an unknown `fit`,
    or a mixture fit without `law`, `num_components` or `key`; `TypeError`
    for a `law` that is not a law, or a traced `t` (not jittable: the layer
    count and refits run in Python).
    """
    if law is not None and not isinstance(law, AbstractLaw):
        raise TypeError(
            f"`law` must be a GaussianLaw or GaussianMixture; got {type(law).__name__}."
        )
    x = check_points(x, None if law is None else law.dim)
    tau = check_concrete_time(t, "stacked_dae") / check_layers(num_layers)
    num_layers = int(num_layers)
    em_iters = check_positive_int(em_iters, "em_iters")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    check_size(num_layers, "num_layers", x.size * x.dtype.itemsize, num_layers + 1)
    if num_components is not None:
        num_components = check_positive_int(num_components, "num_components")
    tracks = [x]
    if fit == "mixture":
        current = None if law is None else as_mixture(law)
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
        if isinstance(bandwidth, bool) or not isinstance(
            bandwidth, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"`bandwidth` must be a number >= 0; got {bandwidth!r}.")
        if not (math.isfinite(bandwidth) and bandwidth >= 0):
            raise ValueError(f"`bandwidth` must be finite and >= 0; got {bandwidth}.")
        if tau == 0:
            return jnp.stack([x] * (num_layers + 1))
        for _ in range(num_layers):
            cur = tracks[-1]
            ms = mean_shift(cur, tau + bandwidth, chunk_size=chunk_size)
            tracks.append(cur + tau / (tau + bandwidth) * (ms - cur))
    else:
        raise ValueError(
            f"unknown fit {fit!r}: `fit` must be 'mixture' or 'empirical'."
        )
    return jnp.stack(tracks)


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
    exist); `ValueError` for $t<0$, an entry of `num_layers` that is not an
    integer >= 1, an empty `num_layers`, `em_iters` < 1 or `num_samples` < 2;
    `TypeError` for a `law` that is not a law; mixtures need `key`.
    """
    if not isinstance(law, AbstractLaw):
        raise TypeError(
            f"`law` must be a GaussianLaw or GaussianMixture; got {type(law).__name__}."
        )
    if isinstance(num_layers, (str, bytes)) or not isinstance(num_layers, Sequence):
        raise TypeError(
            f"`num_layers` must be a sequence of layer counts; got {num_layers!r}."
        )
    if len(num_layers) == 0:
        raise ValueError("`num_layers` must hold at least one layer count.")
    num_layers = [check_layers(n, f"num_layers[{i}]") for i, n in enumerate(num_layers)]
    check_concrete_time(t, "depth_table")
    em_iters = check_positive_int(em_iters, "em_iters")
    num_samples = check_positive_int(num_samples, "num_samples", 2)
    deep = law.backward_heat(t)
    rows = []
    if isinstance(law, GaussianLaw):
        assert isinstance(deep, GaussianLaw)
        h_deep = float(deep.entropy())
        for n in num_layers:
            out = stacked_dae_laws(law, t, int(n))[-1]
            rows.append(
                dict(
                    num_layers=int(n),
                    w2_to_deep=float(
                        jnp.sqrt(gaussian_w2(deep.mean, deep.cov, out.mean, out.cov))
                    ),
                    entropy=float(out.entropy()),
                    entropy_deep=h_deep,
                    eigvals=[float(v) for v in out.eigvals],
                )
            )
        return rows
    if key is None:
        raise ValueError("depth_table on a mixture needs `key` (it works on samples).")
    mix = as_mixture(law)
    x0 = mix.sample(num_samples, key=key)
    x_deep = jnp.asarray(deep_dae_flow(mix, x0, t).xs)
    h_deep = float(as_mixture(deep).entropy())
    for n in num_layers:
        out = stacked_dae(x0, t, int(n), law=mix, em_iters=em_iters)[-1]
        fitted = fit_mixture(
            out, mix.num_components, init=as_mixture(deep), num_iters=em_iters
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
