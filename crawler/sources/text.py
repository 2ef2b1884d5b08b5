"""Text lists: one URL a line; blank lines and ``#`` comments skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.sources.entry import UrlEntry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.sources.inputs import Input


def text_entries(source: Input) -> Iterator[UrlEntry | None]:
    """An entry for every line that is neither blank nor a comment; ``None`` for the others."""
    for line in source.lines():
        if line is None:
            yield None
            continue
        text, error = line.decode()
        url = text.strip()
        if url and not url.startswith("#"):
            yield UrlEntry(url, source.name, line.number, error)
        else:
            yield None
