"""Merging workers' outputs: one row per entry, whatever the workers left behind."""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.exporters import JsonLinesItemExporter

from crawler.items import FIELDS, UrlResult
from crawler.output.exporters import FlatCsvItemExporter
from crawler.output.merge import merge
from tests._crawl import read_rows

if TYPE_CHECKING:
    from pathlib import Path


def row(source: str, line: int, **values: Any) -> dict[str, Any]:
    return {"url": f"http://h.test/{line}", "source": source, "line": line, "outcome": "ok",
            "ok": True, "status": 200, "chain": [{"url": f"http://h.test/{line}",
            "status": 200, "ms": 1.5}], **values}  # fmt: skip


def write_jsonl(path: Path, rows: list[dict[str, Any]], cut: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + cut)
    return path


def test_first_row_of_an_entry_wins_and_rows_come_out_in_input_order(tmp_path: Path) -> None:
    one = write_jsonl(tmp_path / "1.jsonl", [row("b.txt", 2), row("a.txt", 3), row("a.txt", 1)])
    two = write_jsonl(tmp_path / "2.jsonl", [row("a.txt", 3, status=500), row("b.txt", 1)])
    out = tmp_path / "merged.jsonl"
    report = merge([one, two], out, source_order=["b.txt", "a.txt"])
    rows = read_rows(out)
    assert [(r["source"], r["line"]) for r in rows] == [
        ("b.txt", 1), ("b.txt", 2), ("a.txt", 1), ("a.txt", 3),
    ]  # fmt: skip
    assert next(r for r in rows if r["line"] == 3)["status"] == 200  # the first one read
    assert (report.rows_read, report.rows_written, report.duplicates) == (5, 4, 1)


def test_a_line_cut_off_by_a_kill_is_dropped(tmp_path: Path) -> None:
    part = write_jsonl(tmp_path / "1.jsonl", [row("a.txt", 1)], cut='{"url": "http://h.te')
    out = tmp_path / "merged.jsonl"
    report = merge([part], out)
    assert [r["line"] for r in read_rows(out)] == [1]
    assert report.cut_lines == 1


def test_csv_parts_merge_into_csv_with_one_header(tmp_path: Path) -> None:
    header = ",".join(FIELDS)
    empty_cells = "," * (len(FIELDS) - 4)  # after url, source, line and outcome
    part = tmp_path / "1.csv"
    part.write_text(
        f"{header}\nhttp://x,a.txt,2,ok{empty_cells}\nhttp://x,a.txt,1,ok{empty_cells}\nhttp://cut"
    )
    jsonl = write_jsonl(tmp_path / "2.jsonl", [row("a.txt", 3, connection_reused=False)])
    out = tmp_path / "merged.csv"
    report = merge([part, jsonl], out)
    text = out.read_text()
    assert text.count(header) == 1
    rows = read_rows(out)
    assert [r["line"] for r in rows] == ["1", "2", "3"]
    assert rows[2]["chain"] == "200 http://h.test/3 (1.5 ms)"  # flattened as the crawl does
    assert rows[2]["connection_reused"] == "false"
    assert report.cut_lines == 1


def test_entries_without_a_row_are_reported(tmp_path: Path) -> None:
    part = write_jsonl(tmp_path / "1.jsonl", [row("a.txt", 1), row("a.txt", 3)])
    report = merge([part], tmp_path / "m.jsonl", entries=[("a.txt", n) for n in (1, 2, 3, 4)])
    assert report.missing == [("a.txt", 2), ("a.txt", 4)]
    assert report.missing_count == 2


@pytest.mark.parametrize(
    ("parts", "output", "message"),
    [
        (["1.csv"], "m.json", "export the workers to .jsonl"),
        (["1.jsonl"], "m.xml", "must be one of"),
        (["1.json"], "m.jsonl", "merge reads .csv or .jsonl"),
        (["missing.jsonl"], "m.jsonl", "no such file"),
        (["1.jsonl"], "1.jsonl", "both a part and the output"),
        ([], "m.jsonl", "name the workers' outputs"),
    ],
)
def test_bad_parts_and_outputs_are_one_line_errors(
    tmp_path: Path, parts: list[str], output: str, message: str
) -> None:
    for name in ("1.csv", "1.jsonl", "1.json"):
        (tmp_path / name).write_text("")
    with pytest.raises(ValueError, match=message):
        merge([tmp_path / p for p in parts], tmp_path / output)
    assert not (tmp_path / "m.jsonl").exists()


def exported_rows() -> list[UrlResult]:
    """Rows with the cells that are hard to copy: quotes, commas, a new line, non-ASCII."""
    rows = [
        UrlResult(f"http://h.test/{n}", "a.txt", n, outcome="ok", ok=True, status=200)
        for n in range(1, 7)
    ]
    rows[2].error = 'a "quoted", comma\nand a new line'
    rows[4].chain = [{"url": "http://h.test/é", "status": 301, "ms": 1.5}]
    return rows


def export(path: Path, rows: list[UrlResult]) -> Path:
    """``rows`` written by the exporter a crawl uses for ``path``'s format."""
    exporter_class = FlatCsvItemExporter if path.suffix == ".csv" else JsonLinesItemExporter
    with path.open("wb") as stream:
        exporter = exporter_class(stream, fields_to_export=list(FIELDS), encoding="utf-8")
        exporter.start_exporting()
        for item in rows:
            exporter.export_item(item)
        exporter.finish_exporting()
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_workers_parts_merge_into_exactly_what_one_crawl_writes(
    tmp_path: Path, suffix: str
) -> None:
    rows = exported_rows()
    one = export(tmp_path / f"1{suffix}", [rows[4], rows[0], rows[2]])
    two = export(tmp_path / f"2{suffix}", [rows[5], rows[3], rows[1]])
    out = tmp_path / f"merged{suffix}"
    report = merge([one, two], out)
    assert out.read_bytes() == export(tmp_path / f"single{suffix}", rows).read_bytes()
    assert (report.rows_written, report.duplicates) == (6, 0)


def test_parts_with_other_columns_are_exported_into_the_outputs_columns(tmp_path: Path) -> None:
    reordered = ["line", "source", "outcome", "url", "status", "error"]
    part = tmp_path / "1.csv"
    with part.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(reordered)
        writer.writerow(["2", "a.txt", "http_error", "http://h.test/2", "404", "multi\nline"])
    copied = export(tmp_path / "2.csv", exported_rows()[:1])  # line 1, the output's columns
    out = tmp_path / "merged.csv"
    merge([part, copied], out)
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(FIELDS)
    with out.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["line"], r["url"], r["status"]) for r in rows] == [
        ("1", "http://h.test/1", "200"),
        ("2", "http://h.test/2", "404"),
    ]
    assert rows[1]["error"] == "multi\nline"
    assert rows[1]["ok"] == ""
