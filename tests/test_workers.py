"""Real worker processes sharing a list through a real Redis, killed, merged, cut off."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
import redis

from tests._apps import checker_app, paced_url_list
from tests._crawl import read_rows
from tests._scrapy import (
    PROJECT_ROOT,
    run_scrapy,
    scrapy_command,
    start_scrapy,
    wait_for_lines,
)
from tests.redis_server import RedisServer, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.servers import ServerLoop

ENTRIES = 3000


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of this test's own, which the test may stop and start again (data kept)."""
    server = RedisServer(tmp_path_factory.mktemp("own-redis"), persist=True)
    yield server
    server.stop()


def worker(redis_url: str, out: Path, *settings: str) -> list[str]:
    return [
        "crawl", "urls", "-a", f"redis={redis_url}", "-O", str(out),
        "-s", "CONCURRENT_REQUESTS=32", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32",
        "-s", "CRAWLER_REDIS_LEASE=2", "-s", "CRAWLER_SCRAPY_LOG=True", *settings,
    ]  # fmt: skip  # the tests read Scrapy's stats dump


def stat(stderr: str, name: str) -> int:
    match = re.search(rf"'{re.escape(name)}': (\d+)", stderr)
    return int(match.group(1)) if match else 0


def test_feed_then_merge_one_worker(site: str, redis_url: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    paced_url_list(site, urls, 300)
    fed = run_scrapy("feed", "--redis", redis_url, str(urls))
    assert fed.returncode == 0, fed.stderr
    assert "Fed 300 entries (3 duplicates)" in fed.stdout

    part = tmp_path / "part.csv"
    crawled = run_scrapy(*worker(redis_url, part))
    assert crawled.returncode == 2, crawled.stderr[-2000:]  # the bad lines are not ok

    merged = tmp_path / "merged.jsonl"
    result = run_scrapy("merge", "--redis", redis_url, "-O", str(merged), str(part))
    assert result.returncode == 1  # a CSV part cannot become JSON: one line, exit 1
    assert result.stderr.count("\n") == 1
    assert "export the workers to .jsonl" in result.stderr

    merged = tmp_path / "merged.csv"
    result = run_scrapy("merge", "--redis", redis_url, "-O", str(merged), str(part))
    assert result.returncode == 0, result.stderr
    rows = read_rows(merged)
    assert [int(row["line"]) for row in rows] == list(range(1, 301))


def test_a_killed_worker_loses_nothing_and_no_entry_gets_two_rows(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    paced_url_list(site, urls, ENTRIES)
    assert run_scrapy("feed", "--redis", redis_url, str(urls)).returncode == 0

    parts = [tmp_path / "worker-1.jsonl", tmp_path / "worker-2.jsonl"]
    victim = start_scrapy(*worker(redis_url, parts[0]), stderr=subprocess.DEVNULL)
    survivor = start_scrapy(*worker(redis_url, parts[1]))
    wait_for_lines(parts[0], 300, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    _, stderr_bytes = survivor.communicate(timeout=180)
    stderr = stderr_bytes.decode()
    assert survivor.returncode == 2, stderr[-3000:]  # finished; the bad lines are not ok
    with redis.Redis.from_url(redis_url) as client:  # the victim had entries in hand
        assert client.xpending("crawler:urls:entries", "workers")["pending"] == 0
    assert stat(stderr, "crawler/redis/entries_taken_over_count") > 0

    victim_rows = len(read_rows(parts[0]))
    survivor_rows = len(read_rows(parts[1]))
    assert victim_rows >= 300
    assert victim_rows + survivor_rows >= ENTRIES

    merged = tmp_path / "merged.jsonl"
    result = run_scrapy("merge", "--redis", redis_url, "-O", str(merged), *map(str, parts))
    assert result.returncode == 0, result.stderr
    rows = read_rows(merged)
    assert [row["line"] for row in rows] == list(range(1, ENTRIES + 1))  # one row each
    assert sum(row["outcome"] == "invalid_url" for row in rows) == len(range(0, ENTRIES, 97))
    lines = urls.read_text().splitlines()
    repeated = sum(line in lines[:n] for n, line in enumerate(lines) if line != "not a url")
    assert sum(row["outcome"] == "duplicate" for row in rows) == repeated > 0
    assert {row["outcome"] for row in rows} == {"ok", "invalid_url", "duplicate"}


def test_unreachable_redis_is_one_line_and_exit_1(tmp_path: Path) -> None:
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    result = run_scrapy(*worker(nothing_listens, tmp_path / "w.csv"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "is unreachable" in errors[0]
    assert "Traceback" not in result.stderr


def finish(process: subprocess.Popen[bytes], timeout: float = 120) -> bytes:
    """Wait for ``process``; past ``timeout``, kill it and fail with the end of its log."""
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"the worker ran over {timeout} s; its log ends:\n{stderr.decode()[-6000:]}")


def fed_worker(site: str, redis_url: str, out: Path) -> subprocess.Popen[bytes]:
    """Feed the paced list into ``redis_url`` and start a worker; return once it wrote 200 rows."""
    urls = out.with_name("urls.txt")
    paced_url_list(site, urls, ENTRIES)
    assert run_scrapy("feed", "--redis", redis_url, str(urls)).returncode == 0
    process = start_scrapy(*worker(redis_url, out))
    wait_for_lines(out, 200, process)
    return process


def test_redis_going_away_mid_run_stops_the_worker_cleanly(
    site: str, own_redis: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "worker.jsonl"
    process = fed_worker(site, own_redis.url, out)
    own_redis.stop()
    stderr = finish(process).decode()
    assert process.returncode == 1, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, stderr[-3000:]
    assert "stopped answering" in errors[0]
    assert "'finish_reason': 'redis_unavailable'" in stderr
    rows = read_rows(out)
    assert len({row["line"] for row in rows}) == len(rows) < ENTRIES
    assert all(json.dumps(row) for row in rows)


def test_redis_restarting_mid_run_loses_nothing(
    site: str, own_redis: RedisServer, tmp_path: Path
) -> None:
    first = tmp_path / "worker-1.jsonl"
    process = fed_worker(site, own_redis.url, first)
    own_redis.stop()
    own_redis.start()  # the same data, from its append-only file
    stderr = finish(process)
    # A quick restart is ridden through by the client's retries; a slow one stops the worker
    # with one error line. Either way a second worker finishes what is left.
    assert process.returncode in (1, 2), stderr.decode()[-3000:]
    if process.returncode == 1:
        assert "stopped answering" in stderr.decode()
    second = tmp_path / "worker-2.jsonl"
    finishing = run_scrapy(*worker(own_redis.url, second))
    assert finishing.returncode in (0, 2), finishing.stderr[-3000:]

    merged = tmp_path / "merged.jsonl"
    result = run_scrapy(
        "merge", "--redis", own_redis.url, "-O", str(merged), str(first), str(second)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [row["line"] for row in read_rows(merged)] == list(range(1, ENTRIES + 1))


def test_a_worker_never_overwrites_rows_it_wrote(redis_url: str, tmp_path: Path) -> None:
    out = tmp_path / "worker.csv"
    out.write_text("url,source,line\nhttp://a/,list.txt,1\n")
    result = run_scrapy(*worker(redis_url, out))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "append with -o" in errors[0]
    assert out.read_text() == "url,source,line\nhttp://a/,list.txt,1\n"


@pytest.mark.parametrize("command", ["feed", "merge"])
def test_a_redis_error_mid_command_is_one_line_and_exit_1(
    command: str, redis_url: str, tmp_path: Path
) -> None:
    with redis.Redis.from_url(redis_url) as client:  # Redis answers PING, then fails a command
        client.set("crawler:urls:meta", "not a hash")
    part = tmp_path / "part.jsonl"
    part.write_text("")
    args = {"feed": ["-"], "merge": ["-O", str(tmp_path / "merged.jsonl"), str(part)]}[command]
    result = run_scrapy(command, "--redis", redis_url, *args, stdin="http://a.test/\n")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr[-3000:]
    assert "WRONGTYPE" in result.stderr


def test_ctrl_c_stops_a_feed_with_one_line_and_marks_the_job_interrupted(
    redis_url: str,
) -> None:
    feeder = subprocess.Popen(
        scrapy_command("feed", "--redis", redis_url, "-"),
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert feeder.stdin is not None
    # Enough lines for the input to be sniffed, too few for a batch: the feed waits for more.
    feeder.stdin.write(b"".join(b"http://a.test/%d\n" % n for n in range(900)))
    feeder.stdin.flush()
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        deadline = time.monotonic() + 60
        while client.hget("crawler:urls:meta", "state") != "feeding":
            assert feeder.poll() is None, feeder.communicate()[1].decode()
            assert time.monotonic() < deadline, "the feed never began"
            time.sleep(0.02)
        feeder.send_signal(signal.SIGINT)
        # Standard input stays open until the feeder has exited: its feed can end only by
        # the signal (communicate() would close it at once, racing the signal).
        try:
            feeder.wait(60)
        except subprocess.TimeoutExpired:
            feeder.kill()
        _, stderr = feeder.communicate()
        state = client.hget("crawler:urls:meta", "state")
    assert feeder.returncode == 1
    assert b"Traceback" not in stderr
    assert stderr.count(b"\n") == 1, stderr.decode()[-3000:]
    assert b"scrapy feed --reset" in stderr
    assert state == "interrupted"
