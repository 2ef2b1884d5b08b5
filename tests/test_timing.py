"""Timing accuracy: each phase against a loopback server that injects a known delay into it.

Tolerance: a measured phase is within 5 ms below its injected delay (the client may see the
start of a phase late when its loop is busy, which shortens the phase) and 60 ms above it,
which holds on a loaded 2-core machine running tests in parallel.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from scrapy import Request
from scrapy.exceptions import DownloadTimeoutError

from crawler import TIMING_META_KEY, DownloadTiming
from tests._asyncio import coroutine_test
from tests._handlers import open_handler
from tests.delays import (
    DNS_DELAY,
    FullBacklog,
    SlowResolver,
    silent_server,
    slow_app,
    tls_after_delay,
    tls_drop_first,
)

if TYPE_CHECKING:
    import trustme

    from tests.servers import ServerLoop

SLACK = 0.060
TTFB_DELAY = 0.2
CHUNK_GAP = 0.1
CHUNKS = 4
TLS_DELAY = 0.2
SLOW_RESOLVER = f"{SlowResolver.__module__}.{SlowResolver.__qualname__}"


def assert_close(measured: float | None, injected: float) -> None:
    assert measured is not None
    assert injected - 0.005 <= measured <= injected + SLACK, f"{measured=} {injected=}"


def assert_small(measured: float | None) -> None:
    assert measured is not None
    assert 0 <= measured < SLACK, measured


def timing_of(request: Request) -> DownloadTiming:
    timing = request.meta[TIMING_META_KEY]
    assert isinstance(timing, DownloadTiming)
    return timing


@pytest.fixture(scope="module")
def slow_site(server_loop: ServerLoop) -> str:
    return server_loop.http(slow_app(TTFB_DELAY, CHUNK_GAP, CHUNKS))


@pytest.fixture(scope="module")
def tls_port(server_loop: ServerLoop, tls_server_cert: trustme.LeafCert) -> int:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_server_cert.configure_cert(context)
    return tls_after_delay(server_loop, context, TLS_DELAY)


@coroutine_test
async def test_dns_phase_then_cache_hit(slow_site: str) -> None:
    url = slow_site.replace("127.0.0.1", "localhost") + "/fast"
    settings = {"CRAWLER_DNS_RESOLVER": SLOW_RESOLVER, "CRAWLER_KEEPALIVE_TIMEOUT": 0}
    async with open_handler(settings) as handler:
        first, second = Request(url), Request(url)
        await handler.download_request(first)
        await handler.download_request(second)
        stats = handler.crawler.stats.get_stats()
    cold, warm = timing_of(first), timing_of(second)
    assert_close(cold.dns, DNS_DELAY)
    assert cold.dns_cache_hit is False
    assert_small(cold.connect)
    assert (warm.dns, warm.dns_cache_hit, warm.reused) == (None, True, False)
    assert_small(warm.connect)
    assert stats["crawler/handler/dns_lookups_count"] == 1
    assert stats["crawler/handler/dns_cache_hits_count"] == 1
    assert stats["crawler/handler/connections_created_count"] == 2


@coroutine_test
async def test_tls_phase_separate_from_connect_and_absent_on_reuse(
    tls_port: int, tls_server_cert: trustme.LeafCert
) -> None:
    url = f"https://127.0.0.1:{tls_port}/"
    async with open_handler() as handler:
        first, second = Request(url), Request(url)
        response = await handler.download_request(first)
        await handler.download_request(second)
        stats = handler.crawler.stats.get_stats()
    assert response.body == b"hello"
    new, reused = timing_of(first), timing_of(second)
    assert_close(new.tls, TLS_DELAY)
    assert_small(new.connect)
    assert new.dns is None  # an IP literal is not resolved
    assert new.tls_version in {"TLSv1.2", "TLSv1.3"}
    expected = x509.load_pem_x509_certificate(tls_server_cert.cert_chain_pems[0].bytes())
    assert new.cert_not_after == expected.not_valid_after_utc
    assert (new.remote_ip, new.remote_port, new.reused) == ("127.0.0.1", tls_port, False)
    assert (reused.reused, reused.dns, reused.connect, reused.tls) == (True, None, None, None)
    assert reused.tls_version == new.tls_version
    assert stats["crawler/handler/tls_handshakes_count"] == 1
    assert stats["crawler/handler/connections_created_count"] == 1
    assert stats["crawler/handler/connections_reused_count"] == 1


@coroutine_test
async def test_ttfb_phase(slow_site: str) -> None:
    async with open_handler() as handler:
        request = Request(f"{slow_site}/ttfb")
        await handler.download_request(request)
    timing = timing_of(request)
    assert_close(timing.ttfb, TTFB_DELAY)
    assert_small(timing.download)
    assert timing.total is not None
    assert timing.total >= timing.ttfb + timing.download


@coroutine_test
async def test_download_phase_and_bytes(slow_site: str) -> None:
    async with open_handler() as handler:
        request = Request(f"{slow_site}/chunks")
        response = await handler.download_request(request)
    timing = timing_of(request)
    assert_close(timing.download, CHUNK_GAP * (CHUNKS - 1))
    assert_small(timing.ttfb)
    assert timing.bytes_received == len(response.body) == CHUNKS * 1000


@coroutine_test
async def test_connect_phase_when_the_kernel_drops_the_syn() -> None:
    with FullBacklog() as backlog:

        def serve() -> None:
            time.sleep(0.3)  # server side: free the queue before the SYN is retransmitted
            backlog.release()
            backlog.serve_one()

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        async with open_handler() as handler:
            request = Request(f"http://127.0.0.1:{backlog.port}/")
            response = await handler.download_request(request)
        server.join(5)
    timing = timing_of(request)
    assert response.body == b"hello"
    assert timing.connect is not None
    assert 0.9 <= timing.connect <= 1.0 + 0.5, timing.connect
    assert_small(timing.ttfb)


@coroutine_test
async def test_queue_phase_when_the_pool_is_full(slow_site: str) -> None:
    async with open_handler({"CONCURRENT_REQUESTS_PER_DOMAIN": 1}) as handler:
        requests = [Request(f"{slow_site}/ttfb?n={n}") for n in range(2)]
        await asyncio.gather(*(handler.download_request(r) for r in requests))
        waited = handler.crawler.stats.get_value("crawler/handler/pool_wait_seconds")
    queues = sorted(timing_of(r).queue or 0.0 for r in requests)
    assert queues[0] == 0.0
    assert_close(queues[1], TTFB_DELAY)
    assert_close(waited, TTFB_DELAY)


@coroutine_test
async def test_a_failed_download_keeps_the_phases_it_completed(server_loop: ServerLoop) -> None:
    port = silent_server(server_loop)
    request = Request(f"http://localhost:{port}/", meta={"download_timeout": 0.5})
    async with open_handler({"CRAWLER_DNS_RESOLVER": SLOW_RESOLVER}) as handler:
        with pytest.raises(DownloadTimeoutError, match=r"took longer than 0\.5 seconds"):
            await handler.download_request(request)
    timing = timing_of(request)
    assert_close(timing.dns, DNS_DELAY)
    assert_small(timing.connect)
    assert (timing.ttfb, timing.download) == (None, None)
    assert_close(timing.total, 0.5)


@coroutine_test
async def test_timing_can_be_turned_off(slow_site: str) -> None:
    async with open_handler({"CRAWLER_TIMING_ENABLED": False}) as handler:
        request = Request(f"{slow_site}/fast")
        response = await handler.download_request(request)
        stats = handler.crawler.stats.get_stats()
    assert response.body == b"fast"
    assert TIMING_META_KEY not in request.meta
    assert "crawler/handler/connections_created_count" not in stats


@coroutine_test
async def test_phases_describe_the_connection_finally_used(
    server_loop: ServerLoop, tls_server_cert: trustme.LeafCert
) -> None:
    # aiohttp connects again when a fresh connection drops before the response: the TLS
    # phase must be the second handshake's, not run from the first one's start.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_server_cert.configure_cert(context)
    port = tls_drop_first(server_loop, context, TLS_DELAY)
    async with open_handler() as handler:
        request = Request(f"https://127.0.0.1:{port}/")
        response = await handler.download_request(request)
        created = handler.crawler.stats.get_value("crawler/handler/connections_created_count")
    timing = timing_of(request)
    assert response.body == b"hello"
    assert created == 2
    assert_small(timing.tls)
    assert_small(timing.connect)
    assert timing.total is not None
    assert timing.total >= TLS_DELAY
