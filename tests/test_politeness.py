"""Per-host politeness: backoff on 429/503 that holds back one host only, a retry budget."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.checker.politeness import PolitenessConfig
from crawler.handler.holds import hold_slot
from tests._apps import checker_app, politeness_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def limits(server_loop: ServerLoop) -> str:
    return server_loop.http(politeness_app())


def finished_at(row: dict[str, Any]) -> float:
    """Wall-clock UNIX time at which the row's URL was done."""
    return datetime.fromisoformat(row["started_at"]).timestamp() + row["total_ms"] / 1000


@coroutine_test
async def test_a_held_back_host_does_not_slow_down_the_others(
    limits: str, server_loop: ServerLoop, tmp_path: Path
) -> None:
    # Two hosts: "localhost" rate limits every URL once (Retry-After 2 s), 127.0.0.1 is fine.
    limited = limits.replace("127.0.0.1", "localhost")
    healthy = server_loop.http(checker_app())
    lines = [f"{limited}/limited?key=iso{i}&wait=2" for i in range(8)]
    lines += [f"{healthy}/ok?i={i}" for i in range(8)]
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    # Fewer places than held-back URLs, and those first in the list: a wait that kept its
    # place (a request sleeping in a middleware) would stall everything.
    crawler = await crawl_urls(
        out,
        str(urls),
        CONCURRENT_REQUESTS=4,
        CONCURRENT_REQUESTS_PER_DOMAIN=2,
        RETRY_TIMES=1,
        CRAWLER_RETRY_AFTER_MAX=5,
    )
    rows = read_rows(out)
    slow = [row for row in rows if "localhost" in row["url"]]
    fast = [row for row in rows if "localhost" not in row["url"]]
    assert [(row["outcome"], row["attempts"]) for row in slow] == [("ok", 2)] * 8
    assert all(row["total_ms"] >= 2000 for row in slow)
    assert [row["outcome"] for row in fast] == ["ok"] * 8
    # every healthy URL was done long before the held-back host got its first retry answered
    assert max(map(finished_at, fast)) < min(map(finished_at, slow)) - 1.0
    stats = crawler.stats.get_stats()
    assert stats["crawler/politeness/backoff_count/localhost"] == 8
    assert "crawler/politeness/backoff_count/127.0.0.1" not in stats


@coroutine_test
async def test_backoff_doubles_without_retry_after_and_honours_http_dates(
    limits: str, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{limits}/unavailable?key=exp&n=2\n{limits}/limited?key=date&wait=date:2\n")
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(
        out, str(urls), RETRY_TIMES=2, CRAWLER_BACKOFF_BASE=0.3, CRAWLER_RETRY_AFTER_MAX=5
    )
    rows = {row["line"]: row for row in read_rows(out)}
    doubled = rows[1]
    assert (doubled["outcome"], doubled["attempts"]) == ("ok", 3)
    assert doubled["total_ms"] >= 300 + 600  # 0.3 s, then 0.6 s
    dated = rows[2]
    assert (dated["outcome"], dated["attempts"]) == ("ok", 2)
    assert dated["total_ms"] >= 1000  # an HTTP date has whole seconds: 1-2 s ahead
    assert crawler.stats.get_value("crawler/politeness/backoff_count/127.0.0.1") == 3


@coroutine_test
async def test_backoff_is_capped(limits: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{limits}/unavailable?key=cap&n=1\n{limits}/limited?key=long&wait=60\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(
        out, str(urls), RETRY_TIMES=2, CRAWLER_BACKOFF_BASE=60, CRAWLER_RETRY_AFTER_MAX=0.2
    )
    rows = {row["line"]: row for row in read_rows(out)}
    assert (rows[1]["outcome"], rows[1]["attempts"]) == ("ok", 2)  # waited 0.2 s, not 60
    assert rows[1]["total_ms"] < 30_000
    assert (rows[2]["outcome"], rows[2]["attempts"], rows[2]["retry_after"]) == (
        "rate_limited",
        1,
        60,
    )


@coroutine_test
async def test_retry_budget_is_per_host_and_counts_every_kind_of_retry(
    limits: str, server_loop: ServerLoop, tmp_path: Path
) -> None:
    same_host = server_loop.http(checker_app())  # 127.0.0.1 too: the same host, another port
    other_host = same_host.replace("127.0.0.1", "localhost")
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "".join(f"{limits}/unavailable?key=budget{i}&n=1\n" for i in range(3))
        + f"{same_host}/status/502\n{other_host}/status/502\n"
    )
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(
        out,
        str(urls),
        RETRY_TIMES=2,
        CRAWLER_BACKOFF_BASE=0,
        CRAWLER_HOST_RETRY_BUDGET=3,
    )
    rows = {row["line"]: row for row in read_rows(out)}
    # 127.0.0.1 would make 5 retries (three 503s once, a 502 twice): 3 are allowed
    assert sum(rows[line]["attempts"] - 1 for line in range(1, 5)) == 3
    assert rows[5]["attempts"] == 3  # another host has a budget of its own
    stats = crawler.stats.get_stats()
    assert stats["crawler/politeness/retry_budget_exhausted_count/127.0.0.1"] >= 1
    assert "crawler/politeness/retry_budget_exhausted_count/localhost" not in stats


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CRAWLER_RETRY_AFTER_MAX", -1, "CRAWLER_RETRY_AFTER_MAX must be >= 0"),
        ("CRAWLER_BACKOFF_BASE", -0.5, "CRAWLER_BACKOFF_BASE must be >= 0"),
        ("CRAWLER_HOST_RETRY_BUDGET", -3, "CRAWLER_HOST_RETRY_BUDGET must be >= 0"),
    ],
)
def test_bad_settings_name_the_setting(name: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PolitenessConfig.from_settings(Settings({name: value}))


def test_defaults() -> None:
    config = PolitenessConfig.from_settings(Settings())
    assert (config.max_wait, config.backoff_base, config.host_retry_budget) == (10.0, 1.0, 0)


def test_no_slot_to_hold_without_a_running_downloader() -> None:
    assert hold_slot(get_crawler(), "example.com", 1.0) is False
