"""Classifiers of the gai-zhang job (plain nets, ResNets + a linear head) and their training loop."""

from collections.abc import Callable
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .._depth._resnet import ResNet
from .._transport._tracks import Tracks


class _PlainNet(eqx.Module):
    """A plain net of $L$ square layers $x\\mapsto\\tanh(W_lx+b_l)$ on $\\mathbb R^d$."""

    weights: jax.Array
    biases: jax.Array

    def __init__(self, key: jax.Array, dim: int, depth: int):
        # orthogonal initialisation: a deep tanh net of narrow layers trains
        normal = jr.normal(key, (depth, dim, dim))
        q, r = jnp.linalg.qr(normal)
        self.weights = q * jnp.sign(jnp.diagonal(r, axis1=1, axis2=2))[:, None, :]
        self.biases = jnp.zeros((depth, dim))

    def layer(self, index: int) -> Callable[[jax.Array], jax.Array]:
        return lambda x: jnp.tanh(self.weights[index] @ x + self.biases[index])

    def __call__(self, x: jax.Array) -> jax.Array:
        def body(x, wb):
            return jnp.tanh(wb[0] @ x + wb[1]), None

        return jax.lax.scan(body, x, (self.weights, self.biases))[0]


# the changing-width MLP of examples/digits_networks.py (and issue 15): 64 -> 128 -> 64 -> 32
MLP_WIDTHS = (128, 64, 32)


class _MLP(eqx.Module):
    """An MLP of ReLU layers whose width changes, $x\\mapsto\\mathrm{relu}(W_lx+b_l)$."""

    linears: tuple[eqx.nn.Linear, ...]

    def __init__(self, key: jax.Array, dim: int, widths: tuple[int, ...]):
        keys = jr.split(key, len(widths))
        sizes = (dim, *widths)
        self.linears = tuple(
            eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys)
        )

    def layer(self, index: int) -> Callable[[jax.Array], jax.Array]:
        return lambda x: jax.nn.relu(self.linears[index](x))

    def __call__(self, x: jax.Array) -> jax.Array:
        for lin in self.linears:
            x = jax.nn.relu(lin(x))
        return x


class _Classifier(eqx.Module):
    """Features through `body`, then a linear head."""

    body: _PlainNet | ResNet | _MLP
    head: eqx.nn.Linear

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(self.body(x))


def make_model(arch: str, key: jax.Array, dim: int, depth: int, classes: int):
    """`arch`: "plain" (tanh, width `dim`, `depth` layers), "resnet" (tanh
    blocks of `dim` units, `depth` blocks) or "mlp" (ReLU, widths `dim` ->
    `MLP_WIDTHS`; `depth` unused)."""
    k_body, k_head = jr.split(key)
    if arch == "plain":
        body, out = _PlainNet(k_body, dim, depth), dim
    elif arch == "mlp":
        body, out = _MLP(k_body, dim, MLP_WIDTHS), MLP_WIDTHS[-1]
    else:
        body, out = ResNet.random(k_body, dim, dim, depth, "tanh"), dim
    return _Classifier(body, eqx.nn.Linear(out, classes, key=k_head))


def train_models(
    arch: str,
    task: dict[str, Any],
    keys: jax.Array,
    decays: jax.Array,
    l2: jax.Array | None = None,
    *,
    depth: int,
    steps: int,
    lr: float,
) -> Any:
    """Train a batch of classifiers (one per (key, weight decay, L2)) in one jitted, vmapped scan.

    Full-batch `optax.adamw` on the loss
    $\\mathrm{CE}+\\frac{\\lambda}{2}\\|\\theta\\|^2$ ($\\theta$: every weight
    and bias, head included; `l2` holds $\\lambda$, default 0). The coupled
    penalty goes through Adam's preconditioner (Gai & Zhang's "L2
    regularization"); the decoupled `decays` (AdamW, Loshchilov & Hutter) is
    added to the Adam direction. Weight decay 0 is exactly `optax.adam`.
    Both are traced, so every setting shares one compilation.
    """
    import optax

    dim, classes = task["x_train"].shape[1], task["classes"]
    x = jnp.asarray(task["x_train"])
    y = jnp.asarray(task["y_train"])
    opt = optax.inject_hyperparams(optax.adamw)(learning_rate=lr, weight_decay=0.0)

    if l2 is None:
        l2 = jnp.zeros_like(decays)

    def loss_fn(model, lam):
        logits = jax.vmap(model)(x)
        ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
        leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
        return ce + 0.5 * lam * sum(jnp.sum(p**2) for p in leaves)

    # initialise outside the compiled function (the QR and RNG there would
    # only slow XLA down); the same key gives the same init with and without decay
    models = eqx.filter_vmap(lambda k: make_model(arch, k, dim, depth, classes))(keys)
    params, static = eqx.partition(models, eqx.is_inexact_array)

    def train_one(params, decay, lam):
        state = cast(Any, opt.init(params))
        state.hyperparams["weight_decay"] = jnp.asarray(decay, x.dtype)

        def step(carry, _):
            params, state = carry
            loss, grads = jax.value_and_grad(
                lambda p: loss_fn(eqx.combine(p, static), lam)
            )(params)
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss

        (params, _), losses = jax.lax.scan(step, (params, state), None, length=steps)
        return params, losses

    params, losses = jax.jit(jax.vmap(train_one))(
        params, decays, jnp.asarray(l2, x.dtype)
    )
    return params, static, losses


@eqx.filter_jit
def predict(model: _Classifier, x: jax.Array) -> jax.Array:
    return jnp.argmax(jax.vmap(model)(x), axis=1)


@eqx.filter_jit
def _resnet_tracks(body: ResNet, x: jax.Array) -> jax.Array:
    return jnp.swapaxes(jax.vmap(body.tracks)(x), 0, 1)


def unbatch(params: Any, static: Any, i: int) -> Any:
    return eqx.combine(jax.tree_util.tree_map(lambda z: z[i], params), static)


def model_tracks(model: _Classifier, x: jax.Array) -> Tracks:
    body = model.body
    if isinstance(body, ResNet):
        return Tracks(_resnet_tracks(body, x))
    from .._transport._tracks import record_tracks

    num = len(body.linears) if isinstance(body, _MLP) else body.weights.shape[0]
    return record_tracks([body.layer(i) for i in range(num)], x)
