"""Resume a stopped run: the rows an earlier run already wrote are the journal.

Rows are flushed one by one, so after any stop (Ctrl-C, SIGKILL, a power cut) the earlier
output holds a complete row for every entry it finished, plus at most one cut-off line.
:func:`done_entries` reads the ``(source, line)`` of every complete row, and whether it is
ok; the spider skips those entries (counting the not-ok ones: the job's exit status counts
them), and the new rows are appended to the same file.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.fingerprints import FingerprintSet
from crawler.output.read import ExportReader, entry_of, head_fields, is_not_ok

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

logger = logging.getLogger(__name__)


def entry_key(source: str, line: int) -> int:
    """A 64-bit key for an input entry."""
    digest = hashlib.blake2b(f"{line}\0{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


_KEY_COLUMNS = ("url", "source", "line", "outcome")
"""Columns every row of ours has: what resuming reads."""


class NotAnOutputError(ValueError):
    """A ``resume`` file that is not an output of this checker: it is left untouched."""


def check_output(path: Path) -> None:
    """Raise :class:`NotAnOutputError` unless ``path`` is empty or starts like a row file of ours.

    Reads the first line only, which must be complete: a CSV output's header names the
    ``url``, ``source``, ``line`` and ``outcome`` columns, a JSON Lines output's first row holds
    them.
    """
    fields = head_fields(path)
    if fields is None or set(_KEY_COLUMNS) <= fields:
        return
    if path.suffix == ".csv":
        what = "a header with url, source, line and outcome columns"
    else:
        what = 'a row with "url", "source", "line" and "outcome"'
    raise NotAnOutputError(
        f"resume={path} is not an output of this checker (its first line is not {what}); "
        "name the -o/-O file of the earlier run"
    )


def output_rows(path: Path, *, appended: bool) -> Iterator[dict[str, Any]]:
    """The complete rows of an earlier output (as :class:`~crawler.output.read.Record` rows),
    checked to be ours first.

    A cut-off last row is left out; it is cut from the file too when this run appends to it
    (its rows would follow it on the same line, or inside its open quote), once read.
    """
    check_output(path)
    reader = ExportReader(path)
    for record in reader:
        yield record.row
    if appended:
        _cut(path, reader.cut_bytes)


def _rows(path: Path, *, appended: bool) -> Iterator[tuple[str, int, bool]]:
    """``(source, line, not ok)`` of the complete rows of an earlier output of entries."""
    for row in output_rows(path, appended=appended):
        if (entry := entry_of(row)) is not None:
            yield entry[0], entry[1], is_not_ok(row)


def drop_cut_line(path: Path) -> None:
    """Truncate a cut-off last row (a row a kill or power cut cut off) from the output."""
    reader = ExportReader(path)
    for _ in reader:
        pass
    _cut(path, reader.cut_bytes)


def _cut(path: Path, size: int) -> None:
    """Truncate the last ``size`` bytes of ``path``, a cut-off row its reader left out."""
    if size:
        with path.open("rb+") as output:
            output.truncate(output.seek(0, 2) - size)
        logger.warning("Dropped a cut-off last line from %s (%d bytes)", path, size)


RESUMABLE_SUFFIXES = (".csv", ".jsonl", ".jsonlines")


def resume_paths(spec: str) -> list[Path]:
    """The outputs ``spec`` (comma-separated) names, checked to be resumable; nothing is read."""
    paths = [Path(part.strip()) for part in spec.split(",") if part.strip()]
    for path in paths:
        if path.suffix not in RESUMABLE_SUFFIXES:
            raise ValueError(
                f"resume={str(path)!r}: resume reads .csv or .jsonl outputs (a cut-off .json "
                "array cannot be read); export to one of those"
            )
    return paths


class ResumedEntries:
    """The entries earlier outputs already hold a row for, and which of those rows are not ok."""

    def __init__(self) -> None:
        self.keys = FingerprintSet()
        self.not_ok = FingerprintSet()
        """Keys whose (first) row is not ok: rows of the job, so they count in its exit status."""

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: int, *, ok: bool) -> None:
        """Record an entry's row; the first row of an entry wins."""
        if key not in self.keys:
            self.keys.add(key)
            if not ok:
                self.not_ok.add(key)


def done_entries(spec: str, appended: Collection[Path] = ()) -> ResumedEntries:
    """The entries the outputs named by ``spec`` (comma-separated) already hold a row for.

    Raises :class:`NotAnOutputError` for a file that is not an output of ours. Only the
    ``appended`` files (resolved paths this run appends rows to) are ever changed.
    """
    done = ResumedEntries()
    for path in resume_paths(spec):
        if not path.exists():
            logger.info("Nothing to resume from %s: it does not exist yet", path)
            continue
        for source, line, failed in _rows(path, appended=path.resolve() in appended):
            done.add(entry_key(source, line), ok=not failed)
        logger.info("Resuming: %d entries already have a row in %s", len(done), path)
    return done
