"""`affine_score` against an independent NumPy/SciPy implementation of the affinity score."""

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

import flowrep as fr
from flowrep._transport._scores import score_tracks


def _reference(X, Y, *, ddof, ridge_both, squared=False):
    """Bouniot et al.'s rho_aff written from the paper with SciPy (sqrtm, linear_sum_assignment)."""
    n, d = X.shape
    Sx = np.cov(X.T, ddof=ddof).reshape(d, d)
    Sy = np.cov(Y.T, ddof=ddof).reshape(d, d)
    if ridge_both:
        Sx = Sx + 1e-6 * np.eye(d)
        Sy = Sy + 1e-6 * np.eye(d)
    else:
        Sx = Sx + (1e-9 * (np.trace(Sx) + np.trace(Sy)) / d) * np.eye(d)
    rx = np.real(scipy.linalg.sqrtm(Sx))
    rx_inv = np.linalg.inv(rx)
    A = rx_inv @ np.real(scipy.linalg.sqrtm(rx @ Sy @ rx)) @ rx_inv
    Z = (X - X.mean(0)) @ A.T + Y.mean(0)
    C = ((Z[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    i, j = scipy.optimize.linear_sum_assignment(C)
    r2 = C[i, j].mean() / (2 * np.trace(Sy))
    return 1 - (r2 if squared else np.sqrt(r2))


def _clouds(act, n=64, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 0.3
    return X, act(X)


ACTS = {
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
}


@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("convention", ["affscoredeep", "flowrep"])
@pytest.mark.parametrize("squared", [False, True])
def test_matches_scipy_reference(act, convention, squared):
    X, Y = _clouds(ACTS[act])
    got = float(fr.affine_score(X, Y, convention=convention, squared=squared))
    ref = _reference(
        X,
        Y,
        ddof=1 if convention == "affscoredeep" else 0,
        ridge_both=convention == "affscoredeep",
        squared=squared,
    )
    assert abs(got - ref) < 1e-7


def test_conventions_close_and_root_relation():
    X, Y = _clouds(np.tanh)
    a = float(fr.affine_score(X, Y))
    b = float(fr.affine_score(X, Y, convention="flowrep"))
    assert abs(a - b) < 0.02
    # without the root: 1 - (1 - rho)^2
    s = float(fr.affine_score(X, Y, squared=True))
    assert abs(s - (1 - (1 - a) ** 2)) < 1e-10


def test_affine_and_identity_score_one():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    assert abs(float(fr.affine_score(X, X)) - 1) < 1e-6
    # a symmetric positive-definite linear part: the Gaussian OT map is this map
    Y = X @ np.array([[2.0, 0.5], [0.5, 1.0]]) + 3
    assert abs(float(fr.affine_score(X, Y, convention="flowrep")) - 1) < 1e-6


def test_layer_score_is_flowrep_convention():
    """score_tracks' per-layer nonlinearity is 1 - affine_score(convention="flowrep")."""
    X, Y = _clouds(np.tanh, n=40, d=2)
    sc = score_tracks(np.stack([X, Y]), method="exact")
    want = 1 - float(fr.affine_score(X, Y, convention="flowrep"))
    assert abs(float(sc.nonlinearity[0]) - want) < 1e-8


def test_conv_maps_are_spatially_averaged():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 3, 4, 5))
    Y = np.tanh(X)
    got = float(fr.affine_score(X, Y))
    assert (
        abs(got - _reference(X.mean((2, 3)), Y.mean((2, 3)), ddof=1, ridge_both=True))
        < 1e-7
    )


def test_bad_inputs():
    X = np.zeros((5, 2)) + np.arange(5)[:, None]
    with pytest.raises(ValueError, match="convention"):
        fr.affine_score(X, X, convention="bouniot")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="same shape"):
        fr.affine_score(X, X[:4])
    with pytest.raises(ValueError, match="x_in"):
        fr.affine_score(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="x_in"):
        fr.affine_score(X[:1], X[:1])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="x_out"):
        fr.affine_score(X, bad)


def test_identity_tracks_refuse_and_point_to_affine_score():
    """One identity layer: W2(mu_0, mu_L) = 0, so score_tracks' ratios are undefined;
    it refuses with a message naming affine_score, which scores the identity 1."""
    X = np.random.default_rng(3).normal(size=(20, 2))
    with pytest.raises(ValueError, match="affine_score"):
        score_tracks(np.stack([X, X]), method="exact")
    assert abs(float(fr.affine_score(X, X, convention="flowrep")) - 1) < 1e-6
