"""The workers' parent counts rows in their parts as they grow, a line being written not yet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.scale.parts_progress import PartsProgress

if TYPE_CHECKING:
    from pathlib import Path


def test_rows_are_the_complete_lines_under_each_header(tmp_path: Path) -> None:
    first, second = tmp_path / "out.0.csv", tmp_path / "out.1.csv"
    progress = PartsProgress([first, second], None, header_lines=1)
    assert progress.rows() == 0  # no part yet
    first.write_bytes(b"url,line\nhttp://a/,1\nhttp://b/,2\nhttp://c/,")  # the third half-written
    assert progress.rows() == 2
    with first.open("ab") as part:
        part.write(b"3\n")
    second.write_bytes(b"url,line\n")
    assert progress.rows() == 3
    with second.open("ab") as part:
        part.write(b"http://d/,4\n")
    assert progress.rows() == 4
    assert progress.line().startswith("Progress: 4 rows, ")
    assert progress.line().endswith(" (2 workers)")


def test_the_total_is_the_lists_entries_and_never_exceeded(tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("# two entries\nhttp://a/\n\nhttp://b/\n")
    part = tmp_path / "out.0.jsonl"
    progress = PartsProgress([part], str(urls), header_lines=0)
    progress.stop()  # joins the counting thread: a list this short is counted whole
    assert progress.total == 2
    part.write_text('{"line": 1}\n{"line": 2}\n{"line": 3}\n')  # e.g. a cell with a newline
    assert progress.line().startswith("Progress: 2/2 rows (100.0%), ")


def test_a_part_written_anew_is_counted_from_its_start(tmp_path: Path) -> None:
    part = tmp_path / "out.0.jsonl"
    part.write_text('{"line": 1}\n{"line": 2}\n{"line": 3}\n')  # left by a killed run
    progress = PartsProgress([part], None, header_lines=0)
    assert progress.rows() == 3
    part.write_text('{"line": 1}\n')  # the new worker's -O starts it again
    assert progress.rows() == 1
