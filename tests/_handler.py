"""Open our download handler on a test crawler, as Scrapy builds it, and always close it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.handler.download import AiohttpDownloadHandler

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def build_handler(settings: dict[str, Any] | None = None) -> AiohttpDownloadHandler:
    """A handler on a fresh crawler (``handler.crawler``); the caller closes it."""
    crawler = get_crawler(Spider, {"TWISTED_REACTOR": ASYNCIO_REACTOR, **(settings or {})})
    crawler.spider = crawler._create_spider("test")
    return build_from_crawler(AiohttpDownloadHandler, crawler)


@asynccontextmanager
async def open_handler(
    settings: dict[str, Any] | None = None,
) -> AsyncIterator[AiohttpDownloadHandler]:
    """A handler from :func:`build_handler`, closed on exit even on failure."""
    handler = build_handler(settings)
    try:
        yield handler
    finally:
        await handler.close()
