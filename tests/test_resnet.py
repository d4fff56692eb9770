import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
import scipy.linalg

from flowrep._depth._field import RidgeletField
from flowrep._depth._flow import flow
from flowrep._depth._resnet import euler_network, EulerNetwork, ResNet
from flowrep._depth._resnet_field import field_from_resnet, ResNetField
from flowrep._width._integral_net import IntegralNetwork

from .helpers import loglog_slope


@eqx.filter_jit
def _apply(net, xs):
    return jax.vmap(net)(xs)


@eqx.filter_jit
def _field_at(field, t, xs):
    return jax.vmap(lambda x: field(t, x, None))(xs)


@eqx.filter_jit
def _tracks(net, xs):
    return jax.vmap(net.tracks)(xs)


def _linear_relu_field(mat):
    """$v(x)=Ax$ written exactly as 2m ReLU units: $A\\,\\mathrm{ReLU}(x)-A\\,\\mathrm{ReLU}(-x)$."""
    m = mat.shape[0]
    eye = jnp.eye(m)
    a = jnp.concatenate([eye, -eye])
    b = jnp.zeros(2 * m)
    c = jnp.concatenate([mat.T, -mat.T])[None]
    return RidgeletField(a, b, c, sigma="relu", basis="constant")


@pytest.mark.parametrize("backward", [False, True])
def test_euler_resnet_linear_field_order_one(getkey, backward):
    m = 3
    mat = jr.normal(getkey(), (m, m)) / np.sqrt(m)
    field = _linear_relu_field(mat)
    xs = jr.normal(getkey(), (6, m))
    t0, t1 = (1.0, 0.0) if backward else (0.0, 1.0)
    exact = xs @ scipy.linalg.expm(np.asarray(mat) * (t1 - t0)).T
    depths = [8, 16, 32, 64, 128]
    errors = []
    for depth in depths:
        net = euler_network(field, depth, t0=t0, t1=t1)
        assert isinstance(net, ResNet)
        assert net.depth == depth and net.blocks.a.shape == (depth, 2 * m, m)
        errors.append(float(jnp.max(jnp.abs(_apply(net, xs) - exact))))
    slope = loglog_slope([1 / d for d in depths], errors)
    assert 0.9 < slope < 1.1, (slope, errors)
    assert errors[-1] < 2e-2


@pytest.mark.slow
def test_euler_resnet_tracks_converge_to_flow(getkey):
    m = 2
    field = RidgeletField.random(
        getkey(), m, 16, sigma="tanh", num_knots=4, output_scale=1.5
    )
    xs = jr.normal(getkey(), (5, m))
    depths = [8, 16, 32, 64]
    # one accurate solve, recorded on the finest grid (every coarser grid is a subset)
    ref = flow(
        field,
        xs,
        ts=jnp.linspace(field.t0, field.t1, 65),
        rtol=1e-11,
        atol=1e-11,
        max_steps=20000,
    )
    errors = []
    for depth in depths:
        net = euler_network(field, depth)
        tracks = _tracks(net, xs)  # [n, L+1, m]
        assert tracks.shape == (5, depth + 1, m)
        np.testing.assert_allclose(tracks[:, 0], xs)
        errors.append(
            float(
                jnp.max(
                    jnp.abs(jnp.swapaxes(tracks, 0, 1) - ref.tracks[:: 64 // depth])
                )
            )
        )
    slope = loglog_slope([1 / d for d in depths], errors)
    assert 0.85 < slope < 1.15, (slope, errors)


def test_generic_field_euler_network_closed_form(getkey):
    # v(t, x) = -t x  =>  x(1) = x0 exp(-1/2); a plain function, no units.
    def field(t, x, args):
        return -args * t * x

    xs = jr.normal(getkey(), (4, 3))
    exact = xs * np.exp(-0.5)
    depths = [10, 20, 40, 80]
    errors = []
    for depth in depths:
        net = euler_network(field, depth, t0=0.0, t1=1.0, dim=3, args=1.0)
        assert isinstance(net, EulerNetwork)
        errors.append(float(jnp.max(jnp.abs(_apply(net, xs) - exact))))
    slope = loglog_slope([1 / d for d in depths], errors)
    assert 0.9 < slope < 1.1, (slope, errors)
    # The broken line itself, by hand: prod_l (1 - t_l h).
    depth = 10
    h = 0.1
    by_hand = xs * np.prod([1 - (k * h) * h for k in range(depth)])
    net = euler_network(field, depth, t0=0.0, t1=1.0, dim=3, args=1.0)
    np.testing.assert_allclose(_apply(net, xs), by_hand, rtol=1e-12)


def test_integral_and_generic_paths_agree(getkey):
    field = RidgeletField.random(getkey(), 3, 8, sigma="tanh", num_knots=3)
    xs = jr.normal(getkey(), (4, 3))
    resnet = euler_network(field, 12)
    generic = euler_network(
        lambda t, x, args: field(t, x, args), 12, t0=field.t0, t1=field.t1, dim=3
    )
    np.testing.assert_allclose(
        _tracks(resnet, xs), _tracks(generic, xs), rtol=1e-12, atol=1e-12
    )


def test_blocks_are_integral_networks_of_the_units(getkey):
    m, num_units, depth = 3, 7, 5
    field = RidgeletField.random(getkey(), m, num_units, sigma="tanh", num_knots=3)
    net = euler_network(field, depth)
    h = (field.t1 - field.t0) / depth
    xs = np.asarray(jr.normal(getkey(), (9, m)))
    assert isinstance(net, ResNet)
    for k in range(depth):
        t = field.t0 + k * h
        block = net.block(k)
        assert isinstance(block, IntegralNetwork) and block.c.shape == (num_units, m)
        a, b, c = (np.asarray(z) for z in field.units_at(t))
        brute = h * np.tanh(xs @ a.T - b) @ c  # numpy, no flowrep
        np.testing.assert_allclose(
            block.evaluate(jnp.asarray(xs)), brute, rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(
            _apply(block, jnp.asarray(xs)), brute, rtol=1e-12, atol=1e-14
        )
    # tracks = cumulative block residuals
    x = jnp.asarray(xs[0])
    track = net.tracks(x)
    for k in range(depth):
        np.testing.assert_allclose(
            track[k + 1], track[k] + net.block(k)(track[k]), rtol=1e-12
        )


def test_roundtrip_resnet_field_resnet(getkey):
    net = ResNet.random(getkey(), 3, 16, 10, "tanh", t0=0.0, t1=2.0)
    # give the biases a value so the round trip checks them too
    net = eqx.tree_at(lambda r: r.blocks.bias, net, 0.1 * jr.normal(getkey(), (10, 3)))
    xs = jr.normal(getkey(), (6, 3))
    field = net.as_field()
    assert isinstance(field, ResNetField)
    h = net.step_size
    for k in (0, 4, 9):
        t = net.ts[k]
        np.testing.assert_allclose(
            _field_at(field, t, xs),
            _apply(net.block(k), xs) / h,
            rtol=1e-12,
            atol=1e-14,
        )
    again = euler_network(field, net.depth)
    assert isinstance(again, ResNet)
    np.testing.assert_allclose(
        _tracks(again, xs), _tracks(net, xs), rtol=1e-12, atol=1e-12
    )
    # Through a RidgeletField (piecewise constant in time, bias folded into a unit).
    rfield = field_from_resnet(net, kind="ridgelet")
    assert isinstance(rfield, RidgeletField) and rfield.num_units == 17
    again = euler_network(rfield, net.depth)
    np.testing.assert_allclose(
        _apply(again, xs), _apply(net, xs), rtol=1e-12, atol=1e-12
    )


def test_forward_is_a_scan(getkey):
    small = ResNet.random(getkey(), 2, 4, 3)
    big = ResNet.random(getkey(), 2, 4, 300)
    x = jnp.ones(2)
    eq_small = len(jax.make_jaxpr(small)(x).jaxpr.eqns)
    eq_big = len(jax.make_jaxpr(big)(x).jaxpr.eqns)
    assert eq_small == eq_big

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(net, xs):
        return _apply(net, xs)

    run(big, jnp.ones((3, 2)))
    run(eqx.tree_at(lambda r: r.blocks.c, big, 2 * big.blocks.c), jnp.zeros((3, 2)))


def test_random_resnet_is_trainable(getkey):
    net = ResNet.random(getkey(), 2, 8, 4, "relu")
    params = eqx.filter(net, eqx.is_inexact_array)
    leaves = jax.tree_util.tree_leaves(params)
    # only a, b, c, bias: the depth grid is static, so weight decay cannot touch it
    assert len(leaves) == 4
    xs = jr.normal(getkey(), (64, 2))
    ys = xs @ jnp.array([[0.0, -1.0], [1.0, 0.0]]).T + 0.5  # a rotation plus a shift

    def loss(net):
        return jnp.mean((_apply(net, xs) - ys) ** 2)

    opt = optax.adam(3e-2)
    state = opt.init(params)

    @eqx.filter_jit
    def step(net, state):
        value, grads = eqx.filter_value_and_grad(loss)(net)
        updates, state = opt.update(grads, state, eqx.filter(net, eqx.is_inexact_array))
        return eqx.apply_updates(net, updates), state, value

    first = float(loss(net))
    for _ in range(150):
        net, state, _ = step(net, state)
    assert float(loss(net)) < 0.1 * first


def test_errors(getkey):
    field = RidgeletField.random(getkey(), 2, 4)
    with pytest.raises(ValueError, match="positive integer"):
        euler_network(field, 0)
    with pytest.raises(ValueError, match="differ"):
        euler_network(field, 3, t0=0.5, t1=0.5)
    with pytest.raises(ValueError, match="t0"):
        euler_network(lambda t, x, a: x, 3, dim=2)
    with pytest.raises(ValueError, match="dim"):
        euler_network(lambda t, x, a: x, 3, t0=0.0, t1=1.0)
    net = euler_network(field, 3)
    assert isinstance(net, ResNet)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        net(jnp.ones(3))
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN"):
        net(jnp.array([jnp.nan, 0.0]))
    with pytest.raises(eqx.EquinoxRuntimeError, match="NaN"):
        net.tracks(jnp.array([jnp.inf, 0.0]))
    bad_field = euler_network(lambda t, x, a: x[:1], 3, t0=0.0, t1=1.0, dim=2)
    with pytest.raises(ValueError, match="vector field maps"):
        bad_field(jnp.ones(2))
    with pytest.raises(ValueError, match="stacked"):
        ResNet(net.block(0))
    with pytest.raises(ValueError, match="positive integer"):
        ResNet.random(getkey(), 2, 0, 3)
    with pytest.raises(TypeError, match="ResNet"):
        field_from_resnet(field)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        field_from_resnet(net, kind="spline")
    step = ResNet.random(getkey(), 2, 4, 3, "gaussian")
    assert field_from_resnet(step, kind="ridgelet").num_units == 5
    relu_net = eqx.tree_at(
        lambda r: r.blocks.bias,
        ResNet.random(getkey(), 2, 4, 3, "step"),
        jnp.ones((3, 2)),
    )
    field_from_resnet(relu_net, kind="ridgelet")  # step(1) = 1: folds fine
    with pytest.raises(ValueError, match="sigma\\(1\\) = 0"):
        from flowrep._width._activations import CustomActivation

        odd = CustomActivation(fn=lambda z: z * (1 - z), fourier_fn=lambda w: 0 * w)
        field_from_resnet(ResNet.random(getkey(), 2, 4, 3, odd), kind="ridgelet")


@pytest.mark.slow
def test_resnet_field_diffrax_euler_is_the_resnet(getkey):
    # The field's flow is the continuum model; diffrax's Euler solver on it is the ResNet.
    net = ResNet.random(getkey(), 3, 16, 10, "tanh", t0=0.0, t1=2.0)
    xs = jr.normal(getkey(), (6, 3))
    out = flow(net.as_field(), xs, solver="euler", num_steps=net.depth)
    np.testing.assert_allclose(out.tracks[-1], _apply(net, xs), rtol=1e-10, atol=1e-12)
