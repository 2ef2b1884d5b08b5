"""Retries that are polite per host: back off one host on 429/503, and a per-host budget."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message

from crawler.checker.botwall import bot_wall_sign
from crawler.checker.politeness import BACKOFF_STATUSES, STATS_PREFIX, PolitenessConfig
from crawler.checker.retry_after import retry_after_seconds
from crawler.handler.holds import hold_slot

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


def slot_key(request: Request) -> str:
    """The downloader slot (the host, unless ``download_slot`` says otherwise) of ``request``."""
    key = request.meta.get("download_slot")
    return key if isinstance(key, str) else (urlparse_cached(request).hostname or "")


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's ``RetryMiddleware`` (use it in its place, at 550), polite per host.

    - A 429 or 503 is retried after ``Retry-After`` (seconds or HTTP date) when that is at
      most ``CRAWLER_RETRY_AFTER_MAX``, else reported at once; without ``Retry-After`` after
      ``CRAWLER_BACKOFF_BASE`` seconds, doubled on each further retry of the URL (capped at
      ``CRAWLER_RETRY_AFTER_MAX``). The wait holds back that host's downloader slot only:
      other hosts go on at full speed, and no request sleeps while holding a place.
    - A bot wall (:func:`crawler.checker.botwall.bot_wall_sign`) is not retried: waiting does not
      open it.
    - Every retry of a host, of any kind, counts against ``CRAWLER_HOST_RETRY_BUDGET``.

    Stats: ``crawler/politeness/backoff_count`` and ``.../backoff_count/<host>``,
    ``crawler/politeness/retry_budget_exhausted_count/<host>``.
    """

    def __init__(self, settings: BaseSettings, config: PolitenessConfig) -> None:
        super().__init__(settings)
        self.config = config
        self._retries: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware from Scrapy's retry settings and ours."""
        middleware = cls(crawler.settings, PolitenessConfig.from_settings(crawler.settings))
        middleware.crawler = crawler
        return middleware

    def _retry_request(self, request: Request, reason: str | Exception) -> Request | None:
        """A retry of ``request`` within ``RETRY_TIMES`` and the host's budget, else ``None``."""
        host = slot_key(request)
        budget = self.config.host_retry_budget
        if budget and self._retries[host] >= budget:
            self.crawler.stats.inc_value(f"{STATS_PREFIX}retry_budget_exhausted_count/{host}")
            logger.debug("Retry budget of %s spent, not retrying %s", host, request)
            return None
        assert self.crawler.spider is not None
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
            give_up_log_level=request.meta.get("give_up_log_level", self.give_up_log_level),
        )
        if retry is not None:
            self._retries[host] += 1
        return retry

    def _backoff_wait(self, request: Request, response: Response) -> float | None:
        """Seconds to hold the host back before retrying, or ``None`` to report at once."""
        retry_after = retry_after_seconds(response.headers.get(b"Retry-After"))
        if retry_after is not None:
            return retry_after if retry_after <= self.config.max_wait else None
        retries = int(request.meta.get("retry_times", 0))
        return min(self.config.backoff_base * 2.0**retries, self.config.max_wait)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        """Back off the host on 429/503; retry ``RETRY_HTTP_CODES``; both within budget."""
        if request.meta.get("dont_retry", False):
            return response
        if response.status in BACKOFF_STATUSES:
            if bot_wall_sign(response) is not None:
                return response
            wait = self._backoff_wait(request, response)
            if wait is None:
                return response
            retry = self._retry_request(request, f"{response.status}, backing off {wait:g} s")
            if retry is None:
                return response
            await self._hold_host(slot_key(request), wait, response.status)
            return retry
        if response.status in self.retry_http_codes:
            return self._retry_request(request, response_status_message(response.status)) or (
                response
            )
        return response

    def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        """Retry ``RETRY_EXCEPTIONS`` within the host's budget."""
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get(
            "dont_retry", False
        ):
            return self._retry_request(request, exception)
        return None

    async def _hold_host(self, host: str, wait: float, status: int) -> None:
        stats = self.crawler.stats
        stats.inc_value(f"{STATS_PREFIX}backoff_count")
        stats.inc_value(f"{STATS_PREFIX}backoff_count/{host}")
        logger.info("HTTP %d from %s: holding it back for %g s", status, host, wait)
        if wait > 0 and not hold_slot(self.crawler, host, wait):
            await asyncio.sleep(wait)  # no downloader slot to hold: wait here instead
