"""Retry-After as seconds: a delay or an HTTP date."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import TYPE_CHECKING

from crawler.checker.retry_after import retry_after_seconds
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path

    from tests.servers import ServerLoop


def test_delay_seconds_and_http_dates() -> None:
    assert retry_after_seconds(b"120") == 120.0
    in_a_minute = retry_after_seconds(formatdate(time.time() + 60, usegmt=True).encode())
    assert in_a_minute is not None
    assert 58 <= in_a_minute <= 60
    assert retry_after_seconds(formatdate(time.time() - 60, usegmt=True).encode()) == 0.0
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None


def test_unicode_digits_are_no_delay() -> None:
    for value in ("¹", "١٢", "²⁰"):  # str.isdigit() says yes, float() refuses
        assert retry_after_seconds(value.encode()) is None
        assert retry_after_seconds(value.encode("latin-1", "replace")) is None


@coroutine_test
async def test_retry_after_unicode_digit(server_loop: ServerLoop, tmp_path: Path) -> None:
    """A server's ``Retry-After: ¹`` is no delay: every URL still gets its row, no traceback."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].lstrip(b"/")
        writer.write(
            b"HTTP/1.1 " + status + b" X\r\nRetry-After: \xb9\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    base = f"http://127.0.0.1:{server_loop.tcp(reply)}"
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(f"{base}/{status}\n" for status in (200, 429, 503)))
    out = tmp_path / "out.jsonl"

    crawler = await crawl_urls(out, str(listing), RETRY_TIMES=0)

    rows = {row["url"].rsplit("/", 1)[1]: row for row in read_rows(out)}
    assert {key: (row["outcome"], row["error"]) for key, row in rows.items()} == {
        "200": ("ok", None),
        "429": ("rate_limited", "rate limited (HTTP 429)"),
        "503": ("http_error", "HTTP status 503 is not accepted (200..=299)"),
    }
    assert all(row["retry_after"] is None for row in rows.values())
    assert crawler.stats.get_value("spider_exceptions_count") is None
