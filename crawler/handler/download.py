"""The aiohttp download handler: Scrapy's HTTP handler contract, plus per-phase timing."""

from __future__ import annotations

import base64
import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp
import yarl
from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import NotConfigured, ResponseDataLossError, UnsupportedURLSchemeError
from scrapy.http import Headers
from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.url import add_http_if_no_scheme

from crawler.handler.addresses import PublicOnlyResolver, refuse_non_public_literal
from crawler.handler.body import BodyReader, dataloss_message
from crawler.handler.config import HandlerConfig, normalize_bind_address
from crawler.handler.errors import closed_by_server, scrapy_download_error
from crawler.handler.response import TimedClientResponse
from crawler.handler.slots import SlotLimits
from crawler.handler.stats import HandlerStats
from crawler.handler.timing import (
    TIMING_META_KEY,
    DownloadTiming,
    PhaseClock,
    build_trace_config,
    current_clock,
)
from crawler.handler.tls import log_tls_details, make_ssl_context
from crawler.urls import host_of

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

BindAddress = tuple[str, int] | None
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# aiohttp adds these unless told not to; Scrapy's middlewares own them.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "Content-Type", "User-Agent")
_TIMEOUTS_KEPT = 64  # distinct download timeouts whose ClientTimeout is reused
_ADDRESSES_KEPT = 1024  # distinct peer addresses whose parsed (immutable) form is reused
_STALE_RETRIES = 3
"""Pooled connections a request may find closed by the server before it goes on over a new
one (aiohttp itself tries a second one first)."""
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
STALE_CONNECTIONS = "stale_connection_count"
"""Stats key (under ``crawler/handler/``): requests sent again because the pooled connection
they went over was closed by the server before any answer."""


class AiohttpDownloadHandler(BaseDownloadHandler):
    """Downloads http(s) requests with aiohttp and records a :class:`DownloadTiming` for each.

    The timing is stored in ``request.meta["download_timing"]`` (so ``response.meta`` too),
    for failed downloads as well. One ``ClientSession`` is created on the first download, and
    one more per distinct ``meta["bindaddress"]``, so a pooled connection is never reused
    from another local address.
    """

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        if not is_asyncio_available():
            raise NotConfigured(
                f"{type(self).__name__} needs asyncio: set TWISTED_REACTOR = "
                '"twisted.internet.asyncioreactor.AsyncioSelectorReactor"'
            )
        super().__init__(crawler)
        self.config = HandlerConfig.from_settings(crawler.settings)
        self._ssl_context = make_ssl_context(self.config)
        self._sessions: dict[BindAddress, aiohttp.ClientSession] = {}
        self._dataloss_warned = False
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._addresses: dict[str, IPAddress] = {}
        self._stats = HandlerStats(crawler.stats)
        self._slot_limits = SlotLimits(crawler)
        crawler.signals.connect(self._stats.write, signal=signals.spider_closed)

    def _new_session(self, bind_address: BindAddress) -> aiohttp.ClientSession:
        cfg = self.config
        resolver_cls = cfg.resolver_class
        resolver: AbstractResolver | None = resolver_cls() if resolver_cls else None
        if cfg.exclude_private:
            resolver = PublicOnlyResolver(resolver or aiohttp.ThreadedResolver())
        keepalive: dict[str, Any] = (
            {"force_close": True}
            if cfg.keepalive_timeout == 0
            else {"keepalive_timeout": cfg.keepalive_timeout}
        )
        connector = aiohttp.TCPConnector(
            limit=cfg.pool_size,
            limit_per_host=cfg.pool_size_per_host,
            use_dns_cache=cfg.dns_cache_ttl is not None,
            ttl_dns_cache=cfg.dns_cache_ttl,
            local_addr=bind_address,
            resolver=resolver,
            ssl=self._ssl_context,
            **keepalive,
        )
        trace_configs = [build_trace_config(self._stats)] if cfg.timing_enabled else []
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            response_class=TimedClientResponse,
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            trace_configs=trace_configs,
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=65536,
            max_field_size=65536,
            max_headers=512,
        )

    def _session(self, request: Request) -> aiohttp.ClientSession:
        bind_address = self.config.bind_address
        if meta_bind := request.meta.get("bindaddress"):
            bind_address = normalize_bind_address(meta_bind)
        session = self._sessions.get(bind_address)
        if session is None:
            session = self._sessions[bind_address] = self._new_session(bind_address)
        return session

    def _proxy_url(self, request: Request) -> str | None:
        """``meta["proxy"]`` with the ``Proxy-Authorization`` credentials in its userinfo."""
        proxy: str | None = request.meta.get("proxy")
        if not proxy:
            return None
        proxy = add_http_if_no_scheme(proxy)
        auth: bytes | None = request.headers.get(b"Proxy-Authorization")
        if not auth:
            return proxy
        scheme, _, token = auth.decode("ascii").partition(" ")
        if scheme != "Basic":
            raise ValueError(f"Expected Basic auth in Proxy-Authorization, got {scheme}")
        decoded = base64.b64decode(token).decode(self.config.proxy_auth_encoding)
        user, _, password = decoded.partition(":")
        parts = urlsplit(proxy)
        netloc = f"{quote(user)}:{quote(password)}@{parts.netloc}"
        return parts._replace(netloc=netloc).geturl()

    @staticmethod
    def _request_headers(request: Request) -> list[tuple[str, str]]:
        """Every header value as ``(name, value)`` text, but ``Proxy-Authorization``."""
        encoding = request.headers.encoding
        return [
            (name.decode(encoding), value.decode(encoding))
            for name, values in request.headers.items()
            if name != b"Proxy-Authorization"
            for value in values
            if value is not None
        ]

    def _client_timeout(self, total: float) -> aiohttp.ClientTimeout:
        """The (immutable, so shared) aiohttp timeout of a ``total``-second download."""
        timeout = self._timeouts.get(total)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=total, sock_connect=self.config.connect_timeout)
            if len(self._timeouts) < _TIMEOUTS_KEPT:
                self._timeouts[total] = timeout
        return timeout

    def _ip_address(self, text: str) -> IPAddress:
        """``ipaddress.ip_address(text)``, parsed once per peer address."""
        address = self._addresses.get(text)
        if address is None:
            if len(self._addresses) >= _ADDRESSES_KEPT:
                self._addresses.clear()
            address = self._addresses[text] = ipaddress.ip_address(text)
        return address

    async def download_request(self, request: Request) -> Response:
        """Download ``request``; raise Scrapy's download exceptions on failure."""
        scheme = urlparse_cached(request).scheme
        if scheme not in ("http", "https"):
            raise UnsupportedURLSchemeError(f"Unsupported URL scheme '{scheme}': {request.url}")
        if scheme == "https":
            self._ssl_context.load_pending_certs()
        timeout: float = request.meta.get("download_timeout", self.config.download_timeout)
        async with self._slot_limits.turn(request):  # the slot's turn: before the clock starts
            timing = DownloadTiming(started_at=time.time())
            clock = PhaseClock(timing)
            if self.config.timing_enabled:
                request.meta[TIMING_META_KEY] = timing
            token = current_clock.set(clock)
            try:
                return await self._download(request, timing, clock, timeout)
            finally:
                current_clock.reset(token)
                clock.finish()
                self._stats.count("bytes_received_count", timing.bytes_received)

    async def _download(
        self, request: Request, timing: DownloadTiming, clock: PhaseClock, timeout: float
    ) -> Response:
        url: str | yarl.URL = request.url
        if request.meta.get("verbatim_url"):
            url = yarl.URL(request.url, encoded=True)
        client_timeout = self._client_timeout(timeout)
        if self.config.exclude_private:
            refuse_non_public_literal(request.url, host_of(request.url))
        session = self._session(request)
        stale = 0
        while True:
            try:
                async with session.request(
                    request.method,
                    url,
                    # no body: no body headers on GET/HEAD, and no task to write one
                    data=request.body or None,
                    headers=self._request_headers(request),
                    timeout=client_timeout,
                    allow_redirects=False,
                    proxy=self._proxy_url(request),
                    trace_request_ctx=clock,
                ) as response:
                    assert isinstance(response, TimedClientResponse)  # the session's class
                    request.meta["download_latency"] = time.perf_counter() - clock.start
                    return await self._read(request, response, timing)
            except (aiohttp.ClientError, TimeoutError) as e:
                if (
                    stale < _STALE_RETRIES
                    and (timing.reused or not self.config.timing_enabled)  # (unknown then)
                    and clock.headers is None
                    and request.method in _IDEMPOTENT
                    and closed_by_server(e) is not None
                ):  # a pooled connection the server closed: go on over another one
                    stale += 1
                    timing.reused = False
                    self._stats.count(STALE_CONNECTIONS)
                    continue
                error = scrapy_download_error(e, request.url, timeout, self.config.connect_timeout)
                raise error from e

    async def _read(
        self, request: Request, response: TimedClientResponse, timing: DownloadTiming
    ) -> Response:
        version = response.version
        timing.http_version = f"HTTP/{version.major}.{version.minor}" if version else None
        ip_address = None
        if response.peer_address is not None:
            timing.remote_ip, timing.remote_port = response.peer_address
            ip_address = self._ip_address(response.peer_address[0])
        certificate = None
        if response.tls_object is not None:
            timing.tls_version = response.tls_object.version()
            certificate = timing.certificate = response.tls_object.getpeercert(binary_form=True)
            if self.config.tls_verbose_logging:
                log_tls_details(response.tls_object)
        reader = BodyReader(
            self.crawler,
            request,
            response,
            Headers(list(response.raw_headers)),
            timing,
            maxsize=request.meta.get("download_maxsize", self.config.maxsize),
            warnsize=request.meta.get("download_warnsize", self.config.warnsize),
            fail_on_dataloss=request.meta.get(
                "download_fail_on_dataloss", self.config.fail_on_dataloss
            ),
            response_kwargs={
                "url": request.url,
                "status": response.status,
                "certificate": certificate,
                "ip_address": ip_address,
                "protocol": timing.http_version,
            },
        )
        try:
            return await reader.read()
        except ResponseDataLossError:
            if not self._dataloss_warned:
                logger.warning(dataloss_message(request.url))
                self._dataloss_warned = True
            raise

    async def close(self) -> None:
        """Close every session and its pooled connections; write the stats not yet written."""
        self._stats.write()
        self._slot_limits.close()
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
