"""The README and the docs pages hold together: every relative link leads to a file (and, with `#`, a heading) that
exists, and the README stays short enough to read first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def _prose(text: str) -> str:
    """The text outside fenced code blocks (a `[x](y)` in code is code, not a link)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in _prose(page.read_text()).splitlines() if line.startswith("#")}


def _relative_links(page: Path) -> list[str]:
    return [link for link in LINK.findall(_prose(page.read_text())) if not EXTERNAL.match(link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_an_existing_file_and_heading(page: Path) -> None:
    for link in _relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link} leads nowhere"
        if anchor:
            assert anchor in _anchors(target), f"{page.name}: {link}: no such heading in {target.name}"


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _relative_links(README)}
    assert set(PAGES[1:]) <= linked, set(PAGES[1:]) - linked


def test_the_readme_is_at_most_200_lines() -> None:
    assert len(README.read_text().splitlines()) <= README_MAX_LINES
