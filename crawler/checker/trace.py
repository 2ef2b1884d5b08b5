"""The life of one URL across redirects and retries: its hops, attempts and whole-URL time.

:class:`UrlTrace` is shared through ``request.meta`` by every request of one input URL; the
tracking middleware (``middlewares.tracking``) keeps it up to date, and the rows read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from crawler.handler.timing import TIMING_META_KEY, DownloadTiming, to_ms

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
"""Statuses Scrapy's redirect middleware follows (with a ``Location``)."""
URL_TRACE_META_KEY = "url_trace"
"""``request.meta`` key of the :class:`UrlTrace` shared by every request of one URL."""


@dataclass(slots=True)
class Hop:
    """One response on the way: the URL asked, the status got, the download's time."""

    url: str
    status: int | None
    ms: float | None

    def as_dict(self) -> dict[str, Any]:
        """The hop as a plain dict, for items and exports."""
        return {"url": self.url, "status": self.status, "ms": self.ms}


@dataclass(slots=True)
class UrlTrace:
    """The life of one input URL; redirected and retried requests share it through meta."""

    started: float | None = None
    """``time.perf_counter()`` at the start of the first download."""
    started_at: float | None = None
    """Wall-clock UNIX time of the start of the first download."""
    first_download_seen: bool = False
    """The start is the handler's, not the time the request entered the downloader."""
    hop_asked: float | None = None
    """``time.perf_counter()`` when a redirect's next hop entered the downloader."""
    queued: float = 0.0
    """Seconds redirect hops waited in the downloader before they started: the list's wait
    (the host's concurrency, its interval), taken out of the URL's time like the first's."""
    attempts: int = 0
    """Downloads tried for this URL, redirect hops and retries included."""
    responses: list[Hop] = field(default_factory=list)

    def hop_entered(self) -> None:
        """Note when a redirect's next hop enters the downloader (a retry's time is kept)."""
        if self.responses and self.responses[-1].status in REDIRECT_STATUSES:
            self.hop_asked = time.perf_counter()

    def download_ended(self, timing: DownloadTiming | None) -> None:
        """Move the start to where the first download really began; take out later queues.

        A request enters the downloader, where the clock starts, before it waits for its turn
        in its host's slot (``DOWNLOAD_DELAY``, a host's ``interval``, its concurrency): that
        wait is the list's, not the URL's, and so is a redirect hop's (behind the other URLs
        of its host). A retry's wait (its backoff) stays in the URL's time. Without a
        :class:`DownloadTiming` (timing off, another handler) the clock keeps its first start.
        """
        asked, self.hop_asked = self.hop_asked, None
        if self.first_download_seen:
            if asked is not None and timing is not None and timing.total is not None:
                self.queued += max(0.0, time.perf_counter() - timing.total - asked)
            return
        self.first_download_seen = True
        if timing is not None and timing.total is not None:
            self.started = time.perf_counter() - timing.total
            self.started_at = timing.started_at

    def elapsed_ms(self) -> float | None:
        """Milliseconds since the first attempt, if there was one."""
        if self.started is None:
            return None
        return to_ms(time.perf_counter() - self.started - self.queued)

    def chain(self) -> list[Hop]:
        """The responses with retries of the same URL collapsed to their last one.

        A redirect to the URL itself is a hop of its own, not a retry: a loop of one URL.
        """
        hops: list[Hop] = []
        for hop in self.responses:
            if hops and hops[-1].url == hop.url and hops[-1].status not in REDIRECT_STATUSES:
                hops[-1] = hop
            else:
                hops.append(hop)
        return hops


FOLLOWED_SCHEMES = frozenset({"http", "https"})


def other_scheme_target(request: Request, response: Response) -> str | None:
    """Where a redirect ``response`` leads if not to an http(s) URL (``mailto:``, ``ftp:``)."""
    if response.status not in REDIRECT_STATUSES:
        return None
    location = response.headers.get(b"Location")
    if not location or location.startswith(b"//"):
        return None
    target = urljoin(request.url, location.decode("latin-1").strip())
    try:
        scheme = urlsplit(target).scheme.lower()
    except ValueError:
        return None
    return target if scheme not in FOLLOWED_SCHEMES else None


def download_timing(request: Request) -> DownloadTiming | None:
    """The handler's timing of ``request``, if it left one."""
    timing = request.meta.get(TIMING_META_KEY)
    return timing if isinstance(timing, DownloadTiming) else None


def download_ms(request: Request) -> float | None:
    """Milliseconds the handler spent on ``request`` (``None`` without timing)."""
    timing = download_timing(request)
    return to_ms(timing.total) if timing is not None else None
