import os

import jax
import jax.random as jr
import pytest


# Numerical tests run in float64 by default. `FLOWREP_TEST_X64=0` turns x64
# off, which is what GPU users run; CI then runs the tests marked `float32`
# (`-m float32`): the files below, whose tolerances hold in either precision
# (each test states its float32 tolerance where it differs).
X64 = os.environ.get("FLOWREP_TEST_X64", "1").strip().lower() not in (
    "0",
    "false",
    "no",
    "off",
)
jax.config.update("jax_enable_x64", X64)

FLOAT32_FILES = (
    "test_float32.py",
    "test_precision.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in FLOAT32_FILES:
            item.add_marker(pytest.mark.float32)


@pytest.fixture
def x64() -> bool:
    """Whether this run has `jax_enable_x64` on (see `FLOWREP_TEST_X64`)."""
    return X64


@pytest.fixture
def getkey():
    """A fresh PRNG key on each call, deterministic per test."""
    state = {"key": jr.PRNGKey(5678)}

    def _getkey():
        state["key"], sub = jr.split(state["key"])
        return sub

    return _getkey
