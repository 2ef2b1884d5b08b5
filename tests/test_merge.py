"""Merging workers' outputs: one row per entry, whatever the workers left behind."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from crawler.items import FIELDS
from crawler.merge import merge
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
