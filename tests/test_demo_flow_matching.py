"""The demo's flow-matching pretraining, against a transport it did not compute."""

import jax.numpy as jnp
import jax.random as jr

import flowrep as fr
from flowrep._cli._demo import pretrain_flow_matching


def test_flow_matching_learns_a_translation():
    # pairs x1 = x0 + shift: the straight-line velocity is the constant shift, and
    # the flow of the regressed field is the translation (closed form)
    x0 = jr.normal(jr.PRNGKey(0), (512, 2))
    shift = jnp.array([1.5, -0.5])
    field = fr.RidgeletField.random(
        jr.PRNGKey(1),
        2,
        16,
        sigma="tanh",
        basis="linear",
        num_knots=2,
        output_scale=0.5,
    )
    field, losses = pretrain_flow_matching(
        field,
        x0,
        x0 + shift,
        key=jr.PRNGKey(2),
        steps=300,
        batch_size=128,
        learning_rate=2e-2,
    )
    assert losses.shape == (300,) and losses[-1] < 0.05 * losses[0]
    test = jr.normal(jr.PRNGKey(3), (64, 2))
    out = fr.flow(field, test, 0.0, 1.0).xs
    err = float(jnp.sqrt(jnp.mean(jnp.sum((out - (test + shift)) ** 2, axis=1))))
    assert err < 0.1, err
