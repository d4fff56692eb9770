"""Wasserstein-2 between uniform clouds: one facade over the three estimators.

Three estimators of $W_2^2(\\mu,\\nu)$ from samples (docs/theory/scores.md#w2-estimators):

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

from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from .._custom_types import FloatScalar, OtherPoints, Points
from ._clouds import as_pair
from ._divergence import sinkhorn_divergence
from ._exact import exact_assignment
from ._gaussian import gaussian_fit, gaussian_w2


_Method = Literal["auto", "exact", "sinkhorn", "gaussian"]


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
    y: OtherPoints,
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
    x, y = as_pair(x, y)
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
