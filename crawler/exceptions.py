"""Download errors more specific than Scrapy's, each a subclass of the Scrapy one it refines.

Code written for Scrapy's handlers keeps working (``except DownloadTimeoutError`` still
catches a connect timeout); code that wants the detail, such as the ``urls`` spider's
outcome classes, can tell the cases apart.
"""

from __future__ import annotations

from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    UnsupportedURLSchemeError,
)

__all__ = [
    "ConnectTimeoutError",
    "DownloadConnectionResetError",
    "InvalidResponseError",
    "InvalidUrlError",
    "NotStartedError",
    "PrivateAddressError",
    "ResponseTooLargeError",
    "TlsError",
]


class ConnectTimeoutError(DownloadTimeoutError):
    """No connection (TCP and TLS) could be established within the connect timeout."""


class TlsError(DownloadFailedError):
    """The TLS handshake failed: bad certificate, wrong host name, no common version..."""


class DownloadConnectionResetError(DownloadFailedError):
    """The server closed or reset the connection before a complete response."""


class InvalidResponseError(DownloadFailedError):
    """The server answered with something that is not valid HTTP."""


class InvalidUrlError(UnsupportedURLSchemeError):
    """The URL cannot be requested as written: its host is no valid name or address."""


class ResponseTooLargeError(DownloadCancelledError):
    """The response is larger than ``DOWNLOAD_MAXSIZE`` (or the ``download_maxsize`` meta)."""


class PrivateAddressError(IgnoreRequest):
    """Not requested: the host is, or resolves only to, non-public addresses (private,
    loopback, link-local, reserved...) and ``CRAWLER_EXCLUDE_PRIVATE`` is on."""


class NotStartedError(IgnoreRequest):
    """Not sent: the crawl began to stop (Ctrl-C, SIGTERM) while the request waited for its
    turn. Its entry gets no row in this run; ``resume`` checks it."""
