"""Exact assignment on the host (scipy through `jax.pure_callback`), the
default on accelerators, checked on the CPU by forcing it: against scipy
itself and against the in-program Hungarian solver, under jit and vmap."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import flowrep
from flowrep._transport import _exact


def _scipy_perm(x, y):
    cost = ((np.asarray(x)[:, None] - np.asarray(y)[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def test_host_matches_scipy_and_device(getkey):
    x = jr.normal(getkey(), (40, 3))
    y = jr.normal(getkey(), (40, 3)) * 2 + 5
    host = flowrep.exact_assignment(x, y, host=True)
    device = flowrep.exact_assignment(x, y, host=False)
    np.testing.assert_array_equal(host, _scipy_perm(x, y))
    np.testing.assert_array_equal(host, device)
    assert sorted(np.asarray(host).tolist()) == list(range(40))


def test_host_under_jit_and_vmap(getkey):
    xs = jr.normal(getkey(), (3, 25, 2))
    ys = jr.normal(getkey(), (3, 25, 2)) + 1
    solve = jax.jit(jax.vmap(lambda x, y: _exact.hungarian(x, y, host=True)))
    perms = solve(xs, ys)
    assert perms.shape == (3, 25)
    for b in range(3):
        np.testing.assert_array_equal(perms[b], _scipy_perm(xs[b], ys[b]))


def _spy_on_host_solver(monkeypatch) -> list:
    """Record the shape of every host assignment solved from now on."""
    calls = []
    solve = _exact._host_assignment

    def spy(x, y):
        calls.append(x.shape)
        return solve(x, y)

    monkeypatch.setattr(_exact, "_host_assignment", spy)
    return calls


def test_accelerator_backend_takes_host_path(getkey, monkeypatch):
    x = jr.normal(getkey(), (30, 2))
    y = jr.normal(getkey(), (30, 2)) * 0.5
    ref = flowrep.wasserstein2(x, y, method="exact")
    calls = _spy_on_host_solver(monkeypatch)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    got = flowrep.wasserstein2(x, y, method="exact")
    assert calls == [(30, 2)]
    np.testing.assert_allclose(got.cost, ref.cost, rtol=1e-12)
    calls.clear()
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    flowrep.exact_assignment(x + 1, y)
    assert calls == []  # CPU default: in the compiled program


@pytest.mark.slow
def test_score_tracks_takes_host_path_on_accelerators(getkey, monkeypatch):
    x = jr.normal(getkey(), (20, 2))
    y = jr.normal(getkey(), (20, 2)) * 0.5
    tracks = jnp.stack([x, 0.5 * (x + y), y])
    ref = flowrep.score_tracks(tracks, method="exact")
    calls = []
    solve = _exact._host_assignment

    def spy(x, y):
        calls.append(x.shape)
        return solve(x, y)

    monkeypatch.setattr(_exact, "_host_assignment", spy)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    # score_tracks resolves the default while it traces: a fresh trace.
    jax.clear_caches()
    got = flowrep.score_tracks(tracks, method="exact")
    jax.clear_caches()
    assert calls
    np.testing.assert_allclose(got.w2_from_source, ref.w2_from_source, rtol=1e-12)


def test_host_argument_checked():
    x = jnp.zeros((4, 2)).at[:, 0].set(jnp.arange(4.0))
    with pytest.raises(TypeError, match="`host`"):
        flowrep.exact_assignment(x, x, host="yes")  # pyright: ignore[reportArgumentType]


def test_admissibility_runs_on_the_cpu_device(monkeypatch):
    # The quadrature is pinned to the CPU device whatever the default device.
    from flowrep._width import _admissibility

    seen = []
    pairing = _admissibility.pairing

    def spy(sigma, rho, dim):
        seen.append(jnp.zeros(()).devices())
        return pairing(sigma, rho, dim)

    monkeypatch.setattr(_admissibility, "pairing", spy)
    value = flowrep.admissibility(flowrep.Gaussian(), flowrep.GaussianDerivative(2), 1)
    assert np.isfinite(value)
    assert seen == [{jax.devices("cpu")[0]}]


def test_score_tracks_host_option(getkey, monkeypatch):
    """`score_tracks(host=True)` solves its assignments with scipy and
    gives the in-program solver's scores; a non-boolean `host` is refused."""
    # 33 points: a shape no other test compiles (the jit cache keeps the callback)
    tr = jnp.cumsum(jr.normal(getkey(), (4, 33, 2)), axis=0)
    calls = _spy_on_host_solver(monkeypatch)
    on_host = flowrep.score_tracks(tr, method="exact", host=True)
    # endpoint, layer steps, from-source and interpolant deviations: >= 3L solves
    assert len(calls) >= 3 * 3 and set(calls) == {(33, 2)}
    calls.clear()
    in_program = flowrep.score_tracks(tr, method="exact", host=False)
    assert calls == []
    for name in ("w2_sq", "cost_ratio", "lss", "path_ratio", "kinetic_ratio"):
        np.testing.assert_allclose(
            getattr(on_host, name), getattr(in_program, name), rtol=1e-12
        )
    with pytest.raises(TypeError, match="`host`"):
        flowrep.score_tracks(tr, method="exact", host="yes")  # type: ignore[arg-type]


def test_wasserstein2_host_option():
    """`wasserstein2(method="exact", host=...)`: scipy on the host and ott-jax's
    in-program Hungarian give the same W2 (ties aside); a non-boolean `host`
    is named."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 0.5
    on_host = flowrep.wasserstein2(x, y, method="exact", host=True)
    in_program = flowrep.wasserstein2(x, y, method="exact", host=False)
    np.testing.assert_allclose(float(on_host.cost), float(in_program.cost), rtol=1e-12)
    with pytest.raises(TypeError, match="`host` must be True, False or None"):
        flowrep.wasserstein2(x, y, method="exact", host="yes")  # pyright: ignore[reportArgumentType]
