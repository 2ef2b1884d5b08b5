"""Scrapy's log formatter, minus two DEBUG lines per URL that a run above DEBUG never shows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter, LogFormatterResult

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["QuietLogFormatter"]


class QuietLogFormatter(LogFormatter):
    """Skips the "Crawled" and "Scraped from" messages unless ``LOG_LEVEL`` shows DEBUG.

    Scrapy builds both for every response (the Referer lookup included) and creates their
    log records even when the handlers then drop them: about 3 % of a checker's CPU time.
    Returning ``None`` tells Scrapy not to log; at DEBUG they are logged as usual.
    """

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the formatter; ``LOG_LEVEL`` decides whether the per-URL lines are made."""
        given = str(crawler.settings.get("LOG_LEVEL", "DEBUG")).strip().upper()
        level = int(given) if given.isdigit() else logging.getLevelName(given)
        return cls(debug=not isinstance(level, int) or level <= logging.DEBUG)

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
