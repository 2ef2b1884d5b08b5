"""A minimal Scrapy crawl of a URL list, the same for every handler under test.

``python -m bench.minimal_spider FILE HANDLER CONCURRENCY [SETTING=VALUE ...]``, where
HANDLER is ``default``, ``scrapy-aiohttp`` or ``ours``; ``ours-floor`` is our handler in the
cheapest Scrapy crawl there is (:data:`ENGINE_FLOOR_SETTINGS`): what Scrapy's engine alone
allows; ``product-floor`` is that crawl with our lean components on top
(:func:`floor_settings`): our lowest-cost configuration of Scrapy.
"""

from __future__ import annotations

import sys
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import AsyncCrawlerProcess

HANDLERS = {
    "default": None,
    # Scrapy's experimental handler, named by its import string as a user would: a contender.
    "scrapy-aiohttp": "scrapy.core.downloader.handlers._aiohttp.AiohttpDownloadHandler",
    "ours": "crawler.handler.AiohttpDownloadHandler",
    "ours-floor": "crawler.handler.AiohttpDownloadHandler",
    "product-floor": "crawler.handler.AiohttpDownloadHandler",
}

ENGINE_FLOOR_SETTINGS: dict[str, Any] = {
    # no middleware, extension or log line but those that count: responses and elapsed time
    "DOWNLOADER_MIDDLEWARES_BASE": {
        "scrapy.downloadermiddlewares.stats.DownloaderStats": 850,
    },
    "SPIDER_MIDDLEWARES_BASE": {},
    "EXTENSIONS_BASE": {"scrapy.extensions.corestats.CoreStats": 0},
    "ASYNCIO_EVENT_LOOP": "uvloop.Loop",
    "STATS_CLASS": "crawler.tuning.LeanStatsCollector",
    "LOG_FORMATTER": "crawler.tuning.QuietLogFormatter",
    "CONCURRENT_ITEMS": 1,
}
"""The engine floor. Kept as it is while our own lean components change, so that the product's
ratio to it means the same from one run to the next; those components go in
:func:`floor_settings`."""


def floor_settings() -> dict[str, Any]:
    """Our lowest-cost configuration, applied over the engine floor by ``product-floor``:
    ``crawler.tuning.FLOOR_SETTINGS``, its one home. Imported here only, so that the other
    contenders do not pay for importing the project."""
    from crawler.tuning import FLOOR_SETTINGS

    return dict(FLOOR_SETTINGS)


class ListSpider(Spider):
    """One request per line; the responses are dropped."""

    name = "list"

    def __init__(self, path: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path

    async def start(self) -> Any:
        with open(self.path, encoding="utf-8") as lines:
            for line in lines:
                yield Request(line.strip(), dont_filter=True, callback=self.parse)

    def parse(self, response: Any) -> None:
        return None


def main() -> None:
    path, handler, concurrency, *extra = sys.argv[1:]
    settings: dict[str, Any] = {
        "CONCURRENT_REQUESTS": int(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": int(concurrency),
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "RETRY_ENABLED": False,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }
    if HANDLERS[handler]:
        settings["DOWNLOAD_HANDLERS"] = {"http": HANDLERS[handler], "https": HANDLERS[handler]}
    if handler in ("ours-floor", "product-floor"):
        settings.update(ENGINE_FLOOR_SETTINGS)
    if handler == "product-floor":
        settings.update(floor_settings())
    for pair in extra:
        name, _, value = pair.partition("=")
        settings[name] = value
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(ListSpider)
    process.crawl(crawler, path=path)
    process.start()
    stats = crawler.stats
    ok = stats.get_value("downloader/response_status_count/200", 0)
    print(f"ok={ok} elapsed={stats.get_value('elapsed_time_seconds', 0.0):.6f}", flush=True)


if __name__ == "__main__":
    main()
