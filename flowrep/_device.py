"""Per-backend defaults for tile sizes and column caps.

The streamed sums (ridgelet transforms, mean shift) cut their pairs into
tiles. The best tile depends on the device: on a CPU a tile should stay in
cache (the values below are the ones measured in benchmarks/README.md);
on a GPU or TPU a small tile is launch-bound, so tiles are large and the
column cap that keeps a block of units in a CPU cache is lifted.

Every such size is a keyword argument of the function that uses it; passing
`None` (the default) takes the value below for `jax.default_backend()`,
looked up when the function is called. The GPU/TPU values are chosen by
memory (a tile of `chunk_size` float32 pairs is `4 * chunk_size` bytes, held
once more in the backward pass), not yet by measurement on a device.

| name              | cpu          | gpu            | tpu            |
|-------------------|--------------|----------------|----------------|
| `chunk_size`      | $2^{22}$     | $2^{26}$       | $2^{26}$       |
| `max_tile_cols`   | 4096         | $2^{20}$       | $2^{20}$       |
| `mean_shift_chunk`| $2^{20}$     | $2^{24}$       | $2^{24}$       |
"""

import jax


DEVICE_DEFAULTS: dict[str, dict[str, int]] = {
    "cpu": dict(chunk_size=2**22, max_tile_cols=4096, mean_shift_chunk=2**20),
    "gpu": dict(chunk_size=2**26, max_tile_cols=2**20, mean_shift_chunk=2**24),
    "tpu": dict(chunk_size=2**26, max_tile_cols=2**20, mean_shift_chunk=2**24),
}


def device_default(name: str, given: int | None = None) -> int:
    """`given`, or the default `name` for `jax.default_backend()` (see the table above).

    Backends not in the table (e.g. a plugin) get the GPU values.

    **Raises:** `KeyError` for an unknown `name`.
    """
    if given is not None:
        return given
    backend = jax.default_backend()
    return DEVICE_DEFAULTS.get(backend, DEVICE_DEFAULTS["gpu"])[name]
