"""Ctrl-C (SIGINT, SIGTERM) stops starting new URLs: only the requests on the wire finish."""

from __future__ import annotations

import re
import signal
import time
from typing import TYPE_CHECKING

import pytest

from tests._apps import Gate
from tests._crawl import read_rows
from tests._scrapy import scrapy_crawl, start_scrapy, wait_for_text

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

ENTRIES = 60


@pytest.mark.parametrize(
    ("settings", "on_the_wire"),
    [
        # Scrapy hands the slot every request at once: 4 on the wire, the rest held back by
        # the handler's per-slot turns
        (("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4"), 4),
        # with a delay, the rest wait in Scrapy's slot queue, sent one per delay
        (("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "DOWNLOAD_DELAY=0.5"), 2),
    ],
    ids=["slot-turns", "download-delay"],
)
def test_ctrl_c_sends_no_new_request_and_resume_completes_the_list(
    server_loop: ServerLoop, tmp_path: Path, settings: tuple[str, ...], on_the_wire: int
) -> None:
    gate = Gate(server_loop)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{gate.site}/page?key={i}\n" for i in range(ENTRIES)))
    out, log = tmp_path / "results.csv", tmp_path / "log.txt"
    with log.open("wb") as stderr:
        crawl = start_scrapy(
            "crawl", "urls", "-a", f"urls={urls}", "-O", str(out), "-s", "LOG_LEVEL=INFO",
            "-s", "CRAWLER_SCRAPY_LOG=True",  # Scrapy's "Closing spider" line
            *settings, stderr=stderr,
        )  # fmt: skip
    gate.wait_for_arrivals(on_the_wire)
    crawl.send_signal(signal.SIGINT)
    wait_for_text(log, "Closing spider (shutdown)", crawl)
    sent = len(gate.arrivals)
    gate.open()
    opened = time.monotonic()
    assert crawl.wait(60) == 1, log.read_text()[-3000:]
    stopped_in = time.monotonic() - opened
    text = log.read_text()
    assert len(gate.arrivals) == sent, "no request was sent after Ctrl-C"
    assert stopped_in < 10, text[-3000:]  # not one request per DOWNLOAD_DELAY
    rows = read_rows(out)
    assert len(rows) == sent
    assert "forcing unclean shutdown" not in text
    # the entries read so far (the list is read as the engine needs it) that have no row
    counts = re.search(rf"(\d+) entries, {sent} rows, 0 not ok; (\d+) entries not started", text)
    assert counts, text[-3000:]
    assert int(counts[1]) - sent == int(counts[2]) > 0
    assert f"-a resume={out} -o {out}" in text
    assert "missing" not in text
    assert "crawler/rows_missing_count" not in text

    resumed = scrapy_crawl("-a", f"urls={urls}", "-a", f"resume={out}", "-o", str(out))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    lines = sorted(int(row["line"]) for row in read_rows(out))
    assert lines == list(range(1, ENTRIES + 1))  # one row per entry across the two runs
    assert sorted(gate.arrivals, key=int) == [str(i) for i in range(ENTRIES)]  # each sent once
