"""Hostile lists and hostile servers against the exports: every cell stays bounded, readable
by our own readers, valid JSON, free of terminal escapes and of spreadsheet formulas."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from crawler._cells import MAX_HOPS, MAX_TEXT, exportable_row
from crawler.exporters import FlatCsvItemExporter
from crawler.items import FIELDS, UrlResult
from crawler.merge import merge
from crawler.report.reader import read_results
from crawler.resume import done_entries, entry_key
from tests._scrapy import run_scrapy, scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

GROWTH = 3000
"""Characters each redirect adds to the next URL: 21 hops make a chain of ~630 KB."""
RETRY_AFTER_DIGITS = b"9" * 400
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\x00"
"""A window title, a screen clear, an 8-bit CSI and a NUL: what a ``cat`` must not run."""
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
        content_type = f"text/html{ESCAPES.replace(chr(0), '')}".encode("latin-1")
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
