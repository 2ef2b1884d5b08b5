"""URL lists to entries: text, CSV and JSON Lines files, gzip-compressed or not, or stdin.

Every input is checked when opened (one clear :class:`UrlSourceError` for an input that
cannot be read as a whole), then read lazily, line by line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from crawler.sources.csv_source import CsvEntries
from crawler.sources.entry import UrlEntry, UrlSourceError
from crawler.sources.inputs import open_input
from crawler.sources.jsonl import jsonl_entries
from crawler.sources.text import text_entries

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from types import TracebackType
    from typing import Self

    from crawler.sources.inputs import Input

__all__ = ["STDIN", "UrlEntry", "UrlSourceError", "UrlSources", "input_names", "open_sources"]

STDIN = "-"
"""The name of standard input in the ``urls`` argument."""


class UrlSources:
    """Opened and checked inputs, iterated lazily in order; close them (or use ``with``)."""

    def __init__(self, names: Sequence[str], *, stdin: BinaryIO | None = None) -> None:
        self.names = tuple(names)
        self._inputs: list[Input] = []
        self._readers: list[Iterable[UrlEntry | None]] = []
        try:
            for name in self.names:
                opened = open_input(name, stdin)
                self._inputs.append(opened)
                self._readers.append(_entries(opened))
        except BaseException:
            self.close()
            raise

    def describe(self) -> str:
        """What is read, for the log: ``2 files: a.txt, b.csv``."""
        count = len(self.names)
        noun = "input" if STDIN in self.names else "file"
        shown = ", ".join("standard input" if name == STDIN else name for name in self.names)
        return f"{count} {noun}{'s' if count > 1 else ''}: {shown}"

    def __iter__(self) -> Iterator[UrlEntry]:
        return (entry for entry in self.read() if entry is not None)

    def read(self) -> Iterator[UrlEntry | None]:
        """The entries in order, and ``None`` for each line read that holds none (blank, a
        comment, a block of a line too long), so that a caller can pause, however much it skips.
        """
        for reader in self._readers:
            yield from reader

    def close(self) -> None:
        """Close every input (standard input itself stays open)."""
        while self._inputs:
            self._inputs.pop().close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _entries(opened: Input) -> Iterable[UrlEntry | None]:
    if opened.format == "csv":
        return CsvEntries(opened)
    if opened.format == "jsonl":
        return jsonl_entries(opened)
    return text_entries(opened)


def _refuse_a_file_named_twice(names: list[str]) -> None:
    """Entries are known by input and line: one file read twice would give each line two rows."""
    seen: dict[Path, str] = {}
    for name in names:
        if name == STDIN:
            continue
        path = Path(name).expanduser().resolve()
        if path in seen:
            twice = repr(name) if seen[path] == name else f"{seen[path]!r} and {name!r}"
            raise UrlSourceError(f"urls names the file {twice} twice; name each file once")
        seen[path] = name


def input_names(spec: str | None) -> list[str]:
    """The inputs the ``urls`` argument names, in order: comma-separated, ``-`` for standard
    input. The one parser of that argument."""
    return [name.strip() for name in (spec or "").split(",") if name.strip()]


def open_sources(
    spec: str | None, *, stdin: BinaryIO | None = None, default: Path | None = None
) -> UrlSources:
    """Open and check the comma-separated inputs of ``spec``; ``-`` is standard input.

    Without ``spec`` (``None`` or empty), ``default`` is read. ``stdin`` defaults to
    ``sys.stdin.buffer``. Raises :class:`UrlSourceError` for an input that cannot be read.
    """
    names = input_names(spec)
    if not names:
        if default is None:
            raise UrlSourceError("no URL list given; pass -a urls=FILE (or -a urls=- for stdin)")
        names = [str(default)]
    if names.count(STDIN) > 1:
        raise UrlSourceError("standard input ('-') is named twice in urls; name it once")
    _refuse_a_file_named_twice(names)
    if stdin is None and STDIN in names and sys.stdin is not None:
        stdin = sys.stdin.buffer
    return UrlSources(names, stdin=stdin)
