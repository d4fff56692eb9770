"""`flow_scores`: the transport scores of a flow's tracks plus its gradient-field scores.

`score_tracks` lives in `_transport`, which sees samples only; a field is
available one layer up, here. The curl fraction and the non-gradient
fraction read the third aspect (is the flow a Wasserstein gradient flow?
docs/theory/gradient-flows.md#curl-fraction) off the same tracks.
"""

from typing import Any, Literal

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array

from .._custom_types import Key
from .._transport._scores import score_tracks, TransportScores
from .._transport._tracks import Tracks
from .._validate import check_key
from ._curl import curl_fraction, non_gradient_fraction


class FlowScores(eqx.Module):
    """What `flow_scores` returns.

    **Fields:**

    - `transport`: the [`TransportScores`][] of the tracks (`score_tracks`).
    - `times` `(T,)`: the tracks' times, where the field was evaluated.
    - `curl_fractions`, `non_gradient_fractions` `(T,)`: per time, at that
      time's samples.
    - `curl_fraction`, `non_gradient_fraction`: their means over the times
      (0 for a gradient flow; see `curl_fraction`, `non_gradient_fraction`).
    """

    transport: TransportScores
    times: Array
    curl_fractions: Array
    non_gradient_fractions: Array
    curl_fraction: Array
    non_gradient_fraction: Array

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the transport scores' dict plus the gradient-field scores."""
        out = self.transport.to_dict()
        for name in ("times", "curl_fractions", "non_gradient_fractions"):
            out[name] = np.asarray(getattr(self, name)).tolist()
        out["curl_fraction"] = float(self.curl_fraction)
        out["non_gradient_fraction"] = float(self.non_gradient_fraction)
        return out


def flow_scores(
    field: Any,
    tracks: Tracks,
    *,
    key: Key,
    args: Any = None,
    num_units: int = 256,
    curl_method: Literal["auto", "exact", "hutchinson"] = "auto",
    **score_kwargs: Any,
) -> FlowScores:
    """Transport scores, curl fraction and non-gradient fraction of the flow of `field`.

    `tracks` are samples carried by `field` (e.g. `Tracks.from_flow` of a
    `flowrep.flow` result): the points at `tracks.times[l]` are samples of
    $\\mu_{t_l}$, where $v_{t_l}$ is evaluated. A flow is a Wasserstein
    gradient flow only if its velocity is a gradient, $v_t=\\nabla\\phi_t$
    (Benamou & Brenier 2000; docs/theory/gradient-flows.md#curl-fraction).

    **Arguments:**

    - `field`: the field that made the tracks (an `AbstractVectorField` or
      `f(t, x, args)`).
    - `tracks`: [`Tracks`][] `(T, n, d)` with their times.
    - `key`: PRNG key for the Helmholtz fits' random units (and Hutchinson
      probes when `curl_method="hutchinson"`).
    - `args`: passed to the field.
    - `num_units`: units of each Helmholtz fit (`non_gradient_fraction`).
    - `curl_method`: `curl_fraction`'s `method`.
    - `**score_kwargs`: passed to `score_tracks`.

    **Returns:** a `FlowScores`.

    **Raises:** `TypeError` if `tracks` is not a `Tracks`; what `score_tracks`,
    `curl_fraction` and `non_gradient_fraction` raise.
    """
    if not isinstance(tracks, Tracks):
        raise TypeError(
            f"`tracks` must be a flowrep.Tracks (e.g. Tracks.from_flow(result)); got {type(tracks).__name__}."
        )
    key = check_key(key)
    transport = score_tracks(tracks, **score_kwargs)
    keys = jr.split(key, 2 * tracks.points.shape[0])
    curls, ngfs = [], []
    for i, (t, x) in enumerate(zip(np.asarray(tracks.times), tracks.points)):
        curls.append(
            curl_fraction(
                field,
                x,
                t=float(t),
                args=args,
                method=curl_method,
                key=keys[2 * i],
            )
        )
        ngfs.append(
            non_gradient_fraction(
                field,
                x,
                t=float(t),
                args=args,
                num_units=num_units,
                key=keys[2 * i + 1],
            ).fraction
        )
    c, g = jnp.stack(curls), jnp.stack(ngfs)
    return FlowScores(
        transport=transport,
        times=jnp.asarray(tracks.times),
        curl_fractions=c,
        non_gradient_fractions=g,
        curl_fraction=jnp.mean(c),
        non_gradient_fraction=jnp.mean(g),
    )
