"""Reports from a run's summary: HTML to look at, Markdown for CI job summaries, JUnit XML.

Each renderer takes the dict of :meth:`crawler.output.summary.RunSummary.as_dict` (with an optional
``run`` key describing where the rows came from) and the failing rows
(:meth:`crawler.output.summary.RunSummary.failing_rows`; without them, the summary's examples) and
yields the text in pieces, so a report of a million failures is written as it is made;
:func:`write_report` picks the format from the file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    FailingRows = Callable[[str], Iterable[Mapping[str, Any]]]
    """The failing rows of one outcome: ``{url, source, line, outcome, status, error}``."""
    PlacesRows = Callable[[], Iterable[Mapping[str, Any]]]
    """A fresh stream of the places of the links not ok, by page then line:
    ``{page, line, element, text, url, outcome, status, found_count}`` (a site crawl's)."""
    Renderer = Callable[
        [Mapping[str, Any], "FailingRows | None", "PlacesRows | None"], Iterator[str]
    ]

__all__ = ["FORMATS", "render_html", "render_junit", "render_markdown", "write_report"]

# The renderers are imported when a report is written, not with this module: the HTML one
# brings jinja2 (a few MB of memory) into every crawl that only checks a path.


def examples_of(summary: Mapping[str, Any]) -> FailingRows:
    """The failing rows the summary itself lists (a few per outcome)."""

    def examples(outcome: str) -> Iterable[Mapping[str, Any]]:
        return [
            {"outcome": outcome, **example} for example in summary["failures"][outcome]["examples"]
        ]

    return examples


def _stream_html(
    summary: Mapping[str, Any], failing: FailingRows | None, places: PlacesRows | None = None
) -> Iterator[str]:
    from crawler.output.report.html import stream_html

    return stream_html(summary, failing or examples_of(summary), places)


def _stream_markdown(
    summary: Mapping[str, Any], failing: FailingRows | None, places: PlacesRows | None = None
) -> Iterator[str]:
    from crawler.output.report.markdown import stream_markdown

    return stream_markdown(summary, failing or examples_of(summary), places)


def _stream_junit(
    summary: Mapping[str, Any], failing: FailingRows | None, places: PlacesRows | None = None
) -> Iterator[str]:
    from crawler.output.report.junit import stream_junit

    return stream_junit(summary, failing or examples_of(summary), places)


def _stream_json(
    summary: Mapping[str, Any], _: FailingRows | None, __: PlacesRows | None = None
) -> Iterator[str]:
    yield json.dumps(summary, indent=2, ensure_ascii=False) + "\n"


def render_html(
    summary: Mapping[str, Any],
    failing: FailingRows | None = None,
    places: PlacesRows | None = None,
) -> str:
    """The HTML report (see :mod:`crawler.output.report.html`)."""
    return "".join(_stream_html(summary, failing, places))


def render_markdown(
    summary: Mapping[str, Any],
    failing: FailingRows | None = None,
    places: PlacesRows | None = None,
) -> str:
    """The Markdown report (see :mod:`crawler.output.report.markdown`)."""
    return "".join(_stream_markdown(summary, failing, places))


def render_junit(
    summary: Mapping[str, Any],
    failing: FailingRows | None = None,
    places: PlacesRows | None = None,
) -> str:
    """The JUnit XML report (see :mod:`crawler.output.report.junit`)."""
    return "".join(_stream_junit(summary, failing, places))


FORMATS: dict[str, Renderer] = {
    ".html": _stream_html,
    ".htm": _stream_html,
    ".md": _stream_markdown,
    ".markdown": _stream_markdown,
    ".xml": _stream_junit,
    ".json": _stream_json,
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


def write_report(
    summary: Mapping[str, Any],
    path: str | Path,
    failing: FailingRows | None = None,
    places: PlacesRows | None = None,
) -> Path:
    """Render ``summary``, ``failing`` and ``places`` (a site crawl's "broken links by page")
    in the format ``path``'s suffix names; write it there.

    A lone surrogate (from a hostile export) is written as ``\\udcxx`` rather than failing.
    """
    path = check_report_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render = FORMATS[path.suffix.lower()]
    with path.open("w", encoding="utf-8", errors="backslashreplace") as out:
        out.writelines(render(summary, failing, places))
    return path
