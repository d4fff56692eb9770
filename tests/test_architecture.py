"""The layout is the architecture: imports run down the layers, never across.

base (_custom_types, _validate, _io, _ott_compat, _device, _sharding)
  <- _width            (activations, ridgelets, transforms, integral nets)
  <- _transport        (OT, tracks, scores, entropy; independent of _width)
_width <- _depth       (vector fields, flows, ResNets, plain nets, fit)
_width, _depth, _transport <- _dae
_width, _depth, _transport, _dae <- _wgf (Wasserstein gradient flows)
all of these <- _plot
base, _width, _depth, _transport <- _capture (tracks from eqx / Flax / PyTorch models)
everything <- _cli, flowrep/__init__
"""

import ast
import pathlib

import pytest


PKG = pathlib.Path(__file__).resolve().parents[1] / "flowrep"
BASE = {"_custom_types", "_validate", "_io", "_ott_compat", "_device", "_sharding"}
ALLOWED = {
    "base": {"base"},
    "_width": {"base", "_width"},
    "_transport": {"base", "_transport"},
    "_depth": {"base", "_width", "_depth"},
    "_dae": {"base", "_width", "_depth", "_transport", "_dae"},
    "_wgf": {"base", "_width", "_depth", "_transport", "_dae", "_wgf"},
    "_plot": {"base", "_width", "_depth", "_transport", "_dae", "_wgf", "_plot"},
    # feature capture from real models (eqx, Flax, PyTorch) into tracks
    "_capture": {"base", "_width", "_depth", "_transport", "_capture"},
    # The CLI is a client of the library: it may also use the public `flowrep`.
    "_cli": {
        "base",
        "_width",
        "_depth",
        "_transport",
        "_dae",
        "_wgf",
        "_plot",
        "_capture",
        "_cli",
        "top",
    },
    "top": {
        "base",
        "_width",
        "_depth",
        "_transport",
        "_dae",
        "_wgf",
        "_plot",
        "_capture",
        "_cli",
        "top",
    },
}


def _layer(parts: list[str]) -> str:
    """Layer of a module given its dotted path below `flowrep`."""
    if not parts or parts[0] in ("__init__", "__main__"):
        return "top"
    if parts[0] in BASE:
        return "base"
    if parts[0] in ALLOWED:
        return parts[0]
    raise AssertionError(f"module flowrep.{'.'.join(parts)} is in no layer")


def _modules():
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(PKG).with_suffix("").parts)
        yield f, parts


def _imports(f: pathlib.Path, parts: list[str]):
    """(target parts below flowrep, imported names, line) for every flowrep import."""
    package = parts[:-1]
    tree = ast.parse(f.read_text(), str(f))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                if node.level - 1 > len(package):
                    raise AssertionError(f"{f}: import above the package")
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "flowrep":
                target = node.module.split(".")[1:]
            else:
                continue
            if not node.module:  # `from . import _x`: each name is a module
                for n in names:
                    yield target + [n], [], node.lineno
            else:
                yield target, names, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "flowrep":
                    yield a.name.split(".")[1:], [], node.lineno


def test_layers_cover_every_module():
    for _, parts in _modules():
        _layer(parts)


@pytest.mark.parametrize(
    "f,parts", list(_modules()), ids=[".".join(p) for _, p in _modules()]
)
def test_imports_run_down_the_layers(f, parts):
    mine = _layer(parts)
    for target, _, line in _imports(f, parts):
        theirs = _layer(target)
        assert theirs in ALLOWED[mine], (
            f"{f.relative_to(PKG.parent)}:{line} ({mine}) imports "
            f"flowrep.{'.'.join(target)} ({theirs}): not allowed by the layering"
        )


def test_the_checker_sees_a_cross_layer_import(tmp_path):
    # The check above must be able to fail: a _transport module importing _width.
    f = tmp_path / "bad.py"
    f.write_text("from .._width._transform import ridgelet_transform\n")
    ((target, _, _),) = _imports(f, ["_transport", "bad"])
    assert _layer(target) == "_width"
    assert _layer(target) not in ALLOWED["_transport"]
