"""Citations of the theory pages: nothing cites a file outside the repository,
and every `docs/theory/<page>.md#anchor` reference resolves."""

import json
import re
import unicodedata
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory"

# See docs/theory/<page>.md, optionally followed by #anchor
REFERENCE = re.compile(r"docs/theory/([A-Za-z0-9_\-]+\.md)(?:#([A-Za-z0-9_\-]+))?")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
ATTR_ID = re.compile(r"\{[^}]*#([A-Za-z0-9_\-]+)[^}]*\}\s*$")
CODE_FENCE = re.compile(r"^\s*(```|~~~)")


def _slug(text: str) -> str:
    """Python-Markdown's default `toc` slugify (what mkdocs uses)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(markdown: str) -> set[str]:
    """Explicit `{#id}` anchors of the headings, and the slugs of headings without one."""
    found: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if CODE_FENCE.match(line):
            fenced = not fenced
            continue
        m = HEADING.match(line)
        if fenced or not m:
            continue
        title = m.group(2)
        explicit = ATTR_ID.search(title)
        if explicit:
            found.add(explicit.group(1))
        else:
            found.add(_slug(title))
    return found


def _sources() -> dict[str, str]:
    """Texts that may cite the theory: flowrep's .py files, README.md, the notebooks' sources."""
    texts = {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "flowrep").rglob("*.py"))
    }
    texts["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    for p in sorted((ROOT / "notebooks").iterdir()):
        if p.suffix == ".ipynb":
            cells = json.loads(p.read_text(encoding="utf-8"))["cells"]
            texts[str(p.relative_to(ROOT))] = "\n".join(
                "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in cells
            )
        elif p.suffix == ".py":
            texts[str(p.relative_to(ROOT))] = p.read_text(encoding="utf-8")
    return texts


def broken_references(texts: dict[str, str], theory_dir: Path = THEORY) -> list[str]:
    """Every reference to a missing page or to an anchor the page does not define."""
    cache: dict[str, set[str] | None] = {}
    problems = []
    for where, text in texts.items():
        for m in REFERENCE.finditer(text):
            page, anchor = m.group(1), m.group(2)
            if page not in cache:
                path = theory_dir / page
                cache[page] = (
                    anchors(path.read_text(encoding="utf-8"))
                    if path.is_file()
                    else None
                )
            line = text.count("\n", 0, m.start()) + 1
            known = cache[page]
            if known is None:
                problems.append(f"{where}:{line}: no page docs/theory/{page}")
            elif anchor is not None and anchor not in known:
                problems.append(
                    f"{where}:{line}: no anchor #{anchor} on docs/theory/{page}"
                )
    return problems


def test_no_citation_of_a_file_outside_the_repository():
    hits = [
        f"{where}:{text.count(chr(10), 0, m.start()) + 1}"
        for where, text in _sources().items()
        for m in re.finditer(r"THEORY\.md", text)
    ]
    assert hits == [], (
        f"docs/theory/index.md (not in the repository) is still cited at: {hits}"
    )


def test_theory_pages_exist():
    for page in (
        "index",
        "ridgelets",
        "flows",
        "dae",
        "scores",
        "gradient-flows",
        "widths",
    ):
        assert (THEORY / f"{page}.md").is_file(), page


def test_every_reference_resolves():
    texts = _sources()
    # the theory pages link to each other as well
    for p in sorted(THEORY.glob("*.md")):
        text = p.read_text(encoding="utf-8")
        texts[str(p.relative_to(ROOT))] = re.sub(
            r"\]\(([A-Za-z0-9_\-]+\.md)", r"](docs/theory/\1", text
        )
    assert broken_references(texts) == []


def test_anchors_are_unique_on_each_page():
    for p in sorted(THEORY.glob("*.md")):
        ids = []
        for line in p.read_text(encoding="utf-8").splitlines():
            m = HEADING.match(line)
            if m and (e := ATTR_ID.search(m.group(2))):
                ids.append(e.group(1))
        assert len(ids) == len(set(ids)), (p.name, ids)


def test_checker_reports_made_up_references(tmp_path):
    (tmp_path / "real.md").write_text(
        "# Title {#top}\n\n## Plain heading, with a slug\n\n```\n# not a heading {#fenced}\n```\n"
    )
    assert anchors((tmp_path / "real.md").read_text()) == {
        "top",
        "plain-heading-with-a-slug",
    }
    texts = {
        "a.py": "see docs/theory/real.md#top and docs/theory/real.md",
        "b.py": "x\nsee docs/theory/real.md#plain-heading-with-a-slug",
        "c.py": "see docs/theory/real.md#made-up-anchor",
        "d.py": "see docs/theory/made-up-page.md#top",
        "e.py": "see docs/theory/real.md#fenced",
    }
    assert broken_references(texts, tmp_path) == [
        "c.py:1: no anchor #made-up-anchor on docs/theory/real.md",
        "d.py:1: no page docs/theory/made-up-page.md",
        "e.py:1: no anchor #fenced on docs/theory/real.md",
    ]
