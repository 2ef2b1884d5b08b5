"""Progress: a rich bar on a terminal (a real pseudo-terminal), log lines off one, quiet modes."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.output.progress import ProgressExtension, count_entries, countable_inputs
from spiders.urls import UrlsSpider
from tests._apps import checker_app
from tests._scrapy import PROJECT_ROOT, scrapy_crawl

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from tests.servers import ServerLoop

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def scrapy_crawl_on_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """Run ``scrapy crawl urls ARGS`` with stdout and stderr on a pseudo-terminal.

    Returns the exit status and everything written to the terminal.
    """
    main, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "TTY_INTERACTIVE"}}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    process = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "urls", "-s", "LOG_LEVEL=INFO", *args],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        cwd=PROJECT_ROOT,
        env=env,
    )
    os.close(secondary)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(main)
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
    return process.wait(timeout=30), output.decode("utf-8", errors="replace")


def screen_lines(output: str) -> list[str]:
    """What was written, without escape codes, split at carriage returns and newlines."""
    return [line for line in re.split(r"[\r\n]+", ANSI.sub("", output)) if line.strip()]


def urls_file(tmp_path: Path, lines: Iterable[str]) -> Path:
    path = tmp_path / "urls.txt"
    path.write_text("# a comment, not an entry\n" + "\n".join(lines) + "\n\n")
    return path


def test_bar_on_a_terminal(site: str, tmp_path: Path) -> None:
    urls = urls_file(tmp_path, [f"{site}/ok", f"{site}/status/404", f"{site}/slow?s=0.5"])
    status, output = scrapy_crawl_on_terminal(
        "-a", f"urls={urls}", "-O", str(tmp_path / "r.csv"), "-s", "CRAWLER_SCRAPY_LOG=True"
    )  # fmt: skip  # Scrapy's "Closing spider" line is written while the bar is up
    assert status == 2, output[-3000:]
    assert "\x1b[" in output  # drawn with terminal escape codes, in place
    bars = [line for line in screen_lines(output) if re.search(r"URLs .*\d+/3 ", line)]
    assert bars, output[-3000:]
    final = bars[-1]
    assert re.search(r"URLs ━+ 3/3 [\d,]+/s ETA 0:00:00 1 not ok 0 in flight", final), final
    assert "━" in final
    lines = screen_lines(output)
    summary = [line for line in lines if "Summary: 3 rows" in line]
    assert summary, output[-3000:]
    # Log lines written while the bar is up ("Closing spider" at least) print whole, above it:
    # Scrapy's log handler writes through rich meanwhile, not across the bar.
    logged = [line for line in lines if "] INFO: " in line]
    assert any("INFO: Closing spider (finished)" in line for line in logged)
    for line in logged:
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[", line), line
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[crawler\.output\.run_summary\] INFO: "
        r"Summary: 3 rows, 2 ok, 1 not ok \(66\.7% ok\); ok 2, http_error 1",
        summary[0],
    ), summary[0]
    assert not any("[crawler.output.progress] INFO: Progress:" in line for line in lines)


@pytest.mark.parametrize("quiet", [("--nolog",), ("-s", "CRAWLER_PROGRESS=off")])
def test_nothing_when_quiet(site: str, tmp_path: Path, quiet: tuple[str, ...]) -> None:
    urls = urls_file(tmp_path, [f"{site}/ok"])
    status, output = scrapy_crawl_on_terminal(
        "-a", f"urls={urls}", "-O", str(tmp_path / "r.csv"), *quiet
    )
    assert status == 0, output[-3000:]
    assert "━" not in output
    assert "Progress:" not in output


def test_log_lines_off_a_terminal(site: str, tmp_path: Path) -> None:
    urls = urls_file(tmp_path, [f"{site}/ok", f"{site}/status/404", f"{site}/slow?s=1"])
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(tmp_path / "r.csv"), "-s", "CRAWLER_PROGRESS_INTERVAL=0.2"
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "\x1b[" not in result.stderr
    assert "━" not in result.stderr
    lines = re.findall(r"\[crawler\.output\.progress\] INFO: (Progress: .*)", result.stderr)
    assert lines, result.stderr[-3000:]
    pattern = (
        r"Progress: (\d)/3 rows \((\d+\.\d)%\), [\d.,]+/s(, ETA \d+:\d\d)?, (\d) not ok, "
        r"(\d) in flight"
    )
    for line in lines:
        match = re.fullmatch(pattern, line)
        assert match, line
        done, percent, _, not_ok, _ = match.groups()
        assert float(percent) == pytest.approx(int(done) / 3 * 100, abs=0.05)
        assert int(not_ok) <= 1


def test_counting_stops_in_a_stretch_of_blank_lines(tmp_path: Path) -> None:
    """A stopped crawl waits for the counting thread: it must see the stop in blank lines too."""
    urls = tmp_path / "urls.txt"
    urls.write_text("\n" * 100_000 + "http://a.example/\n")
    stop = threading.Event()
    assert count_entries(str(urls), stop) == 1
    stop.set()
    assert count_entries(str(urls), stop) is None


def test_total_counts_entries_of_files(tmp_path: Path) -> None:
    text = urls_file(tmp_path, ["http://a.example/", "not a url", "http://b.example/"])
    csv_file = tmp_path / "urls.csv"
    csv_file.write_text("url,name\nhttp://a.example/,a\nhttp://b.example/,b\n")
    assert count_entries(f"{text},{csv_file}") == 5  # the comment and blank line are no entries
    assert countable_inputs(UrlsSpider(urls=str(text))) == str(text)
    assert countable_inputs(UrlsSpider(urls=f"{text},-")) is None  # stdin is read once

    class OwnSource(UrlsSpider):
        name = "own"

        def url_entries(self) -> list[str]:
            return ["http://a.example/"]

    assert countable_inputs(OwnSource()) is None
    assert countable_inputs(Spider(name="other")) is None


def test_no_total_where_the_list_is_not_this_runs(tmp_path: Path) -> None:
    text = urls_file(tmp_path, ["http://a.example/", "http://b.example/"])
    assert countable_inputs(UrlsSpider(urls=str(text), shard="1/2")) is None  # half, unknown
    crawler = get_crawler(UrlsSpider, {"CRAWLER_REDIS_URL": "redis://127.0.0.1:1/0"})
    worker = UrlsSpider.from_crawler(crawler)
    assert worker.redis_job is not None
    assert countable_inputs(worker) is None  # the job's entries, shared with other workers


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"CRAWLER_PROGRESS": "fancy"},
            "CRAWLER_PROGRESS must be one of auto, bar, log, off, got 'fancy'",
        ),
        (
            {"CRAWLER_PROGRESS_INTERVAL": 0},
            "CRAWLER_PROGRESS_INTERVAL must be > 0 seconds, got 0.0",
        ),
    ],
)
def test_bad_settings_name_the_fix(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ProgressExtension.from_crawler(get_crawler(settings_dict=settings))
