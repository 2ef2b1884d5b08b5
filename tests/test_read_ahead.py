"""The spider reads its inputs only as fast as the engine sends requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from scrapy import signals
from scrapy.settings import Settings

from crawler._read_ahead import READ_AHEAD, read_ahead
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import read_rows, urls_crawler

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


@coroutine_test
async def test_a_full_downloader_does_not_pull_the_whole_list_into_the_scheduler(
    site: str, tmp_path: Path
) -> None:
    concurrency = 4
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site}/slow?s=0.05&i={i}\n" for i in range(200)))
    out = tmp_path / "out.csv"
    crawler = urls_crawler(
        out,
        CONCURRENT_REQUESTS=concurrency,
        CONCURRENT_REQUESTS_PER_DOMAIN=concurrency,
        CRAWLER_READ_AHEAD=concurrency,
    )
    read_ahead: list[int] = []

    def on_row(item: Any) -> None:
        stats = crawler.stats.get_stats()
        read_ahead.append(stats["crawler/entries_count"] - stats["crawler/rows_count"])

    crawler.signals.connect(on_row, signal=signals.item_scraped)
    await crawler.crawl_async(urls=str(urls))

    assert len(read_rows(out)) == len(read_ahead) == 200
    # At most: the downloader's 4, the scheduler's reserve of 4 (CRAWLER_READ_AHEAD), the row
    # being written and a few on their way. Scrapy alone reads the rest of the list at the first full downloader.
    assert max(read_ahead) <= 3 * concurrency


def test_a_bad_read_ahead_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="CRAWLER_READ_AHEAD must be >= 1"):
        read_ahead(Settings({"CRAWLER_READ_AHEAD": 0}))
    assert read_ahead(Settings()) == READ_AHEAD
