"""Outcome classes: what happened to a URL, as one word, from the exception that ended it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_error

from crawler.exceptions import (
    ConnectionResetError,
    ConnectTimeoutError,
    InvalidResponseError,
    InvalidUrlError,
    PrivateAddressError,
    ResponseTooLargeError,
    TlsError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

OUTCOMES: Final = (
    "ok",
    "http_error",
    "rate_limited",
    "redirect_loop",
    "too_many_redirects",
    "dns",
    "refused",
    "connect_timeout",
    "timeout",
    "tls",
    "reset",
    "dataloss",
    "too_large",
    "invalid_response",
    "invalid_url",
    "unsupported_scheme",
    "unchecked",
    "url_too_long",
    "robots",
    "offsite",
    "filtered",
    "duplicate",
    "cancelled",
    "abandoned",
    "failed",
    "excluded",
    "slow",
    "blocked",
)
"""Every value the ``outcome`` field can take."""

UNCHECKED_SCHEMES: Final = ("mailto", "tel")
"""Default of ``CRAWLER_UNCHECKED_SCHEMES``: links no HTTP request can check, which get an
``unchecked`` row (``ok`` empty, not a failure), as in lychee."""

# Most specific first: our subclasses before the Scrapy classes they refine.
_BY_TYPE: Final[tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...]] = (
    (HttpError, "http_error"),
    (PrivateAddressError, "excluded"),
    (ConnectTimeoutError, "connect_timeout"),
    ((DownloadTimeoutError, tx_error.TimeoutError), "timeout"),
    ((CannotResolveHostError, tx_error.DNSLookupError), "dns"),
    ((DownloadConnectionRefusedError, tx_error.ConnectionRefusedError), "refused"),
    (TlsError, "tls"),
    ((ConnectionResetError, tx_error.ConnectionLost), "reset"),
    (ResponseDataLossError, "dataloss"),
    (ResponseTooLargeError, "too_large"),
    (InvalidResponseError, "invalid_response"),
    (InvalidUrlError, "invalid_url"),
    (UnsupportedURLSchemeError, "unsupported_scheme"),
    (DownloadCancelledError, "cancelled"),
    (DownloadFailedError, "failed"),
)


def _ignored_outcome(error: IgnoreRequest, chain: Sequence[str]) -> str:
    message = str(error)
    if message == "max redirections reached":
        return "redirect_loop" if len(set(chain)) < len(chain) else "too_many_redirects"
    if message == "Forbidden by robots.txt":
        return "robots"
    if message.startswith("Filtered offsite request"):
        return "offsite"
    if "exceeded DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware's decompression cap
        return "too_large"
    return "filtered"


def classify(error: BaseException, chain: Sequence[str] = ()) -> str:
    """The outcome for ``error``; ``chain`` is the URLs visited so far (for redirect loops)."""
    for types, outcome in _BY_TYPE:
        if isinstance(error, types):
            return outcome
    if isinstance(error, IgnoreRequest):
        return _ignored_outcome(error, chain)
    if isinstance(error, DownloadCancelledError) and "max size" in str(error):
        return "too_large"
    return "failed"


def describe(error: BaseException) -> str:
    """A one-line, human-readable message for ``error``."""
    if isinstance(error, HttpError):
        return f"HTTP status {error.response.status} is not accepted"
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."
