"""The ott-jax shim: no side effect at import, rebinding only inside its block."""

import pathlib
import subprocess
import sys
import types

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import ott.utils
import pytest

import flowrep
from flowrep._ott_compat import ott_online_mode


ROOT = pathlib.Path(__file__).resolve().parents[1]
NEEDS_SHIM = not hasattr(ott.utils.batching, "is_vmappable")  # pyright: ignore[reportPrivateImportUsage]


def test_import_flowrep_leaves_ott_alone():
    code = (
        "import ott.utils as u; b = u.batching; import flowrep; "
        "assert u.batching is b; "
        f"assert flowrep.__file__.startswith({str(ROOT)!r})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def _batched_sum(x):
    # ott's own online primitive: it reads `batching.is_vmappable` at trace time
    return ott.utils.batched_vmap(lambda r: jnp.sum(r**2), batch_size=3)(x)


def test_block_rebinds_and_restores():
    original = ott.utils.batching  # pyright: ignore[reportPrivateImportUsage]
    with ott_online_mode():
        inside = ott.utils.batching  # pyright: ignore[reportPrivateImportUsage]
        assert hasattr(inside, "is_vmappable")
        with ott_online_mode():  # nested: the inner block restores nothing
            pass
        assert ott.utils.batching is inside  # pyright: ignore[reportPrivateImportUsage]
    assert ott.utils.batching is original  # pyright: ignore[reportPrivateImportUsage]
    assert (inside is not original) == NEEDS_SHIM


def test_block_restores_after_an_error():
    original = ott.utils.batching  # pyright: ignore[reportPrivateImportUsage]
    with pytest.raises(RuntimeError, match="boom"):
        with ott_online_mode():
            raise RuntimeError("boom")
    assert ott.utils.batching is original  # pyright: ignore[reportPrivateImportUsage]


def test_shim_does_nothing_when_ott_has_the_fix(monkeypatch):
    fixed = types.ModuleType("batching")
    fixed.is_vmappable = lambda x: False  # pyright: ignore[reportAttributeAccessIssue]
    monkeypatch.setattr(ott.utils, "batching", fixed)
    with ott_online_mode():
        assert ott.utils.batching is fixed  # pyright: ignore[reportPrivateImportUsage]
    assert ott.utils.batching is fixed  # pyright: ignore[reportPrivateImportUsage]


def test_traced_in_block_runs_outside_it():
    @jax.jit
    def f(x):
        with ott_online_mode():
            return _batched_sum(x)

    x = jnp.arange(14.0).reshape(7, 2)
    want = np.sum(np.asarray(x) ** 2, 1)
    np.testing.assert_allclose(f(x), want)
    # a cache hit runs no Python, a retrace re-enters the block
    np.testing.assert_allclose(f(x + 1), want + 2 * np.asarray(x).sum(1) + 2)
    np.testing.assert_allclose(f(x[:5]), want[:5])
    if NEEDS_SHIM:  # and without the block ott's online mode cannot be traced
        with pytest.raises(AttributeError, match="is_vmappable"):
            jax.jit(_batched_sum)(x)


def test_online_ott_backend_restores_ott(getkey):
    original = ott.utils.batching  # pyright: ignore[reportPrivateImportUsage]
    x = jr.normal(getkey(), (24, 2))
    y = jr.normal(getkey(), (20, 2)) + 0.5

    def div(x, y):
        return flowrep.sinkhorn_divergence(
            x, y, epsilon=0.5, backend="ott", mode="online", chunk_size=8
        ).divergence

    ref = flowrep.sinkhorn_divergence(x, y, epsilon=0.5, backend="ott").divergence
    out = div(x, y)
    assert ott.utils.batching is original  # pyright: ignore[reportPrivateImportUsage]
    assert np.isclose(float(out), float(ref), rtol=1e-6)
    # jitted by the caller: compiled once, then called outside any block
    jdiv = jax.jit(div)
    assert np.isclose(float(jdiv(x, y)), float(ref), rtol=1e-6)
    assert np.isclose(float(jdiv(x, y)), float(ref), rtol=1e-6)
    assert ott.utils.batching is original  # pyright: ignore[reportPrivateImportUsage]


@pytest.mark.slow
def test_online_ott_backend_gradient_outside_the_block(getkey):
    # jax.grad traces ott's implicit backward rule after the forward block
    # has closed; the gradient must still work and match the dense mode.
    x = jr.normal(getkey(), (16, 2))
    y = jr.normal(getkey(), (12, 2)) + 0.5

    def div(x, online):
        mode = "online" if online else "dense"
        return flowrep.sinkhorn_divergence(
            x, y, epsilon=0.5, backend="ott", mode=mode, chunk_size=4
        ).divergence

    ref = jax.grad(div)(x, False)
    original = ott.utils.batching  # pyright: ignore[reportPrivateImportUsage]
    np.testing.assert_allclose(jax.grad(div)(x, True), ref, atol=1e-6)
    np.testing.assert_allclose(
        jax.jit(jax.grad(div), static_argnums=1)(x, True), ref, atol=1e-6
    )
    assert ott.utils.batching is original  # pyright: ignore[reportPrivateImportUsage]
