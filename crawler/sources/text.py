"""Text lists: one URL a line; blank lines and ``#`` comments skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.sources._entry import UrlEntry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.sources._open import Input


def text_entries(source: Input) -> Iterator[UrlEntry]:
    """An entry for every line that is neither blank nor a comment."""
    for line in source.lines():
        text, error = line.decode()
        url = text.strip()
        if url and not url.startswith("#"):
            yield UrlEntry(url, source.name, line.number, error)
