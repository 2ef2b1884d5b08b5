"""The ``Retry-After`` header, as seconds from now."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

RETRY_AFTER_CAP = 365 * 86400.0
"""The longest ``Retry-After`` told, in seconds (a year): a longer one, or one of more digits
than a float holds, is told as this."""


def _seconds(value: bytes | None) -> float | None:
    """A ``Retry-After`` header (delay in seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isascii() and text.isdigit():  # RFC 9110 delay-seconds: ASCII digits only
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, round(when.timestamp() - time.time(), 3))


def retry_after_seconds(value: bytes | None) -> float | None:
    """A ``Retry-After`` header as seconds from now, at most :data:`RETRY_AFTER_CAP`."""
    seconds = _seconds(value)
    return None if seconds is None else min(seconds, RETRY_AFTER_CAP)
