"""aiohttp errors as Scrapy download exceptions, in one place, most specific first."""

from __future__ import annotations

import errno
from contextlib import contextmanager
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from collections.abc import Iterator

_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


@contextmanager
def scrapy_download_errors(
    url: str, timeout: float, connect_timeout: float | None
) -> Iterator[None]:
    """Re-raise aiohttp errors inside the block as Scrapy's exceptions, chained with ``from``.

    ``asyncio.CancelledError`` and exceptions that are not aiohttp's pass through untouched.
    """
    try:
        yield
    except aiohttp.ConnectionTimeoutError as e:
        limit = timeout if connect_timeout is None else min(timeout, connect_timeout)
        raise ConnectTimeoutError(
            f"Connecting to {url} took longer than {limit} seconds "
            f"(CRAWLER_CONNECT_TIMEOUT={connect_timeout}, download_timeout={timeout})."
        ) from e
    except TimeoutError as e:
        raise DownloadTimeoutError(f"Getting {url} took longer than {timeout} seconds.") from e
    except aiohttp.NonHttpUrlClientError as e:
        raise UnsupportedURLSchemeError(f"Cannot download {url}: {e}") from e
    except aiohttp.InvalidUrlClientError as e:
        raise InvalidUrlError(f"Cannot download {url}: {e}") from e
    except aiohttp.ClientConnectorDNSError as e:
        if isinstance(e.os_error, NonPublicAddressesError):
            raise PrivateAddressError(
                f"excluded: {e.os_error} (CRAWLER_EXCLUDE_PRIVATE) for {url}"
            ) from e
        raise CannotResolveHostError(f"DNS lookup failed for {url}: {e.os_error}") from e
    except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch) as e:
        raise TlsError(f"TLS handshake with {url} failed: {e}") from e
    except aiohttp.ClientConnectorError as e:
        raise DownloadConnectionRefusedError(f"Connection to {url} failed: {e.os_error}") from e
    except aiohttp.ServerDisconnectedError as e:
        raise DownloadConnectionResetError(
            f"{url}: server closed the connection: {e.message}"
        ) from e
    except aiohttp.ClientOSError as e:
        if e.errno in _RESET_ERRNOS:
            raise DownloadConnectionResetError(f"{url}: connection reset: {e}") from e
        raise DownloadFailedError(f"{url}: {e}") from e
    except aiohttp.ClientResponseError as e:
        message = " ".join(str(e.message).split())
        if isinstance(e.__cause__, PayloadEncodingError) or "chunk" in message.lower():
            # Broken chunked framing parsed together with the headers: the same data loss as
            # when it arrives later (then aiohttp raises ClientPayloadError from the body).
            raise ResponseDataLossError(f"{url}: received 0 bytes, then: {message}") from e
        raise InvalidResponseError(f"{url}: invalid HTTP response: {message}") from e
    except aiohttp.ClientError as e:
        raise DownloadFailedError(f"{url}: {type(e).__name__}: {e}") from e
