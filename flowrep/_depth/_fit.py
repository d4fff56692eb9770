"""`fit`: train a field so that its flow carries source samples to target samples.

The loss is a Sinkhorn divergence between the pushed-forward source and the
target (ott-jax, differentiable) or the mean squared error to known pairs,
plus the RNODE regularisers of Finlay et al. (2020), *How to train your
neural ODE*: the kinetic energy $\\int\\|v_t(x_t)\\|^2dt$ and the Jacobian
Frobenius norm $\\int\\|\\nabla v_t(x_t)\\|_F^2dt$, both integrated as extra ODE
state by `flowrep.flow`. With weight decay (optax `adamw`) this is the
setting in which Gai & Zhang expect the trained flow to approach the
Wasserstein geodesic (docs/theory/scores.md#gai-zhang-claim).
"""

import functools
import math
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array

from .._custom_types import Key, Points
from .._sharding import give_back, Layout, place, resolve_layout
from .._validate import (
    as_points,
    check_bool,
    check_finite,
    check_positive_int,
    check_value,
)
from ._field import RidgeletField
from ._flow import flow
from ._ring_loss import ring_sinkhorn_loss
from ._vector_field import as_vector_field


# Above this many pairs n*p the Sinkhorn loss streams its cost (ott-jax's
# online `PointCloud(batch_size=...)`): a dense PointCloud holds the n x p cost
# and kernel plus their backward copies; 2**26 pairs is 256 MiB per float32
# matrix (n = p = 8192), far below an accelerator's memory and where the dense
# loss already spends most of its time moving memory.
STREAM_PAIRS = 2**26
STREAM_BATCH = 1024


def _loss_pair(x: Any, y: Any, *, paired: bool) -> tuple[Array, Array]:
    """The checked clouds of a public loss: `(n, d)` arrays of one floating
    dtype (float16/bfloat16 and integers promoted to float32 or the default
    float, mixed precisions to the wider one), finite."""
    x = as_points(x, "x", finite=False)
    y = as_points(y, "y", finite=False)
    if paired and x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape (paired points); got {x.shape} and {y.shape}."
        )
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"`x` and `y` must be clouds (n, d) and (p, d) of one dimension; got {x.shape} and {y.shape}."
        )
    dtype = jnp.promote_types(x.dtype, y.dtype)
    if jnp.finfo(dtype).bits < 32:
        dtype = jnp.float32
    return check_finite(x.astype(dtype), "x"), check_finite(y.astype(dtype), "y")


def sinkhorn_loss(
    x: Points,
    y: Points,
    epsilon: float = 0.05,
    *,
    stream_pairs: int = STREAM_PAIRS,
    batch_size: int = STREAM_BATCH,
    throw: bool = True,
) -> Array:
    """Debiased Sinkhorn divergence $S_\\varepsilon(\\hat\\mu_x,\\hat\\mu_y)$ between point clouds.

    Squared Euclidean cost, uniform weights, `ott.tools.sinkhorn_divergence`
    on `PointCloud`s (differentiable by implicit differentiation). When
    $n p$ exceeds `stream_pairs` the cost is streamed (ott-jax's online mode,
    `batch_size` rows at a time), so the value needs $O((n+p)d+\\text{batch}\\cdot p)$
    memory instead of $O(np)$; the value and gradient are the same up to
    float rounding. Its *gradient* still needs $O(np)$: reverse mode keeps
    every streamed block (measured, float64: 6.4 GB of temporaries at
    $n=p=16384$). To train at that size use `fit`, whose default
    `sinkhorn_backend="auto"` switches to flowrep's streamed ring loss there
    (19 MB at $n=p=16384$). The clouds are
    centred at their common mean first ($S_\\varepsilon$ is invariant under a
    common translation), so far-from-origin features lose no precision.

    **Arguments:** `x` `(n, d)`, `y` `(p, d)`; `epsilon` the entropic
    regularisation (absolute, in units of the squared distance);
    `stream_pairs` (default $2^{26}$) and `batch_size` (default 1024 rows):
    when and how the cost is streamed; `throw` (default `True`): raise when a
    solve did not converge. float16/bfloat16 and integer clouds
    are promoted to float32; mixed precisions to the wider one.

    **Returns:** a scalar.

    **Raises:** `ValueError` naming the argument for clouds of the wrong rank,
    empty or of different dimensions, NaN/inf points (under `jit`: an
    `eqx.error_if` run-time error), a non-positive or non-finite `epsilon`,
    squared distances that overflow the working precision, a non-finite
    result, a Sinkhorn solve that did not converge (ott-jax's iteration
    budget; not with `throw=False`, for training loops that tolerate an
    unconverged step; `fit`'s inner loop does not check it), or non-positive
    `stream_pairs`/`batch_size`; `TypeError` for non-numeric input.
    """
    x, y = _loss_pair(x, y, paired=False)
    if isinstance(epsilon, bool) or not isinstance(
        epsilon, (int, float, np.integer, np.floating, jax.Array, np.ndarray)
    ):
        raise TypeError(f"`epsilon` must be a positive number; got {epsilon!r}.")
    if jnp.ndim(epsilon) != 0:
        raise ValueError(f"`epsilon` must be a scalar; got shape {jnp.shape(epsilon)}.")
    epsilon = check_value(
        epsilon,
        lambda e: ~jnp.isfinite(e) | ~(e > 0),
        "`epsilon` must be positive and finite.",
        detail=lambda e: f"Got {float(e)}.",
    )
    check_positive_int(stream_pairs, "stream_pairs")
    check_positive_int(batch_size, "batch_size")
    # Translation invariance, used for precision: centre at the common mean.
    centre = jnp.mean(jnp.concatenate([x, y]), axis=0)
    x, y = x - centre, y - centre
    extent = jnp.maximum(jnp.max(jnp.abs(x)), jnp.max(jnp.abs(y)))
    x = check_value(
        x,
        lambda x, e: ~jnp.isfinite(4 * x.shape[1] * e.astype(x.dtype) ** 2),
        "`x` and `y` are too large: their squared distances overflow "
        "the working precision; rescale both (and `epsilon` by the square).",
        extent,
    )
    value, converged = _sinkhorn_loss(
        x,
        y,
        epsilon,
        stream_pairs=stream_pairs,
        batch_size=batch_size,
        with_converged=True,
    )
    value = check_finite(
        value,
        "value",
        "sinkhorn_loss: the Sinkhorn solve gave a non-finite divergence "
        "(`epsilon` is far too small for the squared distances of `x` and `y`).",
    )
    if not check_bool(throw, "throw"):
        return value
    return check_value(
        value,
        lambda v, ok: ~jnp.all(ok),
        "sinkhorn_loss: a Sinkhorn solve of the divergence did not converge "
        "(ott-jax's default iteration budget); raise `epsilon` (it is absolute, "
        "in units of the squared distance) or rescale `x` and `y`.",
        jnp.stack([jnp.asarray(c) for c in converged]),
    )


def _sinkhorn_loss(
    x: Array,
    y: Array,
    epsilon: Any,
    *,
    stream_pairs: int = STREAM_PAIRS,
    batch_size: int = STREAM_BATCH,
    with_converged: bool = False,
    layout: Layout | None = None,
) -> Any:
    """`sinkhorn_loss` without the input checks (`fit`'s inner loop); with
    `with_converged`, also the three solves' convergence flags; with a
    `layout` (`fit` over a mesh) and a dense cost, the cost matrices are
    sharded by rows (`_sharded_dense_divergence`)."""
    from ott.geometry import pointcloud
    from ott.tools import sinkhorn_divergence

    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"`x` and `y` must be clouds (n, d) and (p, d); got {x.shape} and {y.shape}."
        )
    if isinstance(epsilon, int | float) and not (
        math.isfinite(epsilon) and epsilon > 0
    ):
        raise ValueError(f"`epsilon` must be positive and finite; got {epsilon}.")

    from .._ott_compat import ott_online_mode

    kw: dict[str, Any] = {}
    if x.shape[0] * y.shape[0] > stream_pairs:
        kw["batch_size"] = batch_size
    # Explicit weights in the clouds' dtype: ott's defaults follow the default
    # float, and float32 clouds under jax_enable_x64 then fail inside its cond.
    dtype = jnp.result_type(x, y)
    a = jnp.full(x.shape[0], 1.0 / x.shape[0], dtype)
    b = jnp.full(y.shape[0], 1.0 / y.shape[0], dtype)
    if layout is not None and not kw:
        value, out = _sharded_dense_divergence(x, y, epsilon, a, b, layout)
        return (value, out.converged) if with_converged else value
    with ott_online_mode():
        value, out = sinkhorn_divergence.sinkhorn_divergence(
            pointcloud.PointCloud, x, y, epsilon=epsilon, a=a, b=b, **kw
        )
    return (value, out.converged) if with_converged else value


def _sharded_dense_divergence(x, y, epsilon, a, b, layout: Layout):
    """ott-jax's dense divergence with its three cost matrices sharded by rows.

    Given `PointCloud`s, XLA's partitioner does not keep the n x p cost and
    kernel of ott's solves sharded (a step's per-device temporaries fell
    only from 33.8 MB to 16.9 MB from 1 to 4 devices at n = p = 1024, and
    not at all to 2). Here the same costs are computed as ott's `PointCloud`
    computes them (`SqEuclidean().all_pairs`, unit scale), constrained to
    `P(axis, None)` and handed to ott as `Geometry(cost_matrix=...)`: the
    same solver on the same numbers (`PointCloud`'s dense kernels are
    `Geometry`'s on its cost matrix), so results equal one device's to
    float rounding (reduction order), while each device holds n/D rows of
    every matrix and only (p, d) clouds and p-vectors of potentials are
    gathered or all-reduced (docs/scaling.md)."""
    from ott.geometry import costs, geometry
    from ott.tools import sinkhorn_divergence

    rows = layout.rows(2)
    x = jax.lax.with_sharding_constraint(x, rows)
    y = jax.lax.with_sharding_constraint(y, rows)

    def cost(u, v):
        return jax.lax.with_sharding_constraint(
            costs.SqEuclidean().all_pairs(u, v), rows
        )

    return sinkhorn_divergence.sinkhorn_divergence(
        geometry.Geometry,
        cost(x, y),
        cost(x, x),
        cost(y, y),
        epsilon=epsilon,
        a=a,
        b=b,
    )


def mse_loss(x: Points, y: Points) -> Array:
    """$\\frac1n\\sum_i\\|x_i-y_i\\|^2$ for known pairs `x`, `y` `(n, d)`.

    float16/bfloat16 and integers are promoted to float32 (mixed precisions
    to the wider one).

    **Raises:** `ValueError` naming the argument for a shape mismatch, a
    cloud that is not `(n, d)` or empty, NaN/inf points, or squared distances
    past the working precision's range (under `jit`: an `eqx.error_if`
    run-time error); `TypeError` for non-numeric input.
    """
    x, y = _loss_pair(x, y, paired=True)
    return check_value(
        _mse_loss(x, y),
        lambda v: ~jnp.isfinite(v),
        "mse_loss: the squared distances between `x` and `y` overflow the working "
        "precision; rescale the points.",
    )


def _mse_loss(x: Array, y: Array) -> Array:
    """`mse_loss` without the input checks (`fit`'s inner loop)."""
    if x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape (paired points); got {x.shape} and {y.shape}."
        )
    return jnp.mean(jnp.sum((x - y) ** 2, axis=-1))


class _GradientRidgelet(eqx.Module):
    """A `RidgeletField` trained through $(a, b, s)$ with $c=s\\,a$ (`fit(gradient=True)`).

    `field.c` is held out of training (the filter spec marks it frozen) and
    rebuilt from `s` and `a` at every evaluation, so that the trained field is
    `RidgeletField.gradient_of`-shaped throughout.
    """

    field: RidgeletField
    s: Array

    def materialise(self) -> RidgeletField:
        a = self.field.a if self.field.a.ndim == 3 else self.field.a[None]
        return eqx.tree_at(lambda f: f.c, self.field, self.s[:, :, None] * a)


def _gradient_parametrisation(field: Any) -> tuple[_GradientRidgelet, Any]:
    """The trainable module and filter spec of `fit(gradient=True)`."""
    if not isinstance(field, RidgeletField):
        raise TypeError(
            f"fit(gradient=True) trains a RidgeletField as the gradient of its potential; got {type(field).__name__}."
        )
    if not field.fixed_units and field.basis not in ("piecewise_constant", "constant"):
        raise ValueError(
            "fit(gradient=True) needs c_j(t) = s_j(t) a_j(t): fixed units "
            "(RidgeletField.random(..., fixed_units=True)) or basis 'piecewise_constant'/'constant'; "
            f"got time-varying units with basis={field.basis!r}."
        )
    a = field.a if field.a.ndim == 3 else field.a[None]
    # Start from the least-squares projection of each c_kj on a_kj.
    s = jnp.sum(field.c * a, axis=-1) / jnp.maximum(jnp.sum(a * a, axis=-1), 1e-30)
    module = _GradientRidgelet(field, s)
    spec = jax.tree.map(eqx.is_inexact_array, module)
    spec = eqx.tree_at(lambda m: m.field.c, spec, replace=False)
    return module, spec


def _check_cloud(x, name: str, dim: int | None, *, finite: bool = True) -> Array:
    try:
        x = jnp.asarray(x)
    except TypeError as e:
        raise TypeError(
            f"`{name}` must be an array of shape [n, m]; got {type(x).__name__}."
        ) from e
    if not (
        jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)
    ):
        raise TypeError(f"`{name}` must hold real numbers; got dtype {x.dtype}.")
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape [n, m]; got {x.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: need at least one sample.")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(
            f"`{name}` has dimension {x.shape[1]} but the field acts on R^{dim}; expected [n, {dim}]."
        )
    if finite and not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"`{name}` contains NaN or inf.")
    return x


@functools.lru_cache(maxsize=64, typed=True)
def _default_optimizer(
    learning_rate: float | optax.Schedule, weight_decay: float
) -> optax.GradientTransformation:
    # One transformation object per hyperparameter pair, so that the compiled
    # step (keyed on the optimiser's functions) is reused across `fit` calls.
    return optax.adamw(learning_rate, weight_decay=weight_decay)


def _concrete_time(t: Any, name: str) -> float:
    try:
        return float(t)
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        raise ValueError(
            f"`{name}` must be a concrete number (pass it, or use a field with a `{name}` attribute); got {t!r}."
        ) from None


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be >= 1 (an integer); got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1 (an integer); got {value}.")
    return int(value)


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        return False
    return bool(np.isfinite(value))


def _default(given: Any, field_value: Any, fallback: float) -> Any:
    """`given`, else the field's value, else `fallback` (the first that is not None)."""
    if given is not None:
        return given
    return fallback if field_value is None else field_value


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _data_loss(
    loss: Any,
    epsilon: Any,
    x: Array,
    y: Array,
    backend: str = "ott",
    layout: Layout | None = None,
) -> Array:
    if isinstance(loss, str):
        if loss == "mse":
            return _mse_loss(x, y)
        if backend == "auto":  # ott-jax while dense; beyond, its gradient is O(np)
            backend = "flowrep" if x.shape[0] * y.shape[0] > STREAM_PAIRS else "ott"
        if backend == "flowrep":  # both clouds stay sharded (ring)
            return ring_sinkhorn_loss(x, y, epsilon, layout)
        return _sinkhorn_loss(x, y, epsilon, layout=layout)
    return loss(x, y)


_step_traces = 0  # how many times `_step` was traced (read by the tests)


def _step(
    params,
    opt_state,
    step_key,
    source,
    target,
    static,
    optimizer: optax.GradientTransformation,
    loss: Any,
    epsilon: float | None,
    batch_size: int | None,
    kinetic_reg: float,
    jacobian_reg: float,
    t0: float,
    t1: float,
    flow_kwargs: dict[str, Any],
    layout: Layout | None = None,
    sinkhorn_backend: str = "auto",
):
    """One optimiser step of `fit` (traced once per compilation of `_run`).

    With a `layout` the step is data-parallel under GSPMD: the (mini)batch is
    constrained to rows sharded over the data axis and the parameters,
    gradients and optimiser state to replicated, so XLA partitions the flow
    and the loss by samples and all-reduces the gradients.
    """
    global _step_traces
    _step_traces += 1
    kinetic, jacobian = kinetic_reg > 0, jacobian_reg > 0
    paired = isinstance(loss, str) and loss == "mse"
    n, p = source.shape[0], target.shape[0]

    def objective(params, xb, yb, probe_key):
        f = eqx.combine(params, static)
        if isinstance(f, _GradientRidgelet):
            f = f.materialise()
        res = flow(
            f,
            xb,
            t0,
            t1,
            kinetic=kinetic,
            jacobian=jacobian,
            key=probe_key if jacobian else None,
            **flow_kwargs,
        )
        data = _data_loss(loss, epsilon, res.xs, yb, sinkhorn_backend, layout)
        kin = jnp.zeros(()) if res.kinetic is None else jnp.mean(res.kinetic)
        jac = (
            jnp.zeros(())
            if res.jacobian_frobenius is None
            else jnp.mean(res.jacobian_frobenius)
        )
        total = data + kinetic_reg * kin + jacobian_reg * jac
        return total, (data, kin, jac)

    kx, ky, kp = jr.split(step_key, 3)
    if batch_size is None:
        xb, yb = source, target
    else:
        ix = jr.choice(kx, n, (batch_size,), replace=False)
        iy = ix if paired else jr.choice(ky, p, (batch_size,), replace=False)
        xb, yb = source[ix], target[iy]
    if layout is not None:
        xb = jax.lax.with_sharding_constraint(xb, layout.rows(xb.ndim))
        yb = jax.lax.with_sharding_constraint(yb, layout.rows(yb.ndim))
    (total, aux), grads = eqx.filter_value_and_grad(objective, has_aux=True)(
        params, xb, yb, kp
    )
    if layout is not None:  # the all-reduce: one replicated gradient
        grads = jax.lax.with_sharding_constraint(grads, layout.replicated())
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = eqx.apply_updates(params, updates)
    if layout is not None:
        params, opt_state = jax.lax.with_sharding_constraint(
            (params, opt_state), layout.replicated()
        )
    # One dtype whatever the field's and the samples' (the history is float64).
    return params, opt_state, jnp.stack([total, *aux]).astype(jnp.result_type(float))


@eqx.filter_jit
def _run(params, opt_state, step_keys, active, source, target, static, **config):
    """`len(step_keys)` optimiser steps of `fit` in one compiled `lax.scan`.

    Steps whose `active` flag is off leave the state alone and report NaN (the
    last chunk is padded to the chunk length, so that one compilation serves
    every chunk). Module level, so that its compiled form is cached by
    `eqx.filter_jit` on what it is given: the arrays' shapes and dtypes, and
    the non-array configuration (the field's static part, the optimiser's
    functions, the loss, the floats and ints, the flow options), compared by
    equality.
    """

    layout = config.get("layout")
    if layout is not None:  # uneven sizes arrive replicated: shard them here
        source = jax.lax.with_sharding_constraint(source, layout.rows(source.ndim))
        target = jax.lax.with_sharding_constraint(target, layout.rows(target.ndim))

    def body(carry, xs):
        params, opt_state = carry
        step_key, on = xs

        def run_step(carry):
            p, s = carry
            p, s, values = _step(p, s, step_key, source, target, static, **config)
            return (p, s), values

        def skip(carry):
            return carry, jnp.full((4,), jnp.nan, jnp.result_type(float))

        carry, values = jax.lax.cond(on, run_step, skip, (params, opt_state))
        return carry, values

    (params, opt_state), values = jax.lax.scan(
        body, (params, opt_state), (step_keys, active)
    )
    return params, opt_state, values


def fit(
    field: Any,
    source: Points,
    target: Points,
    *,
    key: Key,
    loss: Literal["sinkhorn", "mse"] | Callable[[Array, Array], Array] = "sinkhorn",
    steps: int = 200,
    learning_rate: float | optax.Schedule = 1e-2,
    weight_decay: float = 0.0,
    optimizer: optax.GradientTransformation | None = None,
    kinetic_reg: float = 0.0,
    jacobian_reg: float = 0.0,
    batch_size: int | None = None,
    epsilon: float = 0.05,
    t0: float | None = None,
    t1: float | None = None,
    flow_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
    steps_per_call: int = 20,
    gradient: bool = False,
    mesh: jax.sharding.Mesh | None = None,
    sinkhorn_backend: Literal["auto", "ott", "flowrep"] = "auto",
) -> tuple[Any, dict[str, np.ndarray]]:
    """Train `field` so that its time-$t_1$ flow map pushes `source` onto `target`.

    Minimises $\\mathcal L(\\phi_{t_0\\to t_1}(X),Y)+\\lambda_K\\overline{\\int\\|v\\|^2}
    +\\lambda_J\\overline{\\int\\|\\nabla v\\|_F^2}$ with optax (RNODE, Finlay et
    al. 2020). The optimiser steps run `steps_per_call` at a time in one
    jitted `lax.scan` (as `train_denoiser` does), and the losses come back to
    the host once per chunk: no per-step launch or device-to-host copy, which
    on a GPU costs more than a small step. Deterministic given `key`
    (minibatches and Hutchinson probes come from it), whatever the chunking.
    The flow inside a step does not throw (`throw=False` unless `flow_kwargs`
    says otherwise): a failed solve shows as a non-finite loss, which raises
    at the end of its chunk.

    The step is compiled once per configuration and reused by later calls:
    a second `fit` with the same field structure (array shapes, dtypes and
    static fields), sample shapes, loss, optimiser, `batch_size`, `epsilon`,
    regulariser weights, `t0`, `t1` and `flow_kwargs` does not recompile,
    whatever the values of the arrays and the key. The built-in optimiser is
    built once per `(learning_rate, weight_decay)`; pass the same
    `optimizer` object (not a fresh `optax.adamw(...)`) or the same `loss`
    callable (not a fresh lambda) to hit the cache, since functions compare
    by identity.

    **Arguments:**

    - `field`: an `AbstractVectorField` (e.g. a `RidgeletField`) or any
        `eqx.Module` vector field `field(t, x, args)`; its inexact arrays are
        trained, and the trained field has the same type.
    - `source`: `(n, d)` samples to push; `target`: `(p, d)` samples to reach
        (`p = n`, paired row by row, for `loss="mse"`).
    - `key`: PRNG key (keyword-only).
    - `loss`: `"sinkhorn"` (debiased Sinkhorn divergence; its solver:
        `sinkhorn_backend`),
        `"mse"` (known pairs), or a callable `loss(x_pushed, y) -> scalar`.
    - `steps`: optimiser steps.
    - `learning_rate`: a float or an optax schedule.
    - `weight_decay`: decoupled weight decay (optax `adamw`).
    - `optimizer`: an optax transformation replacing the default
        `adamw(learning_rate, weight_decay=weight_decay)`.
    - `kinetic_reg`, `jacobian_reg`: weights of the RNODE regularisers.
    - `batch_size`: minibatch size drawn (without replacement) each step;
        `None` uses all samples.
    - `epsilon`: Sinkhorn regularisation.
    - `t0`, `t1`: the time interval (default: the field's).
    - `flow_kwargs`: options for `flowrep.flow` (default
        `dict(solver="rk4", num_steps=16)`: fixed steps, fixed cost).
    - `progress`: show a tqdm progress bar (updated once per chunk).
    - `steps_per_call`: optimiser steps per compiled call (and per read-back
        of the losses). The last chunk is padded, so one compilation serves
        all; `history` has exactly `steps` rows.
    - `gradient`: train only gradient fields. `field` must be a
        `RidgeletField` with fixed units or a piecewise-constant/constant
        basis; it is trained through $(a_j, b_j, s_j)$ with $c_j(t)=s_j(t)\\,a_j(t)$
        (starting from the projection of each $c_j$ on $a_j$), so the result
        is `RidgeletField.gradient_of`-shaped: $v_t=\\nabla\\sum_js_j(t)
        \\tilde\\sigma(a_j\\cdot x-b_j)$, curl fraction 0 — the Benamou-Brenier
        form of an optimal velocity (docs/theory/gradient-flows.md#curl-fraction).
    - `mesh`: train data-parallel on this `jax.sharding.Mesh` (default: the
        mesh of `source`/`target` when they come sharded by rows over several
        devices, else one device). Every step runs with the (mini)batch
        sharded by rows over the data axis and the parameters and optimiser
        state replicated; XLA (GSPMD, under the step's `jit`) partitions the
        flow and the loss by samples and all-reduces the gradients. The
        trained parameters equal one device's up to float rounding and come
        back replicated on the mesh. The per-device step memory falls as
        $1/D$: with the default Sinkhorn loss, ott-jax's solves run on its
        three cost matrices sharded by rows (the same solver on the same
        costs, so the same result; once $np$ exceeds the streaming
        threshold, ott-jax's online mode, partitioned by XLA, which was not
        measured over a mesh); with `sinkhorn_backend="flowrep"` both clouds
        stay sharded (docs/scaling.md). Sizes need not divide by $D$:
        uneven clouds are placed replicated and sharded inside the step.
    - The inner Sinkhorn loss is not checked for convergence (it is a
        training loss, evaluated at every step, for speed); an unconverged or
        underflowing solve shows up as a non-finite loss, which raises a
        `FloatingPointError`, not as silent NaN parameters. Check a trained
        field with [`sinkhorn_loss`][] (which checks convergence) on its output.
    - `sinkhorn_backend`: the solver of `loss="sinkhorn"`. `"auto"` (default):
        `"ott"` while a (mini)batch has at most $2^{26}$ pairs $np$
        ($n=p=8192$), `"flowrep"` beyond, where ott-jax's gradient needs
        $O(np)$ memory: its online mode streams the forward solve, but the
        backward keeps every block (measured, float64, one device: 6.4 GB
        of temporaries at $n=p=16384$, against 19 MB for `"flowrep"`;
        docs/scaling.md). `"ott"`: ott-jax's `sinkhorn_divergence`,
        differentiated implicitly, dense up to $2^{26}$ pairs and in its
        online mode beyond. `"flowrep"`:
        flowrep's own log-domain solver (plain Sinkhorn for the cross
        problem, the averaged symmetric update for the self problems, L1
        marginal error $\\le10^{-3}$ as ott-jax's default) with the envelope
        gradient (Feydy et al. 2019); over a mesh both clouds stay sharded by
        rows and every log-sum-exp runs round a ring of the devices
        (`ppermute`), so no device holds a whole cloud or an $n\times p$
        block. Its results on one device and over a mesh agree to float
        rounding; it agrees with `"ott"` to the solvers' tolerance, not to
        rounding.

    **Returns:** `(trained_field, history)`, with `history` a dict of `(steps,)`
    NumPy arrays: `"loss"` (the total), `"data"`, `"kinetic"`, `"jacobian"`.

    `fit` is not jittable (a Python loop over compiled chunks): under
    `jax.jit` it raises a `TypeError` saying so. float16/bfloat16 samples are
    promoted to float32, and samples and field share one dtype.

    **Raises:** `ValueError` on shape mismatches, NaN/inf samples or field
    parameters, unknown loss names or `sinkhorn_backend`, bad sizes or counts (`steps`,
    `steps_per_call`, `batch_size` must be integers >= 1), a non-positive
    `epsilon`, a negative `learning_rate`, negative regularisers; `TypeError` under
    `jax.jit`; `FloatingPointError` when the loss stops being finite (at the
    first step: the inputs; later: the learning rate); with `gradient=True`,
    `TypeError` for a field that is not a `RidgeletField` and `ValueError`
    for time-varying units on an interpolating basis; `TypeError` if `mesh`
    is not a `jax.sharding.Mesh`.
    """
    leaves = jax.tree_util.tree_leaves(eqx.filter(field, eqx.is_array))
    if any(isinstance(a, jax.core.Tracer) for a in (source, target, key, *leaves)):  # pyright: ignore[reportAttributeAccessIssue]
        raise TypeError(
            "fit is not jittable: it runs a Python loop of compiled optimiser steps and "
            "reads the losses back; call it outside jax.jit / vmap / grad."
        )
    if not isinstance(sinkhorn_backend, str) or sinkhorn_backend not in (
        "auto",
        "ott",
        "flowrep",
    ):
        raise ValueError(
            f"`sinkhorn_backend` must be 'auto', 'ott' or 'flowrep'; got {sinkhorn_backend!r}."
        )
    vf = as_vector_field(field)
    layout = resolve_layout(mesh, source, target)
    source = _check_cloud(source, "source", vf.dim, finite=False)
    target = _check_cloud(target, "target", source.shape[1], finite=False)
    params_inexact = [a for a in leaves if jnp.issubdtype(a.dtype, jnp.inexact)]
    # One host read-back for the finiteness of the samples and all parameters.
    finite = jax.device_get(
        jnp.stack(
            [jnp.all(jnp.isfinite(source)), jnp.all(jnp.isfinite(target))]
            + [jnp.all(jnp.isfinite(a)) for a in params_inexact]
        )
    )
    for ok, name in zip(finite[:2], ("source", "target")):
        if not ok:
            raise ValueError(f"`{name}` contains NaN or inf.")
    if not np.all(finite[2:]):
        raise ValueError(
            "`field` has NaN or inf parameters; initialise it with finite values."
        )
    # One working dtype for the data and the field (ott's solvers need equal
    # dtypes): float16/bfloat16 data are promoted to float32.
    work = jnp.result_type(source.dtype, target.dtype, *params_inexact, jnp.float32)
    source, target = source.astype(work), target.astype(work)
    steps = _check_count(steps, "steps")
    steps_per_call = _check_count(steps_per_call, "steps_per_call")
    if batch_size is not None:
        batch_size = _check_count(batch_size, "batch_size")
    for name, value in (
        ("weight_decay", weight_decay),
        ("kinetic_reg", kinetic_reg),
        ("jacobian_reg", jacobian_reg),
    ):
        if not _finite_number(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}.")
    if not callable(learning_rate) and (
        not _finite_number(learning_rate) or learning_rate < 0
    ):
        raise ValueError(
            f"`learning_rate` must be a finite number >= 0 or an optax schedule; got {learning_rate!r}."
        )
    progress = check_bool(progress, "progress")
    gradient = check_bool(gradient, "gradient")
    if flow_kwargs is not None and not isinstance(flow_kwargs, dict):
        raise TypeError(
            f"`flow_kwargs` must be a dict of `flowrep.flow` options; got {flow_kwargs!r}."
        )
    if optimizer is not None and not (
        hasattr(optimizer, "init") and hasattr(optimizer, "update")
    ):
        raise TypeError(
            f"`optimizer` must be an optax.GradientTransformation; got {optimizer!r}."
        )
    if isinstance(loss, str) and loss == "sinkhorn":
        if not _finite_number(epsilon) or epsilon <= 0:
            raise ValueError(
                f"`epsilon` (the Sinkhorn regularisation) must be a positive finite number; got {epsilon!r}."
            )
    if isinstance(loss, str):
        if loss == "mse":
            if target.shape[0] != source.shape[0]:
                raise ValueError(
                    f"loss='mse' needs paired samples: source has {source.shape[0]} rows, target {target.shape[0]}."
                )
        elif loss != "sinkhorn":
            raise ValueError(
                f"Unknown loss {loss!r}; expected 'sinkhorn', 'mse' or a callable."
            )
    elif not callable(loss):
        raise TypeError(f"`loss` must be a name or a callable; got {loss!r}.")
    n, p = source.shape[0], target.shape[0]
    if batch_size is not None and not 1 <= batch_size <= min(n, p):
        raise ValueError(
            f"batch_size must be in [1, {min(n, p)}] (the smaller sample size); got {batch_size}."
        )
    # Concrete Python numbers: they are part of the compiled step's static key.
    t0 = _concrete_time(_default(t0, vf.t0, 0.0), "t0")
    t1 = _concrete_time(_default(t1, vf.t1, 1.0), "t1")
    kw: dict[str, Any] = (
        dict(solver="rk4", num_steps=16) if flow_kwargs is None else dict(flow_kwargs)
    )
    kw.setdefault("throw", False)  # a throw check per step is a host sync on GPUs
    if optimizer is None:
        if _hashable(learning_rate) and _hashable(weight_decay):
            optimizer = _default_optimizer(learning_rate, weight_decay)
        else:
            optimizer = optax.adamw(learning_rate, weight_decay=weight_decay)
    if gradient:
        trainable, spec = _gradient_parametrisation(field)
    else:
        trainable, spec = field, eqx.is_inexact_array
    params, static = eqx.partition(trainable, spec)
    if layout is not None:  # samples by rows, parameters replicated
        source, target = place(source, layout), place(target, layout)
        params = jax.device_put(params, layout.replicated())
    opt_state = optimizer.init(params)
    eps = epsilon if isinstance(loss, str) and loss == "sinkhorn" else None

    from tqdm.auto import tqdm

    chunk = min(steps_per_call, steps)
    num_chunks = -(-steps // chunk)
    keys = jr.split(key, steps)
    # Pad to whole chunks with copies of the last key; padded steps are inactive.
    keys = keys[jnp.minimum(jnp.arange(num_chunks * chunk), steps - 1)]
    active = jnp.arange(num_chunks * chunk) < steps
    if layout is not None:
        opt_state, keys, active = jax.device_put(
            (opt_state, keys, active), layout.replicated()
        )
    history = np.zeros((steps, 4))
    bar = tqdm(total=steps, disable=not progress, desc="fit")
    for i in range(num_chunks):
        lo, hi = i * chunk, min((i + 1) * chunk, steps)
        params, opt_state, values = _run(
            params,
            opt_state,
            keys[i * chunk : (i + 1) * chunk],
            active[i * chunk : (i + 1) * chunk],
            source,
            target,
            static,
            optimizer=optimizer,
            loss=loss,
            epsilon=eps,
            batch_size=batch_size,
            kinetic_reg=kinetic_reg,
            jacobian_reg=jacobian_reg,
            t0=t0,
            t1=t1,
            flow_kwargs=kw,
            layout=layout,
            sinkhorn_backend=sinkhorn_backend,
        )
        history[lo:hi] = jax.device_get(values)[: hi - lo]  # one read-back per chunk
        bad = ~np.isfinite(history[lo:hi, 0])
        if bad.any():
            j = lo + int(np.argmax(bad))
            bar.close()
            if loss == "sinkhorn" and (
                history[j, 1] == -np.inf or np.any(history[lo : j + 1, 1] < 0)
            ):
                # a Sinkhorn divergence is >= 0: a negative or -inf value is
                # the solve underflowing, not the optimiser diverging
                raise FloatingPointError(
                    f"fit: the Sinkhorn loss became {history[j, 1]} at step {j}; a "
                    "Sinkhorn divergence is >= 0, so its solve underflowed: "
                    f"`epsilon` ({epsilon!r}) is too small for the data's scale in "
                    f"{source.dtype}. Raise `epsilon` (absolute, in squared data "
                    "units)"
                    + ("." if source.dtype == np.float64 else " or use float64.")
                )
            if j == 0:
                raise FloatingPointError(
                    f"fit: the loss is {history[0, 0]} at step 0, before any "
                    "update, so the learning rate is not the cause: check the inputs "
                    "(`epsilon`, `t0`/`t1`, `flow_kwargs`, the field, huge sample values) "
                    "or whether the field's flow blows up on `source`."
                )
            raise FloatingPointError(
                f"fit: the loss became {history[j, 0]} at step {j} (it was finite before); "
                "lower the learning rate or regularise the field"
                + (
                    ", or raise `epsilon` if it is far below the clouds' squared distances."
                    if loss == "sinkhorn"
                    else "."
                )
            )
        bar.update(hi - lo)
        if progress:
            bar.set_postfix(loss=f"{history[hi - 1, 0]:.4g}")
    bar.close()
    names = ("loss", "data", "kinetic", "jacobian")
    if layout is not None:
        params = give_back(params, layout)
    trained = eqx.combine(params, static)
    if isinstance(trained, _GradientRidgelet):
        trained = trained.materialise()
    return trained, {k: history[:, j] for j, k in enumerate(names)}
