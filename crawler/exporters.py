"""Exporters that write each row through at once, CSV with flat cells.

Rows are flushed as they are exported, so a run that is killed leaves every row written so far
complete on disk.
"""

from __future__ import annotations

from typing import Any

from scrapy.exporters import CsvItemExporter, JsonLinesItemExporter

from crawler.items import UrlResult


def flat_chain(chain: list[dict[str, Any]]) -> str:
    """``301 http://a (12.3 ms) -> 200 https://b (40.1 ms)``."""
    hops = []
    for hop in chain:
        status = hop.get("status") if hop.get("status") is not None else "-"
        ms = hop.get("ms")
        timing = f" ({ms} ms)" if ms is not None else ""
        hops.append(f"{status} {hop.get('url')}{timing}")
    return " -> ".join(hops)


class FlatCsvItemExporter(CsvItemExporter):
    """Scrapy's CSV exporter, with lists of hops flattened and booleans as true/false.

    Appending to a file that already has rows (``-o`` on a resumed run) writes no second
    header line.
    """

    def __init__(self, file: Any, **kwargs: Any) -> None:
        if _appending(file):
            kwargs["include_headers_line"] = False
        super().__init__(file, **kwargs)
        self._started = False

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        if name == "chain" and isinstance(value, list):
            return flat_chain(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return super().serialize_field(field, name, value)

    def export_item(self, item: Any) -> None:
        """Write the row and flush it to the file.

        After the first row (which sets the columns and writes the header), a plain
        :class:`~crawler.items.UrlResult` is written straight from its attributes: the same
        cells as Scrapy's per-field path, at a fraction of its cost.
        """
        if self._started and type(item) is UrlResult and isinstance(self.fields_to_export, list):
            self.csv_writer.writerow([self._cell(name, item) for name in self.fields_to_export])
        else:
            super().export_item(item)
            self._started = True
        self.stream.flush()

    @staticmethod
    def _cell(name: str, item: UrlResult) -> Any:
        value = getattr(item, name, None)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if name == "chain" and isinstance(value, list):
            return flat_chain(value)
        return value


def _appending(file: Any) -> bool:
    try:
        return bool(file.tell())
    except (AttributeError, OSError, ValueError):
        return False


class FlushingJsonLinesItemExporter(JsonLinesItemExporter):
    """Scrapy's JSON Lines exporter, flushing each row to the file."""

    def export_item(self, item: Any) -> None:
        """Write the row and flush it to the file."""
        super().export_item(item)
        self.file.flush()
