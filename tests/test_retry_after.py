"""Retry-After as seconds: a delay or an HTTP date."""

from __future__ import annotations

import time
from email.utils import formatdate

from crawler._retry_after import retry_after_seconds


def test_delay_seconds_and_http_dates() -> None:
    assert retry_after_seconds(b"120") == 120.0
    in_a_minute = retry_after_seconds(formatdate(time.time() + 60, usegmt=True).encode())
    assert in_a_minute is not None
    assert 58 <= in_a_minute <= 60
    assert retry_after_seconds(formatdate(time.time() - 60, usegmt=True).encode()) == 0.0
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None
