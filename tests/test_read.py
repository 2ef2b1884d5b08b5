"""The one reader of our exports: complete records only, in every form its callers take."""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.exporters import JsonItemExporter, JsonLinesItemExporter

from crawler.items import FIELDS, UrlResult
from crawler.output.exporters import FlatCsvItemExporter
from crawler.output.read import ExportReader, entry_of, head_fields, is_not_ok
from crawler.output.resume import drop_cut_line

if TYPE_CHECKING:
    from pathlib import Path


def export(path: Path, rows: list[UrlResult]) -> Path:
    """``rows`` written by the exporter a crawl uses for ``path``'s format."""
    exporter_class = {
        ".csv": FlatCsvItemExporter,
        ".jsonl": JsonLinesItemExporter,
        ".json": JsonItemExporter,
    }[path.suffix]
    with path.open("wb") as stream:
        exporter = exporter_class(stream, fields_to_export=list(FIELDS), encoding="utf-8")
        exporter.start_exporting()
        for item in rows:
            exporter.export_item(item)
        exporter.finish_exporting()
    return path


def results() -> list[UrlResult]:
    """Rows with hard cells: a formula, quotes, a comma and a new line, non-ASCII."""
    rows = [
        UrlResult(f"http://h.test/{n}", "a.txt", n, outcome="ok", ok=True, status=200)
        for n in (1, 2, 3)
    ]
    rows[0].url = "=HYPERLINK(1)"
    rows[1].error = 'a "quoted", comma\nand a new line'
    rows[2].ok, rows[2].outcome, rows[2].chain = (
        False,
        "error",
        [{"url": "http://é/", "status": 301, "ms": 1.5}],
    )
    return rows


def read(path: Path) -> tuple[ExportReader, list[Any], list[tuple[int, str]]]:
    skipped: list[tuple[int, str]] = []
    reader = ExportReader(path, lambda number, why: skipped.append((number, why)))
    return reader, list(reader), skipped


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_every_format_reads_back_its_rows_and_keys(tmp_path: Path, suffix: str) -> None:
    path = export(tmp_path / f"out{suffix}", results())
    reader, records, skipped = read(path)
    assert (reader.cut_lines, reader.bad_lines, reader.cut_bytes, skipped) == (0, 0, 0, [])
    assert [record.row["url"] for record in records] == ["=HYPERLINK(1)", "http://h.test/2", "http://h.test/3"]  # fmt: skip
    assert records[1].row["error"] == 'a "quoted", comma\nand a new line'
    assert all(record.fields == FIELDS for record in records)
    assert list(ExportReader(path).entries()) == [("a.txt", 1, False), ("a.txt", 2, False), ("a.txt", 3, True)]  # fmt: skip
    if suffix == ".csv":
        assert reader.header == FIELDS
        assert records[0].row["line"] == "1"  # CSV cells stay text
        assert [record.number for record in records] == [2, 3, 5]  # row 2's cell spans two lines
    else:
        assert records[0].row["line"] == 1
        assert records[2].row["chain"][0]["url"] == "http://é/"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_record_text_is_the_files_text(tmp_path: Path, suffix: str) -> None:
    path = export(tmp_path / f"out{suffix}", results())
    records = list(ExportReader(path))
    text = path.read_bytes().decode("utf-8")
    if suffix == ".csv":
        text = text.partition("\r\n")[2]  # after the header
    assert "".join(record.text for record in records) == text


def test_csv_formula_cells_read_back_to_their_text(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text(
        "url,source,line,outcome\n'=1+2,a.txt,1,invalid_url\n''=x,a.txt,2,invalid_url\n"
    )
    assert [record.row["url"] for record in ExportReader(path)] == ["=1+2", "'=x"]


@pytest.mark.parametrize(
    ("suffix", "complete", "cut"),
    [
        (".jsonl", '{"url": "http://a/", "source": "s", "line": 1, "outcome": "ok"}\n', '{"url": "http://b/", "sou'),
        (".jsonl", '{"url": "http://a/", "source": "s", "line": 1, "outcome": "ok"}\n', '{"url": "http://b/", "source": "s", "line": 2, "outcome": "ok"}'),
        (".csv", "url,source,line,outcome\nhttp://a/,s,1,ok\n", "http://b/,s,2,o"),
        (".csv", "url,source,line,outcome\nhttp://a/,s,1,ok\n", "http://b/,s,2,ok"),
        (".csv", "url,source,line,outcome,error\nhttp://a/,s,1,ok,\n", 'http://b/,s,2,error,"a cell\n'),
        (".csv", "", "url,source,li"),
    ],
    ids=["jsonl mid-row", "jsonl before its newline", "csv mid-row", "csv before its newline",
         "csv inside an open quote", "csv header"],
)  # fmt: skip
def test_a_cut_off_last_record_is_reported_and_not_parsed(
    tmp_path: Path, suffix: str, complete: str, cut: str
) -> None:
    path = tmp_path / f"out{suffix}"
    path.write_bytes((complete + cut).encode())
    reader, records, skipped = read(path)
    expected = [] if not complete else ["1"] if suffix == ".csv" else [1]
    assert [record.row["line"] for record in records] == expected
    assert (reader.cut_lines, reader.bad_lines) == (1, 0)
    assert reader.cut_bytes == len(cut.encode())
    assert skipped == [(complete.count("\n") + 1, "is cut off (a kill mid-write?)")]
    drop_cut_line(path)  # what a resumed run appending to it does
    assert path.read_bytes() == complete.encode()


def test_json_lines_that_are_not_rows_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    row = {"url": "http://a/", "source": "s", "line": 1, "outcome": "ok"}
    path.write_text(f"{json.dumps(row)}\n\nnot json\n[1, 2]\n{json.dumps({**row, 'line': 2})}\n")
    reader, records, skipped = read(path)
    assert [record.row["line"] for record in records] == [1, 2]
    assert [record.number for record in records] == [1, 5]
    assert (reader.cut_lines, reader.bad_lines, skipped) == (0, 1, [(3, "is not a JSON row")])


def test_a_cell_over_the_csv_modules_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    huge = "x" * 1_000_000
    path.write_text(f"url,source,line,outcome,error\nhttp://a/,s,1,error,{huge}\n")
    (record,) = ExportReader(path)
    assert record.row["error"] == huge
    assert csv.field_size_limit() == 131072  # put back for other readers (CSV lists of URLs)


def test_a_csv_record_of_another_cell_count_has_no_fields(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("url,source,line,outcome\nhttp://a/,s,1,ok,extra\nhttp://b/,s,2\n")
    records = list(ExportReader(path))
    assert [record.fields for record in records] == [None, None]
    assert [entry_of(record.row) for record in records] == [("s", 1), None]  # no outcome


@pytest.mark.parametrize(
    ("row", "entry"),
    [
        ({"source": "s", "line": "3", "outcome": "ok"}, ("s", 3)),
        ({"source": "s", "line": 3, "outcome": "ok"}, ("s", 3)),
        ({"source": "", "line": 3, "outcome": "ok"}, ("", 3)),
        ({"source": "s", "line": "²", "outcome": "ok"}, None),
        ({"source": "s", "line": True, "outcome": "ok"}, None),
        ({"source": "s", "line": 3, "outcome": ""}, None),
        ({"line": 3, "outcome": "ok"}, None),
    ],
)
def test_the_entry_of_a_row(row: dict[str, Any], entry: tuple[str, int] | None) -> None:
    assert entry_of(row) == entry


def test_not_ok_is_false_in_json_and_in_csv_text() -> None:
    assert is_not_ok({"ok": False})
    assert is_not_ok({"ok": "false"})
    assert not any(is_not_ok({"ok": ok}) for ok in (True, "true", None, "", 0))


def test_head_fields_read_the_first_line_alone(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("")
    assert head_fields(path) is None
    path.write_text("url, source,line\nnot, read")
    assert head_fields(path) == frozenset({"url", "source", "line"})
    path.write_text("url,source")  # cut off
    assert head_fields(path) == frozenset()
    jsonl = tmp_path / "out.jsonl"
    jsonl.write_text('{"url": "http://a/", "line": 1}\n{"cut')
    assert head_fields(jsonl) == frozenset({"url", "line"})


def test_other_suffixes_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"exports are \.csv, \.jsonl or \.json files"):
        ExportReader(tmp_path / "out.xml")
    assert ExportReader(tmp_path / "OUT.NDJSON").format == "jsonl"
