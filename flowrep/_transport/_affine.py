"""The affinity score of one map (an activation function or a layer), in two conventions.

Bouniot et al., *Understanding deep neural networks through the lens of
their non-linearity* (2023), score how far a map $x\\mapsto y$ is from
affine: fit Gaussians $N(m_X,\\Sigma_X)$, $N(m_Y,\\Sigma_Y)$ to the input and
output clouds, push the input by the Gaussian OT map $T_{aff}$ between them
and compare with the output:

$$\\rho_{aff}=1-\\frac{W_2(T_{aff\\#}\\mu_X,\\mu_Y)}{\\sqrt{2\\,\\mathrm{tr}\\,\\Sigma_Y}}\\in[0,1],$$

1 for an affine map whose linear part is symmetric positive definite (the
identity included; a rotation is not a Gaussian OT map, so scores below 1).
See docs/theory/scores.md#affinity-score.
"""

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from .._custom_types import FloatScalar
from .._validate import check_bool
from ._clouds import as_cloud, HIGHEST
from ._exact import hungarian
from ._gaussian import bures_map


_CONVENTIONS = ("affscoredeep", "flowrep")


def _flatten_maps(x, name):
    x = np.asarray(x) if not isinstance(x, jax.Array) else x
    if x.ndim == 4:
        # conv maps (n, c, h, w): average over space, one c-vector per sample
        return jnp.mean(jnp.asarray(x), axis=(2, 3))
    if x.ndim != 2:
        raise ValueError(
            f"`{name}` must have shape (n, d) or (n, c, h, w); got shape {x.shape}."
        )
    return x


@jax.jit
def _score(X, Y, ddof, ridge, relative, squared):
    n, d = X.shape
    # the score is scale-free (the ridge scales with the data): bring large
    # clouds down by an exact power of two so squares and sums cannot overflow
    big = jnp.maximum(jnp.max(jnp.abs(X)), jnp.max(jnp.abs(Y)))
    k = jnp.exp2(jnp.floor(jnp.log2(jnp.maximum(big, 1.0)))).astype(X.dtype)
    X, Y, ridge = X / k, Y / k, ridge / k**2
    # the score is invariant under separate translations of X and Y (the Bures
    # map sends mean to mean): centre each cloud first, so that X @ A^T + shift
    # does not cancel large offsets in float32
    X, Y = X - jnp.mean(X, 0), Y - jnp.mean(Y, 0)
    m1, m2 = jnp.mean(X, 0), jnp.mean(Y, 0)
    S1 = jnp.matmul((X - m1).T, X - m1, precision=HIGHEST) / (n - ddof)
    S2 = jnp.matmul((Y - m2).T, Y - m2, precision=HIGHEST) / (n - ddof)
    eye = jnp.eye(d, dtype=X.dtype)
    # flowrep: a relative ridge on the source only; AffScoreDeep: ridge * I on both
    rel = 1e-9 * (jnp.trace(S1) + jnp.trace(S2)) / d + jnp.finfo(X.dtype).tiny
    S1 = jnp.where(relative, S1 + rel * eye, S1 + ridge * eye)
    S2 = jnp.where(relative, S2, S2 + ridge * eye)
    T = bures_map(m1, S1, m2, S2)
    Z = jnp.matmul(X, T.matrix.T, precision=HIGHEST) + T.shift
    perm = hungarian(Z, Y)
    w2_sq = jnp.mean(jnp.sum((Z - Y[perm]) ** 2, -1))
    ratio_sq = w2_sq / (2 * jnp.maximum(jnp.trace(S2), jnp.finfo(X.dtype).tiny))
    return 1.0 - jnp.where(squared, ratio_sq, jnp.sqrt(ratio_sq))


def affine_score(
    x_in: ArrayLike,
    x_out: ArrayLike,
    *,
    convention: Literal["affscoredeep", "flowrep"] = "affscoredeep",
    squared: bool = False,
) -> FloatScalar:
    """Affinity score $\\rho_{aff}$ of a map from its input and output samples.

    $\\rho_{aff}=1-\\sqrt{W_2^2(T_{aff\\#}\\mu_X,\\mu_Y)/(2\\,\\mathrm{tr}\\,\\Sigma_Y)}$
    (Bouniot et al. 2023; docs/theory/scores.md#affinity-score), $W_2$ the
    exact empirical distance (Hungarian assignment) between the pushed input
    and the output. Score one *activation function* by passing its input
    (pre-activation) and output; `score_tracks`'s `nonlinearity` is instead
    $1-\\rho_{aff}$ between consecutive recorded *layers* in flowrep's
    convention.

    Conventions:

    - `"affscoredeep"` (as in Bouniot et al.'s official code): $1/(n-1)$
      covariances and $10^{-6}I$ added to both $\\Sigma_X$ and $\\Sigma_Y$
      (the trace in the denominator is of the ridged $\\Sigma_Y$).
    - `"flowrep"`: $1/n$ covariances and a ridge of $10^{-9}$ times the mean
      variance on $\\Sigma_X$ only, as in `score_tracks`.

    The two agree to about 1% at $n=64$. `squared=True` returns
    $1-W_2^2/(2\\,\\mathrm{tr}\\,\\Sigma_Y)$, without the square root: the values
    in AffScoreDeep's published figure (ReLU/Tanh/Sigmoid .74/.89/.95)
    match this form, while its code (and the default here) takes the root
    (.49/.67/.77 for the same maps).

    **Arguments:**

    - `x_in`: input samples, shape `(n, d)`, or conv feature maps
      `(n, c, h, w)`, averaged over the spatial axes to `(n, c)`.
    - `x_out`: output samples of the same shape as `x_in` (an activation
      keeps the shape).
    - `convention`: `"affscoredeep"` or `"flowrep"`.
    - `squared`: drop the square root (see above).

    **Returns:** a scalar, 1 (up to rounding) for the identity and any affine
    map with a symmetric positive-definite linear part, smaller the less affine.

    **Raises:** `ValueError` for an unknown `convention`, shapes that are not
    `(n, d)` / `(n, c, h, w)` or differ, fewer than 2 samples, NaN/inf;
    `TypeError` for a non-boolean `squared`.
    """
    if not isinstance(convention, str) or convention not in _CONVENTIONS:
        raise ValueError(
            f"`convention` must be one of {_CONVENTIONS}; got {convention!r}."
        )
    squared = check_bool(squared, "squared")
    X = _flatten_maps(x_in, "x_in")
    Y = _flatten_maps(x_out, "x_out")
    if X.shape != Y.shape:
        raise ValueError(
            f"`x_in` and `x_out` must have the same shape; got {X.shape} and {Y.shape}."
        )
    X, Y = as_cloud(X, "x_in"), as_cloud(Y, "x_out")
    dtype = jnp.result_type(X.dtype, Y.dtype)
    X, Y = X.astype(dtype), Y.astype(dtype)
    if X.shape[0] < 2:
        raise ValueError(f"`x_in` needs at least 2 samples; got {X.shape[0]}.")
    flow = convention == "flowrep"
    return _score(
        X,
        Y,
        jnp.asarray(0 if flow else 1, X.dtype),
        jnp.asarray(1e-6, X.dtype),
        jnp.asarray(flow),
        jnp.asarray(squared),
    )
