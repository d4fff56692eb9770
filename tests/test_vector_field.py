"""`AbstractVectorField`: every field class implements it, and `flow`, `fit`,
`euler_network` and `Tracks.from_flow` accept each of them and a bare callable."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep

from ._dae_laws import mixture


FIXED: dict[str, Any] = dict(solver="rk4", num_steps=8)  # for fit


def bare_field(t, x, args):
    return -x + jnp.sin(t)


def _fields(key) -> dict[str, tuple[Any, float, float]]:
    """Each field class (and a bare callable), with a time interval to flow over."""
    k1, k2, k3 = jr.split(key, 3)
    resnet = flowrep.ResNet.random(k2, 2, 3, 4)
    plain = flowrep.plain_net_flow(
        [(np.array([[1.5, 0.2], [0.1, 1.2]]), np.array([0.3, 0.4]))],
        activation=jax.nn.relu,
    )
    return {
        "ridgelet": (
            flowrep.RidgeletField.random(k1, 2, 5, num_knots=3),
            0.0,
            1.0,
        ),
        "ridgelet_pc": (
            flowrep.RidgeletField.random(
                k3, 2, 5, num_knots=3, basis="piecewise_constant"
            ),
            0.0,
            1.0,
        ),
        "resnet": (flowrep.field_from_resnet(resnet), 0.0, 1.0),
        "plainnet": (plain, plain.t0, plain.t1),
        "deep_dae": (flowrep.DeepDAEField(mixture()), 0.0, 0.1),
        "mean_shift": (flowrep.BlurringMeanShiftField(0.5, 2), 0.0, 0.1),
        "bare": (bare_field, 0.0, 1.0),
    }


NAMES = [
    "ridgelet",
    "ridgelet_pc",
    "resnet",
    "plainnet",
    "deep_dae",
    "mean_shift",
    "bare",
]
UNIT_FIELDS = ("ridgelet", "ridgelet_pc", "resnet", "plainnet")


def _points(name: str, key) -> jax.Array:
    if name == "mean_shift":  # it acts on a whole flattened cloud: two of them
        return jr.normal(key, (12, 2)).reshape(2, 12)
    return jr.normal(key, (6, 2))


def test_every_field_class_is_a_vector_field(getkey):
    fields = _fields(getkey())
    for name, (field, _, _) in fields.items():
        if name == "bare":
            assert not isinstance(field, flowrep.AbstractVectorField)
            continue
        assert isinstance(field, flowrep.AbstractVectorField), name
        assert isinstance(field, flowrep.AbstractUnitField) == (name in UNIT_FIELDS)
    for cls in (
        flowrep.RidgeletField,
        flowrep.PlainNetField,
        flowrep.ResNetField,
        flowrep.DeepDAEField,
        flowrep.BlurringMeanShiftField,
    ):
        assert issubclass(cls, flowrep.AbstractVectorField)


def test_times_are_tuples_of_floats(getkey):
    fields = _fields(getkey())
    for name, (field, _, _) in fields.items():
        if name == "bare":
            continue
        for ts in (field.step_ts, field.jump_ts):
            assert isinstance(ts, tuple), (name, ts)
            assert all(type(t) is float for t in ts), (name, ts)
    assert fields["ridgelet"][0].step_ts == (0.0, 0.5, 1.0)
    assert fields["ridgelet_pc"][0].jump_ts == (0.5, 1.0)
    assert fields["resnet"][0].jump_ts == (0.25, 0.5, 0.75)
    plain = fields["plainnet"][0]
    assert plain.jump_ts == tuple(float(p) for p in range(1, plain.num_pieces))


@pytest.mark.parametrize("name", NAMES)
def test_flow_and_tracks(getkey, name):
    field, t0, t1 = _fields(getkey())[name]
    x0 = _points(name, getkey())
    # Adaptive (the default): steps land on the field's `jump_ts`/`step_ts`.
    ts = jnp.linspace(t0, t1, 3)
    res = flowrep.flow(field, x0, t0, t1, ts=ts, rtol=1e-8, atol=1e-8)
    assert bool(res.successful)
    tracks = flowrep.Tracks.from_flow(res)
    assert tracks.points.shape == (3,) + x0.shape
    np.testing.assert_allclose(tracks.times, ts)
    np.testing.assert_allclose(tracks.points[0], x0)
    # Against many Euler steps of the field itself: the same flow, to O(h).
    num = 256 * max(1, round(t1 - t0))
    y, h = x0, (t1 - t0) / num
    step = jax.jit(lambda y, t: y + h * jax.vmap(lambda x: field(t, x, None))(y))
    for k in range(num):
        y = step(y, t0 + k * h)
    scale = 1 + float(jnp.max(jnp.abs(y)))
    np.testing.assert_allclose(res.xs, y, atol=0.02 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_euler_network(getkey, name):
    field, t0, t1 = _fields(getkey())[name]
    x = _points(name, getkey())
    dim = x.shape[1]
    depth = 4
    net = flowrep.euler_network(field, depth, t0=t0, t1=t1, dim=dim)
    expected = flowrep.ResNet if name in UNIT_FIELDS else flowrep.EulerNetwork
    assert isinstance(net, expected)
    # The broken line by hand: x_{l+1} = x_l + h v(t_l, x_l).
    y, h = x, (t1 - t0) / depth
    for k in range(depth):
        y = y + h * jax.vmap(lambda x, t=t0 + k * h: field(t, x, None))(y)
    np.testing.assert_allclose(jax.vmap(net)(x), y, rtol=1e-10, atol=1e-10)


def test_fit_ridgelet_field(getkey):
    field = flowrep.RidgeletField.random(getkey(), 2, 6, basis="constant")
    source = jr.normal(getkey(), (16, 2))
    trained, history = flowrep.fit(
        field,
        source,
        0.5 * source,
        key=getkey(),
        loss="mse",
        steps=5,
        flow_kwargs=FIXED,
        progress=False,
    )
    assert type(trained) is flowrep.RidgeletField
    assert history["loss"][-1] < history["loss"][0]


class _Linear(eqx.Module):
    """A trainable field that is an eqx.Module but not an AbstractVectorField."""

    mat: jax.Array

    def __call__(self, t, x, args):
        return self.mat @ x


def test_fit_bare_module(getkey):
    field = _Linear(jnp.zeros((2, 2)))
    assert not isinstance(field, flowrep.AbstractVectorField)
    source = jr.normal(getkey(), (16, 2))
    trained, history = flowrep.fit(
        field,
        source,
        0.5 * source,
        key=getkey(),
        loss="mse",
        steps=5,
        flow_kwargs=FIXED,
        progress=False,
    )
    assert type(trained) is _Linear
    assert history["loss"][-1] < history["loss"][0]
    assert not np.array_equal(trained.mat, field.mat)


class _Closed(flowrep.AbstractVectorField):
    """$v_t(x)=Ax+t\\sin(x)$: divergence $\\mathrm{tr}A+t\\sum_i\\cos x_i$."""

    mat: jax.Array

    @property
    def dim(self) -> int:
        return self.mat.shape[0]

    @property
    def t0(self) -> None:
        return None

    @property
    def t1(self) -> None:
        return None

    def __call__(self, t, x, args=None):
        return self.mat @ x + t * jnp.sin(x)


def test_default_batch_divergence(getkey):
    field = _Closed(jr.normal(getkey(), (3, 3)))
    xs = jr.normal(getkey(), (5, 3))
    t = 0.7
    v, div = field.batch_divergence(t, xs)
    closed = jnp.trace(field.mat) + t * jnp.sum(jnp.cos(xs), axis=-1)
    np.testing.assert_allclose(div, closed, rtol=1e-12)
    jac = jax.vmap(jax.jacfwd(lambda x: field(t, x)))(xs)
    np.testing.assert_allclose(div, jnp.trace(jac, axis1=1, axis2=2), rtol=1e-12)
    np.testing.assert_allclose(v, xs @ field.mat.T + t * jnp.sin(xs), rtol=1e-12)
    np.testing.assert_allclose(field.batch_call(t, xs), v, rtol=1e-12)


def test_fused_divergence_matches_default(getkey):
    # RidgeletField's fused trace against the interface's jacfwd default.
    field = flowrep.RidgeletField.random(getkey(), 3, 7, num_knots=3)
    xs = jr.normal(getkey(), (5, 3))
    v, div = field.batch_divergence(0.3, xs)
    v0, div0 = flowrep.AbstractVectorField.batch_divergence(field, 0.3, xs)
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    np.testing.assert_allclose(div, div0, rtol=1e-10, atol=1e-12)


def test_a_field_must_be_callable():
    with pytest.raises(TypeError, match="vector field"):
        flowrep.flow(3.0, jnp.ones((2, 2)), 0.0, 1.0)  # pyright: ignore[reportArgumentType]
