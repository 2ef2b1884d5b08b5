"""The result cache: reruns re-check only failures and new URLs; damage and concurrency."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import signals

from crawler.checker.cache import CacheError, ResultCache, cache_key
from crawler.items import UrlResult
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows, urls_crawler
from tests._scrapy import scrapy_crawl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from scrapy.crawler import Crawler

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def by_line(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(row["line"]): row for row in rows}


def requests(crawler: Crawler) -> int:
    return int(crawler.stats.get_value("downloader/request_count", 0))


def checked_at(cache: Path) -> dict[str, float]:
    with sqlite3.connect(cache) as connection:
        return dict(connection.execute("SELECT url, checked_at FROM results").fetchall())


def test_keys_are_canonical_urls_and_passwords_are_never_keys() -> None:
    assert cache_key("http://Example.com/a?b=2&a=1#top") == cache_key(
        "http://example.com/a?a=1&b=2"
    )
    assert cache_key("http://user:secret@example.com/") is None


def test_rows_older_than_the_maximum_age_are_not_served(tmp_path: Path) -> None:
    cache = ResultCache.open(tmp_path / "cache.sqlite")
    row = UrlResult(url="http://a/", source="x", line=1, outcome="ok", ok=True, status=200)
    cache.put("http://a/", row, now=1000.0)
    stored = cache.get("http://a/", max_age=60, now=1059.0)
    assert stored is not None
    assert (stored["status"], stored["outcome"]) == (200, "ok")
    assert "source" not in stored  # this run's entry comes from this run
    assert cache.get("http://a/", max_age=60, now=1061.0) is None
    assert cache.get("http://b/", max_age=60, now=1000.0) is None
    cache.close()


@coroutine_test
async def test_a_rerun_rechecks_only_failures_and_new_urls(site: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n{site}/redirect/1\n{site}/status/204\n")
    first = tmp_path / "first.jsonl"
    crawler = await crawl_urls(first, str(urls), CRAWLER_CACHE=str(cache), RETRY_TIMES=0)
    assert requests(crawler) == 5  # the redirect is two requests
    assert crawler.stats.get_value("crawler/cache/stored_count") == 3
    assert not any(row["cached"] for row in read_rows(first))
    stored_at = checked_at(cache)

    urls.write_text(
        f"{site}/ok\n{site}/status/404\n{site}/redirect/1\n{site}/status/204\n{site}/ok?new=1\n"
        f"{site}/ok\n"
    )
    second = tmp_path / "second.csv"
    crawler = await crawl_urls(second, str(urls), CRAWLER_CACHE=str(cache), RETRY_TIMES=0)
    assert requests(crawler) == 2  # the 404 and the new URL
    rows = by_line(read_rows(second))
    assert {line: (row["outcome"], row["ok"], row["cached"]) for line, row in rows.items()} == {
        1: ("ok", "true", "true"),
        2: ("http_error", "false", "false"),
        3: ("ok", "true", "true"),
        4: ("ok", "true", "true"),
        5: ("ok", "true", "false"),
        6: ("duplicate", "", "false"),
    }
    assert (rows[3]["status"], rows[3]["redirects"], rows[3]["final_url"]) == (
        "200",
        "1",
        f"{site}/ok",
    )
    assert rows[3]["chain"].startswith(f"302 {site}/redirect/1 (")
    assert (rows[1]["source"], rows[1]["line"]) == (str(urls), "1")  # this run's entry
    stats = crawler.stats.get_stats()
    assert (stats["crawler/cache/hits_count"], stats["crawler/cache/stored_count"]) == (3, 1)
    assert stats["crawler/rows_count"] == 6
    after = checked_at(cache)
    assert all(after[key] == stored_at[key] for key in stored_at)  # hits keep their age
    assert len(after) == 4


@coroutine_test
async def test_rows_past_the_maximum_age_are_checked_again(site: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n")
    settings = {"CRAWLER_CACHE": str(cache), "CRAWLER_CACHE_MAX_AGE": 3600}
    await crawl_urls(tmp_path / "first.jsonl", str(urls), **settings)
    with sqlite3.connect(cache) as connection:  # as if checked two hours ago
        connection.execute("UPDATE results SET checked_at = checked_at - 7200")
    again = tmp_path / "again.jsonl"
    crawler = await crawl_urls(again, str(urls), **settings)
    assert requests(crawler) == 1
    (row,) = read_rows(again)
    assert (row["outcome"], row["cached"]) == ("ok", False)
    assert crawler.stats.get_value("crawler/cache/pruned_count") == 1


@coroutine_test
async def test_skipped_statuses_and_no_longer_accepted_rows_are_checked(
    site: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.sqlite"
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/status/429\n{site}/status/203\n{site}/ok\n")
    settings = {
        "CRAWLER_CACHE": str(cache),
        "CRAWLER_ACCEPT": "200..=299,429",
        "CRAWLER_CACHE_SKIP_STATUSES": [429, 203],
        "RETRY_TIMES": 0,
    }
    first = tmp_path / "first.jsonl"
    await crawl_urls(first, str(urls), **settings)
    assert [row["ok"] for row in read_rows(first)] == [True, True, True]
    again = tmp_path / "again.jsonl"
    crawler = await crawl_urls(again, str(urls), **settings)
    assert requests(crawler) == 2
    assert {row["line"]: row["cached"] for row in read_rows(again)} == {1: False, 2: False, 3: True}

    strict = tmp_path / "strict.jsonl"  # /ok's cached 200 is no longer accepted: checked again
    crawler = await crawl_urls(strict, str(urls), **{**settings, "CRAWLER_ACCEPT": "204"})
    assert requests(crawler) == 3
    assert {row["line"]: (row["outcome"], row["cached"]) for row in read_rows(strict)}[3] == (
        "http_error",
        False,
    )


def test_a_file_that_is_not_a_cache_is_a_one_line_error(tmp_path: Path) -> None:
    garbage = tmp_path / "results.csv"
    garbage.write_text("url,status\nhttp://a/,200\n" * 50)
    with pytest.raises(CacheError, match=r"is not an SQLite database \(is it the right path\?\)"):
        ResultCache.open(garbage)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(CacheError, match="an SQLite database of another program"):
        ResultCache.open(other)
    assert garbage.read_text().startswith("url,status")  # left alone

    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-s", f"CRAWLER_CACHE={garbage}", "-O", str(out))
    assert result.returncode == 1
    assert f"CRAWLER_CACHE='{garbage}' is not an SQLite database" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def damage(path: Path) -> None:
    """Overwrite a page in the middle of the database with garbage."""
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page : 3 * page] = bytes((i * 7) & 0xFF for i in range(page))
    path.write_bytes(data)


@coroutine_test
async def test_a_damaged_cache_is_moved_aside(
    site: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.sqlite"
    cache = ResultCache.open(path)
    for i in range(500):
        cache.put(f"http://a/{i}", UrlResult(url="x", source="x", line=i, status=200, outcome="ok"))
    cache.close()
    damage(path)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n")
    out = tmp_path / "out.jsonl"
    with caplog.at_level(logging.WARNING, logger="crawler.checker.cache"):
        crawler = await crawl_urls(out, str(urls), CRAWLER_CACHE=str(path))
    (row,) = read_rows(out)
    assert (row["outcome"], row["cached"]) == ("ok", False)
    (aside,) = tmp_path.glob("cache.sqlite.corrupt-*")
    assert "is damaged (database disk image is malformed): moved it to" in caplog.text
    assert aside.read_bytes()[:16] == b"SQLite format 3\x00"
    assert crawler.stats.get_value("crawler/cache/stored_count") == 1
    assert list(checked_at(path)) == [f"{site}/ok"]  # a new cache, with this run's row


@coroutine_test
async def test_an_sqlite_error_mid_run_costs_the_cache_not_rows(
    site: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.sqlite"
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site}/ok?i={i}\n" for i in range(5)))
    out = tmp_path / "out.jsonl"
    crawler = urls_crawler(out, CRAWLER_CACHE=str(path), CONCURRENT_REQUESTS=1)

    def break_the_cache(item: Any) -> None:
        with sqlite3.connect(path) as connection:
            connection.execute("DROP TABLE IF EXISTS results")

    crawler.signals.connect(break_the_cache, signal=signals.item_scraped)
    with caplog.at_level(logging.ERROR, logger="crawler.checker.cache"):
        await crawler.crawl_async(urls=str(urls))
    assert sorted(row["line"] for row in read_rows(out)) == [1, 2, 3, 4, 5]
    stats = crawler.stats.get_stats()
    assert stats["crawler/cache/stored_count"] == 1
    assert stats["crawler/cache/errors_count"] >= 1  # the writer's, and the reader's if it looked
    assert caplog.text.count("not written for the rest of the run") == 1


def write_rows(path: str, start: int, count: int, barrier: Any) -> None:
    """One process's writes (run in a child process)."""
    cache = ResultCache.open(Path(path))
    barrier.wait()
    for i in range(start, start + count):
        row = UrlResult(url=f"http://a/{i}", source="x", line=i, status=200, outcome="ok")
        cache.put(f"http://a/{i}", row)
        cache.get(f"http://a/{i}", max_age=60)
    cache.close()


def test_two_processes_write_the_same_cache(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [
        context.Process(target=write_rows, args=(str(path), start, 400, barrier))
        for start in (0, 300)  # 100 keys written by both
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM results").fetchone() == (700,)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Make files read-only, even for root (``chattr +i``); undone after the test."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() != 0:
            path.chmod(0o444)
        elif subprocess.run(["chattr", "+i", str(path)], check=False).returncode != 0:
            pytest.skip("no way to make a file read-only for root here (chattr +i failed)")
        made.append(path)

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_a_read_only_cache_file_is_a_one_line_error_before_crawling(
    site: str, tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    path = tmp_path / "cache.sqlite"
    ResultCache.open(path).close()
    read_only(path)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n")
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-s", f"CRAWLER_CACHE={path}", "-O", str(out))
    assert result.returncode == 1, result.stderr[-3000:]
    (error,) = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert (
        f"CRAWLER_CACHE='{path}' cannot be written (attempt to write a readonly database)" in error
    )
    assert "Traceback" not in result.stderr
    assert "Spider opened" not in result.stderr  # nothing crawled


def damage_cell_counts(path: Path) -> None:
    """Make ``PRAGMA quick_check`` report many problems, on many lines."""
    data = bytearray(path.read_bytes())
    page = 4096
    data[page + 3 : page + 5] = b"\x00\x50"  # page 2 claims 80 cells
    data[page + 8 : page + 12] = b"\xff\xff\xff\x7f"
    path.write_bytes(data)


def test_caches_damaged_in_the_same_second_are_moved_aside_apart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.sqlite"
    cache = ResultCache.open(path)
    for i in range(500):  # page 2 is an interior page then
        cache.put(f"http://a/{i}", UrlResult(url="x", source="x", line=i, status=200, outcome="ok"))
    cache.close()
    good = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="crawler.checker.cache"):
        for _ in range(3):  # three within a second: two of them share one
            path.write_bytes(good)
            damage_cell_counts(path)
            ResultCache.open(path).close()
    asides = sorted(tmp_path.glob("cache.sqlite.corrupt-*"))
    assert len(asides) == 3, asides  # none overwritten
    assert all(aside.read_bytes()[:16] == b"SQLite format 3\x00" for aside in asides)
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3
    for message in warnings:
        assert "\n" not in message
        assert "is damaged (On tree page 2 cell 0: invalid page number" in message
        assert len(message) < 400
