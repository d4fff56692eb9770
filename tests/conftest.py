import jax
import jax.random as jr
import pytest


jax.config.update("jax_enable_x64", True)


@pytest.fixture
def getkey():
    """A fresh PRNG key on each call, deterministic per test."""
    state = {"key": jr.PRNGKey(5678)}

    def _getkey():
        state["key"], sub = jr.split(state["key"])
        return sub

    return _getkey
