"""``crawler.tuning.FLOOR_SETTINGS``: the lowest-cost crawl still downloads and counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider
from scrapy.utils.test import get_crawler

from crawler.tuning import FLOOR_SETTINGS
from tests._apps import checker_app
from tests._asyncio import coroutine_test

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.http import Response

    from tests.servers import ServerLoop


class ListSpider(Spider):
    """One request per URL, responses dropped: the benchmark's minimal spider."""

    name = "list"
    urls: tuple[str, ...] = ()

    async def start(self) -> AsyncIterator[Any]:
        for url in self.urls:
            yield Request(url, dont_filter=True, callback=self.parse)

    def parse(self, response: Response) -> None:
        return None


@coroutine_test
async def test_a_floor_crawl_downloads_every_url_and_counts_them(server_loop: ServerLoop) -> None:
    site = server_loop.http(checker_app())
    crawler = get_crawler(ListSpider, {**FLOOR_SETTINGS, "LOG_LEVEL": "WARNING"})
    await crawler.crawl_async(urls=tuple(f"{site}/ok?{i}" for i in range(20)))
    stats = crawler.stats.get_stats()
    assert stats["downloader/response_status_count/200"] == 20
    assert stats["scheduler/dequeued"] == 20
    assert stats["elapsed_time_seconds"] > 0
    assert stats["finish_reason"] == "finished"
