"""The CSV exporter's fast path writes exactly what Scrapy's per-field path writes."""

from __future__ import annotations

import io
from dataclasses import asdict

from crawler.items import FIELDS, UrlResult
from crawler.output.exporters import FlatCsvItemExporter


def rows() -> list[UrlResult]:
    hop = {"url": "http://a.example/x", "status": 301, "ms": 12.5}
    return [
        UrlResult("http://a.example/", "list.txt", 1, outcome="ok", ok=True, status=200),
        UrlResult(
            "http://a.example/x,y",
            "list.txt",
            2,
            outcome="http_error",
            ok=False,
            status=404,
            error='a "quoted", comma\nand a new line',
            chain=[hop, {"url": "http://b.example/é", "status": None, "ms": None}],
            total_ms=0.1 + 0.2,
            connection_reused=False,
            content_length=0,
        ),
        UrlResult("", "-", 3, outcome="invalid_url", ok=False, error="empty URL"),
    ]


def export(items: list[object]) -> bytes:
    stream = io.BytesIO()
    exporter = FlatCsvItemExporter(stream, fields_to_export=list(FIELDS), encoding="utf-8")
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return stream.getvalue()


def test_fast_rows_equal_scrapys_per_field_rows() -> None:
    fast = export([*rows(), *rows()])
    per_field = export([asdict(row) for row in [*rows(), *rows()]])  # dicts take Scrapy's path
    assert fast == per_field
    assert b'"a ""quoted"", comma\nand a new line"' in fast
    assert b"301 http://a.example/x (12.5 ms) -> - http://b.example/\xc3\xa9" in fast
    assert fast.count(b"url,source,line,") == 1
