"""The augmented ODE term of `flow`: the points plus log-density and RNODE regularisers.

- $\\frac{d}{dt}\\log\\mu_t(x_t)=-\\nabla\\cdot v_t(x_t)$ (continuity equation),
  by the exact trace or Hutchinson's estimator $\\varepsilon^\\top J\\varepsilon$;
- RNODE regularisers (Finlay et al. 2020): $\\int\\|v_t(x_t)\\|^2dt$ and
  $\\int\\|\\nabla v_t(x_t)\\|_F^2dt$ (the latter as $\\|J\\varepsilon\\|^2$).
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from ._vector_field import AbstractVectorField


class FlowTerm(eqx.Module):
    """The augmented batched vector field of `flow` (a module, so adjoints see the field's arrays)."""

    field: AbstractVectorField
    log_density: str | None = eqx.field(static=True)
    kinetic: bool = eqx.field(static=True)
    jacobian: bool = eqx.field(static=True)

    def __call__(self, t, y, args):
        user_args, probes = args
        xs = y["x"]
        out = {}
        needs_jvp = self.log_density == "hutchinson" or self.jacobian
        div = None
        if needs_jvp:
            fn = lambda z: self.field.batch_call(t, z, user_args)  # noqa: E731

            def jvp(eps):
                return jax.jvp(fn, (xs,), (eps,))

            v, jeps = jax.vmap(jvp, out_axes=(None, 0))(probes)
            if self.log_density == "hutchinson":
                div = jnp.mean(jnp.sum(probes * jeps, axis=-1), axis=0)
            if self.jacobian:
                out["jac"] = jnp.mean(jnp.sum(jeps**2, axis=-1), axis=0)
            if self.log_density == "exact":
                _, div = self.field.batch_divergence(t, xs, user_args)
        elif self.log_density == "exact":
            v, div = self.field.batch_divergence(t, xs, user_args)
        else:
            v = self.field.batch_call(t, xs, user_args)
        out["x"] = v
        if div is not None:
            out["logp"] = -div
        if self.kinetic:
            out["kin"] = jnp.sum(v**2, axis=-1)
        return out
