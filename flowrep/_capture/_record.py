"""record_tracks for real models: the features of n samples after chosen stages.

Sonoda & Murata (2017) regard a feature map that changes dimension as a
transport map "by considering that both the input and output spaces are
embedded in a common high-dimensional space"; this module records those
features, layer by layer, from the input to the model's output, streaming the
samples in chunks (docs/theory/scores.md#tracks).
"""

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import ArrayLike

from .._sharding import Layout, resolve_layout
from .._transport._tracks import record_tracks as record_layer_tracks, Tracks
from .._validate import check_bool, check_positive_int, is_traced


@dataclasses.dataclass(frozen=True)
class CapturedFeatures:
    """Features of n samples recorded at L+1 stages of a model.

    - `layers`: a tuple of L+1 NumPy arrays `(n, d_l)`; `layers[0]` is the
      (flattened) input, `layers[-1]` the model's output. Conv feature maps
      are flattened per sample.
    - `names`: the L+1 stage names (`"input"` first, `"output"` last unless
      the last chosen stage is the model's output).
    """

    layers: tuple[np.ndarray, ...]
    names: tuple[str, ...]

    def __post_init__(self):
        if len(self.layers) < 1 or len(self.names) != len(self.layers):
            raise ValueError(
                f"`names` must name every layer: {len(self.layers)} `layers`, "
                f"{len(self.names)} `names`."
            )
        ns = {np.shape(a)[0] if np.ndim(a) else None for a in self.layers}
        if len(ns) != 1 or None in ns or any(np.ndim(a) != 2 for a in self.layers):
            raise ValueError(
                "`layers` must be (n, d_l) arrays with the same n samples; got shapes "
                f"{[np.shape(a) for a in self.layers]}."
            )
        for name, a in zip(self.names, self.layers):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"`layers` hold NaN or inf (at stage {name!r}).")

    @property
    def widths(self) -> tuple[int, ...]:
        """The width $d_l$ of every recorded layer."""
        return tuple(int(a.shape[1]) for a in self.layers)

    def to_tracks(self, times: ArrayLike | None = None) -> Tracks:
        """These features as [`Tracks`][]; layers of different widths are
        zero-padded into the common embedding $\\mathbb R^{\\max_l d_l}$
        (`Tracks.widths` keeps each layer's own width)."""
        return Tracks(list(self.layers), times)


# ----------------------------------------------------------------- backends
# Each backend returns (candidate stage names, a function chunk -> {name: features}).


def _select(
    available: Sequence[str], stages: Sequence[str | int] | None, kind: str
) -> list[str]:
    if stages is None:
        return list(available)
    if isinstance(stages, str | int):
        raise TypeError(
            f"`stages` must be a list of stage names or indices; got {stages!r}."
        )
    chosen = []
    for s in stages:
        if isinstance(s, int) and not isinstance(s, bool):
            if not -len(available) <= s < len(available):
                raise ValueError(
                    f"stage index {s} out of range for a {kind} with {len(available)} stages; "
                    f"available stages: {', '.join(available)}."
                )
            chosen.append(available[s])
        elif isinstance(s, str) and s in available:
            chosen.append(s)
        else:
            raise ValueError(
                f"unknown stage {s!r} of the {kind}; available stages: {', '.join(available)}."
            )
    return chosen


def _apply_activation(act: Callable, i: int, x):
    act_i = jtu.tree_map(lambda a: a[i] if eqx.is_array(a) else a, act)
    if any(eqx.is_array(leaf) for leaf in jtu.tree_leaves(act_i)):
        return eqx.filter_vmap(lambda f, v: f(v))(act_i, x)
    return act_i(x)


_OUT = "__output__"


def _replicate(tree, layout: Layout | None):
    """A model's arrays replicated over the mesh (every device applies the
    whole model to its rows)."""
    if layout is None:
        return tree
    rep = layout.replicated()
    return jtu.tree_map(
        lambda a: jax.device_put(a, rep) if isinstance(a, jax.Array) else a, tree
    )


def _eqx_mlp(mlp: eqx.nn.MLP, activations: str):
    if mlp.scan:
        raise TypeError(
            "record_tracks cannot unroll an eqx.nn.MLP built with scan=True; build it "
            "with scan=False or pass a list of stage callables."
        )
    if activations not in ("after", "before", "both"):
        raise ValueError(
            f"`activations` must be 'after', 'before' or 'both'; got {activations!r}."
        )
    names = []
    hidden = len(mlp.layers) - 1
    for i in range(hidden):
        if activations in ("before", "both"):
            names.append(f"linear{i}")
        if activations in ("after", "both"):
            names.append(f"activation{i}")

    def features(model, x):
        out = {}
        for i, layer in enumerate(model.layers[:-1]):
            x = layer(x)
            out[f"linear{i}"] = x
            x = _apply_activation(model.activation, i, x)
            out[f"activation{i}"] = x
        out[_OUT] = model.final_activation(model.layers[-1](x))
        return out

    return names, features


def _eqx_sequential(seq: eqx.nn.Sequential):
    names = [str(i) for i in range(len(seq.layers))]

    def features(model, x):
        out = {}
        for i, layer in enumerate(model.layers):
            x = layer(x)
            out[str(i)] = x
        out[_OUT] = x
        return out

    return names, features


def _eqx_runner(model, features: Callable, selected: list[str]):
    @eqx.filter_jit
    def run(m, xb):
        def one(v):
            f = features(m, v)
            return [f[name] for name in selected] + [f[_OUT]]

        return eqx.filter_vmap(one)(xb)

    return lambda xb: run(model, jnp.asarray(xb))


def _is_nnx(model) -> bool:
    nnx = sys.modules.get("flax.nnx")
    return nnx is not None and isinstance(model, nnx.Module)


def _is_linen(model) -> bool:
    linen = sys.modules.get("flax.linen")
    if linen is None:
        return False
    if isinstance(model, tuple) and len(model) == 2:
        return isinstance(model[0], linen.Module)
    return isinstance(model, linen.Module)


def _is_torch(model) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _flatten_paths(tree, prefix=()) -> list[tuple[str, Any]]:
    out = []
    for k, v in tree.items():
        path = prefix + (str(k),)
        if isinstance(v, tuple):
            out.append(("/".join(path), v[-1]))
        elif hasattr(v, "items"):
            out.extend(_flatten_paths(v, path))
    return out


def _linen_runner(model, x0, stages, layout):
    module, variables = model if isinstance(model, tuple) else model.unbind()
    variables = _replicate(variables, layout)

    def apply(xb):
        y, state = module.apply(
            variables, xb, capture_intermediates=True, mutable=["intermediates"]
        )
        inter = {
            k.removesuffix("/__call__"): v
            for k, v in _flatten_paths(state.get("intermediates", {}))
        }
        inter.pop("__call__", None)  # the model's own output: recorded as "output"
        return y, inter

    _, inter0 = jax.eval_shape(apply, x0)
    available = list(inter0)
    selected = _select(available, stages, f"Flax Linen {type(module).__name__}")

    @jax.jit
    def run(xb):
        y, inter = apply(xb)
        return [inter[s] for s in selected] + [y]

    return selected, run


def _nnx_runner(model, x0, stages, layout):
    from flax import nnx

    graphdef, state = nnx.split(model)
    state = _replicate(state, layout)
    if isinstance(model, nnx.Sequential):
        available = [str(i) for i in range(len(model.layers))]
        selected = _select(available, stages, "nnx.Sequential")
        idx = [int(s) for s in selected]

        @jax.jit
        def run_seq(state, xb):
            m = nnx.merge(graphdef, state)
            out = {}
            for i, layer in enumerate(m.layers):
                xb = layer(xb)
                out[i] = xb
            return [out[i] for i in idx] + [xb]

        return selected, lambda xb: run_seq(state, xb)

    def apply(state, xb):
        m = nnx.merge(graphdef, state)
        y = m(xb)
        inter = nnx.pop(m, nnx.Intermediate)
        flat = {
            "/".join(str(p) for p in path): v for path, v in nnx.to_flat_state(inter)
        }
        flat = {k: (v.value if hasattr(v, "value") else v) for k, v in flat.items()}
        flat = {k: (v[-1] if isinstance(v, tuple) else v) for k, v in flat.items()}
        return y, flat

    _, inter0 = jax.eval_shape(apply, state, x0)
    available = list(inter0)
    if not available:
        raise ValueError(
            f"the Flax NNX module {type(model).__name__} sowed no intermediates; "
            "call `self.sow(nnx.Intermediate, name, value)` in its __call__, or use nnx.Sequential."
        )
    selected = _select(available, stages, f"Flax NNX {type(model).__name__}")

    @jax.jit
    def run(state, xb):
        y, inter = apply(state, xb)
        return [inter[s] for s in selected] + [y]

    return selected, lambda xb: run(state, xb)


def _torch_runner(model, stages):
    import torch

    modules = dict(model.named_modules())
    modules.pop("", None)
    available = list(dict(model.named_children())) if stages is None else list(modules)
    if stages is not None and isinstance(stages, str | int):
        raise TypeError(f"`stages` must be a list of submodule names; got {stages!r}.")
    if stages is not None and any(not isinstance(s, str) for s in stages):
        raise TypeError("for a PyTorch model, `stages` are submodule names (str).")
    selected = (
        _select(list(modules), stages, f"PyTorch {type(model).__name__}")
        if stages is not None
        else available
    )
    try:
        dtype = next(model.parameters()).dtype
    except StopIteration:
        dtype = torch.float32

    def run(xb):
        captured: dict[str, Any] = {}
        handles = []
        for name in selected:

            def hook(_mod, _inp, out, name=name):
                captured[name] = out.detach().cpu().numpy().copy()

            handles.append(modules[name].register_forward_hook(hook))
        try:
            with torch.no_grad():
                y = model(torch.as_tensor(np.asarray(xb), dtype=dtype))
        finally:
            for h in handles:
                h.remove()
        missing = [s for s in selected if s not in captured]
        if missing:
            raise ValueError(
                f"the PyTorch stages {missing} were never called in the forward pass."
            )
        return [captured[s] for s in selected] + [y.detach().cpu().numpy()]

    return selected, run


def _runner(model, x0, stages, activations, layout: Layout | None = None):
    """(stage names, chunk runner returning features of the stages + output)."""
    if _is_torch(model):
        if layout is not None:
            raise ValueError(
                "`mesh` applies to JAX models (Equinox, Flax); a PyTorch model runs "
                "on its own device: call capture_features without `mesh`."
            )
        return _torch_runner(model, stages)
    if _is_linen(model):
        return _linen_runner(model, x0, stages, layout)
    if _is_nnx(model):
        return _nnx_runner(model, x0, stages, layout)
    if isinstance(model, eqx.nn.MLP):
        names, feats = _eqx_mlp(model, activations)
        kind = "eqx.nn.MLP"
    elif isinstance(model, eqx.nn.Sequential):
        names, feats = _eqx_sequential(model)
        kind = "eqx.nn.Sequential"
    elif isinstance(model, list | tuple) and model and all(callable(m) for m in model):
        model = eqx.nn.Sequential([_Stage(m) for m in model])
        names, feats = _eqx_sequential(model)
        kind = "list of stages"
    else:
        raise TypeError(
            "record_tracks expects an eqx.nn.MLP, an eqx.nn.Sequential, a list of stage "
            "callables, a Flax NNX or Linen module (Linen: (module, variables) or a bound "
            f"module) or a torch.nn.Module; got {type(model).__name__}. For another Equinox "
            "module, pass the list of its stages, e.g. [model.embed, *model.blocks, model.head]."
        )
    selected = _select(names, stages, kind)
    return selected, _eqx_runner(_replicate(model, layout), feats, selected)


class _Stage(eqx.Module):
    fn: Callable

    def __call__(self, x, *, key=None):
        return self.fn(x)


def _named_failures(run: Callable, sample_shape: tuple[int, ...]) -> Callable:
    """`run`, with a shape/type error from inside the model re-raised naming `x` and `model`."""

    def checked(xb):
        try:
            return run(xb)
        except (TypeError, ValueError) as e:
            if "`" in str(e):
                raise  # flowrep's own message (it names what is wrong)
            raise ValueError(
                f"the `model` could not be applied to the samples `x` (each of shape "
                f"{sample_shape}): {type(e).__name__}: {str(e).splitlines()[0]}"
            ) from e

    return checked


def capture_features(
    model: Any,
    x: ArrayLike,
    *,
    stages: Sequence[str | int] | None = None,
    activations: Literal["after", "before", "both"] = "after",
    chunk_size: int = 4096,
    progress: bool = False,
    mesh: jax.sharding.Mesh | None = None,
) -> CapturedFeatures:
    """Record a model's features, from its input to its output, for n samples.

    See [`record_tracks`][] for the models and arguments (`mesh` included);
    this returns the raw per-layer features (of their own widths) with the
    stage names, as host NumPy arrays.
    """
    if isinstance(x, jax.Array) and is_traced(x):
        raise TypeError(
            "capture_features/record_tracks are not jittable: they stream `x` in "
            "chunks on the host; call them outside `jax.jit` with a concrete `x`."
        )
    layout = resolve_layout(mesh, x)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    progress = check_bool(progress, "progress")
    if activations not in ("after", "before", "both"):
        raise ValueError(
            f"`activations` must be 'after', 'before' or 'both'; got {activations!r}."
        )
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"`x` must be a numeric array (n, ...); got {x!r}.")
    try:
        xs = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"`x` must be a numeric array (n, ...); got {type(x).__name__}."
        ) from e
    if not np.issubdtype(xs.dtype, np.number) and xs.dtype != np.bool_:
        raise TypeError(f"`x` must be a numeric array; got dtype {xs.dtype}.")
    if np.issubdtype(xs.dtype, np.complexfloating):
        raise TypeError(f"`x` must be real; got dtype {xs.dtype}.")
    if xs.ndim < 2:
        raise ValueError(
            f"`x` must have shape (n, ...) with n samples; got {xs.shape}."
        )
    n = xs.shape[0]
    if n < 2:
        raise ValueError(
            f"`x` needs at least 2 samples (tracks compare samples); got n={n}."
        )
    if not np.issubdtype(xs.dtype, np.floating):
        xs = xs.astype(np.result_type(float))
    if not np.all(np.isfinite(xs)):
        raise ValueError("`x` holds NaN or inf.")
    m = min(chunk_size, n)
    if layout is not None:  # whole rows per device: chunks of a multiple of D
        m = layout.padded(m)
    names, run = _runner(
        model, jnp.asarray(xs[: min(m, n)]), stages, activations, layout
    )
    run = _named_failures(run, xs.shape[1:])
    names = ["input", *names, "output"]
    out: list[np.ndarray | None] = [None] * len(names)
    starts = range(0, n, m)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="capture", unit="sample")
    try:
        _fill(out, names, xs, run, starts, m, n, layout, bar)
    finally:
        if bar is not None:  # closed on errors too: no bar redrawn after the message
            bar.close()
    layers = tuple(a for a in out if a is not None)
    return CapturedFeatures(layers=layers, names=tuple(names))


def _fill(out, names, xs, run, starts, m, n, layout, bar) -> None:
    """Run the chunks through `run`, writing each stage's features into `out`."""
    dup = False
    for start in starts:
        xb = xs[start : start + m]
        k = xb.shape[0]
        if k < m:  # pad the last chunk so a jitted runner compiles once
            xb = np.concatenate([xb, np.repeat(xb[:1], m - k, axis=0)])
        xin = xb if layout is None else jax.device_put(xb, layout.rows(xb.ndim))
        feats = [xb, *(np.asarray(f) for f in run(xin))]
        if start == 0:
            # the last stage *is* the model's output (as the last member of a
            # Sequential): record it once, as "output"
            last, y = feats[-2], feats[-1]
            dup = len(feats) > 2 and last.shape == y.shape and np.array_equal(last, y)
            if dup:
                names.pop(-2)
        if dup:
            feats.pop(-2)
        for li, f in enumerate(feats):
            f = f[:k].reshape(k, -1)
            if not np.all(np.isfinite(f)):
                bad = start + int(np.argmax(~np.all(np.isfinite(f), axis=1)))
                raise ValueError(
                    f"layer {li} ({names[li]!r}) produced NaN or inf (first at sample {bad})."
                )
            if out[li] is None:
                out[li] = np.empty((n, f.shape[1]), dtype=f.dtype)
            out[li][start : start + k] = f  # pyright: ignore
        if bar is not None:
            bar.update(k)


def record_tracks(
    model: Any,
    x: ArrayLike,
    *,
    stages: Sequence[str | int] | None = None,
    activations: Literal["after", "before", "both"] = "after",
    chunk_size: int = 4096,
    times: ArrayLike | None = None,
    progress: bool = False,
    mesh: jax.sharding.Mesh | None = None,
) -> Tracks:
    """Record the features of n samples through a model as [`Tracks`][].

    The tracks run from the input ($x^0=x$, flattened) to the model's output
    (the last layer of the tracks), through the chosen stages
    (docs/theory/scores.md#tracks). Layers of different widths are embedded
    in a common space (Sonoda & Murata 2017). The samples stream in chunks
    of `chunk_size` (one compiled call per chunk for Equinox and Flax,
    `torch.no_grad` for PyTorch), so memory is O(chunk) beyond the features
    themselves.

    ```python
    mlp = eqx.nn.MLP(64, 10, 128, depth=3, key=key)
    tracks = flowrep.record_tracks(mlp, x)                 # input, 3 hidden, output
    tracks = flowrep.record_tracks(torch_net, x, stages=["fc1", "act1"])
    ```

    **Arguments:**

    - `model`: one of
        - a list of callables, one unbatched sample each, `(d_l,) -> (d_{l+1},)`
          (the original form, handled by `flowrep._transport` in one vmap;
          with `stages`, or wrapped in `eqx.nn.Sequential`, it streams in
          chunks like a model);
        - an `eqx.nn.MLP` (`scan=False`): every hidden layer, after its
          activation, before it, or both (`activations`);
        - an `eqx.nn.Sequential`: every member (stages `0, 1, ...`);
        - a Flax NNX `nnx.Sequential` (stages `"0", "1", ...`) or any NNX
          module that sows `nnx.Intermediate` values (stages: their names);
        - a Flax Linen module as `(module, variables)` or a bound module:
          every submodule's output, from `capture_intermediates` (stages:
          paths such as `"Dense_0"`, and sown names);
        - a `torch.nn.Module` (CPU): forward hooks on named submodules
          (stages: names from `named_modules()`; default its children).
    - `x`: samples `(n, ...)` (images are fine: every feature is flattened).
    - `stages`: the stages to record, by name or index, in order; default all.
      The model's output is always the last layer.
    - `activations`: for an `eqx.nn.MLP`: `"after"`, `"before"` or `"both"`.
    - `chunk_size`: samples per compiled call.
    - `times`: optional `(L+1,)` times of the layers (default $l/L$).
    - `progress`: show a tqdm bar over the chunks.
    - `mesh`: run the model on this `jax.sharding.Mesh` (default: the mesh of
      `x` when it is a `jax.Array` sharded by rows over several devices).
      Each chunk (rounded up to a multiple of $D$, the data axis' size) is
      placed sharded by rows over the data axis and the model, replicated,
      is applied there under `jit`, so every device computes the features
      of its own rows. The features come back to the host as NumPy, as on
      one device (the contract of [`CapturedFeatures`][]): host memory holds
      them all, device memory $O(\text{chunk}/D)$ per device plus the model.
      (A sharded `x` is read to the host first: the chunks stream from
      host memory.) To score them over the mesh, pass `mesh=` to
      `score_tracks`. JAX
      models only (a PyTorch model with `mesh` raises `ValueError`); a list
      of callables streams through the chunked path.

    **Returns:** [`Tracks`][] with L+1 layers.

    **Raises:** `TypeError` for a model of an unsupported type; `ValueError`
    for an unknown stage (the message lists the available ones), a layer
    that produces NaN/inf (named), bad `x`, `chunk_size` or `activations`,
    `mesh` with a PyTorch model; `TypeError` if `mesh` is not a `Mesh`.
    """
    if (
        isinstance(model, list | tuple)
        and not _is_linen(model)
        and stages is None
        and resolve_layout(mesh, x) is None
    ):
        # today's list-of-layers form (any widths), one vmap over all samples
        tracks = record_layer_tracks(model, x)
        return tracks if times is None else Tracks(tracks.layers(), times)
    feats = capture_features(
        model,
        x,
        stages=stages,
        activations=activations,
        chunk_size=chunk_size,
        progress=progress,
        mesh=mesh,
    )
    return feats.to_tracks(times)
