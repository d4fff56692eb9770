"""Checkpoints: `save_field` / `load_field` take any path as given, keep the
umask, and name the file in a clear `ValueError` for truncated, corrupt or
mismatched checkpoints (never equinox's `TreePathError`)."""

import os
import stat

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowrep


@pytest.fixture
def field(getkey):
    return flowrep.RidgeletField.random(getkey(), 2, 4, basis="chebyshev", num_knots=3)


@pytest.fixture
def like(getkey):
    return flowrep.RidgeletField.random(getkey(), 2, 4, basis="chebyshev", num_knots=3)


@pytest.mark.parametrize(
    "name", ["model", "model.eqx", "model.npz", "a.b.c", ".hidden", "with space"]
)
def test_roundtrip_any_path(field, like, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    flowrep.save_field(name, field)
    assert os.listdir(tmp_path) == [name]  # exactly the name given, no temporaries
    assert eqx.tree_equal(flowrep.load_field(name, like), field)
    # a PathLike works too, and an existing checkpoint is replaced
    flowrep.save_field(tmp_path / name, like)
    assert eqx.tree_equal(flowrep.load_field(tmp_path / name, field), like)
    assert os.listdir(tmp_path) == [name]


def test_equinox_interoperates(field, like, tmp_path):
    # the file starts with equinox's own format: equinox reads ours ...
    flowrep.save_field(tmp_path / "f", field)
    with open(tmp_path / "f", "rb") as fh:
        assert eqx.tree_equal(eqx.tree_deserialise_leaves(fh, like), field)
    # ... and we read equinox's (no trailer: checked leaf by leaf)
    eqx.tree_serialise_leaves(tmp_path / "g.eqx", field)
    assert eqx.tree_equal(flowrep.load_field(tmp_path / "g.eqx", like), field)


def test_mode_follows_umask(field, tmp_path):
    old = os.umask(0o027)
    try:
        flowrep.save_field(tmp_path / "f", field)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == 0o640
    # replacing a file keeps its mode
    os.chmod(tmp_path / "f", 0o604)
    flowrep.save_field(tmp_path / "f", field)
    assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == 0o604


def test_save_errors_name_the_path(field, tmp_path):
    target = tmp_path / "missing" / "model"
    with pytest.raises(FileNotFoundError, match="missing' does not exist") as e:
        flowrep.save_field(target, field)
    assert str(target) in str(e.value) and "tmp" not in os.path.basename(str(e.value))
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        flowrep.save_field(tmp_path / "file" / "model", field)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        flowrep.save_field(tmp_path, field)
    with pytest.raises(FileNotFoundError, match="empty path"):
        flowrep.save_field("", field)
    assert sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_save_read_only_dir(field, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(PermissionError, match="not writable"):
        flowrep.save_field(ro / "m", field)


def test_load_missing(like, tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved field"):
        flowrep.load_field(tmp_path / "nope", like)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        flowrep.load_field(tmp_path, like)


def _saved(field, tmp_path) -> bytes:
    flowrep.save_field(tmp_path / "good", field)
    return (tmp_path / "good").read_bytes()


@pytest.mark.parametrize(
    "cut,match",
    [
        (1, "truncated: its checksum trailer"),
        (50, "truncated: its checksum trailer"),
        (130, "truncated or corrupt"),
    ],
)
def test_truncated(field, like, tmp_path, cut, match):
    data = _saved(field, tmp_path)
    bad = tmp_path / "bad"
    bad.write_bytes(data[:-cut])
    with pytest.raises(ValueError, match=match) as e:
        flowrep.load_field(bad, like)
    assert str(bad) in str(e.value)


def test_truncated_every_length(field, like, tmp_path):
    """No cut of the file loads silently unless the arrays are whole."""
    data = _saved(field, tmp_path)
    payload_end = len(data) - 100
    bad = tmp_path / "bad"
    for n in range(0, len(data), 7):
        bad.write_bytes(data[:n])
        if n == payload_end:  # only the trailer lost: the arrays are intact
            assert eqx.tree_equal(flowrep.load_field(bad, like), field)
            continue
        with pytest.raises(ValueError, match="bad"):
            flowrep.load_field(bad, like)


def test_corrupt(field, like, tmp_path):
    data = bytearray(_saved(field, tmp_path))
    data[len(data) // 2] ^= 0x01  # a flipped bit inside the arrays
    bad = tmp_path / "flipped"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="'.*flipped' is corrupt"):
        flowrep.load_field(bad, like)
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a checkpoint\n" * 40)
    with pytest.raises(ValueError, match="junk.*truncated or corrupt") as e:
        flowrep.load_field(junk, like)
    assert not isinstance(e.value, eqx.EquinoxRuntimeError)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        flowrep.load_field(empty, like)


def test_mismatched_template(getkey, field, tmp_path):
    path = tmp_path / "m"
    flowrep.save_field(path, field)
    wider = flowrep.RidgeletField.random(getkey(), 2, 5, basis="chebyshev", num_knots=3)
    with pytest.raises(ValueError, match="does not match `like`.*shape"):
        flowrep.load_field(path, wider)
    other_dtype = _astype(field, jnp.float16)
    with pytest.raises(ValueError, match="does not match `like`.*dtype"):
        flowrep.load_field(path, other_dtype)
    with pytest.raises(ValueError, match="does not match `like`"):
        flowrep.load_field(path, {"a": jnp.ones(3)})  # fewer leaves: bytes left over
    more = (field, jnp.ones(2))
    with pytest.raises(ValueError, match="does not match `like`"):
        flowrep.load_field(path, more)
    # the same messages for a plain pytree of arrays
    tree = {"w": np.arange(6.0).reshape(2, 3), "b": jnp.zeros(3)}
    flowrep.save_field(path, tree)
    loaded = flowrep.load_field(path, {"w": np.zeros((2, 3)), "b": jnp.ones(3)})
    np.testing.assert_array_equal(loaded["w"], tree["w"])
    with pytest.raises(ValueError, match="does not match `like`.*shape"):
        flowrep.load_field(path, {"w": np.zeros((3, 2)), "b": jnp.ones(3)})


def _astype(tree, dtype):
    return jax.tree.map(
        lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, tree
    )
