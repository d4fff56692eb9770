"""`fit` runs several optimiser steps per compiled call and reads the losses back once per chunk."""

from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax._src import array as jax_array

import flowrep
from flowrep._depth import _fit


FLOW = dict(solver="euler", num_steps=4)


def _problem(getkey):
    source = jr.normal(getkey(), (16, 2))
    field = flowrep.RidgeletField.random(getkey(), 2, 6, basis="constant")
    return field, source, 0.5 * source


def _count(monkeypatch):
    """Count calls of the compiled chunk `_run` and device-to-host reads.

    Every read of a device array's value on the host (`np.asarray`, `float`,
    `jax.device_get`, ...) goes through `ArrayImpl._value`.
    """
    counts = {"calls": 0, "to_host": 0}
    run = _fit._run
    value = jax_array.ArrayImpl._value

    def counting_run(*args, **kwargs):
        counts["calls"] += 1
        return run(*args, **kwargs)

    def counting_value(self):
        counts["to_host"] += 1
        return value.fget(self)

    monkeypatch.setattr(_fit, "_run", counting_run)
    monkeypatch.setattr(jax_array.ArrayImpl, "_value", property(counting_value))
    return counts


def test_fit_calls_and_transfers_per_step(getkey, monkeypatch):
    field, source, target = _problem(getkey)
    steps = 60
    kw: dict[str, Any] = dict(loss="mse", flow_kwargs=FLOW, progress=False)
    flowrep.fit(field, source, target, key=getkey(), steps=2, **kw)  # compile
    counts = _count(monkeypatch)
    _, hist = flowrep.fit(field, source, target, key=getkey(), steps=steps, **kw)
    assert hist["loss"].shape == (steps,) and np.all(np.isfinite(hist["loss"]))
    assert counts["calls"] == 3  # steps_per_call=20; it was one call per step
    # The history once per chunk, plus the input checks (finite samples).
    assert counts["to_host"] / steps <= 1 / 10, counts


def test_fit_chunking_does_not_change_the_result(getkey):
    field, source, target = _problem(getkey)
    kw: dict[str, Any] = dict(
        loss="mse", steps=7, flow_kwargs=FLOW, progress=False, key=getkey()
    )
    f1, h1 = flowrep.fit(field, source, target, steps_per_call=1, **kw)
    f3, h3 = flowrep.fit(field, source, target, steps_per_call=3, **kw)
    f9, h9 = flowrep.fit(field, source, target, steps_per_call=9, **kw)
    for h in (h3, h9):
        np.testing.assert_allclose(h["loss"], h1["loss"], rtol=1e-12)
    for f in (f3, f9):
        np.testing.assert_allclose(f.c, f1.c, rtol=1e-12, atol=1e-14)


def test_fit_last_chunk_is_padded_one_trace(getkey):
    # 7 steps at 3 per call: chunks of 3, 3 and a padded 1; one compilation.
    field, source, target = _problem(getkey)
    before = _fit._step_traces
    flowrep.fit(
        field,
        source,
        target,
        key=getkey(),
        loss="mse",
        steps=7,
        steps_per_call=3,
        flow_kwargs=dict(solver="euler", num_steps=3),
        progress=False,
    )
    assert _fit._step_traces == before + 1


def test_fit_nan_loss_raises_with_step(getkey):
    field, source, target = _problem(getkey)

    def loss(x, y):
        return jnp.nan * jnp.mean((x - y) ** 2)

    with pytest.raises(FloatingPointError, match="at step 0"):
        flowrep.fit(
            field,
            source,
            target,
            key=getkey(),
            loss=loss,
            steps=5,
            flow_kwargs=FLOW,
            progress=False,
        )


def test_fit_bad_steps_per_call(getkey):
    field, source, target = _problem(getkey)
    with pytest.raises(ValueError, match="steps_per_call must be >= 1"):
        flowrep.fit(field, source, target, key=getkey(), steps_per_call=0)
