"""Loopback servers for the tests, each on port 0, run in a background thread's event loop.

Running them outside the reactor's loop keeps server and client independent: a server
delay never blocks the code under test, and the code under test never starves the server.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    SocketHandler = Callable[[socket.socket], Coroutine[Any, Any, None]]


T = TypeVar("T")


class ServerLoop:
    """An event loop in a daemon thread; servers started on it live until ``close()``."""

    def __init__(self) -> None:
        # the standard loop, whatever the policy: servers stay independent of the client loop
        self.loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._cleanups: list[Callable[[], Coroutine[Any, Any, None]]] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the server loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def http(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve ``app``; return its base URL (``http://127.0.0.1:PORT``)."""

        async def start() -> int:
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
            await site.start()
            self._cleanups.append(runner.cleanup)
            server = site._server
            assert isinstance(server, asyncio.Server)
            return int(server.sockets[0].getsockname()[1])

        port = self.run(start())
        scheme = "https" if ssl_context else "http"
        return f"{scheme}://127.0.0.1:{port}"

    def tcp(self, handler: ConnectionHandler, *, backlog: int = 100) -> int:
        """Serve raw TCP connections with ``handler``; return the port."""

        async def start() -> int:
            writers: set[asyncio.StreamWriter] = set()

            async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                writers.add(writer)
                try:
                    await handler(reader, writer)
                except (
                    ConnectionError,
                    ssl.SSLError,
                    asyncio.CancelledError,
                    asyncio.IncompleteReadError,
                ):
                    pass
                finally:
                    writers.discard(writer)
                    writer.close()

            server = await asyncio.start_server(tracked, "127.0.0.1", 0, backlog=backlog)

            async def stop() -> None:
                server.close()
                for writer in list(writers):
                    writer.transport.abort()
                await server.wait_closed()

            self._cleanups.append(stop)
            return int(server.sockets[0].getsockname()[1])

        return self.run(start())

    def protocol(self, factory: Callable[[], asyncio.Protocol]) -> int:
        """Serve raw TCP connections with asyncio protocols from ``factory``; return the port."""

        async def start() -> int:
            server = await self.loop.create_server(factory, "127.0.0.1", 0)

            async def stop() -> None:
                server.close()
                await server.wait_closed()

            self._cleanups.append(stop)
            return int(server.sockets[0].getsockname()[1])

        return self.run(start())

    def sockets(self, handler: SocketHandler) -> int:
        """Hand each accepted connection to ``handler`` as a plain socket; return the port.

        Nothing is read before ``handler`` runs, so it decides when the bytes the kernel holds
        (a ClientHello, a request) are consumed. ``handler`` owns the socket: it closes it or
        gives it to a transport.
        """

        async def start() -> int:
            listener = socket.socket()
            listener.setblocking(False)
            listener.bind(("127.0.0.1", 0))
            listener.listen(100)
            tasks: set[asyncio.Task[None]] = set()

            async def accept_forever() -> None:
                while True:
                    conn, _ = await self.loop.sock_accept(listener)
                    task = self.loop.create_task(handler(conn))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

            acceptor = self.loop.create_task(accept_forever())

            async def stop() -> None:
                for task in (acceptor, *tasks):
                    task.cancel()
                await asyncio.gather(acceptor, *tasks, return_exceptions=True)
                listener.close()

            self._cleanups.append(stop)
            return int(listener.getsockname()[1])

        return self.run(start())

    def close(self) -> None:
        """Stop every server and the loop."""

        async def cleanup() -> None:
            for stop in reversed(self._cleanups):
                await stop()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        self.run(cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
