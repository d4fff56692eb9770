import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.spatial import KDTree
from scipy.special import digamma, gammaln

import flowrep


@pytest.mark.parametrize("d", [1, 2, 5])
def test_gaussian_entropy_closed_form(getkey, d):
    B = jr.normal(getkey(), (d, d))
    S = B @ B.T / d + 0.5 * jnp.eye(d)
    x = jr.normal(getkey(), (1500, d)) @ jnp.linalg.cholesky(S).T
    ref = 0.5 * float(jnp.linalg.slogdet(2 * jnp.pi * jnp.e * S)[1])
    est = float(flowrep.knn_entropy(x, k=4, chunk_size=512))
    # KL-estimator standard error ~ sqrt(Var log r / n) ~ 0.03 d at n=1500,
    # plus a small-sample bias that grows with d
    assert abs(est - ref) < 0.06 * d + 0.04


def test_against_kdtree_brute_force(getkey):
    x = np.asarray(jr.uniform(getkey(), (500, 3)))
    k = 3
    r = KDTree(x).query(x, k + 1)[0][:, k]
    d = 3
    ref = (
        digamma(500)
        - digamma(k)
        + d / 2 * np.log(np.pi)
        - gammaln(d / 2 + 1)
        + d * np.mean(np.log(r))
    )
    assert float(flowrep.knn_entropy(x, k=k, chunk_size=64)) == pytest.approx(
        ref, rel=1e-8
    )


def test_entropy_errors():
    with pytest.raises(ValueError, match="`k`"):
        flowrep.knn_entropy(jnp.ones((5, 2)), k=5)
    with pytest.raises(ValueError, match="NaN"):
        flowrep.knn_entropy(jnp.ones((5, 2)).at[0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="at least 2 samples"):
        flowrep.knn_entropy(jnp.ones((1, 2)))
    with pytest.raises(Exception, match="duplicated"):
        flowrep.knn_entropy(jnp.zeros((6, 2)), k=2)
