# pyright: reportArgumentType=false, reportCallIssue=false
"""Regression rows for what tests/harness_models.py found in the width and depth names (issue 14).

One row per fixed finding: the call, the error type and a word the message
must contain (the argument's name), or a value checked against an
independent NumPy computation.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import flowrep as fr


def _lin(t, x, args):
    return jnp.array([[-0.3, 0.8], [-0.6, 0.1]], x.dtype) @ x


X0 = np.random.default_rng(0).normal(size=(4, 2))
A1 = jnp.asarray(np.random.default_rng(1).normal(size=(1, 3, 2)))
B1 = jnp.zeros((1, 3))
C1 = jnp.ones((1, 3, 2))

ERRORS = [
    # activations and ridgelets: a non-numeric input names `z`
    ("Tanh str", lambda: fr.Tanh()("abc"), TypeError, "`z`"),
    ("ReLU None", lambda: fr.ReLU()(None), TypeError, "`z`"),
    ("G^(2) str", lambda: fr.GaussianDerivative(2)("abc"), TypeError, "`z`"),
    ("Tanh.fourier str", lambda: fr.Tanh().fourier("w"), TypeError, "`omega`"),
    ("LeakyReLU alpha str", lambda: fr.LeakyReLU("a"), TypeError, "alpha"),
    ("LeakyReLU alpha None", lambda: fr.LeakyReLU(None), TypeError, "alpha"),
    ("LeakyReLU alpha complex", lambda: fr.LeakyReLU(1 + 1j), TypeError, "alpha"),
    (
        "NotAdmissibleError reason",
        lambda: fr.NotAdmissibleError("m", reason="maybe"),  # pyright: ignore[reportArgumentType]
        ValueError,
        "`reason`",
    ),
    # nodes
    ("grid num 2.5", lambda: fr.grid_nodes(0.0, 1.0, 2.5), TypeError, "`num`"),  # pyright: ignore[reportArgumentType]
    ("grid num str", lambda: fr.grid_nodes(0.0, 1.0, "5"), TypeError, "`num`"),  # pyright: ignore[reportArgumentType]
    ("grid num None", lambda: fr.grid_nodes(0.0, 1.0, None), TypeError, "`num`"),  # pyright: ignore[reportArgumentType]
    ("grid num True", lambda: fr.grid_nodes(0.0, 1.0, True), TypeError, "`num`"),
    (
        "grid num**d huge",
        lambda: fr.grid_nodes(0.0, 1.0, 10**6, 4),
        MemoryError,
        "`num`",
    ),
    ("grid upper inf", lambda: fr.grid_nodes(0.0, np.inf, 3), ValueError, "`upper`"),
    ("grid dim 2.5", lambda: fr.grid_nodes(0.0, 1.0, 3, 2.5), ValueError, "`dim`"),  # pyright: ignore[reportArgumentType]
    ("grid lower str", lambda: fr.grid_nodes("a", 1.0, 3), TypeError, "`lower`"),
    ("grid lower complex", lambda: fr.grid_nodes(1j, 1.0, 3), TypeError, "`lower`"),
    (
        "grid rule",
        lambda: fr.grid_nodes(0.0, 1.0, 3, rule="simpson"),
        ValueError,
        "`rule`",
    ),  # pyright: ignore[reportArgumentType]
    (
        "uniform num huge",
        lambda: fr.uniform_nodes(jr.PRNGKey(0), 10**13, 0.0, 1.0),
        MemoryError,
        "`num`",
    ),
    # transforms: a unit with a = 0 has weight ||a||^-s = inf
    (
        "dual a=0, s>0",
        lambda: fr.dual_ridgelet_transform(
            jnp.ones(2),
            fr.Tanh(),
            jnp.array([[0.0], [1.0]]),
            jnp.zeros(2),
            None,
            jnp.ones((3, 1)),
            s=1.0,
        ),
        ValueError,
        "`a`",
    ),
    (
        "ridgelet a=0, s<0",
        lambda: fr.ridgelet_transform(
            jnp.ones(3),
            fr.GaussianDerivative(2),
            jnp.array([[0.0], [1.0]]),
            jnp.zeros(2),
            jnp.ones((3, 1)),
            jnp.ones(3),
            s=-1.0,
        ),
        ValueError,
        "`a`",
    ),
    (
        "sample_network sigma",
        lambda: fr.sample_network(
            jnp.ones(2),
            jnp.ones((2, 1)),
            jnp.zeros(2),
            None,
            "nope",
            3,
            key=jr.PRNGKey(0),
        ),
        ValueError,
        "`sigma`",
    ),
    # flow: argument types and recorded times, before any solve
    ("flow t1 str", lambda: fr.flow(_lin, X0, 0.0, "1"), TypeError, "`t1`"),  # pyright: ignore[reportArgumentType]
    (
        "flow throw str",
        lambda: fr.flow(_lin, X0, 0.0, 1.0, throw="yes"),
        TypeError,
        "`throw`",
    ),  # pyright: ignore[reportArgumentType]
    (
        "flow kinetic 1",
        lambda: fr.flow(_lin, X0, 0.0, 1.0, kinetic=1),
        TypeError,
        "`kinetic`",
    ),  # pyright: ignore[reportArgumentType]
    (
        "flow ts 2-d",
        lambda: fr.flow(_lin, X0, 0.0, 1.0, ts=jnp.zeros((2, 2))),
        ValueError,
        "`ts`",
    ),
    (
        "flow ts unsorted",
        lambda: fr.flow(_lin, X0, 0.0, 1.0, ts=jnp.array([0.0, 1.0, 0.5])),
        ValueError,
        "`ts`",
    ),
    (
        "flow ts past t1",
        lambda: fr.flow(_lin, X0, 0.0, 1.0, ts=jnp.array([0.0, 2.0])),
        ValueError,
        "`ts`",
    ),
    (
        "flow ts NaN",
        lambda: fr.flow(_lin, X0, 0.0, 1.0, ts=jnp.array([0.0, jnp.nan, 1.0])),
        ValueError,
        "`ts`",
    ),
    # RidgeletField and ResNet construction
    (
        "field NaN c",
        lambda: fr.RidgeletField(A1, B1, C1.at[0, 0, 0].set(jnp.nan), basis="constant"),
        ValueError,
        "`c`",
    ),
    (
        "field t1 inf",
        lambda: fr.RidgeletField(A1, B1, C1, basis="constant", t1=np.inf),
        ValueError,
        "`t1`",
    ),
    (
        "field a str",
        lambda: fr.RidgeletField("a", B1, C1, basis="constant"),
        TypeError,
        "`a`",
    ),
    (
        "field call x dim",
        lambda: fr.RidgeletField(A1, B1, C1, basis="constant")(0.0, jnp.ones(3)),
        ValueError,
        "`x`",
    ),
    (
        "field call t NaN",
        lambda: fr.RidgeletField(A1, B1, C1, basis="constant")(np.nan, jnp.ones(2)),
        ValueError,
        "`t`",
    ),
    (
        "random num_units huge",
        lambda: fr.RidgeletField.random(jr.PRNGKey(0), 2, 10**11),
        MemoryError,
        "`num_units`",
    ),
    (
        "random output_scale NaN",
        lambda: fr.RidgeletField.random(jr.PRNGKey(0), 2, 3, output_scale=np.nan),
        ValueError,
        "`output_scale`",
    ),
    (
        "random dtype int",
        lambda: fr.RidgeletField.random(jr.PRNGKey(0), 2, 3, dtype=jnp.int32),
        ValueError,
        "`dtype`",
    ),
    (
        "from_units empty",
        lambda: fr.RidgeletField.from_units([], [], [], []),
        ValueError,
        "`a_list`",
    ),
    (
        "from_units ts NaN",
        lambda: fr.RidgeletField.from_units(
            [A1[0]] * 2, [B1[0]] * 2, [C1[0]] * 2, [0.0, np.nan]
        ),
        ValueError,
        "`ts`",
    ),
    (
        "from_field t_knots",
        lambda: fr.RidgeletField.from_field(
            _lin,
            fr.GaussianDerivative(2),
            jnp.ones((2, 2)),
            jnp.zeros(2),
            jnp.ones((3, 2)),
            jnp.ones(3),
            [1.0, 0.0],
            sigma="tanh",
            unit_weights=jnp.ones(2),
            pairing=1.0,
        ),
        ValueError,
        "`t_knots`",
    ),
    (
        "ResNet.random use_bias",
        lambda: fr.ResNet.random(jr.PRNGKey(0), 2, 3, 2, use_bias="yes"),
        TypeError,
        "`use_bias`",
    ),  # pyright: ignore[reportArgumentType]
    (
        "rotation_log empty",
        lambda: fr.rotation_log(np.zeros((0, 0))),
        ValueError,
        "`r`",
    ),
    (
        "rotation_log NaN",
        lambda: fr.rotation_log(np.array([[np.nan, 0.0], [0.0, 1.0]])),
        ValueError,
        "`r`",
    ),
    ("rotation_log str", lambda: fr.rotation_log("R"), TypeError, "`r`"),
    ("plain_net_flow empty", lambda: fr.plain_net_flow([]), ValueError, "`net`"),
    (
        "IntegralNetwork call dim",
        lambda: fr.IntegralNetwork(
            jnp.ones((2, 2)), jnp.zeros(2), jnp.ones(2), fr.Tanh()
        )(jnp.ones(3)),
        ValueError,
        "`x`",
    ),
    (
        "random dtype junk",
        lambda: fr.RidgeletField.random(jr.PRNGKey(0), 2, 3, dtype="float16x"),
        TypeError,
        "`dtype`",
    ),
    (
        "from_units ts unsorted",
        lambda: fr.RidgeletField.from_units(
            [A1[0]] * 2, [B1[0]] * 2, [C1[0]] * 2, [1.0, 0.0]
        ),
        ValueError,
        "`ts`",
    ),
    (
        "from_units ts len",
        lambda: fr.RidgeletField.from_units(
            [A1[0]] * 2, [B1[0]] * 2, [C1[0]] * 2, [0.0, 0.5, 1.0, 2.0]
        ),
        ValueError,
        "`ts`",
    ),
    (
        "refine n huge",
        lambda: fr.refine([(np.eye(2), None)], 10**9, activation=jax.nn.relu),
        MemoryError,
        "`n`",
    ),
    (
        "save_field str field",
        lambda: fr.save_field("unused-path", "field"),
        TypeError,
        "`field`",
    ),
    (
        "load_field a directory",
        lambda: fr.load_field(".", C1),
        IsADirectoryError,
        "`path`",
    ),
    (
        "mse_loss overflow",
        lambda: fr.mse_loss(
            jnp.full((3, 2), 1e30, jnp.float32), jnp.full((3, 2), -1e30, jnp.float32)
        ),
        ValueError,
        "`x`",
    ),
]


@pytest.mark.parametrize(
    "call, error, word", [r[1:] for r in ERRORS], ids=[r[0] for r in ERRORS]
)
def test_named_error(call, error, word):
    with pytest.raises(error) as info:
        call()
    assert word in str(info.value)


FIT = dict(key=jr.PRNGKey(0), steps=1, steps_per_call=1, loss="mse")
FIT_ERRORS = [
    ({"progress": "yes"}, TypeError, "`progress`"),
    ({"gradient": "yes"}, TypeError, "`gradient`"),
    ({"flow_kwargs": "x"}, TypeError, "`flow_kwargs`"),
    ({"optimizer": "adam"}, TypeError, "`optimizer`"),
]


@pytest.mark.parametrize("kw, error, word", FIT_ERRORS, ids=[r[2] for r in FIT_ERRORS])
def test_fit_argument_named(kw, error, word):
    field = fr.RidgeletField.random(jr.PRNGKey(1), 2, 3, basis="constant")
    with pytest.raises(error, match=word):
        fr.fit(field, jnp.ones((4, 2)), jnp.zeros((4, 2)), **(FIT | kw))


@pytest.mark.slow
def test_ts_checked_under_jit():
    f = jax.jit(
        lambda ts: (
            fr.flow(_lin, X0, 0.0, 1.0, ts=ts, solver="euler", num_steps=4).tracks
        )
    )
    with pytest.raises(Exception, match="`ts`"):
        jax.block_until_ready(f(jnp.array([0.0, 1.0, 0.5])))


def test_refit_output_keeps_the_bias():
    # the refitted network must fit y, not y + c_0 (the bias used to be ignored)
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 2)), rng.normal(size=6)
    x = rng.normal(size=(25, 2))
    y = np.sin(x[:, 0]) + 2.0
    net = fr.IntegralNetwork(
        jnp.asarray(a), jnp.asarray(b), jnp.zeros(6), fr.Tanh(), jnp.asarray(0.5)
    )
    got = np.asarray(
        fr.refit_output(net, jnp.asarray(x), jnp.asarray(y), ridge=1e-3).evaluate(
            jnp.asarray(x)
        )
    )
    phi = np.tanh(x @ a.T - b)
    g = phi.T @ phi
    c = np.linalg.solve(g + 1e-3 * np.trace(g) / 6 * np.eye(6), phi.T @ (y - 0.5))
    np.testing.assert_allclose(got, phi @ c + 0.5, rtol=1e-6, atol=1e-6)


def test_grid_nodes_values_unchanged():
    x, w = fr.grid_nodes([0.0, -1.0], [1.0, 1.0], 3)
    assert x.shape == (9, 2)
    np.testing.assert_allclose(float(jnp.sum(w)), 2.0, rtol=1e-12)
    np.testing.assert_allclose(
        np.unique(np.asarray(x[:, 0])), [1 / 6, 0.5, 5 / 6], rtol=1e-12
    )


def _repeated_units_problem(dtype):
    # 8 units drawn from 12 (with repeats): the Gram matrix is singular, so a
    # ridge of 1e-8 times its mean diagonal is below float32 rounding.
    # (with n = 30 points and these seeds, `ridge=1e-8` gives the NaN solve)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 2)).astype(dtype)
    b = rng.normal(size=12).astype(dtype)
    gamma = rng.normal(size=12).astype(dtype)
    w = rng.uniform(0.5, 1.5, size=12).astype(dtype)
    x = rng.normal(size=(30, 2)).astype(dtype)
    y = (np.sin(x[:, 0]) + x[:, 1] ** 2).astype(dtype)
    return a, b, gamma, w, x, y


@pytest.mark.slow
def test_sample_network_refit_default_ridge_float32():
    # harness_models "sample_network refit" (x32): the default ridge used to be
    # 1e-8 in every dtype, and float32 raised "increase `ridge`" on a valid call.
    a, b, gamma, w, x, y = map(jnp.asarray, _repeated_units_problem(np.float32))
    key = jr.PRNGKey(0)
    net = fr.sample_network(gamma, a, b, w, fr.Tanh(), 8, key=key, refit=(x, y))
    assert net.c.dtype == jnp.float32
    # float64 reference on the same float32 inputs and the same drawn units,
    # with the ridge the float32 default picks (1e-8 * sqrt(eps32 / eps64)).
    lam_rel = 1e-8 * np.sqrt(np.finfo(np.float32).eps / np.finfo(np.float64).eps)
    a8, b8 = np.asarray(net.a, np.float64), np.asarray(net.b, np.float64)
    x8, y8 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    phi = np.tanh(x8 @ a8.T - b8)
    g = phi.T @ phi
    c = np.linalg.solve(g + lam_rel * np.trace(g) / 8 * np.eye(8), phi.T @ y8)
    got = np.asarray(net.evaluate(x), np.float64)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, phi @ c, rtol=0, atol=2e-3 * np.abs(y8).max())
    # and the fit is as good as the float64 one, to the float32 Gram's rounding
    best = np.linalg.norm(phi @ c - y8)
    assert np.linalg.norm(got - y8) <= 1.01 * best + 1e-4 * np.linalg.norm(y8)


def test_refit_default_ridge_unchanged_in_float64():
    # the shapes of test_refit_output_keeps_the_bias (its compiled scan is reused)
    rng = np.random.default_rng(4)
    a, b = jnp.asarray(rng.normal(size=(6, 2))), jnp.asarray(rng.normal(size=6))
    x = jnp.asarray(rng.normal(size=(25, 2)))
    y = jnp.sin(x[:, 0])
    net = fr.IntegralNetwork(a, b, jnp.zeros(6), fr.Tanh(), jnp.asarray(0.5))
    got = fr.refit_output(net, x, y)
    old = fr.refit_output(net, x, y, ridge=1e-8)
    np.testing.assert_array_equal(np.asarray(got.c), np.asarray(old.c))
