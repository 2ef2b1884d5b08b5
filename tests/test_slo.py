"""SLO gates: parsing thresholds, and slow URLs becoming ``slow`` rows and exit status 2."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings

from crawler.checker.outcomes import OUTCOMES
from crawler.checker.slo import Slo, SloPolicy
from crawler.items import UrlResult
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows
from tests._scrapy import scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def test_parse_thresholds() -> None:
    slo = Slo.parse(" ttfb_ms < 500 , total<=2000ms,")
    assert str(slo) == "ttfb_ms<500,total_ms<=2000"
    assert [(t.metric, t.limit, t.inclusive) for t in slo.thresholds] == [
        ("ttfb_ms", 500.0, False),
        ("total_ms", 2000.0, True),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ttfb_ms>500", "slo: cannot read 'ttfb_ms>500'; write METRIC<MS pairs"),
        ("speed_ms<5", "slo: unknown metric 'speed_ms'"),
        ("ttfb_ms<fast", "slo: cannot read 'ttfb_ms<fast'"),
        (" , ", "slo is empty"),
    ],
)
def test_bad_thresholds_name_the_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        Slo.parse(text, name="slo")


def row(url: str, **fields: float | bool | str) -> UrlResult:
    result = UrlResult(url=url, source="t", line=1, outcome="ok", ok=True)
    for name, value in fields.items():
        setattr(result, name, value)
    return result


def test_host_thresholds_replace_the_runs_for_their_metric() -> None:
    settings = Settings(
        {
            "CRAWLER_SLO": "ttfb_ms<100,total_ms<200",
            "CRAWLER_SLO_HOSTS": {"slow.example": "total_ms<5000", "a.example:8080": "ttfb_ms<10"},
        }
    )
    policy = SloPolicy.from_settings(settings)
    assert str(policy.for_url("http://fast.example/")) == "ttfb_ms<100,total_ms<200"
    assert str(policy.for_url("http://SLOW.example/x")) == "ttfb_ms<100,total_ms<5000"
    assert str(policy.for_url("http://a.example:8080/")) == "ttfb_ms<10,total_ms<200"
    assert str(policy.for_url("http://a.example/")) == "ttfb_ms<100,total_ms<200"

    slow = row("http://slow.example/", ttfb_ms=50.0, total_ms=300.0)
    assert policy.apply(slow) is False
    assert (slow.outcome, slow.ok) == ("ok", True)
    fast = row("http://fast.example/", ttfb_ms=50.0, total_ms=300.0)
    assert policy.apply(fast) is True
    assert (fast.outcome, fast.ok, fast.error) == (
        "slow",
        False,
        "slow: total_ms 300 ms, SLO total_ms<200",
    )


def test_only_accepted_rows_can_become_slow() -> None:
    policy = SloPolicy(Slo.parse("total_ms<1"))
    failed = row("http://a.example/", total_ms=500.0)
    failed.ok, failed.outcome = False, "timeout"
    assert policy.apply(failed) is False
    assert failed.outcome == "timeout"
    boundary = row("http://a.example/", total_ms=1.0)
    assert SloPolicy(Slo.parse("total_ms<=1")).apply(boundary) is False
    assert policy.apply(boundary) is True


def test_bad_host_setting_names_the_host() -> None:
    with pytest.raises(ValueError, match=r"CRAWLER_SLO_HOSTS\['a.example'\]: cannot read"):
        SloPolicy.from_settings(Settings({"CRAWLER_SLO_HOSTS": {"a.example": "fast"}}))


def test_slow_is_an_outcome() -> None:
    assert "slow" in OUTCOMES


@coroutine_test
async def test_crawl_marks_slow_rows(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/slow?s=1\n{site}/status/404\n")
    out = tmp_path / "results.jsonl"
    crawler = await crawl_urls(out, str(urls), CRAWLER_SLO="ttfb_ms<500")
    rows = {row["line"]: row for row in read_rows(out)}
    assert rows[1]["outcome"] == "ok"
    assert rows[2]["outcome"] == "slow"
    assert rows[2]["ok"] is False
    assert rows[2]["status"] == 200
    assert rows[2]["ttfb_ms"] >= 1000
    assert rows[2]["error"].startswith("slow: ttfb_ms ")
    assert rows[3]["outcome"] == "http_error"  # a failure stays what it was
    assert crawler.stats is not None
    assert crawler.stats.get_value("crawler/outcome_count/slow") == 1
    assert crawler.stats.get_value("crawler/rows_not_ok_count") == 2


@coroutine_test
async def test_host_setting_relaxes_the_spider_argument(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/slow?s=1\n")
    out = tmp_path / "results.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_SLO_HOSTS={"127.0.0.1": "ttfb_ms<60000"})
    (relaxed,) = read_rows(out)
    assert relaxed["outcome"] == "ok"


def test_slo_argument_sets_the_exit_status(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/slow?s=1\n")
    out = tmp_path / "results.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-a", "slo=ttfb_ms<500", "-O", str(out))
    assert result.returncode == 2, result.stderr[-2000:]
    assert sorted(r["outcome"] for r in read_rows(out)) == ["ok", "slow"]
    unlimited = scrapy_crawl("-a", f"urls={urls}", "-a", "slo=ttfb_ms<60000", "-O", str(out))
    assert unlimited.returncode == 0, unlimited.stderr[-2000:]


def test_bad_slo_argument_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = scrapy_crawl("-a", "slo=ttfb_ms>5", "-O", str(tmp_path / "r.csv"))
    assert result.returncode == 1
    assert "slo: cannot read 'ttfb_ms>5'" in result.stderr
    assert "Traceback" not in result.stderr
