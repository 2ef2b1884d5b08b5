"""Handler settings, connection errors and bind addresses, beyond Scrapy's own test bases."""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from scrapy import Request
from scrapy.exceptions import DownloadConnectionRefusedError, DownloadTimeoutError, NotConfigured
from scrapy.settings import Settings

from crawler._config import HandlerConfig
from crawler.exceptions import ConnectTimeoutError, TlsError
from tests._asyncio import coroutine_test
from tests._handlers import open_handler
from tests.delays import FullBacklog

if TYPE_CHECKING:
    import trustme

    from tests.servers import ServerLoop


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CRAWLER_CONNECT_TIMEOUT": -1}, "CRAWLER_CONNECT_TIMEOUT must be >= 0"),
        ({"CRAWLER_KEEPALIVE_TIMEOUT": -2}, "CRAWLER_KEEPALIVE_TIMEOUT must be >= 0"),
        ({"CRAWLER_DNS_CACHE_TTL": -5}, "CRAWLER_DNS_CACHE_TTL must be >= 0"),
        ({"CRAWLER_DNS_RESOLVER": ""}, "CRAWLER_DNS_RESOLVER must be 'threaded', 'aiodns' or"),
        ({"DOWNLOAD_TLS_MIN_VERSION": "SSLv3"}, "Unknown DOWNLOAD_TLS_MIN_VERSION value: SSLv3"),
        ({"DOWNLOAD_TIMEOUT": 0}, "DOWNLOAD_TIMEOUT must be > 0"),
        ({"CONCURRENT_REQUESTS": 0}, "CONCURRENT_REQUESTS must be > 0"),
        ({"DOWNLOAD_BIND_ADDRESS": ["a", "b", "c"]}, "DOWNLOAD_BIND_ADDRESS must be a host"),
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
    with FullBacklog() as backlog:
        request = Request(f"http://127.0.0.1:{backlog.port}/")
        async with open_handler({"CRAWLER_CONNECT_TIMEOUT": 0.3}) as handler:
            with pytest.raises(
                ConnectTimeoutError, match=r"CRAWLER_CONNECT_TIMEOUT=0\.3"
            ) as raised:
                await handler.download_request(request)
    assert isinstance(raised.value, DownloadTimeoutError)
    assert raised.value.__cause__ is not None
    timing = request.meta["download_timing"]
    assert timing.connect is not None
    assert 0.3 <= timing.connect < 0.4


@coroutine_test
async def test_refused_is_chained() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with open_handler() as handler:
        with pytest.raises(DownloadConnectionRefusedError, match=f"127.0.0.1:{port}") as raised:
            await handler.download_request(Request(f"http://127.0.0.1:{port}/"))
    assert isinstance(raised.value.__cause__, OSError)


@pytest.fixture(scope="module")
def tls_site(server_loop: ServerLoop, tls_server_cert: trustme.LeafCert) -> str:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="secure")

    app = web.Application()
    app.router.add_get("/", hello)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_server_cert.configure_cert(context)
    return server_loop.http(app, context).replace("127.0.0.1", "localhost")


@coroutine_test
async def test_untrusted_certificate_is_a_tls_error(tls_site: str) -> None:
    async with open_handler({"DOWNLOAD_VERIFY_CERTIFICATES": True}) as handler:
        with pytest.raises(TlsError, match="certificate verify failed"):
            await handler.download_request(Request(tls_site))


@coroutine_test
async def test_trusted_certificate_verifies(
    tls_site: str, tls_ca: trustme.CA, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    async with open_handler({"DOWNLOAD_VERIFY_CERTIFICATES": True}) as handler:
        response = await handler.download_request(Request(tls_site))
    assert response.body == b"secure"
    assert isinstance(response.certificate, bytes)


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
        bodies = []
        for address in ("127.0.0.2", "127.0.0.1", "127.0.0.2", None):
            meta = {"bindaddress": address} if address else {}
            request = Request(client_ip_site, meta=meta)
            response = await handler.download_request(request)
            bodies.append((response.text, request.meta["download_timing"].reused))
    assert bodies == [
        ("127.0.0.2", False),
        ("127.0.0.1", False),
        ("127.0.0.2", True),
        ("127.0.0.1", False),
    ]


@coroutine_test
async def test_a_handler_that_never_downloads_opens_nothing() -> None:
    async with open_handler() as handler:
        assert handler._sessions == {}
