"""Exporters that write each row through at once, CSV with flat cells.

Rows are flushed as they are exported, so a run that is killed leaves every row written so far
complete on disk. A write that fails (a full disk, a closed pipe, a character the encoding
cannot hold) stops the crawl with one ERROR line instead of a traceback per row: Scrapy's
feed exporter runs on a signal whose dispatch logs each exception and carries on.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from scrapy.exporters import CsvItemExporter, JsonItemExporter, JsonLinesItemExporter
from scrapy.utils.defer import deferred_from_coro

from crawler.items import UrlResult
from crawler.output.cells import FORMULA_STARTS, CsvConfig, csv_cell

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

EXPORT_FAILED = "export_failed"
"""The ``finish_reason`` of a crawl stopped because an output could not be written."""
ROWS_EXPORT_FAILED = "crawler/rows_export_failed_count"
EXPORTS_FAILED = "crawler/exports_failed_count"
"""Stats key: outputs that failed to write (the run exits 1)."""
"""Stats key: rows handed to an output that had failed, none of them written."""


class ExportGuard:
    """Runs an output's writes; at the first that fails, logs one ERROR line, closes the
    output and stops the crawl (``finish_reason`` ``export_failed``).

    Stats: ``crawler/exports_failed_count`` (outputs), ``crawler/rows_export_failed_count``
    (rows handed to a failed output, none of them written: a Redis worker acknowledges no
    row once it is set).
    """

    def __init__(self, crawler: Crawler, file: Any) -> None:
        self.crawler = crawler
        self.file = file
        self.failed = False

    def row(self, write: Callable[[Any], None], item: Any) -> None:
        """Write ``item`` with ``write``; once the output failed, count the row as not written."""
        if not self.failed:
            try:
                write(item)
                return
            except (OSError, UnicodeError) as e:
                self._fail(e)
        self.crawler.stats.inc_value(ROWS_EXPORT_FAILED)

    def finish(self, finish: Callable[[], None]) -> None:
        """End the output with ``finish``, unless it already failed."""
        if not self.failed:
            try:
                finish()
            except (OSError, UnicodeError) as e:
                self._fail(e)

    def _fail(self, error: Exception) -> None:
        self.failed = True
        self.crawler.stats.inc_value(EXPORTS_FAILED)
        name = getattr(self.file, "name", "an output")
        logger.error(
            "Cannot write rows to %s (%s: %s): stopping the crawl (finish reason export_failed);"
            " the rows written before it are complete",
            name,
            type(error).__name__,
            error,
            extra={"crawler": self.crawler},
        )
        with contextlib.suppress(OSError):
            self.file.close()  # what it still buffers cannot be written either
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=EXPORT_FAILED))


class GuardedWrites:
    """Mixin of the project's exporters: rows and the output's end go through an
    :class:`ExportGuard` when built by Scrapy (``from_crawler``); subclasses define
    :meth:`_write` and may extend :meth:`_finish`."""

    guard: ExportGuard | None = None

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)  # type: ignore[call-arg]  # the exporter's own

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: Any, **kwargs: Any) -> Self:
        """Build the exporter, its writes guarded (Scrapy's component factory)."""
        exporter = cls(file, **kwargs)
        exporter.guard = ExportGuard(crawler, file)
        return exporter

    def export_item(self, item: Any) -> None:
        """Write the row (through the guard, if any)."""
        if self.guard is None:
            self._write(item)
        else:
            self.guard.row(self._write, item)

    def finish_exporting(self) -> None:
        """End the output, unless a write failed."""
        if self.guard is None:
            self._finish()
        else:
            self.guard.finish(self._finish)

    def _write(self, item: Any) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        super().finish_exporting()  # type: ignore[misc]  # the exporter's own


def flat_chain(chain: list[dict[str, Any]]) -> str:
    """``301 http://a (12.3 ms) -> 200 https://b (40.1 ms)``."""
    hops = []
    for hop in chain:
        status = hop.get("status")
        ms = hop.get("ms")
        text = f"{'-' if status is None else status} {hop.get('url')}"
        hops.append(text if ms is None else f"{text} ({ms} ms)")
    return " -> ".join(hops)


class FlatCsvItemExporter(GuardedWrites, CsvItemExporter):
    """Scrapy's CSV exporter, with lists of hops flattened and booleans as true/false.

    A text cell a spreadsheet would run as a formula gets a ``'`` in front
    (:func:`~crawler.output.cells.csv_cell`) unless ``escape_formulas`` is false
    (``CRAWLER_CSV_FORMULA_ESCAPE``); our readers take it off again. Appending to a file that
    already has rows (``-o`` on a resumed run) writes no second header line.
    """

    def __init__(self, file: Any, *, escape_formulas: bool = True, **kwargs: Any) -> None:
        if _appending(file):
            kwargs["include_headers_line"] = False
        super().__init__(file, **kwargs)
        self.escape_formulas = escape_formulas
        self._started = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: Any, **kwargs: Any) -> Self:
        """Build the exporter, its writes guarded, its cells as the settings say."""
        kwargs.setdefault(
            "escape_formulas", CsvConfig.from_settings(crawler.settings).escape_formulas
        )
        return super().from_crawler(crawler, file, **kwargs)

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if name == "chain" and isinstance(value, list):
            value = flat_chain(value)
        else:
            value = super().serialize_field(field, name, value)
        return csv_cell(value) if self.escape_formulas and isinstance(value, str) else value

    def _write(self, item: Any) -> None:
        """Write the row and flush it to the file.

        After the first row (which sets the columns and writes the header), a plain
        :class:`~crawler.items.UrlResult` is written straight from its attributes: the same
        cells as Scrapy's per-field path, at a fraction of its cost.
        """
        fields = self.fields_to_export
        if self._started and type(item) is UrlResult and isinstance(fields, list):
            self.csv_writer.writerow(self._cells(item, fields))
        else:
            CsvItemExporter.export_item(self, item)
            self._started = True
        self.stream.flush()

    def _cells(self, item: UrlResult, fields: list[str]) -> list[Any]:
        """The cells of ``item``'s row, as :meth:`serialize_field` makes them."""
        escape = self.escape_formulas
        cells: list[Any] = []
        for name in fields:
            value = getattr(item, name, None)
            if value is None:
                cells.append("")
                continue
            if value is True or value is False:
                cells.append("true" if value else "false")
                continue
            if name == "chain" and isinstance(value, list):
                value = flat_chain(value)
            if escape and isinstance(value, str) and value[:1] in FORMULA_STARTS:
                value = csv_cell(value)
            cells.append(value)
        return cells


def _appending(file: Any) -> bool:
    try:
        return bool(file.tell())
    except (AttributeError, OSError, ValueError):
        return False


class FlushingJsonLinesItemExporter(GuardedWrites, JsonLinesItemExporter):
    """Scrapy's JSON Lines exporter, flushing each row to the file."""

    def _write(self, item: Any) -> None:
        JsonLinesItemExporter.export_item(self, item)
        self.file.flush()


class FlushingJsonItemExporter(GuardedWrites, JsonItemExporter):
    """Scrapy's JSON exporter (one array), flushing each row to the file."""

    def _write(self, item: Any) -> None:
        JsonItemExporter.export_item(self, item)
        self.file.flush()

    def _finish(self) -> None:
        JsonItemExporter.finish_exporting(self)
        self.file.flush()
