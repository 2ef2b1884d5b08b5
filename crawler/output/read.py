"""The one reader of our exports (CSV, JSON Lines, JSON arrays): resume, merge, the reports and
the workers' summary read rows back through it.

Rows are flushed one by one, so an export a kill stopped holds complete records and at most one
cut-off last record (no newline at its end, or a quoted CSV cell left open): that one is
counted and left out, never parsed. CSV cells are read by :func:`crawler.output.cells.csv_records`
(any size, formula escape undone). See ``docs/outputs.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.output.cells import csv_records

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

CSV, JSON_LINES, JSON_ARRAY = "csv", "jsonl", "json"
EXPORT_FORMATS = {
    ".csv": CSV,
    ".jsonl": JSON_LINES,
    ".jsonlines": JSON_LINES,
    ".ndjson": JSON_LINES,
    ".json": JSON_ARRAY,
}
"""The format of an export by its suffix (in any case)."""

HEAD_BYTES = 65536
"""Bytes of an export's first line :func:`head_fields` reads at most."""


def export_format(path: Path) -> str | None:
    """:data:`CSV`, :data:`JSON_LINES` or :data:`JSON_ARRAY` by ``path``'s suffix, or ``None``."""
    return EXPORT_FORMATS.get(path.suffix.lower())


@dataclass(frozen=True, slots=True)
class Record:
    """One complete record of an export."""

    row: dict[str, Any]
    """Its values as written: CSV cells as text (``{column: cell}``), JSON values as parsed."""
    text: str
    """Its text in the file, line end included (a CSV record's cells may span lines); empty for
    an item of a JSON array."""
    number: int
    """The line it starts on (its position, for an item of a JSON array)."""
    fields: tuple[str, ...] | None
    """Its fields in order (a CSV header, a JSON object's keys); ``None`` for a CSV record of
    another cell count than the header's."""


def entry_of(row: dict[str, Any]) -> tuple[str, int] | None:
    """The ``(source, line)`` of an export row of an entry, or ``None``: a row of ours has a
    ``source``, a line number (text in CSV) and an ``outcome``."""
    line, source = row.get("line"), row.get("source")
    if isinstance(line, str) and line.isascii() and line.isdigit():
        number = int(line)
    elif isinstance(line, int) and not isinstance(line, bool):
        number = line
    else:
        return None
    if not isinstance(source, str) or not row.get("outcome"):
        return None
    return source, number


def is_not_ok(row: dict[str, Any]) -> bool:
    """Whether an export row says it is not ok: ``ok`` is ``false`` (text in CSV)."""
    ok = row.get("ok")
    return ok is False or ok == "false"


def _taken(raw: list[str]) -> str:
    """The lines in ``raw`` as one text; ``raw`` is emptied."""
    text = "".join(raw)
    raw.clear()
    return text


class ExportReader:
    """The complete records of the export at ``path``, read lazily (a JSON array is read whole).

    The format follows the suffix (:data:`EXPORT_FORMATS`; ``ValueError`` for another). Iterate
    once; then :attr:`cut_lines`, :attr:`bad_lines` and :attr:`cut_bytes` say what was left
    out, and ``on_skip(line number, why)`` was called for each. Opening or decoding errors
    (``OSError``, ``UnicodeDecodeError``, ``csv.Error``, a JSON array's ``JSONDecodeError``)
    are the caller's to report.
    """

    def __init__(self, path: Path | str, on_skip: Callable[[int, str], None] | None = None) -> None:
        self.path = Path(path)
        found = export_format(self.path)
        if found is None:
            raise ValueError(f"{str(self.path)!r}: exports are .csv, .jsonl or .json files")
        self.format = found
        self.header: tuple[str, ...] = ()
        """A CSV export's columns (once read)."""
        self.cut_lines = 0
        """Cut-off last records left out (0 or 1): what a kill mid-write leaves."""
        self.cut_bytes = 0
        """Bytes of that cut-off record, at the end of the file."""
        self.bad_lines = 0
        """Complete JSON lines that are not JSON, left out."""
        self._on_skip = on_skip

    def __iter__(self) -> Iterator[Record]:
        if self.format == CSV:
            return self._last_checked(self._csv())
        if self.format == JSON_LINES:
            return self._last_checked(self._json_lines())
        return self._json_array()

    def entries(self) -> Iterator[tuple[str, int, bool]]:
        """``(source, line, not ok)`` of each complete row of an entry (:func:`entry_of`)."""
        for record in self:
            if (entry := entry_of(record.row)) is not None:
                yield entry[0], entry[1], is_not_ok(record.row)

    def _skip(self, number: int, why: str) -> None:
        if self._on_skip is not None:
            self._on_skip(number, why)

    def _last_checked(self, records: Iterable[tuple[Record | None, str, int]]) -> Iterator[Record]:
        """``records`` (a record or ``None`` for a blank one, its text, its line) but a cut-off
        last one: only the last record can be cut, so each is passed on once the next is read.
        A CSV record is cut inside a quoted cell when its quotes do not pair up (our exporter
        quotes every cell holding a quote, doubling it)."""
        held: tuple[Record | None, str, int] | None = None
        for item in records:
            if held is not None and held[0] is not None:
                yield held[0]
            held = item
        if held is None:
            return
        record, text, number = held
        if text.endswith("\n") and (self.format != CSV or text.count('"') % 2 == 0):
            if record is not None:
                yield record
        elif text.strip():
            self.cut_lines += 1
            self.cut_bytes = len(text.encode("utf-8"))
            self._skip(number, "is cut off (a kill mid-write?)")

    def _csv(self) -> Iterator[tuple[Record | None, str, int]]:
        raw: list[str] = []  # the lines of the record being read (a quoted cell may span lines)
        with self.path.open(encoding="utf-8", newline="") as lines:

            def taken() -> Iterator[str]:
                for line in lines:
                    raw.append(line)
                    yield line

            records = csv_records(taken())
            header = next(records, None)
            if header is None:
                return
            self.header = tuple(header)
            number, size = 1, len(raw)
            yield None, _taken(raw), number  # the header: checked too when it is the last
            for values in records:
                number, size = number + size, len(raw)
                text = _taken(raw)
                if not values:
                    yield None, text, number  # a blank line
                    continue
                row = dict(zip(self.header, values, strict=False))
                whole = len(values) == len(self.header)
                yield Record(row, text, number, self.header if whole else None), text, number

    def _json_lines(self) -> Iterator[tuple[Record | None, str, int]]:
        with self.path.open(encoding="utf-8", newline="") as lines:
            for number, text in enumerate(lines, 1):
                if not text.strip():
                    yield None, text, number
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError:
                    if text.endswith("\n"):  # else it is the cut-off last line
                        self.bad_lines += 1
                        self._skip(number, "is not a JSON row")
                    yield None, text, number
                    continue
                if not isinstance(row, dict):
                    yield None, text, number
                    continue
                yield Record(row, text, number, tuple(row)), text, number

    def _json_array(self) -> Iterator[Record]:
        with self.path.open(encoding="utf-8") as text:
            items = json.load(text)  # a JSON array is read whole
        for number, item in enumerate(items if isinstance(items, list) else [items], 1):
            if isinstance(item, dict):
                yield Record(item, "", number, tuple(item))


def head_fields(path: Path) -> frozenset[str] | None:
    """The fields of the export's first record, from its first line alone (at most
    :data:`HEAD_BYTES`): a CSV header's columns, a JSON line's keys. ``None`` for an empty
    file; empty when that line is cut off or holds no record."""
    with path.open("rb") as file:
        first = file.readline(HEAD_BYTES)
    if not first:
        return None
    if not first.endswith(b"\n"):
        return frozenset()
    text = first.decode("utf-8", errors="replace")
    if export_format(path) == CSV:
        return frozenset(column.strip() for column in next(csv_records([text]), []))
    try:
        row = json.loads(text)
    except json.JSONDecodeError:
        return frozenset()
    return frozenset(row) if isinstance(row, dict) else frozenset()
