"""Open our download handler on a test crawler, as Scrapy builds it, and always close it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.handler import AiohttpDownloadHandler

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


@asynccontextmanager
async def open_handler(
    settings: dict[str, Any] | None = None,
) -> AsyncIterator[AiohttpDownloadHandler]:
    """A handler on a fresh crawler (``handler.crawler``), closed on exit even on failure."""
    crawler = get_crawler(Spider, {"TWISTED_REACTOR": ASYNCIO_REACTOR, **(settings or {})})
    crawler.spider = crawler._create_spider("test")
    handler = build_from_crawler(AiohttpDownloadHandler, crawler)
    try:
        yield handler
    finally:
        await handler.close()
