"""Li & Shi: a plain network as a glued flow, and its ResNet refinement.

Z. Li & Z. Shi, *A flow model of neural networks* (arXiv 1708.06257); docs/theory/flows.md#li-shi [derived]. A layer $x\\mapsto\\phi(Wx+b)$ with $W$
square and $\\det W>0$ is the composition of five unit-time flows. With the
SVD $W=U\\Sigma V^\\top$, a sign flip of one column pair making $U,V\\in SO(d)$:

1. rotation $V^\\top$: $v(x)=\\log(V^\\top)\\,x$ (a real skew-symmetric log);
2. scaling: $v(x)=\\mathrm{diag}(\\log\\sigma_i)\\,x$;
3. rotation $U$: $v(x)=\\log(U)\\,x$;
4. translation: $v(x)=b$;
5. activation: leaky ReLU of slope $\\alpha$ is the time-1 flow of
   $v(x)=\\ln(1/\\alpha)\\mathrm{ReLU}(-x)$ (negative coordinates decay as
   $\\alpha^s$); ReLU is the time-1 limit of $v(x,s)=\\mathrm{ReLU}(-x)/(1-s)$
   (negative coordinates move as $x(1-s)$ and reach 0 at $s=1$). An
   identity activation has no piece.

Every piece is $v(x,s)=A\\,x+\\beta+\\kappa\\odot\\mathrm{ReLU}(-x)/d(s)$ with
$d(s)=\\max(1-s,\\varepsilon)$ on ReLU coordinates and 1 elsewhere, which is
also a two-layer ReLU block with $2d$ units ($Ax=A\\,\\mathrm{ReLU}(x)-A\\,\\mathrm{ReLU}(-x)$),
so the Euler refinement is a ResNet of integral blocks.
"""

from collections.abc import Callable, Sequence
from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import scipy.linalg
from jaxtyping import Array, ArrayLike, Bool, Float

from .._validate import check_finite
from .._width._activations import ReLU
from ._resnet import check_field_point, euler_network, piece_index, ResNet
from ._vector_field import AbstractUnitField


_PROBES = np.array([-3.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0])
_KINDS = ("rotate_in", "scale", "rotate_out", "translate", "activate")


def rotation_log(r: ArrayLike) -> np.ndarray:
    """A real skew-symmetric $G$ with $\\exp(G)=R$, for a rotation $R\\in SO(d)$.

    Uses the real Schur form $R=QTQ^\\top$ (block diagonal for an orthogonal
    $R$): each $2\\times2$ block $\\begin{pmatrix}\\cos\\theta&-\\sin\\theta\\\\\\sin\\theta&\\cos\\theta\\end{pmatrix}$
    gives $\\theta$ via `atan2`, and eigenvalues $-1$ (even in number, as
    $\\det R=1$) are paired into rotations by $\\pi$. Unlike the principal
    `scipy.linalg.logm` this stays real when $-1$ is an eigenvalue.

    **Arguments:** `r`: `(d, d)` rotation (orthogonal, determinant +1).

    **Returns:** `(d, d)` float64 skew-symmetric generator.

    **Raises:** `ValueError` if `r` is not square, not orthogonal or has
    determinant -1.
    """
    try:
        r = np.asarray(r, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"`r` must be a real square matrix; got {type(r).__name__}."
        ) from None
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] == 0:
        raise ValueError(
            f"rotation_log needs a square [d, d] matrix `r` with d >= 1; got shape {r.shape}."
        )
    d = r.shape[0]
    if not np.all(np.isfinite(r)):
        raise ValueError("rotation_log: the matrix `r` contains NaN or inf.")
    if not np.allclose(r.T @ r, np.eye(d), atol=1e-8 * max(d, 1)):
        raise ValueError("rotation_log needs an orthogonal matrix `r` (R^T R = I).")
    det = np.linalg.det(r)
    if det < 0:
        raise ValueError(
            f"rotation_log needs det R = +1 (a rotation) for `r`; got det R = {det:.6g}."
        )
    schur = scipy.linalg.schur(r, output="real")
    t, q = np.asarray(schur[0]), np.asarray(schur[1])
    g = np.zeros((d, d))
    negatives = []
    i = 0
    while i < d:
        if i + 1 < d and abs(t[i + 1, i]) > 1e-12:
            cos = 0.5 * (t[i, i] + t[i + 1, i + 1])
            sin = 0.5 * (t[i + 1, i] - t[i, i + 1])
            theta = np.arctan2(sin, cos)
            g[i + 1, i], g[i, i + 1] = theta, -theta
            i += 2
        else:
            if t[i, i] < 0:
                negatives.append(i)
            i += 1
    for p, s in zip(negatives[0::2], negatives[1::2]):
        g[s, p], g[p, s] = np.pi, -np.pi
    g = q @ g @ q.T
    return 0.5 * (g - g.T)


def _leak_slopes(fn: Callable, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Negative-side slopes $\\alpha$ of an elementwise piecewise-linear activation.

    `fn` maps probes `[*shape, P]` (or `(P,)` broadcast) to values; it must be
    $z$ for $z\\ge0$ and $\\alpha z$ for $z<0$ with $\\alpha\\ge0$. Returns $\\alpha$
    per unit: 0 for ReLU, 1 for the identity.
    """
    z = np.broadcast_to(_PROBES, shape + _PROBES.shape)
    try:
        vals = np.asarray(fn(jnp.asarray(z)), dtype=np.float64)
    except Exception as err:  # report what failed, whatever it was
        raise ValueError(
            f"Could not evaluate the {what} on probe values: {err}"
        ) from err
    vals = np.broadcast_to(vals, z.shape)
    alpha = -vals[..., _PROBES == -1.0][..., 0]
    pos = _PROBES >= 0
    ok = np.allclose(vals[..., pos], z[..., pos], rtol=1e-5, atol=1e-6) and np.allclose(
        vals[..., ~pos], alpha[..., None] * z[..., ~pos], rtol=1e-5, atol=1e-6
    )
    if not ok or np.any(alpha < -1e-7) or not np.all(np.isfinite(alpha)):
        raise ValueError(
            f"Li-Shi plain-net flows need the {what} to be ReLU, leaky ReLU (slope alpha > 0 for z < 0) "
            f"or the identity, i.e. z for z >= 0 and alpha*z for z < 0; got values {np.round(vals.reshape(-1, _PROBES.size)[0], 4).tolist()} "
            f"at z = {_PROBES.tolist()}."
        )
    return np.clip(alpha, 0.0, None)


def _mlp_layers(
    mlp: eqx.nn.MLP,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """The (W, b) of each layer and the per-unit slopes of the activation after it."""
    if mlp.in_size == "scalar" or mlp.out_size == "scalar":
        raise ValueError(
            "Li-Shi plain-net flows need square d x d layers; an MLP with a 'scalar' input or output maps between "
            "different dimensions."
        )
    weights: list[tuple[np.ndarray, np.ndarray]] = []
    for layer in mlp.layers:
        w = np.asarray(layer.weight)
        if w.ndim == 3:  # stacked hidden layers of an MLP(scan=True)
            biases = (
                np.zeros(w.shape[:2]) if layer.bias is None else np.asarray(layer.bias)
            )
            weights.extend((w[i], biases[i]) for i in range(w.shape[0]))
        else:
            bias = (
                np.zeros(w.shape[0]) if layer.bias is None else np.asarray(layer.bias)
            )
            weights.append((w, bias))
    slopes = []
    for i in range(len(weights) - 1):
        act = jtu.tree_map(lambda z: z[i] if eqx.is_array(z) else z, mlp.activation)
        fn = eqx.filter_vmap(lambda f, z: f(z))
        slopes.append(
            _leak_slopes(
                lambda z: fn(act, z), (mlp.width_size,), f"activation of layer {i}"
            )
        )
    out = weights[-1][0].shape[0]
    final = eqx.filter_vmap(lambda f, z: f(z))
    slopes.append(
        _leak_slopes(
            lambda z: final(mlp.final_activation, z), (out,), "final activation"
        )
    )
    return weights, slopes


def _as_layers(
    net: Any, activation: Callable | None, final_activation: Callable | None
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    if isinstance(net, eqx.nn.MLP):
        if activation is not None or final_activation is not None:
            raise ValueError(
                "For an eqx.nn.MLP the activations are read from the MLP; do not pass `activation`."
            )
        return _mlp_layers(net)
    if isinstance(net, (str, bytes)) or not isinstance(net, Sequence):
        raise TypeError(
            "`net` must be an eqx.nn.MLP or a sequence of (W, b) pairs; "
            f"got {type(net).__name__}."
        )
    if len(net) == 0:
        raise ValueError("`net` has no layers: need at least one (W, b) layer.")
    if activation is None:
        raise ValueError(
            "Pass `activation=` (ReLU or leaky ReLU) with a sequence of (W, b) layers."
        )
    weights = []
    try:
        for w, b in net:
            w = np.asarray(w, dtype=np.float64)
            b = np.zeros(w.shape[:1]) if b is None else np.asarray(b, dtype=np.float64)
            weights.append((w, b))
    except (TypeError, ValueError):
        raise TypeError(
            "Expected an eqx.nn.MLP or a sequence of (W, b) pairs."
        ) from None
    if not weights:
        raise ValueError("The plain net has no layers.")
    final = (lambda z: z) if final_activation is None else final_activation
    slopes = [
        _leak_slopes(
            activation if i < len(weights) - 1 else final, (w.shape[0],), "activation"
        )
        for i, (w, _) in enumerate(weights)
    ]
    return weights, slopes


class PlainNetField(AbstractUnitField):
    """The glued, piecewise-in-time velocity field of a plain network (Li & Shi).

    Time runs over $[0,P]$, $P$ unit pieces (five per layer: rotation $V^\\top$,
    scaling, rotation $U$, translation, activation; four when the activation
    is the identity). On piece $p$, with local time $s=t-p\\in[0,1)$,
    $v(t,x)=A_px+\\beta_p+\\kappa_p\\odot\\mathrm{ReLU}(-x)/d_p(s)$ where
    $d_p(s)=\\max(1-s,\\varepsilon)$ on ReLU coordinates and 1 elsewhere. The
    time-$P$ flow map is the plain net, except that on ReLU coordinates the
    clamp $\\varepsilon$ turns the ReLU into a leaky ReLU of slope
    $\\varepsilon/e$ (exactly: $x(1-\\varepsilon)=\\varepsilon x_0$, then
    $\\dot x=-x/\\varepsilon$ for the last $\\varepsilon$ of time), so the
    flow's error on a ReLU layer is at most $(\\varepsilon/e)|\\min(z,0)|$.
    The Euler steps of `refine` never see the clamp (for $n<1/\\varepsilon$)
    and are exact on ReLU pieces: $x_0(1-s)$ is reproduced step by step.

    Build it with `plain_net_flow`. Pieces are selected by indexing stacked
    arrays with the piece index, so the field is jit/vmap friendly. Adaptive
    solves by `flowrep.flow` step onto the piece boundaries `jump_ts` by
    themselves; `field.stepsize_controller(rtol, atol)` builds the same
    controller for other tolerances or for `diffrax.diffeqsolve`.

    **Fields:** `generators` `(P, d, d)` ($A_p$), `shifts` `(P, d)` ($\\beta_p$),
    `rates` `(P, d)` ($\\kappa_p$), `singular` `(P, d)` (ReLU coordinates);
    static `kinds` (piece names), `layers` (layer of each piece), `dim`,
    `relu_eps`.
    """

    generators: Float[Array, "P d d"]
    shifts: Float[Array, "P d"]
    rates: Float[Array, "P d"]
    singular: Bool[Array, "P d"]
    kinds: tuple[str, ...] = eqx.field(static=True)
    layers: tuple[int, ...] = eqx.field(static=True)
    dim: int = eqx.field(static=True)
    relu_eps: float = eqx.field(static=True)

    @property
    def num_pieces(self) -> int:
        return len(self.kinds)

    @property
    def num_layers(self) -> int:
        return self.layers[-1] + 1

    @property
    def t0(self) -> float:
        return 0.0

    @property
    def t1(self) -> float:
        return float(self.num_pieces)

    @property
    def jump_ts(self) -> tuple[float, ...]:
        """Interior piece boundaries $1,\\dots,P-1$ (where the field jumps)."""
        return tuple(float(p) for p in range(1, self.num_pieces))

    def stepsize_controller(
        self, rtol: float = 1e-8, atol: float = 1e-8
    ) -> diffrax.ClipStepSizeController:
        """An adaptive controller that steps exactly onto the piece boundaries.

        `PIDController(rtol, atol)` wrapped in `ClipStepSizeController(jump_ts=...)`:
        pass it to `flowrep.flow(..., stepsize_controller=...)` for an accurate
        solve of the glued (discontinuous in time) field.
        """
        return diffrax.ClipStepSizeController(
            diffrax.PIDController(rtol=rtol, atol=atol), jump_ts=self.jump_ts
        )

    @property
    def sigma(self) -> ReLU:
        return ReLU()

    @property
    def num_units(self) -> int:
        return 2 * self.dim

    def _piece(self, t: ArrayLike) -> tuple[Array, Array]:
        t = jnp.asarray(t, self.shifts.dtype)
        knots = jnp.arange(self.num_pieces, dtype=self.shifts.dtype)
        p = piece_index(knots, t, 0.0, 1.0)
        return p, t - p

    def _rates_at(self, p: Array, s: Array) -> Array:
        den = jnp.maximum(1 - s, self.relu_eps)
        return jnp.where(self.singular[p], self.rates[p] / den, self.rates[p])

    def __call__(self, t: ArrayLike, x: Array, args: Any = None) -> Array:
        """$v(t,x)$ for one point `x` `(d,)` (the diffrax convention).

        **Raises:** `ValueError` for a point of the wrong shape; NaN/inf in `x`
        or `t` (eagerly, or at run time when traced).
        """
        x = check_field_point(x, self.dim, "PlainNetField")
        x = check_finite(x, "x")
        t = check_finite(jnp.asarray(t), "t")
        p, s = self._piece(t)
        return (
            self.generators[p] @ x
            + self.shifts[p]
            + self._rates_at(p, s) * jnp.maximum(-x, 0)
        )

    def batch_call(self, t: ArrayLike, xs: Array, args: Any = None) -> Array:
        """$v(t,x_i)$ for a batch `xs` `(n, d)` (used by `flowrep.flow`)."""
        p, s = self._piece(t)
        return (
            xs @ self.generators[p].T
            + self.shifts[p]
            + self._rates_at(p, s) * jnp.maximum(-xs, 0)
        )

    def units_at(self, t: ArrayLike) -> tuple[Array, Array, Array]:
        """The field at time `t` as $2d$ ReLU units: $a=[I;-I]$, $b=0$, $c=[A^\\top;-A^\\top+\\mathrm{diag}(\\kappa/d)]$."""
        p, s = self._piece(t)
        eye = jnp.eye(self.dim, dtype=self.shifts.dtype)
        a = jnp.concatenate([eye, -eye])
        b = jnp.zeros(2 * self.dim, self.shifts.dtype)
        gen_t = self.generators[p].T
        c = jnp.concatenate([gen_t, -gen_t + jnp.diag(self._rates_at(p, s))])
        return a, b, c

    def bias_at(self, t: ArrayLike) -> Array:
        """The constant part $\\beta_p$ of the piece active at `t`."""
        p, _ = self._piece(t)
        return self.shifts[p]

    def piece_range(self, layer: int) -> tuple[int, int]:
        """Time interval $[p_0,p_1]$ covered by the pieces of `layer`."""
        idx = [p for p, lay in enumerate(self.layers) if lay == layer]
        if not idx:
            raise ValueError(
                f"Layer {layer} out of range; the net has {self.num_layers} layers."
            )
        return idx[0], idx[-1] + 1


def plain_net_flow(
    net: "eqx.nn.MLP | Sequence[tuple[ArrayLike, ArrayLike | None]]",
    *,
    activation: Callable | None = None,
    final_activation: Callable | None = None,
    relu_eps: float = 1e-6,
    dtype: Any = None,
) -> PlainNetField:
    """The glued piecewise-in-time velocity field of a plain net (Li & Shi, arXiv 1708.06257).

    Each layer $x\\mapsto\\phi(Wx+b)$ becomes unit-time flows: rotation
    $V^\\top$, scaling $\\Sigma$, rotation $U$ (from $W=U\\Sigma V^\\top$ with one
    column pair of $U,V$ negated if needed so both are in $SO(d)$),
    translation $b$, activation (docs/theory/flows.md#li-shi). The flow of the result
    from $t=0$ to $t=P$ is the plain net (see `PlainNetField` for the ReLU
    clamp). Weights are read once, in NumPy (the construction is not
    jit-traceable; the field is).

    **Arguments:**

    - `net`: an `eqx.nn.MLP` with `in_size = width_size = out_size = d`
      (activations read from it, per unit), or a sequence of `(W [d, d],
      b [d] or None)` layers.
    - `activation`, `final_activation`: for a sequence of layers only: the
      activation after every layer but the last, and after the last
      (default identity). Each must be ReLU, a leaky ReLU or the identity
      (checked by probing values).
    - `relu_eps`: the clamp $\\varepsilon$ of the ReLU piece.
    - `dtype`: dtype of the field's arrays (default: JAX's default float).

    **Returns:** a `PlainNetField`.

    **Raises:** `ValueError` for a non-square layer or mismatched dimensions,
    $\\det W\\le0$ (a flow of diffeomorphisms preserves orientation and cannot
    collapse a dimension), NaN/inf weights, or an activation that is not
    (leaky) ReLU / identity.
    """
    if isinstance(relu_eps, bool) or not isinstance(
        relu_eps, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`relu_eps` must be a number in (0, 1); got {relu_eps!r}.")
    if not (0 < relu_eps < 1):
        raise ValueError(f"`relu_eps` must lie in (0, 1); got {relu_eps}.")
    if dtype is not None:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(
                f"`dtype` must be a floating dtype; got {dtype!r}."
            ) from None
        if not jnp.issubdtype(dt, jnp.floating):
            raise TypeError(
                f"`dtype` must be a floating dtype (the field's generators are real); got {dt}."
            )
    weights, slopes = _as_layers(net, activation, final_activation)
    dim = weights[0][0].shape[1] if weights[0][0].ndim == 2 else -1
    gens, shifts, rates, singular, kinds, layer_of = [], [], [], [], [], []
    for i, ((w, b), alpha) in enumerate(zip(weights, slopes)):
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ValueError(
                f"Li-Shi plain-net flows need square d x d layers (a flow maps R^d to itself); layer {i} has W of "
                f"shape {w.shape}."
            )
        if w.shape[0] != dim:
            raise ValueError(
                f"Layer {i} has dimension {w.shape[0]} but layer 0 has {dim}; all layers must be d x d."
            )
        if b.shape != (dim,):
            raise ValueError(f"Layer {i} bias must have shape ({dim},); got {b.shape}.")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ValueError(f"Layer {i} has NaN or inf in its weights or bias.")
        det = float(np.linalg.det(w))
        if not det > 0:
            raise ValueError(
                f"Li-Shi needs orientation-preserving square layers (det W > 0): a flow of diffeomorphisms is "
                f"connected to the identity, so it cannot reverse orientation (det < 0) or collapse a dimension "
                f"(det = 0); layer {i} has det W = {det:.6g}."
            )
        u, sv, vt = np.linalg.svd(w)
        if (
            np.linalg.det(u) < 0
        ):  # then det V < 0 too, since det W > 0: negate one column pair
            u[:, -1] *= -1
            vt[-1, :] *= -1
        zero, eye0 = np.zeros(dim), np.zeros((dim, dim))
        for kind, gen, shift in (
            ("rotate_in", rotation_log(vt), zero),
            ("scale", np.diag(np.log(sv)), zero),
            ("rotate_out", rotation_log(u), zero),
            ("translate", eye0, b),
        ):
            gens.append(gen)
            shifts.append(shift)
            rates.append(zero)
            singular.append(np.zeros(dim, bool))
            kinds.append(kind)
            layer_of.append(i)
        alpha = np.broadcast_to(alpha, (dim,))
        if np.any(alpha != 1.0):
            relu = alpha == 0.0
            gens.append(eye0)
            shifts.append(zero)
            rates.append(np.where(relu, 1.0, np.log(1.0 / np.where(relu, 1.0, alpha))))
            singular.append(relu)
            kinds.append("activate")
            layer_of.append(i)
    dtype = jnp.result_type(float) if dtype is None else dtype
    return PlainNetField(
        generators=jnp.asarray(np.stack(gens), dtype),
        shifts=jnp.asarray(np.stack(shifts), dtype),
        rates=jnp.asarray(np.stack(rates), dtype),
        singular=jnp.asarray(np.stack(singular)),
        kinds=tuple(kinds),
        layers=tuple(layer_of),
        dim=dim,
        relu_eps=float(relu_eps),
    )


def refine(net: "PlainNetField | eqx.nn.MLP | Sequence", n: int, **kwargs) -> ResNet:
    """The ResNet refinement of a plain net: $n$ Euler steps per unit flow (Li & Shi).

    The Euler broken line of the glued field with step $1/n$: depth $nP$,
    block $k$ the two-layer ReLU network (2d units plus an output bias) of
    $h\\,v(t_k,\\cdot)$. Its output approaches the plain net's as $O(1/n)$
    (rotation, scaling and leaky pieces are $(I+G/n)^n\\to e^G$; translation
    and ReLU pieces are exact).

    **Arguments:**

    - `net`: a `PlainNetField`, or anything `plain_net_flow` accepts.
    - `n`: Euler steps per unit piece ($n\\ge1$). Leaky pieces keep signs only
      when $n>\\ln(1/\\alpha)$ (each step multiplies by $1-\\ln(1/\\alpha)/n$);
      ReLU pieces are exact while $n<1/\\varepsilon$.
    - `**kwargs`: forwarded to `plain_net_flow` when `net` is not a field.

    **Returns:** a `ResNet` of depth `n * num_pieces` over $[0,P]$.

    **Raises:** as `plain_net_flow`; `ValueError` for $n<1$.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(
            f"`n` (Euler steps per unit flow) must be a positive integer; got {n!r}."
        )
    if isinstance(net, PlainNetField) and kwargs:
        raise ValueError(
            f"`net` is already a PlainNetField: the plain_net_flow options {sorted(kwargs)} do not apply."
        )
    field = net if isinstance(net, PlainNetField) else plain_net_flow(net, **kwargs)
    try:
        resnet = euler_network(field, int(n) * field.num_pieces)
    except MemoryError as e:
        raise MemoryError(f"refine(`n`={n}): {e}") from None
    assert isinstance(resnet, ResNet)
    return resnet
