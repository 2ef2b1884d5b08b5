"""The rows of ``scrapy crawl urls`` on a mixed list, against a golden file: speed-ups keep them.

A real crawl (a subprocess, as a user runs it) checks one list that holds every kind of
entry (ok, redirects, a loop, a 503 retried into a 200, a 429 with ``Retry-After``, a 502
retried to the end, a 404, a refused port, invalid lines, unsupported and unchecked schemes,
duplicates, a secret to redact, non-ASCII paths) against loopback servers, writing CSV and
JSON Lines, and a summary file. Every column but those that measure time is compared, row by row, with
``tests/golden/rows_identical.json``, and so are the summary's counts; the loopback ports
are replaced by placeholders.

The golden file was generated from the code before any speed-up. Regenerate it only for an
intended change of the rows (a new column, a reworded error), never to make a speed-up pass;
say why in the commit::

    CRAWLER_REGENERATE_GOLDEN=1 pytest tests/test_rows_identical.py
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crawler.items import FIELDS
from tests._apps import checker_app
from tests._scrapy import scrapy_crawl

if TYPE_CHECKING:
    from tests.servers import ServerLoop

GOLDEN = Path(__file__).resolve().parent / "golden" / "rows_identical.json"
REGENERATE = "CRAWLER_REGENERATE_GOLDEN"

TIMED = frozenset(
    {"started_at", "queue_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "download_ms"}
    | {"total_ms", "connection_reused"}
)
"""Columns that measure time or depend on it (a connection is reused or not by timing)."""


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mixed_list(site: str, other: str, refused: str) -> list[str]:
    """Every kind of entry; ``site`` and ``other`` serve :func:`tests._apps.checker_app`."""
    return [
        "# a comment, skipped",
        f"{site}/ok",
        f"{site}/ok",  # duplicate
        f"{site}/ok#top",  # duplicate: the fragment is not sent
        f"  {site}/status/404  ",
        f"{site}/status/500",  # not retried
        f"{site}/status/502",  # retried, then reported
        f"{site}/redirect/2",
        f"{site}/loop/a",
        f"{site}/flaky?key=rows-flaky",  # 503, then 200 (its own count of hits)
        f"{site}/retry-after?key=rows-wait&wait=0",  # 429 with Retry-After: 0, then 200
        f"{site}/ok?token=s3cret&page=1",  # a secret the rows redact
        f"{site}/caf\u00e9?q=a b",  # non-ASCII path, a space: 404
        f"{other}/ok",
        f"{other.upper()}/ok",  # upper-case scheme and host: the same URL
        f"{other}/status/410",  # accepted on this host (CRAWLER_HOSTS)
        f"{other}/status/404",
        f"{other}/slow?s=30",  # times out on this host (CRAWLER_HOSTS), retried once
        f"{site}/status/404",  # duplicate of a failure
        refused,
        refused,  # duplicate of a refused URL
        "not a url",
        "",
        "ftp://example.com/file",
        "mailto:someone@example.com",
        "tel:+123456",
        "http://",
        "http://1.2.3/",
        "http://bad port:x/",
        "https://example.com:99999/",
        "http://exa\u00admple..com/",
        "//example.com/no-scheme",
    ]


HOSTS = '{"localhost": {"timeout": 1, "accept": "200..=299,410"}}'
"""``other``'s settings: a timeout that only ``/slow`` reaches, and one more accepted status."""


def _placeholders(ports: dict[str, int], tmp: Path) -> list[tuple[str, str]]:
    return [(str(tmp), "<TMP>"), *((str(port), f"<{name}>") for name, port in ports.items())]


_HOP_MS = re.compile(r" \([0-9.]+ ms\)")
"""A hop's time in the CSV ``chain`` cell: ``200 https://… (8.9 ms)``."""


def _stable(value: Any, ports: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        value = _HOP_MS.sub(" (ms)", value)
        for port, placeholder in ports:
            value = value.replace(port, placeholder)
        return value
    if isinstance(value, list):
        return [_stable(v, ports) for v in value]
    if isinstance(value, dict):
        return {_stable(k, ports): _stable(v, ports) for k, v in value.items() if k != "ms"}
    return value


def stable_rows(
    rows: list[dict[str, Any]], ports: dict[str, int], tmp: Path
) -> list[dict[str, Any]]:
    """``rows`` sorted by line, without the timed columns; the ports and the temporary
    directory replaced by placeholders."""
    placeholders = _placeholders(ports, tmp)
    kept = [{k: _stable(v, placeholders) for k, v in row.items() if k not in TIMED} for row in rows]
    return sorted(kept, key=lambda row: int(row["line"]))


SUMMARY_PHASES = ("queue_ms", "ttfb_ms", "download_ms", "total_ms")
"""Phases whose count (not their figures) is the same in every run: the connection phases
are counted only on a new connection."""


def stable_summary(summary: dict[str, Any], ports: dict[str, int], tmp: Path) -> dict[str, Any]:
    """The summary's counts, in a stable order, without times (nor ``slowest``, by time)."""
    kept = {k: summary[k] for k in ("rows", "ok", "not_ok", "success_rate", "retries")}
    kept["outcomes"] = dict(sorted(summary["outcomes"].items()))
    kept["status_classes"] = summary["status_classes"]
    kept["hosts"] = dict(sorted(summary["hosts"].items()))
    kept["phase_counts"] = {p: summary["phases"][p]["count"] for p in SUMMARY_PHASES}
    kept["failures"] = {
        outcome: {
            "count": failures["count"],
            "examples": sorted(failures["examples"], key=lambda row: row["line"]),
        }
        for outcome, failures in sorted(summary["failures"].items())
    }
    kept["run"] = {k: v for k, v in summary["run"].items() if k != "exports"}
    stable: dict[str, Any] = _stable(kept, _placeholders(ports, tmp))
    return stable


def crawl_outputs(site_port: int, other_port: int, refused_port: int, tmp: Path) -> dict[str, Any]:
    site, other = f"http://127.0.0.1:{site_port}", f"http://localhost:{other_port}"
    refused = f"http://127.0.0.1:{refused_port}/"
    urls = tmp / "urls.txt"
    urls.write_text("\n".join(mixed_list(site, other, refused)) + "\n", encoding="utf-8")
    out_csv, out_jsonl = tmp / "out.csv", tmp / "out.jsonl"
    summary = tmp / "summary.json"
    result = scrapy_crawl(
        "-a",
        f"urls={urls}",
        "-O",
        str(out_csv),
        "-O",
        str(out_jsonl),
        "-s",
        "CRAWLER_BACKOFF_BASE=0",
        "-s",
        "RETRY_TIMES=1",
        "-s",
        "CONCURRENT_REQUESTS=4",
        "-s",
        f"CRAWLER_HOSTS={HOSTS}",
        "-s",
        f"CRAWLER_SUMMARY_FILE={summary}",
    )
    assert result.returncode == 2, result.stderr[-3000:]  # some rows are not ok
    with out_csv.open(encoding="utf-8", newline="") as rows:
        csv_rows = list(csv.DictReader(rows))
    with out_csv.open(encoding="utf-8", newline="") as rows:
        header = next(csv.reader(rows))
    jsonl_rows = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    ports = {"SITE": site_port, "OTHER": other_port, "REFUSED": refused_port}
    return {
        "csv_header": header,
        "csv": stable_rows(csv_rows, ports, tmp),
        "jsonl": stable_rows(jsonl_rows, ports, tmp),
        "summary": stable_summary(json.loads(summary.read_text(encoding="utf-8")), ports, tmp),
    }


@pytest.fixture
def site_ports(server_loop: ServerLoop) -> tuple[int, int]:
    """Two fresh servers (their retry counters start at zero for each test)."""
    site, other = server_loop.http(checker_app()), server_loop.http(checker_app())
    return int(site.rsplit(":", 1)[1]), int(other.rsplit(":", 1)[1])


def test_rows_match_the_golden_file(site_ports: tuple[int, int], tmp_path: Path) -> None:
    got = crawl_outputs(*site_ports, closed_port(), tmp_path)
    assert got["csv_header"] == list(FIELDS)
    assert len(got["csv"]) == len(got["jsonl"]) == 30  # one row per entry: no comment, no blank
    if os.environ.get(REGENERATE):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for name in ("csv_header", "csv", "jsonl"):
        for want, row in zip(golden[name], got[name], strict=True):
            assert row == want, f"{name}: {want.get('url') if isinstance(want, dict) else want}"
    assert got["summary"] == golden["summary"]
