"""Downloader middleware that keeps each URL's :class:`~crawler.checker.trace.UrlTrace`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from crawler.checker.trace import (
    REDIRECT_STATUSES,
    URL_TRACE_META_KEY,
    Hop,
    UrlTrace,
    download_timing,
    other_scheme_target,
)
from crawler.handler.timing import TIMING_META_KEY, DownloadTiming, to_ms

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class UrlTrackingMiddleware:
    """Downloader middleware: keeps the :class:`UrlTrace` of each request up to date.

    Place it next to the downloader (a high order number, e.g. 950) so it sees every raw
    response before the redirect and retry middlewares turn it into a new request.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware (Scrapy's component factory)."""
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Count the attempt; start the URL's clock on its first one."""
        meta = request.meta
        trace = meta.get(URL_TRACE_META_KEY)
        if trace is None:
            trace = meta[URL_TRACE_META_KEY] = UrlTrace()
        if trace.started is None:
            trace.started = time.perf_counter()
            trace.started_at = time.time()
        if trace.responses:  # a later hop: a redirect's, or a retry
            trace.hop_entered()
        trace.attempts += 1

    def process_response(self, request: Request, response: Response) -> Response:
        """Record the response as a hop of the URL's chain.

        A redirect to another scheme ends the chain here: Scrapy's redirect middleware would
        fail on some (``mailto:`` is no URL it can build a request for) and pass others on.
        """
        meta = request.meta
        trace = meta.get(URL_TRACE_META_KEY)
        status = response.status
        if isinstance(trace, UrlTrace):
            timing = meta.get(TIMING_META_KEY)  # read once: the hop's time and the clock's
            if not isinstance(timing, DownloadTiming):
                timing = None
            trace.download_ended(timing)
            ms = to_ms(timing.total) if timing is not None else None
            trace.responses.append(Hop(request.url, status, ms))
        if status in REDIRECT_STATUSES and other_scheme_target(request, response) is not None:
            request.meta["dont_redirect"] = True
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A failed download ends the first one too; the exception goes on as it is."""
        trace = request.meta.get(URL_TRACE_META_KEY)
        if isinstance(trace, UrlTrace):
            trace.download_ended(download_timing(request))
