"""Scrapy, minus costs a checker pays on every URL and never uses: a stats collector without
Scrapy 2.19's per-access shim, a log formatter that builds no DEBUG line above DEBUG, the
components a run has turned off left out, and :data:`FLOOR_SETTINGS`, all of them at once.
What each saves is in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.statscollectors import MemoryStatsCollector

from crawler.console import log_level
from crawler.scheduler import LEAN_SCHEDULER

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

__all__ = [
    "FLOOR_SETTINGS",
    "LeanStatsCollector",
    "QuietLogFormatter",
    "leave_out_unused_middlewares",
]

COOKIES_MIDDLEWARE = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
"""Imports tldextract, requests and urllib3 even when ``COOKIES_ENABLED`` is off."""
HANDLER = "crawler.handler.AiohttpDownloadHandler"

FLOOR_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "ASYNCIO_EVENT_LOOP": "uvloop.Loop" if find_spec("uvloop") else None,
    "SCHEDULER": LEAN_SCHEDULER,
    "STATS_CLASS": "crawler.tuning.LeanStatsCollector",
    "LOG_FORMATTER": "crawler.tuning.QuietLogFormatter",
    # no middleware or extension but those that count responses and the crawl's time
    "DOWNLOADER_MIDDLEWARES_BASE": {"scrapy.downloadermiddlewares.stats.DownloaderStats": 850},
    "SPIDER_MIDDLEWARES_BASE": {},
    "EXTENSIONS_BASE": {"scrapy.extensions.corestats.CoreStats": 0},
    "CONCURRENT_ITEMS": 1,
}
"""The lowest-cost Scrapy crawl with our handler: Scrapy's engine and our handler alone, for a
spider that needs no middleware (``bench/minimal_spider.py``'s ``product-floor``). A project
applies it with ``settings.update(FLOOR_SETTINGS)``; the ``urls`` project keeps the components
a checker needs (``crawler/settings.py``)."""


class LeanStatsCollector(MemoryStatsCollector):
    """Scrapy's :class:`~scrapy.statscollectors.MemoryStatsCollector`, minus one shim.

    Since Scrapy 2.19, ``StatsCollector.__getattribute__`` wraps every method on every
    attribute access (even ``self._stats``) to warn about the deprecated ``spider``
    argument, and a crawl makes dozens of stats calls per request. The ``spider`` argument is
    still accepted (and ignored), only without the warning. Enabled with ``STATS_CLASS``.
    """

    __getattribute__ = object.__getattribute__


class QuietLogFormatter(LogFormatter):
    """Skips the "Crawled" and "Scraped from" messages unless ``LOG_LEVEL`` shows DEBUG.

    Scrapy builds both for every response (the Referer lookup included) and creates their
    log records even when the handlers then drop them. Returning ``None`` tells Scrapy not to
    log; at DEBUG they are logged as usual. Enabled with ``LOG_FORMATTER``.
    """

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the formatter; ``LOG_LEVEL`` decides whether the per-URL lines are made."""
        level = log_level(crawler.settings)
        return cls(debug=level is None or level <= logging.DEBUG)

    def crawled(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider
    ) -> LogFormatterResult | None:
        """Scrapy's "Crawled (200) <GET …>" at DEBUG; nothing above it."""
        return super().crawled(request, response, spider) if self.debug else None

    def scraped(  # type: ignore[override]
        self, item: Any, response: Response | Any, spider: Spider
    ) -> LogFormatterResult | None:
        """Scrapy's "Scraped from <200 …>" at DEBUG; nothing above it."""
        return super().scraped(item, response, spider) if self.debug else None


def leave_out_unused_middlewares(settings: BaseSettings) -> None:
    """With ``COOKIES_ENABLED`` off, take the cookies middleware out of Scrapy's
    ``DOWNLOADER_MIDDLEWARES_BASE``, which Scrapy would otherwise import only to find it not
    configured. (Naming it in ``DOWNLOADER_MIDDLEWARES``, even as ``None``, imports it too.)
    A project that names it in ``DOWNLOADER_MIDDLEWARES`` keeps it as it set it."""
    if settings.getbool("COOKIES_ENABLED"):
        return
    if any(str(key) == COOKIES_MIDDLEWARE for key in settings.getdict("DOWNLOADER_MIDDLEWARES")):
        return
    base = settings.getdict("DOWNLOADER_MIDDLEWARES_BASE")
    if base.pop(COOKIES_MIDDLEWARE, None) is None:
        return
    priority = settings.getpriority("DOWNLOADER_MIDDLEWARES_BASE") or 0
    settings.set(
        "DOWNLOADER_MIDDLEWARES_BASE", base, priority=max(priority, SETTINGS_PRIORITIES["spider"])
    )
