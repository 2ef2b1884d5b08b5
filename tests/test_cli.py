"""``scrapy crawl urls`` as users run it: a subprocess, exit statuses, stdin, one-line errors."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests._apps import Arrivals, checker_app, recording_app
from tests._crawl import read_rows
from tests._scrapy import scrapy_crawl, start_scrapy, wait_for_text

if TYPE_CHECKING:
    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def test_all_accepted_exits_0(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/redirect/1\n")
    out = tmp_path / "results.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_rows(out)
    assert sorted((r["line"], r["outcome"], r["status"]) for r in rows) == [
        ("1", "ok", "200"),
        ("2", "ok", "200"),
    ]
    assert "2 entries, 2 rows, 0 not ok" in result.stderr


def test_some_not_accepted_exits_2_unless_turned_off(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n")
    out = tmp_path / "results.jsonl"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out))
    assert result.returncode == 2, result.stderr[-2000:]
    assert sorted(r["status"] for r in read_rows(out)) == [200, 404]
    relaxed = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_FAILURE_EXIT_CODE=0"
    )
    assert relaxed.returncode == 0, relaxed.stderr[-2000:]


def test_standard_input(site: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = scrapy_crawl("-a", "urls=-", "-O", str(out), stdin=f"# list\n{site}/ok\n".encode())
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = read_rows(out)
    assert (row["source"], row["line"], row["url"], row["outcome"]) == ("-", 2, f"{site}/ok", "ok")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-a", "urls=/nonexistent/urls.txt"), "/nonexistent/urls.txt"),
        (("-a", "accept=2xx"), "accept: cannot read '2xx'"),
        (("-a", "method=post"), "method='post' is not a check method; use one of"),
        (("-s", "CRAWLER_METHOD=options"), "CRAWLER_METHOD='options' is not a check method"),
        (("-s", "CRAWLER_HOST_RETRY_BUDGET=-1"), "CRAWLER_HOST_RETRY_BUDGET must be >= 0"),
        (("-s", "CONCURRENT_REQUESTS_PER_IP=1"), "CONCURRENT_REQUESTS_PER_IP is not supported"),
        (
            ("-a", "workers=2", "-s", "CRAWLER_PROGRESS_INTERVAL=0"),
            "CRAWLER_PROGRESS_INTERVAL must be > 0 seconds",
        ),
        (("-s", "CRAWLER_REDIS_URL=http://h:6379"), "CRAWLER_REDIS_URL must start with redis://"),
        (("-a", "redis=redis://h", "-a", "urls=a.txt"), "drop urls=/resume="),
        (("-a", "redis=redis://h", "-a", "job=a b"), "CRAWLER_REDIS_JOB must be"),
        (
            ("-s", 'CRAWLER_HOSTS={"example.com": {"concurency": 2}}'),
            "CRAWLER_HOSTS['example.com']: unknown key 'concurency'; use concurrency",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    out = tmp_path / "results.csv"
    result = scrapy_crawl(*args, "-O", str(out))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_passwords_in_urls_never_reach_logs_or_rows(site: str, tmp_path: Path) -> None:
    secret_site = site.replace("http://", "http://alice:s3cret@")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{secret_site}/status/404\n{secret_site}/slow?s=5\n{secret_site}/redirect/1\n")
    out = tmp_path / "results.csv"
    result = scrapy_crawl(
        "-a",
        f"urls={urls}",
        "-O",
        str(out),
        "-s",
        "LOG_LEVEL=DEBUG",
        "-s",
        "DOWNLOAD_TIMEOUT=0.3",
        "-s",
        "RETRY_TIMES=1",
    )
    assert result.returncode == 2, result.stderr[-2000:]
    exported = out.read_text()
    assert "s3cret" not in exported
    assert "s3cret" not in result.stderr
    assert "alice:***@" in exported
    assert "alice:***@" in result.stderr  # the Crawled / Gave up retrying lines, redacted


def test_a_forced_stop_exits_1(server_loop: ServerLoop, tmp_path: Path) -> None:
    arrivals = Arrivals()
    site = server_loop.http(recording_app(arrivals))
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/status/404\n" + "".join(f"{site}/page?key={i}&s=30\n" for i in range(4))
    )
    out, log = tmp_path / "results.csv", tmp_path / "log.txt"
    with log.open("wb") as stderr:
        crawl = start_scrapy(
            "crawl", "urls", "-a", f"urls={urls}", "-O", str(out), "-s", "LOG_LEVEL=INFO",
            stderr=stderr,
        )  # fmt: skip
    wait_for_text(out, ",404,", crawl)  # a not-ok row is written, the slow pages are pending
    crawl.send_signal(signal.SIGINT)
    wait_for_text(log, "shutting down gracefully", crawl)  # it waits for the slow pages
    crawl.send_signal(signal.SIGINT)
    assert crawl.wait(60) == 1, log.read_text()[-3000:]
    assert "forcing unclean shutdown" in log.read_text()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("{tmp}/dir.csv", "{tmp}/dir.csv is a directory; name a file in it"),
        ("/proc/nope/out.csv", "cannot write in /proc (No such file or directory)"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_and_exit_1(
    site: str, tmp_path: Path, output: str, message: str
) -> None:
    (tmp_path / "dir.csv").mkdir()
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n")
    result = scrapy_crawl("-a", f"urls={urls}", "-O", output.format(tmp=tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"Cannot write the output {output.format(tmp=tmp_path)}: " in result.stderr
    assert message.format(tmp=tmp_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert "Spider opened" not in result.stderr  # nothing crawled


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("feed_format", ["csv", "json", "jsonlines"])
def test_a_full_disk_stops_the_crawl_with_one_error_and_exit_1(
    site: str, tmp_path: Path, feed_format: str
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\nnot a url\n")
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", f"/dev/full:{feed_format}", "-s", "CRAWLER_SCRAPY_LOG=True"
    )  # fmt: skip  # with Scrapy's stats dump
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.count("] ERROR: ") == 1, result.stderr[-3000:]
    assert "Cannot write rows to /dev/full (OSError: [Errno 28] No space left" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Stopped before the end: export_failed" in result.stderr
    assert "'crawler/exports_failed_count': 1" in result.stderr


@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl"])
def test_a_row_the_encoding_cannot_hold_stops_the_crawl_after_the_rows_before(
    site: str, tmp_path: Path, suffix: str
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/ok?caf\u00e9\n{site}/ok?after\n")
    out = tmp_path / f"results{suffix}"
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", "FEED_EXPORT_ENCODING=ascii",
        "-s", "CONCURRENT_REQUESTS=1", "-s", "CRAWLER_SCRAPY_LOG=True",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"Cannot write rows to {out} (UnicodeEncodeError: " in result.stderr
    assert "Traceback" not in result.stderr
    assert "Stopped before the end: export_failed" in result.stderr
    assert "'crawler/rows_export_failed_count': " in result.stderr  # a Redis worker acks none
    if suffix != ".json":  # a cut-off JSON array cannot be read
        assert [int(row["line"]) for row in read_rows(out)] == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-O", "out.xyz"), "error: Unrecognized output format 'xyz'"),
        (("--bogus",), "error: unrecognized arguments: --bogus"),
        (("other",), "error: run one spider: scrapy crawl <spider>"),
    ],
)
def test_usage_errors_exit_1_not_the_not_ok_status(args: tuple[str, ...], message: str) -> None:
    result = scrapy_crawl(*args)
    assert result.returncode == 1, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
