"""CSV files with a ``url`` column (other columns ignored)."""

from __future__ import annotations

import csv
from typing import IO, TYPE_CHECKING

from crawler.sources._entry import UrlEntry, UrlSourceError
from crawler.sources._open import decode, read_lines

if TYPE_CHECKING:
    from collections.abc import Iterator


class CsvSource:
    """Reads the header at once (to fail early without a ``url`` column), rows lazily."""

    def __init__(self, stream: IO[bytes], source: str) -> None:
        self.source = source
        self._lines = read_lines(stream)
        self._reader = csv.reader(self._text_lines())
        self._line = 0
        header = next(self._reader, None)
        columns = [name.strip().lower() for name in header or []]
        if "url" not in columns:
            shown = ", ".join(c for c in columns if c) or "none"
            raise UrlSourceError(
                f"urls file {source!r} has no 'url' column (columns: {shown}); "
                "add a header with a url column or pass a text file"
            )
        self._url_column = columns.index("url")

    def _text_lines(self) -> Iterator[str]:
        for number, raw, _too_long in self._lines:
            self._line = number
            text, _error = decode(raw, number)
            yield text + "\n"

    def __iter__(self) -> Iterator[UrlEntry]:
        start = self._line + 1
        for row in self._reader:
            if not any(cell.strip() for cell in row):
                start = self._line + 1
                continue
            cell = row[self._url_column].strip() if len(row) > self._url_column else ""
            error = None if cell else "empty url cell"
            yield UrlEntry(cell, self.source, start, error)
            start = self._line + 1
