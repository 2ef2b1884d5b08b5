"""The summary as GitHub-flavoured Markdown, for CI job summaries (``$GITHUB_STEP_SUMMARY``).

Text a list or a server controls (URLs, errors, hosts, outcomes of an export) goes into code
spans, where Markdown and HTML are shown, not run.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from crawler.output.report.formatting import (
    PHASE_LABELS,
    TOP_HOSTS,
    by_page,
    ms,
    percent,
    share,
    where,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from crawler.output.report import FailingRows, PlacesRows

_BACKTICKS = re.compile(r"`+")


class Code(str):
    """Text already made safe for a table cell by :func:`code`."""

    __slots__ = ()


def code(value: Any) -> Code:
    """``value`` as an inline code span safe in a table cell; empty for none.

    Whitespace (line breaks included) becomes one space, ``|`` is escaped (GFM tables split
    on it even inside code spans) and the fence is one backtick longer than any run inside.
    """
    text = " ".join(("" if value is None else str(value)).split()).replace("|", "\\|")
    if not text:
        return Code()
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    return Code(f"{fence}{text}{fence}")


def _cell(value: Any) -> str:
    if isinstance(value, Code):
        return value
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").split())


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    yield "| " + " | ".join(header) + " |\n"
    yield "|" + "---|" * len(header) + "\n"
    for row in rows:
        yield "| " + " | ".join(_cell(value) for value in row) + " |\n"
    yield "\n"


def _failures(summary: Mapping[str, Any], failing: FailingRows) -> Iterator[str]:
    yield "## Failures\n\n"
    if not summary["failures"]:
        yield "No failures.\n\n"
    for outcome, group in summary["failures"].items():
        yield f"### {code(outcome)} ({group['count']})\n\n"
        yield from _table(
            ("where", "URL", "status", "error"),
            (
                (code(where(f)), code(f["url"]), f["status"], code(f["error"]))
                for f in failing(outcome)
            ),
        )


def _places(places: PlacesRows) -> Iterator[str]:
    yield "## Broken links by page\n\n"
    empty = True
    for page, found in by_page(places()):
        empty = False
        yield f"### {code(page)}\n\n"
        yield from _table(
            ("line", "element", "text", "link", "outcome", "status", "places"),
            (
                (
                    p["line"],
                    code(p["element"]),
                    code(p["text"]),
                    code(p["url"]),
                    code(p["outcome"]),
                    p["status"],
                    p["found_count"],
                )
                for p in found
            ),
        )
    if empty:
        yield "No page links to a link that is not ok.\n\n"


def stream_markdown(
    summary: Mapping[str, Any], failing: FailingRows, places: PlacesRows | None = None
) -> Iterator[str]:
    """Headline, every failure, the broken links by page (a site crawl's), outcomes, status
    classes, timing, hosts, slowest, retries."""
    rows = summary["rows"]
    source = summary.get("run", {}).get("source")
    yield (
        f"# URL check report\n\n**{rows}** rows: **{summary['ok']}** ok, "
        f"**{summary['not_ok']}** not ok (success rate {percent(summary['success_rate'])})"
        + (f", from {code(source)}" if source else "")
        + ".\n\n"
    )
    yield from _failures(summary, failing)
    if places is not None:
        yield from _places(places)
    yield "## Outcomes\n\n"
    yield from _table(
        ("outcome", "rows", "share"),
        ((code(name), count, share(count, rows)) for name, count in summary["outcomes"].items()),
    )
    yield "## Status classes\n\n"
    yield from _table(
        ("status", "rows", "share"),
        ((name, count, share(count, rows)) for name, count in summary["status_classes"].items()),
    )
    yield "## Timing (ms)\n\n"
    yield from _table(
        ("phase", "count", "p50", "p90", "p99", "max"),
        (
            (
                PHASE_LABELS[phase],
                f["count"],
                ms(f["p50"]),
                ms(f["p90"]),
                ms(f["p99"]),
                ms(f["max"]),
            )
            for phase, f in summary["phases"].items()
            if f["count"]
        ),
    )
    hosts = list(summary["hosts"].items())
    yield "## Hosts\n\n"
    yield from _table(
        ("host", "rows", "ok", "not ok"),
        ((code(host), c["rows"], c["ok"], c["not_ok"]) for host, c in hosts[:TOP_HOSTS]),
    )
    if len(hosts) > TOP_HOSTS:
        yield f"… and {len(hosts) - TOP_HOSTS} more hosts.\n\n"
    yield "## Slowest URLs\n\n"
    if summary["slowest"]:
        yield from _table(
            ("total ms", "TTFB ms", "outcome", "URL"),
            (
                (ms(s["total_ms"]), ms(s["ttfb_ms"]), code(s["outcome"]), code(s["url"]))
                for s in summary["slowest"]
            ),
        )
    else:
        yield "No accepted URL has a total time.\n\n"
    retries = summary["retries"]
    yield (
        f"## Retries\n\n{retries['retries']} retries on {retries['retried_urls']} URLs, "
        f"{retries['redirects']} redirects followed"
        + (f", {retries['backoffs']} host backoffs" if retries.get("backoffs") else "")
        + ".\n"
    )
