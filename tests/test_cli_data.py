"""The CLI jobs' data sets and classifiers: shapes, labels, and a training loop that learns."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from flowrep._cli import _classifiers, _data


def test_spirals_lie_on_their_arms():
    # without noise, a point at radius r of class c sits at angle 3 pi r + pi c
    x, y = _data._spirals(np.random.default_rng(0), 200, 0.0)
    assert x.shape == (200, 2) and set(np.unique(y)) == {0, 1}
    r = np.linalg.norm(x, axis=1)
    assert np.all((r >= 0.15 - 1e-12) & (r <= 1.0 + 1e-12))
    expected = np.exp(1j * (3 * np.pi * r + np.pi * y))
    assert np.allclose(x[:, 0] + 1j * x[:, 1], r * expected)


def test_spirals_task_is_seeded():
    a = _data.spirals_task(3, 4, 50, 20)
    b = _data.spirals_task(3, 4, 50, 20)
    assert np.array_equal(a["x_train"], b["x_train"])
    assert np.array_equal(a["y_test"], b["y_test"])
    assert a["classes"] == 2 and a["input_dim"] == 2


def test_digits_task_split_and_scaling():
    pytest.importorskip("sklearn")
    task = _data.digits_task(0, 6, 297)
    assert task["x_test"].shape == (297, 6)
    assert task["x_train"].shape == (1797 - 297, 6)
    assert set(np.unique(task["y_train"])) == set(range(10))
    # standardised on the training split
    assert np.allclose(task["x_train"].mean(0), 0, atol=1e-10)
    assert np.allclose(task["x_train"].std(0), 1, atol=1e-10)
    assert task["classes"] == 10 and task["input_dim"] == 64


@pytest.mark.parametrize("arch", ["plain", "resnet"])
def test_training_loop_reduces_loss(arch):
    # a tiny separable problem: the label is the sign of the first coordinate
    x = np.random.default_rng(0).normal(size=(80, 3))
    y = (x[:, 0] > 0).astype(int)
    task = dict(x_train=x[:64], y_train=y[:64], x_test=x[64:], y_test=y[64:], classes=2)
    keys = jnp.stack([jr.PRNGKey(1), jr.PRNGKey(1)])
    decays = jnp.asarray([0.0, 0.1])
    params, static, losses = _classifiers.train_models(
        arch, task, keys, decays, depth=2, steps=100, lr=3e-2
    )
    assert losses.shape == (2, 100)
    # the same key gives the same initialisation, with or without decay
    assert losses[0, 0] == losses[1, 0]
    assert np.all(np.asarray(losses[:, -1]) < 0.5 * np.asarray(losses[:, 0]))
    model = _classifiers.unbatch(params, static, 0)
    x = jnp.asarray(task["x_test"])
    pred = _classifiers.predict(model, x)
    assert pred.shape == (16,) and np.mean(np.asarray(pred) == y[64:]) >= 0.8
    tracks = _classifiers.model_tracks(model, x)
    assert tracks.points.shape == (3, 16, 3)  # input + one point per layer
    assert np.allclose(tracks.points[0], x)


def test_digits_pixels_task_shares_the_split():
    """The MLP's raw-pixel task uses `digits_task`'s split (same seed), with
    every non-constant pixel standardised on the training split."""
    pixels, pca = _data.digits_pixels_task(0, 297), _data.digits_task(0, 6, 297)
    assert np.array_equal(pixels["y_test"], pca["y_test"])
    assert np.array_equal(pixels["y_train"], pca["y_train"])
    assert pixels["x_train"].shape == (len(pca["x_train"]), 64)
    std = pixels["x_train"].std(0)
    assert np.allclose(std[std > 0], 1.0)
