"""Matrix-product precision by intent.

On accelerators a float32 matrix product at the default precision is not a
float32 product: NVIDIA Ampere and later run it in TF32 (10 mantissa bits) and
TPUs in bfloat16 (7 bits). That is fine where the product is itself the
answer, a weighted sum of many terms whose rounding errors average out. It is
not fine where the product is an intermediate that is then amplified:

- a *pre-activation* $a_j\\cdot x_i-b_j$, with the bias folded into the
  product as `[a, b]·[x, -1]`: rounding `b` to 10 bits moves every ridge, and
  the profile (a Gaussian derivative, an exponential) turns that shift into a
  relative error of $|\\rho'/\\rho|\\,|b|\\,2^{-11}$;
- a *squared distance by expansion*, $|x|^2-2x\\cdot y+|y|^2$, or a logit
  $x\\cdot y/t$ inside an exponential: the cancellation or the division by a
  small $t$ amplifies the rounding;
- *normal equations* $\\Phi^\\top\\Phi$: the solve squares their condition.

Those products are computed with `precision=jax.lax.Precision.HIGHEST` (they
have a small inner dimension, the dimension $d$ of the points, so this costs
little). The others, the accumulations $\\sum_i\\rho(\\cdot)\\,w_if(x_i)$ of the
transforms and the output layer $\\sigma(\\cdot)\\,c$ of a field, follow the
user's `jax.default_matmul_precision`.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


HIGHEST = jax.lax.Precision.HIGHEST


def exact_matmul(x: ArrayLike, y: ArrayLike) -> Array:
    """`x @ y` at `Precision.HIGHEST` (full float32 on GPU/TPU), whatever the default.

    For products whose result feeds a distance, an exponent or a folded bias
    (see this module's docstring).
    """
    return jnp.matmul(x, y, precision=HIGHEST)
