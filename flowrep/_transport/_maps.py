"""Optimal-transport maps from Sinkhorn potentials: entropic map, projections."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from .._custom_types import FloatScalar, OtherPoints, OtherWeights, Point, Points
from .._validate import check_finite, check_positive_int, is_concrete
from ._clouds import as_pair, HIGHEST, normalise, scale_by
from ._sinkhorn import sinkhorn


class EntropicMap(eqx.Module):
    """Entropic OT map $T_\\varepsilon(z)=\\sum_jw_j(z)y_j$,
    $w(z)=\\mathrm{softmax}_j((g_j-\\|z-y_j\\|^2)/\\varepsilon)$, from the dual
    potential $g$ (Pooladian & Niles-Weed 2021, eq. 3.6); it is the gradient
    map $z-\\frac12\\nabla f_\\varepsilon(z)$ of the extended potential.
    `__call__` takes one sample `(d,)`."""

    y: OtherPoints
    g: OtherWeights
    epsilon: FloatScalar

    def __check_init__(self):
        y, g, eps = (jnp.shape(v) for v in (self.y, self.g, self.epsilon))
        if len(y) != 2 or g != y[:1] or eps != ():
            raise ValueError(
                "EntropicMap needs `y` (m, d), `g` (m,) and a scalar `epsilon`; "
                f"got `y` {y}, `g` {g}, `epsilon` {eps}."
            )
        for name in ("y", "g", "epsilon"):
            value = jnp.asarray(getattr(self, name))
            if not jnp.issubdtype(value.dtype, jnp.floating):
                raise TypeError(f"`{name}` must be real floating; got {value.dtype}.")
        if is_concrete(self.epsilon) and not float(self.epsilon) > 0:
            raise ValueError(f"`epsilon` must be positive; got {self.epsilon}.")
        if is_concrete(self.g) and not bool(jnp.all(jnp.isfinite(self.g))):
            raise ValueError("`g` contains NaN or inf.")

    def __call__(self, z: Point) -> Point:
        z = jnp.asarray(z)
        if z.shape != self.y.shape[1:]:
            raise ValueError(
                f"EntropicMap takes one point `z` of shape {self.y.shape[1:]}; got "
                f"{z.shape}. Use `jax.vmap` for a cloud."
            )
        z = check_finite(z, "z")
        logits = (self.g - jnp.sum((self.y - z) ** 2, -1)) / self.epsilon
        return jnp.matmul(jax.nn.softmax(logits), self.y, precision=HIGHEST)


def entropic_map(
    x: Points | ArrayLike,
    y: OtherPoints | ArrayLike,
    *,
    epsilon: float | None = None,
    **sinkhorn_kwargs,
) -> EntropicMap:
    """Fit the entropic OT map from `x` to `y` (Sinkhorn, then [`EntropicMap`][]).

    **Arguments:** clouds `x` `(n, d)`, `y` `(m, d)`; `epsilon` and other
    keywords as in [`sinkhorn`][] (default `relative_epsilon=0.01`).

    **Returns:** an [`EntropicMap`][] (callable on one point; `jax.vmap` it).

    **Raises:** as [`sinkhorn`][].
    """
    x, y = as_pair(x, y)
    out = sinkhorn(x, y, epsilon=epsilon, **sinkhorn_kwargs)
    return EntropicMap(y, out.g, out.epsilon)


def barycentric_projection(
    x: Points | ArrayLike,
    y: OtherPoints | ArrayLike,
    *,
    epsilon: float | None = None,
    chunk_size: int = 256,
    **sinkhorn_kwargs,
) -> Points:
    """Barycentric projection of the entropic plan: $\\hat T(x_i)=\\frac1{a_i}\\sum_jP_{ij}y_j$.

    Computed from the potentials in chunks of rows (no $n\\times m$ matrix).

    **Arguments:** as [`entropic_map`][].

    **Returns:** the images of the samples, shape `(n, d)`.

    **Raises:** as [`sinkhorn`][].
    """
    x, y = as_pair(x, y)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    out = sinkhorn(x, y, epsilon=epsilon, chunk_size=chunk_size, **sinkhorn_kwargs)
    return _framed_images(x, y, out.f, out.g, out.epsilon, chunk_size)


@eqx.filter_jit
def _framed_images(x, y, f, g, eps, chunk):
    # In the normalised frame: exact in scaling, accurate far from the origin.
    (xn, yn), shift, k = normalise(x, y)
    s = lambda a: scale_by(a, -2 * k)  # noqa: E731
    img = barycentric_images(xn, yn, s(f), s(g), s(eps), chunk)
    return scale_by(img, k) + shift


@eqx.filter_jit
def barycentric_images(x, y, f, g, eps, chunk):
    """Images $\\frac1{a_i}\\sum_jP_{ij}y_j$ `(n, d)` from the potentials
    `f` `(n,)`, `g` `(m,)`, streamed over chunks of rows."""
    m = y.shape[0]

    def one(args):
        xi, fi = args
        w = jnp.exp((fi + g - jnp.sum((y - xi) ** 2, -1)) / eps) / m
        return jnp.matmul(w, y, precision=HIGHEST)

    return jax.lax.map(one, (x, f), batch_size=chunk)


@eqx.filter_jit
def plan_argmax(x: Points, y: OtherPoints, g: OtherWeights, chunk_size: int = 256):
    """Row-wise argmax of the entropic plan, $\\arg\\max_j(g_j-\\|x_i-y_j\\|^2)$,
    streamed in chunks of rows. Returns integer indices `(n,)`."""

    def one(xi):
        return jnp.argmax(g - jnp.sum((y - xi) ** 2, -1))

    return jax.lax.map(one, x, batch_size=chunk_size)
