"""Every relative link of the README and ``docs/`` leads to a file, and to a heading of it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests._scrapy import PROJECT_ROOT

if TYPE_CHECKING:
    from pathlib import Path

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"^```.*?^```|`[^`\n]*`", re.MULTILINE | re.DOTALL)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``page``."""
    text = FENCED.sub("", page.read_text())
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def _relative_links(page: Path) -> list[str]:
    links = LINK.findall(CODE.sub("", page.read_text()))
    return [link for link in links if not re.match(r"[a-z]+:", link)]


def test_the_docs_have_pages_and_links() -> None:
    assert len(PAGES) > 5
    assert all(_relative_links(page) for page in PAGES[:1])


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    broken = []
    for page in PAGES:
        for link in _relative_links(page):
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.is_file():
                broken.append(f"{page.name}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
                broken.append(f"{page.name}: {link} (no such heading)")
    assert broken == []
