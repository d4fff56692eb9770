"""`flow` and `fit` say the cause of a failure: bad options are refused
upfront, a NaN field is told apart from a blow-up, and low-precision inputs
are promoted (never diffrax's empty AssertionError)."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep as fr


X0 = jnp.ones((4, 2))
RUNTIME = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError, ValueError)


def decay(t, x, args):
    return -x


def nan_field(t, x, args):
    return x * jnp.nan


def blow_up(t, x, args):
    return x**2  # x' = x^2 from x0 = 2 blows up at t = 1/2


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(rtol=0.0, atol=0.0), "`rtol` and `atol` are both 0"),
        (dict(rtol=-1.0), "`rtol` must be a finite number >= 0"),
        (dict(atol=float("nan")), "`atol` must be a finite number >= 0"),
        (dict(num_steps=2.5), "`num_steps` must be an integer >= 1"),
        (dict(num_steps=0), "`num_steps` must be an integer >= 1"),
        (dict(max_steps=-3), "`max_steps` must be an integer >= 1"),
        (dict(dt0=0.0), "`dt0` must be finite and non-zero"),
    ],
)
def test_flow_rejects_bad_options_upfront(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fr.flow(decay, X0, 0.0, 1.0, **kwargs)


def test_flow_infinite_time_named():
    with pytest.raises(ValueError, match="`t1` must be finite"):
        fr.flow(decay, X0, 0.0, jnp.inf)
    with pytest.raises(ValueError, match="`t0` must be finite"):
        fr.flow(decay, X0, -jnp.inf, 1.0)
    f = jax.jit(lambda t1: fr.flow(decay, X0, 0.0, t1).xs)
    with pytest.raises(RUNTIME, match="`t1` must be finite"):
        jax.block_until_ready(f(jnp.inf))


@pytest.mark.parametrize("fixed", [False, True])
def test_nan_field_is_not_called_a_blow_up(fixed):
    kw: dict[str, Any] = dict(solver="rk4", num_steps=4) if fixed else {}
    with pytest.raises(RUNTIME, match="the field returned NaN or inf at t0") as info:
        fr.flow(nan_field, X0, 0.0, 1.0, **kw)
    assert "diverged" not in str(info.value).split("field returned")[1].split("\n")[0]


def test_true_blow_up_is_called_one():
    with pytest.raises(RUNTIME, match="max_steps.*diverged"):
        fr.flow(blow_up, 2 * X0, 0.0, 1.0)
    with pytest.raises(RUNTIME, match="the state became NaN or inf before t1"):
        fr.flow(blow_up, 2 * X0, 0.0, 1.0, solver="euler", num_steps=50)
    # throw=False: reported in `result`, no exception
    res = fr.flow(blow_up, 2 * X0, 0.0, 1.0, throw=False)
    assert not bool(res.successful)


def nan_after_half(t, x, args):
    """Finite at t0 = 0, NaN for t > 1/2 on a bounded state: not a blow-up."""
    return jnp.where(t > 0.5, jnp.nan, -x)


@pytest.mark.parametrize(
    "kw",
    [{}, dict(solver="rk4", num_steps=10), dict(solver="dopri5", ts=[0.0, 0.5, 1.0])],
    ids=["adaptive", "fixed", "diffeqsolve"],
)
def test_field_turning_nan_later_is_named_with_its_time(kw):
    with pytest.raises(RUNTIME) as info:
        fr.flow(nan_after_half, X0, 0.0, 1.0, **kw)
    msg = str(info.value)
    assert "the field returned NaN or inf in tenth " in msg
    assert "not a blow-up" in msg and "diverged" not in msg
    # The last finite state is at (or, adaptive, just before) t = 1/2.
    assert "tenth 5/10 of" in msg or "tenth 6/10 of" in msg


def test_blow_up_reports_growth_and_max_steps_stiff_apart():
    # x' = x^2 from 2 reaches infinity at t = 1/2: the state grows huge first.
    with pytest.raises(RUNTIME, match=r"max_steps\) was reached in tenth [56]/10 of"):
        fr.flow(blow_up, 2 * X0, 0.0, 1.0)
    # A decaying flow given too few steps: bounded state, finite field.
    with pytest.raises(RUNTIME, match="stiff or needs more steps"):
        fr.flow(decay, X0, 0.0, 1.0, max_steps=2)


def test_failure_cause_under_jit_with_traced_times():
    f = jax.jit(lambda t1: fr.flow(nan_after_half, X0, 0.0, t1).xs)
    with pytest.raises(RUNTIME, match="field returned NaN or inf in tenth [56]/10"):
        jax.block_until_ready(f(1.0))


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_low_precision_x0_promoted_to_float32(dtype):
    res = fr.flow(decay, X0.astype(dtype), 0.0, 1.0)
    assert res.tracks.dtype == jnp.float32
    # x' = -x: x1 = e^{-1} x0, to the default tolerances
    np.testing.assert_allclose(np.asarray(res.xs), np.exp(-1.0), rtol=1e-4)


def test_float32_x0_under_x64_with_float64_field(x64):
    w = jnp.asarray(1.0, jnp.float64 if x64 else jnp.float32)
    res = fr.flow(lambda t, x, a: -w * x, X0.astype(jnp.float32), 0.0, 1.0)
    # promoted to the field's precision (never diffrax's empty AssertionError)
    assert res.tracks.dtype == w.dtype
    np.testing.assert_allclose(np.asarray(res.xs), np.exp(-1.0), rtol=1e-4)


# ------------------------------------------------------------------- fit


class _Shift(eqx.Module):
    w: jax.Array

    def __call__(self, t, x, args):
        return self.w + 0 * x


SRC = jnp.asarray(np.random.default_rng(0).normal(size=(16, 2)))
KW: dict[str, Any] = dict(
    key=jax.random.PRNGKey(0),
    steps=2,
    progress=False,
    flow_kwargs=dict(solver="euler", num_steps=2),
)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(epsilon=0.0), ValueError, "`epsilon`"),
        (dict(epsilon=-1.0), ValueError, "`epsilon`"),
        (dict(learning_rate=-1e-2), ValueError, "`learning_rate`"),
        (dict(kinetic_reg=-1.0), ValueError, "`kinetic_reg`"),
        (dict(jacobian_reg=float("nan")), ValueError, "`jacobian_reg`"),
        (dict(weight_decay=-1.0), ValueError, "`weight_decay`"),
        (dict(steps=2.5), ValueError, "steps must be >= 1"),
        (dict(batch_size=1.5), ValueError, "batch_size must be >= 1"),
    ],
)
def test_fit_rejects_bad_arguments_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        fr.fit(_Shift(jnp.ones(2)), SRC, SRC + 1.0, **{**KW, **kwargs})


def test_fit_names_nan_inputs_before_the_learning_rate():
    with pytest.raises(ValueError, match="`source` contains NaN"):
        fr.fit(_Shift(jnp.ones(2)), SRC.at[0, 0].set(jnp.nan), SRC, **KW)
    with pytest.raises(ValueError, match="`field` has NaN or inf parameters"):
        fr.fit(_Shift(jnp.array([jnp.nan, 1.0])), SRC, SRC, **KW)


def test_fit_first_step_nan_blames_the_inputs_not_the_learning_rate():
    def loss(x, y):
        return jnp.nan * jnp.mean((x - y) ** 2)

    with pytest.raises(FloatingPointError, match="learning rate is not the cause"):
        fr.fit(_Shift(jnp.ones(2)), SRC, SRC, loss=loss, **KW)


def test_fit_is_not_jittable_and_says_so():
    with pytest.raises(TypeError, match="fit is not jittable"):
        jax.jit(lambda s: fr.fit(_Shift(jnp.ones(2)), s, s + 1.0, **KW)[0].w)(SRC)


def test_fit_promotes_float16_samples():
    field, hist = fr.fit(
        _Shift(jnp.zeros(2)),
        SRC.astype(jnp.float16),
        (SRC + 1.0).astype(jnp.float16),
        loss="mse",
        **{**KW, "steps": 3},
    )
    assert np.all(np.isfinite(hist["loss"]))
    assert field.w.dtype != jnp.float16
