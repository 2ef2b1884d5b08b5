"""Rows of an earlier export (CSV, JSON Lines or a JSON array) as typed result rows, read by
:class:`crawler.output.read.ExportReader`."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.items import UrlResult
from crawler.output.read import ExportReader, export_format

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

_INTS = {f.name for f in fields(UrlResult) if f.type == "int | None"} | {"line"}
_FLOATS = {f.name for f in fields(UrlResult) if f.type == "float | None"}
_BOOLS = {f.name for f in fields(UrlResult) if f.type == "bool | None"}
_NAMES = {f.name for f in fields(UrlResult)}


def _typed(name: str, value: Any) -> Any:
    if value == "" or value is None:
        return [] if name == "chain" else None
    try:
        if name in _INTS and not isinstance(value, int):
            return int(float(value))
        if name in _FLOATS and not isinstance(value, float):
            return float(value)
    except (TypeError, ValueError):
        return None
    if name in _BOOLS and isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return value


def to_result(row: dict[str, Any]) -> UrlResult | None:
    """A :class:`UrlResult` from an export row; ``None`` when it is not a result row."""
    if not isinstance(row, dict) or (not row.get("url") and not row.get("outcome")):
        return None
    values = {name: _typed(name, value) for name, value in row.items() if name in _NAMES}
    values.setdefault("url", "")
    values["source"] = values.get("source") or ""
    values["line"] = values.get("line") or 0
    return UrlResult(**values)


def read_results(name: str | Path) -> Iterator[UrlResult]:
    """The result rows of the export ``name``, lazily (a JSON array is loaded whole).

    Raises ``ValueError`` (one line, naming the fix) for a file that cannot be read.
    """
    for raw in read_rows(name):
        if (result := to_result(raw)) is not None:
            yield result


def read_rows(name: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of the export ``name`` as written (CSV cells stay text), lazily.

    Cheaper than :func:`read_results` where the rows are only counted: a
    :class:`~crawler.output.summary.RunSummary` reads such rows as they are. Raises ``ValueError``
    (one line, naming the fix) for a file that cannot be read.
    """
    path = Path(name)
    if export_format(path) is None:
        raise ValueError(f"{str(path)!r}: reports read .csv, .jsonl or .json exports")
    if not path.is_file():
        raise ValueError(f"{str(path)!r} does not exist or is not a file")

    def skipped(number: int, why: str) -> None:
        logger.warning("%s:%d %s; skipped", path, number, why)

    try:
        for record in ExportReader(path, skipped):
            if record.row.get("url") or record.row.get("outcome"):
                yield record.row
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as e:
        raise ValueError(f"cannot read {str(path)!r}: {e}") from e
