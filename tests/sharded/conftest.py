"""Shared by the sharded tests: they need 4 devices (tests/test_sharding.py
starts them in a subprocess with 4 fake CPU devices) and share one mesh."""

from pathlib import Path

import jax
import pytest


D = 4


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # The hook sees every collected item of the session: skip only this
    # folder's tests.
    if jax.device_count() >= D:
        return
    skip = pytest.mark.skip(
        reason=f"needs {D} devices (run via tests/test_sharding.py)"
    )
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def mesh():
    return jax.make_mesh((D,), ("data",))
