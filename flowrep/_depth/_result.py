"""`FlowResult`, what `flow` returns, and `flow_entropy`."""

from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._custom_types import TrackArray
from .._validate import check_finite


class FlowResult(eqx.Module):
    """What `flow` returns.

    **Fields / properties:**

    - `ts`: `(T,)` the saved times.
    - `tracks`: `(T, n, d)` the points at those times (`(T, d)` for one point).
    - `xs`: `(n, d)` the points at the last saved time (normally $t_1$).
    - `log_density_tracks`: `(T, n)` $\\log\\mu_t(x_t)-\\log\\mu_{t_0}(x_0)$, or `None`.
    - `log_density_change`: `(n,)` its value at the last saved time, or `None`.
    - `kinetic`: `(n,)` $\\int\\|v_t(x_t)\\|^2dt$ over the solve, or `None`.
    - `jacobian_frobenius`: `(n,)` $\\int\\|\\nabla v_t(x_t)\\|_F^2dt$ (an
      unbiased estimate when Hutchinson probes are used), or `None`.
    - `stats`: solver statistics (`num_steps`, `num_accepted_steps`, ...).
    - `result`: a `diffrax.RESULTS`; `successful` is `result == successful`.

    After a failed solve (`flow(..., throw=False)`): with no `ts`, `xs` is the
    last accepted state, where the solve stopped; with `ts`, `ts` and `tracks`
    hold `inf` at the times it did not reach.
    """

    ts: Array
    tracks: TrackArray | Array
    log_density_tracks: Array | None
    kinetic: Array | None
    jacobian_frobenius: Array | None
    stats: dict[str, Any]
    result: diffrax.RESULTS

    @property
    def xs(self) -> Array:
        return self.tracks[-1]

    @property
    def log_density_change(self) -> Array | None:
        if self.log_density_tracks is None:
            return None
        return self.log_density_tracks[-1]

    @property
    def successful(self) -> Array:
        return self.result == diffrax.RESULTS.successful

    def log_densities(self, log_density0: ArrayLike) -> Array:
        """$\\log\\mu_t(x_t)$ at the saved times, `(T, n)`, from $\\log\\mu_{t_0}(x_0)$ `(n,)`."""
        if self.log_density_tracks is None:
            raise ValueError(
                "This flow did not track the log-density: call flow(..., log_density='exact' or 'hutchinson')."
            )
        return jnp.asarray(log_density0) + self.log_density_tracks


def flow_entropy(result: FlowResult, log_density0: ArrayLike) -> Array:
    """Entropy estimates $H[\\mu_t]=-\\frac1n\\sum_i\\log\\mu_t(x_{i,t})$ at the saved times.

    The points $x_{i,t_0}$ must be samples of $\\mu_{t_0}$; then $x_{i,t}$ are
    samples of the pushforward $\\mu_t$ and the continuity equation gives
    $\\log\\mu_t(x_{i,t})$ (docs/theory/flows.md#continuity-equation).

    **Arguments:**

    - `result`: a `FlowResult` from `flow(..., log_density=...)`.
    - `log_density0`: `(n,)` values $\\log\\mu_{t_0}(x_{i,t_0})$.

    **Returns:** `(T,)` entropies.

    **Raises:** `TypeError` if `result` is not a `FlowResult`; `ValueError`
    for a flow without log-density tracks, a `log_density0` whose shape is
    not `(n,)` (the flow's samples) or that holds NaN/inf (eagerly, or at
    run time when traced).
    """
    if not isinstance(result, FlowResult):
        raise TypeError(
            f"`result` must be a FlowResult from flow(..., log_density=...); got {type(result).__name__}."
        )
    if result.log_density_tracks is None:
        return result.log_densities(log_density0)  # raises, naming the cause
    n = result.log_density_tracks.shape[1:]
    try:
        ld0 = jnp.asarray(log_density0)
    except TypeError:
        raise TypeError(
            f"`log_density0` must be an array of shape {n}; got {type(log_density0).__name__}."
        ) from None
    if ld0.shape != n:
        raise ValueError(
            f"`log_density0` must have shape {n} (one value per sample of the flow); got {ld0.shape}."
        )
    if not jnp.issubdtype(ld0.dtype, jnp.number) or jnp.issubdtype(
        ld0.dtype, jnp.bool_
    ):
        raise TypeError(f"`log_density0` must hold numbers; got dtype {ld0.dtype}.")
    ld0 = check_finite(ld0, "log_density0")
    return -jnp.mean(result.log_densities(ld0), axis=-1)
