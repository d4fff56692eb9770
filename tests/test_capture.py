"""Feature capture from real models: eqx, Flax NNX, Flax Linen and PyTorch
versions of one network (copied weights) give the same features."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep
from flowrep._capture._record import capture_features


WIDTHS = (5, 7, 6, 3)


def _eqx_net(key):
    k = jax.random.split(key, 3)
    lin = [
        eqx.nn.Linear(WIDTHS[i], WIDTHS[i + 1], key=k[i])
        for i in range(len(WIDTHS) - 1)
    ]
    return eqx.nn.Sequential(
        [lin[0], eqx.nn.Lambda(jnp.tanh), lin[1], eqx.nn.Lambda(jnp.tanh), lin[2]]
    )


def _weights(seq):
    return [
        (np.asarray(m.weight, np.float32), np.asarray(m.bias, np.float32))
        for m in seq.layers
        if isinstance(m, eqx.nn.Linear)
    ]


def _x(n=37, seed=0):
    return np.random.default_rng(seed).normal(size=(n, WIDTHS[0])).astype(np.float32)


def _reference(seq, x):
    """Brute-force features by hand in NumPy (float64)."""
    (w0, b0), (w1, b1), (w2, b2) = _weights(seq)
    x = x.astype(np.float64)
    z0 = x @ w0.T + b0
    h0 = np.tanh(z0)
    z1 = h0 @ w1.T + b1
    h1 = np.tanh(z1)
    return [x, z0, h0, z1, h1, h1 @ w2.T + b2]


def test_eqx_sequential_matches_numpy(getkey):
    seq = _eqx_net(getkey())
    x = _x()
    feats = capture_features(seq, x)
    ref = _reference(seq, x)
    assert feats.names == ("input", "0", "1", "2", "3", "output")
    assert feats.widths == (5, 7, 7, 6, 6, 3)
    for a, b in zip(feats.layers, ref):
        np.testing.assert_allclose(a, b, atol=1e-6)
    tracks = flowrep.record_tracks(seq, x)
    assert tracks.num_layers == 5 and tracks.num_samples == 37


def test_eqx_mlp_activations(getkey):
    mlp = eqx.nn.MLP(4, 3, 6, depth=2, activation=jnp.tanh, key=getkey())
    x = np.random.default_rng(1).normal(size=(9, 4))
    both = capture_features(mlp, x, activations="both")
    assert both.names == (
        "input",
        "linear0",
        "activation0",
        "linear1",
        "activation1",
        "output",
    )
    h = x
    for i, lin in enumerate(mlp.layers[:-1]):
        z = h @ np.asarray(lin.weight).T + np.asarray(lin.bias)
        h = np.tanh(z)
        np.testing.assert_allclose(both.layers[1 + 2 * i], z, atol=1e-10)
        np.testing.assert_allclose(both.layers[2 + 2 * i], h, atol=1e-10)
    np.testing.assert_allclose(
        both.layers[-1], np.asarray(jax.vmap(mlp)(jnp.asarray(x)))
    )
    after = capture_features(mlp, x)
    before = capture_features(mlp, x, activations="before")
    assert after.names == ("input", "activation0", "activation1", "output")
    assert before.names == ("input", "linear0", "linear1", "output")
    np.testing.assert_allclose(after.layers[2], both.layers[4])


def test_chunked_equals_unchunked(getkey):
    seq = _eqx_net(getkey())
    x = _x(n=50)
    full = capture_features(seq, x, chunk_size=4096)
    chunked = capture_features(seq, x, chunk_size=7)  # 8 chunks, last one padded
    for a, b in zip(full.layers, chunked.layers):
        np.testing.assert_allclose(
            a, b, rtol=1e-12, atol=1e-14
        )  # bitwise up to batch-size vectorisation


def test_list_of_stages_and_legacy_form(getkey):
    seq = _eqx_net(getkey())
    x = _x(n=11)
    listed = flowrep.record_tracks(list(seq.layers), x)  # today's form, one vmap
    staged = flowrep.record_tracks(list(seq.layers), x, stages=[0, 1, 2, 3])
    direct = flowrep.record_tracks(seq, x, chunk_size=4)
    assert listed.widths == direct.widths == (5, 7, 7, 6, 6, 3)
    for tr in (staged, direct):
        np.testing.assert_allclose(
            np.asarray(listed.points), np.asarray(tr.points), rtol=1e-12, atol=1e-14
        )
    # equal widths: today's list-of-callables form, unchanged
    blocks = [lambda v: v + 0.1 * jnp.tanh(v)] * 3
    tr = flowrep.record_tracks(blocks, x)
    assert tr.points.shape == (4, 11, 5)


def test_selected_stages_and_output_last(getkey):
    seq = _eqx_net(getkey())
    x = _x(n=8)
    feats = capture_features(seq, x, stages=[1, "3"])
    assert feats.names == ("input", "1", "3", "output")
    ref = _reference(seq, x)
    np.testing.assert_allclose(feats.layers[1], ref[2], atol=1e-6)
    np.testing.assert_allclose(feats.layers[-1], ref[-1], atol=1e-6)


def test_conv_features_flattened(getkey):
    conv = eqx.nn.Sequential(
        [
            eqx.nn.Conv2d(1, 2, 3, padding=1, key=getkey()),
            eqx.nn.Lambda(jax.nn.relu),
            eqx.nn.Lambda(jnp.ravel),
            eqx.nn.Linear(2 * 4 * 4, 3, key=getkey()),
        ]
    )
    x = np.random.default_rng(0).normal(size=(6, 1, 4, 4))
    feats = capture_features(conv, x)
    assert feats.widths == (16, 32, 32, 32, 3)
    np.testing.assert_allclose(
        feats.layers[1], np.asarray(jax.vmap(conv.layers[0])(x)).reshape(6, -1)
    )


def test_errors(getkey):
    seq = _eqx_net(getkey())
    x = _x(n=8)
    with pytest.raises(
        ValueError, match="unknown stage 'fc9'.*available stages: 0, 1, 2"
    ):
        capture_features(seq, x, stages=["fc9"])
    with pytest.raises(ValueError, match="stage index 9 out of range"):
        capture_features(seq, x, stages=[9])
    with pytest.raises(TypeError, match="list of stage names"):
        capture_features(seq, x, stages="0")  # pyright: ignore
    with pytest.raises(TypeError, match="got int"):
        flowrep.record_tracks(3, x)
    with pytest.raises(TypeError, match="pass the list of its stages"):
        flowrep.record_tracks(eqx.nn.Linear(5, 5, key=getkey()), x)
    with pytest.raises(ValueError, match="activations"):
        capture_features(eqx.nn.MLP(5, 2, 4, 1, key=getkey()), x, activations="mid")  # pyright: ignore
    with pytest.raises(TypeError, match="scan=True"):
        capture_features(eqx.nn.MLP(5, 2, 4, 3, scan=True, key=getkey()), x)
    with pytest.raises(ValueError, match="chunk_size"):
        capture_features(seq, x, chunk_size=0)
    with pytest.raises(ValueError, match="shape"):
        capture_features(seq, np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        capture_features(seq, np.full((4, 5), np.nan))
    nan_net = eqx.nn.Sequential([seq.layers[0], eqx.nn.Lambda(jnp.log), seq.layers[2]])
    with pytest.raises(ValueError, match=r"layer 2 \('1'\) produced NaN"):
        capture_features(nan_net, x)


# ------------------------------------------------------------- other frameworks


def test_torch_matches_eqx(getkey):
    torch = pytest.importorskip(
        "torch", reason="PyTorch capture needs the optional extra flowrep[torch]"
    )
    seq = _eqx_net(getkey())
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 7),
        torch.nn.Tanh(),
        torch.nn.Linear(7, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 3),
    )
    with torch.no_grad():
        for lin, (w, b) in zip(net[::2], _weights(seq)):
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
    x = _x()
    ref = capture_features(seq, x)
    got = capture_features(net, x, chunk_size=10)
    # the last child's output is the model's output: recorded once
    assert got.names == ("input", "0", "1", "2", "3", "output") == ref.names
    for a, b in zip(got.layers, ref.layers):
        np.testing.assert_allclose(a, b, atol=1e-6)
    some = capture_features(net, x, stages=["1", "3"])
    np.testing.assert_allclose(some.layers[2], ref.layers[4], atol=1e-6)
    with pytest.raises(ValueError, match="unknown stage 'fc1'.*available stages: 0, 1"):
        capture_features(net, x, stages=["fc1"])


def test_flax_nnx_matches_eqx(getkey):
    pytest.importorskip(
        "flax", reason="Flax capture needs the optional extra flowrep[flax]"
    )
    from flax import nnx

    seq = _eqx_net(getkey())
    rngs = nnx.Rngs(0)
    lins = [nnx.Linear(WIDTHS[i], WIDTHS[i + 1], rngs=rngs) for i in range(3)]
    for lin, (w, b) in zip(lins, _weights(seq)):
        lin.kernel.value = jnp.asarray(w.T)
        assert lin.bias is not None
        lin.bias.value = jnp.asarray(b)
    net = nnx.Sequential(lins[0], jnp.tanh, lins[1], jnp.tanh, lins[2])
    x = _x()
    ref = capture_features(seq, x)
    got = capture_features(net, x, chunk_size=16)
    assert got.names == ref.names
    for a, b in zip(got.layers, ref.layers):
        np.testing.assert_allclose(a, b, atol=1e-6)

    class Sown(nnx.Module):
        def __init__(self):
            self.l0, self.l1, self.l2 = lins

        def __call__(self, v):
            v = jnp.tanh(self.l0(v))
            self.sow(nnx.Intermediate, "h0", v)
            v = jnp.tanh(self.l1(v))
            self.sow(nnx.Intermediate, "h1", v)
            return self.l2(v)

    sown = capture_features(Sown(), x, stages=["h0", "h1"])
    assert sown.names == ("input", "h0", "h1", "output")
    for a, b in zip(sown.layers, [ref.layers[i] for i in (0, 2, 4, 5)]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(
        ValueError, match="unknown stage 'h9'.*available stages: h0, h1"
    ):
        capture_features(Sown(), x, stages=["h9"])


def test_flax_linen_matches_eqx(getkey):
    pytest.importorskip(
        "flax", reason="Flax capture needs the optional extra flowrep[flax]"
    )
    import flax.linen as nn

    class Net(nn.Module):
        @nn.compact
        def __call__(self, v):
            v = jnp.tanh(nn.Dense(7)(v))
            v = jnp.tanh(nn.Dense(6)(v))
            return nn.Dense(3)(v)

    seq = _eqx_net(getkey())
    params = {
        f"Dense_{i}": {"kernel": jnp.asarray(w.T), "bias": jnp.asarray(b)}
        for i, (w, b) in enumerate(_weights(seq))
    }
    x = _x()
    ref = capture_features(seq, x)
    got = capture_features((Net(), {"params": params}), x, chunk_size=16)
    # Linen records submodules' outputs: the Dense (pre-activation) features
    # (the last Dense's output is the model's output: recorded once)
    assert got.names == ("input", "Dense_0", "Dense_1", "output")
    for a, b in zip(got.layers, [ref.layers[i] for i in (0, 1, 3, 5)]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    bound = Net().bind({"params": params})
    got2 = capture_features(bound, x, stages=["Dense_1"])
    np.testing.assert_allclose(got2.layers[1], ref.layers[3], atol=1e-6)
    with pytest.raises(ValueError, match="unknown stage 'fc'.*Dense_0, Dense_1"):
        capture_features(bound, x, stages=["fc"])


@pytest.mark.slow  # trains the example MLP (~30 s of CPU)
def test_digits_mlp_torch_copy_same_tracks_and_scores():
    torch = pytest.importorskip(
        "torch", reason="PyTorch capture needs the optional extra flowrep[torch]"
    )
    pytest.importorskip("sklearn", reason="the digits example needs scikit-learn")
    import importlib.util
    import pathlib

    path = (
        pathlib.Path(__file__).resolve().parents[1] / "examples" / "digits_networks.py"
    )
    spec = importlib.util.spec_from_file_location("digits_networks", path)
    assert spec is not None and spec.loader is not None
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    stages, _ = ex.train("mlp", 0.0, seed=0, steps=20)
    x = ex.digits(0)[2][:60]
    net = ex.torch_mlp(stages)
    assert isinstance(net, torch.nn.Module)
    ours = flowrep.record_tracks(stages, x)
    theirs = flowrep.record_tracks(net, x, stages=["act1", "act2", "act3"])
    assert ours.widths == theirs.widths == (64, 128, 64, 32, 10)
    np.testing.assert_allclose(
        np.asarray(ours.points), np.asarray(theirs.points), atol=1e-5
    )
    a, b = flowrep.score_tracks(ours), flowrep.score_tracks(theirs)
    for name in ("lss", "cost_ratio", "path_ratio"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-4)
