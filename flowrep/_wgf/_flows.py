"""Wasserstein gradient flows of particles: continuous (`gradient_flow`) and JKO steps (`jko`).

docs/theory/gradient-flows.md#wasserstein-gradient-flow and #jko (Jordan,
Kinderlehrer & Otto 1998; Ambrosio, Gigli & Savaré 2008).
"""

import functools
import math
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike

from .._custom_types import Points
from .._depth._flow import flow
from .._depth._result import FlowResult
from .._depth._vector_field import AbstractVectorField
from .._transport._divergence import sinkhorn_divergence
from .._transport._maps import barycentric_projection
from .._transport._tracks import Tracks
from .._validate import as_points, check_memory, check_positive_int
from ._energies import AbstractEnergy, check_positive


def _time(value: Any, name: str) -> float:
    """A concrete, finite real time as a float (`TypeError` for bools, strings
    and complex, which `float()` would read or parse)."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, (bool, str, bytes, complex)) or not (
        isinstance(value, (int, float))
        or (
            dtype is not None
            and (
                jnp.issubdtype(dtype, jnp.integer)
                or jnp.issubdtype(dtype, jnp.floating)
            )
        )
    ):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.")
    if jnp.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar; got shape {jnp.shape(value)}.")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"`{name}` must be finite; got {v}.")
    return v


class ParticleField(AbstractVectorField):
    """The particle velocity $v_i=-\\nabla_y\\frac{\\delta\\hat F}{\\delta\\mu}(x_i)$ as a vector field of the whole cloud.

    `batch_call(t, xs)` is the interacting system (the law is the cloud
    `xs` itself); `__call__` on one point raises (it has no velocity apart
    from the cloud), on a cloud `(n, d)` it is `batch_call`. `batch_divergence` is $\\nabla_y\\cdot v(y)$ at the particles with
    the law frozen, which is what the continuity equation
    $\\frac{d}{dt}\\log\\mu_t(x_t)=-\\nabla\\cdot v_t(x_t)$ needs.
    """

    energy: AbstractEnergy
    dim: int | None = eqx.field(static=True)
    t0: None = eqx.field(static=True)
    t1: None = eqx.field(static=True)

    def __init__(self, energy: AbstractEnergy, dim: int | None = None):
        """**Arguments:** `energy`, an `AbstractEnergy`; `dim`, the particles' d (or `None`).

        **Raises:** `TypeError` for an `energy` that is not an `AbstractEnergy`;
        `ValueError` for a `dim` that is not a positive integer.
        """
        if not isinstance(energy, AbstractEnergy):
            raise TypeError(
                f"`energy` must be an AbstractEnergy; got {type(energy).__name__}."
            )
        if dim is not None:
            dim = check_positive_int(dim, "dim")
        self.energy, self.dim, self.t0, self.t1 = energy, dim, None, None

    def _points(self, xs):
        return as_points(xs, "xs", dim=self.dim, dim_of="the ParticleField's `dim`")

    def __call__(self, t, x, args=None):
        if x.ndim == 2:
            return self.batch_call(t, x, args)
        # A particle's velocity depends on the whole cloud; only shapes are
        # asked of one point (by `flow`'s checks, under `eval_shape`).
        return eqx.error_if(
            jnp.zeros_like(x),
            jnp.all(x == x) | True,
            "ParticleField: one particle has no velocity of its own (it depends on "
            "the cloud); call batch_call(t, xs) on the whole cloud.",
        )

    def batch_call(self, t, xs, args=None):
        if self.dim is not None:
            xs = self._points(xs)
        return self.energy.velocity(xs)

    def batch_divergence(self, t, xs, args=None):
        xs = self._points(xs)
        state = self.energy.prepare(xs)

        def vel(y):
            return -jax.grad(lambda z: self.energy.first_variation_from(state, z))(y)

        def one(y):
            return vel(y), jnp.trace(jax.jacfwd(vel)(y))

        return jax.vmap(one)(xs)


def gradient_flow(
    energy: AbstractEnergy,
    x0: Points | ArrayLike,
    t1: float,
    *,
    t0: float = 0.0,
    **flow_kwargs: Any,
) -> FlowResult:
    """The Wasserstein gradient flow $\\partial_t\\mu=\\nabla\\cdot(\\mu\\nabla\\frac{\\delta F}{\\delta\\mu})$ of a particle cloud.

    Integrates $\\dot x_i=-\\nabla\\frac{\\delta\\hat F}{\\delta\\mu_t}(x_i)$ with
    $\\mu_t=\\frac1n\\sum_j\\delta_{x_j(t)}$ through `flowrep.flow`, so the result
    has `.xs`, `.tracks` and (with `log_density=`) the log-density change along
    paths (docs/theory/gradient-flows.md#wasserstein-gradient-flow).

    **Arguments:**

    - `energy`: an `AbstractEnergy` (e.g. `PotentialEnergy(V) + EntropyEnergy(1.0)`).
    - `x0`: `(n, d)` starting particles, samples of $\\mu_0$.
    - `t1`: final time (> t0). `t0`: start time (default 0).
    - `flow_kwargs`: passed to `flowrep.flow` (`ts`, `solver`, `num_steps`,
      `rtol`, `atol`, `log_density`, ...).

    **Returns:** the `FlowResult` of `flowrep.flow`.

    **Raises:** `TypeError` when `energy` is not an `AbstractEnergy`;
    `ValueError` for bad points or `t1 <= t0`; `ValueError` /
    `eqx.EquinoxRuntimeError` when the velocity is NaN.
    """
    if not isinstance(energy, AbstractEnergy):
        raise TypeError(
            f"`energy` must be an AbstractEnergy; got {type(energy).__name__}."
        )
    x0 = as_points(x0, "x0", min_samples=2)
    t0, t1 = _time(t0, "t0"), _time(t1, "t1")
    if float(t1) <= float(t0):
        raise ValueError(f"`t1` must be > t0 = {float(t0)}; got {float(t1)}.")
    energy.velocity(x0)  # eager check: a NaN velocity at the start is a clear error now
    field = ParticleField(energy, dim=x0.shape[1])
    return flow(field, x0, t0, t1, **flow_kwargs)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def sinkhorn_transport(y: Array, x: Array, epsilon: float) -> Array:
    """$S_\\varepsilon(\\hat\\mu_y,\\hat\\mu_x)$ by flowrep's `sinkhorn_divergence`, differentiable in `y`.

    The solver's `while_loop` has no reverse mode; the gradient is the
    envelope theorem's, $\\nabla_{y_i}S_\\varepsilon=\\frac2n(\\hat T_{yy}(y_i)-\\hat T_{yx}(y_i))$
    with $\\hat T$ the barycentric projections of the entropic plans (Feydy et
    al. 2019, sec. 3); `x` is held fixed.
    """
    return sinkhorn_divergence(y, x, epsilon=epsilon).divergence


def _sinkhorn_transport_fwd(y, x, epsilon):
    return sinkhorn_transport(y, x, epsilon), (y, x)


def _sinkhorn_transport_bwd(epsilon, res, g):
    y, x = res
    n = y.shape[0]
    t_self = barycentric_projection(y, y, epsilon=epsilon)
    t_cross = barycentric_projection(y, x, epsilon=epsilon)
    return g * (2 / n) * (t_self - t_cross), jnp.zeros_like(x)


sinkhorn_transport.defvjp(_sinkhorn_transport_fwd, _sinkhorn_transport_bwd)


class JKOResult(eqx.Module):
    """What `jko` returns.

    **Fields:** `tracks` (`Tracks`: the cloud after every step, times $k\\tau$),
    `energies` `(steps + 1,)` $\\hat F$ at every step, `grad_norms` `(steps,)`
    the final gradient norm of each inner minimisation (its stationarity).
    **Property:** `xs` `(n, d)`, the final particles.
    """

    tracks: Tracks
    energies: Array
    grad_norms: Array

    @property
    def xs(self) -> Array:
        return self.tracks.points[-1]


def jko(
    energy: AbstractEnergy,
    x0: Points | ArrayLike,
    tau: float,
    steps: int,
    *,
    inner_steps: int = 200,
    learning_rate: float | None = None,
    t0: float = 0.0,
    transport: Literal["pairing", "sinkhorn"] = "pairing",
    epsilon: float = 1e-3,
) -> JKOResult:
    """The JKO scheme $\\mu_{k+1}=\\arg\\min_\\mu F(\\mu)+\\frac1{2\\tau}W_2^2(\\mu,\\mu_k)$ for particles.

    Each step minimises over the new positions $y$,
    $$\\hat F(y)+\\frac1{2\\tau}\\frac1n\\sum_i\\|y_i-x_i^k\\|^2 ,$$
    i.e. the transport term uses the particles' own pairing $y_i\\leftrightarrow x_i^k$
    (an upper bound on $W_2^2$ that is exact when the step is the optimal
    map, as for small $\\tau$ and smooth energies: the minimiser moves each
    particle by $\\tau v+O(\\tau^2)$, cyclically monotone). The stationarity
    condition $y_i=x_i^k+\\tau v(y_i)$ is backward Euler on the particle
    velocity, first order in $\\tau$ (docs/theory/gradient-flows.md#jko). The
    minimisation starts at $x^k$ and runs `inner_steps` of optax L-BFGS
    (`learning_rate=None`, default) or Adam with that learning rate, all
    inside one `lax.scan` over the steps. Within a step the energy's
    cloud-dependent estimator settings (the blob entropy's Scott bandwidth)
    are held at their values for $x^k$ (`AbstractEnergy.frozen_at`), so the
    minimised objective and its gradient belong to one function.

    With `transport="sinkhorn"` the transport term is instead the debiased
    Sinkhorn divergence $S_\\varepsilon(\\hat\\mu_y,\\hat\\mu_k)$ (flowrep's
    `sinkhorn_divergence`, an estimate of $W_2^2$ that does not need the
    particles' labels; gradient by the envelope theorem, see
    `sinkhorn_transport`), as in JKO schemes on unlabelled clouds. It costs
    two to three Sinkhorn solves per objective evaluation and agrees with the
    pairing version when $\\varepsilon$ is small against the cloud's spread
    (tested on the Ornstein-Uhlenbeck closed form).

    **Arguments:**

    - `energy`: an `AbstractEnergy`.
    - `x0`: `(n, d)` starting particles.
    - `tau`: the step (> 0). `steps`: the number of steps (>= 1).
    - `inner_steps`: optimiser iterations per step.
    - `learning_rate`: `None` for L-BFGS with a line search, else Adam's rate.
    - `t0`: the time of `x0` (the tracks' times are $t_0+k\\tau$).
    - `transport`: `"pairing"` (default) or `"sinkhorn"`.
    - `epsilon`: the absolute entropic regularisation of `"sinkhorn"` (in
      units of squared distance; > 0).

    **Returns:** a `JKOResult`.

    **Raises:** `ValueError` for $\\tau\\le0$, `steps < 1`, bad points, or a
    NaN energy/velocity at the start; `eqx.EquinoxRuntimeError` when an
    inner minimisation becomes non-finite.
    """
    if not isinstance(energy, AbstractEnergy):
        raise TypeError(
            f"`energy` must be an AbstractEnergy; got {type(energy).__name__}."
        )
    tau = check_positive(tau, "tau")
    t0 = _time(t0, "t0")
    steps = check_positive_int(steps, "steps")
    inner_steps = check_positive_int(inner_steps, "inner_steps")
    x0 = as_points(x0, "x0", min_samples=2)
    check_memory((steps + 1) * x0.size * x0.dtype.itemsize, f"jko(`steps`={steps})")
    if transport not in ("pairing", "sinkhorn"):
        raise ValueError(
            f"`transport` must be 'pairing' or 'sinkhorn'; got {transport!r}."
        )
    epsilon = check_positive(epsilon, "epsilon")
    energy.velocity(x0)  # eager: a NaN velocity is a clear error before any step
    if learning_rate is None:
        opt = optax.lbfgs()
    else:
        opt = optax.adam(check_positive(learning_rate, "learning_rate"))
    e0, grad_norms, points, energies = _jko_run(
        energy,
        x0,
        tau,
        steps,
        inner_steps,
        opt,
        learning_rate is None,
        epsilon if transport == "sinkhorn" else None,
    )
    points = eqx.error_if(
        points,
        ~jnp.all(jnp.isfinite(points)),
        "jko: a step's minimisation became NaN or inf; use a smaller tau or check the energy.",
    )
    times = t0 + tau * jnp.arange(steps + 1, dtype=x0.dtype)
    return JKOResult(
        tracks=Tracks(points, times),
        energies=jnp.concatenate([e0[None], energies]),
        grad_norms=grad_norms,
    )


@eqx.filter_jit
def _jko_run(energy, x0, tau, steps, inner_steps, opt, lbfgs, epsilon):
    n = x0.shape[0]

    def step(xk, _):
        # Estimator settings (the blob bandwidth) held at mu_k within the step,
        # so the objective and its gradient are those of one function.
        energy_k = energy.frozen_at(xk)

        def objective(y):
            # F(y) + W2^2/(2 tau), scaled by n so gradients are O(1) per particle.
            if epsilon is None:
                w2 = jnp.sum((y - xk) ** 2) / n
            else:
                w2 = sinkhorn_transport(y, xk, epsilon)
            return n * (energy_k(y) + w2 / (2 * tau))

        state = opt.init(xk)
        value_and_grad = optax.value_and_grad_from_state(objective)

        def inner(carry, _):
            y, s = carry
            if lbfgs:
                value, g = value_and_grad(y, state=s)
                updates, s = opt.update(
                    g, s, y, value=value, grad=g, value_fn=objective
                )
            else:
                g = jax.grad(objective)(y)
                updates, s = opt.update(g, s, y)
            return (optax.apply_updates(y, updates), s), None

        (y, _), _ = jax.lax.scan(inner, (xk, state), None, length=inner_steps)
        gnorm = jnp.sqrt(jnp.sum(jax.grad(objective)(y) ** 2) / n)
        return y, (y, energy(y), gnorm)

    _, (ys, es, gn) = jax.lax.scan(step, x0, None, length=steps)
    return energy(x0), gn, jnp.concatenate([x0[None], ys]), es
