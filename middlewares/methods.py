"""HEAD checks that fall back to GET, GET checks that stop after the headers, and GET checks
that stop after the first bytes of the body (unless ``CRAWLER_FULL_BODIES``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DownloadTimeoutError, ResponseDataLossError, StopDownload

from crawler.checker.botwall import BODY_PREFIX, bot_wall_sign
from crawler.checker.methods import CHECK_METHOD_META_KEY, WHOLE_HTML_META_KEY, is_html
from crawler.exceptions import (
    ConnectTimeoutError,
    DownloadConnectionResetError,
    InvalidResponseError,
)
from crawler.names import SETTINGS

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

HEAD_FALLBACK_META_KEY = "head_fallback"
"""``request.meta`` key saying why a HEAD check went on with GET."""

BODY_SEEN_META_KEY = "body_bytes_seen"
"""``request.meta`` key of ``[bytes received, Content-Length or None]`` of a checked GET."""

NO_FALLBACK_STATUSES = frozenset({429, 503})
"""Statuses about the host, not the method: the politeness middleware deals with them."""

FALLBACK_ERRORS: tuple[type[Exception], ...] = (
    InvalidResponseError,
    DownloadConnectionResetError,
    ResponseDataLossError,
    DownloadTimeoutError,
)
"""Failures a server may give HEAD but not GET (a connect timeout is not one of them)."""


@dataclass(frozen=True, slots=True)
class BodyConfig:
    """How much of a body a check reads."""

    full_bodies: bool
    """``CRAWLER_FULL_BODIES``: read every body to its end (download timings, data loss)."""

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read ``CRAWLER_FULL_BODIES``."""
        return cls(
            full_bodies=settings.getbool("CRAWLER_FULL_BODIES", SETTINGS["CRAWLER_FULL_BODIES"])
        )


HEAD_FALLBACK_STAT = "crawler/methods/head_fallback_count"
"""Stats key: HEAD checks answered again with GET."""


class CheckMethodMiddleware:
    """Downloader middleware for the ``head`` and ``headers`` check methods.

    - ``head``: a 4xx/5xx answer to HEAD (but 429/503 or a bot wall) or a broken one
      (invalid, reset, truncated, timed out) is asked again with GET, which decides the row.
    - ``headers``: the download stops once the headers are in (``StopDownload(fail=False)``
      from the ``headers_received`` signal); the response has an empty body.
    - ``get`` (and a ``head`` check's GET): the download stops once the body's first
      :data:`~crawler.checker.botwall.BODY_PREFIX` bytes are in (all a row needs: the bot-wall
      markers), from the ``bytes_received`` signal, unless ``CRAWLER_FULL_BODIES`` is set.
      Either way a stopped response is flagged ``download_stopped``. An HTML response to a
      request with ``WHOLE_HTML_META_KEY`` (a page the site crawl parses) is read whole.

    Order it below the retry middleware (e.g. 540, retry is 550), so that retries and
    backoff come first. Stats: ``crawler/methods/head_fallback_count``.
    """

    def __init__(self, crawler: Crawler, config: BodyConfig | None = None) -> None:
        self.crawler = crawler
        self.config = config or BodyConfig.from_settings(crawler.settings)
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)
        if not self.config.full_bodies:
            crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware and connect it to ``headers_received`` and ``bytes_received``."""
        return cls(crawler)

    def _headers_received(
        self,
        request: Request,
        body_length: int | None = None,
        headers: Headers | None = None,
        **_: Any,
    ) -> None:
        method = request.meta.get(CHECK_METHOD_META_KEY)
        if method == "headers":
            raise StopDownload(fail=False)
        if (
            request.meta.get(WHOLE_HTML_META_KEY)
            and headers is not None
            and is_html(headers.get(b"Content-Type"))
        ):
            return  # a page to parse: read to its end
        if method is not None and request.method != "HEAD" and not self.config.full_bodies:
            request.meta[BODY_SEEN_META_KEY] = [0, body_length]

    def _bytes_received(self, request: Request, data: bytes, **_: Any) -> None:
        seen = request.meta.get(BODY_SEEN_META_KEY)
        if not isinstance(seen, list):
            return  # not a checked GET
        seen[0] += len(data)
        complete = seen[1] is not None and seen[0] >= seen[1]
        if seen[0] >= BODY_PREFIX and not complete:
            raise StopDownload(fail=False)

    def _fallback(self, request: Request, reason: str) -> Request:
        self.crawler.stats.inc_value(HEAD_FALLBACK_STAT)
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
