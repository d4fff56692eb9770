"""`capture_features` / `record_tracks` with the model applied over a mesh,
against one device, on 4 fake CPU devices (run via `tests/test_sharding.py`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

import flowrep as fr
from flowrep._capture import _record
from flowrep._sharding import resolve_layout


D = 4  # the devices tests/test_sharding.py starts (tests/sharded/conftest.py)


def _mlp():
    return eqx.nn.MLP(3, 2, 5, 2, activation=jnp.tanh, key=jr.PRNGKey(0))


def _same(a: fr.CapturedFeatures, b: fr.CapturedFeatures):
    assert a.names == b.names
    for u, v in zip(a.layers, b.layers):
        assert isinstance(v, np.ndarray)  # features come back to the host
        np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-14)


def test_capture_mlp_uneven_chunks(mesh):
    """n = 13 in chunks of 5 (rounded up to 8 over 4 devices): same features."""
    x = jr.normal(jr.PRNGKey(1), (13, 3))
    one = fr.capture_features(_mlp(), x, activations="both", chunk_size=5)
    many = fr.capture_features(_mlp(), x, activations="both", chunk_size=5, mesh=mesh)
    _same(one, many)


def test_chunks_run_sharded_by_rows(mesh):
    """Each chunk is placed by rows and the model's features stay sharded
    there (every device computes its own rows)."""
    layout = resolve_layout(mesh)
    assert layout is not None
    x = jr.normal(jr.PRNGKey(2), (8, 3))
    _, run = _record._runner(_mlp(), x, None, "after", layout)
    feats = run(jax.device_put(x, layout.rows(2)))
    for f in feats:
        assert f.sharding.is_equivalent_to(layout.rows(2), 2)
        assert len(f.sharding.device_set) == D


@pytest.mark.slow
def test_record_tracks_sharded_input(mesh):
    """A row-sharded `x` carries its mesh; a list of stages streams too."""
    x = jr.normal(jr.PRNGKey(3), (16, 3))
    xs = jax.device_put(x, NamedSharding(mesh, P("data", None)))
    t1 = fr.record_tracks(_mlp(), x, chunk_size=8)
    tD = fr.record_tracks(_mlp(), xs, chunk_size=8)
    np.testing.assert_allclose(tD.points, t1.points, rtol=1e-12, atol=1e-14)
    stages = [jnp.tanh, lambda v: jnp.concatenate([v, v**2])]
    s1 = fr.record_tracks(stages, x)
    sD = fr.record_tracks(stages, x, mesh=mesh, chunk_size=6)
    assert sD.widths == s1.widths
    np.testing.assert_allclose(sD.points, s1.points, rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_capture_flax_nnx(mesh):
    nnx = pytest.importorskip("flax.nnx")
    f64 = dict(dtype=jnp.float64, param_dtype=jnp.float64)
    model = nnx.Sequential(
        nnx.Linear(3, 4, rngs=nnx.Rngs(0), **f64),
        nnx.tanh,
        nnx.Linear(4, 2, rngs=nnx.Rngs(1), **f64),
    )
    x = np.asarray(jr.normal(jr.PRNGKey(4), (10, 3)))
    _same(fr.capture_features(model, x), fr.capture_features(model, x, mesh=mesh))


def test_capture_mesh_errors(mesh):
    x = np.ones((6, 3))
    with pytest.raises(TypeError, match="`mesh` must be a jax.sharding.Mesh"):
        fr.capture_features(_mlp(), x, mesh="data")  # pyright: ignore[reportArgumentType]


@pytest.mark.slow
def test_capture_torch_refuses_mesh(mesh):
    x = np.ones((6, 3))
    torch = pytest.importorskip("torch")  # (slow to import)
    with pytest.raises(ValueError, match="PyTorch model runs"):
        fr.capture_features(torch.nn.Linear(3, 2), x, mesh=mesh)


_USER = """
import equinox as eqx, jax, jax.numpy as jnp, numpy as np

def net(seed=0):
    mlp = eqx.nn.MLP(3, 2, 5, 2, activation=jnp.tanh, key=jax.random.key(seed))
    return mlp, np.random.default_rng(seed).normal(size=(22, 3))
"""


@pytest.mark.slow  # the CLI's imports and two captures
def test_analyze_devices_passes_a_mesh(tmp_path, monkeypatch, capsys):
    """`flowrep analyze --devices 4` captures over a 4-device mesh (the run is
    stopped after the capture: the scores are tested elsewhere)."""
    from flowrep._cli import _analyze
    from flowrep._cli._main import main

    user = tmp_path / "user_net.py"
    user.write_text(_USER)
    seen = {}

    def capture(model, x, **kw):
        seen["mesh"] = kw.get("mesh")
        seen["feats"] = _record.capture_features(model, x, **kw)
        seen["one"] = _record.capture_features(model, x, stages=kw.get("stages"))
        raise ValueError("stopped after the capture")

    monkeypatch.setattr(_analyze, "capture_features", capture)
    out = str(tmp_path / "rep")
    assert main(["analyze", f"{user}:net", "--devices", "4", "--out", out]) != 0
    assert "stopped after the capture" in capsys.readouterr().err
    assert seen["mesh"] is not None and seen["mesh"].devices.size == D
    _same(seen["one"], seen["feats"])
    assert main(["analyze", f"{user}:net", "--devices", "9", "--out", out]) != 0
    assert "--devices must be in [1, 4]" in capsys.readouterr().err
