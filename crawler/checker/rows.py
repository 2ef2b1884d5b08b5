"""Build result rows from what the handler and the tracking middleware left in meta."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler.checker.botwall import bot_wall_sign
from crawler.checker.outcomes import Outcome
from crawler.checker.retry_after import retry_after_seconds
from crawler.checker.trace import (
    URL_TRACE_META_KEY,
    Hop,
    UrlTrace,
    download_ms,
    other_scheme_target,
)
from crawler.handler.timing import TIMING_META_KEY, DownloadTiming
from crawler.items import UrlResult
from crawler.redact import DEFAULT, Redactor

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

    from crawler.sources import UrlEntry


def _iso(unix_time: float | None) -> str | None:
    if unix_time is None:
        return None
    return datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="milliseconds")


def timing_fields(source: Request | Response | DownloadTiming) -> dict[str, Any]:
    """The download timing of ``source`` as flat fields to copy into any item.

    Keys (as in the ``urls`` spider's rows): ``http_version``, ``ip``, ``tls_version``,
    ``cert_expires``, ``bytes``, ``queue_ms``, ``dns_ms``, ``connect_ms``, ``tls_ms``,
    ``ttfb_ms``, ``download_ms``, ``connection_reused``; ``{}`` when nothing was recorded.
    """
    timing = source if isinstance(source, DownloadTiming) else source.meta.get(TIMING_META_KEY)
    if not isinstance(timing, DownloadTiming):
        return {}
    expiry = None if timing.certificate is None else timing.cert_not_after
    # to_ms written out: six calls a row, most of them on ``None`` (a reused connection)
    queue, dns, connect, tls = timing.queue, timing.dns, timing.connect, timing.tls
    ttfb, download = timing.ttfb, timing.download
    return {
        "http_version": timing.http_version,
        "ip": timing.remote_ip,
        "tls_version": timing.tls_version,
        "cert_expires": expiry.isoformat() if expiry else None,
        "bytes": timing.bytes_received,
        "queue_ms": None if queue is None else round(queue * 1000, 3),
        "dns_ms": None if dns is None else round(dns * 1000, 3),
        "connect_ms": None if connect is None else round(connect * 1000, 3),
        "tls_ms": None if tls is None else round(tls * 1000, 3),
        "ttfb_ms": None if ttfb is None else round(ttfb * 1000, 3),
        "download_ms": None if download is None else round(download * 1000, 3),
        "connection_reused": timing.reused,
    }


PERMANENT_REDIRECTS = frozenset({301, 308})


def permanent_move(chain: list[dict[str, Any]]) -> tuple[bool, str | None]:
    """Whether the first hop of ``chain`` is a permanent redirect, and where the permanent
    redirects the chain starts with lead (``None`` when they never reach another hop)."""
    moves = 0
    while moves < len(chain) and chain[moves]["status"] in PERMANENT_REDIRECTS:
        moves += 1
    if not moves:
        return False, None
    return True, chain[moves]["url"] if moves < len(chain) else None


def entry_row(
    entry: UrlEntry,
    outcome: str | None = None,
    error: str | None = None,
    *,
    redactor: Redactor = DEFAULT,
) -> UrlResult:
    """A row for ``entry`` with nothing measured yet, its secrets masked by ``redactor``."""
    return UrlResult(
        url=redactor.url(entry.url),
        source=entry.source,
        line=entry.line,
        outcome=outcome,
        error=redactor.text(error) if error else error,
    )


def request_row(
    entry: UrlEntry,
    request: Request,
    response: Response | None,
    *,
    redactor: Redactor = DEFAULT,
) -> UrlResult:
    """The row of a URL whose last request is ``request`` (with ``response``, if any)."""
    url = redactor.url(entry.url)
    masked = {entry.url: url}  # the same URL comes back as request, hop and response

    def mask(url: str) -> str:
        found = masked.get(url)
        if found is None:
            found = masked[url] = redactor.url(url)
        return found

    meta = request.meta
    trace = meta.get(URL_TRACE_META_KEY)
    hops = trace.chain() if isinstance(trace, UrlTrace) else []
    if response is None and (not hops or hops[-1].url != request.url):
        hops.append(Hop(request.url, None, download_ms(request)))
    row = UrlResult(
        url=url,
        source=entry.source,
        line=entry.line,
        final_url=mask(request.url),
        method=request.method,
        redirects=len(meta.get("redirect_urls", ())),
        chain=[{"url": mask(hop.url), "status": hop.status, "ms": hop.ms} for hop in hops],
        **timing_fields(request),
    )
    if isinstance(trace, UrlTrace):
        row.attempts = trace.attempts
        row.started_at = _iso(trace.started_at)
        row.total_ms = trace.elapsed_ms()
    if row.started_at is None and isinstance(timing := meta.get(TIMING_META_KEY), DownloadTiming):
        row.started_at = _iso(timing.started_at)
    row.permanent_redirect, row.moved_to = permanent_move(row.chain)
    if response is not None:
        row.status = response.status
        row.final_url = mask(response.url)
        headers = response.headers
        if content_type := headers.get(b"Content-Type"):
            row.content_type = content_type.decode("latin-1")
        length = headers.get(b"Content-Length")
        if length is not None and length.isdigit():
            row.content_length = int(length)
        if b"Retry-After" in headers:  # seldom sent: get() would raise and catch inside
            row.retry_after = retry_after_seconds(headers.get(b"Retry-After"))
        if row.bytes is None:
            row.bytes = len(response.body)
        row.partial_body = "download_stopped" in response.flags
        if sign := bot_wall_sign(response):
            row.outcome = Outcome.BLOCKED  # the pipeline keeps it unless the status is accepted
            row.error = f"blocked by a bot wall (HTTP {response.status}, {sign})"
        elif target := other_scheme_target(request, response):
            row.outcome = Outcome.UNSUPPORTED_SCHEME
            row.error = (
                f"HTTP {response.status} redirects to {redactor.url(target)[:200]}: "
                "only http and https are checked"
            )
    return row
