"""Data laws with closed forms: Gaussians and Gaussian mixtures in any dimension.

The denoising-autoencoder story (docs/theory/dae.md#gaussian-mixtures) needs three operations
on a law $\\mu$ besides its density and score:

- heat-kernel smoothing $W_t*\\mu$ with $W_t=N(0,tI)$ (Gaussian noise of
  variance $t$): covariances $\\Sigma_k\\to\\Sigma_k+tI$ (`smooth`). It solves
  $\\partial_t\\mu=\\frac12\\Delta\\mu$.
- the deep-DAE marginal $\\mu_t$, the solution of the backward heat equation
  $\\partial_t\\mu_t=-\\Delta\\mu_t$: covariances $\\Sigma_k\\to\\Sigma_k-2tI$
  (`backward_heat`), which exists only before the collapse time
  $t^*=\\min_k\\lambda_{\\min}(\\Sigma_k)/2$.
- the entropy $H[\\mu]=-\\int\\mu\\log\\mu$: exact for a Gaussian; for a
  mixture by tensor Gauss-Hermite quadrature (low dimension) or Monte Carlo
  with its standard error.
"""

import abc
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.linalg as jsl
import numpy as np
from jax.scipy.special import logsumexp
from jaxtyping import Array, ArrayLike

from .._custom_types import Key, Point, Points
from .._validate import (
    as_float_array,
    as_points,
    check_bool,
    check_finite,
    check_key,
    check_positive_int,
    check_size,
    check_value,
    is_concrete,
)
from ._checks import (
    check_before_collapse,
    check_cov,
    check_point,
    check_time,
    check_weights,
    CollapseError as CollapseError,
)


def component_logpdfs(x: Point, means: Array, covs: Array) -> Array:
    """$\\log N(x;m_k,\\Sigma_k)$ for each k, `[K]`."""
    m = x.shape[0]

    def one(mean, cov):
        chol = jnp.linalg.cholesky(cov)
        z = jsl.solve_triangular(chol, x - mean, lower=True)
        logdet = 2 * jnp.sum(jnp.log(jnp.diagonal(chol)))
        return -0.5 * (z @ z) - 0.5 * logdet - 0.5 * m * jnp.log(2 * jnp.pi)

    return jax.vmap(one)(means, covs)


def component_scores(x: Point, means: Array, covs: Array) -> Array:
    """$-\\Sigma_k^{-1}(x-m_k)$ for each k, `(K, d)`."""
    return jax.vmap(lambda mean, cov: -jnp.linalg.solve(cov, x - mean))(means, covs)


def _hermite_nodes(m: int, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss-Hermite nodes/weights for $E_{z\\sim N(0,I_m)}$."""
    z1, w1 = np.polynomial.hermite_e.hermegauss(num_nodes)
    w1 = w1 / np.sqrt(2 * np.pi)
    grids = np.meshgrid(*([z1] * m), indexing="ij")
    wgrids = np.meshgrid(*([w1] * m), indexing="ij")
    z = np.stack([g.ravel() for g in grids], axis=1)
    w = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)
    return z, w


class AbstractLaw(eqx.Module):
    """A probability law on $\\mathbb R^d$ with a closed-form density and score.

    Methods take one unbatched point `(d,)`; callers `jax.vmap`.
    """

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """The dimension $m$."""

    @property
    @abc.abstractmethod
    def collapse_time(self) -> Array:
        """$t^*=\\lambda_{\\min}/2$: the backward heat equation exists for $t<t^*$."""

    @abc.abstractmethod
    def log_prob(self, x: Point) -> Array:
        """$\\log\\mu(x)$ at one point."""

    @abc.abstractmethod
    def score(self, x: Point) -> Array:
        """$\\nabla\\log\\mu(x)$ at one point, `(d,)`."""

    @abc.abstractmethod
    def sample(self, num_samples: int, *, key: Key) -> Points:
        """`num_samples` i.i.d. draws, `(n, d)`."""

    @abc.abstractmethod
    def smooth(self, t) -> "AbstractLaw":
        """$W_t*\\mu$, the law of $x+\\sqrt t\\,\\varepsilon$."""

    @abc.abstractmethod
    def backward_heat(self, t, *, check: bool = True) -> "AbstractLaw":
        """$\\mu_t$ solving $\\partial_t\\mu_t=-\\Delta\\mu_t$ from $\\mu_0=\\mu$."""

    @abc.abstractmethod
    def entropy(self, **kwargs) -> Array:
        """$H[\\mu]=-\\int\\mu\\log\\mu$."""

    def prob(self, x: Point) -> Array:
        """$\\mu(x)$ at one point."""
        return jnp.exp(self.log_prob(x))

    def _check_backward_time(self, t, check: bool):
        """`t` checked (>= 0, finite, before the collapse when `check`); returns it."""
        t = check_time(t)
        if check_bool(check, "check"):
            t = check_before_collapse(t, self.collapse_time)
        return t


def _real_array(value, name: str, dtype=None) -> Array:
    """`as_float_array`, also refusing `None` and complex values by name."""
    if value is None:
        raise TypeError(f"`{name}` must be a real array; got None.")
    if not isinstance(value, (str, bytes)):
        try:
            raw = jnp.asarray(value)
        except (TypeError, ValueError):
            raw = None  # as_float_array names it
        if raw is not None and jnp.issubdtype(raw.dtype, jnp.complexfloating):
            raise TypeError(f"`{name}` must be real; got dtype {raw.dtype}.")
    return as_float_array(value, name, dtype)


def _tie(value: Array, checked: Array) -> Array:
    """`value`, carrying the run-time checks of `checked` when both are traced.

    Adds sum(0 * `checked`) (0 unless a check fails anyway) so that using `value` alone keeps the
    `eqx.error_if` on `checked` alive; concrete values are returned unchanged.
    """
    if is_concrete(value, checked):
        return value
    # a sum over all of `checked` (a slice of a stack could be simplified away)
    return value + jnp.sum(checked * 0).astype(value.dtype)


def _check_num_samples(num_samples, dim: int, dtype) -> int:
    n = check_positive_int(num_samples, "num_samples", 0)
    check_size(n, "num_samples", 3 * dim * jnp.dtype(dtype).itemsize, n)
    return n


class GaussianLaw(AbstractLaw):
    """The Gaussian law $N(m,\\Sigma)$ on $\\mathbb R^d$.

    **Fields:** `mean` `(d,)`, `cov` `(d, d)` (symmetric positive definite).

    **Raises:** `ValueError` on mismatched shapes, NaN/inf, or a covariance
    that is not symmetric positive definite.
    """

    mean: Array
    cov: Array

    def __init__(self, mean: ArrayLike, cov: ArrayLike):
        mean = _real_array(mean, "mean")
        cov = _real_array(cov, "cov", mean.dtype)
        if mean.ndim != 1 or mean.shape[0] == 0:
            raise ValueError(
                f"`mean` must have shape (d,) with d >= 1; got {mean.shape}."
            )
        mean = check_finite(mean, "mean")
        cov = check_cov(cov, mean.shape[0], "cov")
        # traced: tie the covariance's run-time check to the mean too, so that
        # a caller using only `mean` still gets it (eqx.error_if needs its value used)
        self.mean = _tie(mean, cov)
        self.cov = cov

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    @property
    def eigvals(self) -> Array:
        """Eigenvalues $\\lambda_i$ of $\\Sigma$, ascending."""
        return jnp.linalg.eigvalsh(self.cov)

    @property
    def collapse_time(self) -> Array:
        return self.eigvals[0] / 2

    def log_prob(self, x: Point) -> Array:
        x = check_finite(check_point(x, self.dim), "x")
        return component_logpdfs(x, self.mean[None], self.cov[None])[0]

    def score(self, x: Point) -> Array:
        x = check_finite(check_point(x, self.dim), "x")
        return -jnp.linalg.solve(self.cov, x - self.mean)

    def sample(self, num_samples: int, *, key: Key) -> Points:
        num_samples = _check_num_samples(num_samples, self.dim, self.mean.dtype)
        check_key(key)
        return jr.multivariate_normal(
            key, self.mean, self.cov, (num_samples,), method="eigh"
        )

    def smooth(self, t) -> "GaussianLaw":
        """$W_t*N(m,\\Sigma)=N(m,\\Sigma+tI)$. **Raises:** `ValueError` if $t<0$."""
        t = check_time(t)
        return GaussianLaw(
            self.mean, self.cov + t * jnp.eye(self.dim, dtype=self.cov.dtype)
        )

    def backward_heat(self, t, *, check: bool = True) -> "GaussianLaw":
        """$\\mu_t=N(m,\\Sigma-2tI)$ (docs/theory/dae.md#gaussian-data).

        **Raises:** `ValueError` if $t<0$; `CollapseError` if
        $t\\ge\\lambda_{\\min}/2$ (checked when `t` is concrete and `check`).
        """
        t = self._check_backward_time(t, check)
        return GaussianLaw(
            self.mean, self.cov - 2 * t * jnp.eye(self.dim, dtype=self.cov.dtype)
        )

    def entropy(self, **kwargs) -> Array:
        """Exact: $\\frac12\\log\\det(2\\pi e\\Sigma)=\\frac12\\sum_i\\log(2\\pi e\\lambda_i)$."""
        del kwargs
        return 0.5 * jnp.sum(jnp.log(2 * jnp.pi * jnp.e * self.eigvals))

    def to_mixture(self) -> "GaussianMixture":
        return GaussianMixture(
            jnp.ones((1,), self.mean.dtype), self.mean[None], self.cov[None]
        )


class GaussianMixture(AbstractLaw):
    """A Gaussian mixture $\\sum_k\\pi_kN(m_k,\\Sigma_k)$ on $\\mathbb R^d$.

    **Fields:** `weights` `[K]` (positive; normalised to sum 1), `means`
    `(K, d)`, `covs` `(K, d, d)` (each symmetric positive definite).

    **Raises:** `ValueError` on mismatched shapes, non-positive weights,
    NaN/inf, or a covariance that is not symmetric positive definite.
    """

    weights: Array
    means: Array
    covs: Array

    def __init__(self, weights: ArrayLike, means: ArrayLike, covs: ArrayLike):
        means = _real_array(means, "means")
        weights = _real_array(weights, "weights", means.dtype)
        covs = _real_array(covs, "covs", means.dtype)
        if means.ndim != 2 or 0 in means.shape:
            raise ValueError(
                f"`means` must have shape (K, d) with K, d >= 1; got {means.shape}."
            )
        num_k, m = means.shape
        if weights.shape != (num_k,):
            raise ValueError(
                f"`weights` must have shape [K]=({num_k},) to match `means`; got {weights.shape}."
            )
        if covs.shape != (num_k, m, m):
            raise ValueError(
                f"`covs` must have shape (K, d, d)=({num_k}, {m}, {m}); got {covs.shape}."
            )
        weights = check_weights(weights, "weights")
        means = check_finite(means, "means")
        covs = jnp.stack([check_cov(covs[k], m, f"covs[{k}]") for k in range(num_k)])
        self.weights = _tie(weights / jnp.sum(weights), covs)
        self.means = _tie(means, covs)
        self.covs = covs

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    @property
    def collapse_time(self) -> Array:
        return jnp.min(jnp.linalg.eigvalsh(self.covs)[:, 0]) / 2

    def components(self) -> list[GaussianLaw]:
        return [
            GaussianLaw(self.means[k], self.covs[k]) for k in range(self.num_components)
        ]

    def _log_terms(self, x: Point) -> Array:
        return jnp.log(self.weights) + component_logpdfs(x, self.means, self.covs)

    def responsibilities(self, x: Point) -> Array:
        """Posterior component probabilities $r_k(x)\\propto\\pi_kN(x;m_k,\\Sigma_k)$, `[K]`."""
        x = check_point(x, self.dim)
        return jax.nn.softmax(self._log_terms(x))

    def log_prob(self, x: Point) -> Array:
        x = check_point(x, self.dim)
        return logsumexp(self._log_terms(x))

    def score(self, x: Point) -> Array:
        """$\\sum_kr_k(x)\\,(-\\Sigma_k^{-1}(x-m_k))$."""
        x = check_point(x, self.dim)
        r = jax.nn.softmax(self._log_terms(x))
        return r @ component_scores(x, self.means, self.covs)

    def sample(self, num_samples: int, *, key: Key) -> Points:
        num_samples = _check_num_samples(num_samples, self.dim, self.means.dtype)
        check_key(key)
        kc, kz = jr.split(key)
        comp = jr.choice(kc, self.num_components, (num_samples,), p=self.weights)
        evals, evecs = jnp.linalg.eigh(self.covs)
        roots = evecs * jnp.sqrt(jnp.clip(evals, 0))[:, None, :]
        z = jr.normal(kz, (num_samples, self.dim), self.means.dtype)
        return self.means[comp] + jnp.einsum("nij,nj->ni", roots[comp], z)

    def smooth(self, t) -> "GaussianMixture":
        """$W_t*\\mu=\\sum_k\\pi_kN(m_k,\\Sigma_k+tI)$. **Raises:** `ValueError` if $t<0$."""
        t = check_time(t)
        return GaussianMixture(
            self.weights,
            self.means,
            self.covs + t * jnp.eye(self.dim, dtype=self.covs.dtype),
        )

    def backward_heat(self, t, *, check: bool = True) -> "GaussianMixture":
        """$\\mu_t=\\sum_k\\pi_kN(m_k,\\Sigma_k-2tI)$ [derived; docs/theory/dae.md#gaussian-mixtures].

        Each component solves $\\partial_t\\mu=-\\Delta\\mu$ and the equation is
        linear. **Raises:** `ValueError` if $t<0$; `CollapseError` if
        $t\\ge\\min_k\\lambda_{\\min}(\\Sigma_k)/2$.
        """
        t = self._check_backward_time(t, check)
        return GaussianMixture(
            self.weights,
            self.means,
            self.covs - 2 * t * jnp.eye(self.dim, dtype=self.covs.dtype),
        )

    def expect(
        self, fn: Callable[[Array], Array], *, num_nodes: int | None = None
    ) -> Array:
        """$E_\\mu[f]$ by tensor Gauss-Hermite quadrature in each component.

        $\\sum_k\\pi_k\\sum_iw_if(m_k+\\Sigma_k^{1/2}z_i)$ with `num_nodes`
        nodes per axis ($\\text{num\\_nodes}^m$ in all; default 128 for m=1,
        48 for m=2, 20 for m=3, 10 for m=4). Exact for polynomials of degree
        $<2\\,\\text{num\\_nodes}$; accurate for smooth $f$ of quadratic growth
        such as $\\log\\mu$. **Raises:** `ValueError` for m > 4 (use Monte Carlo).
        """
        m = self.dim
        if m > 4:
            raise ValueError(
                f"tensor quadrature is for dimension m <= 4; this law has m={m}. Use entropy(method='monte_carlo', key=...)."
            )
        if not callable(fn):
            raise TypeError(f"`fn` must be a callable x -> f(x); got {fn!r}.")
        if num_nodes is None:
            num_nodes = {1: 128, 2: 48, 3: 20, 4: 10}[m]
        num_nodes = check_positive_int(num_nodes, "num_nodes")
        check_size(num_nodes, "num_nodes", 8 * (m + 1), float(num_nodes) ** m)
        z, w = _hermite_nodes(m, num_nodes)
        z = jnp.asarray(z, self.means.dtype)
        w = jnp.asarray(w, self.means.dtype)
        evals, evecs = jnp.linalg.eigh(self.covs)
        roots = evecs * jnp.sqrt(evals)[:, None, :]

        def one(mean, root):
            xs = mean + z @ root.T
            return jnp.tensordot(w, jax.vmap(fn)(xs), axes=1)

        per = jax.vmap(one)(self.means, roots)
        return jnp.tensordot(self.weights, per, axes=1)

    def entropy_monte_carlo(self, num_samples: int, *, key: Key) -> tuple[Array, Array]:
        """$H\\approx-\\frac1n\\sum_i\\log\\mu(x_i)$, $x_i\\sim\\mu$; returns `(estimate, standard_error)`."""
        num_samples = check_positive_int(num_samples, "num_samples", 2)
        xs = self.sample(num_samples, key=key)
        lp = jax.vmap(self.log_prob)(xs)
        return -jnp.mean(lp), jnp.std(lp) / jnp.sqrt(num_samples)

    def entropy(
        self,
        *,
        method: str = "auto",
        num_nodes: int | None = None,
        num_samples: int = 100_000,
        key: Key | None = None,
    ) -> Array:
        """$H[\\mu]$ numerically (a mixture's entropy has no closed form).

        `method="quadrature"` (tensor Gauss-Hermite, see `expect`; the
        default for m <= 3), or `"monte_carlo"` (needs `key`; standard error
        from `entropy_monte_carlo`). A single component returns the exact value.

        **Raises:** `ValueError` for an unknown method, or Monte Carlo without a key.
        """
        if self.num_components == 1:
            return GaussianLaw(self.means[0], self.covs[0]).entropy()
        if method == "auto":
            method = "quadrature" if self.dim <= 3 else "monte_carlo"
        if method == "quadrature":
            return -self.expect(self.log_prob, num_nodes=num_nodes)
        if method == "monte_carlo":
            if key is None:
                raise ValueError("entropy(method='monte_carlo') needs `key`.")
            return self.entropy_monte_carlo(num_samples, key=key)[0]
        raise ValueError(
            f"unknown entropy method {method!r}; expected 'auto', 'quadrature' or 'monte_carlo'."
        )


def fit_mixture(
    x: Points,
    num_components: int,
    *,
    key: Key | None = None,
    init: GaussianMixture | None = None,
    num_iters: int = 100,
    reg: float = 1e-6,
) -> GaussianMixture:
    """Fit a Gaussian mixture to samples by EM (a fixed number of iterations, `lax.scan`).

    Used to refit a law to a pushforward cloud (stacked DAEs on mixtures).

    **Arguments:**

    - `x`: `(n, d)` samples. `num_components`: K.
    - `key`: picks the initial means among the samples when `init` is None.
    - `init`: a mixture to start from (warm start); its K must match.
    - `num_iters`: EM iterations. `reg`: added to each covariance's diagonal.

    **Returns:** the fitted `GaussianMixture`.

    **Raises:** `ValueError` on bad shapes, NaN/inf samples, n < K, sizes that
    are not integers >= 1, a negative or non-finite `reg`, neither key nor
    init, or an EM run that breaks down (a component collapsed onto duplicated
    points with `reg` = 0); `TypeError` for a non-numeric `x` or an `init`
    that is not a `GaussianMixture`.
    """
    x = as_points(x, "x")
    n, m = x.shape
    num_components = check_positive_int(num_components, "num_components")
    num_iters = check_positive_int(num_iters, "num_iters")
    if isinstance(reg, (bool, np.bool_, str, bytes)) or reg is None:
        raise TypeError(f"`reg` must be a real number >= 0; got {reg!r}.")
    if is_concrete(reg):
        if not (math.isfinite(float(reg)) and float(reg) >= 0):
            raise ValueError(f"`reg` must be finite and >= 0; got {float(reg)}.")
    if n < num_components:
        raise ValueError(
            f"need `num_components` <= n (one sample per component at least); "
            f"got num_components={num_components}, n={n}."
        )
    if init is not None:
        if not isinstance(init, GaussianMixture):
            raise TypeError(
                f"`init` must be a GaussianMixture (use law.to_mixture() for a "
                f"GaussianLaw); got {type(init).__name__}."
            )
        if init.num_components != num_components or init.dim != m:
            raise ValueError(
                f"`init` has K={init.num_components}, m={init.dim}; expected K={num_components}, m={m}."
            )
        w0, mu0, c0 = init.weights, init.means, init.covs
    else:
        if key is None:
            raise ValueError("fit_mixture needs `key` (or `init`).")
        check_key(key)
        idx = jr.choice(key, n, (num_components,), replace=False)
        mu0 = x[idx]
        # the biased covariance (n = 1 gives 0, not NaN), kept definite by `reg`
        cov = jnp.cov(x.T, bias=True).reshape(m, m) + reg * jnp.eye(m, dtype=x.dtype)
        c0 = jnp.broadcast_to(cov, (num_components, m, m))
        w0 = jnp.full((num_components,), 1.0 / num_components, x.dtype)
    w, mu, c = _em(x, w0, mu0, c0, num_iters, reg)
    c = check_value(
        c,
        lambda c, w: ~jnp.all(jnp.isfinite(c)) | ~jnp.all(jnp.isfinite(w)),
        "fit_mixture: EM broke down (NaN/inf): a component collapsed onto "
        "duplicated points, so its covariance is singular; use `reg` > 0, fewer "
        "`num_components`, or rescale `x` (squared values overflow its dtype).",
        w,
    )
    return GaussianMixture(w, mu, c)


@eqx.filter_jit
def _em(x, w0, mu0, c0, num_iters: int, reg: float):
    n, m = x.shape
    eye = jnp.eye(m, dtype=x.dtype)

    def step(carry, _):
        w, mu, c = carry
        logr = jax.vmap(lambda xi: jnp.log(w) + component_logpdfs(xi, mu, c))(x)
        r = jax.nn.softmax(logr, axis=1)
        nk = jnp.sum(r, axis=0) + 1e-12
        mu = (r.T @ x) / nk[:, None]
        d = x[None] - mu[:, None]
        c = jnp.einsum("nk,kni,knj->kij", r, d, d) / nk[:, None, None] + reg * eye
        return (nk / n, mu, c), None

    (w, mu, c), _ = lax.scan(step, (w0, mu0, c0), None, length=num_iters)
    return w, mu, c


def as_mixture(law: AbstractLaw) -> GaussianMixture:
    if isinstance(law, GaussianMixture):
        return law
    if isinstance(law, GaussianLaw):
        return law.to_mixture()
    raise TypeError(
        f"expected a GaussianLaw or GaussianMixture; got {type(law).__name__}."
    )
