"""The displacement field of a DAE as an integral network, by the ridgelet transform.

See docs/theory/ridgelets.md and docs/theory/dae.md#ridgelet-displacement: a localised displacement $d\\chi$ is
$S[\\gamma]$ with $\\gamma=R[d\\chi;\\rho]/\\langle\\!\\langle\\sigma,\\rho\\rangle\\!\\rangle$
(Sonoda & Murata), so a DAE is a (continuum) one-hidden-layer network.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike

from .._custom_types import Key
from .._validate import (
    check_finite,
    check_key,
    check_memory,
    check_positive_float,
    check_positive_int,
    is_traced,
)
from .._width._activations import Gaussian
from .._width._admissibility import admissibility
from .._width._integral_net import IntegralNetwork, sample_network
from .._width._nodes import grid_nodes, sample_parameters
from .._width._ridgelets import GaussianDerivative
from .._width._transform import ridgelet_transform


def displacement_network(
    displacement: Callable[[Array], Array],
    center: ArrayLike,
    radius: float,
    *,
    key: Key,
    num_units: int = 20_000,
    num_nodes: int = 40,
    a_scale: float = 1.5,
    order: int = 2,
    compress_to: int | None = 300,
) -> tuple[IntegralNetwork, Callable[[Array], Array]]:
    """Express a localised displacement field $d(x)\\chi(x)$ as an integral network by the ridgelet transform.

    A DAE's displacement $d=g_t-\\mathrm{id}$ grows linearly at infinity (the
    score of a Gaussian is linear), so its ridgelet transform does not exist;
    it is localised by the smooth window $\\chi(x)=\\exp(-\\frac12(|x-c|/r)^4)$
    ($\\chi\\approx1$ well inside the ball of radius r) (docs/theory/dae.md#ridgelet-displacement).
    Then $\\gamma=R[d\\chi;G^{(k)}]/\\langle\\!\\langle G,G^{(k)}\\rangle\\!\\rangle$
    with the Gaussian activation $G$ and $\\rho=G^{(k)}$, $k$ even $\\ge m$
    (docs/theory/ridgelets.md#gaussian-derivative-ridgelets): $R$ by a midpoint grid on the box $c\\pm2.6r$,
    $S$ by Monte Carlo units from `flowrep.sample_parameters`. With
    `compress_to`, `compress_to` units are then drawn from $|\\gamma|$ and
    their output weights refitted by least squares on the grid
    (`flowrep.sample_network`), which is far more accurate than the raw
    Monte Carlo $S[\\gamma]$ for the same cost at evaluation time.

    **Arguments:**

    - `displacement`: $d$, one point `(d,)` to `(d,)`.
    - `center` `(d,)`, `radius` $r$: the region.
    - `key`: PRNG key. `num_units`: Monte Carlo units for $S$.
    - `num_nodes`: grid points per axis for $R$ (`num_nodes**m` in all).
    - `a_scale`: spread of the proposal $a\\sim N(0,\\text{a\\_scale}^2I)$.
    - `order`: $k$ (even, $\\ge m$). `compress_to`: units after refit, or None.

    **Returns:** `(network, target)`: the `IntegralNetwork` and the localised
    target $x\\mapsto d(x)\\chi(x)$ it represents.

    **Raises:** `ValueError` naming the argument for a `center` that is not
    one finite point, a non-positive `radius`/`a_scale`, an order that is
    not an even integer >= m, sizes that are not integers >= 1, or a
    displacement of the wrong shape; `TypeError` for non-numeric input, a
    non-callable `displacement` or a bad `key`; `MemoryError` (before
    allocating) when the grid `num_nodes**m` would not fit.
    """
    if not callable(displacement):
        raise TypeError(
            f"`displacement` must be a function of one point; got {type(displacement).__name__}."
        )
    if center is None or isinstance(center, (str, bytes)):
        raise TypeError(f"`center` must be a point, an array (d,); got {center!r}.")
    if is_traced(center):
        raise TypeError(
            "displacement_network is not jittable: `center` must be concrete (it "
            "fixes the quadrature grid and the sizes); call it outside `jax.jit`."
        )
    try:
        center = jnp.atleast_1d(jnp.asarray(center))
    except (TypeError, ValueError):
        raise TypeError(
            f"`center` must be a point, an array (d,); got {type(center).__name__}."
        ) from None
    if center.ndim != 1:
        raise ValueError(f"`center` must be one point (d,); got shape {center.shape}.")
    if jnp.issubdtype(center.dtype, jnp.bool_) or not jnp.issubdtype(
        center.dtype, jnp.number
    ):
        raise TypeError(f"`center` must hold numbers; got dtype {center.dtype}.")
    center = check_finite(center.astype(jnp.result_type(float)), "center")
    m = center.shape[0]
    radius = check_positive_float(radius, "radius")
    a_scale = check_positive_float(a_scale, "a_scale")
    order = check_positive_int(order, "order")
    if order % 2 or order < m:
        raise ValueError(
            f"the Gaussian activation pairs with G^(k) for even k >= m={m}; got `order` k={order}."
        )
    num_units = check_positive_int(num_units, "num_units")
    num_nodes = check_positive_int(num_nodes, "num_nodes")
    if compress_to is not None:
        compress_to = check_positive_int(compress_to, "compress_to")
    check_key(key)
    # The grid holds num_nodes**m points and their values; the transform
    # streams, but the grid itself is materialised.
    itemsize = jnp.dtype(jnp.result_type(float)).itemsize
    check_memory(
        float(num_nodes) ** m * (2 * m + 1) * itemsize
        + num_units * (2 * m + 2) * itemsize,
        f"displacement_network(num_nodes={num_nodes}, num_units={num_units})",
    )
    out = jax.eval_shape(displacement, center)
    if out.shape != (m,):
        raise ValueError(
            f"`displacement` must map a point ({m},) to ({m},); got {out.shape}."
        )

    def target(x):
        chi = jnp.exp(-0.5 * (jnp.sum((x - center) ** 2) / radius**2) ** 2)
        return displacement(x) * chi

    sigma = Gaussian()
    rho = GaussianDerivative(order)
    pairing = admissibility(sigma, rho, m)
    half = 2.6 * radius
    xg, wg = grid_nodes(-half, half, num_nodes, m)
    values = jax.vmap(lambda z: target(z + center))(xg)
    ka, ks = jr.split(key)
    a, b, wab = sample_parameters(
        ka,
        num_units,
        m,
        radius_law="gaussian",
        a_scale=a_scale,
        x_radius=1.5 * radius,
        b_margin=3.0,
    )
    gamma = ridgelet_transform(values, rho, a, b, xg, wg) / pairing
    # centred transform: sigma(a.(x - c) - b) = sigma(a.x - (b + a.c))
    b_shift = b + a @ center
    if compress_to is None:
        net = IntegralNetwork(a, b_shift, gamma * wab[:, None], sigma)
    else:
        net = sample_network(
            gamma,
            a,
            b_shift,
            wab,
            sigma,
            compress_to,
            key=ks,
            refit=(xg + center, values),
            # float32: a ridge of 1e-8 * mean eigenvalue is below rounding, the
            # Gram solve gave NaN (and asked for a `ridge` this function lacks)
            ridge=max(1e-8, 100 * float(jnp.finfo(center.dtype).eps)),
        )
    return net, target
