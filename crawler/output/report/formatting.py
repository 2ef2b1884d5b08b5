"""Number formatting shared by the report renderers."""

from __future__ import annotations

import itertools
import operator
from typing import TYPE_CHECKING, Any

from crawler.output.summary import format_ms

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

PHASE_LABELS = {
    "queue_ms": "queue",
    "dns_ms": "DNS",
    "connect_ms": "connect",
    "tls_ms": "TLS",
    "ttfb_ms": "TTFB",
    "download_ms": "download",
    "total_ms": "total",
}
"""Display names of the timing phases, in the order of a download."""

NONE = "\u2013"
"""What an empty cell shows (an en dash)."""

TOP_HOSTS = 50
"""Hosts listed in a report (the busiest first); the rest are counted in one line."""


def ms(value: Any) -> str:
    """``12.3``, ``1,234``, ``0.42``; an en dash when there is no value."""
    return NONE if value is None else format_ms(float(value))


def percent(value: float | None) -> str:
    """``93.3 %``; an en dash for none."""
    return NONE if value is None else f"{value * 100:.1f} %"


def share(count: int, total: int) -> str:
    """``count`` as a percentage of ``total``."""
    return percent(count / total) if total else NONE


def where(failure: Mapping[str, Any]) -> str:
    """``source:line`` of a failing row (just the source when the line is unknown)."""
    source = failure.get("source") or "?"
    return f"{source}:{failure['line']}" if failure.get("line") else str(source)


def by_page(
    places: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[str, list[Mapping[str, Any]]]]:
    """The places (sorted by page) grouped by page: ``(page, its places)``, one page at a
    time."""
    for page, group in itertools.groupby(places, key=operator.itemgetter("page")):
        yield str(page), list(group)
