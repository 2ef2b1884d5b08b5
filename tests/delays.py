"""Loopback servers that inject known delays into one phase of a download each."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
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
    """Answers every request on the connection with ``RESPONSE``."""

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


async def _readable(sock: socket.socket) -> None:
    """Wait until ``sock`` has bytes to read, without reading them."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock, on_readable)
    try:
        await ready
    finally:
        loop.remove_reader(sock)


async def _tls_after_hello(
    conn: socket.socket, context: ssl.SSLContext, delay: float, answer: _FixedAnswer
) -> None:
    """Once the ClientHello has arrived (left unread), wait ``delay``, then do the handshake.

    Starting the delay at the ClientHello, which the client sends after it starts timing the
    handshake, makes the client's TLS phase at least ``delay`` however late either side runs.
    """
    loop = asyncio.get_running_loop()
    try:
        await _readable(conn)
        await asyncio.sleep(delay)
        await loop.connect_accepted_socket(lambda: answer, conn, ssl=context)
    except (ConnectionError, ssl.SSLError):
        conn.close()
    except asyncio.CancelledError:
        conn.close()
        raise


def tls_after_delay(server_loop: ServerLoop, context: ssl.SSLContext, delay: float) -> int:
    """A server that starts each TLS handshake ``delay`` seconds after the ClientHello
    arrives, then answers every request with ``RESPONSE``."""

    async def handle(conn: socket.socket) -> None:
        await _tls_after_hello(conn, context, delay, _FixedAnswer())

    return server_loop.sockets(handle)


def tls_drop_first(server_loop: ServerLoop, context: ssl.SSLContext, delay: float) -> int:
    """Like :func:`tls_after_delay`, but the first connection is dropped at the request and
    later ones shake hands at once."""
    connections = 0

    async def handle(conn: socket.socket) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await _tls_after_hello(conn, context, delay, _Dropper())
        else:
            await _tls_after_hello(conn, context, 0.0, _FixedAnswer())

    return server_loop.sockets(handle)


def slow_app(
    ttfb: float, chunk_gap: float, chunks: int, *, go: asyncio.Event | None = None
) -> web.Application:
    """``/ttfb`` answers after ``ttfb``; ``/chunks`` sends ``chunks`` chunks ``chunk_gap`` apart.

    The first chunk goes with the headers. With ``go``, ``/chunks`` waits for it before the
    first gap: set it once the client has the headers, so every gap falls in its download phase.
    """

    async def first_byte(request: web.Request) -> web.Response:
        await asyncio.sleep(ttfb)
        return web.Response(text="late")

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"x" * 1000)
        if go is not None:
            await go.wait()
        for _ in range(chunks - 1):
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


def early_answer(server_loop: ServerLoop, delay: float) -> str:
    """A raw server that answers a request with a body before reading the body; its base URL.

    ``/answer`` waits ``delay`` after the request's headers, then sends the final response's
    headers, after a ``100 Continue`` in the same write when the request expects one (so the
    client sends its body only once the answer has come); then it reads the body and sends
    the response's, ``ok``. ``/moved`` is a 307 to ``/busy-once``, which is a 503 the first
    time and ``/answer`` after that. One request per connection.
    """
    seen: set[bytes] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1]
        first = path not in seen
        seen.add(path)
        fields = dict(
            line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
        )
        expects = fields.get(b"expect") == b"100-continue"
        close = b"Connection: close\r\nContent-Length: "
        if path == b"/moved" or (path == b"/busy-once" and first):
            status = b"307 Temporary Redirect" if path == b"/moved" else b"503 Busy"
            if not expects:  # the body is on its way: read it, or the close would reset
                await reader.readexactly(int(fields[b"content-length"]))
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nLocation: /busy-once\r\n" + close + b"0\r\n\r\n"
            )
            await writer.drain()
            return
        await asyncio.sleep(delay)
        interim = b"HTTP/1.1 100 Continue\r\n\r\n" if expects else b""
        writer.write(interim + b"HTTP/1.1 200 OK\r\n" + close + b"2\r\n\r\n")
        await writer.drain()
        await reader.readexactly(int(fields[b"content-length"]))
        writer.write(b"ok")
        await writer.drain()

    return f"http://127.0.0.1:{server_loop.tcp(handle)}"


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
        self._server: threading.Thread | None = None

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
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        conn.sendall(RESPONSE)

    def serve_after(self, delay: float) -> None:
        """In a thread: after ``delay`` seconds, free the queue, then answer one request.

        Call it just before the download, so that ``delay`` is longer than the client takes
        to send its first SYN and shorter than its first retransmission (1 s).
        """

        def serve() -> None:
            time.sleep(delay)  # the injected delay, on the server's side
            try:
                self.release()
                self.serve_one()
            except OSError:  # the test closed the sockets early: nothing to serve
                pass

        self._server = threading.Thread(target=serve, daemon=True)
        self._server.start()

    def close(self) -> None:
        if self._server is not None:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
        for sock in (*self._accepted, self.filler, self.listener):
            sock.close()
        if self._server is not None:
            self._server.join(5)

    def __enter__(self) -> FullBacklog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
