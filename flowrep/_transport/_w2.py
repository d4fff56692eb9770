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
from jaxtyping import Array, ArrayLike, Bool, Int

from .._custom_types import FloatScalar, OtherPoints, Points
from .._validate import check_bool, check_positive_int, check_value
from ._clouds import as_pair, normalise, scale_by
from ._divergence import sinkhorn_divergence
from ._exact import hungarian, resolve_host
from ._gaussian import bures_w2, moments


_Method = Literal["auto", "exact", "sinkhorn", "gaussian"]
_METHODS = ("auto", "exact", "sinkhorn", "gaussian")


class W2Result(eqx.Module):
    """Output of [`wasserstein2`][].

    - `cost`: the estimate of $W_2^2$; `distance`: its square root.
    - `converged`: `True` for exact/gaussian, the Sinkhorn flag otherwise.
    - `error`: final marginal error (0 for exact/gaussian).
    - `num_iterations`: Sinkhorn iterations of the cross problem (0 otherwise).
    - `method`: the method actually used.
    """

    cost: FloatScalar
    distance: FloatScalar
    converged: Bool[Array, ""]
    error: FloatScalar
    num_iterations: Int[Array, ""]
    method: str = eqx.field(static=True)

    @property
    def n_iterations(self) -> Array:
        """Alias of `num_iterations` (the name before flowrep used `num_*` everywhere)."""
        return self.num_iterations


def wasserstein2(
    x: Points | ArrayLike,
    y: OtherPoints | ArrayLike,
    *,
    method: _Method = "auto",
    epsilon: float | None = None,
    relative_epsilon: float = 0.01,
    exact_max: int = 1024,
    throw: bool = False,
    host: bool | None = None,
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
    - `host`: where the exact assignment is solved, as in
      [`exact_assignment`][]: `True` scipy on the host, `False` ott-jax's
      Hungarian in the compiled program, `None` (default) the host on every
      backend but the CPU.

    **Returns:** a [`W2Result`][].

    Every method is translation invariant and scale equivariant: it runs in
    the clouds' normalised frame (common mean removed, exact power-of-two
    rescaling) and scales the cost back, so `wasserstein2(s * x + c, s * y + c)`
    is $s^2$ times `wasserstein2(x, y)` up to the rounding of the inputs.
    float16/bfloat16 clouds are promoted to float32; the result's dtype is
    the precision used.

    **Raises:** `ValueError` for different dimensions, fewer than 2 samples,
    NaN/inf, unknown methods, `method="exact"` with unequal sizes, and bad
    Sinkhorn options (see [`sinkhorn`][]); `TypeError` for arguments of the
    wrong type (a `host` other than True, False or None included).
    """
    x, y = as_pair(x, y)
    exact_max = check_positive_int(exact_max, "exact_max")
    throw = check_bool(throw, "throw")
    host = resolve_host(host)
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(
            "`method` must be 'auto', 'exact', 'sinkhorn' or 'gaussian'; "
            f"got {method!r}."
        )
    if method == "auto":
        method = "exact" if x.shape[0] == y.shape[0] <= exact_max else "sinkhorn"
    if method == "exact" and x.shape[0] != y.shape[0]:
        raise ValueError(
            "the exact (assignment) solver needs clouds of equal size; got "
            f"{x.shape[0]} and {y.shape[0]} points. Use method='sinkhorn'."
        )
    if method in ("exact", "gaussian"):
        cost = _finite_cost(
            _closed(x, y, method=method, host=host and method == "exact"), x.dtype
        )
        zero = jnp.zeros((), x.dtype)
        return W2Result(
            cost, jnp.sqrt(cost), jnp.array(True), zero, jnp.array(0), method
        )
    out = sinkhorn_divergence(
        x,
        y,
        epsilon=epsilon,
        relative_epsilon=relative_epsilon,
        throw=throw,
        **sinkhorn_kwargs,
    )
    divergence = _finite_cost(out.divergence, x.dtype)
    return W2Result(
        divergence,
        jnp.sqrt(divergence),
        out.converged,
        jnp.max(out.errors),
        out.num_iterations[0],
        "sinkhorn",
    )


def _finite_cost(cost, dtype):
    """`cost`, refused if it overflowed the working precision (a silent inf)."""
    return check_value(
        cost,
        lambda c: ~jnp.isfinite(c),
        f"wasserstein2: W2^2 of `x` and `y` overflows {jnp.dtype(dtype).name} "
        "(the clouds' values are too large for it): pass float64 clouds "
        "(jax_enable_x64) or rescale them",
    )


@eqx.filter_jit
def _closed(x, y, *, method, host=False):
    """Exact or Gaussian $W_2^2$ of checked clouds, in their normalised frame."""
    (xn, yn), _, k = normalise(x, y)
    if method == "exact":
        perm = hungarian(xn, yn, host=host)
        cost = jnp.mean(jnp.sum((xn - yn[perm]) ** 2, -1))
    else:
        cost = bures_w2(*moments(xn), *moments(yn)).astype(x.dtype)
    return scale_by(cost, 2 * k)
