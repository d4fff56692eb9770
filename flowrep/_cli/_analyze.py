"""`flowrep analyze MODULE:FUNCTION`: the transport picture of a user's network.

Imports the user's function, which returns `(model, samples)` (or
`(model, samples, stages)`), records the tracks of the samples through the
model (`flowrep.record_tracks`), runs every applicable score (the common
embedding's transport scores and the coordinate-free Gromov-Wasserstein
scores, docs/theory/widths.md) and writes a report.
"""

import importlib
import importlib.util
import inspect
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._capture._record import capture_features
from .._transport._gw import coordinate_free_scores
from .._transport._scores import score_tracks
from ._report import CLIError, Report


def load_function(spec: str):
    """The callable named by `MODULE:FUNCTION` (a dotted module or a .py path)."""
    if ":" not in spec:
        raise CLIError(
            f"expected MODULE:FUNCTION (e.g. examples/digits_networks.py:mlp); got {spec!r}"
        )
    mod_name, _, fn_name = spec.rpartition(":")
    if not mod_name or not fn_name:
        raise CLIError(f"expected MODULE:FUNCTION; got {spec!r}")
    try:
        if mod_name.endswith(".py") or os.sep in mod_name:
            if not os.path.isfile(mod_name):
                raise CLIError(f"cannot import {mod_name!r}: no such file")
            name = "_flowrep_user_" + os.path.splitext(os.path.basename(mod_name))[0]
            loader = importlib.util.spec_from_file_location(name, mod_name)
            assert loader is not None and loader.loader is not None
            module = importlib.util.module_from_spec(loader)
            sys.modules[name] = module
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except CLIError:
        raise
    except Exception as e:
        raise CLIError(f"cannot import {mod_name!r}: {type(e).__name__}: {e}") from None
    fn = getattr(module, fn_name, None)
    if fn is None:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise CLIError(
            f"{mod_name!r} has no function {fn_name!r}; it defines: {', '.join(public)}"
        )
    if not callable(fn):
        raise CLIError(f"{spec!r} is a {type(fn).__name__}, not a function")
    return fn


def _samples(obj: Any, max_samples: int | None, what: str) -> np.ndarray:
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        x = np.asarray(obj)
    elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes | dict):
        chunks, total = [], 0
        for batch in obj:
            if isinstance(batch, tuple | list) and batch:  # (x, y) batches
                batch = batch[0]
            if not hasattr(batch, "shape"):
                raise CLIError(
                    f"{what}: the data loader yielded a {type(batch).__name__}, not an array"
                )
            b = np.asarray(batch)
            chunks.append(b)
            total += b.shape[0] if b.ndim else 1
            if max_samples is not None and total >= max_samples:
                break
        if not chunks:
            raise CLIError(f"{what}: the data loader yielded no samples")
        x = np.concatenate(chunks)
    else:
        raise CLIError(
            f"{what} must be an array of samples (n, ...) or an iterable of arrays; "
            f"got {type(obj).__name__}"
        )
    if x.ndim < 2 or x.shape[0] < 2:
        raise CLIError(f"{what} must have shape (n, ...) with n >= 2; got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise CLIError(f"{what} must be numeric; got dtype {x.dtype}")
    return x


def _call(fn, spec: str, seed: int):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    try:
        out = fn(seed=seed) if "seed" in params else fn()
    except Exception as e:
        raise CLIError(f"{spec} raised {type(e).__name__}: {e}") from None
    if not isinstance(out, tuple) or len(out) not in (2, 3):
        raise CLIError(
            f"{spec} must return (model, samples) or (model, samples, stages); "
            f"got {type(out).__name__}"
        )
    return out


def _capture_mesh(devices: int | None):
    """`--devices N`: a one-axis `"data"` mesh over the first N devices JAX
    sees (None for one device)."""
    if devices is None:
        return None
    import jax

    count = jax.device_count()
    if isinstance(devices, bool) or not 1 <= devices <= count:
        raise CLIError(
            f"--devices must be in [1, {count}] (the devices JAX sees here); got {devices}."
        )
    if devices == 1:
        return None
    return jax.make_mesh((devices,), ("data",), devices=jax.devices()[:devices])


def transport_scores(tracks, project: int | None, mesh):
    """`score_tracks` of the captured tracks (PCA-projected to `project`
    dimensions when a layer is wider), over `mesh` when one is given: the
    samples sharded by rows, the Sinkhorn $W_2$s on the ring (with the exact
    assignment, $n\\le$ `exact_max`, the layers are gathered: docs/scaling.md).
    Returns the scores and the projection (or `None`)."""
    projection = None
    scored = tracks
    if project is not None and max(tracks.widths) > project:
        scored, projection = tracks.project(project, "pca")
    return score_tracks(scored, mesh=mesh), projection


def run_analyze(report: Report, args) -> None:
    from tqdm.auto import tqdm

    mesh = _capture_mesh(getattr(args, "devices", None))
    t0 = time.perf_counter()
    fn = load_function(args.target)
    out = _call(fn, args.target, args.seed)
    model, samples = out[0], out[1]
    stages = out[2] if len(out) == 3 else None
    if args.data is not None:
        try:
            loaded = np.load(args.data)
        except (OSError, ValueError) as e:
            raise CLIError(f"cannot read --data {args.data!r}: {e}") from None
        if hasattr(loaded, "files"):  # .npz: the first array
            loaded = loaded[loaded.files[0]]
        samples = loaded
    x = _samples(samples, args.max_samples, f"the samples of {args.target}")
    if args.max_samples is not None and x.shape[0] > args.max_samples:
        pick = np.random.default_rng(args.seed).choice(
            x.shape[0], args.max_samples, replace=False
        )
        x = x[np.sort(pick)]
    try:
        feats = capture_features(model, x, stages=stages, progress=True, mesh=mesh)
    except (TypeError, ValueError) as e:
        raise CLIError(str(e)) from None
    tracks = feats.to_tracks()
    bar = tqdm(total=2, desc="scores")
    scores, projection = transport_scores(tracks, args.project, mesh)
    bar.update(1)
    cf = coordinate_free_scores(tracks, max_samples=args.gw_samples, mesh=mesh)
    bar.update(1)
    bar.close()
    d = report.data
    d.update(
        target=args.target,
        model_type=type(model).__name__,
        num_samples=int(x.shape[0]),
        layers=list(feats.names),
        widths=list(feats.widths),
        embedding="zero-padded" if projection is None else f"PCA to {args.project}",
        projection=None if projection is None else projection,
        scores=scores,
        coordinate_free=cf,
        seconds=time.perf_counter() - t0,
    )
    report.section(
        "Network",
        f"{args.target}: {type(model).__name__}, n = {x.shape[0]} samples, "
        f"layers {', '.join(f'{n} ({w})' for n, w in zip(feats.names, feats.widths))}.",
    )
    report.section(
        "Scores",
        f"common embedding ({d['embedding']}): LSS {float(scores.lss):.3f}, cost ratio "
        f"{float(scores.cost_ratio):.3f}, W2 path ratio {float(scores.path_ratio):.3f}. "
        f"Coordinate-free (invariant under permutations of hidden units and orthogonal "
        f"changes of each layer's coordinates): GW path ratio {float(cf.gw_path_ratio):.3f}, "
        f"distance-matrix straightness {float(cf.dm_straightness):.3f}.",
    )
    nonlin = np.asarray(scores.nonlinearity)
    if not np.all(np.isfinite(nonlin)):
        report.section(
            "Caveats",
            "the non-linearity score is undefined (NaN, reported as null) for steps whose "
            "layers have singular covariance in the embedding, e.g. the zero-padded "
            "dimensions of a narrower layer; use --project WIDTH (at most the narrowest "
            "layer's width) to score it in a common projection.",
        )
    if not bool(scores.converged) or not bool(cf.converged):
        report.section(
            "Solver",
            f"transport solves converged: {bool(scores.converged)}; Gromov-Wasserstein "
            f"solves converged: {bool(cf.converged)} (scores from unconverged solves are "
            "approximate).",
        )
    d["converged"] = {"transport": bool(scores.converged), "gw": bool(cf.converged)}
    _figures(report, feats, tracks, scores, cf)
    print(
        f"{args.target}: {len(feats.names)} layers (widths {feats.widths}), n = {x.shape[0]}"
    )
    print(
        f"LSS {float(scores.lss):.3f}  cost ratio {float(scores.cost_ratio):.3f}  "
        f"W2 path ratio {float(scores.path_ratio):.3f}  GW path ratio {float(cf.gw_path_ratio):.3f}  "
        f"dm straightness {float(cf.dm_straightness):.3f}"
    )


def _figures(report: Report, feats, tracks, scores, cf) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    names = list(feats.names)
    L = len(names) - 1
    steps = [f"{a}->{b}" for a, b in zip(names[:-1], names[1:])]
    xs = np.arange(L)

    fig = Figure(figsize=(max(6.0, 0.7 * L + 3), 4.2), layout="constrained")
    ax = fig.add_subplot(1, 2, 1)
    ax.bar(xs, np.asarray(scores.layer_w2))
    ax.set_ylabel(r"$W_2(\mu_l,\mu_{l+1})$ (feature units)")
    ax.set_title("common embedding", fontsize=9)
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.bar(xs, np.asarray(cf.layer_gw), color="C1")
    ax2.set_ylabel(r"$GW(\mu_l,\mu_{l+1})$ (squared feature units)")
    ax2.set_title("coordinate-free", fontsize=9)
    for a in (ax, ax2):
        a.set_xticks(xs, steps, rotation=60, ha="right", fontsize=7)
        a.set_xlabel("step")
    report.figure(
        fig,
        "profile.png",
        "Per-step transport cost: W2 between consecutive layers in the common embedding (left) "
        "and Gromov-Wasserstein, coordinate-free (right). Look for: even bars (a uniform-speed, "
        "geodesic-like network) or the steps that carry most of the transport.",
    )

    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(np.asarray(scores.lss_per_sample), bins=30)
    ax.set_xlabel("line-shape score LSS$_i$ (dimensionless, 1 = straight track)")
    ax.set_ylabel("number of samples")
    report.figure(
        fig,
        "lss.png",
        "Distribution of the per-sample line-shape score over the samples. Look for: mass near 1 "
        "(straight tracks); a long tail marks samples the network moves along bent paths.",
    )

    fig = Figure(figsize=(max(5.0, 0.6 * L + 3), 3.8), layout="constrained")
    ax = fig.add_subplot()
    nonlin = np.asarray(scores.nonlinearity)
    ax.plot(xs, nonlin, "o-")
    if not np.all(np.isfinite(nonlin)):
        ax.text(
            0.5,
            0.5,
            "undefined (NaN) where a layer's covariance is singular\n"
            "in the embedding; see the report",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
        )
    ax.set_xticks(xs, steps, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("step")
    ax.set_ylabel("non-linearity (dimensionless, 0 = affine)")
    report.figure(
        fig,
        "nonlinearity.png",
        "Non-linearity of every step (0 = the step is an affine map of the samples). Look for: "
        "which steps do the non-linear work.",
    )

    pts = np.asarray(tracks.points, dtype=np.float64)  # (L+1, n, D) common embedding
    flat = pts.reshape(-1, pts.shape[-1])
    mean = flat.mean(0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    proj = (pts - mean) @ vt[:2].T
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    k = min(60, proj.shape[1])
    for i in range(k):
        ax.plot(proj[:, i, 0], proj[:, i, 1], color="0.6", lw=0.5, alpha=0.6)
    sc = ax.scatter(
        proj[:, :k, 0].ravel(),
        proj[:, :k, 1].ravel(),
        c=np.repeat(np.arange(L + 1), k),
        cmap=matplotlib.colormaps["viridis"].resampled(L + 1),
        vmin=-0.5,
        vmax=L + 0.5,
        s=8,
    )
    cb = fig.colorbar(sc, ax=ax, label="layer index l (0 = input)")
    cb.set_ticks(list(range(L + 1)))
    ax.set_xlabel("PC 1 (feature units)")
    ax.set_ylabel("PC 2 (feature units)")
    report.figure(
        fig,
        "pca.png",
        f"{k} tracks (grey lines) over all layers, projected on the top two principal "
        "directions of the common embedding; colour: layer index (colour bar). Look for: "
        "straight, evenly spaced tracks (geodesic-like) or loops and detours.",
    )
