"""Check methods: GET, HEAD with fallback to GET, and GET that stops after the headers."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
import pytest
from aiohttp import web

from crawler.checker.methods import check_method
from crawler.checker.spider import UrlCheckSpider
from tests._apps import methods_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows, urls_crawler
from tests._scrapy import scrapy_crawl
from tests.faults import fault_server

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(methods_app())


def reset_on_head(server_loop: ServerLoop) -> str:
    """A raw server that drops the connection on HEAD and answers GET with 200."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"HEAD "):
            writer.transport.abort()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()

    return f"http://127.0.0.1:{server_loop.tcp(handle)}"


def hits(server_loop: ServerLoop, site: str, method: str, path: str) -> int:
    async def get() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{site}/hits/{method}{path}") as response,
        ):
            return int(await response.text())

    return server_loop.run(get())


@coroutine_test
async def test_head_falls_back_to_get_when_the_server_mishandles_it(
    site: str, server_loop: ServerLoop, tmp_path: Path
) -> None:
    resetting = reset_on_head(server_loop)
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/both\n{site}/head-405\n{site}/head-404\n{site}/gone\n{resetting}/page\n"
        f"{site}/head-501\n"
    )
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls), CRAWLER_METHOD="head", RETRY_TIMES=0)
    rows = {row["line"]: row for row in read_rows(out)}
    decided = {
        line: (row["outcome"], row["status"], row["method"], row["attempts"])
        for line, row in rows.items()
    }
    assert decided == {
        1: ("ok", 200, "HEAD", 1),
        2: ("ok", 200, "GET", 2),
        3: ("ok", 200, "GET", 2),
        4: ("http_error", 410, "GET", 2),
        5: ("ok", 200, "GET", 2),
        6: ("ok", 200, "GET", 2),
    }
    assert rows[1]["bytes"] == 0
    assert crawler.stats.get_value("crawler/methods/head_fallback_count") == 5
    assert hits(server_loop, site, "GET", "/both") == 0


@coroutine_test
async def test_the_method_argument_overrides_the_setting(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/head-405\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_METHOD="head")
    (row,) = read_rows(out)
    assert (row["method"], row["attempts"]) == ("GET", 2)
    out = tmp_path / "get.jsonl"
    crawler = urls_crawler(out, CRAWLER_METHOD="head")
    await crawler.crawl_async(urls=str(urls), method="get")
    (row,) = read_rows(out)
    assert (row["outcome"], row["method"], row["attempts"]) == ("ok", "GET", 1)
    assert crawler.stats.get_value("crawler/methods/head_fallback_count") is None


@coroutine_test
async def test_headers_only_get_never_reads_the_body(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    faults = fault_server(server_loop)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{faults}/endless-trickle\n{faults}/huge-with-length\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_METHOD="headers", DOWNLOAD_TIMEOUT=1, RETRY_TIMES=0)
    rows = {row["line"]: row for row in read_rows(out)}
    # a full GET of these is a timeout and a too_large (tests/test_faults.py)
    assert {line: (row["outcome"], row["status"], row["method"]) for line, row in rows.items()} == {
        1: ("ok", 200, "GET"),
        2: ("ok", 200, "GET"),
    }
    assert rows[2]["content_length"] == 512 * 1024 * 1024
    assert rows[1]["bytes"] == rows[2]["bytes"] == 0


@pytest.mark.parametrize("value", ["HEAD", " headers ", "get"])
def test_check_method_values(value: str) -> None:
    assert check_method(value) == value.strip().lower()


def test_bad_method_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"^method='post' is not a check method; use one of get"):
        UrlCheckSpider.check_arguments(method="post")
    with pytest.raises(ValueError, match=r"^CRAWLER_METHOD=3 is not a check method"):
        check_method(3)


BIG_BODY = 400 * 1024
"""Served at :data:`BODY_RATE` bytes a second: a second to read in full."""
BODY_RATE = 400 * 1024


def paced_files_app() -> web.Application:
    """``/file.iso``: :data:`BIG_BODY` bytes at :data:`BODY_RATE` (``?chunked=1``: no length)."""

    async def paced(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": request.query.get("type", "application/octet-stream")}
        )
        if not request.query.get("chunked"):
            response.content_length = BIG_BODY
        await response.prepare(request)
        piece = BODY_RATE // 20
        for _ in range(BIG_BODY // piece):
            await response.write(b"x" * piece)
            await asyncio.sleep(1 / 20)  # the pace of a slow link, not synchronisation
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/file.iso", paced)
    return app


@pytest.fixture(scope="module")
def paced_site(server_loop: ServerLoop) -> str:
    return server_loop.http(paced_files_app())


def test_a_large_body_is_not_read_past_its_first_bytes_unless_asked(
    paced_site: str, tmp_path: Path
) -> None:
    """Issue 16: a 3 MB file at 200 KB/s took 15.7 s to check (lychee: 0.01 s)."""
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{paced_site}/file.iso\n{paced_site}/file.iso?chunked=1&type=text/html\n")
    quick, full = tmp_path / "quick.jsonl", tmp_path / "full.jsonl"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(quick))
    assert result.returncode == 0, result.stderr[-2000:]
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(full), "-s", "CRAWLER_FULL_BODIES=True")
    assert result.returncode == 0, result.stderr[-2000:]
    for row in read_rows(quick):
        assert (row["outcome"], row["status"], row["partial_body"]) == ("ok", 200, True)
        assert 0 < row["bytes"] < BIG_BODY
        assert row["total_ms"] < 500  # the full body takes a second
    for row in read_rows(full):
        assert (row["outcome"], row["status"], row["partial_body"]) == ("ok", 200, False)
        assert row["bytes"] == BIG_BODY
        assert row["download_ms"] >= 800


@coroutine_test
async def test_a_body_broken_or_too_large_after_its_first_bytes_is_not_read_that_far(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    """What a full read calls dataloss and too_large (tests/test_faults.py) is ok by default."""
    faults = fault_server(server_loop)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{faults}/reset-mid-body\n{faults}/huge-without-length\n{faults}/short-body\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), DOWNLOAD_MAXSIZE=1024 * 1024, RETRY_TIMES=0)
    rows = {row["line"]: row for row in read_rows(out)}
    assert {line: (row["outcome"], row["partial_body"]) for line, row in rows.items()} == {
        1: ("ok", True),
        2: ("ok", True),
        3: ("dataloss", None),  # broken within its first bytes: seen
    }
    assert rows[2]["bytes"] < 1024 * 1024
