"""Every public name of `flowrep` has an entry (`::: flowrep.NAME`) in the API pages.

The API pages are `docs/api/<subpackage>.md`, one per subpackage (`_width` ->
`width.md`, ...); a name belongs on the page of the subpackage it is
re-exported from in `flowrep/__init__.py`. No mkdocs needed: this reads files.
"""

import ast
import pathlib
import re

import flowrep


ROOT = pathlib.Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"
ENTRY = re.compile(r"^:::\s+flowrep\.([A-Za-z_][A-Za-z0-9_]*)\s*$", re.MULTILINE)


def _public_names() -> dict[str, str]:
    """name -> the subpackage (or base module) `flowrep/__init__.py` imports it from."""
    tree = ast.parse((ROOT / "flowrep" / "__init__.py").read_text())
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            where = node.module.split(".")[0]
            for alias in node.names:
                name = alias.asname or alias.name
                if not name.startswith("_"):
                    names[name] = where
    return names


def _page(where: str) -> pathlib.Path:
    return API / f"{where.lstrip('_')}.md"


def _entries() -> dict[str, list[str]]:
    """name -> the API pages that document it."""
    found: dict[str, list[str]] = {}
    for page in sorted(API.glob("*.md")):
        for name in ENTRY.findall(page.read_text()):
            found.setdefault(name, []).append(page.name)
    return found


def test_public_names_are_found():
    names = _public_names()
    assert len(names) > 100
    # the AST reading agrees with what `import flowrep` exposes
    assert all(hasattr(flowrep, n) for n in names)


def test_every_public_name_has_an_api_entry():
    names, entries = _public_names(), _entries()
    missing: dict[str, list[str]] = {}
    for name, where in names.items():
        if name not in entries:
            missing.setdefault(str(_page(where).relative_to(ROOT)), []).append(name)
    assert not missing, "public names without an API docs entry; add these lines:\n" + (
        "\n".join(
            f"  to {page} (under the heading of its module):\n"
            + "\n".join(f"    ::: flowrep.{n}" for n in sorted(ns))
            for page, ns in sorted(missing.items())
        )
    )


def test_api_entries_name_public_objects_once():
    names, entries = _public_names(), _entries()
    unknown = sorted(n for n in entries if n not in names)
    assert not unknown, (
        f"API pages document names that `flowrep/__init__.py` does not export: {unknown}; "
        "remove their `::: flowrep.NAME` lines or export them"
    )
    twice = {n: p for n, p in entries.items() if len(p) > 1}
    assert not twice, f"names documented on more than one API page: {twice}"


def test_api_pages_are_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for where in set(_public_names().values()):
        page = _page(where)
        assert page.exists(), (
            f"{where} has public names but no page {page.relative_to(ROOT)}"
        )
        assert f"api/{page.name}" in nav, f"mkdocs.yml's nav lacks api/{page.name}"
