"""The demo's compiled gradient-flow scores agree with `flowrep.flow_scores`."""

import itertools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep as fr
from flowrep._cli._demo import (
    across_data,
    depth_tracks,
    gradient_fractions,
    padded_scores,
    through_data,
    w2_exact,
)


@pytest.mark.slow  # ~25 s CPU: compiles flow_scores' transport scores and both fits
def test_gradient_fractions_match_flow_scores():
    # the same keys per time as flow_scores, so the same numbers, compiled once
    field = fr.RidgeletField.random(
        jr.PRNGKey(0), 2, 8, sigma="tanh", basis="linear", num_knots=2
    )
    points = jr.normal(jr.PRNGKey(1), (3, 24, 2)) * jnp.array(
        [[[1.0]], [[1.5]], [[2.0]]]
    )
    times = jnp.array([0.0, 0.5, 1.0])
    key = jr.PRNGKey(2)
    ref = fr.flow_scores(field, fr.Tracks(points, times), key=key, num_units=32)
    curls, ngfs = gradient_fractions(field, points, times, key=key, num_units=32)
    np.testing.assert_allclose(curls, ref.curl_fractions, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ngfs, ref.non_gradient_fractions, rtol=1e-4, atol=1e-6)


def test_through_data_puts_every_hyperplane_through_its_point():
    field = fr.RidgeletField.random(
        jr.PRNGKey(0), 2, 16, sigma="tanh", basis="linear", num_knots=3, scale=6.0
    )
    points = jr.normal(jr.PRNGKey(1), (16, 2))
    moved = through_data(field, points)
    # a_j(t_k) . p_j - b_j(t_k) = 0 at every knot, a and c untouched
    np.testing.assert_allclose(
        jnp.einsum("kjd,jd->kj", moved.a, points) - moved.b, 0.0, atol=1e-5
    )
    assert (moved.a == field.a).all() and (moved.c == field.c).all()


def test_across_data_turns_every_unit_along_the_local_normal():
    # data on the unit circle: the local normal at a point p is p itself (radial),
    # a closed form the local PCA did not compute
    field = fr.RidgeletField.random(
        jr.PRNGKey(0), 2, 12, sigma="tanh", basis="linear", num_knots=3, scale=6.0
    )
    angles = jr.uniform(jr.PRNGKey(1), (12,)) * 2 * jnp.pi
    points = jnp.stack([jnp.cos(angles), jnp.sin(angles)], 1)
    s = jnp.linspace(0, 2 * jnp.pi, 2000, endpoint=False)
    circle = jnp.stack([jnp.cos(s), jnp.sin(s)], 1)
    moved = across_data(field, points, circle, key=jr.PRNGKey(2))
    length = jnp.linalg.norm(moved.a, axis=-1)
    np.testing.assert_allclose(length, jnp.linalg.norm(field.a, axis=-1), rtol=1e-5)
    cosine = jnp.einsum("kjd,jd->kj", moved.a, points) / length
    np.testing.assert_allclose(jnp.abs(cosine), 1.0, atol=1e-4)
    assert (moved.b == field.b).all() and (moved.c == field.c).all()
    # both signs occur, and every knot of a unit shares its direction
    assert 0 < int((cosine[0] > 0).sum()) < 12
    np.testing.assert_array_equal(jnp.sign(cosine), jnp.sign(cosine[:1]).repeat(3, 0))


def _field_and_points():
    field = fr.RidgeletField.random(
        jr.PRNGKey(0), 2, 8, sigma="tanh", basis="linear", num_knots=2
    )
    return field, jr.normal(jr.PRNGKey(1), (16, 2))


def test_padded_depth_tracks_are_the_resnets_tracks():
    # the depth sweep's padding (one compilation for every depth) against each
    # ResNet's own tracks, computed without padding
    field, x = _field_and_points()
    depths, length = [2, 4], 3
    for depth, padded in zip(depths, depth_tracks(field, depths, x, length)):
        own = jax.vmap(fr.euler_network(field, depth).tracks)(x).transpose(1, 0, 2)
        # a ResNet deeper than `length` keeps its own tracks
        assert padded.shape == (max(length, depth) + 1, 16, 2)
        np.testing.assert_allclose(padded[: depth + 1], own, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(
            padded[depth:], jnp.broadcast_to(own[-1], padded[depth:].shape)
        )


@pytest.mark.slow  # ~20 s CPU: three compilations of score_tracks
def test_padded_scores_are_the_unpadded_scores():
    # fr.score_tracks on each ResNet's own (unpadded) tracks is the reference
    field, x = _field_and_points()
    depths, length = [1, 3], 4
    for depth, padded in zip(depths, depth_tracks(field, depths, x, length)):
        ref = fr.score_tracks(padded[: depth + 1], host=True)
        got = padded_scores(padded, depth)
        for name in ("lss", "cost_ratio", "kinetic_ratio", "path_ratio"):
            np.testing.assert_allclose(got[name], float(getattr(ref, name)), rtol=1e-5)


def test_w2_exact_is_the_brute_force_optimum():
    # every assignment of 6 points (720), a minimum the host solver did not compute
    x = jr.normal(jr.PRNGKey(0), (6, 2))
    y = jr.normal(jr.PRNGKey(1), (6, 2)) + 0.5
    cost = np.sum((np.asarray(x)[:, None] - np.asarray(y)[None]) ** 2, -1)
    best = min(
        cost[np.arange(6), list(p)].mean() for p in itertools.permutations(range(6))
    )
    np.testing.assert_allclose(float(w2_exact(x, y)), np.sqrt(best), rtol=1e-6)
