"""aiohttp errors as Scrapy download exceptions, in one place, most specific first."""

from __future__ import annotations

import errno

import aiohttp
from aiohttp.http_exceptions import PayloadEncodingError
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)

from crawler.exceptions import (
    ConnectTimeoutError,
    DownloadConnectionResetError,
    InvalidResponseError,
    InvalidUrlError,
    PrivateAddressError,
    TlsError,
)
from crawler.handler.addresses import NonPublicAddressesError

_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


def closed_by_server(e: BaseException) -> str | None:
    """How ``e`` says the server closed or reset a connection it had accepted; ``None`` if not.

    The one test of a reset: the error mapping makes it a ``DownloadConnectionResetError``,
    and the handler, when it came before any answer on a pooled connection (a keep-alive
    connection the server closed as it was reused), sends the request again over another one.
    A connector error is no reset, whatever its errno: no connection was made.
    """
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return f"server closed the connection: {e.message}"
    if (
        isinstance(e, aiohttp.ClientOSError)
        and not isinstance(e, aiohttp.ClientConnectorError)
        and e.errno in _RESET_ERRNOS
    ):
        return f"connection reset: {e}"
    return None


def scrapy_download_error(
    e: aiohttp.ClientError | TimeoutError, url: str, timeout: float, connect_timeout: float | None
) -> Exception:
    """The Scrapy exception to raise ``from e`` for an aiohttp error (or a timeout) of ``url``.

    The handler catches only ``aiohttp.ClientError`` and ``TimeoutError``: ``CancelledError``
    and every other exception pass through untouched.
    """
    if isinstance(e, aiohttp.ConnectionTimeoutError):
        limit = timeout if connect_timeout is None else min(timeout, connect_timeout)
        return ConnectTimeoutError(
            f"Connecting to {url} took longer than {limit} seconds "
            f"(CRAWLER_CONNECT_TIMEOUT={connect_timeout}, download_timeout={timeout})."
        )
    if isinstance(e, TimeoutError):
        return DownloadTimeoutError(f"Getting {url} took longer than {timeout} seconds.")
    if isinstance(e, aiohttp.NonHttpUrlClientError):
        return UnsupportedURLSchemeError(f"Cannot download {url}: {e}")
    if isinstance(e, aiohttp.InvalidUrlClientError):
        return InvalidUrlError(f"Cannot download {url}: {e}")
    if isinstance(e, aiohttp.ClientConnectorDNSError):
        if isinstance(e.os_error, NonPublicAddressesError):
            return PrivateAddressError(
                f"excluded: {e.os_error} (CRAWLER_EXCLUDE_PRIVATE) for {url}"
            )
        return CannotResolveHostError(f"DNS lookup failed for {url}: {e.os_error}")
    if isinstance(e, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return TlsError(f"TLS handshake with {url} failed: {e}")
    if isinstance(e, aiohttp.ClientConnectorError):
        return DownloadConnectionRefusedError(f"Connection to {url} failed: {e.os_error}")
    if (closed := closed_by_server(e)) is not None:
        return DownloadConnectionResetError(f"{url}: {closed}")
    if isinstance(e, aiohttp.ClientOSError):
        return DownloadFailedError(f"{url}: {e}")
    if isinstance(e, aiohttp.ClientResponseError):
        message = " ".join(str(e.message).split())
        if isinstance(e.__cause__, PayloadEncodingError) or "chunk" in message.lower():
            # Broken chunked framing parsed together with the headers: the same data loss as
            # when it arrives later (then aiohttp raises ClientPayloadError from the body).
            return ResponseDataLossError(f"{url}: received 0 bytes, then: {message}")
        return InvalidResponseError(f"{url}: invalid HTTP response: {message}")
    return DownloadFailedError(f"{url}: {type(e).__name__}: {e}")
