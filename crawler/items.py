"""The result row: one per input entry, whatever happened to it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class UrlResult:
    """What happened to one input URL, and where its time went.

    Times are milliseconds; a phase that did not happen (a reused connection has no DNS,
    connect or TLS phase) is empty, never 0.
    """

    url: str
    """The URL as given in the input."""
    source: str
    """The input it came from (file name, ``-`` for standard input)."""
    line: int
    """Its 1-based line number in that input."""
    outcome: str | None = None
    """One word for what happened; see ``crawler.checker.outcomes.OUTCOMES``."""
    ok: bool | None = None
    """Whether the final status is accepted (``CRAWLER_ACCEPT``); false for failures."""
    status: int | None = None
    """Final HTTP status, after redirects and retries; empty when no response."""
    error: str | None = None
    """Human-readable reason when not ok."""
    final_url: str | None = None
    method: str | None = None
    attempts: int | None = None
    """Downloads tried for the last hop (1 + retries)."""
    redirects: int | None = None
    chain: list[dict[str, Any]] = field(default_factory=list)
    """Every hop: ``{"url", "status", "ms"}``; the last one is the final response."""
    http_version: str | None = None
    ip: str | None = None
    tls_version: str | None = None
    cert_expires: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    """The ``Content-Length`` header, when sent."""
    retry_after: float | None = None
    """Seconds the server asked to wait (``Retry-After``, in seconds or as a date)."""
    bytes: int | None = None
    """Body bytes received (as sent on the wire, before decompression)."""
    partial_body: bool | None = None
    """The download stopped before the body's end (its first bytes are all a check needs,
    unless ``CRAWLER_FULL_BODIES``); ``bytes`` and ``download_ms`` cover the part read."""
    started_at: str | None = None
    """UTC ISO 8601 time of the first attempt."""
    queue_ms: float | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    download_ms: float | None = None
    total_ms: float | None = None
    """The whole life of the URL, across redirects and retries."""
    connection_reused: bool | None = None
    permanent_redirect: bool | None = None
    """The URL as given answered with a permanent redirect (301 or 308): update the source."""
    moved_to: str | None = None
    """Where the permanent redirects at the start of the chain lead: the URL to write instead."""
    cached: bool = False
    """The row was served from the result cache (``CRAWLER_CACHE``), not checked in this run."""
    found_on: str | None = None
    """Site crawls: the first page the link was found on (empty for a seed)."""
    found_count: int | None = None
    """Site crawls: the places (elements of pages) it was found at before its row was written."""
    depth: int | None = None
    """Site crawls: links followed from a seed to reach it (0 for a seed)."""


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UrlResult))
"""Column order of the exports."""

ENTRIES_STAT = "crawler/entries_count"
"""Stats key: input entries read (by the spider, or leased from a Redis job)."""
ENTRIES_RESUMED_STAT = "crawler/entries_resumed_count"
"""Stats key: entries skipped because ``resume`` found their row."""
ROWS_RESUMED_NOT_OK_STAT = "crawler/rows_resumed_not_ok_count"
"""Stats key: skipped entries whose earlier row is not ok (they count in the exit status)."""
