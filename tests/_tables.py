"""The bad-input tables' shared parametrisation (tests/test_bad_inputs_*.py)."""

import re
from collections.abc import Collection

import jax
import pytest


def table_params(bad, slow_rows: Collection[str] = ()):
    """`pytest.param(call, error, match, id=...)` per row `(id, call, error, match)`
    of `bad`, marked slow where the id is in `slow_rows`."""
    return [
        pytest.param(*row[1:], id=row[0], marks=pytest.mark.slow)
        if row[0] in slow_rows
        else pytest.param(*row[1:], id=row[0])
        for row in bad
    ]


def raises_named(call, error, match):
    """`call()` raises `error` with `match` (literal text) in its message,
    also when the error comes at run time from a jitted call."""
    with pytest.raises(error, match=re.escape(match)):
        jax.block_until_ready(call())
