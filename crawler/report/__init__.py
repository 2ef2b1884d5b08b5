"""Reports from a run's summary: HTML to look at, Markdown for CI job summaries, JUnit XML.

Each renderer takes the dict of :meth:`crawler.summary.RunSummary.as_dict` (with an optional
``run`` key describing where the rows came from) and returns text; :func:`write_report` picks
the format from the file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["FORMATS", "render_html", "render_junit", "render_markdown", "write_report"]

# The renderers are imported when a report is written, not with this module: the HTML one
# brings jinja2 (a few MB of memory) into every crawl that only checks a path.


def render_html(summary: Mapping[str, Any]) -> str:
    """The HTML report (see :mod:`crawler.report.html`)."""
    from crawler.report.html import render_html as render

    return render(summary)


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The Markdown report (see :mod:`crawler.report.markdown`)."""
    from crawler.report.markdown import render_markdown as render

    return render(summary)


def render_junit(summary: Mapping[str, Any]) -> str:
    """The JUnit XML report (see :mod:`crawler.report.junit`)."""
    from crawler.report.junit import render_junit as render

    return render(summary)


def _render_json(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    ".html": render_html,
    ".htm": render_html,
    ".md": render_markdown,
    ".markdown": render_markdown,
    ".xml": render_junit,
    ".json": _render_json,
}
"""File suffix -> renderer: HTML, Markdown, JUnit XML, or the summary as JSON."""


def check_report_path(path: str | Path) -> Path:
    """``path`` as a :class:`Path`; ``ValueError`` naming the suffixes when it has none known."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(
            f"cannot tell the report format of {str(path)!r}: name it .html, .md, .xml (JUnit) "
            "or .json (summary)"
        )
    return path


def write_report(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Render ``summary`` in the format ``path``'s suffix names and write it there."""
    path = check_report_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FORMATS[path.suffix.lower()](summary), encoding="utf-8")
    return path
