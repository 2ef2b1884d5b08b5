"""Text lists: one URL a line; blank lines and ``#`` comments skipped."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from crawler.sources._entry import UrlEntry
from crawler.sources._open import MAX_LINE_BYTES, decode, read_lines

if TYPE_CHECKING:
    from collections.abc import Iterator


def text_entries(stream: IO[bytes], source: str) -> Iterator[UrlEntry]:
    """An entry for every line that is neither blank nor a comment."""
    for number, raw, too_long in read_lines(stream):
        text, error = decode(raw, number)
        url = text.strip()
        if not url or url.startswith("#"):
            continue
        if too_long:
            error = f"line longer than {MAX_LINE_BYTES} bytes"
        yield UrlEntry(url, source, number, error)
