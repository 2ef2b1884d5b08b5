"""Per-host settings (``CRAWLER_HOSTS``): the table, and what each key does in a crawl."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.settings import Settings

from crawler.checker.hosts import HostTable, add_download_slots
from tests._apps import Arrivals, checker_app, recording_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


def table(hosts: Any) -> HostTable:
    return HostTable.from_settings(Settings({"CRAWLER_HOSTS": hosts}))


def test_the_most_specific_entry_wins() -> None:
    hosts = table(
        {
            "Docs.Example.org": {"timeout": 3},
            "*.example.org": {"timeout": 1},
            "*.docs.example.org": {"timeout": 2},
            "example.com": {"timeout": 4},
        }
    )
    found = {
        host: rule.key if (rule := hosts.match(host)) else None
        for host in (
            "docs.example.org",
            "a.docs.example.org",
            "b.example.org",
            "example.org",
            "EXAMPLE.COM",
            "www.example.com",
            None,
        )
    }
    assert found == {
        "docs.example.org": "docs.example.org",
        "a.docs.example.org": "*.docs.example.org",
        "b.example.org": "*.example.org",
        "example.org": None,
        "EXAMPLE.COM": "example.com",
        "www.example.com": None,
        None: None,
    }


def test_slots_for_concurrency_and_interval_only() -> None:
    hosts = table(
        {
            "a.com": {"concurrency": 2, "interval": 1.5},
            "*.b.com": {"concurrency": 1},
            "c.com": {"headers": {"X-Token": "t"}, "accept": "200..=299,403", "method": "head"},
        }
    )
    assert hosts.download_slots() == {
        "a.com": {"concurrency": 2, "delay": 1.5, "jitter": 0.0},
        "*.b.com": {"concurrency": 1},
    }
    rule = hosts.match("c.com")
    assert rule is not None
    assert (rule.slot, rule.headers, str(rule.accept), rule.method) == (
        None,
        (("X-Token", "t"),),
        "200..=299,403",
        "head",
    )


def test_download_slots_of_the_project_win() -> None:
    settings = Settings(
        {
            "CRAWLER_HOSTS": '{"a.com": {"concurrency": 2}, "b.com": {"interval": 1}}',
            "DOWNLOAD_SLOTS": {"a.com": {"concurrency": 9}},
        }
    )
    add_download_slots(settings)
    assert settings.getdict("DOWNLOAD_SLOTS") == {
        "a.com": {"concurrency": 9},
        "b.com": {"delay": 1.0, "jitter": 0.0},
    }


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ("{not json", "CRAWLER_HOSTS is not valid JSON"),
        (["a.com"], "CRAWLER_HOSTS must be a dict of host -> settings"),
        ({"": {}}, "CRAWLER_HOSTS: '' is not a host name or pattern"),
        ({"a.com": 2}, r"CRAWLER_HOSTS\['a.com'\] must be a dict of settings"),
        ({"a.com": {"delay": 1}}, r"unknown key 'delay'; use concurrency, interval"),
        ({"a.com": {"concurrency": 0}}, r"\['concurrency'\] must be an integer >= 1, got 0"),
        ({"a.com": {"concurrency": True}}, r"\['concurrency'\] must be an integer >= 1"),
        ({"a.com": {"interval": -1}}, r"\['interval'\] must be >= 0, got -1"),
        ({"a.com": {"timeout": 0}}, r"\['timeout'\] must be > 0, got 0"),
        ({"a.com": {"timeout": "5"}}, r"\['timeout'\] must be a number, got '5'"),
        ({"a.com": {"headers": {"X": 1}}}, r"\['headers'\] must map header names to strings"),
        ({"a.com": {"accept": "2xx"}}, r"\['accept'\]: cannot read '2xx'"),
        ({"a.com": {"method": "post"}}, r"\['method'\]='post' is not a check method"),
    ],
)
def test_bad_entries_name_the_entry_and_the_fix(hosts: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        table(hosts)


@coroutine_test
async def test_headers_timeout_accept_and_method_of_one_host(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    arrivals = Arrivals()
    other = server_loop.http(recording_app(arrivals))
    ruled = other.replace("127.0.0.1", "localhost")
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{ruled}/page?key=ruled\n{other}/page?key=other\n"
        f"{ruled}/status/404\n{other}/status/404\n"
        f"{ruled}/page?key=ruled-slow&s=3\n{other}/page?key=other-slow&s=1\n"
    )
    out = tmp_path / "out.jsonl"
    hosts = {
        "localhost": {
            "headers": {"X-Token": "secret", "User-Agent": "checker/1"},
            "timeout": 0.5,
            "accept": "200..=299,404",
            "method": "head",
        }
    }
    await crawl_urls(out, str(urls), CRAWLER_HOSTS=hosts, RETRY_TIMES=0, DOWNLOAD_TIMEOUT=5)
    rows = {row["line"]: row for row in read_rows(out)}
    assert {line: (row["outcome"], row["status"], row["method"]) for line, row in rows.items()} == {
        1: ("ok", 200, "HEAD"),
        2: ("ok", 200, "GET"),
        3: ("ok", 404, "GET"),  # HEAD 404, then GET 404: accepted for this host only
        4: ("http_error", 404, "GET"),
        5: ("timeout", None, "GET"),
        6: ("ok", 200, "GET"),
    }
    assert "0.5 seconds" in rows[5]["error"]
    ruled_headers, other_headers = arrivals.headers["ruled"], arrivals.headers["other"]
    assert (ruled_headers["X-Token"], ruled_headers["User-Agent"]) == ("secret", "checker/1")
    assert "X-Token" not in other_headers
    assert other_headers["User-Agent"].startswith("Scrapy/")


@pytest.mark.parametrize("key", ["localhost", "local*"])
@coroutine_test
async def test_concurrency_and_interval_of_one_host(
    server_loop: ServerLoop, tmp_path: Path, key: str
) -> None:
    ruled_arrivals, other_arrivals = Arrivals(), Arrivals()
    ruled = server_loop.http(recording_app(ruled_arrivals)).replace("127.0.0.1", "localhost")
    other = server_loop.http(recording_app(other_arrivals))
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "".join(f"{ruled}/page?key=r{i}&s=0.1\n" for i in range(4))
        + "".join(f"{other}/page?key=o{i}&s=0.2\n" for i in range(4))
    )
    out = tmp_path / "out.jsonl"
    hosts = {key: {"concurrency": 1, "interval": 0.3}}
    await crawl_urls(out, str(urls), CRAWLER_HOSTS=hosts)
    assert [row["outcome"] for row in read_rows(out)] == ["ok"] * 8
    assert ruled_arrivals.max_inflight == 1
    assert other_arrivals.max_inflight >= 2  # the other host keeps the global limits
    ruled_times = sorted(ruled_arrivals.times.values())
    gaps = [later - earlier for earlier, later in itertools.pairwise(ruled_times)]
    assert min(gaps) >= 0.25  # 0.3 s between starts (less what the network jitters)
    assert max(other_arrivals.times.values()) < ruled_times[1]


@coroutine_test
async def test_a_urls_clock_starts_with_its_download_not_its_wait_for_a_turn(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(recording_app(Arrivals()))
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site}/page?key=t{i}\n" for i in range(5)))
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_HOSTS={"127.0.0.1": {"interval": 0.25}})
    rows = sorted(read_rows(out), key=lambda row: row["started_at"])
    assert [row["outcome"] for row in rows] == ["ok"] * 5
    starts = [datetime.fromisoformat(row["started_at"]).timestamp() for row in rows]
    # all five entered the downloader at once; each started its download in its turn
    assert min(later - earlier for earlier, later in itertools.pairwise(starts)) >= 0.2
    waited_ms = (starts[-1] - starts[0]) * 1000
    assert rows[-1]["total_ms"] < waited_ms  # its ~1 s wait for a turn is not in its time
    assert all(row["total_ms"] >= row["ttfb_ms"] + row["download_ms"] for row in rows)


@coroutine_test
async def test_a_hosts_concurrency_holds_without_an_interval(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    arrivals = Arrivals()
    site = server_loop.http(recording_app(arrivals))
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site}/page?key=c{i}&s=0.2\n" for i in range(12)))
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_HOSTS={"127.0.0.1": {"concurrency": 2}})
    rows = read_rows(out)
    assert [row["outcome"] for row in rows] == ["ok"] * 12
    assert arrivals.max_inflight == 2
    # the turn is waited for before the download starts: no row counts it as its own time
    assert {row["queue_ms"] for row in rows} == {0.0}


@coroutine_test
async def test_a_retry_waits_for_the_turns_handed_out_not_for_the_list(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(checker_app())
    urls = tmp_path / "urls.txt"  # a 503 (1 s backoff), then 200 URLs for the host's one turn
    urls.write_text(f"{site}/flaky?key=turn\n" + "".join(f"{site}/ok?i={i}\n" for i in range(200)))
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_HOSTS={"127.0.0.1": {"concurrency": 1}})
    written = [row["line"] for row in read_rows(out)]  # in the order the URLs finished
    assert sorted(written) == list(range(1, 202))
    # Scrapy hands a slot at most CONCURRENT_REQUESTS (64) requests at once; the retry goes
    # before the rest of the list (it would finish last at Scrapy's RETRY_PRIORITY_ADJUST=-1)
    assert written.index(1) <= 64, written.index(1)


@coroutine_test
async def test_a_backed_off_host_starts_no_waiting_url_until_the_hold_ends(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(checker_app())
    urls = tmp_path / "urls.txt"  # a 429 with Retry-After: 1, then five URLs waiting their turn
    urls.write_text(
        f"{site}/retry-after?key=hold&wait=1\n" + "".join(f"{site}/ok?h={i}\n" for i in range(5))
    )
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_HOSTS={"127.0.0.1": {"concurrency": 1}})
    rows = {row["line"]: row for row in read_rows(out)}
    assert [rows[n]["outcome"] for n in range(1, 7)] == ["ok"] * 6
    held_from = datetime.fromisoformat(rows[1]["started_at"]).timestamp()
    starts = [datetime.fromisoformat(rows[n]["started_at"]).timestamp() for n in range(2, 7)]
    # one may take the turn the 429 freed before the hold is set; the others wait it out
    assert sum(start < held_from + 0.9 for start in starts) <= 1, starts
