"""Per-backend defaults for tile sizes, column caps and Sinkhorn check intervals.

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

The online Sinkhorn (`sinkhorn`, `sinkhorn_divergence`, `wasserstein2`,
`score_tracks`) has its own table, `SINKHORN_DEFAULTS`, looked up the same
way. `sinkhorn_chunk_size` is the `chunk_size` argument (rows per chunk),
`sinkhorn_tile_pairs` the `tile_pairs` argument (pairs per streamed
log-sum-exp tile, so a tile has `chunk_size` rows and
`tile_pairs // chunk_size` columns) and `sinkhorn_inner_iterations` the
`inner_iterations` argument (iterations between stopping checks). On a CPU
the check is free (the marginal falls out of the last kernel pass), so it
runs every iteration; on XLA:GPU/TPU a data-dependent `while` condition is a
device-to-host copy, so it runs every 10 iterations (as ott-jax does). At
$n = m = 10^5$ the CPU values give 782 x 25 = 19550 tiles per half
iteration; the GPU values give 13 x 25 = 325 tiles of $2^{25}$ pairs
(128 MiB in float32).

| name                        | cpu      | gpu      | tpu      |
|-----------------------------|----------|----------|----------|
| `sinkhorn_chunk_size`       | 128      | 8192     | 8192     |
| `sinkhorn_tile_pairs`       | $2^{19}$ | $2^{25}$ | $2^{25}$ |
| `sinkhorn_inner_iterations` | 1        | 10       | 10       |
"""

import jax


DEVICE_DEFAULTS: dict[str, dict[str, int]] = {
    "cpu": dict(chunk_size=2**22, max_tile_cols=4096, mean_shift_chunk=2**20),
    "gpu": dict(chunk_size=2**26, max_tile_cols=2**20, mean_shift_chunk=2**24),
    "tpu": dict(chunk_size=2**26, max_tile_cols=2**20, mean_shift_chunk=2**24),
}

SINKHORN_DEFAULTS: dict[str, dict[str, int]] = {
    "cpu": dict(
        sinkhorn_chunk_size=128, sinkhorn_tile_pairs=2**19, sinkhorn_inner_iterations=1
    ),
    "gpu": dict(
        sinkhorn_chunk_size=8192,
        sinkhorn_tile_pairs=2**25,
        sinkhorn_inner_iterations=10,
    ),
    "tpu": dict(
        sinkhorn_chunk_size=8192,
        sinkhorn_tile_pairs=2**25,
        sinkhorn_inner_iterations=10,
    ),
}


def device_default(name: str, given: int | None = None) -> int:
    """`given`, or the default `name` for `jax.default_backend()` (see the tables above).

    Backends not in a table (e.g. a plugin) get the GPU values.

    **Raises:** `KeyError` for an unknown `name`.
    """
    if given is not None:
        return given
    backend = jax.default_backend()
    table = SINKHORN_DEFAULTS if name.startswith("sinkhorn_") else DEVICE_DEFAULTS
    return table.get(backend, table["gpu"])[name]
