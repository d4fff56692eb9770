import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from flowrep._depth._flow import flow
from flowrep._depth._plainnet import plain_net_flow, PlainNetField, refine, rotation_log
from flowrep._depth._resnet import ResNet
from flowrep._width._activations import LeakyReLU

from .helpers import loglog_slope


@eqx.filter_jit
def _apply(net, xs):
    return jax.vmap(net)(xs)


def _positive_det_mlp(key, d, depth, activation, **kwargs):
    """A square MLP with well-conditioned layers, det W > 0, and biases that keep ReLUs alive.

    W = Q1 diag(s) Q2 with Q1, Q2 random rotations and s in [0.6, 1.6]; b ~ 0.3 + 0.5 N(0, 1).
    """
    kmlp, kw = jr.split(key)
    mlp = eqx.nn.MLP(d, d, d, depth, activation=activation, key=kmlp, **kwargs)
    rng = np.random.default_rng(int(jr.randint(kw, (), 0, 2**31 - 1)))

    def weight():
        q1 = (
            scipy.stats.special_ortho_group.rvs(d, random_state=rng)
            if d > 1
            else np.eye(1)
        )
        q2 = (
            scipy.stats.special_ortho_group.rvs(d, random_state=rng)
            if d > 1
            else np.eye(1)
        )
        return q1 @ np.diag(rng.uniform(0.6, 1.6, d)) @ q2

    def bias():
        return 0.3 + 0.5 * rng.standard_normal(d)

    def fill(layer):
        if layer.weight.ndim == 3:
            k = layer.weight.shape[0]
            new = (
                jnp.asarray(np.stack([weight() for _ in range(k)])),
                jnp.asarray(np.stack([bias() for _ in range(k)])),
            )
        else:
            new = (jnp.asarray(weight()), jnp.asarray(bias()))
        return eqx.tree_at(lambda lin: (lin.weight, lin.bias), layer, new)

    return eqx.tree_at(
        lambda m: m.layers, mlp, tuple(fill(layer) for layer in mlp.layers)
    )


def _accurate_flow(field, xs, ts=None, rtol=1e-11):
    controller = field.stepsize_controller(rtol=rtol, atol=rtol)
    return flow(field, xs, ts=ts, stepsize_controller=controller, max_steps=50000)


def _exact_piece_maps(field, xs):
    """Compose the time-1 maps of the pieces by hand (scipy expm; closed-form activation flows)."""
    x = np.asarray(xs, dtype=np.float64)
    for p, kind in enumerate(field.kinds):
        if kind in ("rotate_in", "scale", "rotate_out"):
            x = x @ scipy.linalg.expm(np.asarray(field.generators[p])).T
        elif kind == "translate":
            x = x + np.asarray(field.shifts[p])
        else:  # negative coordinates decay as exp(-rate) (leaky) or vanish (ReLU)
            decay = np.where(
                np.asarray(field.singular[p]), 0.0, np.exp(-np.asarray(field.rates[p]))
            )
            x = np.where(x >= 0, x, decay * x)
    return x


def test_rotation_log_against_scipy(getkey):
    d = 4
    q = scipy.stats.special_ortho_group.rvs(d, random_state=0)
    g = rotation_log(q)
    np.testing.assert_allclose(g, -g.T, atol=1e-14)
    np.testing.assert_allclose(scipy.linalg.expm(g), q, atol=1e-12)
    # away from angle pi it is the principal logarithm
    np.testing.assert_allclose(g, np.real(scipy.linalg.logm(q)), atol=1e-9)
    # a rotation with eigenvalue -1 (twice): real log, still exp(G) = R
    p = scipy.stats.special_ortho_group.rvs(3, random_state=1)
    r = p @ np.diag([-1.0, -1.0, 1.0]) @ p.T
    g = rotation_log(r)
    assert np.isrealobj(g)
    np.testing.assert_allclose(scipy.linalg.expm(g), r, atol=1e-12)
    np.testing.assert_allclose(
        rotation_log(-np.eye(4)), rotation_log(-np.eye(4)), atol=0
    )
    np.testing.assert_allclose(
        scipy.linalg.expm(rotation_log(-np.eye(4))), -np.eye(4), atol=1e-12
    )
    with pytest.raises(ValueError, match="det R = \\+1"):
        rotation_log(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="orthogonal"):
        rotation_log(2 * np.eye(2))


def test_pieces_match_expm_of_generators(getkey):
    d = 3
    mlp = _positive_det_mlp(getkey(), d, 2, jax.nn.relu)
    field = plain_net_flow(mlp)
    assert field.kinds[:5] == (
        "rotate_in",
        "scale",
        "rotate_out",
        "translate",
        "activate",
    )
    gens = np.asarray(field.generators)
    for i, layer in enumerate(mlp.layers):
        p0, _ = field.piece_range(i)
        rot_in, scale, rot_out = (scipy.linalg.expm(gens[p0 + k]) for k in range(3))
        np.testing.assert_allclose(rot_in @ rot_in.T, np.eye(d), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(rot_in), 1.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(rot_out), 1.0, atol=1e-12)
        np.testing.assert_allclose(scale, np.diag(np.diag(scale)), atol=1e-14)
        np.testing.assert_allclose(
            np.diag(scale), np.linalg.svd(np.asarray(layer.weight))[1], rtol=1e-12
        )
        np.testing.assert_allclose(rot_out @ scale @ rot_in, layer.weight, atol=1e-12)
        np.testing.assert_allclose(field.shifts[p0 + 3], layer.bias, atol=0)
    # The flow of each linear piece over its unit interval is expm(G) x.
    xs = jr.normal(getkey(), (4, d))
    for p in range(3):
        out = flow(field, xs, float(p), float(p + 1), rtol=1e-12, atol=1e-12).tracks[-1]
        np.testing.assert_allclose(out, xs @ scipy.linalg.expm(gens[p]).T, atol=1e-9)


@pytest.mark.parametrize("kind", ["leaky", "relu"])
def test_glued_flow_reproduces_plain_net(getkey, kind):
    d, depth = 3, 2
    activation = (
        functools.partial(jax.nn.leaky_relu, negative_slope=0.2)
        if kind == "leaky"
        else jax.nn.relu
    )
    mlp = _positive_det_mlp(getkey(), d, depth, activation)
    eps = 1e-8
    field = plain_net_flow(mlp, relu_eps=eps)
    assert field.num_pieces == 5 * (depth + 1) - 1 and field.t1 == field.num_pieces
    xs = 2 * jr.normal(getkey(), (16, d))
    # record the flow at the end of each layer's pieces and compare with the layers run by hand
    ends = [field.piece_range(i)[1] for i in range(depth + 1)]
    res = _accurate_flow(field, xs, ts=jnp.asarray(ends, float))
    hidden = np.asarray(xs)
    for i, layer in enumerate(mlp.layers):
        hidden = hidden @ np.asarray(layer.weight).T + np.asarray(layer.bias)
        if i < depth:
            hidden = np.where(
                hidden >= 0, hidden, (0.2 if kind == "leaky" else 0.0) * hidden
            )
        # ReLU: the eps clamp leaves a leak of slope eps/e (documented bound)
        np.testing.assert_allclose(res.tracks[i], hidden, atol=1e-7)
    np.testing.assert_allclose(res.tracks[-1], _apply(mlp, xs), atol=1e-7)


def test_relu_clamp_is_leaky_relu_of_slope_eps_over_e():
    eps = 1e-2
    field = plain_net_flow(
        [(np.eye(2), np.zeros(2))],
        activation=jax.nn.relu,
        final_activation=jax.nn.relu,
        relu_eps=eps,
    )
    xs = jnp.array([[-1.0, 2.0], [-3.0, -0.5]])
    out = _accurate_flow(field, xs, rtol=1e-12).tracks[-1]
    np.testing.assert_allclose(out, np.where(xs > 0, xs, eps / np.e * xs), rtol=1e-8)


@pytest.mark.parametrize("kind", ["leaky", "relu"])
def test_refinement_converges_at_order_one(getkey, kind):
    d, depth = 3, 2
    activation = (
        functools.partial(jax.nn.leaky_relu, negative_slope=0.3)
        if kind == "leaky"
        else jax.nn.relu
    )
    mlp = _positive_det_mlp(getkey(), d, depth, activation)
    field = plain_net_flow(mlp)
    xs = jr.normal(getkey(), (16, d))
    target = _apply(mlp, xs)
    assert np.all(
        np.std(np.asarray(target), axis=0) > 0.05
    )  # the net is not dead on these points
    ns = [32, 64, 128, 256, 512]
    errors = []
    for n in ns:
        resnet = refine(field, n)
        assert isinstance(resnet, ResNet)
        assert resnet.depth == n * field.num_pieces and resnet.width == 2 * d
        errors.append(float(jnp.max(jnp.abs(_apply(resnet, xs) - target))))
    slope = loglog_slope([1 / n for n in ns], errors)
    assert 0.85 < slope < 1.15, (slope, errors)
    assert all(e2 < e1 for e1, e2 in zip(errors[:-1], errors[1:]))
    assert errors[-1] < 0.05 * float(jnp.max(jnp.abs(target)))


def test_refine_is_exact_on_translation_and_relu_pieces(getkey):
    # W = I: the rotation and scaling generators vanish; Euler is exact on
    # translations and on x(1 - s), so every n reproduces relu(x + b).
    b = np.array([0.3, -0.7])
    xs = jr.normal(getkey(), (8, 2))
    for n in (1, 3):
        resnet = refine(
            [(np.eye(2), b)], n, activation=jax.nn.relu, final_activation=jax.nn.relu
        )
        np.testing.assert_allclose(
            _apply(resnet, xs), np.maximum(xs + b, 0), atol=1e-14
        )


def test_mlp_with_scan_and_layer_list(getkey):
    mlp = _positive_det_mlp(getkey(), 2, 3, LeakyReLU(0.5), scan=True)
    xs = jr.normal(getkey(), (5, 2))
    field = plain_net_flow(mlp)
    assert field.num_layers == 4
    np.testing.assert_allclose(
        _exact_piece_maps(field, xs), _apply(mlp, xs), atol=1e-10
    )
    layers = [(mlp.layers[0].weight, mlp.layers[0].bias)]
    layers += [(w, b) for w, b in zip(mlp.layers[1].weight, mlp.layers[1].bias)]
    layers += [(mlp.layers[2].weight, mlp.layers[2].bias)]
    same = plain_net_flow(layers, activation=lambda z: jnp.where(z >= 0, z, 0.5 * z))
    assert eqx.tree_equal(same, field, rtol=1e-12, atol=1e-12)


def test_field_is_jittable_and_batch_call_matches():
    field = plain_net_flow(
        [(np.array([[2.0, 1.0], [0.0, 1.0]]), np.ones(2))],
        activation=jax.nn.relu,
        final_activation=jax.nn.relu,
    )
    assert isinstance(field, PlainNetField)
    xs = jnp.array([[1.0, -1.0], [-2.0, 0.5]])
    for t in (0.0, 0.5, 2.0, 3.99, 4.5):
        one = eqx.filter_jit(jax.vmap(field, in_axes=(None, 0, None)))(t, xs, None)
        np.testing.assert_allclose(field.batch_call(t, xs), one, rtol=1e-14)
        a, b, c = field.units_at(t)
        by_units = np.maximum(xs @ np.asarray(a).T - np.asarray(b), 0) @ np.asarray(
            c
        ) + np.asarray(field.bias_at(t))
        np.testing.assert_allclose(by_units, one, rtol=1e-12, atol=1e-14)


def test_errors(getkey):
    w_neg = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match=r"det W = -1"):
        plain_net_flow([(w_neg, None)], activation=jax.nn.relu)
    with pytest.raises(ValueError, match=r"det W = 0"):
        plain_net_flow([(np.ones((2, 2)), None)], activation=jax.nn.relu)
    with pytest.raises(ValueError, match=r"square d x d.*shape \(3, 2\)"):
        plain_net_flow([(np.ones((3, 2)), None)], activation=jax.nn.relu)
    mlp = eqx.nn.MLP(2, 2, 4, 1, key=getkey())
    with pytest.raises(ValueError, match="square d x d"):
        plain_net_flow(mlp)
    with pytest.raises(ValueError, match="square"):
        plain_net_flow(eqx.nn.MLP("scalar", "scalar", 1, 1, key=getkey()))
    with pytest.raises(ValueError, match="NaN"):
        plain_net_flow(
            [(np.array([[1.0, np.nan], [0.0, 1.0]]), None)], activation=jax.nn.relu
        )
    with pytest.raises(ValueError, match="leaky ReLU"):
        plain_net_flow(_positive_det_mlp(getkey(), 2, 1, jnp.tanh))
    with pytest.raises(ValueError, match="activation="):
        plain_net_flow([(np.eye(2), None)])
    with pytest.raises(ValueError, match="positive integer"):
        refine([(np.eye(2), None)], 0, activation=jax.nn.relu)
    resnet = refine([(np.eye(2), None)], 2, activation=jax.nn.relu)
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN"):
        resnet(jnp.array([jnp.nan, 1.0]))
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN"):
        resnet.tracks(jnp.array([1.0, jnp.inf]))
