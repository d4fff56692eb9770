"""Learned DAEs: MLP denoisers against the analytic map."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flowrep._dae._closed_form import shallow_dae
from flowrep._dae._learned import (
    relative_map_error,
    train_denoiser,
    train_stacked_denoisers,
)
from flowrep._dae._stacked import stacked_dae_laws

from ._dae_laws import gaussian, mixture
from .helpers import tree_allclose


@pytest.mark.slow
def test_trained_denoiser_matches_analytic_map(getkey):
    mix = mixture()
    t = 0.3
    x = mix.sample(4000, key=getkey())
    key = getkey()
    model = train_denoiser(x, t, key=key, num_steps=250, progress=False)
    xt = mix.sample(1000, key=getkey())
    err = float(
        relative_map_error(jax.vmap(model), lambda z: shallow_dae(mix, t, z), xt)
    )
    assert err < 0.15
    # key-deterministic
    short = train_denoiser(
        x, t, key=key, num_steps=20, steps_per_call=20, progress=False
    )
    again = train_denoiser(
        x, t, key=key, num_steps=20, steps_per_call=7, progress=False
    )
    assert tree_allclose(short, again, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        jax.vmap(model.displacement)(xt),
        jax.vmap(model)(xt) - xt,
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.slow
def test_stacked_learned_denoisers_track_analytic_stack(getkey):
    law = gaussian()
    x = law.sample(4000, key=getkey())
    models, tracks = train_stacked_denoisers(
        x, 0.2, 2, key=getkey(), num_steps=400, progress=False
    )
    exact = stacked_dae_laws(law, 0.2, 2)[-1]
    np.testing.assert_allclose(np.cov(np.asarray(tracks[-1]).T), exact.cov, atol=0.08)
    assert len(models) == 2


def test_learned_bad_input(getkey):
    with pytest.raises(ValueError, match="positive noise"):
        train_denoiser(jnp.zeros((4, 2)), 0.0, key=getkey())
    with pytest.raises(ValueError, match=">= 1"):
        train_denoiser(jnp.zeros((4, 2)), 0.1, key=getkey(), width=0)
    with pytest.raises(ValueError, match="num_layers"):
        train_stacked_denoisers(jnp.zeros((4, 2)), 0.1, 0, key=getkey())
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        train_denoiser(jnp.zeros(4), 0.1, key=getkey())
