"""Loopback servers that inject known delays into one phase of a download each."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

if TYPE_CHECKING:
    from tests.servers import ServerLoop

DNS_DELAY = 0.2
"""Seconds :class:`SlowResolver` waits before resolving."""

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"


class SlowResolver(AbstractResolver):
    """A real resolver (getaddrinfo in a thread) that answers ``DNS_DELAY`` seconds late."""

    def __init__(self) -> None:
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        await asyncio.sleep(DNS_DELAY)
        return await self._resolver.resolve(host, port, family)

    async def close(self) -> None:
        await self._resolver.close()


class _FixedAnswer(asyncio.Protocol):
    """Answers every request on the connection with ``RESPONSE``.

    After ``start_tls`` the request may arrive before ``connection_made`` is called with
    the TLS transport, so data is buffered until there is a transport to answer on.
    """

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.transport = transport
        self._answer()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._answer()

    def _answer(self) -> None:
        while self.transport is not None and b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(RESPONSE)


class _Dropper(_FixedAnswer):
    """Drops the connection when the request arrives."""

    def _answer(self) -> None:
        if self.transport is not None and b"\r\n\r\n" in self.buffer:
            self.transport.abort()


class _DelayedTls(asyncio.Protocol):
    """Holds a new connection ``delay`` seconds unread, then does the TLS handshake.

    With ``drop`` set, the connection is dropped when the request arrives instead.
    """

    def __init__(self, context: ssl.SSLContext, delay: float, *, drop: bool = False) -> None:
        self.context = context
        self.delay = delay
        self.drop = drop
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # the ClientHello waits in the kernel
        task = asyncio.get_running_loop().create_task(self._upgrade(transport))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _upgrade(self, transport: asyncio.Transport) -> None:
        await asyncio.sleep(self.delay)
        answer = _Dropper() if self.drop else _FixedAnswer()
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(transport, answer, self.context, server_side=True)
        except (ConnectionError, ssl.SSLError):
            transport.close()
            return
        if tls is not None:
            answer.connection_made(tls)


def tls_after_delay(server_loop: ServerLoop, context: ssl.SSLContext, delay: float) -> int:
    """A server that waits ``delay`` after the TCP accept, then does TLS and answers."""
    return server_loop.protocol(lambda: _DelayedTls(context, delay))


def tls_drop_first(server_loop: ServerLoop, context: ssl.SSLContext, delay: float) -> int:
    """Like :func:`tls_after_delay`, but the first connection is dropped at the request and
    later ones answer at once."""
    connections = 0

    def factory() -> _DelayedTls:
        nonlocal connections
        connections += 1
        first = connections == 1
        return _DelayedTls(context, delay if first else 0.0, drop=first)

    return server_loop.protocol(factory)


def slow_app(ttfb: float, chunk_gap: float, chunks: int) -> web.Application:
    """``/ttfb`` answers after ``ttfb``; ``/chunks`` sends ``chunks`` chunks ``chunk_gap`` apart."""

    async def first_byte(request: web.Request) -> web.Response:
        await asyncio.sleep(ttfb)
        return web.Response(text="late")

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for index in range(chunks):
            if index:
                await asyncio.sleep(chunk_gap)
            await response.write(b"x" * 1000)
        await response.write_eof()
        return response

    async def fast(request: web.Request) -> web.Response:
        return web.Response(text="fast")

    app = web.Application()
    app.router.add_get("/ttfb", first_byte)
    app.router.add_get("/chunks", trickle)
    app.router.add_get("/fast", fast)
    return app


def silent_server(server_loop: ServerLoop) -> int:
    """A server that accepts and never answers."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    return server_loop.tcp(handle)


class FullBacklog:
    """A listening socket whose accept queue is full, so the kernel drops new SYNs.

    The client's SYN is then retransmitted after its initial RTO (1 s on Linux); accepting
    the filler connection frees the queue, so the retransmitted SYN connects. This delays the
    TCP connect phase for real, which a late ``accept()`` alone cannot do on loopback.
    """

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = int(self.listener.getsockname()[1])
        self.filler = socket.create_connection(("127.0.0.1", self.port))
        self._accepted: list[socket.socket] = []

    def release(self) -> None:
        """Accept the filler connection, making room for one more."""
        conn, _ = self.listener.accept()
        self._accepted.append(conn)

    def serve_one(self) -> None:
        """Accept the next connection, read its request and answer it (blocking)."""
        conn, _ = self.listener.accept()
        self._accepted.append(conn)
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
        conn.sendall(RESPONSE)

    def close(self) -> None:
        for sock in (*self._accepted, self.filler, self.listener):
            sock.close()

    def __enter__(self) -> FullBacklog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
