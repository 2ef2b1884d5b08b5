"""Honour ``Retry-After`` on 429 and 503, up to a cap, before retrying."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import get_retry_request

from crawler._retry_after import retry_after_seconds

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

RATE_LIMIT_STATUSES = frozenset({429, 503})


class RetryAfterMiddleware:
    """Downloader middleware: wait what a 429/503 asks (``Retry-After``), then retry.

    Waits at most ``CRAWLER_RETRY_AFTER_MAX`` seconds (default 10; 0 turns this off); a longer
    wait is not made and the response goes on (the row says ``rate_limited`` and
    ``retry_after``). Retries share Scrapy's ``RETRY_TIMES`` budget. Order it just above
    ``RetryMiddleware`` (550), e.g. 560, so it sees these responses first.
    """

    def __init__(self, crawler: Crawler, max_wait: float) -> None:
        self.crawler = crawler
        self.max_wait = max_wait

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware from ``CRAWLER_RETRY_AFTER_MAX``."""
        max_wait = crawler.settings.getfloat("CRAWLER_RETRY_AFTER_MAX", 10.0)
        if max_wait < 0:
            raise ValueError(
                f"CRAWLER_RETRY_AFTER_MAX must be >= 0 (0 turns it off), got {max_wait}"
            )
        return cls(crawler, max_wait)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        """Wait and retry a rate-limited response whose ``Retry-After`` is within the cap."""
        if response.status not in RATE_LIMIT_STATUSES or request.meta.get("dont_retry"):
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None or wait > self.max_wait:
            return response
        assert self.crawler.spider is not None
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=f"Retry-After {wait:g} s ({response.status})",
        )
        if retry is None:
            return response
        self.crawler.stats.inc_value("crawler/retry_after_waits_count")
        await asyncio.sleep(wait)
        return retry
