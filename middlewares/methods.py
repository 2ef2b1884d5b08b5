"""HEAD checks that fall back to GET, and GET checks that stop after the headers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DownloadTimeoutError, ResponseDataLossError, StopDownload

from crawler.botwall import bot_wall_sign
from crawler.exceptions import ConnectionResetError, ConnectTimeoutError, InvalidResponseError
from crawler.methods import CHECK_METHOD_META_KEY

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

HEAD_FALLBACK_META_KEY = "head_fallback"
"""``request.meta`` key saying why a HEAD check went on with GET."""

NO_FALLBACK_STATUSES = frozenset({429, 503})
"""Statuses about the host, not the method: the politeness middleware deals with them."""

FALLBACK_ERRORS: tuple[type[Exception], ...] = (
    InvalidResponseError,
    ConnectionResetError,
    ResponseDataLossError,
    DownloadTimeoutError,
)
"""Failures a server may give HEAD but not GET (a connect timeout is not one of them)."""


class CheckMethodMiddleware:
    """Downloader middleware for the ``head`` and ``headers`` check methods.

    - ``head``: a 4xx/5xx answer to HEAD (but 429/503 or a bot wall) or a broken one
      (invalid, reset, truncated, timed out) is asked again with GET, which decides the row.
    - ``headers``: the download stops once the headers are in (``StopDownload(fail=False)``
      from the ``headers_received`` signal); the response has an empty body.

    Order it below the retry middleware (e.g. 540, retry is 550), so that retries and
    backoff come first. Stats: ``crawler/methods/head_fallback_count``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware and connect it to ``headers_received``."""
        return cls(crawler)

    def _headers_received(self, request: Request, **_: Any) -> None:
        if request.meta.get(CHECK_METHOD_META_KEY) == "headers":
            raise StopDownload(fail=False)

    def _fallback(self, request: Request, reason: str) -> Request:
        self.crawler.stats.inc_value("crawler/methods/head_fallback_count")
        logger.debug("%s: going on with GET (%s)", request, reason)
        meta = {k: v for k, v in request.meta.items() if k != "retry_times"}
        meta[HEAD_FALLBACK_META_KEY] = reason
        return request.replace(method="GET", meta=meta, dont_filter=True)

    def _falls_back(self, request: Request) -> bool:
        return request.method == "HEAD" and request.meta.get(CHECK_METHOD_META_KEY) == "head"

    def process_response(self, request: Request, response: Response) -> Request | Response:
        """Ask again with GET when HEAD got an error status."""
        if (
            self._falls_back(request)
            and response.status >= 400
            and response.status not in NO_FALLBACK_STATUSES
            and bot_wall_sign(response) is None
        ):
            return self._fallback(request, f"HEAD got HTTP {response.status}")
        return response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        """Ask again with GET when HEAD got a broken answer."""
        if (
            self._falls_back(request)
            and isinstance(exception, FALLBACK_ERRORS)
            and not isinstance(exception, ConnectTimeoutError)
        ):
            return self._fallback(request, f"HEAD failed: {type(exception).__name__}")
        return None
