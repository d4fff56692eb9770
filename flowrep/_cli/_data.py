"""Data sets of the reproduction jobs: two spirals, scikit-learn's digits."""

from typing import Any

import numpy as np

from ._report import CLIError


def _spirals(rng: np.random.Generator, n: int, noise: float) -> tuple[Any, Any]:
    """Two interleaved spirals (1.5 turns each) in $[-1,1]^2$, labels 0/1."""
    labels = rng.integers(0, 2, n)
    r = rng.uniform(0.15, 1.0, n)
    theta = 3 * np.pi * r + np.pi * labels
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], 1)
    return x + noise * rng.normal(size=x.shape), labels


def spirals_task(seed: int, dim: int, n_train: int, n_test: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    xtr, ytr = _spirals(rng, n_train, 0.03)
    xte, yte = _spirals(rng, n_test, 0.03)

    def lift(x):
        return np.concatenate([x, np.zeros((len(x), dim - 2))], 1)

    return dict(
        name="spirals",
        x_train=lift(xtr),
        y_train=ytr,
        x_test=lift(xte),
        y_test=yte,
        classes=2,
        input_dim=2,
        embedding=f"zero-padding R^2 -> R^{dim} (fixed, not trained)",
    )


def _digits_split(seed: int, n_test: int):
    """scikit-learn's digits `(x, y)` and the seeded `(train, test)` indices
    shared by both digits tasks."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise CLIError(
            "the gai-zhang reproduction needs scikit-learn for the digits data set; "
            "install it with `pip install flowrep[repro]` (or `pip install scikit-learn`)"
        ) from None
    x, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(x))
    return x, y, perm[n_test:], perm[:n_test]


def digits_task(seed: int, dim: int, n_test: int) -> dict[str, Any]:
    x, y, train, test = _digits_split(seed, n_test)
    from sklearn.decomposition import PCA

    pca = PCA(n_components=dim, random_state=0).fit(x[train])
    ztr, zte = pca.transform(x[train]), pca.transform(x[test])
    mean, std = ztr.mean(0), ztr.std(0)
    return dict(
        name="digits",
        x_train=(ztr - mean) / std,
        y_train=y[train],
        x_test=(zte - mean) / std,
        y_test=y[test],
        classes=10,
        input_dim=64,
        embedding=f"PCA 64 -> {dim} fitted on the training split, standardised",
    )


def digits_pixels_task(seed: int, n_test: int) -> dict[str, Any]:
    """Digits as raw 64-pixel inputs (for the changing-width MLP), the same
    train/test split as `digits_task` with the same seed; every pixel
    standardised on the training split (constant pixels only centred)."""
    x, y, train, test = _digits_split(seed, n_test)
    mean, std = x[train].mean(0), x[train].std(0)
    std = np.where(std > 0, std, 1.0)
    return dict(
        name="digits-pixels",
        x_train=(x[train] - mean) / std,
        y_train=y[train],
        x_test=(x[test] - mean) / std,
        y_test=y[test],
        classes=10,
        input_dim=64,
        embedding="raw 64 pixels, standardised on the training split",
    )
