"""Hostile lists and hostile servers against the exports: every cell stays bounded, readable
by our own readers, valid JSON, free of terminal escapes and of spreadsheet formulas."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pytest

from crawler.checker.retry_after import RETRY_AFTER_CAP
from crawler.items import FIELDS, UrlResult
from crawler.output.cells import (
    MAX_HOPS,
    MAX_TEXT,
    csv_cell,
    exportable_row,
    from_csv_cell,
    row_url,
)
from crawler.output.exporters import FlatCsvItemExporter
from crawler.output.merge import merge
from crawler.output.report.reader import read_results
from crawler.output.resume import done_entries, entry_key
from crawler.redact import redact
from tests._scrapy import run_scrapy, scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

GROWTH = 3000
"""Characters each redirect adds to the next URL: 21 hops make a chain of ~630 KB."""
RETRY_AFTER_DIGITS = b"9" * 400
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m"
"""A window title, a screen clear and an 8-bit CSI: what a ``cat`` must not run."""
FORMULA = "=cmd|' /C calc'!A0"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and newline (CR is the CSV line end, checked apart)."""


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:  # no readuntil: its 64 KiB limit is below these URLs
        chunk = await reader.read(65536)
        if not chunk:
            raise asyncio.IncompleteReadError(head, None)
        head += chunk
    return head


async def _hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    path = (await _read_head(reader)).split(b" ", 2)[1]
    if path.startswith(b"/grow/"):
        hop = int(path.split(b"/")[2]) + 1
        head = f"HTTP/1.1 301 Moved\r\nLocation: /grow/{hop}/{'a' * (GROWTH * hop)}\r\n"
        response = head.encode()
    elif path == b"/retry-after":
        response = b"HTTP/1.1 429 Slow down\r\nRetry-After: " + RETRY_AFTER_DIGITS + b"\r\n"
    elif path == b"/escapes":
        content_type = f"text/html{ESCAPES}".encode("latin-1")
        response = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n"
    elif path == b"/formula":
        response = f"HTTP/1.1 200 OK\r\nContent-Type: {FORMULA}\r\n".encode()
    else:
        response = b"HTTP/1.1 200 OK\r\n"
    writer.write(response + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()


@pytest.fixture(scope="module")
def hostile(server_loop: ServerLoop) -> str:
    """A raw server: a redirect chain of ever longer URLs, and headers nobody should trust."""
    return f"http://127.0.0.1:{server_loop.tcp(_hostile)}"


def _list(tmp_path: Path, *lines: str) -> Path:
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return urls


def _csv_cells(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV export as the standard library reads them, with its default limits."""
    with path.open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows))


def test_hostile_redirect_chain_does_not_make_the_csv_unreadable(
    hostile: str, tmp_path: Path
) -> None:
    urls = _list(tmp_path, f"{hostile}/grow/0/", f"{hostile}/ok")
    out = tmp_path / "out.csv"
    crawl = scrapy_crawl("-a", f"urls={urls}", "-o", str(out))
    assert crawl.returncode == 2, crawl.stderr[-3000:]
    rows = {row["line"]: row for row in _csv_cells(out)}  # the default 128 KiB field limit
    assert rows["1"]["outcome"] == "too_many_redirects"
    assert rows["1"]["redirects"] == "20"
    chain = rows["1"]["chain"]
    assert len(chain) < 100_000
    assert chain.count(" -> ") == 20  # every hop is there...
    assert "characters cut]" in chain  # ...its URL cut where it is long, visibly
    assert len(rows["1"]["final_url"]) < 5000
    assert "characters cut]" in rows["1"]["final_url"]

    resumed = scrapy_crawl("-a", f"urls={urls}", "-a", f"resume={out}", "-o", str(out))
    assert resumed.returncode == 2, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    assert "Resuming: 2 entries already have a row" in resumed.stderr
    merged = run_scrapy("merge", "-O", str(tmp_path / "merged.csv"), str(out))
    assert merged.returncode == 0, merged.stderr[-3000:]
    assert len(_csv_cells(tmp_path / "merged.csv")) == 2
    report = run_scrapy("report", str(out), "-o", str(tmp_path / "summary.json"))
    assert report.returncode == 0, report.stderr[-3000:]
    assert json.loads((tmp_path / "summary.json").read_text())["rows"] == 2


def test_hostile_redirect_chain_does_not_leave_workers_without_output(
    hostile: str, tmp_path: Path
) -> None:
    urls = _list(tmp_path, f"{hostile}/grow/0/", f"{hostile}/ok", f"{hostile}/ok?2")
    out = tmp_path / "out.csv"
    crawl = scrapy_crawl("-a", f"urls={urls}", "-a", "workers=2", "-O", str(out))
    assert crawl.returncode == 2, crawl.stderr[-3000:]
    assert sorted(row["line"] for row in _csv_cells(out)) == ["1", "2", "3"]


def _hops(count: int) -> list[dict[str, Any]]:
    return [
        {"url": f"http://h.test/{hop}/{'a' * GROWTH * hop}", "status": 301, "ms": 1.0}
        for hop in range(count)
    ]


def test_export_readers_accept_cells_of_any_size(tmp_path: Path) -> None:
    """An export with a cell far over the csv module's default limit (as written before chains
    were bounded) is read by resume, merge and the report reader alike."""
    row = UrlResult("http://h.test/0/", "urls.txt", 1, outcome="too_many_redirects", ok=False)
    row.chain = _hops(21)
    part = tmp_path / "part.csv"
    with part.open("wb") as stream:
        exporter = FlatCsvItemExporter(stream, fields_to_export=list(FIELDS), encoding="utf-8")
        exporter.start_exporting()
        exporter.export_item(row)
        exporter.finish_exporting()
    assert part.stat().st_size > 600_000

    assert entry_key("urls.txt", 1) in done_entries(str(part))
    report = merge([part], tmp_path / "merged.csv")
    assert report.rows_written == 1
    (result,) = read_results(part)
    assert len(result.chain) > 600_000  # the CSV's flat chain, read whole
    assert csv.field_size_limit() == 131072  # put back for other readers (CSV lists of URLs)


def test_a_chain_over_max_hops_keeps_its_ends_and_says_what_was_cut() -> None:
    row = UrlResult("http://h.test/0/", "urls.txt", 1, chain=_hops(50))
    exportable_row(row)
    assert len(row.chain) == MAX_HOPS
    assert row.chain[0]["url"] == "http://h.test/0/"
    assert row.chain[15] == {"url": "...[19 hops cut]", "status": None, "ms": None}
    assert row.chain[-1]["url"].startswith("http://h.test/49/aaa")
    assert row.chain[-1]["url"].endswith(
        f"...[{len('http://h.test/49/') + 49 * GROWTH - MAX_TEXT} characters cut]"
    )


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_endless_retry_after_does_not_export_infinity(hostile: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, f"{hostile}/retry-after")
    out = tmp_path / "out.jsonl"
    crawl = scrapy_crawl("-a", f"urls={urls}", "-o", str(out), "-o", str(tmp_path / "out.json"))
    assert crawl.returncode == 2, crawl.stderr[-3000:]
    (row,) = [_strict_json(line) for line in out.read_text().splitlines()]
    assert (row["outcome"], row["retry_after"]) == ("rate_limited", RETRY_AFTER_CAP)
    assert row["error"] == "rate limited (HTTP 429, Retry-After 3.1536e+07 s)"
    assert _strict_json((tmp_path / "out.json").read_text()) == [row]


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def test_control_characters_from_servers_and_lists_never_reach_exports(
    hostile: str, tmp_path: Path
) -> None:
    listed = tmp_path / "urls.jsonl"
    listed.write_text(json.dumps({"url": f"http://nul\0{ESCAPES}.example/"}) + "\n")
    urls = f"{_list(tmp_path, f'{hostile}/escapes', f'http://list{ESCAPES}.example/')},{listed}"
    outputs = [tmp_path / name for name in ("out.csv", "out.json", "out.jsonl")]
    crawl = scrapy_crawl("-a", f"urls={urls}", *(f"-o{path}" for path in outputs))
    assert crawl.returncode == 2, crawl.stderr[-3000:]
    csv_text = outputs[0].read_text(encoding="utf-8").replace("\r\n", "\n")
    assert not RAW_CONTROL.findall(csv_text)  # what `cat out.csv` shows
    shown = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m"
    for path in outputs[1:]:
        text = path.read_text(encoding="utf-8")
        rows = (
            json.loads(text)
            if path.suffix == ".json"
            else [json.loads(line) for line in text.splitlines()]
        )
        assert not [t for row in rows for t in _texts(row) if RAW_CONTROL.search(t)]
        by_line = {row["line"]: row for row in rows}
        assert by_line[1]["content_type"] == f"text/html{shown}"
        assert by_line[2]["url"] == f"http://list{shown}.example/"
        assert by_line[2]["outcome"] == "invalid_url"  # checked as the list gave it
        nul = next(row for row in rows if row["source"] == str(listed))
        assert nul["url"] == f"http://nul\\x00{shown}.example/"
    rows = {row["line"]: row for row in _csv_cells(outputs[0])}
    assert rows["1"]["content_type"] == f"text/html{shown}"


def test_a_number_that_is_not_finite_is_exported_empty() -> None:
    row = UrlResult("http://h.test/", "urls.txt", 1, total_ms=float("nan"), retry_after=1e400)
    exportable_row(row)
    assert (row.total_ms, row.retry_after) == (None, None)


def test_a_jobs_merge_knows_the_rows_of_urls_with_escapes_and_passwords(tmp_path: Path) -> None:
    """A job's entries hold each URL as the list gave it; its row holds it exportable, and the
    merge compares them in the row's form (:func:`row_url`, as ``scrapy merge --redis`` does)."""
    urls = [f"http://list{ESCAPES}.example/", "http://user:secret@h.test/"]
    rows = [exportable_row(UrlResult(redact(url), "urls.txt", n, outcome="ok")) for n, url in
            enumerate(urls, 1)]  # fmt: skip
    part = tmp_path / "part.jsonl"
    part.write_text("".join(json.dumps(asdict(row)) + "\n" for row in rows))
    entries = [("urls.txt", n, row_url(url)) for n, url in enumerate(urls, 1)]
    report = merge([part], tmp_path / "merged.jsonl", entries=entries)
    assert (report.rows_written, report.foreign, report.missing_count) == (2, 0, 0)


FORMULA_LINES = ("=1+2", "@SUM(A1:A9)", "+cmd", "-2+3", "'=quoted already")


def test_csv_formula_injection_from_lists_and_servers(hostile: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, f"{hostile}/formula", *FORMULA_LINES)
    out = tmp_path / "out.csv"
    crawl = scrapy_crawl("-a", f"urls={urls}", "-o", str(out), "-o", str(tmp_path / "out.jsonl"))
    assert crawl.returncode == 2, crawl.stderr[-3000:]
    with out.open(encoding="utf-8", newline="") as stream:  # as a spreadsheet reads the cells
        cells = {row["line"]: row for row in csv.DictReader(stream)}
    assert cells["1"]["content_type"] == f"'{FORMULA}"
    assert [cells[str(n)]["url"] for n in range(2, 7)] == [f"'{line}" for line in FORMULA_LINES]
    assert cells["2"]["error"].startswith("relative URL")  # text that is no formula stays

    jsonl = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {row["line"]: row["url"] for row in jsonl if row["line"] > 1} == dict(
        enumerate(FORMULA_LINES, 2)
    )  # only CSV cells are escaped
    results = {result.line: result for result in read_results(out)}  # the report's reader
    assert results[1].content_type == FORMULA
    assert [results[n].url for n in range(2, 7)] == list(FORMULA_LINES)
    entries = [(str(urls), 1, f"{hostile}/formula")]
    entries += [(str(urls), n, line) for n, line in enumerate(FORMULA_LINES, 2)]
    report = merge([out], tmp_path / "merged.csv", entries=entries)  # URLs read back as given
    assert (report.rows_written, report.foreign, report.missing_count) == (6, 0, 0)
    merged = (tmp_path / "merged.csv").read_text().splitlines()
    assert sorted(merged) == sorted(out.read_text().splitlines())  # copied as they were


def test_csv_formula_cells_are_escaped_once_when_merged_again(tmp_path: Path) -> None:
    """A CSV part in other columns is read back to its values and written escaped again."""
    part = tmp_path / "part.csv"
    part.write_text("url,source,line,outcome\n'=1+2,urls.txt,1,invalid_url\n")
    merge([part], tmp_path / "merged.csv")
    (row,) = _csv_cells(tmp_path / "merged.csv")
    assert row["url"] == "'=1+2"


def test_csv_formula_escape_can_be_turned_off(hostile: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, "=1+2")
    out = tmp_path / "out.csv"
    raw = scrapy_crawl(
        "-a", f"urls={urls}", "-o", str(out), "-s", "CRAWLER_CSV_FORMULA_ESCAPE=False"
    )
    assert raw.returncode == 2, raw.stderr[-3000:]
    assert _csv_cells(out)[0]["url"] == "=1+2"
    bad = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_CSV_FORMULA_ESCAPE=maybe"
    )
    assert bad.returncode == 1
    assert "CRAWLER_CSV_FORMULA_ESCAPE must be True or False, got 'maybe'" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("text", "cell"),
    [("=1", "'=1"), ("-", "-"), ("- http://a/ (1 ms)", "'- http://a/ (1 ms)"),
     ("'=1", "''=1"), ("'x", "'x"), ("a=1", "a=1"), ("\t1", "'\t1"), ("", "")],
)  # fmt: skip
def test_csv_cells_read_back_as_written(text: str, cell: str) -> None:
    assert csv_cell(text) == cell
    assert from_csv_cell(cell) == text
