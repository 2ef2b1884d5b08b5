"""The benchmark's loopback HTTP server: ``/b/{i}?latency=SECONDS&size=BYTES``.

Run as ``python -m bench.server``; prints its port on the first line, serves until killed.
Uses uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

BODIES: dict[int, bytes] = {}


async def answer(request: web.Request) -> web.Response:
    latency = float(request.query.get("latency", "0"))
    size = int(request.query.get("size", "1024"))
    if latency:
        await asyncio.sleep(latency)
    body = BODIES.get(size)
    if body is None:
        body = BODIES[size] = b"x" * size
    return web.Response(body=body, content_type="text/plain")


async def serve() -> None:
    app = web.Application()
    app.router.add_get("/b/{i}", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    print(sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
