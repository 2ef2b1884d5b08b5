"""Cells of the exports: what a list or a server put in a row, made safe to write and read.

Every row passes :func:`exportable_row` once (in :class:`crawler.checker.pipeline.ResultPipeline`),
so every output (CSV, JSON, JSON Lines, Redis, the cache, the reports) gets the same text:
control characters escaped, server-chosen text and chains bounded, every number finite. The CSV
exporter adds the spreadsheet-formula escape (:func:`csv_cell`), and every reader of our CSV
exports reads through :func:`csv_records`, which takes cells of any size and undoes it.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from crawler.items import UrlResult
from crawler.names import SETTINGS
from crawler.redact import DEFAULT, Redactor

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from scrapy.settings import BaseSettings

MAX_TEXT = 2048
"""Characters kept of a text a server controls (a URL it redirected to, a header, an error);
the rest is cut, and the cell says how much: ``...[N characters cut]``."""
MAX_HOPS = 32
"""Hops kept of a redirect chain: the first and the last ones, with one ``...[N hops cut]``
hop between them."""
MAX_CSV_CELL = 2**31 - 1
"""The csv field-size limit of our export readers: any cell our writers produce, or ever did."""
UNBOUNDED = frozenset({"url", "source"})
"""Text fields kept whole: the entry as the list gave it, whose lines are bounded already."""

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters but tab and newline (C0, DEL, C1) and the bidirectional overrides: a
terminal runs them (``cat results.csv``), or they reorder the text it shows."""
_TEXT = frozenset(f.name for f in fields(UrlResult) if f.type in {"str | None", "str"})
_FLOATS = tuple(f.name for f in fields(UrlResult) if f.type == "float | None")
_text_values = attrgetter(*_TEXT)
_float_values = attrgetter(*_FLOATS)
_FORMULA = re.compile("'*[=+\\-@\t\r].", re.DOTALL)
"""A cell a spreadsheet would run as a formula: OWASP's starting characters (behind any
quotes we added before), followed by anything."""
FORMULA_STARTS = frozenset("=+-@\t\r'")
"""First characters of the cells :func:`csv_cell` may change (any other it leaves alone)."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def exportable_text(text: str) -> str:
    """``text`` with control characters (but tab and newline) and lone surrogates (JSON's
    ``"\\ud800"`` spells half a character; no encoding can write them) as backslash escapes:
    ESC is ``\\x1b``."""
    if text.isascii() and text.isprintable():  # most text: nothing to escape
        return text
    return _escaped(text)


def _escaped(text: str) -> str:
    """:func:`exportable_text`, the long way."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return _CONTROL.sub(_escape, text)


def row_url(url: str, redactor: Redactor = DEFAULT) -> str:
    """The ``url`` cell of the row of an entry that gave ``url``: its secrets masked by
    ``redactor``, its control characters escaped."""
    return exportable_text(redactor.url(url))


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} characters cut]"


def _exportable_hop(hop: dict[str, Any]) -> dict[str, Any]:
    """``hop``, or a copy of it with its URL escaped and bounded when that changes it."""
    url = hop.get("url")
    text = bounded(exportable_text(str(url)))
    return hop if text is url else {**hop, "url": text}


def _plain(texts: Iterable[Any]) -> bool:
    """Whether ``texts`` (text or empty values) hold nothing to escape or cut, taken as one:
    a non-text value, or more text than :data:`MAX_TEXT` in all, says no (check each)."""
    try:
        text = " ".join(filter(None, texts))
    except TypeError:
        return False
    return len(text) <= MAX_TEXT and text.isascii() and text.isprintable()


def _finite(numbers: Iterable[Any]) -> bool:
    """Whether ``numbers`` (numbers or ``None``) are all finite, taken as one: their sum is
    not finite if one is not (a sum too large, or a value no number, says no: check each)."""
    try:
        return math.isfinite(sum(filter(None, numbers), 0.0))
    except (TypeError, OverflowError):
        return False


def _bounded_chain(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(chain) <= MAX_HOPS:
        try:
            urls = [hop["url"] for hop in chain]
        except (KeyError, TypeError):
            urls = [None]
        if all(url.__class__ is str for url in urls) and _plain(urls):
            return chain  # most chains: nothing to escape, nothing to cut
    hops = [_exportable_hop(hop) for hop in chain]
    if len(hops) <= MAX_HOPS:
        return hops
    head, tail = (MAX_HOPS - 1) // 2, MAX_HOPS - 1 - (MAX_HOPS - 1) // 2
    cut = {"url": f"...[{len(hops) - head - tail} hops cut]", "status": None, "ms": None}
    return [*hops[:head], cut, *hops[-tail:]]


def exportable_row(row: UrlResult) -> UrlResult:
    """Make ``row`` safe for every output, in place: text fields escaped
    (:func:`exportable_text`) and, but for the entry's own, bounded (:data:`MAX_TEXT`); the
    chain bounded (:data:`MAX_HOPS`); a number that is not finite left empty.

    Most rows have nothing to change: their fields are checked together first."""
    if not _plain(_text_values(row)):
        for name in _TEXT:
            value = getattr(row, name)
            if not isinstance(value, str):
                continue
            if len(value) <= MAX_TEXT and value.isascii() and value.isprintable():
                continue  # most text: nothing to escape, nothing to cut
            value = exportable_text(value)
            setattr(row, name, value if name in UNBOUNDED else bounded(value))
    if row.chain:
        row.chain = _bounded_chain(row.chain)
    if not _finite(_float_values(row)):
        for name in _FLOATS:
            value = getattr(row, name)
            if isinstance(value, float) and not math.isfinite(value):
                setattr(row, name, None)  # JSON has no Infinity or NaN
    return row


def csv_cell(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs as a formula (OWASP): one starting with
    ``=``, ``+``, ``-``, ``@``, tab or CR (behind any quotes) gets a ``'`` in front; a
    one-character cell (``-``, standard input's name) stays as it is."""
    return f"'{text}" if text[:1] in FORMULA_STARTS and _FORMULA.match(text) else text


def from_csv_cell(cell: str) -> str:
    """The text :func:`csv_cell` wrote ``cell`` for."""
    return cell[1:] if cell[:1] == "'" and _FORMULA.match(cell, 1) else cell


def csv_records(lines: Iterable[str]) -> Iterator[list[str]]:
    """The records of a CSV export (header first), cells of any size, as the text they were
    written for (:func:`from_csv_cell`). The one CSV reader of the exports.

    The csv module's field-size limit is process-wide: it is raised for each record read and
    put back, so other readers (a CSV list of URLs) keep theirs.
    """
    reader = csv.reader(lines)
    while True:
        limit = csv.field_size_limit(MAX_CSV_CELL)
        try:
            record = next(reader, None)
        finally:
            csv.field_size_limit(limit)
        if record is None:
            return
        yield [from_csv_cell(cell) if cell[:1] == "'" else cell for cell in record]


def csv_rows(lines: Iterable[str]) -> Iterator[dict[str, str]]:
    """The rows of a CSV export as ``{column: text}``, blank lines skipped."""
    records = csv_records(lines)
    header = next(records, None) or []
    for values in records:
        if values:
            yield dict(zip(header, values, strict=False))


@dataclass(frozen=True, slots=True)
class CsvConfig:
    """How the CSV exporter writes cells: ``CRAWLER_CSV_FORMULA_ESCAPE``."""

    escape_formulas: bool = True

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CsvConfig:
        """Read and check the setting (``ValueError`` naming it)."""
        try:
            return cls(
                escape_formulas=settings.getbool(
                    "CRAWLER_CSV_FORMULA_ESCAPE", SETTINGS["CRAWLER_CSV_FORMULA_ESCAPE"]
                )
            )
        except ValueError:
            value = settings.get(
                "CRAWLER_CSV_FORMULA_ESCAPE", SETTINGS["CRAWLER_CSV_FORMULA_ESCAPE"]
            )
            raise ValueError(
                f"CRAWLER_CSV_FORMULA_ESCAPE must be True or False, got {value!r}"
            ) from None
