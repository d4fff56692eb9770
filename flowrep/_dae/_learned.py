"""Learned DAEs: an MLP denoiser trained with optax, alone or stacked.

See docs/theory/dae.md#optimal-dae: the minimiser of $E\\|g(x+\\sqrt t\\varepsilon)-x\\|^2$
over all functions is the analytic DAE
$E[x\\mid\\tilde x]=\\tilde x+t\\nabla\\log(W_t*\\mu)(\\tilde x)$, so a trained
denoiser can be checked against `shallow_dae`.
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.lax as lax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array

from .._custom_types import Key, Points
from .._sharding import give_back, place, resolve_layout
from .._validate import (
    check_bool,
    check_finite,
    check_key,
    check_positive_float,
    check_positive_int,
    check_size,
    check_value,
    is_traced,
)
from ._checks import (
    check_concrete_time,
    check_layers,
    check_noise,
    check_points,
)


class Denoiser(eqx.Module):
    """A learned DAE $g(\\tilde x)=\\tilde x+f_\\theta(\\tilde x)$ with $f_\\theta$ an `eqx.nn.MLP`.

    The residual form makes $f_\\theta$ the transport displacement $g(x)-x$
    directly. `__call__` takes one point `(d,)`.

    **Fields:** `mlp` ($\\mathbb R^d\\to\\mathbb R^d$), `noise` (the variance
    $t$ it was trained at, static).
    """

    mlp: eqx.nn.MLP
    noise: float = eqx.field(static=True)

    def __check_init__(self):
        if not isinstance(self.mlp, eqx.nn.MLP):
            raise TypeError(
                f"`mlp` must be an eqx.nn.MLP; got {type(self.mlp).__name__}."
            )
        if self.mlp.in_size != self.mlp.out_size or self.mlp.in_size == "scalar":
            raise ValueError(
                "`mlp` must map R^d to R^d (a displacement); got in_size="
                f"{self.mlp.in_size}, out_size={self.mlp.out_size}."
            )
        if isinstance(self.noise, (bool, str, bytes)) or not isinstance(
            self.noise, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"`noise` must be a real number; got {self.noise!r}.")
        if not (math.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"`noise` must be a positive variance; got {self.noise}.")

    def _point(self, x: Array) -> Array:
        x = jnp.asarray(x)
        m = self.mlp.in_size
        if x.shape != (m,):
            raise ValueError(
                f"Denoiser takes one point `x` of shape ({m},); got shape {x.shape}. "
                "Use `jax.vmap` for batches."
            )
        return check_finite(x, "x")

    def __call__(self, x: Array) -> Array:
        """$g(x)$ at one point `x` `(d,)`.

        **Raises:** `ValueError` for the wrong shape or NaN/inf in `x`
        (eagerly, or at run time when traced).
        """
        x = self._point(x)
        return x + self.mlp(x)

    def displacement(self, x: Array) -> Array:
        """$g(x)-x$ at one point."""
        return self.mlp(self._point(x))


def train_denoiser(
    x: Points,
    t: float,
    *,
    key: Key,
    width: int = 64,
    depth: int = 2,
    num_steps: int = 500,
    batch_size: int = 256,
    learning_rate: float = 3e-3,
    progress: bool = True,
    steps_per_call: int = 50,
    mesh: jax.sharding.Mesh | None = None,
) -> Denoiser:
    """Train a DAE on samples: minimise $E\\|g(x+\\sqrt t\\varepsilon)-x\\|^2$ with Adam (optax).

    Its minimiser over all functions is $E[x\\mid\\tilde x]=\\tilde x+t\\nabla\\log(W_t*\\mu)(\\tilde x)$,
    the analytic DAE (docs/theory/dae.md#optimal-dae). Batches and noise are drawn
    from `key`, so a key fixes the result. Steps run `steps_per_call` at a
    time in one jitted `lax.scan`; a tqdm bar reports the loss.

    **Arguments:**

    - `x`: `(n, d)` clean samples. `t`: noise variance (> 0).
    - `key`: PRNG key (initialisation, batches, noise).
    - `width`, `depth`: MLP hidden width and number of hidden layers (GELU).
    - `num_steps`, `batch_size`, `learning_rate`: Adam with cosine decay.
    - `progress`: show a tqdm progress bar.
    - `mesh`: train data-parallel on this `jax.sharding.Mesh` (default: the
        mesh of `x` when it is sharded by rows over several devices, else one
        device). Each batch is sharded by rows over the data axis, the
        parameters and Adam state are replicated and the gradient is
        all-reduced (GSPMD under `jit`); the trained parameters are those of
        one device up to float rounding, returned replicated on the mesh
        (docs/scaling.md).

    **Returns:** the trained `Denoiser`.

    **Raises:** `ValueError` naming the argument for bad shapes, NaN/inf or
    overflowing samples, $t\\le0$ or non-finite, sizes that are not integers
    >= 1, a non-positive `learning_rate`; `TypeError` for a traced `t` (not
    jittable: it trains in a Python loop), a non-bool `progress` or a bad
    `key`, or a `mesh` that is not a `Mesh`. float16/bfloat16 samples are trained in float32.
    """
    if is_traced(x):
        raise TypeError(
            "train_denoiser is not jittable: it runs its own compiled training "
            "loop; call it outside `jax.jit` with a concrete `x`."
        )
    layout = resolve_layout(mesh, x)
    x = check_points(x)
    if jnp.finfo(x.dtype).bits < 32:  # Adam on half-precision weights stalls
        x = x.astype(jnp.float32)
    n, m = x.shape
    x = check_value(
        x,
        lambda x: ~jnp.isfinite(jnp.sum(jnp.square(x), axis=-1)),
        "`x` is too large: its squared norms overflow the working precision "
        "(the training loss squares them); rescale the samples.",
    )
    check_noise(t, "train_denoiser")
    t = check_concrete_time(t, "train_denoiser")
    for name, v in (
        ("width", width),
        ("depth", depth),
        ("num_steps", num_steps),
        ("batch_size", batch_size),
        ("steps_per_call", steps_per_call),
    ):
        check_positive_int(v, name)
    # parameters, gradients and Adam's two moments, and one batch's activations
    item = jnp.dtype(x.dtype).itemsize
    num_params = (m + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * m
    check_size(width, "width", item, 4 * num_params + 4 * batch_size * width * depth)
    learning_rate = check_positive_float(learning_rate, "learning_rate")
    progress = check_bool(progress, "progress")
    check_key(key)
    kinit, ktrain = jr.split(key)
    mlp = eqx.nn.MLP(
        m, m, width, depth, activation=jax.nn.gelu, key=kinit, dtype=x.dtype
    )
    # start at the identity map: zero displacement
    mlp = eqx.tree_at(lambda f: f.layers[-1].weight, mlp, mlp.layers[-1].weight * 0.01)
    model = Denoiser(mlp, float(t))
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05)
    optim = optax.adam(schedule)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    if layout is not None:  # samples by rows, parameters replicated
        x = place(x, layout)
        params = jax.device_put(params, layout.replicated())
    opt_state = optim.init(params)
    sqrt_t = math.sqrt(float(t))

    def loss_fn(p, xb, noise):
        mdl = eqx.combine(p, static)
        out = jax.vmap(mdl)(xb + sqrt_t * noise)
        return jnp.mean(jnp.sum((out - xb) ** 2, axis=-1))

    def sharded(a, spec):
        if layout is None:
            return a
        return lax.with_sharding_constraint(
            a, layout.rows(a.ndim) if spec == "rows" else layout.replicated()
        )

    @eqx.filter_jit
    def run(p, s, keys, x):
        x = sharded(x, "rows")

        def body(carry, k):
            p, s = carry
            ki, kn = jr.split(k)
            xb = sharded(x[jr.randint(ki, (batch_size,), 0, n)], "rows")
            noise = sharded(jr.normal(kn, xb.shape, xb.dtype), "rows")
            loss, g = jax.value_and_grad(loss_fn)(p, xb, noise)
            g = sharded(g, "replicated")  # the all-reduce
            upd, s = optim.update(g, s, p)
            p = optax.apply_updates(p, upd)
            return sharded((p, s), "replicated"), loss

        (p, s), losses = lax.scan(body, (p, s), keys)
        return p, s, losses

    keys = jr.split(ktrain, num_steps)
    if layout is not None:
        opt_state, keys = jax.device_put((opt_state, keys), layout.replicated())
    from tqdm.auto import tqdm

    bar = tqdm(
        total=num_steps, desc=f"DAE t={float(t):.3g}", disable=not progress, leave=False
    )
    done = 0
    while done < num_steps:
        size = min(steps_per_call, num_steps - done)
        params, opt_state, losses = run(params, opt_state, keys[done : done + size], x)
        done += size
        bar.update(size)
        bar.set_postfix(loss=float(losses[-1]))
    bar.close()
    if layout is not None:
        params = give_back(params, layout)
    return eqx.combine(params, static)


def train_stacked_denoisers(
    x: Points,
    t: float,
    num_layers: int,
    *,
    key: Key,
    progress: bool = True,
    **train_kwargs,
) -> tuple[list[Denoiser], Array]:
    """Stack L learned DAEs of noise $t/L$, each retrained on the current pushforward.

    Layer $l$ is trained by `train_denoiser` on $x^{(l)}$ and
    $x^{(l+1)}=g_l(x^{(l)})$ (Sonoda-Murata's stacked DAE; its analytic
    counterpart is `stacked_dae`).

    **Returns:** `(denoisers, tracks [L+1, n, m])`.

    **Raises:** `ValueError` for a `num_layers` that is not an integer >= 1,
    $t<0$ and as `train_denoiser`.
    """
    x = check_points(x)
    tau = check_concrete_time(t, "train_stacked_denoisers") / check_layers(num_layers)
    num_layers = int(num_layers)
    models, tracks = [], [x]
    for k in jr.split(key, num_layers):
        model = train_denoiser(
            tracks[-1], tau, key=k, progress=progress, **train_kwargs
        )
        models.append(model)
        tracks.append(jax.vmap(model)(tracks[-1]))
    return models, jnp.stack(tracks)


def relative_map_error(
    fn: Callable[[Array], Array], reference: Callable[[Array], Array], x: Points
) -> Array:
    """$\\|d-d^*\\|/\\|d^*\\|$ over `x` for displacements $d=f(x)-x$, $d^*=\\mathrm{ref}(x)-x$ (batched maps)."""
    x = check_points(x)
    for name, f in (("fn", fn), ("reference", reference)):
        if not callable(f):
            raise TypeError(
                f"`{name}` must be a batched map (n, d) -> (n, d); got {f!r}."
            )
        shape = jax.eval_shape(f, x).shape
        if shape != x.shape:
            raise ValueError(
                f"`{name}` must map the points `x` {x.shape} to {x.shape}; got {shape}."
            )
    fx = check_finite(fn(x), "fn", "`fn` returned NaN or inf at the points `x`.")
    rx = check_finite(
        reference(x), "reference", "`reference` returned NaN or inf at the points `x`."
    )
    d, dref = fx - x, rx - x
    den = check_value(
        jnp.sum(dref**2),
        lambda s: ~(s > 0),
        "relative_map_error: the `reference` displacement reference(x) - x is 0 "
        "at every point of `x` (the identity map), so the relative error is "
        "undefined; compare absolute errors instead.",
    )
    return jnp.sqrt(jnp.sum((d - dref) ** 2) / den)
