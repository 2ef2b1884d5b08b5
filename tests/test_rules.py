"""Accept rules: include/exclude patterns and accepted timeouts, unit and end to end."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings

from crawler.checker.rules import UrlFilter, compile_patterns
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows, urls_crawler
from tests._scrapy import scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def test_excludes_are_a_deny_list() -> None:
    rules = UrlFilter.from_settings(Settings({"CRAWLER_EXCLUDE": [r"example\.com", "/private"]}))
    assert rules.reason("https://other.org/page") is None
    assert rules.reason("https://example.com/page") == (
        r"excluded: matches exclude pattern 'example\.com'"
    )
    assert rules.reason("https://other.org/private") == (
        "excluded: matches exclude pattern '/private'"
    )


def test_an_include_wins_over_an_exclude() -> None:
    rules = UrlFilter.from_settings(
        Settings({"CRAWLER_EXCLUDE": [r"example\.com"]}), include=r"example\.com/keep"
    )
    assert rules.reason("https://example.com/keep/this") is None
    assert rules.reason("https://example.com/page") is not None


def test_includes_alone_are_an_allow_list() -> None:
    rules = UrlFilter.from_settings(Settings({"CRAWLER_INCLUDE": ["^https://docs\\."]}))
    assert rules.reason("https://docs.example.org/a") is None
    assert rules.reason("https://www.example.org/a") == "excluded: matches no include pattern"


def test_no_patterns_exclude_nothing() -> None:
    assert UrlFilter.from_settings(Settings()).reason("http://anything/") is None


def test_a_string_is_one_pattern_never_split_on_commas() -> None:
    (pattern,) = compile_patterns("a{1,3}b", "CRAWLER_EXCLUDE")
    assert pattern.search("aab")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("(unclosed", "CRAWLER_EXCLUDE: '(unclosed' is not a valid regular expression"),
        (["ok", "*bad"], "CRAWLER_EXCLUDE: '*bad' is not a valid regular expression"),
        (42, "CRAWLER_EXCLUDE must be a regular expression or a list of them, got 42"),
    ],
)
def test_bad_patterns_name_the_setting(value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace("*", r"\*")):
        compile_patterns(value, "CRAWLER_EXCLUDE")


@coroutine_test
async def test_excluded_urls_get_their_row_without_a_request(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n{site}/status/500\n{site}/status/404\n")
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls), CRAWLER_EXCLUDE=["/status/"], RETRY_TIMES=0)
    rows = {row["line"]: row for row in read_rows(out)}
    assert {line: (row["outcome"], row["ok"]) for line, row in rows.items()} == {
        1: ("ok", True),
        2: ("excluded", None),
        3: ("excluded", None),
        4: ("excluded", None),  # excluded before the duplicate check
    }
    assert rows[2]["error"] == "excluded: matches exclude pattern '/status/'"
    assert (rows[2]["status"], rows[2]["attempts"], rows[2]["chain"]) == (None, None, [])
    stats = crawler.stats.get_stats()
    assert stats["downloader/request_count"] == 1
    assert stats["crawler/outcome_count/excluded"] == 3
    assert stats.get("crawler/rows_not_ok_count", 0) == 0


@coroutine_test
async def test_include_argument_checks_only_matching_urls(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n")
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls))  # without the argument: both checked
    assert crawler.stats.get_value("downloader/request_count") == 2
    crawler = urls_crawler(out)
    await crawler.crawl_async(urls=str(urls), include="/ok$")
    rows = {row["line"]: row["outcome"] for row in read_rows(out)}
    assert rows == {1: "ok", 2: "excluded"}


@coroutine_test
async def test_timeouts_are_failures_unless_accepted(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/slow?s=5\n{site}/status/404\n")
    strict = tmp_path / "strict.jsonl"
    await crawl_urls(strict, str(urls), DOWNLOAD_TIMEOUT=0.3, RETRY_TIMES=0)
    rows = {row["line"]: row for row in read_rows(strict)}
    assert (rows[1]["outcome"], rows[1]["ok"]) == ("timeout", False)

    lenient = tmp_path / "lenient.jsonl"
    crawler = await crawl_urls(
        lenient, str(urls), DOWNLOAD_TIMEOUT=0.3, RETRY_TIMES=0, CRAWLER_ACCEPT_TIMEOUTS=True
    )
    rows = {row["line"]: row for row in read_rows(lenient)}
    assert (rows[1]["outcome"], rows[1]["ok"]) == ("timeout", True)
    assert "0.3 seconds" in rows[1]["error"]  # the reason stays
    assert (rows[2]["outcome"], rows[2]["ok"]) == ("http_error", False)  # statuses unchanged
    assert crawler.stats.get_value("crawler/rows_not_ok_count") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-a", "exclude=(x"), "exclude: '(x' is not a valid regular expression"),
        (("-s", "CRAWLER_INCLUDE=[a"), "CRAWLER_INCLUDE: '[a' is not a valid regular expression"),
    ],
)
def test_bad_pattern_is_one_line_and_exit_1(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    out = tmp_path / "results.csv"
    result = scrapy_crawl("-a", f"urls={urls}", *args, "-O", str(out))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
