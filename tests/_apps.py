"""The aiohttp application the spider tests check URLs against."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    import threading
    from pathlib import Path

    from tests.servers import ServerLoop

ROBOTS_TXT = "User-agent: *\nDisallow: /private\n"


def checker_app(release: threading.Event | None = None) -> web.Application:
    """Routes with known answers: statuses, redirect chains and loops, flaky and slow pages.

    ``/hold`` answers only once ``release`` is set.
    """
    hits: Counter[str] = Counter()

    async def hold(request: web.Request) -> web.Response:
        assert release is not None
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 30)
        return web.Response(text="released")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text=ROBOTS_TXT)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="hello", content_type="text/html")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def redirect(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        target = "/ok" if left <= 1 else f"/redirect/{left - 1}"
        raise web.HTTPFound(target)

    async def loop(request: web.Request) -> web.Response:
        other = "b" if request.match_info["side"] == "a" else "a"
        raise web.HTTPMovedPermanently(f"/loop/{other}")

    async def flaky(request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        hits[key] += 1
        if hits[key] == 1:
            return web.Response(status=503, text="try again")
        return web.Response(text="recovered")

    async def retry_after(request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        hits[key] += 1
        if hits[key] == 1:
            wait = request.query.get("wait", "1")
            return web.Response(status=429, text="slow down", headers={"Retry-After": wait})
        return web.Response(text="welcome back")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "3")))
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/loop/{side}", loop)
    app.router.add_get("/flaky", flaky)
    app.router.add_get("/slow", slow)
    app.router.add_get("/retry-after", retry_after)
    app.router.add_get("/hold", hold)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/private", ok)
    return app


def politeness_app() -> web.Application:
    """Rate limiting and bot walls.

    ``/limited?key=K&wait=W`` answers 429 with ``Retry-After: W`` (``W=date:S`` sends an HTTP
    date S seconds ahead) the first time for each key, then 200; ``/unavailable?key=K&n=N``
    answers 503 without ``Retry-After`` N times, then 200; ``/wall/{kind}`` is a bot wall.
    """
    hits: Counter[str] = Counter()

    async def limited(request: web.Request) -> web.Response:
        key = request.query["key"]
        hits[key] += 1
        if hits[key] > 1:
            return web.Response(text="welcome back")
        wait = request.query.get("wait", "1")
        if wait.startswith("date:"):
            wait = formatdate(time.time() + float(wait[5:]), usegmt=True)
        return web.Response(status=429, text="slow down", headers={"Retry-After": wait})

    async def unavailable(request: web.Request) -> web.Response:
        key = request.query["key"]
        hits[key] += 1
        if hits[key] > int(request.query.get("n", "1")):
            return web.Response(text="back")
        return web.Response(status=503, text="unavailable")

    walls = {
        "cloudflare": (403, {"cf-mitigated": "challenge", "Server": "cloudflare"}, "<html>"),
        "aws": (429, {"x-amzn-waf-action": "captcha"}, ""),
        "captcha": (403, {}, '<html><div class="g-recaptcha" data-sitekey="x"></div>'),
        "plain": (403, {}, "<html><h1>Forbidden</h1>" + " " * 2000 + "captcha"),
    }

    async def wall(request: web.Request) -> web.Response:
        key = request.query.get("key", request.match_info["kind"])
        hits[key] += 1
        status, headers, body = walls[request.match_info["kind"]]
        return web.Response(status=status, headers=headers, text=body, content_type="text/html")

    async def hits_of(request: web.Request) -> web.Response:
        return web.Response(text=str(hits[request.match_info["key"]]))

    app = web.Application()
    app.router.add_get("/limited", limited)
    app.router.add_get("/unavailable", unavailable)
    app.router.add_get("/wall/{kind}", wall)
    app.router.add_get("/hits/{key}", hits_of)
    return app


def methods_app() -> web.Application:
    """HEAD handled well and badly: ``/both`` 200 to both, ``/head-405``, ``/head-404`` and
    ``/head-501`` reject HEAD but answer GET, ``/gone`` is 410 to both; ``/hits/{method}/{path}`` counts."""
    hits: Counter[str] = Counter()

    def answer(status: int, text: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, text=text)

        return handler

    app = web.Application()

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        hits[f"{request.method} {request.path}"] += 1
        response: web.StreamResponse = await handler(request)
        return response

    async def hits_of(request: web.Request) -> web.Response:
        key = f"{request.match_info['method']} /{request.match_info['path']}"
        return web.Response(text=str(hits[key]))

    routes = {
        "/both": (200, 200),
        "/head-405": (405, 200),
        "/head-404": (404, 200),
        "/head-501": (501, 200),
        "/gone": (410, 410),
    }
    for path, (head_status, get_status) in routes.items():
        app.router.add_get(path, answer(get_status, "page body"), allow_head=False)
        app.router.add_route("HEAD", path, answer(head_status, ""))
    app.router.add_get("/hits/{method}/{path}", hits_of)
    app.middlewares.append(count)
    return app


@dataclass
class Arrivals:
    """What :func:`recording_app` saw: arrival times, request headers, peak concurrency."""

    times: dict[str, float] = field(default_factory=dict)
    """``time.monotonic()`` at each request's arrival, by ``key``."""
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    """How many times each ``key`` was asked for."""
    inflight: int = 0
    max_inflight: int = 0


def recording_app(arrivals: Arrivals) -> web.Application:
    """``/page?key=K&s=S`` records its arrival and headers, takes S seconds, answers 200;
    ``/status/{code}`` answers that status."""

    async def page(request: web.Request) -> web.Response:
        key = request.query["key"]
        arrivals.times[key] = time.monotonic()
        arrivals.headers[key] = dict(request.headers)
        arrivals.requests[key] = arrivals.requests.get(key, 0) + 1
        arrivals.inflight += 1
        arrivals.max_inflight = max(arrivals.max_inflight, arrivals.inflight)
        try:
            await asyncio.sleep(float(request.query.get("s", "0")))
        finally:
            arrivals.inflight -= 1
        return web.Response(text="recorded")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/status/{code}", status)
    return app


def paced_url_list(site: str, path: Path, entries: int) -> list[int]:
    """Write ``entries`` lines of ``site``'s 10 ms ``/slow`` URLs to ``path``: a bad line
    every 97 and a repeat of the previous URL every 89. Returns the entry line numbers."""
    lines = []
    for i in range(entries):
        if i % 97 == 0:
            lines.append("not a url")
        elif i % 89 == 0:
            lines.append(f"{site}/slow?s=0.01&i={i - 1}")
        else:
            lines.append(f"{site}/slow?s=0.01&i={i}")
    path.write_text("\n".join(lines) + "\n")
    return list(range(1, entries + 1))


class Gate:
    """A server whose pages answer only once the test opens the gate; it counts arrivals."""

    def __init__(self, server_loop: ServerLoop) -> None:
        self.server_loop = server_loop
        self.arrivals: list[str] = []
        self.opened = asyncio.Event()  # used on the server loop only
        app = web.Application()
        app.router.add_get("/page", self._page)
        self.site = server_loop.http(app)

    async def _page(self, request: web.Request) -> web.Response:
        self.arrivals.append(request.query["key"])
        await self.opened.wait()
        return web.Response(text="through")

    def open(self) -> None:
        self.server_loop.loop.call_soon_threadsafe(self.opened.set)

    def wait_for_arrivals(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.arrivals) < count:
            assert time.monotonic() < deadline, f"only {len(self.arrivals)} requests arrived"
            time.sleep(0.02)
