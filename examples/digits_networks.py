"""Train an MLP (64-128-64-32-10) and a width-64 ResNet on scikit-learn's digits,
with and without weight decay, and analyze them with flowrep.

    flowrep analyze examples/digits_networks.py:mlp --out out/mlp
    flowrep analyze examples/digits_networks.py:resnet_wd --out out/resnet_wd --seed 1
    python examples/digits_networks.py          # the README table (seeds 0..2)

Each `mlp`, `mlp_wd`, `resnet`, `resnet_wd` function trains (in JAX: equinox +
optax, full-batch Adam, a few seconds on 2 cores) and returns
`(stages, x_test)`: the network as a list of stage callables (so the tracks
are the features after every hidden activation / residual block, ending at
the logits) and the held-out digits. `mlp_torch` returns the same trained
MLP written in PyTorch (copied weights) with the stage names to hook.
"""

import collections
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax


MLP_WIDTHS = (64, 128, 64, 32, 10)
RESNET_WIDTH = 64
RESNET_DEPTH = 8
WEIGHT_DECAY = 1e-3  # the L2 penalty wd * sum ||W||_F^2 added to the loss
STEPS = 400


@functools.cache
def digits(seed: int = 0):
    """Digits scaled to [0, 1], split 75/25 with a seeded permutation."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)  # pyright: ignore
    y = data.target.astype(np.int32)  # pyright: ignore
    perm = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.75 * len(x))
    tr, te = perm[:cut], perm[cut:]
    return x[tr], y[tr], x[te], y[te]


class Block(eqx.Module):
    """One residual block $x+\\frac1L W_2\\,\\mathrm{relu}(W_1x+b_1)$."""

    inner: eqx.nn.Linear
    outer: eqx.nn.Linear
    h: float = eqx.field(static=True)

    def __init__(self, width: int, h: float, *, key):
        k1, k2 = jax.random.split(key)
        self.inner = eqx.nn.Linear(width, width, key=k1)
        self.outer = eqx.nn.Linear(width, width, key=k2)
        self.h = h

    def __call__(self, x):
        return x + self.h * self.outer(jax.nn.relu(self.inner(x)))


def _mlp_stages(key) -> list:
    keys = jax.random.split(key, len(MLP_WIDTHS) - 1)
    lins = [
        eqx.nn.Linear(a, b, key=k)
        for a, b, k in zip(MLP_WIDTHS[:-1], MLP_WIDTHS[1:], keys)
    ]
    relu = eqx.nn.Lambda(jax.nn.relu)
    return [eqx.nn.Sequential([lin, relu]) for lin in lins[:-1]] + [lins[-1]]


def _resnet_stages(key) -> list:
    keys = jax.random.split(key, RESNET_DEPTH + 1)
    blocks = [
        Block(RESNET_WIDTH, 1.0 / RESNET_DEPTH, key=k) for k in keys[:RESNET_DEPTH]
    ]
    return [*blocks, eqx.nn.Linear(RESNET_WIDTH, 10, key=keys[-1])]


def _forward(stages, x):
    for stage in stages:
        x = stage(x)
    return x


def _l2(stages) -> jax.Array:
    weights = [
        leaf.weight
        for leaf in jax.tree_util.tree_leaves(
            stages, is_leaf=lambda m: isinstance(m, eqx.nn.Linear)
        )
        if isinstance(leaf, eqx.nn.Linear)
    ]
    return sum((jnp.sum(w**2) for w in weights), jnp.zeros(()))


def train(kind: str, weight_decay: float, seed: int = 0, steps: int = STEPS):
    """Train `kind` ("mlp" or "resnet") by full-batch Adam on cross-entropy
    plus `weight_decay` times the squared Frobenius norms of the weights.

    Returns `(stages, test_accuracy)`."""
    xtr, ytr, xte, yte = digits(seed)
    key = jax.random.key(seed)
    stages = _mlp_stages(key) if kind == "mlp" else _resnet_stages(key)
    opt = optax.adam(3e-3)
    state = opt.init(eqx.filter(stages, eqx.is_array))

    def loss(model, x, y):
        logits = jax.vmap(lambda v: _forward(model, v))(x)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return ce + weight_decay * _l2(model)

    @eqx.filter_jit
    def run(model, state):
        params, static = eqx.partition(model, eqx.is_array)

        def step(carry, _):
            p, s = carry
            g = eqx.filter_grad(loss)(eqx.combine(p, static), xtr, ytr)
            upd, s = opt.update(eqx.filter(g, eqx.is_array), s, p)
            return (eqx.apply_updates(p, upd), s), None

        (params, state), _ = jax.lax.scan(step, (params, state), None, length=steps)
        return eqx.combine(params, static)

    stages = run(stages, state)
    pred = jnp.argmax(jax.vmap(lambda v: _forward(stages, v))(xte), axis=-1)
    return stages, float(jnp.mean(pred == yte))


def mlp(seed: int = 0):
    """MLP 64-128-64-32-10 (ReLU), no weight decay: `(stages, x_test)`."""
    return train("mlp", 0.0, seed)[0], digits(seed)[2]


def mlp_wd(seed: int = 0):
    """The MLP trained with weight decay `WEIGHT_DECAY`."""
    return train("mlp", WEIGHT_DECAY, seed)[0], digits(seed)[2]


def resnet(seed: int = 0):
    """Width-64 ResNet with `RESNET_DEPTH` blocks and a linear head."""
    return train("resnet", 0.0, seed)[0], digits(seed)[2]


def resnet_wd(seed: int = 0):
    """The ResNet trained with weight decay `WEIGHT_DECAY`."""
    return train("resnet", WEIGHT_DECAY, seed)[0], digits(seed)[2]


def torch_mlp(stages):
    """The trained eqx MLP as a PyTorch `nn.Sequential` (fc1, act1, ..., fc4)
    with copied weights."""
    import torch

    layers = {}
    lins = [s.layers[0] for s in stages[:-1]] + [stages[-1]]
    for i, lin in enumerate(lins, start=1):
        fc = torch.nn.Linear(lin.in_features, lin.out_features)
        with torch.no_grad():
            fc.weight.copy_(torch.from_numpy(np.asarray(lin.weight, np.float32)))
            fc.bias.copy_(torch.from_numpy(np.asarray(lin.bias, np.float32)))
        layers[f"fc{i}"] = fc
        if i < len(lins):
            layers[f"act{i}"] = torch.nn.ReLU()
    return torch.nn.Sequential(collections.OrderedDict(layers))


def mlp_torch(seed: int = 0):
    """The MLP of `mlp(seed)` in PyTorch: `(model, x_test, stages)`."""
    stages, x = mlp(seed)
    return torch_mlp(stages), x, ["act1", "act2", "act3"]


def table(
    seeds=(0, 1, 2), max_samples: int | None = 200, gw_samples: int = 128
) -> list[dict]:
    """The README table: accuracy and transport scores for every network."""
    import flowrep

    rows = []
    for seed in seeds:
        for kind in ("mlp", "resnet"):
            for wd in (0.0, WEIGHT_DECAY):
                stages, acc = train(kind, wd, seed)
                x = digits(seed)[2][:max_samples]
                tracks = flowrep.record_tracks(stages, x)
                s = flowrep.score_tracks(tracks)
                cf = flowrep.coordinate_free_scores(tracks, max_samples=gw_samples)
                rows.append(
                    dict(
                        network=kind,
                        weight_decay=wd,
                        seed=seed,
                        test_accuracy=acc,
                        lss=float(s.lss),
                        cost_ratio=float(s.cost_ratio),
                        path_ratio=float(s.path_ratio),
                        gw_path_ratio=float(cf.gw_path_ratio),
                        dm_straightness=float(cf.dm_straightness),
                    )
                )
                print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    import json
    import sys

    rows = table()
    json.dump(
        rows, sys.stdout if len(sys.argv) < 2 else open(sys.argv[1], "w"), indent=1
    )
