"""Finite integral networks: the bridge between $\\gamma$ and a trainable network.

A finite network $\\sum_jc_j\\sigma(a_j\\cdot x-b_j)$ is the integral
representation $S[\\gamma]$ of the empirical measure
$\\gamma=\\sum_jc_j\\delta_{(a_j,b_j)}$ (docs/theory/ridgelets.md#integral-representation).

Precision (see `flowrep/_width/_precision.py`): pre-activations $a_j\\cdot x-b_j$
and `refit`'s normal equations are computed at `Precision.HIGHEST`; the
output layer $\\sigma(\\cdot)\\,c$ follows `jax.default_matmul_precision`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike

from .._custom_types import Key, Points, UnitBiases, UnitScales, UnitWeights
from .._device import device_default
from .._validate import (
    as_points,
    check_finite,
    check_key,
    check_memory,
    check_positive_int,
    check_value,
    is_concrete,
)
from ._activations import AbstractActivation, activation_argument, get_activation
from ._precision import exact_matmul
from ._transform import as_real_array, check_units, dual_ridgelet_transform


class IntegralNetwork(eqx.Module):
    """A one-hidden-layer network in integral form, $x\\mapsto\\sum_jc_j\\sigma(a_j\\cdot x-b_j)+c_0$.

    **Fields:**

    - `a`: `(J, d)` hidden-unit scales; `b`: `(J,)` biases (note the minus sign:
      the pre-activation is $a_j\\cdot x-b_j$).
    - `c`: `(J,)` (scalar output) or `(J, k)` (vector output) coefficients.
    - `sigma`: the activation.
    - `bias`: optional output bias $c_0$ (`()` or `(k,)`), `None` for none.

    `__call__` takes one point `(d,)`; for many points use `evaluate`, which
    streams over chunks of the (point, unit) pairs.
    """

    a: UnitScales
    b: UnitBiases
    c: Array
    sigma: AbstractActivation
    bias: Array | None = None

    def __check_init__(self):
        if not callable(self.sigma):
            raise TypeError(
                "`sigma` must be an activation (an AbstractActivation or an "
                f"elementwise callable; see get_activation); got {type(self.sigma).__name__}."
            )
        for name in ("a", "b", "c", "bias"):
            value = getattr(self, name)
            if value is None:
                continue
            if name == "bias" and isinstance(value, (int, float)):
                continue
            if not hasattr(value, "dtype"):
                raise TypeError(
                    f"`{name}` must be a JAX or NumPy array; got {type(value).__name__}."
                )
            if name in ("a", "b"):
                as_real_array(value, name)
        check_units(jnp.asarray(self.a), jnp.asarray(self.b), jnp.shape(self.a)[-1])
        # Concrete fields are checked now; traced ones (a network built under
        # jit) where they are used, in `evaluate` and `__call__`.
        for name in ("a", "b", "c", "bias"):
            value = getattr(self, name)
            if value is not None and is_concrete(value):
                check_finite(value, name)
        if self.c.ndim not in (1, 2) or self.c.shape[0] != self.a.shape[0]:
            raise ValueError(
                f"`c` must have shape (J,) or (J, k) with J={self.a.shape[0]}; got {self.c.shape}."
            )
        if self.bias is not None and jnp.shape(self.bias) != self.c.shape[1:]:
            raise ValueError(
                f"`bias` must have shape {self.c.shape[1:]} to match `c`; got {jnp.shape(self.bias)}."
            )

    @property
    def num_units(self) -> int:
        return self.a.shape[0]

    @property
    def dim(self) -> int:
        return self.a.shape[1]

    def __call__(self, x: Array) -> Array:
        """Evaluate at one point `x` `(d,)`; returns `()` or `(k,)`."""
        x = as_real_array(x, "x", "a point (d,)")
        if x.shape != (self.dim,):
            raise ValueError(
                f"IntegralNetwork expects one point of shape ({self.dim},) as `x`; got {x.shape}. Use `evaluate` or `jax.vmap` for batches."
            )
        x = check_finite(x, "x")
        out = self.sigma(exact_matmul(self.a, x) - self.b) @ self.c
        return out if self.bias is None else out + self.bias

    def evaluate(self, xs: Points, *, chunk_size: int | None = None) -> Array:
        """Evaluate at `xs` `(n, d)`, streamed (memory O(n + J + chunk_size));
        `chunk_size` defaults per backend (`flowrep/_device.py`)."""
        out = dual_ridgelet_transform(
            self.c, self.sigma, self.a, self.b, None, xs, chunk_size=chunk_size
        )
        return out if self.bias is None else out + self.bias

    @classmethod
    def from_mlp(
        cls, mlp: eqx.nn.MLP, sigma: "AbstractActivation | str | None" = None
    ) -> "IntegralNetwork":
        """Read a one-hidden-layer `eqx.nn.MLP` ($W_2\\phi(W_1x+b_1)+b_2$) as an integral network.

        `a = W_1`, `b = -b_1`, `c = W_2^T`, `bias = b_2`. The activation is
        taken from `sigma` when given; else matched by name from the MLP's
        `activation` (`jax.nn.relu`, `jnp.tanh`, `jax.nn.sigmoid`, ...).

        **Raises:** `ValueError` if the MLP has more than one hidden layer or
        its activation cannot be matched.
        """
        if not isinstance(mlp, eqx.nn.MLP):
            raise TypeError(f"`mlp` must be an eqx.nn.MLP; got {type(mlp).__name__}.")
        if len(mlp.layers) != 2:
            raise ValueError(
                f"from_mlp needs a one-hidden-layer MLP (depth=1, two Linear layers); got {len(mlp.layers)} layers."
            )
        if sigma is None:
            sigma = _activation_of(mlp.activation)
        sigma = activation_argument(sigma, "sigma")
        first, second = mlp.layers
        w1 = first.weight
        b1 = first.bias if first.bias is not None else jnp.zeros(w1.shape[0], w1.dtype)
        c = second.weight.T
        bias = second.bias
        if mlp.out_size == "scalar":
            c = c[:, 0]
            bias = None if bias is None else bias.reshape(())
        if mlp.in_size == "scalar":
            raise ValueError(
                "from_mlp needs an MLP with vector input (in_size an int), not 'scalar'."
            )
        return cls(w1, -b1, c, sigma, bias)

    def to_mlp(self) -> eqx.nn.MLP:
        """The same network as a one-hidden-layer `eqx.nn.MLP` (the converse of `from_mlp`)."""
        k = "scalar" if self.c.ndim == 1 else self.c.shape[1]
        mlp = eqx.nn.MLP(
            self.dim,
            k,
            self.num_units,
            depth=1,
            activation=self.sigma,
            use_final_bias=self.bias is not None,
            key=jr.PRNGKey(0),
        )
        c2 = self.c[:, None] if self.c.ndim == 1 else self.c
        mlp = eqx.tree_at(lambda n: n.layers[0].weight, mlp, self.a)
        mlp = eqx.tree_at(lambda n: n.layers[0].bias, mlp, -self.b)
        mlp = eqx.tree_at(lambda n: n.layers[1].weight, mlp, c2.T)
        if self.bias is not None:
            mlp = eqx.tree_at(
                lambda n: n.layers[1].bias, mlp, jnp.reshape(self.bias, (-1,))
            )
        return mlp


def _activation_of(fn) -> AbstractActivation:
    if isinstance(fn, AbstractActivation):
        return fn
    table = {
        jax.nn.relu: "relu",
        jnp.tanh: "tanh",
        jax.nn.tanh: "tanh",
        jax.nn.sigmoid: "sigmoid",
        jax.nn.softplus: "softplus",
    }
    for f, name in table.items():
        if fn is f:
            return get_activation(name)
    raise ValueError(
        f"Cannot match the MLP's activation {fn!r} to a flowrep activation; pass `sigma=` explicitly."
    )


def sample_network(
    gamma: ArrayLike,
    a: UnitScales,
    b: UnitBiases,
    w: UnitWeights | None,
    sigma: "AbstractActivation | str",
    num_units: int,
    *,
    key: Key,
    refit: tuple[Points, ArrayLike] | None = None,
    ridge: float | None = None,
) -> IntegralNetwork:
    """Oracle sampling: a finite network of `num_units` units drawn from $|\\gamma|$.

    Units are drawn i.i.d. with probability $p_j\\propto\\|\\gamma_j\\|w_j$ and
    given $c_j=\\gamma_jw_j/(p_j\\,\\text{num\\_units})$, so the network is an
    unbiased Monte Carlo estimate of $S[\\gamma]$ with variance $O(1/\\text{num\\_units})$
    (docs/theory/ridgelets.md#numerics). With `refit=(x, y)` the output weights
    are then refitted by ridge-regularised least squares on those samples.

    **Arguments:**

    - `gamma`: `(J,)` or `(J, k)` values on the units `a (J, d)`, `b (J,)`
      with quadrature/importance weights `w (J,)` (`None`: ones).
    - `sigma`: the activation; `num_units`: units to draw.
    - `key`: PRNG key. `refit`: optional `(x (n, d), y (n,) or (n, k))`.
    - `ridge`: Tikhonov weight (relative to the Gram matrix's mean diagonal) of
      the refit; `None` (default): a dtype-aware weight, `1e-8` in float64 and
      `1e-8 * sqrt(eps / eps_float64)` (about `2.3e-4`) in float32, see
      [`refit_output`][flowrep.refit_output].

    **Raises:** `ValueError` for mismatched shapes, a zero `gamma`, or
    `num_units < 1`.
    """
    sigma = activation_argument(sigma, "sigma")
    if isinstance(num_units, (int, np.integer)) and not isinstance(num_units, bool):
        if num_units < 1:
            raise ValueError(f"num_units must be >= 1; got {num_units}.")
    num_units = check_positive_int(num_units, "num_units")
    check_key(key)
    if refit is not None and (not isinstance(refit, (tuple, list)) or len(refit) != 2):
        raise TypeError(
            f"`refit` must be a pair (x (n, d), y (n,) or (n, k)); got {type(refit).__name__}."
        )
    ridge = None if ridge is None else check_ridge(ridge)
    gamma = as_real_array(gamma, "gamma", "an array (J,) or (J, k)")
    a = as_real_array(a, "a", "an array (J, d)")
    b = as_real_array(b, "b", "an array (J,)")
    check_units(a, b, a.shape[-1] if a.ndim == 2 else -1)
    big_j = a.shape[0]
    if gamma.shape[:1] != (big_j,) or gamma.ndim not in (1, 2):
        raise ValueError(
            f"`gamma` must have shape (J,) or (J, k) with J={big_j}; got {gamma.shape}."
        )
    w = (
        jnp.ones(big_j, a.dtype)
        if w is None
        else as_real_array(w, "w", "an array (J,)")
    )
    if w.shape != (big_j,):
        raise ValueError(f"`w` must have shape ({big_j},); got {w.shape}.")
    check_memory(
        8.0 * num_units * (a.shape[1] + 2 + (gamma.size // big_j)),
        f"sample_network(num_units={num_units})",
    )
    gamma = check_finite(gamma, "gamma")
    w = check_finite(w, "w")
    a = check_finite(a, "a")
    b = check_finite(b, "b")
    # |gamma_j| w_j, scaled by its maximum so that huge gammas do not overflow.
    mass = (
        jnp.abs(gamma) if gamma.ndim == 1 else jnp.linalg.norm(gamma, axis=1)
    ) * jnp.abs(w)
    top = jnp.max(mass)
    mass = mass / jnp.where(top > 0, top, 1.0)
    total = check_value(
        jnp.sum(mass),
        lambda t: ~(t > 0),
        "`gamma` is zero on all units: there is nothing to sample from.",
    )
    p = mass / total
    idx = jr.choice(key, big_j, (num_units,), p=p)
    scale = (w[idx] / (p[idx] * num_units)).reshape((-1,) + (1,) * (gamma.ndim - 1))
    c = gamma[idx] * scale
    net = IntegralNetwork(a[idx], b[idx], c, sigma)
    if refit is not None:
        net = refit_output(net, *refit, ridge=ridge)
    return net


def default_ridge(dtype) -> float:
    """The default Tikhonov weight for a refit in working dtype `dtype`.

    `1e-8` in float64; scaled by the square root of the machine epsilon in
    lower precision (`1e-8 * sqrt(eps / eps_float64)`, about `2.3e-4` in
    float32): the normal equations square the conditioning, so the ridge must
    stay above the Gram matrix's rounding, which is relative `eps`.
    """
    eps = float(jnp.finfo(dtype).eps)
    eps64 = float(np.finfo(np.float64).eps)
    return 1e-8 * max(1.0, float(np.sqrt(eps / eps64)))


def check_ridge(ridge) -> float:
    """The Tikhonov weight: a finite Python number >= 0."""
    if isinstance(ridge, bool) or not isinstance(
        ridge, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`ridge` must be a number >= 0; got {ridge!r}.")
    if not (np.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"`ridge` must be finite and >= 0; got {ridge}.")
    return float(ridge)


def refit_output(
    net: IntegralNetwork,
    x: Points,
    y: ArrayLike,
    *,
    ridge: float | None = None,
    chunk_size: int | None = None,
) -> IntegralNetwork:
    """Least-squares refit of the output weights `c` of `net` on samples `(x, y)`.

    Solves $\\min_c\\|\\Phi c+c_0-y\\|^2+\\lambda\\|c\\|^2$ (an output bias $c_0$ is kept) with $\\Phi_{ij}=\\sigma(a_j\\cdot x_i-b_j)$,
    $\\lambda$ = `ridge` times the mean diagonal of $\\Phi^\\top\\Phi$.
    $\\Phi^\\top\\Phi$ and $\\Phi^\\top y$ are accumulated at `Precision.HIGHEST`
    over chunks of about `chunk_size` (point, unit) pairs (default: per
    backend, `flowrep/_device.py`).

    `ridge=None` (the default) picks a weight for the working dtype:
    `1e-8` in float64, `1e-8 * sqrt(eps / eps_float64)` (about `2.3e-4`) in
    float32, where a Gram matrix with repeated or nearly parallel units is
    singular to rounding and a smaller weight gives a NaN solve
    (tests/test_harness_findings_models.py). An explicit `ridge` is used as
    given.

    **Raises:** `TypeError`/`ValueError` for a wrong `net`, `ridge`, `x` or
    `y`; a named error asking for a larger `ridge` if the solve still fails.
    """
    if not isinstance(net, IntegralNetwork):
        raise TypeError(f"`net` must be an IntegralNetwork; got {type(net).__name__}.")
    ridge = None if ridge is None else check_ridge(ridge)
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    x = as_real_array(x, "x", "a point cloud (n, d)")
    y = as_real_array(y, "y", "an array (n,) or (n, k)")
    # Checked as a point cloud but kept in its own dtype, as in the transforms.
    as_points(x, "x", dim=net.dim, dim_of="the network's input dimension", finite=False)
    x = check_finite(x, "x")
    y = check_finite(y, "y")
    # One working dtype for the scan (float16 x with float32 units would not
    # keep the carry's type): at least float32, the units' precision if wider.
    dtype = jnp.result_type(x, y, net.a, net.b, net.c, jnp.float32)
    x, y = x.astype(dtype), y.astype(dtype)
    if ridge is None:
        ridge = default_ridge(dtype)
    if y.shape[:1] != x.shape[:1] or y.shape[1:] != net.c.shape[1:]:
        raise ValueError(
            f"refit `y` must have shape {(x.shape[0],) + net.c.shape[1:]} to match the network's output; got {y.shape}."
        )
    if net.bias is not None:
        # the output bias c_0 is kept: c fits what it leaves, y - c_0
        y = y - jnp.asarray(net.bias, dtype)
    gram, rhs = _normal_equations(net, x, y, device_default("chunk_size", chunk_size))
    lam = ridge * jnp.trace(gram) / gram.shape[0]
    c = jnp.linalg.solve(gram + lam * jnp.eye(gram.shape[0], dtype=gram.dtype), rhs)
    c = check_finite(
        c, "c", "refit: the least-squares solve failed (NaN); increase `ridge`."
    )
    return eqx.tree_at(lambda n: n.c, net, c)


@eqx.filter_jit
def _normal_equations(net: IntegralNetwork, x: Array, y: Array, chunk_size: int):
    """$\\Phi^\\top\\Phi$ and $\\Phi^\\top y$, accumulated over chunks of points (memory O(J^2 + chunk))."""
    n = x.shape[0]
    rows = max(1, min(n, chunk_size // net.num_units))
    pad = (-n) % rows
    x = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad, x.shape[1]))])
    mask = jnp.concatenate([jnp.ones(n, x.dtype), jnp.zeros(pad, x.dtype)])
    y = jnp.concatenate([y, jnp.zeros((pad,) + y.shape[1:], y.dtype)])
    xs = x.reshape(-1, rows, x.shape[1])
    ys = y.reshape((-1, rows) + y.shape[1:])
    ms = mask.reshape(-1, rows)

    def body(carry, inp):
        gram, rhs = carry
        xc, yc, mc = inp
        phi = net.sigma(exact_matmul(xc, net.a.T) - net.b) * mc[:, None]
        # Normal equations: the solve squares their conditioning, so HIGHEST.
        return (gram + exact_matmul(phi.T, phi), rhs + exact_matmul(phi.T, yc)), None

    init = (
        jnp.zeros((net.num_units, net.num_units), x.dtype),
        jnp.zeros((net.num_units,) + y.shape[1:], x.dtype),
    )
    (gram, rhs), _ = jax.lax.scan(body, init, (xs, ys, ms))
    return gram, rhs
