"""The README and docs/ stay true to the code: short, with a valid catalog example and no dead links."""

import re
from pathlib import Path

import pytest

from pidengine.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_readme_guides_in_at_most_250_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in LINK.findall(page.read_text()):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path) if path else page
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: no heading #{anchor} in {resolved.name}"


def test_the_readme_catalog_example_is_valid(tmp_path):
    text = (ROOT / "README.md").read_text()
    example = next(block for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
                   if block.startswith("datasets:"))
    (tmp_path / "catalog.yaml").write_text(example)
    catalog = load_catalog(tmp_path / "catalog.yaml")
    assert catalog.errors == {}
    assert {entry.source.kind for entry in catalog.entries.values()} == {"npz", "table", "zarr"}
