"""Stacked DAEs and the "deeper converges faster" table."""

import jax.numpy as jnp
import numpy as np
import pytest

from flowrep._dae._empirical import blurring_mean_shift_flow
from flowrep._dae._laws import CollapseError
from flowrep._dae._stacked import depth_table, stacked_dae, stacked_dae_laws

from ._dae_laws import gaussian, LAM, mixture
from .helpers import loglog_slope


def test_stacked_gaussian_recursion_and_depth_table():
    law = gaussian()
    t = 0.2
    laws = stacked_dae_laws(law, t, 3)
    lam = LAM.copy()
    for _ in range(3):
        lam = lam**3 / (lam + t / 3) ** 2
    np.testing.assert_allclose(laws[-1].eigvals, lam, rtol=1e-12)
    ls = [1, 2, 4, 8, 16, 32, 64]
    table = depth_table(law, t, ls)
    w2 = np.array([row["w2_to_deep"] for row in table])
    ent = np.array([row["entropy"] for row in table])
    assert np.all(np.diff(w2) < 0)  # deeper is closer to the deep limit
    assert np.all(np.diff(ent) < 0)  # and removes more entropy
    assert np.all(ent > table[0]["entropy_deep"])
    np.testing.assert_allclose(table[0]["eigvals"], LAM**3 / (LAM + t) ** 2, rtol=1e-12)
    # W2 to the limit falls like 1/L (asymptotically: regress on L >= 8)
    assert abs(loglog_slope(ls[3:], w2[3:]) + 1) < 0.08


def test_stacked_mixture_dae_two_depths(getkey):
    table = depth_table(
        mixture(), 0.2, (1, 4), key=getkey(), num_samples=400, em_iters=20
    )
    assert table[1]["map_rms"] < 0.8 * table[0]["map_rms"]
    assert table[1]["entropy"] < table[0]["entropy"]


@pytest.mark.slow
def test_stacked_mixture_dae_approaches_deep_flow(getkey):
    mix = mixture()
    table = depth_table(mix, 0.2, (1, 3, 9), key=getkey(), num_samples=600, em_iters=20)
    rms = [row["map_rms"] for row in table]
    ent = [row["entropy"] for row in table]
    print(
        "mixture depth table: map_rms",
        rms,
        "entropy",
        ent,
        "deep",
        table[0]["entropy_deep"],
    )
    assert rms[0] > rms[1] > rms[2]
    assert rms[2] < 0.5 * rms[0]
    assert ent[0] > ent[1] > ent[2]


def test_stacked_dae_empirical_and_blurring_flow(getkey):
    """Stacked empirical DAEs with a bandwidth approach the blurring mean-shift flow as L grows."""
    x0 = gaussian().sample(150, key=getkey())
    t, h = 0.2, 0.3
    _, tracks = blurring_mean_shift_flow(x0, t, h, rtol=1e-7, atol=1e-8)
    errs = []
    for n in (2, 8, 32):
        out = stacked_dae(x0, t, n, fit="empirical", bandwidth=h)[-1]
        errs.append(float(jnp.sqrt(jnp.mean(jnp.sum((out - tracks[-1]) ** 2, axis=1)))))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.01


def test_stacked_mixture_with_exact_gaussian_layers(getkey):
    """fit='mixture' with one component on Gaussian data reproduces the exact stacked law."""
    law = gaussian()
    x0 = law.sample(20_000, key=getkey())
    tracks = stacked_dae(x0, 0.2, 4, law=law, em_iters=30)
    exact = stacked_dae_laws(law, 0.2, 4)[-1]
    np.testing.assert_allclose(np.cov(np.asarray(tracks[-1]).T), exact.cov, atol=0.03)


# ------------------------------------------------------------------ bad input


def test_stacked_bad_input():
    law = gaussian()
    with pytest.raises(CollapseError):
        depth_table(law, 10.0)
    with pytest.raises(ValueError, match="num_layers"):
        depth_table(law, 0.1, (1, 0))
    with pytest.raises(ValueError, match="needs `key`"):
        depth_table(mixture(), 0.1, (1, 2))
    with pytest.raises(ValueError, match="unknown fit"):
        stacked_dae(jnp.zeros((4, 2)), 0.1, 2, fit="nope")
    with pytest.raises(ValueError, match="num_layers"):
        stacked_dae_laws(law, 0.1, 0)
    with pytest.raises(ValueError, match="num_layers"):
        stacked_dae(jnp.zeros((4, 2)), 0.1, 0, law=law)
    with pytest.raises(TypeError, match="GaussianLaw"):
        stacked_dae_laws(mixture(), 0.1, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_components"):
        stacked_dae(jnp.zeros((4, 2)), 0.1, 2)
