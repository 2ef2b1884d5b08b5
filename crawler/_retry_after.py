"""The ``Retry-After`` header, as seconds from now."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: bytes | None) -> float | None:
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
