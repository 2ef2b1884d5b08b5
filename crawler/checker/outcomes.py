"""Outcome classes: what happened to a URL, as one word, from the exception that ended it."""

from __future__ import annotations

from enum import StrEnum
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
    ConnectTimeoutError,
    DownloadConnectionResetError,
    InvalidResponseError,
    InvalidUrlError,
    PrivateAddressError,
    ResponseTooLargeError,
    TlsError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crawler.checker.accept import StatusRanges
    from crawler.items import UrlResult


class Outcome(StrEnum):
    """What happened to one URL, in one word: the ``outcome`` field of its row.

    A ``StrEnum``: rows, exports and stats keys hold its plain string values.
    """

    OK = "ok"
    HTTP_ERROR = "http_error"
    RATE_LIMITED = "rate_limited"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    DNS = "dns"
    REFUSED = "refused"
    CONNECT_TIMEOUT = "connect_timeout"
    TIMEOUT = "timeout"
    TLS = "tls"
    RESET = "reset"
    DATALOSS = "dataloss"
    TOO_LARGE = "too_large"
    INVALID_RESPONSE = "invalid_response"
    INVALID_URL = "invalid_url"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    UNCHECKED = "unchecked"
    URL_TOO_LONG = "url_too_long"
    ROBOTS = "robots"
    OFFSITE = "offsite"
    FILTERED = "filtered"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    FAILED = "failed"
    EXCLUDED = "excluded"
    SLOW = "slow"
    BLOCKED = "blocked"
    MISSING_FRAGMENT = "missing_fragment"


OUTCOMES: Final = tuple(Outcome)
"""Every value the ``outcome`` field can take, in the order the docs list them."""
NOT_JUDGED: Final = frozenset({Outcome.DUPLICATE, Outcome.EXCLUDED, Outcome.UNCHECKED})
"""Outcomes that say nothing about the URL itself: ``ok`` stays empty."""
TIMEOUTS: Final = frozenset({Outcome.TIMEOUT, Outcome.CONNECT_TIMEOUT})
"""Outcomes ``CRAWLER_ACCEPT_TIMEOUTS`` accepts."""
UNREACHABLE: Final = (Outcome.DNS, Outcome.REFUSED)
"""Outcomes of a URL whose host could not be reached at all."""

# Most specific first: our subclasses before the Scrapy classes they refine.
_BY_TYPE: Final[
    tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Outcome], ...]
] = (
    (HttpError, Outcome.HTTP_ERROR),
    (PrivateAddressError, Outcome.EXCLUDED),
    (ConnectTimeoutError, Outcome.CONNECT_TIMEOUT),
    ((DownloadTimeoutError, tx_error.TimeoutError), Outcome.TIMEOUT),
    ((CannotResolveHostError, tx_error.DNSLookupError), Outcome.DNS),
    ((DownloadConnectionRefusedError, tx_error.ConnectionRefusedError), Outcome.REFUSED),
    (TlsError, Outcome.TLS),
    ((DownloadConnectionResetError, tx_error.ConnectionLost), Outcome.RESET),
    (ResponseDataLossError, Outcome.DATALOSS),
    (ResponseTooLargeError, Outcome.TOO_LARGE),
    (InvalidResponseError, Outcome.INVALID_RESPONSE),
    (InvalidUrlError, Outcome.INVALID_URL),
    (UnsupportedURLSchemeError, Outcome.UNSUPPORTED_SCHEME),
    (DownloadCancelledError, Outcome.CANCELLED),
    (DownloadFailedError, Outcome.FAILED),
)


def judge(row: UrlResult, accept: StatusRanges, *, accept_timeouts: bool = False) -> None:
    """Set ``ok`` and, for rows with a response, ``outcome`` and ``error``.

    With ``accept_timeouts``, a timeout row is ok (its outcome and error stay).
    """
    if row.outcome in NOT_JUDGED:
        row.ok = None
    elif row.outcome in TIMEOUTS:
        row.ok = accept_timeouts
    elif row.outcome == Outcome.BLOCKED:
        row.ok = row.status in accept
        if row.ok:
            row.outcome, row.error = Outcome.OK, None
    elif row.outcome is None or (row.outcome == Outcome.HTTP_ERROR and row.status is not None):
        row.ok = row.status in accept
        if row.ok:
            row.outcome, row.error = Outcome.OK, None
        elif row.status == 429 or (row.status == 503 and row.retry_after is not None):
            wait = f", Retry-After {row.retry_after:g} s" if row.retry_after is not None else ""
            row.outcome = Outcome.RATE_LIMITED
            row.error = f"rate limited (HTTP {row.status}{wait})"
        else:
            row.outcome = Outcome.HTTP_ERROR
            row.error = f"HTTP status {row.status} is not accepted ({accept})"
    else:
        row.ok = False


def _ignored_outcome(error: IgnoreRequest, chain: Sequence[str]) -> Outcome:
    message = str(error)
    if message == "max redirections reached":
        return Outcome.REDIRECT_LOOP if len(set(chain)) < len(chain) else Outcome.TOO_MANY_REDIRECTS
    if message == "Forbidden by robots.txt":
        return Outcome.ROBOTS
    if message.startswith("Filtered offsite request"):
        return Outcome.OFFSITE
    if "exceeded DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware's decompression cap
        return Outcome.TOO_LARGE
    return Outcome.FILTERED


def classify(error: BaseException, chain: Sequence[str] = ()) -> Outcome:
    """The outcome for ``error``; ``chain`` is the URLs visited so far (for redirect loops)."""
    for types, outcome in _BY_TYPE:
        if isinstance(error, types):
            return outcome
    if isinstance(error, IgnoreRequest):
        return _ignored_outcome(error, chain)
    return Outcome.FAILED


def describe(error: BaseException) -> str:
    """A one-line, human-readable message for ``error``."""
    if isinstance(error, HttpError):
        return f"HTTP status {error.response.status} is not accepted"
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."
