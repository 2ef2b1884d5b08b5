"""Merge the outputs of several workers into one export with one row per input entry.

Each worker writes its own CSV or JSON Lines file; a worker that was killed may have left a
cut-off last line, and an entry a dead worker had finished but not acknowledged may have a
row in two files. Rows are keyed by ``(source, line)``: the first row of an entry is kept,
later ones are counted as duplicates. Rows go through an on-disk SQLite table, so memory does
not grow with the number of rows, and come out sorted by input and line.

A record already in the output's form (a CSV record under the output's header into a CSV
output, a JSON line with the output's fields in order into a JSON Lines output) is copied as
it is, without being parsed into a row and exported again: what workers write is merged at the
speed of reading it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exporters import JsonItemExporter, JsonLinesItemExporter

from crawler.items import FIELDS
from crawler.output.exporters import FlatCsvItemExporter
from crawler.output.read import ExportReader, entry_of, export_format

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from scrapy.exporters import BaseItemExporter

JSONL_SUFFIXES = (".jsonl", ".jsonlines")
PART_SUFFIXES = (".csv", *JSONL_SUFFIXES)
OUTPUT_SUFFIXES = (".csv", ".json", *JSONL_SUFFIXES)


@dataclass(slots=True)
class MergeReport:
    """What a merge read and wrote."""

    parts: int = 0
    rows_read: int = 0
    rows_written: int = 0
    duplicates: int = 0
    """Rows of an entry that already had one (a worker died between row and acknowledgement)."""
    cut_lines: int = 0
    """Cut-off last lines dropped (a worker killed while writing)."""
    missing: list[tuple[str, int]] = field(default_factory=list)
    """Entries of the job without a row (only when the job's entries were given)."""
    missing_count: int = 0
    foreign: int = 0
    """Rows dropped as no entry's of the job: unknown ``(source, line)``, or another URL (a part
    left from an earlier job of the same list names). Only when the job's entries were given."""


def _part_records(part: Path, output: Path, report: MergeReport) -> Iterator[_Keyed]:
    """The rows of entries in ``part``, with their text where ``output`` can take it as is;
    the lines left out (cut off, not JSON) are counted in ``report``."""
    # a CSV record into a CSV, a JSON line into JSON Lines
    copy = export_format(part) == export_format(output)
    reader = ExportReader(part)
    for record in reader:
        if (entry := entry_of(record.row)) is not None:
            verbatim = record.text if copy and record.fields == FIELDS else None
            yield _Keyed(*entry, record.row, verbatim)
    report.cut_lines += reader.cut_lines + reader.bad_lines


@dataclass(slots=True)
class _Keyed:
    """A row of an entry: its key, its values, and its text when the output can take it as is."""

    source: str
    line: int
    row: dict[str, Any]
    verbatim: str | None


def check_paths(parts: Sequence[Path], output: Path) -> None:
    """Raise ``ValueError`` (one line, naming the fix) for parts or an output merge can't use."""
    if not parts:
        raise ValueError("name the workers' outputs to merge: scrapy merge part1.csv part2.csv")
    if output.suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"-O {output}: the merged output must be one of {OUTPUT_SUFFIXES}")
    for part in parts:
        if part.suffix not in PART_SUFFIXES:
            raise ValueError(f"{part}: merge reads .csv or .jsonl outputs (export workers so)")
        if not part.is_file():
            raise ValueError(f"{part}: no such file")
        if part.resolve() == output.resolve():
            raise ValueError(f"{part} is both a part and the output: write the merge elsewhere")
        if part.suffix == ".csv" and output.suffix != ".csv":
            raise ValueError(
                f"{part}: a CSV part can only be merged into a CSV output (its chain column is "
                "flattened text); export the workers to .jsonl to merge into JSON"
            )


JobEntry = tuple[str, int] | tuple[str, int, str]
"""An entry of a job: ``(source, line)``, or ``(source, line, url)`` to check rows' URLs too."""


class _RowStore:
    """An on-disk table of records keyed by entry, first record wins.

    Once :meth:`check_against` has loaded a job's entries, records of no entry are not stored.
    """

    def __init__(self, directory: str, source_order: Sequence[str]) -> None:
        self._db = sqlite3.connect(Path(directory) / "rows.sqlite3")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE rows (rank INTEGER, source TEXT, line INTEGER, verbatim INTEGER,"
            " data TEXT, PRIMARY KEY (source, line))"
        )
        self._ranks = {source: rank for rank, source in enumerate(source_order)}
        self._checked = False

    def check_against(self, entries: Iterable[JobEntry]) -> None:
        """Load the job's ``entries``: from now on, rows of none of them are dropped."""
        self._db.execute(
            "CREATE TABLE entries (seq INTEGER PRIMARY KEY, source TEXT, line INTEGER,"
            " url TEXT, UNIQUE (source, line))"
        )
        query = "INSERT OR IGNORE INTO entries (source, line, url) VALUES (?, ?, ?)"
        rows = ((entry[0], entry[1], entry[2] if len(entry) > 2 else None) for entry in entries)
        self._db.executemany(query, rows)
        self._checked = True

    def _is_foreign(self, row: dict[str, Any], source: str, line: int) -> bool:
        """Whether ``row`` is of no loaded entry (unknown, or another URL)."""
        query = "SELECT url FROM entries WHERE source = ? AND line = ?"
        found = self._db.execute(query, (source, line)).fetchone()
        return found is None or (found[0] is not None and found[0] != str(row.get("url", "")))

    def add(self, records: Iterable[_Keyed]) -> tuple[int, int, int]:
        """Store ``records``; ``(read, added, foreign)``."""
        read = added = foreign = 0
        batch = []
        for record in records:
            row, source, line = record.row, record.source, record.line
            if self._checked and self._is_foreign(row, source, line):
                foreign += 1
                continue
            rank = self._ranks.get(source, len(self._ranks))
            if record.verbatim is not None:
                batch.append((rank, source, line, 1, record.verbatim))
            else:
                batch.append((rank, source, line, 0, json.dumps(row)))
            if len(batch) == 10_000:
                added += self._insert(batch)
                read += len(batch)
                batch = []
        added += self._insert(batch)
        return read + len(batch) + foreign, added, foreign

    def _insert(self, batch: list[tuple[int, str, int, int, str]]) -> int:
        before = self._db.total_changes
        self._db.executemany("INSERT OR IGNORE INTO rows VALUES (?, ?, ?, ?, ?)", batch)
        return self._db.total_changes - before

    def without_rows(self) -> Iterator[tuple[str, int]]:
        """The loaded entries that have no row, in the job's order."""
        query = (
            "SELECT source, line FROM entries AS e WHERE NOT EXISTS"
            " (SELECT 1 FROM rows AS r WHERE r.source = e.source AND r.line = e.line)"
            " ORDER BY seq"
        )
        for source, line in self._db.execute(query):
            yield str(source), int(line)

    def records(self) -> Iterator[tuple[bool, str]]:
        """Every record, by input and line: ``(True, text to copy)`` or ``(False, row JSON)``."""
        query = "SELECT verbatim, data FROM rows ORDER BY rank, source, line"
        for verbatim, data in self._db.execute(query):
            yield bool(verbatim), data

    def close(self) -> None:
        self._db.close()


class _Writer:
    """Writes records to the output: copied text as it is, other rows through an exporter."""

    def __init__(self, output: Path, stream: Any, *, escape_formulas: bool = True) -> None:
        options: dict[str, Any] = {"fields_to_export": list(FIELDS), "encoding": "utf-8"}
        self.exporter: BaseItemExporter
        self._copy: Callable[[str], Any] | None = None  # no record is copied into a JSON array
        if output.suffix == ".csv":
            csv_exporter = FlatCsvItemExporter(
                stream, include_headers_line=False, escape_formulas=escape_formulas, **options
            )
            csv_exporter.csv_writer.writerow(FIELDS)  # the header, once, whatever comes first
            self.exporter, self._copy = csv_exporter, csv_exporter.stream.write
        elif output.suffix == ".json":
            self.exporter = JsonItemExporter(stream, **options)
        else:
            self.exporter = JsonLinesItemExporter(stream, **options)
            self._copy = lambda text: stream.write(text.encode("utf-8"))

    def write(self, verbatim: bool, data: str) -> None:
        """Write one record from :meth:`_RowStore.records`."""
        if verbatim:
            assert self._copy is not None  # records are copied into .csv and .jsonl outputs only
            self._copy(data)
        else:
            self.exporter.export_item(json.loads(data))


def merge(
    parts: Sequence[Path],
    output: Path,
    *,
    source_order: Sequence[str] = (),
    entries: Iterable[JobEntry] | None = None,
    escape_formulas: bool = True,
) -> MergeReport:
    """Merge ``parts`` into ``output`` (format by suffix), one row per ``(source, line)``.

    ``source_order`` ranks inputs (others follow by name). With ``entries`` (every entry of
    the job), rows of no entry (or, for an entry given with its URL as its row shows it,
    :func:`crawler.output.cells.row_url`, of another URL) are dropped and counted, and entries
    without a row are listed in the report. The output is
    written to a temporary file beside it and renamed into place, so a failed merge leaves no
    half file. ``escape_formulas`` is the CSV output's ``CRAWLER_CSV_FORMULA_ESCAPE`` (for the
    rows it exports; records copied as they are keep the escape their part has).
    """
    check_paths(parts, output)
    report = MergeReport(parts=len(parts))
    with tempfile.TemporaryDirectory(prefix="crawler-merge-") as directory:
        store = _RowStore(directory, source_order)
        try:
            if entries is not None:
                store.check_against(entries)
            for part in parts:
                read, added, foreign = store.add(_part_records(part, output, report))
                report.rows_read += read
                report.foreign += foreign
                report.duplicates += read - added - foreign
            if entries is not None:
                for source, line in store.without_rows():
                    report.missing_count += 1
                    if len(report.missing) < 20:
                        report.missing.append((source, line))
            _write(store, output, report, escape_formulas=escape_formulas)
        finally:
            store.close()
    return report


def _write(store: _RowStore, output: Path, report: MergeReport, *, escape_formulas: bool) -> None:
    """Write ``store``'s records to a temporary file beside ``output``, then rename it."""
    temporary = output.with_name(f".{output.name}.merging")
    try:
        with temporary.open("wb") as stream:
            writer = _Writer(output, stream, escape_formulas=escape_formulas)
            writer.exporter.start_exporting()
            for verbatim, data in store.records():
                writer.write(verbatim, data)
                report.rows_written += 1
            writer.exporter.finish_exporting()
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)  # left only by a failed (or interrupted) write
