"""Informational (1xx) responses: a server that floods them is cut off, in time and memory."""

from __future__ import annotations

import asyncio
import resource
import time
from typing import TYPE_CHECKING

import pytest
from scrapy import Request

from crawler.exceptions import InvalidResponseError
from tests._asyncio import coroutine_test
from tests._handler import open_handler
from tests.faults import continue_flood

if TYPE_CHECKING:
    from tests.servers import ServerLoop

CONNECTIONS = 4
TIMEOUT = 2.0


@coroutine_test
async def test_a_flood_of_100_continue_is_cut_off(server_loop: ServerLoop) -> None:
    url = f"http://127.0.0.1:{server_loop.tcp(continue_flood)}/"
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    async with open_handler({"DOWNLOAD_TIMEOUT": TIMEOUT}) as handler:
        results = await asyncio.gather(
            *(handler.download_request(Request(f"{url}?{i}")) for i in range(CONNECTIONS)),
            return_exceptions=True,
        )
    elapsed = time.monotonic() - started
    peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    for result in results:
        assert isinstance(result, InvalidResponseError), result
        assert "more than 32 informational (1xx) responses" in str(result)
    assert elapsed < TIMEOUT  # cut off, not timed out (a flood used to hold the timeout off)
    assert peak_growth_mb < 40, peak_growth_mb


async def early_hints_then_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Two informational responses, then the final one; twice on one connection."""
    for _ in range(2):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        )
        await writer.drain()


async def huge_early_hints(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Informational responses within the count, but with megabytes of headers."""
    await reader.readuntil(b"\r\n\r\n")
    link = b"Link: <" + b"x" * 60000 + b">\r\n"
    writer.write((b"HTTP/1.1 103 Early Hints\r\n" + link * 8 + b"\r\n") * 8)
    await writer.drain()
    await reader.read()  # until the client hangs up


@coroutine_test
async def test_too_many_bytes_of_informational_responses_are_cut_off(
    server_loop: ServerLoop,
) -> None:
    url = f"http://127.0.0.1:{server_loop.tcp(huge_early_hints)}/"
    async with open_handler({"DOWNLOAD_TIMEOUT": 30}) as handler:
        with pytest.raises(InvalidResponseError, match="informational"):
            await handler.download_request(Request(url))


@coroutine_test
async def test_a_few_informational_responses_are_skipped(server_loop: ServerLoop) -> None:
    url = f"http://127.0.0.1:{server_loop.tcp(early_hints_then_ok)}/"
    async with open_handler() as handler:
        first = await handler.download_request(Request(url))
        request = Request(url)
        second = await handler.download_request(request)
    assert (first.status, first.body, second.status, second.body) == (200, b"ok", 200, b"ok")
    assert request.meta["download_timing"].reused is True  # the bound is the connection's no more
