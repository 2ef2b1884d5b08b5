"""Password redaction in URLs and log text."""

from __future__ import annotations

import logging

import pytest

from crawler.redact import RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://user:pw@host/x", "http://user:***@host/x"),
        ("https://:pw@host", "https://:***@host"),
        ("http://user@host/", "http://user@host/"),
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
