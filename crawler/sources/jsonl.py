"""JSON Lines: one object a line with a ``url`` key; blank lines skipped."""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING

from crawler.sources._entry import UrlEntry
from crawler.sources._open import MAX_LINE_BYTES, decode, read_lines

if TYPE_CHECKING:
    from collections.abc import Iterator


def jsonl_entries(stream: IO[bytes], source: str) -> Iterator[UrlEntry]:
    """An entry for every non-blank line; broken lines carry their error."""
    for number, raw, too_long in read_lines(stream):
        text, error = decode(raw, number)
        if not text.strip():
            continue
        if too_long:
            yield UrlEntry("", source, number, f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if error:
            yield UrlEntry(text.strip(), source, number, error)
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            yield UrlEntry(text.strip(), source, number, f"line is not valid JSON: {e.msg}")
            continue
        url = record.get("url") if isinstance(record, dict) else None
        if not isinstance(url, str):
            yield UrlEntry("", source, number, 'line has no "url" string')
            continue
        yield UrlEntry(url.strip(), source, number)
