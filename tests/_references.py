"""Independent float64 references (scipy), shared by the invariance tests."""

import numpy as np
from scipy.linalg import sqrtm
from scipy.optimize import linear_sum_assignment
from scipy.spatial import KDTree
from scipy.special import digamma, gammaln, logsumexp


def rel(a, b) -> float:
    return abs(float(a) - float(b)) / abs(float(b))


def exact_ref(x, y):
    """W2^2 by scipy's assignment on the float64 cost matrix."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    C = np.sum((x[:, None] - y[None]) ** 2, -1)
    i, j = linear_sum_assignment(C)
    return C[i, j].mean()


def bures_ref(x, y):
    """The Bures W2^2 between the clouds' Gaussian fits (biased covariances)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d = x.shape[1]
    S1 = np.cov(x.T, bias=True).reshape(d, -1)
    S2 = np.cov(y.T, bias=True).reshape(d, -1)
    r2 = np.real(sqrtm(S2))
    cross = np.real(sqrtm(r2 @ S1 @ r2))
    return np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(S1 + S2 - 2 * cross)


def ot_eps_ref(x, y, eps, iters=3000):
    """OT_eps in the KL(P | a x b) convention, log-domain, float64, run until
    the row marginal is exact to 1e-13."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    C = np.sum((x[:, None] - y[None]) ** 2, -1)
    n, m = C.shape
    f, g = np.zeros(n), np.zeros(m)
    for _ in range(iters):
        f = -eps * logsumexp((g[None] - C) / eps, axis=1, b=1 / m)
        g = -eps * logsumexp((f[:, None] - C) / eps, axis=0, b=1 / n)
        row = np.exp((f[:, None] + g[None] - C) / eps).sum(1) / (n * m)
        if np.abs(row - 1 / n).sum() < 1e-13:
            break
    return f.mean() + g.mean()


def divergence_ref(x, y, eps):
    return ot_eps_ref(x, y, eps) - 0.5 * (ot_eps_ref(x, x, eps) + ot_eps_ref(y, y, eps))


def knn_ref(x, k):
    """Kozachenko–Leonenko k-NN entropy with scipy's k-d tree."""
    x = np.asarray(x, np.float64)
    n, d = x.shape
    r = KDTree(x).query(x, k + 1)[0][:, k]
    log_vd = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    return digamma(n) - digamma(k) + log_vd + d * np.mean(np.log(r))
