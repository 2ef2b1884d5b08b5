"""Every argument and ``CRAWLER_*`` setting the docs document, used once through the command
line as a user types it (a real ``scrapy crawl`` subprocess), and a check that none is missed.

The settings are the one table of ``docs/settings.md``; the arguments are listed in
``docs/checking.md``."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from crawler.names import CRAWLER_SETTINGS, SPIDER_ARGUMENTS
from crawler.scale.redis.config import CONSUMER_GROUP, RedisJob
from tests._apps import checker_app
from tests._crawl import read_rows
from tests._scrapy import PROJECT_ROOT, run_scrapy, scrapy_crawl, start_scrapy, wait_for_lines

if TYPE_CHECKING:
    import asyncio

    from tests.servers import ServerLoop

TESTS = Path(__file__).resolve().parent
SETTINGS_PAGE = PROJECT_ROOT / "docs" / "settings.md"
ARGUMENTS_PAGE = PROJECT_ROOT / "docs" / "checking.md"


def _documented_settings() -> set[str]:
    return set(
        re.findall(r"^\| `(CRAWLER_[A-Z0-9_]+)` \|", SETTINGS_PAGE.read_text(), re.MULTILINE)
    )


def _command_line_tests() -> str:
    """The source of every test module that runs project commands as subprocesses."""
    return "\n".join(
        path.read_text()
        for path in sorted(TESTS.glob("test_*.py"))
        if "tests._scrapy import" in path.read_text()
    )


def test_the_settings_page_documents_every_setting_the_code_reads_and_no_other() -> None:
    assert _documented_settings() == CRAWLER_SETTINGS


def test_the_checking_page_documents_every_argument() -> None:
    text = ARGUMENTS_PAGE.read_text()
    missing = [name for name in SPIDER_ARGUMENTS if not re.search(rf"`(-a )?{name}[`=]", text)]
    assert missing == []


WRITTEN_BY_THE_ADDON = {"CRAWLER_FALLBACK_HTTP_HANDLER", "CRAWLER_FALLBACK_HTTPS_HANDLER"}
"""Settings the add-on writes for chaining (tests/test_addon.py checks them), not users."""


def test_every_documented_setting_and_argument_is_used_by_a_command_line_test() -> None:
    source = _command_line_tests()
    settings = _documented_settings() - WRITTEN_BY_THE_ADDON
    unused = [name for name in sorted(settings) if f"{name}=" not in source]
    assert unused == []
    unused = [name for name in SPIDER_ARGUMENTS if not re.search(rf"[\"']{name}=", source)]
    assert unused == []


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def _list(tmp_path: Path, *lines: str) -> Path:
    urls = tmp_path / "links.txt"
    urls.write_text("".join(f"{line}\n" for line in lines))
    return urls


def test_include_and_shard_arguments(site: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, *(f"{site}/ok?n={n}" for n in range(6)), f"{site}/status/404")
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-a", "include=n=[0-2]", "-O", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = [row["outcome"] for row in sorted(read_rows(out), key=lambda r: int(r["line"]))]
    assert outcomes == ["ok"] * 3 + ["excluded"] * 4
    lines: list[int] = []
    for shard in ("1/2", "2/2"):
        scrapy_crawl("-a", f"urls={urls}", "-a", f"shard={shard}", "-O", str(out))
        lines += [int(row["line"]) for row in read_rows(out)]
    assert sorted(lines) == list(range(1, 8))  # each entry in exactly one shard


def test_timing_off_and_private_addresses_excluded(site: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, f"{site}/ok")
    out = tmp_path / "out.csv"
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_TIMING_ENABLED=False"
    )
    (row,) = read_rows(out)
    assert (result.returncode, row["outcome"], row["ttfb_ms"], row["connect_ms"]) == (
        0,
        "ok",
        "",
        "",
    )
    scrapy_crawl("-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_EXCLUDE_PRIVATE=True")
    (row,) = read_rows(out)
    assert (row["outcome"], row["ok"]) == ("excluded", "")


def test_dns_cache_keepalive_and_resolver_settings(site: str, tmp_path: Path) -> None:
    port = site.rsplit(":", 1)[1]
    urls = _list(tmp_path, *(f"http://localhost:{port}/ok?n={n}" for n in range(3)))
    out = tmp_path / "out.csv"
    common = ("-a", f"urls={urls}", "-O", str(out), "-s", "CONCURRENT_REQUESTS=1")
    scrapy_crawl(*common, "-s", "CRAWLER_DNS_RESOLVER=threaded")
    rows = read_rows(out)
    assert sorted(row["connection_reused"] for row in rows) == ["false", "true", "true"]
    scrapy_crawl(
        *common, "-s", "CRAWLER_KEEPALIVE_TIMEOUT=0", "-s", "CRAWLER_DNS_CACHE_TTL=0",
        "-s", "CRAWLER_READ_AHEAD=1",
    )  # fmt: skip
    rows = read_rows(out)
    assert [row["connection_reused"] for row in rows] == ["false"] * 3
    assert all(row["dns_ms"] for row in rows)  # resolved again for every connection


def test_connect_timeout(server_loop: ServerLoop, tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never answers the TLS handshake

    port = server_loop.tcp(silent)
    urls = _list(tmp_path, f"https://127.0.0.1:{port}/")
    out = tmp_path / "out.csv"
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_CONNECT_TIMEOUT=0.5",
        "-s", "RETRY_TIMES=0",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    (row,) = read_rows(out)
    assert row["outcome"] == "connect_timeout"
    assert 400 < float(row["total_ms"]) < 10_000


def test_retry_after_max(site: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, f"{site}/retry-after?key=max&wait=5")
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_RETRY_AFTER_MAX=1")
    assert result.returncode == 2, result.stderr[-3000:]
    (row,) = read_rows(out)
    assert (row["outcome"], row["attempts"], row["retry_after"]) == ("rate_limited", "1", "5.0")


def test_summary_file_and_report_files(site: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, f"{site}/ok", f"{site}/status/404")
    summary, html, markdown, junit = (
        tmp_path / name for name in ("s.json", "r.html", "r.md", "junit.xml")
    )
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(tmp_path / "out.csv"),
        "-s", f"CRAWLER_SUMMARY_FILE={summary}",
        "-s", f"CRAWLER_REPORT_FILES={html},{markdown},{junit}",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    data = json.loads(summary.read_text())
    assert (data["rows"], data["ok"], data["not_ok"]) == (2, 1, 1)
    assert f"{site}/status/404" in html.read_text()
    assert f"{site}/status/404" in markdown.read_text()
    assert 'failures="1"' in junit.read_text()


def test_redis_wait_keeps_a_worker_for_new_entries(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    job = ("--redis", redis_url, "--job", "waiting")
    assert run_scrapy("feed", *job, str(_list(tmp_path, f"{site}/ok?n=1"))).returncode == 0
    out = tmp_path / "worker.csv"
    worker = start_scrapy(
        "crawl", "urls", "-a", f"redis={redis_url}", "-O", str(out),
        "-s", "CRAWLER_REDIS_JOB=waiting", "-s", "CRAWLER_REDIS_WAIT=True",
    )  # fmt: skip
    try:
        wait_for_lines(out, 2, worker)  # header and the only row
        merged = tmp_path / "merged.csv"
        deadline = time.monotonic() + 60  # the row's acknowledgement follows it
        while run_scrapy("merge", *job, "-O", str(merged), str(out)).returncode != 0:
            assert time.monotonic() < deadline, "the job was never drained"
        assert worker.poll() is None  # drained, and still waiting for more
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=60)
    assert [row["url"] for row in read_rows(out)] == [f"{site}/ok?n=1"]


def test_redis_max_deliveries_abandons_an_entry_that_outlived_its_workers(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    job = ("--redis", redis_url, "--job", "poison")
    urls = _list(tmp_path, f"{site}/ok?poison", f"{site}/ok?fine")
    assert run_scrapy("feed", *job, str(urls)).returncode == 0
    entries = RedisJob.checked(url=redis_url, name="poison").entries_key
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:  # a worker that died
        client.xreadgroup(CONSUMER_GROUP, "dead-1", {entries: ">"}, count=1)
    out = tmp_path / "survivor.csv"
    result = run_scrapy(
        "crawl", "urls", "-a", f"redis={redis_url}", "-a", "job=poison", "-O", str(out),
        "-s", "CRAWLER_REDIS_MAX_DELIVERIES=1", "-s", "CRAWLER_REDIS_LEASE=1",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    outcomes = {row["line"]: row["outcome"] for row in read_rows(out)}
    assert outcomes == {"1": "abandoned", "2": "ok"}


def test_accept_and_cache_settings(site: str, tmp_path: Path) -> None:
    urls = _list(tmp_path, f"{site}/ok", f"{site}/status/404")
    out, cache = tmp_path / "out.csv", tmp_path / "cache.sqlite"
    accept = ("-s", "CRAWLER_ACCEPT=200..=299,404")

    def cached(*settings: str) -> list[str]:
        result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), *accept, *settings)
        assert result.returncode == 0, result.stderr[-3000:]
        return [row["cached"] for row in sorted(read_rows(out), key=lambda r: r["line"])]

    assert cached("-s", f"CRAWLER_CACHE={cache}") == ["false", "false"]  # both accepted, stored
    assert cached("-s", f"CRAWLER_CACHE={cache}") == ["true", "true"]
    assert cached("-s", f"CRAWLER_CACHE={cache}", "-s", "CRAWLER_CACHE_MAX_AGE=0.001") == [
        "false",
        "false",
    ]
    other = tmp_path / "other.sqlite"
    skip = ("-s", f"CRAWLER_CACHE={other}", "-s", "CRAWLER_CACHE_SKIP_STATUSES=404")
    cached(*skip)
    assert cached(*skip) == ["true", "false"]  # the 404 was never stored


def _documented_defaults() -> dict[str, str]:
    table = (PROJECT_ROOT / "docs" / "settings.md").read_text()
    return dict(re.findall(r"^\| `(CRAWLER_[A-Z0-9_]+)` \| ([^|]+) \|", table, re.MULTILINE))


def test_the_settings_page_shows_each_settings_one_default() -> None:
    import ast

    from crawler.names import SETTINGS

    shown = {}
    for name, cell in _documented_defaults().items():
        text = cell.strip()
        if text.startswith("`") and text.endswith("`") and text.count("`") == 2:
            shown[name] = ast.literal_eval(text.strip("`"))
        elif "`, `" in text:  # a list of names: `a`, `b`
            shown[name] = [part.strip(" `") for part in text.split(",")]
    expected = {name: SETTINGS[name] for name in shown}
    assert {name: sorted(v) if isinstance(v, list) else v for name, v in shown.items()} == {
        name: sorted(v) if isinstance(v, list) else v for name, v in expected.items()
    }
    assert len(shown) >= len(SETTINGS) - 2  # all but the add-on's fallbacks
