"""A hostile HTTP server on raw asyncio sockets: one fault per path, for the fault matrix."""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.servers import ServerLoop

    Fault = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

MIB = 1024 * 1024
GZIP_BOMB = gzip.compress(b"\0" * (64 * MIB), compresslevel=9)  # ~64 KiB on the wire


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


ONE_REQUEST = b"Connection: close\r\nContent-Length: 0\r\n\r\n"
"""The end of a complete answer without a body: the fault server answers one request per
connection and says so, so no client reuses a connection it is closing (that keep-alive race
is not the fault under test)."""


async def reset_before_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _reset(writer)


async def reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    await writer.drain()
    _reset(writer)


async def short_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    await writer.drain()
    writer.close()


async def broken_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n")
    await writer.drain()
    writer.close()


async def broken_chunked_later(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    await writer.drain()
    await asyncio.sleep(0.1)  # the broken chunk arrives after the headers were parsed
    writer.write(b"ZZ\r\n")
    await writer.drain()
    writer.close()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
    await writer.drain()
    writer.close()


async def empty_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def bad_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nno colon here\r\n\r\nok")
    await writer.drain()
    writer.close()


async def slow_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 1000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)


async def endless_trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"1\r\nx\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)


async def _stream(writer: asyncio.StreamWriter, total: int) -> None:
    chunk = b"x" * 65536
    for _ in range(total // len(chunk)):
        writer.write(chunk)
        await writer.drain()


async def huge_with_length(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {512 * MIB}\r\n\r\n".encode())
    await _stream(writer, 512 * MIB)


async def huge_without_length(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    await _stream(writer, 512 * MIB)


async def gzip_bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(GZIP_BOMB)}\r\n\r\n"
    )
    writer.write(head.encode() + GZIP_BOMB)
    await writer.drain()


async def rate_limited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\n" + ONE_REQUEST)
    await writer.drain()


async def unavailable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\n" + ONE_REQUEST)
    await writer.drain()


async def continue_flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``100 Continue`` after ``100 Continue``, as fast as the client reads, forever."""
    burst = b"HTTP/1.1 100 Continue\r\n\r\n" * 4096
    while True:
        writer.write(burst)
        await writer.drain()


async def head_differs(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """405 to HEAD (as many servers do), 200 to GET: the fault server passes the method."""
    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello")
    await writer.drain()


async def head_rejected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n" + ONE_REQUEST)
    await writer.drain()


FAULTS: dict[str, Fault] = {
    "/reset-before-reply": reset_before_reply,
    "/reset-mid-body": reset_mid_body,
    "/short-body": short_body,
    "/broken-chunked": broken_chunked,
    "/broken-chunked-later": broken_chunked_later,
    "/garbage": garbage,
    "/empty-reply": empty_reply,
    "/bad-header": bad_header,
    "/slow-headers": slow_headers,
    "/endless-trickle": endless_trickle,
    "/huge-with-length": huge_with_length,
    "/huge-without-length": huge_without_length,
    "/gzip-bomb": gzip_bomb,
    "/429": rate_limited,
    "/503": unavailable,
    "/continue-flood": continue_flood,
    "/head-differs": head_differs,
}


def fault_server(server_loop: ServerLoop) -> str:
    """Serve every fault of :data:`FAULTS` on one port; return its base URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, raw_path, _ = head.split(b" ", 2)
        path = raw_path.decode()
        if path == "/head-differs" and method == b"HEAD":
            await head_rejected(reader, writer)
            return
        await FAULTS[path](reader, writer)

    return f"http://127.0.0.1:{server_loop.tcp(handle)}"
