"""`flowrep analyze MODULE:FUNCTION`: end to end and every error path."""

import json
import textwrap

import numpy as np
import pytest

from flowrep._cli._main import main


USER = textwrap.dedent(
    """
    import equinox as eqx, jax, jax.numpy as jnp, numpy as np

    def _net(seed):
        k = jax.random.split(jax.random.key(seed), 3)
        return [
            eqx.nn.Sequential([eqx.nn.Linear(6, 9, key=k[0]), eqx.nn.Lambda(jnp.tanh)]),
            eqx.nn.Sequential([eqx.nn.Linear(9, 4, key=k[1]), eqx.nn.Lambda(jnp.tanh)]),
            eqx.nn.Linear(4, 3, key=k[2]),
        ]

    def net(seed=0):
        return _net(seed), np.random.default_rng(seed).normal(size=(80, 6))

    def loader(seed=0):
        x = np.random.default_rng(seed).normal(size=(80, 6))
        return _net(seed), (x[i : i + 16] for i in range(0, 80, 16))

    def nan_net():
        return [eqx.nn.Lambda(jnp.log), eqx.nn.Linear(6, 2, key=jax.random.key(0))], np.ones((8, 6)) * -1.0

    def wrong():
        return 3

    def bad_model():
        return "model", np.ones((8, 6))

    def raises():
        raise RuntimeError("boom")

    not_callable = 5
    """
)


@pytest.fixture
def user(tmp_path):
    p = tmp_path / "user_net.py"
    p.write_text(USER)
    return p


@pytest.mark.slow  # GW solves and four figures: ~30 s of CPU
def test_end_to_end(user, tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(
        [
            "analyze",
            f"{user}:net",
            "--out",
            str(out),
            "--max-samples",
            "40",
            "--gw-samples",
            "32",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    data = json.loads((out / "report.json").read_text())
    assert data["layers"] == ["input", "0", "1", "output"]
    assert data["widths"] == [6, 9, 4, 3]
    assert data["num_samples"] == 40
    assert data["scores"]["lss"] >= 1.0
    assert len(data["coordinate_free"]["layer_gw"]) == 3
    assert data["coordinate_free"]["gw_path_ratio"] > 0.9
    for f in ("profile.png", "lss.png", "nonlinearity.png", "pca.png", "index.html"):
        assert (out / f).is_file()
    assert (out / ".flowrep-report").is_file()
    # an iterable of batches, and --project
    rc = main(
        [
            "analyze",
            f"{user}:loader",
            "--out",
            str(out),
            "--project",
            "5",
            "--gw-samples",
            "32",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    data = json.loads((out / "report.json").read_text())
    assert data["num_samples"] == 80 and data["embedding"] == "PCA to 5"
    assert data["projection"] is not None


@pytest.mark.parametrize(
    "target, message",
    [
        ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
        ("{user}:missing", "has no function 'missing'; it defines: "),
        ("{user}:not_callable", "is a int, not a function"),
        ("{user}:wrong", r"must return \(model, samples\)"),
        ("{user}:bad_model", "record_tracks expects an eqx.nn.MLP"),
        ("{user}:raises", "raised RuntimeError: boom"),
        ("{user}:nan_net", r"layer 1 \('0'\) produced NaN"),
        ("nocolon", "expected MODULE:FUNCTION"),
        ("/no/such/file.py:f", "no such file"),
    ],
)
def test_errors(user, tmp_path, capsys, target, message):
    import re

    out = tmp_path / "rep"
    rc = main(["analyze", target.format(user=user), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert re.search(message, err), err
    assert not out.exists()  # nothing half-written


def test_bad_data_file(user, tmp_path, capsys):
    bad = tmp_path / "x.npy"
    np.save(bad, np.array(["a", "b"]))
    rc = main(
        ["analyze", f"{user}:net", "--data", str(bad), "--out", str(tmp_path / "r")]
    )
    assert rc == 2 and "must have shape" in capsys.readouterr().err
    rc = main(
        [
            "analyze",
            f"{user}:net",
            "--data",
            str(tmp_path / "none.npy"),
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert rc == 2 and "cannot read --data" in capsys.readouterr().err
