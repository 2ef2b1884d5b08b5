"""CSV files with a ``url`` column (any case; other columns ignored)."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

from crawler.sources.entry import UrlEntry, UrlSourceError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.sources.inputs import Input

_SHOWN_COLUMNS = 20


class CsvEntries:
    """Reads the header when built (no ``url`` column fails early), the rows lazily."""

    def __init__(self, source: Input) -> None:
        self._source = source
        self._lines = source.lines()
        self._last_line = 0  # the last physical line handed to the CSV parser
        self._line_error: str | None = None  # the first line error of the current row
        self._rows = csv.reader(self._texts())
        self._url_column = self._read_header()

    def _texts(self) -> Iterator[str]:
        for line in self._lines:
            if line is None:  # the rest of a line too long: the CSV parser sees none of it
                continue
            text, error = line.decode()
            self._last_line = line.number
            self._line_error = self._line_error or error
            yield text + "\n"  # the parser needs it inside multi-line quoted cells

    def _read_header(self) -> int:
        name = self._source.name
        try:
            header = next((row for row in self._rows if row), None)
        except csv.Error as e:
            raise UrlSourceError(
                f"urls file {name!r} has a malformed header ({e}); fix it or pass a text file"
            ) from e
        if header is None:
            raise UrlSourceError(f"urls file {name!r} is empty; start it with a url,… header")
        columns = [column.strip() for column in header]
        lowered = [column.lower() for column in columns]
        if "url" not in lowered:
            shown = ", ".join(columns[:_SHOWN_COLUMNS])
            if len(columns) > _SHOWN_COLUMNS:
                shown += ", …"
            raise UrlSourceError(
                f"urls file {name!r} has no 'url' column (columns: {shown}); "
                "add one or pass a text file"
            )
        return lowered.index("url")

    def __iter__(self) -> Iterator[UrlEntry | None]:
        """An entry for every row with a cell; ``None`` for the blank ones."""
        while True:
            start = self._last_line + 1
            self._line_error = None
            try:
                row = next(self._rows, None)
            except csv.Error as e:
                yield UrlEntry("", self._source.name, start, f"malformed CSV row: {e}")
                continue
            if row is None:
                return
            if not any(cell.strip() for cell in row):
                yield None
                continue
            url = row[self._url_column].strip() if len(row) > self._url_column else ""
            error = self._line_error or (None if url else "empty url cell")
            yield UrlEntry(url, self._source.name, start, error)
