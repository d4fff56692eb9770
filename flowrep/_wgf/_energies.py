"""Energies on laws and on particle clouds, and their Wasserstein gradients.

$F(\\mu)=\\int V\\,d\\mu+\\frac12\\iint W(x-y)\\,d\\mu\\,d\\mu+\\kappa\\int\\mu\\log\\mu$
(docs/theory/gradient-flows.md#wasserstein-gradient-flow; Ambrosio, Gigli &
Savaré 2008). Each term is an `eqx.Module`; terms add with `+`. For particles
$x_1..x_n$ every energy has a particle value $\\hat F(x)$, a first variation
$\\frac{\\delta\\hat F}{\\delta\\mu}(y)$ at query points and the velocity
$v(y)=-\\nabla_y\\frac{\\delta\\hat F}{\\delta\\mu}(y)$; at the particles
$v(x_i)=-n\\,\\nabla_{x_i}\\hat F(x)$ (the particle system is the gradient
flow of $\\hat F$ in the metric $\\frac1n\\sum_i\\|dx_i\\|^2$). For a law with a
known density (`GaussianLaw`, `GaussianMixture`) `law_velocity` is exact.
"""

import abc
import math
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._custom_types import Points
from .._dae._laws import AbstractLaw, GaussianMixture
from .._validate import (
    as_points,
    check_finite,
    check_positive_int,
    check_value,
    is_concrete,
)


DEFAULT_CHUNK_SIZE = 1024


def check_positive(value: Any, name: str, allow_zero: bool = False) -> float:
    """`value` as a finite float > 0 (>= 0 with `allow_zero`); `ValueError` naming
    `name` (a `TypeError` for bools, strings, complex and other non-numbers,
    which `float()` would read as 1.0 or parse)."""
    dtype = getattr(value, "dtype", None)
    if (
        isinstance(value, (bool, str, bytes, complex))
        or not (isinstance(value, (int, float)) or dtype is not None)
        or (
            dtype is not None
            and not (
                jnp.issubdtype(dtype, jnp.integer)
                or jnp.issubdtype(dtype, jnp.floating)
            )
        )
    ):
        raise TypeError(f"`{name}` must be a positive real number; got {value!r}.")
    if jnp.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar; got shape {jnp.shape(value)}.")
    if not is_concrete(value):
        raise ValueError(f"`{name}` must be a concrete Python number, not traced.")
    v = float(value)
    bad = v < 0 if allow_zero else v <= 0
    if not math.isfinite(v) or bad:
        want = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {want}; got {v}.")
    return v


def chunked_map(fn: Callable[[Array], Array], ys: Array, chunk_size: int) -> Array:
    """`fn` on row blocks of `ys` (`lax.map` with `batch_size`): memory O(chunk x n)."""
    if ys.shape[0] <= chunk_size:
        return jax.vmap(fn)(ys)
    return jax.lax.map(fn, ys, batch_size=chunk_size)


def _points(x, name="x") -> Array:
    return as_points(x, name)


class AbstractEnergy(eqx.Module):
    """An energy $F(\\mu)$ on probability laws of $\\mathbb R^d$.

    Subclasses implement `__call__` (the particle value $\\hat F$),
    `first_variation`, and `law_velocity`; `velocity` is
    $-\\nabla_y\\frac{\\delta\\hat F}{\\delta\\mu}$ by autodiff. Energies add
    with `+` (a `SumEnergy`).
    """

    @abc.abstractmethod
    def __call__(self, x: Points) -> Array:
        """The particle value $\\hat F(\\frac1n\\sum_i\\delta_{x_i})$ for `x` `(n, d)`; a scalar."""

    @abc.abstractmethod
    def first_variation(self, x: Points, y: Points) -> Array:
        """$\\frac{\\delta\\hat F}{\\delta\\mu}(y_k)$ for the particles `x` `(n, d)` at `y` `(k, d)`; `(k,)`."""

    @abc.abstractmethod
    def law_velocity(self, law: AbstractLaw, y: Points) -> Points:
        """The exact Wasserstein velocity $-\\nabla\\frac{\\delta F}{\\delta\\mu}(y)$ of `law` at `y` `(k, d)`."""

    def velocity(self, x: Points, y: Points | None = None) -> Points:
        """$v(y)=-\\nabla_y\\frac{\\delta\\hat F}{\\delta\\mu}(y)$ for the particles `x`; `y` defaults to `x`.

        **Returns:** `(k, d)`. **Raises:** `ValueError` on bad shapes or NaN
        input; `eqx.EquinoxRuntimeError`/`ValueError` when the velocity is NaN.
        """
        x = _points(x)
        y = x if y is None else as_points(y, "y", dim=x.shape[1], dim_of="x")
        v = _velocity(self, x, y)
        return check_finite(
            v,
            "velocity",
            f"{type(self).__name__}: the velocity is NaN or inf (the energy's gradient "
            "is not finite at these points).",
        )

    # Particle energies precompute what the first variation needs once per cloud.
    def prepare(self, x: Points) -> Any:
        """State shared by all queries of `first_variation_from` (default: `x`)."""
        return x

    def first_variation_from(self, state: Any, y: Array) -> Array:
        """$\\frac{\\delta\\hat F}{\\delta\\mu}$ at one point `y` `(d,)` from `prepare(x)`."""
        return self.first_variation(state, y[None])[0]

    def frozen_at(self, x: Points) -> "AbstractEnergy":
        """This energy with its cloud-dependent estimator settings (the blob
        entropy's Scott bandwidth) held at their values for the cloud `x`.

        `jko` minimises each step with the bandwidth frozen at the previous
        cloud $\\mu_k$, so that the objective it evaluates and the gradient it
        follows belong to one function (a bandwidth recomputed from each
        candidate cloud, with its gradient stopped, makes them disagree and
        stalls L-BFGS' line search). Default: the energy itself.
        """
        del x
        return self

    def __add__(self, other: "AbstractEnergy") -> "SumEnergy":
        if not isinstance(other, AbstractEnergy):
            return NotImplemented
        left = self.terms if isinstance(self, SumEnergy) else (self,)
        right = other.terms if isinstance(other, SumEnergy) else (other,)
        return SumEnergy(left + right)


@eqx.filter_jit
def _velocity(energy: AbstractEnergy, x: Array, y: Array) -> Array:
    state = energy.prepare(x)

    def one(yi):
        return -jax.grad(lambda z: energy.first_variation_from(state, z))(yi)

    return chunked_map(one, y, DEFAULT_CHUNK_SIZE)


class SumEnergy(AbstractEnergy):
    """$F=\\sum_kF_k$: the sum of energies (e.g. KL to $e^{-V}$ = potential + entropy)."""

    terms: tuple[AbstractEnergy, ...]

    def __check_init__(self):
        if not isinstance(self.terms, tuple) or not all(
            isinstance(e, AbstractEnergy) for e in self.terms
        ):
            raise TypeError(
                "`terms` must be a tuple of AbstractEnergy instances; got "
                f"{tuple(type(e).__name__ for e in self.terms) if isinstance(self.terms, tuple) else type(self.terms).__name__}."
            )

    def __call__(self, x):
        return sum((e(x) for e in self.terms), jnp.zeros(()))

    def prepare(self, x):
        return tuple(e.prepare(x) for e in self.terms)

    def first_variation_from(self, state, y):
        return sum(
            (e.first_variation_from(s, y) for e, s in zip(self.terms, state)),
            jnp.zeros(()),
        )

    def first_variation(self, x, y):
        x = _points(x)
        state = self.prepare(x)
        return jax.vmap(lambda yi: self.first_variation_from(state, yi))(y)

    def law_velocity(self, law, y):
        return sum(e.law_velocity(law, y) for e in self.terms)  # pyright: ignore

    def frozen_at(self, x) -> "SumEnergy":
        return SumEnergy(tuple(e.frozen_at(x) for e in self.terms))


class PotentialEnergy(AbstractEnergy):
    """$F(\\mu)=\\int V\\,d\\mu$; $\\frac{\\delta F}{\\delta\\mu}=V$, $v=-\\nabla V$.

    **Fields:** `potential`: $V$, a callable on one point `(d,)` returning a scalar.
    """

    potential: Callable[[Array], Array]

    def __check_init__(self):
        if not callable(self.potential):
            raise TypeError(
                "`potential` must be a callable V(x) on one point; "
                f"got {type(self.potential).__name__}."
            )

    def __call__(self, x):
        x = _points(x)
        out = jax.eval_shape(self.potential, x[0])
        if getattr(out, "shape", None) != ():
            # a vector V would be averaged over points and coordinates silently
            raise ValueError(
                "`potential` must return a scalar V(x) for one point (d,); got "
                f"{getattr(out, 'shape', type(out).__name__)}."
            )
        return jnp.mean(jax.vmap(self.potential)(x))

    def first_variation(self, x, y):
        return jax.vmap(self.potential)(jnp.asarray(y))

    def first_variation_from(self, state, y):
        return self.potential(y)

    def law_velocity(self, law, y):
        y = as_points(y, "y", dim=law.dim, dim_of="the law")
        return -jax.vmap(jax.grad(self.potential))(y)


class InteractionEnergy(AbstractEnergy):
    """$F(\\mu)=\\frac12\\iint W(x-y)\\,d\\mu(x)\\,d\\mu(y)$ for an even kernel $W$.

    $\\frac{\\delta F}{\\delta\\mu}=W*\\mu$, $v=-\\nabla W*\\mu$. For particles the
    sums over pairs are streamed in row blocks of `chunk_size`.

    **Fields:** `kernel`: $W$ on one displacement `(d,)` (scalar), assumed
    even, $W(-z)=W(z)$; `chunk_size`.
    """

    kernel: Callable[[Array], Array]
    chunk_size: int = eqx.field(static=True, default=DEFAULT_CHUNK_SIZE)

    def __check_init__(self):
        if not callable(self.kernel):
            raise TypeError(
                "`kernel` must be a callable W(z) on one displacement; "
                f"got {type(self.kernel).__name__}."
            )
        check_positive_int(self.chunk_size, "chunk_size")

    def _conv(self, x, yi):
        return jnp.mean(jax.vmap(lambda xj: self.kernel(yi - xj))(x))

    def __call__(self, x):
        x = _points(x)
        conv = chunked_map(
            jax.checkpoint(lambda yi: self._conv(x, yi)), x, self.chunk_size
        )
        return 0.5 * jnp.mean(conv)

    def first_variation(self, x, y):
        x = _points(x)
        return chunked_map(
            lambda yi: self._conv(x, yi), jnp.asarray(y), self.chunk_size
        )

    def first_variation_from(self, state, y):
        return self._conv(state, y)

    def law_velocity(self, law, y):
        """Exact up to the Gauss-Hermite quadrature of `GaussianMixture.expect` (d <= 4)."""
        y = as_points(y, "y", dim=law.dim, dim_of="the law")
        mix = law if isinstance(law, GaussianMixture) else law.to_mixture()  # pyright: ignore
        grad_w = jax.grad(self.kernel)
        return jax.vmap(lambda yi: -mix.expect(lambda z: grad_w(yi - z)))(y)


class EntropyEnergy(AbstractEnergy):
    """$F(\\mu)=\\kappa\\int\\mu\\log\\mu=-\\kappa H[\\mu]$; $\\frac{\\delta F}{\\delta\\mu}=\\kappa(\\log\\mu+1)$, $v=-\\kappa\\nabla\\log\\mu$.

    Its gradient flow is the heat flow $\\partial_t\\mu=\\kappa\\Delta\\mu$
    (docs/theory/gradient-flows.md#heat-and-fokker-planck). Particles do not
    have a density, so the particle value needs an estimator:

    - `"blob"` (default; Carrillo, Craig & Patacchini 2019): $\\hat F=\\frac\\kappa n\\sum_i\\log\\rho_h(x_i)$
      with the Gaussian kernel density $\\rho_h=\\frac1n\\sum_jN(\\cdot;x_j,h^2I)$.
      Its first variation is $\\kappa[\\log\\rho_h(y)+\\frac1n\\sum_jN(y;x_j,h^2I)/\\rho_h(x_j)]$,
      so $v=-\\kappa\\nabla\\log\\rho_h-\\kappa\\nabla\\big(\\varphi_h*\\frac{\\mu}{\\rho_h}\\big)$. **Bias:** this is
      the gradient flow of $\\int\\mu\\log(\\varphi_h*\\mu)$, not of $\\int\\mu\\log\\mu$.
      For a Gaussian the population velocity is $O(h^4)$ from the exact one
      (measured by quadrature in `tests/test_wgf_energies.py`: 0.0015 at
      $h=0.2$ for $N(0,1)$); the sampling error, $O((nh^d)^{-1/2})$, dominates
      (RMS about 0.1 at $n=2000$, $h=0.3$ in 1-D). The bandwidth defaults to Scott's rule
      $h=\\bar s\\,n^{-1/(d+4)}$ with $\\bar s^2$ the mean coordinate variance of the
      cloud (recomputed for every cloud).
    - `"gaussian"`: $\\hat F=-\\kappa H[N(\\hat m,\\hat\\Sigma)]$ with the cloud's mean and
      covariance; $v(y)=\\kappa\\hat\\Sigma^{-1}(y-\\hat m)$. Exact (no smoothing bias)
      along flows that keep a Gaussian Gaussian (heat, Ornstein-Uhlenbeck,
      quadratic interactions), biased otherwise. Needs n > d.

    **Fields:** `kappa` (> 0), `estimator`, `bandwidth` (a fixed h > 0 or
    `None` for Scott's rule), `chunk_size`.

    **Raises:** `ValueError` for $\\kappa\\le0$, a non-positive bandwidth or an
    unknown estimator.
    """

    kappa: float = eqx.field(static=True)
    estimator: str = eqx.field(static=True)
    bandwidth: float | None = eqx.field(static=True)
    chunk_size: int = eqx.field(static=True)
    # Scott's bandwidth held at one cloud's value (`frozen_at`); None: per cloud.
    frozen_bandwidth: Array | None

    def __init__(
        self,
        kappa: float = 1.0,
        estimator: Literal["blob", "gaussian"] = "blob",
        *,
        bandwidth: float | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ):
        self.kappa = check_positive(kappa, "kappa")
        if not isinstance(estimator, str) or estimator not in ("blob", "gaussian"):
            raise ValueError(
                f"Unknown entropy estimator `estimator`={estimator!r}; expected "
                "'blob' or 'gaussian'."
            )
        self.estimator = estimator
        self.bandwidth = (
            None if bandwidth is None else check_positive(bandwidth, "bandwidth")
        )
        self.frozen_bandwidth = None
        self.chunk_size = check_positive_int(chunk_size, "chunk_size")

    def scott_bandwidth(self, x: Points) -> Array:
        """Scott's rule $h=\\bar s\\,n^{-1/(d+4)}$, $\\bar s^2=\\frac1d\\sum_k\\widehat{\\mathrm{Var}}(x_{\\cdot k})$."""
        n, d = x.shape
        s = jnp.sqrt(jnp.mean(jnp.var(x, axis=0, ddof=1)))
        h = jax.lax.stop_gradient(s * n ** (-1.0 / (d + 4)))
        # coincident particles give h = 0 and a NaN energy and velocity
        return check_value(
            h,
            lambda h: ~(h > 0),
            "EntropyEnergy: Scott's bandwidth of the particles `x` is 0 or NaN "
            "(all particles coincide); pass a fixed `bandwidth`",
        )

    def _h(self, x):
        if self.bandwidth is not None:
            return jnp.asarray(self.bandwidth, x.dtype)
        if self.frozen_bandwidth is not None:
            return jnp.asarray(self.frozen_bandwidth, x.dtype)
        return self.scott_bandwidth(x)

    def frozen_at(self, x) -> "EntropyEnergy":
        if self.estimator != "blob" or self.bandwidth is not None:
            return self
        h = self.scott_bandwidth(_points(x))
        return eqx.tree_at(
            lambda e: e.frozen_bandwidth, self, h, is_leaf=lambda v: v is None
        )

    def _log_kde(self, x, h, yi):
        d = x.shape[1]
        sq = jnp.sum((yi - x) ** 2, axis=-1)
        return (
            jax.nn.logsumexp(-0.5 * sq / h**2)
            - jnp.log(x.shape[0])
            - 0.5 * d * jnp.log(2 * jnp.pi * h**2)
        )

    def _gauss(self, x):
        n, d = x.shape
        if n <= d:
            raise ValueError(
                "estimator='gaussian' needs more particles than dimensions; got "
                f"`x` with n={n}, d={d}."
            )
        m = jnp.mean(x, axis=0)
        cov = (x - m).T @ (x - m) / n
        return m, cov

    def __call__(self, x):
        x = _points(x)
        if self.estimator == "gaussian":
            _, cov = self._gauss(x)
            d = x.shape[1]
            _, logdet = jnp.linalg.slogdet(cov)
            return -self.kappa * 0.5 * (d * jnp.log(2 * jnp.pi * jnp.e) + logdet)
        h = self._h(x)
        logs = chunked_map(
            jax.checkpoint(lambda yi: self._log_kde(x, h, yi)), x, self.chunk_size
        )
        return self.kappa * jnp.mean(logs)

    def prepare(self, x):
        x = _points(x)
        if self.estimator == "gaussian":
            m, cov = self._gauss(x)
            return ("gaussian", m, jnp.linalg.inv(cov), x.shape[1])
        h = self._h(x)
        log_rho = chunked_map(lambda yi: self._log_kde(x, h, yi), x, self.chunk_size)
        return ("blob", x, h, log_rho)

    def first_variation_from(self, state, y):
        if state[0] == "gaussian":
            _, m, prec, _ = state
            # d/d mu of -(kappa/2) log det Sigma(mu): -(kappa/2)(y-m)^T Sigma^-1 (y-m) + const.
            r = y - m
            return -0.5 * self.kappa * r @ prec @ r
        _, x, h, log_rho = state
        d = x.shape[1]
        sq = jnp.sum((y - x) ** 2, axis=-1)
        log_phi = -0.5 * sq / h**2 - 0.5 * d * jnp.log(2 * jnp.pi * h**2)
        second = jnp.mean(jnp.exp(log_phi - log_rho))
        return self.kappa * (self._log_kde(x, h, y) + second)

    def first_variation(self, x, y):
        state = self.prepare(x)
        return jax.vmap(lambda yi: self.first_variation_from(state, yi))(jnp.asarray(y))

    def law_velocity(self, law, y):
        """$-\\kappa\\nabla\\log\\mu(y)$ from the law's exact score."""
        y = as_points(y, "y", dim=law.dim, dim_of="the law")
        return -self.kappa * jax.vmap(law.score)(y)


def kl_energy(
    potential: Callable[[Array], Array], kappa: float = 1.0, **entropy_kwargs
) -> SumEnergy:
    """$\\kappa\\,\\mathrm{KL}(\\mu\\,\\|\\,e^{-V/\\kappa})$ up to a constant: `PotentialEnergy(V) + EntropyEnergy(kappa)`.

    With $V=\\|x\\|^2/2$, $\\kappa=1$ its gradient flow is the Ornstein-Uhlenbeck
    Fokker-Planck equation (docs/theory/gradient-flows.md#heat-and-fokker-planck).
    """
    return PotentialEnergy(potential) + EntropyEnergy(kappa, **entropy_kwargs)


def law_fisher_information(law: AbstractLaw, y: Points) -> Array:
    """$\\frac1k\\sum_i\\|\\nabla\\log\\mu(y_i)\\|^2$, the Monte Carlo Fisher information at samples `y` of `law`."""
    y = as_points(y, "y", dim=law.dim, dim_of="the law")
    s = jax.vmap(law.score)(y)
    return jnp.mean(jnp.sum(s**2, axis=-1))


__all__ = [
    "AbstractEnergy",
    "EntropyEnergy",
    "InteractionEnergy",
    "PotentialEnergy",
    "SumEnergy",
    "kl_energy",
]
