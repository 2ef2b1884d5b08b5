"""``crawler.tuning.LeanDownloaderStats`` and ``LeanCoreStats``: Scrapy's stats, the same keys
and values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pydispatch.dispatcher import getAllReceivers, liveReceivers
from scrapy import Request, signals
from scrapy.downloadermiddlewares.stats import DownloaderStats
from scrapy.exceptions import DownloadTimeoutError, DropItem, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.conf import build_component_list
from scrapy.utils.test import get_crawler

import crawler.settings as project_settings
from crawler.output.run_summary import SUMMARY_PIPELINE, SUMMARY_PIPELINE_ORDER
from crawler.tuning import (
    LEAN_CORE_STATS,
    LEAN_DOWNLOADER_STATS,
    SCRAPY_CORE_STATS,
    SCRAPY_DOWNLOADER_STATS,
    LeanDownloaderStats,
)
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows, urls_crawler

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

REQUESTS = [
    Request("http://example.com"),
    Request("http://Example.COM:8080/a/b;params?q=1&r=%C3%A9#frag"),
    Request("https://example.com/ü/ß?x=ä"),  # escaped by Request: still ASCII
    Request("http://xn--bcher-kva.example/"),
    Request("http://[::1]:8080/v6"),
    Request("http://example.com//double/slash?q"),
    Request("http://user:pw@example.com/auth"),
    Request("http://example.com/", method="HEAD", headers={"Accept": ["a", "b"], "X-E": ""}),
    Request("http://example.com/post", method="POST", body=b"x" * 17, headers={"A": "1"}),
    Request("http://example.com/?", headers={"Referer": "http://example.com/é"}),
    Request("http://example.com/;", method="PUT", body="ü"),
    Request("http://example.com/empty", headers={"X-None": []}),
]
RESPONSES = [
    Response("http://example.com", status=200, body=b"abc", headers={"A": ["1", "22"]}),
    Response("http://example.com", status=404),
    Response("http://example.com", status=599, body=b"?"),
    HtmlResponse("http://example.com", status=302, headers={"Location": "/x"}, body=b"<p>"),
]


def stats_of(middleware_class: type) -> dict[str, int]:
    stats = MemoryStatsCollector(get_crawler())
    middleware = middleware_class(stats)
    for request in REQUESTS:
        middleware.process_request(request)
    for response in RESPONSES:
        middleware.process_response(REQUESTS[0], response)
    middleware.process_exception(REQUESTS[0], DownloadTimeoutError("slow"))
    middleware.process_exception(REQUESTS[0], ValueError("bad"))
    return stats.get_stats()


def test_the_same_stats_as_scrapy_for_odd_requests_and_responses() -> None:
    expected = stats_of(DownloaderStats)
    assert expected["downloader/request_count"] == len(REQUESTS)
    assert stats_of(LeanDownloaderStats) == expected


@coroutine_test
async def test_a_crawl_counts_as_scrapy_downloader_stats_does(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(checker_app())
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/ok\n{site}/status/404\n{site}/redirect/2\n{site}/ok?q=é;p\n"
        f"{site}//ok\nhttp://127.0.0.1:9/\n"
    )
    found = []
    for stock in (False, True):
        overrides = {"DOWNLOADER_MIDDLEWARES": {SCRAPY_DOWNLOADER_STATS: 850}} if stock else {}
        crawler = await crawl_urls(tmp_path / f"{stock}.csv", str(urls), **overrides)
        loaded = build_component_list(crawler.settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
        assert (LEAN_DOWNLOADER_STATS in loaded) is not stock
        assert (SCRAPY_DOWNLOADER_STATS in loaded) is stock
        assert len(read_rows(tmp_path / f"{stock}.csv")) == 6
        stats = crawler.stats.get_stats()
        found.append({k: v for k, v in stats.items() if k.startswith("downloader/")})
    assert found[0]["downloader/request_bytes"] > 0
    assert found[0]["downloader/exception_count"] > 0
    assert found[0] == found[1]


@pytest.mark.parametrize("enabled", [False, True])
def test_no_downloader_stats_when_turned_off(tmp_path: Path, enabled: bool) -> None:
    crawler = urls_crawler(tmp_path / "out.csv", DOWNLOADER_STATS=enabled)
    loaded = build_component_list(crawler.settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert SCRAPY_DOWNLOADER_STATS not in loaded
    assert LEAN_DOWNLOADER_STATS in loaded
    if enabled:
        assert isinstance(LeanDownloaderStats.from_crawler(crawler), LeanDownloaderStats)
    else:
        with pytest.raises(NotConfigured):
            LeanDownloaderStats.from_crawler(crawler)


class DropNotFound:
    """A user pipeline that drops the rows of 404 answers."""

    def process_item(self, item: Any) -> Any:
        if item.status == 404:
            raise DropItem("not found")
        return item


@pytest.mark.parametrize(
    ("extensions", "order", "by_signal"),
    [({}, 800, False), ({}, 1100, True), ({SCRAPY_CORE_STATS: 0}, 800, True)],
)
@coroutine_test
async def test_core_stats_count_the_items_as_scrapy_does(
    server_loop: ServerLoop,
    tmp_path: Path,
    extensions: dict[str, int],
    order: int,
    by_signal: bool,
) -> None:
    """``item_scraped_count`` by the last item pipeline stage when the run summary's is last;
    by the ``item_scraped`` signal otherwise, or with Scrapy's ``CoreStats``."""
    site = server_loop.http(checker_app())
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n{site}/status/500\n{site}/ok?2\n")
    pipelines = {
        "crawler.checker.pipeline.ResultPipeline": 300,
        SUMMARY_PIPELINE: SUMMARY_PIPELINE_ORDER,
        f"{__name__}.DropNotFound": order,
    }
    crawler = await crawl_urls(
        tmp_path / "out.csv",
        str(urls),
        ITEM_PIPELINES=pipelines,
        EXTENSIONS={**project_settings.EXTENSIONS, **extensions},
    )
    stats = crawler.stats.get_stats()
    assert len(read_rows(tmp_path / "out.csv")) == 3
    assert stats["item_scraped_count"] == 3
    assert stats["item_dropped_count"] == 1
    assert stats["response_received_count"] == 4
    assert stats["elapsed_time_seconds"] > 0
    receivers = [
        getattr(receiver, "__qualname__", "")
        for receiver in liveReceivers(getAllReceivers(crawler.signals.sender, signals.item_scraped))
    ]
    assert any(name.endswith("CoreStats.item_scraped") for name in receivers) is by_signal
    loaded = build_component_list(crawler.settings.getwithbase("EXTENSIONS"))
    assert (LEAN_CORE_STATS in loaded) is not extensions
