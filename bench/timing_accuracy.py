"""Measure the handler's per-phase timing error against injected delays on loopback.

Run from the project root: ``python -m bench.timing_accuracy [ROUNDS]``. Prints, for each
phase, the median and worst error (measured minus injected) over the rounds, in ms.
"""

from __future__ import annotations

import socket
import ssl
import statistics
import sys
import threading
import time
from typing import TYPE_CHECKING

import trustme
from scrapy.utils.reactor import install_reactor

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.delays import FullBacklog

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
DELAY = 0.2


def serve_backlog(backlog: FullBacklog) -> Callable[[], None]:
    """Server side of the full-backlog scenario: free the queue, then answer one request."""

    def serve() -> None:
        time.sleep(0.3)
        backlog.release()
        backlog.serve_one()

    return serve


def raw_connect_seconds(serve_backlog: Callable[[FullBacklog], Callable[[], None]]) -> float:
    """How long a plain blocking ``connect()`` takes in the same full-backlog scenario."""
    from tests.delays import FullBacklog

    with FullBacklog() as backlog:
        thread = threading.Thread(target=serve_backlog(backlog))
        thread.start()
        with socket.socket() as client:
            started = time.perf_counter()
            client.connect(("127.0.0.1", backlog.port))
            elapsed = time.perf_counter() - started
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        thread.join()
    return elapsed


async def measure(rounds: int) -> dict[str, list[float]]:
    """Errors in seconds per phase, one per round."""
    from scrapy import Request

    from tests._handler import open_handler
    from tests.delays import (
        DNS_DELAY,
        FullBacklog,
        slow_app,
        tls_after_delay,
    )
    from tests.servers import ServerLoop

    servers = ServerLoop()
    site = servers.http(slow_app(DELAY, DELAY, 2))
    cert = trustme.CA().issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    tls_port = tls_after_delay(servers, context, DELAY)
    errors: dict[str, list[float]] = {
        "dns": [],
        "connect": [],
        "tls": [],
        "ttfb": [],
        "download": [],
    }
    resolver = "tests.delays.SlowResolver"

    async def one(url: str, settings: dict[str, object]) -> Request:
        request = Request(url)
        async with open_handler(settings) as handler:
            await handler.download_request(request)
        return request

    for _ in range(rounds):
        timing = (
            await one(
                site.replace("127.0.0.1", "localhost") + "/fast", {"CRAWLER_DNS_RESOLVER": resolver}
            )
        ).meta["download_timing"]
        errors["dns"].append(timing.dns - DNS_DELAY)
        timing = (await one(f"https://127.0.0.1:{tls_port}/", {})).meta["download_timing"]
        errors["tls"].append(timing.tls - DELAY)
        timing = (await one(f"{site}/ttfb", {})).meta["download_timing"]
        errors["ttfb"].append(timing.ttfb - DELAY)
        timing = (await one(f"{site}/chunks", {})).meta["download_timing"]
        errors["download"].append(timing.download - DELAY)
        with FullBacklog() as backlog:
            thread = threading.Thread(target=serve_backlog(backlog))
            thread.start()
            timing = (await one(f"http://127.0.0.1:{backlog.port}/", {})).meta["download_timing"]
            thread.join()
        errors["connect"].append(timing.connect - raw_connect_seconds(serve_backlog))
    servers.close()
    return errors


async def measure_and_print(rounds: int) -> None:
    """Measure over ``rounds`` rounds and print the table."""
    result = await measure(rounds)
    print("| phase | injected | median error | worst error | rounds |")
    print("|---|---|---|---|---|")
    for phase, values in result.items():
        injected = (
            "dropped SYN (vs a raw connect())" if phase == "connect" else f"{DELAY * 1000:.0f} ms"
        )
        ms = [v * 1000 for v in values]
        worst = max(ms, key=abs)
        median = statistics.median(ms)
        print(f"| {phase} | {injected} | {median:+.2f} ms | {worst:+.2f} ms | {len(ms)} |")


def main() -> None:
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet.task import react

    # runs the reactor until the measurement ends, prints any failure, exits 0 or 1
    react(lambda _reactor: deferred_from_coro(measure_and_print(ROUNDS)))


if __name__ == "__main__":
    main()
