"""Where the time of a download went: the public record and the marks behind it.

Phases come from aiohttp's public ``TraceConfig`` signals, plus two hooks the signals lack:

* TLS start: aiohttp reports one "connection created" event for TCP connect and TLS
  handshake together. The TLS handshake starts when asyncio wraps the freshly connected
  socket with :meth:`ssl.SSLContext.wrap_bio`, so the handler's SSL context is a subclass
  that marks that instant (:class:`TimedSSLContext`). It finds the download it belongs to
  through a :class:`~contextvars.ContextVar`: the connection is made inside the task that
  runs ``download_request``.
* Response start: the end of :meth:`aiohttp.ClientResponse.start` (headers parsed) marks the
  first byte; see :mod:`crawler.handler.response`.

Marks use :func:`time.perf_counter` (monotonic). A phase that did not happen stays ``None``:
a reused connection has no DNS, connect or TLS phase, and a zero would claim a measurement.
"""

from __future__ import annotations

import ssl
import time
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from cryptography import x509

if TYPE_CHECKING:
    from types import SimpleNamespace

    from crawler.handler.stats import HandlerStats

TIMING_META_KEY = "download_timing"
"""``request.meta`` / ``response.meta`` key of the :class:`DownloadTiming` of a download."""


def to_ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds rounded to the microsecond, as rows and chains show them."""
    return None if seconds is None else round(seconds * 1000, 3)


@dataclass(slots=True)
class DownloadTiming:
    """Where the time of one download (one HTTP request, no redirects) went.

    Durations are seconds on a monotonic clock; ``None`` means the phase did not happen or was
    not reached (never ``0.0`` for that). A failed download keeps the phases it completed.
    """

    started_at: float
    """Wall-clock UNIX time at which the handler started the download."""
    queue: float | None = None
    """Waiting for a free connection in the pool; ``0.0`` when none was needed."""
    dns: float | None = None
    """DNS resolution; ``None`` on a reused connection, a DNS cache hit or an IP literal."""
    connect: float | None = None
    """TCP connect (after DNS); ``None`` on a reused connection."""
    tls: float | None = None
    """TLS handshake (after TCP connect); ``None`` for plain HTTP or a reused connection."""
    ttfb: float | None = None
    """From the request sent to the response headers received: from the last request write
    that started before the answer, so never negative when the server answers early."""
    download: float | None = None
    """From the response headers to the last body byte."""
    total: float | None = None
    """The whole download, from the handler's start to its end, success or failure."""
    reused: bool = False
    """Whether the request went over a pooled keep-alive connection."""
    dns_cache_hit: bool | None = None
    remote_ip: str | None = None
    remote_port: int | None = None
    http_version: str | None = None
    tls_version: str | None = None
    certificate: bytes | None = field(default=None, repr=False)
    """The server's certificate (DER), when TLS was used."""
    bytes_received: int = 0
    """Response body bytes received, as sent (before any decompression)."""

    @property
    def cert_not_after(self) -> datetime | None:
        """Expiry of the server certificate (UTC), when TLS was used."""
        if self.certificate is None:
            return None
        return x509.load_der_x509_certificate(self.certificate).not_valid_after_utc

    def as_dict(self) -> dict[str, Any]:
        """The record as plain values (no certificate bytes; expiry as ISO 8601)."""
        data = asdict(self)
        del data["certificate"]
        expiry = self.cert_not_after
        data["cert_not_after"] = expiry.isoformat() if expiry else None
        data["started_at"] = datetime.fromtimestamp(self.started_at, UTC).isoformat()
        return data


class PhaseClock:
    """Raw monotonic marks of one download, turned into its :class:`DownloadTiming`."""

    __slots__ = (
        "create_end",
        "create_start",
        "dns_end",
        "dns_start",
        "headers",
        "queue_end",
        "queue_start",
        "sent",
        "start",
        "timing",
        "tls_start",
    )

    def __init__(self, timing: DownloadTiming) -> None:
        self.timing = timing
        self.start = time.perf_counter()
        self.queue_start: float | None = None
        self.queue_end: float | None = None
        self.dns_start: float | None = None
        self.dns_end: float | None = None
        self.create_start: float | None = None
        self.tls_start: float | None = None
        self.create_end: float | None = None
        self.sent: float | None = None
        self.headers: float | None = None

    def finish(self) -> DownloadTiming:
        """Compute every phase reached so far (called once, when the download ends)."""
        end = time.perf_counter()
        t = self.timing
        t.total = end - self.start
        if self.queue_start is not None:
            t.queue = (self.queue_end or end) - self.queue_start
        elif self.create_start is not None or t.reused:
            t.queue = 0.0
        if self.dns_start is not None:
            t.dns = (self.dns_end or end) - self.dns_start
        if self.create_start is not None:
            connect_start = self.dns_end or self.create_start
            if self.dns_start is None or self.dns_end is not None:
                connect_end = self.tls_start or self.create_end or end
                t.connect = connect_end - connect_start
            if self.tls_start is not None:
                t.tls = (self.create_end or end) - self.tls_start
        if self.headers is not None:
            t.ttfb = self.headers - (self.sent or self.create_end or self.start)
            t.download = end - self.headers
        return t


current_clock: ContextVar[PhaseClock | None] = ContextVar("crawler_phase_clock", default=None)


class TimedSSLContext(ssl.SSLContext):
    """An SSL context that marks the start of each TLS handshake for :class:`PhaseClock`."""

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        clock = current_clock.get()
        if clock is not None and clock.tls_start is None:
            clock.tls_start = time.perf_counter()
        return super().wrap_bio(*args, **kwargs)


class _TraceRecorder:
    """``TraceConfig`` callbacks that feed each request's :class:`PhaseClock` and the stats.

    The clock travels as ``trace_request_ctx``; requests without one are only counted.
    """

    def __init__(self, stats: HandlerStats) -> None:
        self.stats = stats
        self._count = stats.count  # bound once: a reused connection and a send are per URL

    @staticmethod
    def _clock(ctx: SimpleNamespace) -> PhaseClock | None:
        clock = ctx.trace_request_ctx
        return clock if isinstance(clock, PhaseClock) else None

    async def queued_start(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        if clock := self._clock(ctx):
            clock.queue_start = time.perf_counter()

    async def queued_end(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        if (clock := self._clock(ctx)) and clock.queue_start is not None:
            clock.queue_end = time.perf_counter()
            self.stats.add_seconds("pool_wait_seconds", clock.queue_end - clock.queue_start)

    async def create_start(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        if clock := self._clock(ctx):
            # aiohttp may connect again for the same request (its retry of a request whose
            # fresh connection dropped): the phases describe the connection finally used.
            clock.create_start = time.perf_counter()
            clock.dns_start = clock.dns_end = clock.tls_start = clock.create_end = None

    async def create_end(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        self._count("connections_created_count")
        if clock := self._clock(ctx):
            clock.create_end = time.perf_counter()
            if clock.tls_start is not None:
                self._count("tls_handshakes_count")

    async def reused(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        self._count("connections_reused_count")
        if isinstance(clock := ctx.trace_request_ctx, PhaseClock):  # per URL: no _clock call
            clock.timing.reused = True

    async def dns_start(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        self._count("dns_lookups_count")
        if clock := self._clock(ctx):
            clock.dns_start = time.perf_counter()

    async def dns_end(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        if clock := self._clock(ctx):
            clock.dns_end = time.perf_counter()

    async def dns_cache_hit(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        self._count("dns_cache_hits_count")
        if clock := self._clock(ctx):
            clock.timing.dns_cache_hit = True

    async def dns_cache_miss(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        if clock := self._clock(ctx):
            clock.timing.dns_cache_hit = False

    async def sent(self, _s: object, ctx: SimpleNamespace, _p: object) -> None:
        # A write after the answer started (the body of a request expecting 100-continue,
        # sent once the 100 and the final headers came together) is not where ttfb starts.
        if isinstance(clock := ctx.trace_request_ctx, PhaseClock) and clock.headers is None:
            clock.sent = time.perf_counter()


def build_trace_config(stats: HandlerStats) -> aiohttp.TraceConfig:
    """A frozen ``TraceConfig`` recording phases into each request's :class:`PhaseClock`."""
    recorder = _TraceRecorder(stats)
    config = aiohttp.TraceConfig()
    config.on_connection_queued_start.append(recorder.queued_start)
    config.on_connection_queued_end.append(recorder.queued_end)
    config.on_connection_create_start.append(recorder.create_start)
    config.on_connection_create_end.append(recorder.create_end)
    config.on_connection_reuseconn.append(recorder.reused)
    config.on_dns_resolvehost_start.append(recorder.dns_start)
    config.on_dns_resolvehost_end.append(recorder.dns_end)
    config.on_dns_cache_hit.append(recorder.dns_cache_hit)
    config.on_dns_cache_miss.append(recorder.dns_cache_miss)
    config.on_request_headers_sent.append(recorder.sent)
    config.on_request_chunk_sent.append(recorder.sent)
    config.freeze()
    return config
