"""``scrapy crawl urls -a workers=N``: one list, N processes, one output with one row per entry."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import TYPE_CHECKING

import pytest

from crawler.scale.shard import Shard
from crawler.sources import UrlEntry
from tests._apps import Arrivals, Gate, recording_app
from tests._crawl import read_rows
from tests._scrapy import scrapy_crawl, start_scrapy, wait_for_lines, wait_for_text

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from tests.servers import ServerLoop


def write_list(site: str, path: Path) -> dict[int, str]:
    """40 pages, 4 repeats, 3 bad lines and two 404s; returns the expected outcome by line."""
    lines, expected = [], {}
    for i in range(49):
        if i % 16 == 5:
            lines.append("not a url")
            expected[i + 1] = "invalid_url"
        elif i % 12 == 11:
            lines.append(f"{site}/page?key={i - 1}&s=0.02")  # the page of the line above
            expected[i + 1] = "duplicate"
        elif i in (20, 30):
            lines.append(f"{site}/status/404?i={i}")
            expected[i + 1] = "http_error"
        else:
            lines.append(f"{site}/page?key={i}&s=0.02")
            expected[i + 1] = "ok"
    path.write_text("\n".join(lines) + "\n")
    return expected


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_two_workers_write_one_output_with_one_row_per_entry(
    server_loop: ServerLoop, tmp_path: Path, suffix: str
) -> None:
    arrivals = Arrivals()
    site = server_loop.http(recording_app(arrivals))
    urls = tmp_path / "urls.txt"
    expected = write_list(site, urls)
    out = tmp_path / f"results{suffix}"
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]  # the 404s
    rows = read_rows(out)
    assert [int(row["line"]) for row in rows] == sorted(expected)  # input order, once each
    assert {int(row["line"]): row["outcome"] for row in rows} == expected
    # each page was asked for once in all, by one worker or the other
    assert sorted(arrivals.requests.values()) == [1] * list(expected.values()).count("ok")
    # the per-host limit is the crawl's: 2 in all, 1 per worker
    assert arrivals.max_inflight <= 2
    assert re.search(rf"Merged {len(expected)} rows from 2 workers", result.stderr)
    # one summary, of the merged rows: the workers show only their warnings and errors
    assert result.stderr.count("Summary: ") == 1
    assert f"Summary: {len(expected)} rows" in result.stderr
    assert " INFO: " not in "".join(re.findall(r"^\[worker .*$", result.stderr, re.MULTILINE))
    assert not any(tmp_path.glob(".*.workers")), "the parts are removed once merged"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-a", "workers=0"), "workers must be a number of processes >= 1 or 'auto'"),
        (("-s", "CRAWLER_WORKERS=many"), "CRAWLER_WORKERS must be a number of processes"),
        (("-a", "urls=-", "-a", "workers=2"), "workers cannot share standard input"),
        (("-a", "workers=2", "-O", "{tmp}/out.xml"), "outputs must be .csv, .json or .jsonl"),
        (("-a", "workers=2", "-O", "s3://bucket/out.csv"), "outputs must be local files"),
        (("-a", "workers=2", "-o", "{tmp}/old.csv"), "already holds rows"),
    ],
)
def test_bad_worker_runs_are_one_line_and_exit_1(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    (tmp_path / "old.csv").write_text("url\nhttp://a.example\n")
    given = [arg.format(tmp=tmp_path) for arg in args]
    if "-O" not in given and "-o" not in given:
        given += ["-O", str(tmp_path / "out.csv")]
    result = scrapy_crawl(*given)
    assert result.returncode == 1, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "old.csv").read_text() == "url\nhttp://a.example\n"


def wait_for_pids(log: Path, process: subprocess.Popen[bytes]) -> list[int]:
    """The worker pids the parent logs once it started them."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if found := re.search(r"Started 2 workers \(pids (\d+), (\d+)\)", log.read_text()):
            return [int(found[1]), int(found[2])]
        time.sleep(0.02)
    pytest.fail(f"no worker pids in {log.read_text()[-3000:]}")


def start_busy_workers(
    urls: Path, out: Path, log: Path, arrivals: Arrivals, busy: int = 5
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Start a 2-worker crawl logging to ``log``; return once ``busy`` pages were asked for."""
    with log.open("wb") as stderr:
        parent = start_scrapy(
            "crawl", "urls", "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "LOG_LEVEL=INFO",
            "-s", "CRAWLER_SCRAPY_LOG=True",  # each worker's "shutting down" line
            stderr=stderr,
        )  # fmt: skip
    pids = wait_for_pids(log, parent)
    deadline = time.monotonic() + 60
    while len(arrivals.requests) < busy and time.monotonic() < deadline:
        time.sleep(0.02)
    return parent, pids


def test_a_killed_worker_fails_the_run_but_its_rows_so_far_are_kept(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    arrivals = Arrivals()
    site = server_loop.http(recording_app(arrivals))
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site}/page?key={i}&s=0.1\n" for i in range(60)))
    out, log = tmp_path / "results.csv", tmp_path / "log.txt"
    parent, (first, _) = start_busy_workers(urls, out, log, arrivals)
    os.kill(first, signal.SIGKILL)
    assert parent.wait(120) == 1
    text = log.read_text()
    assert "Worker 1/2 was stopped by SIGKILL" in text, text[-3000:]
    lines = [int(row["line"]) for row in read_rows(out)]
    assert lines == sorted(set(lines))
    second = Shard(1, 2)
    entries = [UrlEntry(f"{site}/page?key={i}&s=0.1", str(urls), i + 1) for i in range(60)]
    owned = {entry.line for entry in entries if second.owns(entry)}
    assert owned <= set(lines), "every row of the surviving worker is in the output"
    assert len(lines) < 60


def test_ctrl_c_reaches_each_worker_once_and_the_rows_so_far_are_merged(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    arrivals = Arrivals()
    site = server_loop.http(recording_app(arrivals))
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site}/page?key={i}&s=0.2\n" for i in range(200)))
    out, log = tmp_path / "results.jsonl", tmp_path / "log.txt"
    parent, _ = start_busy_workers(urls, out, log, arrivals)
    for shard in range(2):  # both crawl, so both have Scrapy's Ctrl-C handlers in place
        wait_for_lines(tmp_path / ".results.jsonl.workers" / f"results.{shard}.jsonl", 1, parent)
    parent.send_signal(signal.SIGINT)
    assert parent.wait(120) == 1
    text = log.read_text()
    assert "Passing SIGINT on to the workers" in text
    assert text.count("shutting down gracefully") == 2, text[-3000:]
    assert "forcing unclean shutdown" not in text
    lines = [row["line"] for row in read_rows(out)]
    assert 0 < len(lines) < 200
    assert lines == sorted(set(lines))
    assert "run the same command again" in text

    rerun = scrapy_crawl(
        "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32",
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [row["line"] for row in read_rows(out)] == list(range(1, 201))
    assert sorted(arrivals.requests.values()) == [1] * 200  # nothing finished checked again


def test_a_second_ctrl_c_stops_the_workers_at_once_and_the_run_exits_1(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    arrivals = Arrivals()
    site = server_loop.http(recording_app(arrivals))
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/status/404\n" + "".join(f"{site}/page?key={i}&s=30\n" for i in range(20))
    )
    out, log = tmp_path / "results.csv", tmp_path / "log.txt"
    parent, _ = start_busy_workers(urls, out, log, arrivals, busy=2)  # one page per worker
    shard = next(
        i for i in range(2) if Shard(i, 2).owns(UrlEntry(f"{site}/status/404", str(urls), 1))
    )
    wait_for_text(tmp_path / ".results.csv.workers" / f"results.{shard}.csv", ",404,", parent)
    parent.send_signal(signal.SIGINT)
    wait_for_text(log, "shutting down gracefully", parent, count=2)  # both wait for pages
    parent.send_signal(signal.SIGINT)
    assert parent.wait(120) == 1, log.read_text()[-3000:]
    text = log.read_text()
    assert text.count("forcing unclean shutdown") == 2, text[-3000:]
    assert "exit statuses [1, 1]" in text


def test_ctrl_c_while_the_workers_start_is_quiet_and_leaves_no_parts(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(recording_app(Arrivals()))
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site}/page?key={i}\n" for i in range(20)))
    out, log = tmp_path / "results.csv", tmp_path / "log.txt"
    with log.open("wb") as stderr:
        parent = start_scrapy(
            "crawl", "urls", "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
            "-s", "LOG_LEVEL=INFO", stderr=stderr,
        )  # fmt: skip
    wait_for_pids(log, parent)  # the workers are still importing Scrapy
    parent.send_signal(signal.SIGINT)
    assert parent.wait(120) == 1
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "KeyboardInterrupt" not in text
    assert not (tmp_path / ".results.csv.workers").exists()  # merged, or empty and removed


def test_the_parent_shows_the_whole_runs_progress(server_loop: ServerLoop, tmp_path: Path) -> None:
    site = server_loop.http(recording_app(Arrivals()))
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "# forty entries\n" + "".join(f"{site}/page?key={i}&s=0.1\n" for i in range(40))
    )
    out = tmp_path / "results.csv"
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "CRAWLER_PROGRESS_INTERVAL=0.3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    whole = re.findall(
        r"\[crawler\.scale\.parts_progress\] INFO: Progress: (\d+)/40 rows \([\d.]+%\), .* \(2 workers\)",
        result.stderr,
    )
    assert whole, result.stderr[-3000:]
    counts = [int(count) for count in whole]
    assert counts == sorted(counts)
    assert counts[-1] <= 40
    assert not re.search(r"\[worker \d/2\] .*Progress: ", result.stderr)  # the parent's only
    assert len(read_rows(out)) == 40


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie no one reaps does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 60
    while any(running(pid) for pid in pids):
        assert time.monotonic() < deadline, "the workers outlived their parent"
        time.sleep(0.02)


def parts_rows(out: Path) -> set[str]:
    """The keys of the pages with a row in the parts (and journal) of ``out``."""
    keys = set()  # line N checks the page of key N-1 (rows show key=*** masked)
    for part in out.parent.glob(f".{out.name}.workers/*.csv"):
        keys |= {str(int(row["line"]) - 1) for row in read_rows(part)}
    return keys


@pytest.mark.parametrize("victims", ["parent", "parent and workers"])
def test_after_a_kill_the_same_command_finishes_the_list_and_checks_nothing_twice(
    server_loop: ServerLoop, tmp_path: Path, victims: str
) -> None:
    arrivals = Arrivals()
    site = server_loop.http(recording_app(arrivals))
    urls = tmp_path / "urls.txt"
    entries = 600
    urls.write_text("".join(f"{site}/page?key={i}&s=0.05\n" for i in range(entries)))
    out, log = tmp_path / "results.csv", tmp_path / "log.txt"
    with log.open("wb") as stderr:
        parent = start_scrapy(
            "crawl", "urls", "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "LOG_LEVEL=INFO", stderr=stderr,
        )  # fmt: skip
    pids = wait_for_pids(log, parent)
    for shard in range(2):
        wait_for_lines(tmp_path / ".results.csv.workers" / f"results.{shard}.csv", 20, parent)
    for pid in [parent.pid] + (pids if victims != "parent" else []):
        os.kill(pid, signal.SIGKILL)  # a power cut kills them all at once
    parent.wait(30)
    wait_until_gone(pids)
    asked = len(arrivals.requests)
    assert asked < entries, "the workers stopped with their parent"
    done = parts_rows(out)
    assert len(done) >= 40

    rerun = scrapy_crawl(
        "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"{len(done)} entries already have a row" in rerun.stderr
    rows = read_rows(out)
    assert [int(row["line"]) for row in rows] == list(range(1, entries + 1))
    assert all(arrivals.requests[key] == 1 for key in done), "a finished row was checked again"
    if victims == "parent":  # the workers stopped as on Ctrl-C: every page sent has its row
        assert sorted(arrivals.requests.values()) == [1] * entries
    else:  # only pages on the wire at the power cut were asked for twice: 8 per worker
        assert sum(count > 1 for count in arrivals.requests.values()) <= 2 * 8
    assert not (tmp_path / ".results.csv.workers").exists()


def test_a_second_run_into_the_same_output_is_refused_while_the_first_runs(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    gate = Gate(server_loop)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{gate.site}/page?key={i}\n" for i in range(20)))
    out, log = tmp_path / "results.csv", tmp_path / "log.txt"
    with log.open("wb") as stderr:
        first = start_scrapy(
            "crawl", "urls", "-a", f"urls={urls}", "-a", "workers=2", "-O", str(out),
            "-s", "LOG_LEVEL=INFO", stderr=stderr,
        )  # fmt: skip
    wait_for_pids(log, first)
    gate.wait_for_arrivals(1)  # the first run's workers are crawling, held at the gate
    second = scrapy_crawl("-a", f"urls={urls}", "-a", "workers=2", "-O", str(out))
    gate.open()
    assert second.returncode == 1
    assert "is in use by another run" in second.stderr, second.stderr[-3000:]
    assert "Started 2 workers" not in second.stderr
    assert first.wait(120) == 0, log.read_text()[-3000:]
    assert len(read_rows(out)) == 20


def test_parts_of_another_list_are_never_taken_nor_deleted(tmp_path: Path) -> None:
    parts = tmp_path / ".results.csv.workers"
    parts.mkdir()
    (parts / "run.json").write_text('{"spider": "urls", "urls": "other.txt"}')
    part = parts / "results.0.csv"
    part.write_text("url,source,line,outcome\nhttp://a.test/,other.txt,1,ok\n")
    urls = tmp_path / "urls.txt"
    urls.write_text("http://a.test/\n")
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-a", "workers=2", "-O", str(tmp_path / "results.csv")
    )
    assert result.returncode == 1
    assert "holds the rows of an unfinished run of another list" in result.stderr
    assert "Traceback" not in result.stderr
    assert part.read_text() == "url,source,line,outcome\nhttp://a.test/,other.txt,1,ok\n"
