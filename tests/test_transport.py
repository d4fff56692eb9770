import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.optimize import linear_sum_assignment

import flowrep


def _gaussian_pair(getkey, n, d=2):
    m1, m2 = jnp.zeros(d), jnp.arange(1.0, d + 1)
    B1 = jr.normal(getkey(), (d, d))
    B2 = jr.normal(getkey(), (d, d))
    S1 = B1 @ B1.T / d + 0.5 * jnp.eye(d)
    S2 = B2 @ B2.T / d + 0.3 * jnp.eye(d)
    # centred noise: the sample means are exact, so the sampling error left is
    # that of the covariances and of the empirical coupling
    z1, z2 = jr.normal(getkey(), (n, d)), jr.normal(getkey(), (n, d))
    z1, z2 = z1 - z1.mean(0), z2 - z2.mean(0)
    x = m1 + z1 @ jnp.linalg.cholesky(S1).T
    y = m2 + z2 @ jnp.linalg.cholesky(S2).T
    return x, y, (m1, S1, m2, S2)


def test_gaussian_w2_against_scipy_sqrtm(getkey):
    _, _, (m1, S1, m2, S2) = _gaussian_pair(getkey, 2, d=4)
    S1n, S2n = np.asarray(S1), np.asarray(S2)
    r2 = np.real(sqrtm(S2n))
    ref = np.sum((np.asarray(m1) - np.asarray(m2)) ** 2) + np.trace(
        S1n + S2n - 2 * np.real(sqrtm(r2 @ S1n @ r2))
    )
    assert np.isclose(float(flowrep.gaussian_w2(m1, S1, m2, S2)), ref, rtol=1e-10)
    assert float(flowrep.gaussian_w2(m1, S1, m1, S1)) == pytest.approx(0.0, abs=1e-10)


def test_gaussian_ot_map_closed_form(getkey):
    _, _, (m1, S1, m2, S2) = _gaussian_pair(getkey, 2, d=3)
    T = flowrep.gaussian_ot_map(m1, S1, m2, S2)
    A = np.asarray(T.matrix)
    assert np.allclose(A, A.T)
    assert np.all(np.linalg.eigvalsh(A) > 0)
    assert np.allclose(A @ np.asarray(S1) @ A, np.asarray(S2), atol=1e-10)
    assert np.allclose(T(m1), m2)
    # cost of the map = closed-form W2^2: E|x - T x|^2 = tr((I-A) S1 (I-A)) + |m1-m2|^2
    eye = np.eye(3)
    cost = np.trace((eye - A) @ np.asarray(S1) @ (eye - A).T) + np.sum(
        np.asarray(m1 - m2) ** 2
    )
    assert np.isclose(cost, float(flowrep.gaussian_w2(m1, S1, m2, S2)), rtol=1e-9)


def test_exact_against_scipy(getkey):
    x = jr.normal(getkey(), (60, 3))
    y = jr.normal(getkey(), (60, 3)) + 0.5
    perm = np.asarray(flowrep.exact_assignment(x, y))
    C = ((np.asarray(x)[:, None] - np.asarray(y)[None]) ** 2).sum(-1)
    r, c = linear_sum_assignment(C)
    assert np.isclose(C[np.arange(60), perm].mean(), C[r, c].mean(), rtol=1e-12)
    assert sorted(perm.tolist()) == list(range(60))
    res = flowrep.wasserstein2(x, y, method="exact")
    assert np.isclose(float(res.cost), C[r, c].mean(), rtol=1e-12)
    assert np.isclose(float(res.distance) ** 2, float(res.cost))
    assert bool(res.converged) and res.method == "exact"
    assert np.allclose(flowrep.assignment_map(x, y), np.asarray(y)[c[np.argsort(r)]])


@pytest.mark.parametrize("method", ["exact", "sinkhorn", "gaussian"])
def test_identical_clouds_zero(getkey, method):
    x = jr.normal(getkey(), (80, 2))
    res = flowrep.wasserstein2(x, x, method=method)
    assert float(res.cost) == pytest.approx(0.0, abs=1e-9)
    assert bool(res.converged)


def test_sample_w2_matches_gaussian_closed_form(getkey):
    # Sampling error (means exact, see _gaussian_pair): covariance estimates
    # contribute O(tr S / sqrt(n)) ~ 0.03 and the empirical coupling a bias
    # O(sqrt(log n / n)) (Fournier-Guillin 2015) ~ 0.05 at n = 800, so we allow
    # 0.12 absolute on a value of about 5.
    x, y, (m1, S1, m2, S2) = _gaussian_pair(getkey, 800)
    ref = float(flowrep.gaussian_w2(m1, S1, m2, S2))
    exact = float(flowrep.wasserstein2(x, y, method="exact").cost)
    sink = flowrep.wasserstein2(
        x, y, method="sinkhorn", relative_epsilon=0.002, threshold=1e-4
    )
    gauss = float(flowrep.wasserstein2(x, y, method="gaussian").cost)
    assert abs(exact - ref) < 0.12
    assert bool(sink.converged)
    assert abs(float(sink.cost) - ref) < 0.12
    # the debiased divergence sits below the exact empirical value (entropic blur)
    assert float(sink.cost) <= exact + 1e-6
    # fitted Gaussians: error from mean/cov estimation only, O(n^-1/2)
    assert abs(gauss - ref) < 0.1


@pytest.mark.slow
def test_sinkhorn_modes_agree_with_ott(getkey):
    from ott.geometry import pointcloud
    from ott.solvers import linear

    x = jr.normal(getkey(), (150, 2))
    y = 0.5 * jr.normal(getkey(), (170, 2)) + 1.0
    dense = flowrep.sinkhorn(x, y, threshold=1e-7, mode="dense")
    online = flowrep.sinkhorn(x, y, threshold=1e-7, mode="online", chunk_size=32)
    eps = float(dense.epsilon)
    ref = linear.solve(
        pointcloud.PointCloud(x, y, epsilon=eps), threshold=1e-8, max_iterations=20000
    )
    assert bool(dense.converged) and bool(online.converged)
    assert np.isclose(float(dense.reg_ot_cost), float(ref.reg_ot_cost), rtol=1e-6)  # pyright: ignore
    assert np.isclose(float(online.reg_ot_cost), float(ref.reg_ot_cost), rtol=1e-6)  # pyright: ignore
    # the plan's marginals, recomputed densely
    C = ((x[:, None] - y[None]) ** 2).sum(-1)
    P = jnp.exp((dense.f[:, None] + dense.g[None] - C) / eps) / (150 * 170)
    assert np.allclose(P.sum(1), 1 / 150, atol=1e-6)
    assert np.allclose(P.sum(0), 1 / 170, atol=1e-7)
    # over-relaxation and zero init converge to the same solution
    fast = flowrep.sinkhorn(x, y, threshold=1e-7, over_relaxation=1.5, init="zero")
    assert np.isclose(float(fast.reg_ot_cost), float(ref.reg_ot_cost), rtol=1e-6)  # pyright: ignore


@pytest.mark.parametrize("n,m,chunk", [(7, 5, 3), (50, 3000, 256), (1, 1, 8)])
def test_streamed_logsumexp_against_scipy(n, m, chunk):
    from scipy.special import logsumexp

    from flowrep._transport._engines import lse_rows as _lse_rows

    rng = np.random.default_rng(n + m)
    X, Y, F = rng.normal(size=(n, 3)), rng.normal(size=(m, 3)), rng.normal(size=m)
    ref = 0.3 * np.asarray(logsumexp((F[None] + 2 * X @ Y.T) / 0.3, axis=1))
    out = _lse_rows(jnp.asarray(F), jnp.asarray(X), jnp.asarray(Y), 0.3, chunk)
    assert np.allclose(np.asarray(out), ref, rtol=1e-13, atol=1e-13)


def _marginal_error(out, x, y, ord):
    """||P^T 1 - b||_ord recomputed densely from the returned potentials."""
    C = ((x[:, None] - y[None]) ** 2).sum(-1)
    n, m = x.shape[0], y.shape[0]
    P = jnp.exp((out.f[:, None] + out.g[None] - C) / out.epsilon) / (n * m)
    return float(jnp.linalg.norm(P.sum(0) - 1.0 / m, ord=ord))


@pytest.mark.parametrize("mode", ["dense", "online"])
def test_reported_error_is_the_plan_marginal_error(getkey, mode):
    # the solver reads its error off a kernel pass it needs anyway; check that
    # it is the marginal error of the plan it returns, for every stopping point
    x = jr.normal(getkey(), (90, 2))
    y = 0.6 * jr.normal(getkey(), (110, 2)) + 0.5
    for ord_, iters, omega in [(1, 3, 1.0), (2, 7, 1.4), (1, 25, "adaptive")]:
        out = flowrep.sinkhorn(
            x,
            y,
            threshold=1e-30,
            norm_error=ord_,
            max_iterations=iters,
            over_relaxation=omega,
            mode=mode,
            chunk_size=16,
        )
        assert int(out.n_iterations) == iters
        ref = _marginal_error(out, x, y, ord_)
        assert np.isclose(float(out.error), ref, rtol=1e-6, atol=1e-14)


def test_adaptive_over_relaxation_saves_iterations(getkey):
    # small epsilon: plain Sinkhorn is slow, the adaptive rule (Lehmann et al.
    # 2021) must converge to the same plan in fewer iterations
    x = jr.normal(getkey(), (200, 2))
    y = 0.5 * jr.normal(getkey(), (200, 2)) + 1.0

    def solve(omega):
        return flowrep.sinkhorn(
            x,
            y,
            relative_epsilon=0.005,
            threshold=1e-4,
            max_iterations=5000,
            over_relaxation=omega,
        )

    plain, fast = solve(1.0), solve("adaptive")
    assert bool(plain.converged) and bool(fast.converged)
    assert int(plain.n_iterations) > 40
    assert int(fast.n_iterations) < 0.8 * int(plain.n_iterations)
    assert _marginal_error(fast, x, y, 1) <= 1e-4
    assert np.isclose(float(fast.reg_ot_cost), float(plain.reg_ot_cost), rtol=1e-4)


@pytest.mark.slow
def test_divergence_flowrep_vs_ott_backend(getkey):
    x = jr.normal(getkey(), (120, 3))
    y = jr.normal(getkey(), (100, 3)) * 0.8 + 0.3
    a = flowrep.sinkhorn_divergence(x, y, threshold=1e-7)
    b = flowrep.sinkhorn_divergence(x, y, threshold=1e-7, backend="ott")
    c = flowrep.sinkhorn_divergence(
        x, y, threshold=1e-7, backend="ott", mode="online", chunk_size=16
    )
    assert bool(a.converged) and bool(b.converged) and bool(c.converged)
    assert np.isclose(float(a.divergence), float(b.divergence), rtol=1e-6)
    assert np.isclose(float(a.divergence), float(c.divergence), rtol=1e-6)


def test_dense_underflow_falls_back_to_log_domain(getkey):
    # zero init + tiny epsilon + far outlier: a whole kernel row underflows
    x = jr.normal(getkey(), (50, 2)).at[0].set(jnp.array([40.0, 40.0]))
    y = jr.normal(getkey(), (50, 2))
    out = flowrep.sinkhorn(
        x, y, epsilon=0.05, init="zero", mode="dense", threshold=1e-6
    )
    ref = flowrep.sinkhorn(
        x, y, epsilon=0.05, init="zero", mode="online", threshold=1e-6
    )
    assert bool(out.converged)
    assert np.isfinite(float(out.reg_ot_cost))
    assert np.isclose(float(out.reg_ot_cost), float(ref.reg_ot_cost), rtol=1e-8)


def test_not_converged_flag_and_throw(getkey):
    x = jr.normal(getkey(), (60, 2))
    y = jr.normal(getkey(), (60, 2)) + 2
    out = flowrep.sinkhorn(x, y, epsilon=1e-3, max_iterations=10, init="zero")
    assert not bool(out.converged)
    res = flowrep.wasserstein2(
        x, y, method="sinkhorn", epsilon=1e-3, max_iterations=10, init="zero"
    )
    assert not bool(res.converged)
    with pytest.raises(Exception, match="did not converge"):
        flowrep.sinkhorn(x, y, epsilon=1e-3, max_iterations=10, init="zero", throw=True)


@pytest.mark.slow
def test_entropic_map_and_barycentric_projection(getkey):
    from ott.geometry import pointcloud
    from ott.solvers import linear

    x = jr.normal(getkey(), (200, 2))
    y = jr.normal(getkey(), (180, 2)) @ jnp.array([[1.5, 0.3], [0.3, 0.6]]) + 1
    emap = flowrep.entropic_map(x, y, threshold=1e-8)
    eps = float(emap.epsilon)
    # against ott-jax's dual-potential map (independent implementation)
    out = linear.solve(
        pointcloud.PointCloud(x, y, epsilon=eps), threshold=1e-9, max_iterations=50000
    )
    z = jr.normal(getkey(), (30, 2))
    ours = jax.vmap(emap)(z)
    ref = out.to_dual_potentials().transport(z)  # pyright: ignore
    assert np.allclose(ours, ref, atol=1e-5)
    # on the samples, the barycentric projection equals the entropic map
    bary = flowrep.barycentric_projection(x, y, threshold=1e-8, chunk_size=64)
    assert np.allclose(bary, jax.vmap(emap)(x), atol=1e-5)


@pytest.mark.slow
def test_entropic_map_approaches_gaussian_map(getkey):
    x, y, (m1, S1, m2, S2) = _gaussian_pair(getkey, 2000)
    T = flowrep.gaussian_ot_map(m1, S1, m2, S2)
    emap = flowrep.entropic_map(x, y, relative_epsilon=0.005, threshold=1e-4)
    z = m1 + 0.5 * jr.normal(getkey(), (50, 2))  # bulk of the source
    err = jnp.sqrt(jnp.mean(jnp.sum((jax.vmap(emap)(z) - jax.vmap(T)(z)) ** 2, -1)))
    # sampling + entropic bias; the map itself has scale ~ 2
    assert float(err) < 0.15


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.zeros((5, 2)), np.zeros((5, 3)), "same dimension"),
        (np.zeros((1, 2)), np.zeros((5, 2)), "at least 2 samples"),
        (np.zeros((5,)), np.zeros((5, 2)), "shape \\(n, d\\)"),
        (np.array([[0.0, np.nan], [1, 1]]), np.zeros((2, 2)), "NaN or inf"),
        (np.zeros((4, 2)), np.array([[0.0, np.inf], [1, 1]]), "NaN or inf"),
    ],
)
def test_bad_clouds(x, y, match):
    for fn in (flowrep.wasserstein2, flowrep.sinkhorn, flowrep.sinkhorn_divergence):
        with pytest.raises(ValueError, match=match):
            fn(x, y)


def test_bad_options(getkey):
    x = jr.normal(getkey(), (5, 2))
    with pytest.raises(ValueError, match="equal size"):
        flowrep.wasserstein2(x, x[:4], method="exact")
    with pytest.raises(ValueError, match="method"):
        flowrep.wasserstein2(x, x, method="nope")  # pyright: ignore
    with pytest.raises(ValueError, match="epsilon"):
        flowrep.sinkhorn(x, x, epsilon=-1.0)
    with pytest.raises(ValueError, match="mode"):
        flowrep.sinkhorn(x, x, mode="sparse")  # pyright: ignore
    with pytest.raises(ValueError, match="norm_error"):
        flowrep.sinkhorn(x, x, norm_error=3)
    with pytest.raises(ValueError, match="over_relaxation"):
        flowrep.sinkhorn(x, x, over_relaxation="fast")  # pyright: ignore
    with pytest.raises(ValueError, match="over_relaxation"):
        flowrep.sinkhorn(x, x, over_relaxation=2.0)
    with pytest.raises(ValueError, match="threshold"):
        flowrep.sinkhorn(x, x, threshold=0.0)
    with pytest.raises(ValueError, match="chunk_size"):
        flowrep.sinkhorn(x, x, chunk_size=0)
    with pytest.raises(ValueError, match="same dimension"):
        flowrep.gaussian_w2(jnp.zeros(2), jnp.eye(2), jnp.zeros(3), jnp.eye(3))


def test_traced_nan_raises_runtime_error():
    @jax.jit
    def f(x, y):
        return flowrep.sinkhorn_divergence(x, y).divergence

    x = jnp.array([[0.0, 1.0], [jnp.nan, 0.0], [1.0, 1.0]])
    with pytest.raises(Exception, match="NaN or inf"):
        jax.block_until_ready(f(x, jnp.ones((3, 2))))


def test_num_iterations_and_its_old_alias(getkey):
    x = jax.random.normal(getkey(), (20, 2))
    y = jax.random.normal(getkey(), (25, 2)) + 1.0
    out = flowrep.sinkhorn(x, y, epsilon=0.5)
    assert int(out.num_iterations) > 0
    assert int(out.n_iterations) == int(out.num_iterations)
    w2 = flowrep.wasserstein2(x, y, method="sinkhorn")
    assert int(w2.n_iterations) == int(w2.num_iterations) > 0
    div = flowrep.sinkhorn_divergence(x, y, epsilon=0.5)
    np.testing.assert_array_equal(div.n_iterations, div.num_iterations)
