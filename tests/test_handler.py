"""Handler behaviour beyond Scrapy's parity suite: settings, errors, TLS trust, bind addresses,
stats and the lazily opened session."""

from __future__ import annotations

import asyncio
import errno
import gc
import re
import socket
import ssl
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from scrapy import Request
from scrapy.exceptions import (
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    NotConfigured,
    UnsupportedURLSchemeError,
)
from scrapy.settings import Settings

from crawler.exceptions import (
    ConnectTimeoutError,
    DownloadConnectionResetError,
    InvalidUrlError,
    TlsError,
)
from crawler.handler.config import HandlerConfig
from crawler.handler.download import STALE_CONNECTIONS
from crawler.handler.errors import closed_by_server, scrapy_download_error
from crawler.handler.stats import STATS_PREFIX
from crawler.handler.tls import make_ssl_context
from tests._asyncio import coroutine_test
from tests._handler import build_handler, open_handler
from tests.delays import FullBacklog

if TYPE_CHECKING:
    import trustme

    from tests.servers import ServerLoop

README = Path(__file__).resolve().parent.parent / "docs" / "handler.md"  # its stats table


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CRAWLER_CONNECT_TIMEOUT": -1}, "CRAWLER_CONNECT_TIMEOUT must be >= 0"),
        ({"CRAWLER_KEEPALIVE_TIMEOUT": -2}, "CRAWLER_KEEPALIVE_TIMEOUT must be >= 0"),
        ({"CRAWLER_DNS_CACHE_TTL": -5}, "CRAWLER_DNS_CACHE_TTL must be >= 0"),
        ({"CRAWLER_DNS_RESOLVER": ""}, "CRAWLER_DNS_RESOLVER must be a name, got ''; use"),
        ({"DOWNLOAD_TLS_MIN_VERSION": "SSLv3"}, "Unknown DOWNLOAD_TLS_MIN_VERSION value: SSLv3"),
        ({"DOWNLOAD_TLS_MAX_VERSION": "TLSv9"}, "Unknown DOWNLOAD_TLS_MAX_VERSION value: TLSv9"),
        ({"DOWNLOAD_TIMEOUT": 0}, "DOWNLOAD_TIMEOUT must be > 0"),
        ({"CONCURRENT_REQUESTS": 0}, "CONCURRENT_REQUESTS must be > 0"),
        ({"CONCURRENT_REQUESTS_PER_DOMAIN": -1}, "CONCURRENT_REQUESTS_PER_DOMAIN must be > 0"),
        ({"DOWNLOAD_BIND_ADDRESS": ["a", "b", "c"]}, "DOWNLOAD_BIND_ADDRESS must be a host"),
        (
            {"CRAWLER_DNS_RESOLVER": "collections.OrderedDict"},
            r"CRAWLER_DNS_RESOLVER='collections\.OrderedDict' is not an aiohttp",
        ),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HandlerConfig.from_settings(Settings(settings))


def test_defaults() -> None:
    config = HandlerConfig.from_settings(Settings())
    assert (config.timing_enabled, config.connect_timeout, config.dns_cache_ttl) == (True, 10.0, 10)
    assert (config.dns_resolver, config.keepalive_timeout, config.bind_address) == (
        "threaded",
        15.0,
        None,
    )
    zeroed = HandlerConfig.from_settings(
        Settings({"CRAWLER_CONNECT_TIMEOUT": 0, "CRAWLER_DNS_CACHE_TTL": 0})
    )
    assert (zeroed.connect_timeout, zeroed.dns_cache_ttl) == (None, None)


@coroutine_test
async def test_resolver_must_be_a_resolver_class() -> None:
    with pytest.raises(ValueError, match=r"is not an aiohttp\.abc\.AbstractResolver subclass"):
        async with open_handler({"CRAWLER_DNS_RESOLVER": "collections.OrderedDict"}):
            pass


@coroutine_test
async def test_unimportable_resolver_names_the_setting() -> None:
    with pytest.raises(
        ValueError,
        match=r"CRAWLER_DNS_RESOLVER='tests\.no_such_module\.Resolver' cannot be imported",
    ):
        async with open_handler({"CRAWLER_DNS_RESOLVER": "tests.no_such_module.Resolver"}):
            pass


@coroutine_test
async def test_aiodns_resolver_needs_aiodns() -> None:
    try:
        import aiodns  # noqa: F401
    except ImportError:
        with pytest.raises(NotConfigured, match="pip install aiodns"):
            async with open_handler({"CRAWLER_DNS_RESOLVER": "aiodns"}):
                pass
    else:
        pytest.skip("aiodns is installed")


@coroutine_test
async def test_connect_timeout_is_its_own_error() -> None:
    with FullBacklog() as backlog:  # never released: every SYN is dropped
        request = Request(f"http://127.0.0.1:{backlog.port}/")
        async with open_handler({"CRAWLER_CONNECT_TIMEOUT": 0.3}) as handler:
            with pytest.raises(
                ConnectTimeoutError, match=r"CRAWLER_CONNECT_TIMEOUT=0\.3"
            ) as raised:
                await handler.download_request(request)
    assert isinstance(raised.value, DownloadTimeoutError)
    assert isinstance(raised.value.__cause__, aiohttp.ConnectionTimeoutError)
    timing = request.meta["download_timing"]
    assert timing.connect is not None
    assert 0.3 <= timing.connect < 0.4
    assert timing.ttfb is None


@coroutine_test
async def test_refused_is_chained() -> None:
    with socket.socket() as sock:  # bound, never listening: the port refuses
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with open_handler() as handler:
            with pytest.raises(DownloadConnectionRefusedError, match=f"127.0.0.1:{port}") as raised:
                await handler.download_request(Request(f"http://127.0.0.1:{port}/"))
    assert isinstance(raised.value.__cause__, aiohttp.ClientConnectorError)


_KEY = ConnectionKey("example.com", 80, False, True, None, None, None)


@pytest.mark.parametrize(
    ("error", "mapped", "message", "reset"),
    [
        (aiohttp.ServerDisconnectedError(), DownloadConnectionResetError,
         "U: server closed the connection: Server disconnected", True),
        (aiohttp.ServerDisconnectedError("Connection lost"), DownloadConnectionResetError,
         "U: server closed the connection: Connection lost", True),
        (aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"),
         DownloadConnectionResetError,
         "U: connection reset: [Errno 104] Connection reset by peer", True),
        (aiohttp.ClientOSError(errno.EPIPE, "Broken pipe"), DownloadConnectionResetError,
         "U: connection reset: [Errno 32] Broken pipe", True),
        (aiohttp.ClientOSError(errno.ECONNABORTED, "aborted"), DownloadConnectionResetError,
         "U: connection reset: [Errno 103] aborted", True),
        (aiohttp.ClientOSError(errno.EHOSTUNREACH, "No route to host"), DownloadFailedError,
         "U: [Errno 113] No route to host", False),
        # a connect that failed with a reset errno: no connection was made, so no reset
        (aiohttp.ClientConnectorError(_KEY, OSError(errno.ECONNRESET, "ECONNRESET")),
         DownloadConnectionRefusedError, "Connection to U failed: [Errno 104] ECONNRESET", False),
        (aiohttp.ClientConnectionError("gone"), DownloadFailedError,
         "U: ClientConnectionError: gone", False),
        (aiohttp.ClientPayloadError("cut"), DownloadFailedError,
         "U: ClientPayloadError: cut", False),
    ],
)  # fmt: skip
def test_a_reset_is_the_same_for_the_error_and_the_stale_connection_retry(
    error: aiohttp.ClientError, mapped: type[Exception], message: str, reset: bool
) -> None:
    # The handler sends a request again over another connection exactly when the server
    # closed or reset a connection it had (and no answer came): the errors mapped to "reset".
    raised = scrapy_download_error(error, "U", 30.0, None)
    assert (type(raised), str(raised)) == (mapped, message)
    assert (closed_by_server(error) is not None) is reset


@coroutine_test
async def test_a_host_that_is_no_name_nor_address_is_an_invalid_url() -> None:
    async with open_handler() as handler:
        with pytest.raises(InvalidUrlError, match=r"1\.2\.3\.4\.5") as raised:
            await handler.download_request(Request("http://1.2.3.4.5/"))
    assert isinstance(raised.value, UnsupportedURLSchemeError)  # what Scrapy code catches
    assert isinstance(raised.value.__cause__, aiohttp.InvalidUrlClientError)


@pytest.fixture(scope="module")
def tls_site(server_loop: ServerLoop, tls_server_cert: trustme.LeafCert) -> str:
    """``/`` answers "secure"; ``/close`` answers and closes the connection."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="secure")

    async def close(request: web.Request) -> web.Response:
        response = web.Response(text="closing")
        response.force_close()
        return response

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/close", close)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_server_cert.configure_cert(context)
    return server_loop.http(app, context).replace("127.0.0.1", "localhost")


@coroutine_test
async def test_untrusted_certificate_is_a_tls_error(tls_site: str) -> None:
    async with open_handler({"DOWNLOAD_VERIFY_CERTIFICATES": True}) as handler:
        with pytest.raises(TlsError, match="certificate verify failed") as raised:
            await handler.download_request(Request(tls_site))
    assert isinstance(raised.value.__cause__, aiohttp.ClientSSLError)


@coroutine_test
async def test_trusted_certificate_verifies(
    tls_site: str, tls_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    async with open_handler({"DOWNLOAD_VERIFY_CERTIFICATES": True}) as handler:
        response = await handler.download_request(Request(tls_site))
    assert response.body == b"secure"
    assert isinstance(response.certificate, bytes)


@coroutine_test
async def test_certificates_are_read_on_the_first_https_download_only(
    tls_site: str,
    client_ip_site: str,
    tls_ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca_file = tmp_path / "ca.pem"  # a CA file of its own: a context no other test shares
    tls_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    async with open_handler({"DOWNLOAD_VERIFY_CERTIFICATES": True}) as handler:
        context = make_ssl_context(handler.config)  # the handler's (shared) context
        await handler.download_request(Request(client_ip_site))
        assert context.cert_store_stats()["x509_ca"] == 0  # plain HTTP: none read
        response = await handler.download_request(Request(tls_site))
        assert context.cert_store_stats()["x509_ca"] == 1  # the CA in SSL_CERT_FILE
    assert response.body == b"secure"


@pytest.fixture(scope="module")
def client_ip_site(server_loop: ServerLoop) -> str:
    async def client_ip(request: web.Request) -> web.Response:
        return web.Response(text=request.remote or "")

    app = web.Application()
    app.router.add_get("/", client_ip)
    return server_loop.http(app)


@coroutine_test
async def test_bind_address_meta_never_shares_a_pooled_connection(client_ip_site: str) -> None:
    async with open_handler() as handler:
        seen = []
        for address in ("127.0.0.2", "127.0.0.1", "127.0.0.2", None):
            meta = {"bindaddress": address} if address else {}
            request = Request(client_ip_site, meta=meta)
            response = await handler.download_request(request)
            seen.append((response.text, request.meta["download_timing"].reused))
    assert seen == [
        ("127.0.0.2", False),
        ("127.0.0.1", False),
        ("127.0.0.2", True),
        ("127.0.0.1", False),
    ]


STALE_CONNECTIONS_STAT = STATS_PREFIX + STALE_CONNECTIONS


def readme_handler_stats() -> set[str]:
    return set(re.findall(r"^\| `(crawler/handler/[a-z_]+)` \|", README.read_text(), re.M))


@coroutine_test
async def test_stats_are_the_readme_keys_with_exact_counts(tls_site: str) -> None:
    async with open_handler({"CONCURRENT_REQUESTS_PER_DOMAIN": 1}) as handler:
        # A connects (DNS lookup, TLS); B waits for A's connection, then reuses it.
        queued = [Request(tls_site), Request(tls_site)]
        await asyncio.gather(*(handler.download_request(r) for r in queued))
        # C reuses it too, and the server closes it; D connects again, DNS from the cache.
        await handler.download_request(Request(f"{tls_site}/close"))
        await handler.download_request(Request(tls_site))
        # added up in memory, written when the spider closes or, as here, the handler does
        assert not any(
            key.startswith("crawler/handler/") for key in handler.crawler.stats.get_stats()
        )
    stats = handler.crawler.stats.get_stats()
    ours = {key: value for key, value in stats.items() if key.startswith("crawler/handler/")}
    # every documented key but the pooled connections found closed (tests/test_keepalive.py)
    assert set(ours) == readme_handler_stats() - {STALE_CONNECTIONS_STAT}
    assert ours.pop("crawler/handler/pool_wait_seconds") > 0
    assert ours == {
        "crawler/handler/connections_created_count": 2,
        "crawler/handler/connections_reused_count": 2,
        "crawler/handler/dns_lookups_count": 1,
        "crawler/handler/dns_cache_hits_count": 1,
        "crawler/handler/tls_handshakes_count": 2,
        "crawler/handler/bytes_received_count": 3 * len("secure") + len("closing"),
    }


@coroutine_test
async def test_a_handler_that_never_downloads_opens_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with open_handler():
        pass  # built and closed: any warning fails the test (filterwarnings = error)
    # Dropped without close(): an open session would warn "Unclosed client session" here.
    handler = build_handler()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del handler
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert "Unclosed" not in caplog.text


@pytest.fixture(scope="module")
def body_headers_site(server_loop: ServerLoop) -> tuple[str, list[tuple[str | None, bytes]]]:
    """A site that records each request's ``Content-Length`` and body."""
    received: list[tuple[str | None, bytes]] = []

    async def record(request: web.Request) -> web.Response:
        assert "Transfer-Encoding" not in request.headers
        received.append((request.headers.get("Content-Length"), await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/", record)
    return server_loop.http(app), received


@pytest.mark.parametrize(
    ("method", "body", "length"),
    [
        ("GET", b"", None),  # as Scrapy's default handler: no body, no body headers
        ("HEAD", b"", None),
        ("POST", b"", "0"),  # a bodyless POST still says so (scrapy/scrapy#823)
        ("DELETE", b"", "0"),
        ("POST", b"x=1", "3"),
        ("GET", b"x=1", "3"),
    ],
)
@coroutine_test
async def test_request_body_headers_follow_the_body(
    body_headers_site: tuple[str, list[tuple[str | None, bytes]]],
    method: str,
    body: bytes,
    length: str | None,
) -> None:
    site, received = body_headers_site
    received.clear()
    async with open_handler() as handler:
        response = await handler.download_request(Request(site, method=method, body=body))
    assert response.status == 200
    assert received == [(length, body)]
