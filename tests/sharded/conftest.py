"""Shared by the sharded tests: they need 4 devices (tests/test_sharding.py
starts them in a subprocess with 4 fake CPU devices) and share one mesh."""

import jax
import pytest


D = 4


def pytest_collection_modifyitems(config, items):
    if jax.device_count() < D:
        skip = pytest.mark.skip(
            reason=f"needs {D} devices (run via tests/test_sharding.py)"
        )
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def mesh():
    return jax.make_mesh((D,), ("data",))
