"""Exceptions to outcome classes."""

from __future__ import annotations

import pytest
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
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_error

from crawler import exceptions
from crawler.checker.outcomes import OUTCOMES, classify, describe


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (HttpError(Response("http://a", status=404), "x"), "http_error"),
        (exceptions.ConnectTimeoutError("x"), "connect_timeout"),
        (DownloadTimeoutError("x"), "timeout"),
        (tx_error.TimeoutError(), "timeout"),
        (CannotResolveHostError("x"), "dns"),
        (tx_error.DNSLookupError(), "dns"),
        (DownloadConnectionRefusedError("x"), "refused"),
        (exceptions.TlsError("x"), "tls"),
        (exceptions.DownloadConnectionResetError("x"), "reset"),
        (ResponseDataLossError("x"), "dataloss"),
        (exceptions.ResponseTooLargeError("x"), "too_large"),
        (exceptions.InvalidResponseError("x"), "invalid_response"),
        (UnsupportedURLSchemeError("x"), "unsupported_scheme"),
        (DownloadCancelledError("x"), "cancelled"),
        (DownloadFailedError("x"), "failed"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots"),
        (IgnoreRequest("Filtered offsite request to 'a.example'"), "offsite"),
        (IgnoreRequest("something else"), "filtered"),
        (RuntimeError("boom"), "failed"),
    ],
)
def test_classify(error: BaseException, outcome: str) -> None:
    assert classify(error) == outcome
    assert outcome in OUTCOMES


def test_max_redirections_is_a_loop_only_when_a_url_repeats() -> None:
    error = IgnoreRequest("max redirections reached")
    assert classify(error, ["http://a/1", "http://a/2", "http://a/1"]) == "redirect_loop"
    assert classify(error, ["http://a/1", "http://a/2", "http://a/3"]) == "too_many_redirects"


def test_describe_is_one_bounded_line() -> None:
    assert describe(DownloadFailedError("line one\nline  two")) == "line one line two"
    assert len(describe(DownloadFailedError("x" * 2000))) == 500
    assert describe(DownloadFailedError()) == "DownloadFailedError"
    assert describe(HttpError(Response("http://a", status=503), "x")) == (
        "HTTP status 503 is not accepted"
    )
