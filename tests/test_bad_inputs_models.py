"""The bad-input table for the depth, ResNet, Li-Shi, DAE-model and plot entry
points, and the fit losses (issue 14).

Same structure as tests/test_bad_inputs_api.py: each row of `BAD` asserts the
error type and that the message names the argument; the tests below it give
legal-but-unusual inputs (half precision, integers, huge values, jit, a
single sample) and check a finite, right answer against something the code
did not compute itself (a closed form, a NumPy loop, the float64 value).
"""

import os
import re
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib
import numpy as np
import pytest

import flowrep as fr

from ._tables import raises_named, table_params


matplotlib.use("Agg")

X = jnp.asarray(np.random.default_rng(1).normal(size=(8, 2)))
TR = jnp.asarray(np.random.default_rng(2).normal(size=(3, 8, 2)))
K = jr.PRNGKey(0)
GAUSS = jr.normal(jr.PRNGKey(5), (64, 2))
LAW = fr.GaussianLaw(jnp.zeros(2), jnp.eye(2))
RES = fr.ResNet.random(K, 2, 3, 4)
EYE = [(jnp.eye(2), None)]
RELU = jax.nn.relu
PNF = fr.plain_net_flow(EYE, activation=RELU)
RF = fr.field_from_resnet(RES)
assert isinstance(RF, fr.ResNetField)
DEEP = fr.DeepDAEField(LAW)
BMS = fr.BlurringMeanShiftField(1.0, 2)
MLP = eqx.nn.MLP(2, 2, 4, 1, key=K)
DEN = fr.Denoiser(MLP, 0.1)
W4 = jnp.ones((4, 3)) * jnp.arange(4.0)[:, None]
FLOWRES = fr.flow(lambda t, x, a: -x, X, 0.0, 1.0, num_steps=2, solver="euler")
MIX1 = fr.GaussianMixture(jnp.ones(1), jnp.zeros((1, 2)), jnp.eye(2)[None])
DISP: dict[str, Any] = dict(key=K, num_units=10, num_nodes=4, compress_to=None)


def nan(a):
    return a.at[(0,) * a.ndim].set(jnp.nan)


def td(x: Any = X, t: Any = 0.1, **kw: Any) -> fr.Denoiser:
    kw = dict(key=K, num_steps=1, batch_size=4, width=4, depth=1, progress=False) | kw
    return fr.train_denoiser(x, t, **kw)


# (id, call, error, fragment of the message that names the argument)
BAD = [
    # mse_loss / sinkhorn_loss
    ("mse_loss x NaN", lambda: fr.mse_loss(nan(X), X), ValueError, "`x` contains NaN"),
    ("mse_loss y inf", lambda: fr.mse_loss(X, X.at[0, 0].set(jnp.inf)), ValueError, "`y` contains NaN"),
    ("mse_loss x 1-D", lambda: fr.mse_loss(X[0], X[0]), ValueError, "`x` must be a point cloud"),
    ("mse_loss x empty", lambda: fr.mse_loss(jnp.ones((0, 2)), jnp.ones((0, 2))), ValueError, "`x` is empty"),
    ("mse_loss x str", lambda: fr.mse_loss("a", X), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("mse_loss y bool", lambda: fr.mse_loss(X, X > 0), TypeError, "`y` must hold numbers"),
    ("sinkhorn_loss not converged", lambda: fr.sinkhorn_loss(30 * GAUSS, 30 * GAUSS + 30, 1e-4), ValueError, "did not converge"),
    ("sinkhorn_loss x NaN", lambda: fr.sinkhorn_loss(nan(X), X), ValueError, "`x` contains NaN"),
    ("sinkhorn_loss y inf", lambda: fr.sinkhorn_loss(X, X.at[0, 0].set(jnp.inf)), ValueError, "`y` contains NaN"),
    ("sinkhorn_loss x empty", lambda: fr.sinkhorn_loss(jnp.ones((0, 2)), X), ValueError, "`x` is empty"),
    ("sinkhorn_loss y 1-D", lambda: fr.sinkhorn_loss(X, X[0]), ValueError, "`y` must be a point cloud"),
    ("sinkhorn_loss x str", lambda: fr.sinkhorn_loss("abc", X), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("sinkhorn_loss epsilon str", lambda: fr.sinkhorn_loss(X, X, "a"), TypeError, "`epsilon`"),  # pyright: ignore[reportArgumentType]
    ("sinkhorn_loss epsilon NaN", lambda: fr.sinkhorn_loss(X, X, float("nan")), ValueError, "`epsilon`"),
    ("sinkhorn_loss epsilon array<0", lambda: fr.sinkhorn_loss(X, X, jnp.asarray(-1.0)), ValueError, "`epsilon`"),  # pyright: ignore[reportArgumentType]
    ("sinkhorn_loss epsilon vector", lambda: fr.sinkhorn_loss(X, X, jnp.ones(2)), ValueError, "`epsilon` must be a scalar"),  # pyright: ignore[reportArgumentType]
    ("sinkhorn_loss batch_size 0", lambda: fr.sinkhorn_loss(X, X, batch_size=0), ValueError, "`batch_size`"),
    ("sinkhorn_loss stream_pairs 2.5", lambda: fr.sinkhorn_loss(X, X, stream_pairs=2.5), ValueError, "`stream_pairs`"),  # pyright: ignore[reportArgumentType]
    ("sinkhorn_loss huge float32", lambda: fr.sinkhorn_loss((X * 1e30).astype(jnp.float32), (X * 1e30).astype(jnp.float32)[::-1] * 2), ValueError, "`x` and `y` are too large"),
    # ResNet / EulerNetwork / euler_network
    ("ResNet blocks int", lambda: fr.ResNet(3), TypeError, "`blocks`"),  # pyright: ignore[reportArgumentType]
    ("ResNet t0 NaN", lambda: fr.ResNet(RES.blocks, t0=float("nan")), ValueError, "`t0` and `t1` must be finite"),
    ("ResNet t0 = t1", lambda: fr.ResNet(RES.blocks, t0=1.0, t1=1.0), ValueError, "`t1` must differ"),
    ("ResNet x batch", lambda: RES(X), ValueError, "one point `x` of shape (2,)"),
    ("ResNet x dim", lambda: RES(jnp.ones(3)), ValueError, "one point `x` of shape (2,)"),
    ("ResNet x NaN", lambda: RES(nan(X[0])), ValueError, "the input point `x` contains NaN"),
    ("ResNet x str", lambda: RES("ab"), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("ResNet x bool", lambda: RES(jnp.array([True, False])), TypeError, "`x` must hold numbers"),
    ("ResNet tracks NaN", lambda: RES.tracks(nan(X[0])), ValueError, "`x` contains NaN"),
    ("ResNet.random dim 0", lambda: fr.ResNet.random(K, 0, 3, 4), ValueError, "`dim`"),
    ("ResNet.random depth 2.5", lambda: fr.ResNet.random(K, 2, 3, 2.5), ValueError, "`depth`"),  # pyright: ignore[reportArgumentType]
    ("ResNet.random scale NaN", lambda: fr.ResNet.random(K, 2, 3, 4, scale=float("nan")), ValueError, "`scale`"),
    ("ResNet.random scale str", lambda: fr.ResNet.random(K, 2, 3, 4, scale="a"), TypeError, "`scale`"),  # pyright: ignore[reportArgumentType]
    ("ResNet.random t1 inf", lambda: fr.ResNet.random(K, 2, 3, 4, t1=float("inf")), ValueError, "`t0` and `t1` must be finite"),
    ("ResNet.random depth huge", lambda: fr.ResNet.random(K, 2, 3, 10**10), MemoryError, "ResNet.random(depth=10000000000"),
    ("EulerNetwork field", lambda: fr.EulerNetwork(field=3, args=None, t0=0.0, t1=1.0, depth=2, dim=2), TypeError, "`field`"),  # pyright: ignore[reportArgumentType]
    ("EulerNetwork depth 0", lambda: fr.EulerNetwork(field=lambda t, x, a: x, args=None, t0=0.0, t1=1.0, depth=0, dim=2), ValueError, "`depth`"),
    ("EulerNetwork dim 0", lambda: fr.EulerNetwork(field=lambda t, x, a: x, args=None, t0=0.0, t1=1.0, depth=2, dim=0), ValueError, "`dim`"),
    ("EulerNetwork x NaN", lambda: fr.euler_network(lambda t, x, a: -x, 4, t0=0.0, t1=1.0, dim=2)(nan(X[0])), ValueError, "`x` contains NaN"),
    ("EulerNetwork x batch", lambda: fr.euler_network(lambda t, x, a: -x, 4, t0=0.0, t1=1.0, dim=2)(X), ValueError, "one point `x`"),
    # field_from_resnet / ResNetField
    ("field_from_resnet type", lambda: fr.field_from_resnet(3), TypeError, "needs a ResNet"),  # pyright: ignore[reportArgumentType]
    ("field_from_resnet kind", lambda: fr.field_from_resnet(RES, "foo"), ValueError, "kind"),
    ("ResNetField blocks", lambda: fr.ResNetField(blocks=3, t0=0.0, t1=1.0, depth=2, dim=2), TypeError, "`blocks`"),  # pyright: ignore[reportArgumentType]
    ("ResNetField depth mismatch", lambda: fr.ResNetField(blocks=RF.blocks, t0=0.0, t1=1.0, depth=5, dim=2), ValueError, "`blocks`"),  # pyright: ignore[reportAttributeAccessIssue]
    ("ResNetField x dim", lambda: RF(0.0, jnp.ones(3)), ValueError, "one point `x` of shape (2,)"),
    ("ResNetField x NaN", lambda: RF(0.0, nan(X[0])), ValueError, "`x` contains NaN"),
    ("ResNetField t NaN", lambda: RF(float("nan"), X[0]), ValueError, "`t` contains NaN"),
    # resnet_block_weights / depth_smoothness / DepthSmoothness
    ("resnet_block_weights int", lambda: fr.resnet_block_weights(3), TypeError, "`resnet`"),  # pyright: ignore[reportArgumentType]
    ("resnet_block_weights array", lambda: fr.resnet_block_weights(X), TypeError, "`resnet`"),  # pyright: ignore[reportArgumentType]
    ("depth_smoothness empty", lambda: fr.depth_smoothness([]), ValueError, "`networks` must hold"),
    ("depth_smoothness depth 1", lambda: fr.depth_smoothness(jnp.ones((1, 3))), ValueError, "depth >= 2"),
    ("depth_smoothness NaN", lambda: fr.depth_smoothness(nan(W4)), ValueError, "`networks` contains NaN"),
    ("depth_smoothness NaN second", lambda: fr.depth_smoothness([W4, nan(jnp.ones((5, 3)))]), ValueError, "`networks[1]` contains NaN"),
    ("depth_smoothness 1-D", lambda: fr.depth_smoothness(jnp.ones(4)), ValueError, "leading depth axis"),
    ("depth_smoothness str", lambda: fr.depth_smoothness("abc"), TypeError, "`networks`"),
    ("depth_smoothness int", lambda: fr.depth_smoothness(3), TypeError, "`networks`"),
    ("depth_smoothness shapes", lambda: fr.depth_smoothness([[jnp.ones(2), jnp.ones(3)]]), ValueError, "same shape"),
    ("depth_smoothness x raw weights", lambda: fr.depth_smoothness(W4, x=X), ValueError, "`x`"),
    ("depth_smoothness x NaN", lambda: fr.depth_smoothness(RES, x=nan(X)), ValueError, "`x` contains NaN"),
    ("depth_smoothness x dim", lambda: fr.depth_smoothness(RES, x=jnp.ones((4, 3))), ValueError, "`x` has dimension 3"),
    ("depth_smoothness x 1-D", lambda: fr.depth_smoothness(RES, x=X[0]), ValueError, "`x` must be a point cloud"),
    # plain_net_flow / PlainNetField / refine
    ("plain_net_flow net str", lambda: fr.plain_net_flow("abc", activation=RELU), TypeError, "`net`"),  # pyright: ignore[reportArgumentType]
    ("plain_net_flow W NaN", lambda: fr.plain_net_flow([(nan(jnp.eye(2)), None)], activation=RELU), ValueError, "Layer 0 has NaN"),
    ("plain_net_flow relu_eps 2", lambda: fr.plain_net_flow(EYE, activation=RELU, relu_eps=2.0), ValueError, "`relu_eps`"),
    ("plain_net_flow relu_eps str", lambda: fr.plain_net_flow(EYE, activation=RELU, relu_eps="a"), TypeError, "`relu_eps`"),  # pyright: ignore[reportArgumentType]
    ("plain_net_flow det<0", lambda: fr.plain_net_flow([(jnp.diag(jnp.array([1.0, -1.0])), None)], activation=RELU), ValueError, "det W > 0"),
    ("plain_net_flow W not square", lambda: fr.plain_net_flow([(jnp.ones((2, 3)), None)], activation=RELU), ValueError, "square"),
    ("plain_net_flow bias shape", lambda: fr.plain_net_flow([(jnp.eye(2), jnp.ones(3))], activation=RELU), ValueError, "bias must have shape (2,)"),
    ("plain_net_flow no layers", lambda: fr.plain_net_flow([], activation=RELU), ValueError, "no layers"),
    ("plain_net_flow no activation", lambda: fr.plain_net_flow(EYE), ValueError, "`activation=`"),
    ("plain_net_flow activation tanh", lambda: fr.plain_net_flow(EYE * 2, activation=jnp.tanh), ValueError, "activation"),
    ("plain_net_flow dtype int", lambda: fr.plain_net_flow(EYE, activation=RELU, dtype=jnp.int32), TypeError, "`dtype`"),
    ("plain_net_flow dtype name", lambda: fr.plain_net_flow(EYE, activation=RELU, dtype="foo"), TypeError, "`dtype`"),
    ("PlainNetField x dim", lambda: PNF(0.5, jnp.ones(3)), ValueError, "one point `x` of shape (2,)"),
    ("PlainNetField x NaN", lambda: PNF(0.5, nan(X[0])), ValueError, "`x` contains NaN"),
    ("PlainNetField t NaN", lambda: PNF(float("nan"), X[0]), ValueError, "`t` contains NaN"),
    ("PlainNetField piece_range", lambda: PNF.piece_range(5), ValueError, "Layer 5 out of range"),
    ("refine n 0", lambda: fr.refine(EYE, 0, activation=RELU), ValueError, "`n`"),
    ("refine n 2.5", lambda: fr.refine(EYE, 2.5, activation=RELU), ValueError, "`n`"),  # pyright: ignore[reportArgumentType]
    ("refine net str", lambda: fr.refine("abc", 2), TypeError, "`net`"),  # pyright: ignore[reportArgumentType]
    ("refine n huge", lambda: fr.refine(EYE, 10**9, activation=RELU), MemoryError, "euler_network(depth="),
    ("refine kwargs for a field", lambda: fr.refine(PNF, 2, relu_eps=0.1), ValueError, "`net` is already a PlainNetField"),
    # flow_entropy
    ("flow_entropy result", lambda: fr.flow_entropy(3, jnp.zeros(8)), TypeError, "`result`"),  # pyright: ignore[reportArgumentType]
    ("flow_entropy no log-density", lambda: fr.flow_entropy(FLOWRES, jnp.zeros(8)), ValueError, "log_density"),
    # stacked_dae_laws / stacked_dae / depth_table
    ("stacked_dae_laws law", lambda: fr.stacked_dae_laws(3, 0.1, 2), TypeError, "GaussianLaw"),  # pyright: ignore[reportArgumentType]
    ("stacked_dae_laws t<0", lambda: fr.stacked_dae_laws(LAW, -0.1, 2), ValueError, "`t` must be >= 0"),
    ("stacked_dae_laws t NaN", lambda: fr.stacked_dae_laws(LAW, float("nan"), 2), ValueError, "`t` must be finite"),
    ("stacked_dae_laws t str", lambda: fr.stacked_dae_laws(LAW, "a", 2), TypeError, "`t` must be a real number"),
    ("stacked_dae_laws L 0", lambda: fr.stacked_dae_laws(LAW, 0.1, 0), ValueError, "`num_layers`"),
    ("stacked_dae_laws L 2.5", lambda: fr.stacked_dae_laws(LAW, 0.1, 2.5), ValueError, "`num_layers`"),  # pyright: ignore[reportArgumentType]
    ("stacked_dae_laws L str", lambda: fr.stacked_dae_laws(LAW, 0.1, "a"), ValueError, "`num_layers`"),  # pyright: ignore[reportArgumentType]
    ("stacked_dae x NaN", lambda: fr.stacked_dae(nan(X), 0.1, 2, law=LAW), ValueError, "`x` contains NaN"),
    ("stacked_dae x 1-D", lambda: fr.stacked_dae(X[0], 0.1, 2, law=LAW), ValueError, "`x`"),
    ("stacked_dae x dim", lambda: fr.stacked_dae(jnp.ones((4, 3)), 0.1, 2, law=LAW), ValueError, "`x` has dimension 3"),
    ("stacked_dae x empty", lambda: fr.stacked_dae(jnp.ones((0, 2)), 0.1, 2, law=LAW), ValueError, "`x` is empty"),
    ("stacked_dae x str", lambda: fr.stacked_dae("abc", 0.1, 2, law=LAW), TypeError, "`x`"),  # pyright: ignore[reportArgumentType]
    ("stacked_dae L 2.5", lambda: fr.stacked_dae(X, 0.1, 2.5, law=LAW), ValueError, "`num_layers`"),  # pyright: ignore[reportArgumentType]
    ("stacked_dae t<0", lambda: fr.stacked_dae(X, -0.1, 2, law=LAW), ValueError, "`t`"),
    ("stacked_dae t traced", lambda: jax.jit(lambda t: fr.stacked_dae(X, t, 2, law=LAW))(0.1), TypeError, "not jittable: `t`"),
    ("stacked_dae fit", lambda: fr.stacked_dae(X, 0.1, 2, law=LAW, fit="foo"), ValueError, "fit"),
    ("stacked_dae no law", lambda: fr.stacked_dae(X, 0.1, 2), ValueError, "`law` or `num_components`"),
    ("stacked_dae no key", lambda: fr.stacked_dae(X, 0.1, 2, num_components=2), ValueError, "`key`"),
    ("stacked_dae law type", lambda: fr.stacked_dae(X, 0.1, 2, law=3), TypeError, "`law`"),  # pyright: ignore[reportArgumentType]
    ("stacked_dae bandwidth<0", lambda: fr.stacked_dae(X, 0.1, 2, fit="empirical", bandwidth=-1.0), ValueError, "`bandwidth`"),
    ("stacked_dae bandwidth NaN", lambda: fr.stacked_dae(X, 0.1, 2, fit="empirical", bandwidth=float("nan")), ValueError, "`bandwidth`"),
    ("stacked_dae bandwidth str", lambda: fr.stacked_dae(X, 0.1, 2, fit="empirical", bandwidth="a"), TypeError, "`bandwidth`"),  # pyright: ignore[reportArgumentType]
    ("stacked_dae em_iters 0", lambda: fr.stacked_dae(X, 0.1, 2, law=LAW, em_iters=0), ValueError, "`em_iters`"),
    ("stacked_dae chunk_size 0", lambda: fr.stacked_dae(X, 0.1, 2, fit="empirical", chunk_size=0), ValueError, "chunk_size"),
    ("depth_table law", lambda: fr.depth_table(3, 0.1), TypeError, "`law`"),  # pyright: ignore[reportArgumentType]
    ("depth_table t<0", lambda: fr.depth_table(LAW, -0.1, (1, 2)), ValueError, "`t`"),
    ("depth_table L 0", lambda: fr.depth_table(LAW, 0.1, (0, 2)), ValueError, "`num_layers[0]`"),
    ("depth_table L 2.5", lambda: fr.depth_table(LAW, 0.1, (1, 2.5)), ValueError, "`num_layers[1]`"),  # pyright: ignore[reportArgumentType]
    ("depth_table L empty", lambda: fr.depth_table(LAW, 0.1, ()), ValueError, "`num_layers` must hold"),
    ("depth_table L int", lambda: fr.depth_table(LAW, 0.1, 3), TypeError, "`num_layers`"),  # pyright: ignore[reportArgumentType]
    ("depth_table past collapse", lambda: fr.depth_table(LAW, 0.6, (1,)), fr.CollapseError, "collapse"),
    ("depth_table t traced", lambda: jax.jit(lambda t: fr.depth_table(LAW, t, (1,)))(0.1), TypeError, "not jittable: `t`"),
    ("depth_table mixture key", lambda: fr.depth_table(MIX1, 0.1, (1,)), ValueError, "`key`"),
    ("depth_table num_samples 0", lambda: fr.depth_table(LAW, 0.1, (1,), num_samples=0), ValueError, "`num_samples`"),
    ("depth_table em_iters 0", lambda: fr.depth_table(LAW, 0.1, (1,), em_iters=0), ValueError, "`em_iters`"),
    # train_denoiser / train_stacked_denoisers / Denoiser
    ("train_denoiser x NaN", lambda: td(nan(X)), ValueError, "`x` contains NaN"),
    ("train_denoiser x 1-D", lambda: td(X[0]), ValueError, "`x`"),
    ("train_denoiser x empty", lambda: td(jnp.ones((0, 2))), ValueError, "`x` is empty"),
    ("train_denoiser x str", lambda: td("abc"), TypeError, "`x`"),
    ("train_denoiser x huge float32", lambda: td((X * 1e30).astype(jnp.float32)), ValueError, "`x` is too large"),
    ("train_denoiser t 0", lambda: td(t=0.0), ValueError, "`t`"),
    ("train_denoiser t inf", lambda: td(t=float("inf")), ValueError, "`t` must be finite"),
    ("train_denoiser t traced", lambda: jax.jit(lambda t: td(t=t).noise)(0.1), TypeError, "not jittable: `t`"),
    ("train_denoiser num_steps 0", lambda: td(num_steps=0), ValueError, "`num_steps`"),
    ("train_denoiser num_steps 2.5", lambda: td(num_steps=2.5), ValueError, "`num_steps`"),
    ("train_denoiser width 2.5", lambda: td(width=2.5), ValueError, "`width`"),
    ("train_denoiser depth 0", lambda: td(depth=0), ValueError, "`depth`"),
    ("train_denoiser batch_size str", lambda: td(batch_size="a"), ValueError, "`batch_size`"),
    ("train_denoiser steps_per_call 0", lambda: td(steps_per_call=0), ValueError, "`steps_per_call`"),
    ("train_denoiser learning_rate<0", lambda: td(learning_rate=-1.0), ValueError, "`learning_rate`"),
    ("train_denoiser learning_rate NaN", lambda: td(learning_rate=float("nan")), ValueError, "`learning_rate`"),
    ("train_denoiser progress", lambda: td(progress="no"), TypeError, "`progress`"),
    ("train_denoiser key", lambda: td(key=3), TypeError, "`key`"),
    ("train_stacked L 0", lambda: fr.train_stacked_denoisers(X, 0.1, 0, key=K, progress=False), ValueError, "`num_layers`"),
    ("train_stacked L 2.5", lambda: fr.train_stacked_denoisers(X, 0.1, 2.5, key=K, progress=False), ValueError, "`num_layers`"),  # pyright: ignore[reportArgumentType]
    ("train_stacked x NaN", lambda: fr.train_stacked_denoisers(nan(X), 0.1, 2, key=K, progress=False), ValueError, "`x` contains NaN"),
    ("train_stacked t<0", lambda: fr.train_stacked_denoisers(X, -0.1, 2, key=K, progress=False), ValueError, "`t`"),
    ("train_stacked t str", lambda: fr.train_stacked_denoisers(X, "a", 2, key=K, progress=False), TypeError, "`t`"),  # pyright: ignore[reportArgumentType]
    ("train_stacked learning_rate<0", lambda: fr.train_stacked_denoisers(X, 0.1, 2, key=K, progress=False, learning_rate=-1.0), ValueError, "`learning_rate`"),
    ("Denoiser mlp", lambda: fr.Denoiser(3, 0.1), TypeError, "`mlp`"),  # pyright: ignore[reportArgumentType]
    ("Denoiser mlp sizes", lambda: fr.Denoiser(eqx.nn.MLP(2, 3, 4, 1, key=K), 0.1), ValueError, "`mlp`"),
    ("Denoiser noise<0", lambda: fr.Denoiser(MLP, -0.1), ValueError, "`noise`"),
    ("Denoiser x batch", lambda: DEN(X), ValueError, "one point `x` of shape (2,)"),
    ("Denoiser x dim", lambda: DEN(jnp.ones(3)), ValueError, "one point `x` of shape (2,)"),
    ("Denoiser x NaN", lambda: DEN(nan(X[0])), ValueError, "`x` contains NaN"),
    ("Denoiser displacement NaN", lambda: DEN.displacement(nan(X[0])), ValueError, "`x` contains NaN"),
    # DeepDAEField / BlurringMeanShiftField
    ("DeepDAEField law", lambda: fr.DeepDAEField(3), TypeError, "GaussianLaw"),  # pyright: ignore[reportArgumentType]
    ("DeepDAEField x dim", lambda: DEEP(0.1, jnp.ones(3)), ValueError, "one point `x` (2,)"),
    ("DeepDAEField x 3-D", lambda: DEEP(0.1, jnp.ones((2, 2, 2))), ValueError, "one point `x` (2,)"),
    ("DeepDAEField t past collapse", lambda: DEEP(0.7, X[0]), ValueError, "`t` must be finite and below the collapse time"),
    ("DeepDAEField t NaN", lambda: DEEP(float("nan"), X), ValueError, "`t` must be finite"),
    ("BlurringMeanShiftField bandwidth 0", lambda: fr.BlurringMeanShiftField(0.0, 2), ValueError, "`bandwidth`"),
    ("BlurringMeanShiftField bandwidth NaN", lambda: fr.BlurringMeanShiftField(float("nan"), 2), ValueError, "`bandwidth`"),
    ("BlurringMeanShiftField point_dim 0", lambda: fr.BlurringMeanShiftField(1.0, 0), ValueError, "`point_dim`"),
    ("BlurringMeanShiftField chunk_size 0", lambda: fr.BlurringMeanShiftField(1.0, 2, 0), ValueError, "`chunk_size`"),
    ("BlurringMeanShiftField x length", lambda: BMS(0.0, jnp.ones(5)), ValueError, "flattened cloud `x`"),
    ("BlurringMeanShiftField x 2-D", lambda: BMS(0.0, X), ValueError, "flattened cloud `x`"),
    ("DeepDAEField batch_call t past collapse", lambda: DEEP.batch_call(0.7, X), ValueError, "`t` must be finite and below the collapse time"),
    ("DeepDAEField batch_divergence t NaN", lambda: DEEP.batch_divergence(float("nan"), X), ValueError, "`t` must be finite"),
    ("DeepDAEField batch_call x NaN", lambda: DEEP.batch_call(0.1, nan(X)), ValueError, "score grad log mu_t is NaN/inf at the points `x`"),
    ("DeepDAEField x 1e200", lambda: DEEP(0.1, X[0] * 1e200), ValueError, "score grad log mu_t is NaN/inf at the points `x`"),
    ("flow DeepDAEField past collapse", lambda: fr.flow(DEEP, X, 0.0, 0.8, solver="euler", num_steps=4).tracks, Exception, "DeepDAEField: `t` must be finite and below the collapse time"),
    ("deep_dae_flow x0 1e200", lambda: fr.deep_dae_flow(LAW, X * 1e200, 0.1), ValueError, "overflows at the starting points `x0`"),
    ("BlurringMeanShiftField x NaN", lambda: BMS(0.0, nan(X).ravel()), ValueError, "velocity is NaN/inf on the cloud `x`"),
    ("blurring_mean_shift x0 1e200", lambda: fr.blurring_mean_shift_flow(X * 1e200, 1.0, 0.5), ValueError, "`x0` with this `bandwidth`"),
    ("flow BlurringMeanShiftField 1e200", lambda: fr.flow(BMS, (X * 1e200).reshape(1, -1), 0.0, 1.0, solver="euler", num_steps=2).tracks, Exception, "BlurringMeanShiftField: the velocity is NaN/inf"),
    # displacement_network
    ("displacement_network center NaN", lambda: fr.displacement_network(lambda x: -x, jnp.array([jnp.nan, 0.0]), 1.0, **DISP), ValueError, "`center` contains NaN"),
    ("displacement_network center 2-D", lambda: fr.displacement_network(lambda x: -x, jnp.zeros((2, 2)), 1.0, **DISP), ValueError, "`center`"),
    ("displacement_network center str", lambda: fr.displacement_network(lambda x: -x, "ab", 1.0, **DISP), TypeError, "`center`"),  # pyright: ignore[reportArgumentType]
    ("displacement_network radius 0", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 0.0, **DISP), ValueError, "`radius`"),
    ("displacement_network radius str", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), "a", **DISP), TypeError, "`radius`"),  # pyright: ignore[reportArgumentType]
    ("displacement_network order odd", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, order=3, **DISP), ValueError, "`order`"),
    ("displacement_network order 2.5", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, order=2.5, **DISP), ValueError, "`order`"),  # pyright: ignore[reportArgumentType]
    ("displacement_network num_units 0", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, key=K, num_units=0), ValueError, "`num_units`"),
    ("displacement_network num_nodes 2.5", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, key=K, num_nodes=2.5), ValueError, "`num_nodes`"),  # pyright: ignore[reportArgumentType]
    ("displacement_network num_nodes huge", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, key=K, num_nodes=10**6), MemoryError, "num_nodes=1000000"),
    ("displacement_network compress_to 0", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, key=K, num_units=10, num_nodes=4, compress_to=0), ValueError, "`compress_to`"),
    ("displacement_network a_scale<0", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, a_scale=-1.0, **DISP), ValueError, "`a_scale`"),
    ("displacement_network shape", lambda: fr.displacement_network(lambda x: x[:1], jnp.zeros(2), 1.0, **DISP), ValueError, "`displacement`"),
    ("displacement_network not callable", lambda: fr.displacement_network(3, jnp.zeros(2), 1.0, **DISP), TypeError, "`displacement`"),  # pyright: ignore[reportArgumentType]
    ("displacement_network NaN values", lambda: fr.displacement_network(lambda x: x * jnp.nan, jnp.zeros(2), 1.0, **DISP), ValueError, "NaN"),
    ("displacement_network key", lambda: fr.displacement_network(lambda x: -x, jnp.zeros(2), 1.0, key=3, num_units=10, num_nodes=4, compress_to=None), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    # dae_story (each refused before the minute of work)
    ("dae_story quick", lambda: fr.dae_story(quick="yes"), TypeError, "`quick`"),  # pyright: ignore[reportArgumentType]
    ("dae_story figures", lambda: fr.dae_story(figures=1), TypeError, "`figures`"),  # pyright: ignore[reportArgumentType]
    ("ResNet.random key", lambda: fr.ResNet.random(3, dim=2, width=4, depth=2), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    ("euler_network dim 2.5", lambda: fr.euler_network(lambda t, x, a: -x, 2, t0=0.0, t1=1.0, dim=2.5), ValueError, "`dim`"),  # pyright: ignore[reportArgumentType]
    ("dae_story key", lambda: fr.dae_story(key=3), TypeError, "`key`"),  # pyright: ignore[reportArgumentType]
    ("dae_story out_dir a file", lambda: fr.dae_story(os.path.abspath(__file__)), FileExistsError, "`out_dir`"),
    ("dae_story out_dir under a file", lambda: fr.dae_story(os.path.join(os.path.abspath(__file__), "x")), NotADirectoryError, "`out_dir`"),
    ("dae_story out_dir empty", lambda: fr.dae_story(""), ValueError, "`out_dir`"),
    # plots
    ("plot_tracks NaN", lambda: fr.plot_tracks(nan(TR)), ValueError, "`tracks` contains NaN"),
    ("plot_tracks 3-D points", lambda: fr.plot_tracks(jnp.ones((3, 8, 3))), ValueError, "2-D tracks"),
    ("plot_tracks one layer", lambda: fr.plot_tracks(TR[:1]), ValueError, "2 layers"),
    ("plot_tracks str", lambda: fr.plot_tracks("abc"), TypeError, "`points`"),
    ("plot_tracks max_tracks 0", lambda: fr.plot_tracks(TR, max_tracks=0), ValueError, "`max_tracks`"),
    ("plot_tracks max_tracks 2.5", lambda: fr.plot_tracks(TR, max_tracks=2.5), ValueError, "`max_tracks`"),  # pyright: ignore[reportArgumentType]
    ("plot_tracks pairing", lambda: fr.plot_tracks(TR, pairing="yes"), TypeError, "`pairing`"),  # pyright: ignore[reportArgumentType]
    ("plot_tracks ax", lambda: fr.plot_tracks(TR, ax=3), TypeError, "`ax`"),
    ("plot_tracks path missing folder", lambda: fr.plot_tracks(TR, path="/nonexistent-flowrep/x.png"), FileNotFoundError, "`path`"),
    ("plot_tracks path a folder", lambda: fr.plot_tracks(TR, path=os.path.dirname(os.path.abspath(__file__))), IsADirectoryError, "`path`"),
    ("plot_tracks path empty", lambda: fr.plot_tracks(TR, path=""), ValueError, "`path`"),
    ("plot_tracks path int", lambda: fr.plot_tracks(TR, path=3), TypeError, "`path`"),  # pyright: ignore[reportArgumentType]
    ("plot_layer_w2 type", lambda: fr.plot_layer_w2(3), TypeError, "`scores`"),  # pyright: ignore[reportArgumentType]
    ("plot_scores type", lambda: fr.plot_scores(3), TypeError, "`scores`"),  # pyright: ignore[reportArgumentType]
    ("plot_scores dict value", lambda: fr.plot_scores({"a": 3}), TypeError, "`scores['a']`"),  # pyright: ignore[reportArgumentType]
    ("plot_scores empty dict", lambda: fr.plot_scores({}), ValueError, "`scores`"),
]  # fmt: skip


# rows whose check comes after a compile of the computation
SLOW_ROWS = {
    "displacement_network NaN values",
    "sinkhorn_loss not converged",
    "flow DeepDAEField past collapse",
    "flow BlurringMeanShiftField 1e200",
}


@pytest.mark.parametrize("call,error,match", table_params(BAD, SLOW_ROWS))
def test_bad_input_named(call, error, match):
    raises_named(call, error, match)


# ------------------------------------------------- legal but unusual inputs


def _f64(a):
    return np.asarray(a, np.float64)


def test_mse_loss_promotes_and_is_right():
    y = X[::-1]
    want = np.mean(np.sum((_f64(X) - _f64(y)) ** 2, -1))
    for dtype in (jnp.float16, jnp.bfloat16):
        xh, yh = X.astype(dtype), y.astype(dtype)
        got = fr.mse_loss(xh, yh)
        assert got.dtype == jnp.float32
        ref = np.mean(np.sum((_f64(xh) - _f64(yh)) ** 2, -1))
        assert abs(float(got) - ref) < 1e-5 * ref
    xi = jnp.arange(6).reshape(3, 2)
    assert float(fr.mse_loss(xi, xi + 1)) == 2.0
    assert abs(float(jax.jit(fr.mse_loss)(X, y)) - want) < 1e-5 * want
    big = fr.mse_loss(X * 1e15, y * 1e15)  # 1e30 squared: fine in float32 too
    assert np.isfinite(float(big)) and abs(float(big) / 1e30 - want) < 1e-5 * want


def test_mse_loss_nan_under_jit_raises():
    with pytest.raises(Exception, match=re.escape("`x` contains NaN")):
        jax.block_until_ready(jax.jit(fr.mse_loss)(nan(X), X))


@pytest.mark.slow
def test_sinkhorn_loss_translation_closed_form_and_precision():
    """S_eps(mu, mu + c) = |c|^2 exactly (the cross term is separable), also for
    clouds offset by 3000 in float32, half precision and mixed float32/64."""
    c = jnp.array([1.0, 1.0])
    want = 2.0
    got = float(fr.sinkhorn_loss(X, X + c))
    assert abs(got - want) < 1e-4
    x32 = (X + 3000.0).astype(jnp.float32)
    shifted = float(fr.sinkhorn_loss(x32, x32 + c.astype(jnp.float32)))
    assert abs(shifted - want) < 1e-3  # the float32 inputs' own rounding at 3000
    x16 = X.astype(jnp.float16)
    half = fr.sinkhorn_loss(x16, x16 + jnp.float16(1.0))
    assert half.dtype == jnp.float32 and abs(float(half) - want) < 1e-3
    mixed = fr.sinkhorn_loss(X.astype(jnp.float32), X + c)
    assert abs(float(mixed) - want) < 1e-4


def test_resnet_point_dtypes_against_a_numpy_loop():
    """Integer and half-precision points are promoted to the blocks' dtype;
    the output equals a float64 loop over the blocks."""
    bl = RES.blocks
    bias = bl.bias
    assert bias is not None

    def brute(x):
        x = _f64(x)
        for k in range(RES.depth):
            a, b, c = _f64(bl.a[k]), _f64(bl.b[k]), _f64(bl.c[k])
            x = x + np.maximum(a @ x - b, 0) @ c + _f64(bias[k])
        return x

    tol = 1e-5 if bl.a.dtype == jnp.float32 else 1e-12
    for x in (jnp.array([1, -2]), X[0].astype(jnp.float16)):
        out = RES(x)
        assert out.dtype == bl.a.dtype
        np.testing.assert_allclose(_f64(out), brute(x), rtol=tol, atol=tol)
    tracks = jax.vmap(RES.tracks)(X)
    np.testing.assert_allclose(
        _f64(tracks[:, -1]), np.stack([brute(x) for x in X]), rtol=tol, atol=tol
    )
    with pytest.raises(Exception, match=re.escape("`x` contains NaN")):
        jax.block_until_ready(jax.jit(lambda x: RES(x))(nan(X[0])))


def test_euler_network_closed_form_and_field_round_trip():
    """v = -x: the depth-L Euler line is (1 - 1/L)^L x; a ResNet read as a
    field and rebuilt with euler_network gives the same outputs."""
    net = fr.euler_network(lambda t, x, a: -x, 4, t0=0.0, t1=1.0, dim=2)
    assert isinstance(net, fr.EulerNetwork)
    np.testing.assert_allclose(_f64(net(X[0])), _f64(X[0]) * 0.75**4, rtol=1e-6)
    field = fr.field_from_resnet(RES)
    assert isinstance(field, fr.ResNetField)
    again = fr.euler_network(field, RES.depth)
    np.testing.assert_allclose(
        _f64(jax.vmap(again)(X)), _f64(jax.vmap(RES)(X)), rtol=1e-5, atol=1e-6
    )
    w = fr.resnet_block_weights(RES)
    assert RES.blocks.bias is not None
    h = RES.step_size
    np.testing.assert_allclose(_f64(w[1, -2:]), _f64(RES.blocks.bias[1]) / h)


def test_depth_smoothness_closed_form_half_precision_and_huge():
    """W_l = (l/L) W: every increment is |W|_F / L, so beta = 1 exactly; half
    precision is promoted, and 1e30 weights in float32 do not overflow."""
    wmat = jnp.asarray(np.random.default_rng(3).normal(size=(3, 2)))
    nets = [jnp.arange(L)[:, None, None] / L * wmat for L in (4, 8, 16)]
    res = fr.depth_smoothness(nets)
    assert isinstance(res, fr.DepthSmoothness)
    want = np.linalg.norm(_f64(wmat)) / np.array([4, 8, 16])
    np.testing.assert_allclose(_f64(res.max_increment), want, rtol=1e-6)
    assert abs(float(res.beta) - 1.0) < 1e-6
    half = fr.depth_smoothness(nets[0].astype(jnp.float16))
    assert half.max_increment.dtype != jnp.float16
    assert abs(float(half.max_increment[0]) - want[0]) < 2e-3 * want[0]
    big = fr.depth_smoothness((nets[0] * 1e30).astype(jnp.float32))
    assert np.isfinite(float(big.max_increment[0]))
    assert abs(float(big.max_increment[0]) / 1e30 - want[0]) < 1e-5 * want[0]


def test_plain_net_refine_closed_form():
    """W = diag(3, 2), identity activation: the rotations are the identity and
    n Euler steps of the scaling piece give (1 + log(s)/n)^n per axis; an
    integer W is read as float."""
    w = np.diag([3, 2])
    n = 5
    net = fr.refine([(w, np.array([1, -1]))], n, activation=lambda z: z)
    x = jnp.array([0.5, -1.0])
    want = (1 + np.log([3.0, 2.0]) / n) ** n * _f64(x) + np.array([1.0, -1.0])
    np.testing.assert_allclose(_f64(net(x)), want, rtol=1e-6)
    field = fr.plain_net_flow([(w, None)], activation=lambda z: z, dtype=jnp.float32)
    assert isinstance(field, fr.PlainNetField) and field.generators.dtype == jnp.float32
    np.testing.assert_allclose(
        _f64(field(1.5, x)), np.log([3.0, 2.0]) * _f64(x), rtol=1e-6
    )


def test_flow_entropy_closed_form():
    """v = -x in R^2: log mu_t(x_t) = log mu_0(x_0) + 2t, so H(t) = H(0) - 2t."""
    res = fr.flow(
        lambda t, x, a: -x, X, 0.0, 1.0, ts=jnp.array([0.0, 1.0]), log_density="exact"
    )
    ld0 = jax.vmap(LAW.log_prob)(X)
    h = fr.flow_entropy(res, ld0)
    h0 = -float(jnp.mean(ld0))
    np.testing.assert_allclose(_f64(h), [h0, h0 - 2.0], rtol=1e-5)
    with pytest.raises(
        ValueError, match=re.escape("`log_density0` must have shape (8,)")
    ):
        fr.flow_entropy(res, ld0[:3])
    with pytest.raises(ValueError, match=re.escape("`log_density0` contains NaN")):
        fr.flow_entropy(res, nan(ld0))


def test_stacked_dae_laws_closed_form_and_jit():
    """Each layer maps an eigenvalue lam to lam^3 / (lam + t/L)^2, also under jit."""
    law = fr.GaussianLaw(jnp.zeros(2), jnp.diag(jnp.array([1.0, 2.0])))
    t, L = 0.2, 3
    lam = np.array([1.0, 2.0])
    for _ in range(L):
        lam = lam**3 / (lam + t / L) ** 2
    out = fr.stacked_dae_laws(law, t, L)[-1]
    np.testing.assert_allclose(np.diag(_f64(out.cov)), lam, rtol=1e-6)
    jitted = jax.jit(lambda s: fr.stacked_dae_laws(law, s, L)[-1].cov)(t)
    np.testing.assert_allclose(np.diag(_f64(jitted)), lam, rtol=1e-6)
    rows = fr.depth_table(law, t, (L,))
    deep = np.sqrt(np.array([1.0, 2.0]) - 2 * t)
    assert abs(rows[0]["w2_to_deep"] - np.linalg.norm(np.sqrt(lam) - deep)) < 1e-6


def test_stacked_dae_single_sample_and_integers():
    """One point: the empirical DAE leaves it fixed; integer points are read
    as floats and match the closed-form shallow DAE layer by layer."""
    one = fr.stacked_dae(X[:1], 0.1, 2, fit="empirical")
    np.testing.assert_allclose(_f64(one[-1]), _f64(X[:1]), atol=1e-12)
    xi = jnp.array([[1, 2], [3, -4]])
    out = fr.stacked_dae(xi, 0.2, 2, law=LAW)
    # N(0, I), tau = 0.1: layer 1 scales by 1/(1 + 0.1)
    np.testing.assert_allclose(_f64(out[1]), _f64(xi) / 1.1, rtol=1e-6)


def test_deep_dae_field_closed_form_and_jit_collapse():
    """N(0, I): grad log mu_t(x) = -x / (1 - 2t); past t* = 1/2 it raises under jit too."""
    t = 0.2
    np.testing.assert_allclose(_f64(DEEP(t, X)), -_f64(X) / (1 - 2 * t), rtol=1e-6)
    np.testing.assert_allclose(
        _f64(DEEP(t, X[0])), -_f64(X[0]) / (1 - 2 * t), rtol=1e-6
    )
    with pytest.raises(Exception, match="collapse time"):
        jax.block_until_ready(jax.jit(lambda s: DEEP(s, X[0]))(0.7))


def test_blurring_mean_shift_field_against_a_numpy_loop():
    h = 1.0
    xs = _f64(X)
    want = np.empty_like(xs)
    for i in range(len(xs)):
        w = np.exp(-np.sum((xs - xs[i]) ** 2, 1) / (2 * h))
        want[i] = (w @ xs / w.sum() - xs[i]) / h
    got = BMS(0.0, X.ravel()).reshape(X.shape)
    np.testing.assert_allclose(_f64(got), want, rtol=1e-5, atol=1e-6)
    # float32 at an offset of 1e4: the field centres the cloud, so it agrees
    # with the same reference on the same rounded inputs (the expanded
    # q.x_j - |x_j|^2 / 2 lost everything at 1e8 before).
    x32 = (X + 1e4).astype(jnp.float32)
    xs32 = _f64(x32) - _f64(x32).mean(0)
    want32 = np.empty_like(xs32)
    for i in range(len(xs32)):
        w = np.exp(-np.sum((xs32 - xs32[i]) ** 2, 1) / (2 * h))
        want32[i] = (w @ xs32 / w.sum() - xs32[i]) / h
    got32 = BMS(0.0, x32.ravel()).reshape(X.shape)
    np.testing.assert_allclose(_f64(got32), want32, rtol=1e-4, atol=1e-5)


def test_denoiser_integer_point_and_jit_nan():
    xi = jnp.array([1, 2])
    np.testing.assert_allclose(
        _f64(DEN(xi)), _f64(xi) + _f64(MLP(xi.astype(float))), rtol=1e-6
    )
    with pytest.raises(Exception, match=re.escape("`x` contains NaN")):
        jax.block_until_ready(jax.jit(lambda x: DEN(x))(nan(X[0])))


@pytest.mark.slow
def test_train_denoiser_half_precision_trains_in_float32():
    model = td(X.astype(jnp.bfloat16), num_steps=2)
    assert isinstance(model, fr.Denoiser)
    assert model.mlp.layers[0].weight.dtype == jnp.float32
    out = jax.vmap(model)(X.astype(jnp.float32))
    assert np.all(np.isfinite(np.asarray(out)))


def test_plot_tracks_path_without_extension_is_png(tmp_path):
    """A path without an extension gets a PNG at exactly that name (matplotlib
    alone would write `path.png` beside it); nothing else is left."""
    target = tmp_path / "tracks"
    fig = fr.plot_tracks(TR, path=str(target), max_tracks=4)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tracks"]
    assert len(fig.axes) == 1
    big = fr.plot_tracks(TR * 1e30, pairing=False)
    assert len(big.axes) == 1


@pytest.mark.slow
def test_plot_scores_and_layer_w2_write_files(tmp_path):
    sc = fr.score_tracks(fr.Tracks(TR))
    fr.plot_layer_w2(sc, path=str(tmp_path / "w2.png"))
    fr.plot_scores({"a": sc, "b": sc}, path=str(tmp_path / "s.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png", "w2.png"]


@pytest.mark.slow
@pytest.mark.parametrize("epsilon", [1e-12, 1e-20])
def test_fit_tiny_epsilon_is_a_finite_field_or_a_clear_error(epsilon):
    """fit's inner Sinkhorn loss is not checked for convergence: with an
    epsilon far below the squared distances the result must still be a
    field with finite parameters, or a FloatingPointError from fit."""
    src = jr.normal(jr.PRNGKey(1), (16, 2))
    tgt = jr.normal(jr.PRNGKey(2), (16, 2)) * 0.5 + 2.0
    field = fr.RidgeletField.random(jr.PRNGKey(3), 2, 4)
    try:
        trained, history = fr.fit(
            field,
            src,
            tgt,
            key=K,
            steps=4,
            steps_per_call=4,
            epsilon=epsilon,
            progress=False,
        )
    except FloatingPointError as e:
        # the optimiser's words, or the Sinkhorn solve's underflow named
        assert str(e).startswith(("fit: the loss", "fit: the Sinkhorn loss"))
        assert "use float64" not in str(e) or src.dtype != np.float64
        return
    leaves = jax.tree.leaves(eqx.filter(trained, eqx.is_inexact_array))
    assert leaves and all(bool(jnp.all(jnp.isfinite(a))) for a in leaves)
    assert np.all(np.isfinite(history["loss"]))
