"""Password redaction in URLs and log text."""

from __future__ import annotations

import logging
import sys

import pytest
from scrapy.settings import Settings

from crawler.redact import RedactingFilter, Redactor, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://user:pw@host/x", "http://user:***@host/x"),
        ("https://:pw@host", "https://:***@host"),
        ("http://token@host/", "http://***@host/"),  # a user name alone is often a token
        ("http://bob:p@ssw0rd@host/", "http://bob:***@host/"),  # to the last @
        ("http://127.0.0.1:80\\@trusted.example/", "http://127.0.0.1:80\\@trusted.example/"),
        ("Redis at redis://:pw@127.0.0.1:6379/0", "Redis at redis://:***@127.0.0.1:6379/0"),
        ("line frank:S3cret@host/x and //gina:S3cret@h", "line frank:***@host/x and //gina:***@h"),
        ("mail mailto:bob@example.com", "mail mailto:bob@example.com"),
        (
            "<GET http://h/a?Token=t1&page=2#access_token=t2>",
            "<GET http://h/a?Token=***&page=2#access_token=***>",
        ),
        ("token=t not in a query", "token=t not in a query"),
        ("http://host/a@b", "http://host/a@b"),
        ("<GET ftp://a:b@h/> and http://c:d@e/f", "<GET ftp://a:***@h/> and http://c:***@e/f"),
        ("no url here", "no url here"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_filter_rewrites_formatted_records() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "Gave up %s", ("http://u:p@h/",), None
    )
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "Gave up http://u:***@h/"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://a b:se cret@host/x", "http://a b:***@host/x"),  # one URL: spaces are its own
        ("https://ghp_TOKEN@host/", "https://***@host/"),
        ("//gina:S3cret@host/x", "//gina:***@host/x"),
        ("frank:S3cret@host/x", "frank:***@host/x"),
        ("mailto:bob@example.com", "mailto:bob@example.com"),
        ("http://h?@evil/", "http://h?@evil/"),
        ("http://h/?api_key=k&x=1&sig=s", "http://h/?api_key=***&x=1&sig=***"),
        ("http://h/?x=1", "http://h/?x=1"),
        ("http://h/?\ud800", "http://h/?\\ud800"),  # lone surrogates escaped
    ],
)
def test_one_url_as_rows_show_it(url: str, shown: str) -> None:
    assert Redactor().url(url) == shown


def test_redacted_params_are_a_setting() -> None:
    redactor = Redactor.from_settings(Settings({"CRAWLER_REDACT_PARAMS": "sessionid, Code"}))
    assert (
        redactor.url("http://h/?token=t&code=c&SessionId=s")
        == "http://h/?token=t&code=***&SessionId=***"
    )
    assert (
        Redactor.from_settings(Settings({"CRAWLER_REDACT_PARAMS": []})).url("http://h/?token=t")
        == "http://h/?token=t"
    )
    with pytest.raises(ValueError, match="CRAWLER_REDACT_PARAMS must list query parameter names"):
        Redactor.from_settings(Settings({"CRAWLER_REDACT_PARAMS": "token=x"}))


def test_what_a_cache_must_not_hold() -> None:
    redactor = Redactor()
    assert [
        redactor.hides(url)
        for url in (
            "http://h/",
            "http://u@h/",
            "http://***@h/",
            "http://h/?token=***",
            "http://h/?t=1",
        )
    ] == [False, True, True, True, False]


def test_the_filter_masks_tracebacks_too() -> None:
    try:
        raise ValueError("cannot reach http://u:pw0rd@h/")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RedactingFilter().filter(record)
    assert record.exc_text is not None
    assert "pw0rd" not in record.exc_text
    assert "http://u:***@h/" in record.exc_text
