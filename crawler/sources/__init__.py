"""URL lists to entries: text, CSV and JSON Lines files, gzip-compressed or not, or stdin.

Every input is checked when opened (one clear :class:`UrlSourceError` for a file that cannot
be read as a whole), then read lazily, line by line.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

from crawler.sources._entry import UrlEntry, UrlSourceError
from crawler.sources._open import format_of, open_binary
from crawler.sources.csv_source import CsvSource
from crawler.sources.jsonl import jsonl_entries
from crawler.sources.text import text_entries

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path
    from types import TracebackType
    from typing import Self

__all__ = ["UrlEntry", "UrlSourceError", "UrlSources", "open_sources"]


class UrlSources:
    """Several opened inputs, iterated in order; close them (or use ``with``) when done."""

    def __init__(self, names: list[str], stdin: IO[bytes]) -> None:
        self.names = names
        self._streams: list[IO[bytes]] = []
        self._readers: list[Iterable[UrlEntry]] = []
        try:
            for name in names:
                stream = open_binary(name, stdin)
                self._streams.append(stream)
                self._readers.append(_reader(stream, name))
        except BaseException:
            self.close()
            raise

    def describe(self) -> str:
        """E.g. ``2 inputs: a.txt, b.csv``."""
        count = len(self.names)
        return f"{count} input{'s' if count > 1 else ''}: {', '.join(self.names)}"

    def __iter__(self) -> Iterator[UrlEntry]:
        for reader in self._readers:
            yield from reader

    def close(self) -> None:
        """Close every input (standard input itself stays open)."""
        for stream in self._streams:
            stream.close()
        self._streams.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _reader(stream: IO[bytes], name: str) -> Iterable[UrlEntry]:
    kind = format_of(name)
    if kind == "csv":
        return CsvSource(stream, name)
    if kind == "jsonl":
        return jsonl_entries(stream, name)
    return text_entries(stream, name)


def open_sources(
    spec: str | None, *, stdin: IO[bytes] | None = None, default: Path | None = None
) -> UrlSources:
    """Open the comma-separated inputs of ``spec`` (``-``: standard input; empty: ``default``)."""
    names = [name.strip() for name in (spec or "").split(",") if name.strip()]
    if not names:
        if default is None:
            raise UrlSourceError("no URL list given; pass -a urls=FILE (or - for stdin)")
        names = [str(default)]
    if names.count("-") > 1:
        raise UrlSourceError("standard input ('-') can be read only once")
    return UrlSources(names, stdin if stdin is not None else sys.stdin.buffer)
