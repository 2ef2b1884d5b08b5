"""The spider reads its inputs only as fast as the engine sends requests."""

from __future__ import annotations

import gzip
import itertools
import signal
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import signals
from scrapy.settings import Settings

from crawler.checker.read_ahead import read_ahead
from crawler.names import SETTINGS
from crawler.scale.shard import Shard
from crawler.sources import UrlEntry
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import read_rows, urls_crawler
from tests._scrapy import start_scrapy, wait_for_lines
from tests.faults import MIB

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
    assert read_ahead(Settings()) == SETTINGS["CRAWLER_READ_AHEAD"]


def _gzip_of(line: bytes, mib: int) -> bytes:
    """``line`` repeated over ``mib`` MiB, gzip-compressed (one member per MiB, made once)."""
    return gzip.compress(line * (MIB // len(line)), compresslevel=9) * mib


def _url_of_shard(base: str, shard: Shard, *, owned: bool) -> str:
    return next(
        url
        for url in (f"{base}?i={i}" for i in itertools.count())
        if shard.owns(UrlEntry(url, "-", 1)) is owned
    )


@pytest.mark.parametrize("skipped", ["blank lines", "other shards' entries"])
def test_reading_a_skipped_stretch_yields_to_the_event_loop(
    site: str, tmp_path: Path, skipped: str
) -> None:
    """Reading ~1 GiB of lines that make no request still downloads, and Ctrl-C stops it."""
    shard = Shard.parse("1/2")
    first = _url_of_shard(f"{site}/ok", shard, owned=True)
    if skipped == "blank lines":  # the whole list: the progress counts it in a thread meanwhile
        stretch, args = b"\n", ()
    else:
        stretch, args = _url_of_shard(site, shard, owned=False).encode(), ("-a", f"shard={shard}")
    urls = tmp_path / "urls.txt.gz"
    urls.write_bytes(
        gzip.compress(f"{first}\n".encode())
        + _gzip_of(stretch.rstrip(b"\n") + b"\n", 1024)  # a minute of reading, unpaused
        + gzip.compress(f"{first}&after\n".encode())
    )
    out, log = tmp_path / "out.jsonl", tmp_path / "log.txt"
    with log.open("wb") as stderr:
        crawl = start_scrapy(
            "crawl", "urls", "-a", f"urls={urls}", *args, "-o", str(out), "-s", "LOG_LEVEL=INFO",
            stderr=stderr,
        )  # fmt: skip
    try:
        wait_for_lines(out, 1, crawl, within=20)  # downloaded while the stretch is read
        crawl.send_signal(signal.SIGINT)
        assert crawl.wait(20) == 1  # stops reading at once
    finally:
        crawl.kill()
        crawl.wait()
    assert [row["url"] for row in read_rows(out)] == [first], log.read_text()[-3000:]
    assert "Stopped before the end: shutdown" in log.read_text()
