"""List entries with a ``#fragment``: ``scrapy crawl urls`` checks that the page holds it."""

from __future__ import annotations

import asyncio
import csv
import signal
import subprocess
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from scrapy.utils.test import get_crawler

from crawler.checker.fragments import (
    FragmentEntries,
    PageResult,
    PageStore,
    anchored,
    checked_fragment,
    html_anchors,
)
from crawler.checker.outcomes import Outcome
from crawler.items import ENTRIES_STAT, UrlResult
from crawler.sources import UrlEntry
from spiders.urls import UrlsSpider
from tests._asyncio import coroutine_test
from tests._crawl import project_settings_dict, read_rows
from tests._scrapy import scrapy_crawl, start_scrapy, wait_for_lines

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

    from scrapy.crawler import Crawler

    from tests.servers import ServerLoop

HTML = "text/html; charset=utf-8"
PAGE = (
    '<!doctype html><html><body><h2 id="present">Here</h2><a name="named">named</a>'
    '<p id="caf%C3%A9">escaped</p></body></html>'
)
MISSING = "the page has no element with id='missing' (nor <a name>)"


class Site:
    """A few pages, and the requests each got, as ``(method, path)``."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[str, str]] = Counter()

    def app(self) -> web.Application:
        async def serve(request: web.Request) -> web.StreamResponse:
            self.hits[request.method, request.path] += 1
            if request.path == "/slow.html":
                await asyncio.sleep(0.02)
                return web.Response(text=PAGE, content_type="text/html")
            if request.path in ("/page.html", "/other.html"):
                return web.Response(text=PAGE, content_type="text/html")
            if request.path == "/plain.txt":
                return web.Response(text="plain text, no anchors")
            if request.path == "/big.html":  # chunked: too large only once read
                response = web.StreamResponse(headers={"Content-Type": HTML})
                response.enable_chunked_encoding()
                await response.prepare(request)
                await response.write(b"<p id='a'>" + b"filler " * 10_000 + b"</p>")
                await response.write_eof()
                return response
            return web.Response(status=404, text="not found")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", serve)
        return app

    def requests_of(self, path: str) -> int:
        return sum(count for (_, hit), count in self.hits.items() if hit == path)


@pytest.fixture
def site(server_loop: ServerLoop) -> tuple[str, Site]:
    served = Site()
    return server_loop.http(served.app()), served


def write_list(path: Path, base: str) -> Path:
    path.write_text(
        "\n".join(
            [
                f"{base}/page.html#present",
                f"{base}/page.html#missing",
                f"{base}/page.html",
                f"{base}/page.html#present",
                f"{base}/plain.txt#x",
                f"{base}/gone.html#x",
                f"{base}/big.html#a",
                f"{base}/big.html#b",
                f"{base}/page.html#:~:text=Here",
                f"{base}/page.html#caf%C3%A9",
            ]
        )
        + "\n"
    )
    return path


CHECKED = {
    1: "ok",
    2: "missing_fragment",
    3: "duplicate",  # the page itself: checked by line 1
    4: "duplicate",  # the same fragment again
    5: "ok",  # not HTML: no anchors to look for, the page's outcome
    6: "http_error",  # the page's outcome
    7: "too_large",
    8: "too_large",
    9: "duplicate",  # a text fragment: the page itself
    10: "ok",
}
TOO_LARGE = ("-s", "DOWNLOAD_MAXSIZE=20000")


def by_line(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    lines = [int(row["line"]) for row in rows]
    assert len(lines) == len(set(lines)), f"a line has two rows: {sorted(lines)}"
    return {int(row["line"]): row for row in rows}


def test_each_fragment_of_a_listed_page_gets_its_row_from_one_request(
    site: tuple[str, Site], tmp_path: Path
) -> None:
    base, served = site
    urls = write_list(tmp_path / "urls.txt", base)
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), *TOO_LARGE)
    assert result.returncode == 2, result.stderr[-3000:]
    rows = by_line(read_rows(out))
    assert {line: row["outcome"] for line, row in rows.items()} == CHECKED
    assert rows[2]["error"] == MISSING
    assert rows[2]["status"] == "200"
    assert rows[2]["final_url"] == f"{base}/page.html#missing"
    assert rows[1]["url"] == f"{base}/page.html#present"
    assert rows[6]["status"] == "404"
    assert rows[7]["error"] == rows[8]["error"] != ""
    assert served.hits[("GET", "/page.html")] == 1
    assert served.requests_of("/page.html") == 1
    assert served.requests_of("/plain.txt") == 1
    assert served.requests_of("/gone.html") == 1
    assert "10 entries, 10 rows" in result.stderr


def test_fragment_entries_are_fetched_with_get_when_the_list_is_checked_with_head(
    site: tuple[str, Site], tmp_path: Path
) -> None:
    base, served = site
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{base}/other.html\n{base}/other.html#named\n{base}/page.html#present\n"
        f"{base}/plain.txt\n{base}/other.html#nowhere\n"
    )
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-a", "method=head", "-O", str(out))
    assert result.returncode == 2, result.stderr[-3000:]
    rows = by_line(read_rows(out))
    assert {line: row["outcome"] for line, row in rows.items()} == {
        1: "ok",
        2: "ok",
        3: "ok",
        4: "ok",
        5: "missing_fragment",
    }
    assert rows[1]["method"] == "HEAD"
    assert rows[3]["method"] == "GET"
    assert served.hits == {
        ("HEAD", "/other.html"): 1,
        ("GET", "/other.html"): 1,  # read whole once for its fragments
        ("GET", "/page.html"): 1,
        ("HEAD", "/plain.txt"): 1,
    }


def test_fragments_off_leaves_fragment_entries_duplicates_of_their_page(
    site: tuple[str, Site], tmp_path: Path
) -> None:
    base, served = site
    urls = write_list(tmp_path / "urls.txt", base)
    out = tmp_path / "out.csv"
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_FRAGMENTS=False", *TOO_LARGE
    )
    assert result.returncode == 2, result.stderr[-3000:]  # the 404 and the large page
    rows = by_line(read_rows(out))
    assert {line: row["outcome"] for line, row in rows.items()} == {
        **dict.fromkeys(range(1, 11), "duplicate"),
        1: "ok",
        5: "ok",
        6: "http_error",
        7: "ok",  # not read whole: its size is not known
    }
    assert served.requests_of("/page.html") == 1


def test_fragment_entries_of_a_page_land_in_the_same_worker(
    site: tuple[str, Site], tmp_path: Path
) -> None:
    base, served = site
    urls = write_list(tmp_path / "urls.txt", base)
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-a", "workers=2", "-O", str(out), *TOO_LARGE)
    assert result.returncode == 2, result.stderr[-3000:]
    rows = by_line(read_rows(out))
    assert {line: row["outcome"] for line, row in rows.items()} == CHECKED
    assert served.requests_of("/page.html") == 1


def test_a_resumed_run_checks_the_fragments_left(site: tuple[str, Site], tmp_path: Path) -> None:
    base, served = site
    urls = write_list(tmp_path / "urls.txt", base)
    out = tmp_path / "out.csv"
    assert scrapy_crawl("-a", f"urls={urls}", "-O", str(out), *TOO_LARGE).returncode == 2
    with out.open(newline="") as f:  # as if the run stopped once line 1 was written
        reader = csv.DictReader(f)
        fields, kept = reader.fieldnames, [row for row in reader if row["line"] == "1"]
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields or ()))
        writer.writeheader()
        writer.writerows(kept)
    served.hits.clear()
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-a", f"resume={out}", "-o", str(out), *TOO_LARGE
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    rows = by_line(read_rows(out))
    # line 1 is not checked again: line 4, the same fragment, is now the first of its kind
    assert {line: row["outcome"] for line, row in rows.items()} == {**CHECKED, 4: "ok"}
    assert served.requests_of("/page.html") == 1


def test_fragment_entries_are_not_served_from_the_cache(
    site: tuple[str, Site], tmp_path: Path
) -> None:
    base, served = site
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{base}/page.html\n{base}/page.html#missing\n{base}/page.html#present\n")
    cache = ("-s", f"CRAWLER_CACHE={tmp_path / 'cache.sqlite'}")
    out = tmp_path / "out.csv"
    for run in (1, 2):
        served.hits.clear()
        result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), *cache)
        assert result.returncode == 2, result.stderr[-3000:]
        rows = by_line(read_rows(out))
        assert {line: row["outcome"] for line, row in rows.items()} == {
            1: "ok",
            2: "missing_fragment",
            3: "ok",
        }
        assert rows[1]["cached"] == ("true" if run == 2 else "false")
        # the cache holds the page's own row, never a fragment entry's
        assert "#" not in rows[1]["final_url"], rows[1]
        assert rows[1]["total_ms"], rows[1]
        # the page itself (unless cached), then once more, read whole, for its fragments
        assert served.hits[("GET", "/page.html")] == (2 if run == 1 else 1)


SLOW_FRAGMENTS = {"present": "ok", "missing": "missing_fragment", "named": "ok"}
"""The fragments of the slow page, and each one's outcome."""


def slow_fragment_list(base: str, path: Path, count: int) -> list[str]:
    """Write ``count`` entries to ``path``: three per page of ``/slow.html``, one for each of
    :data:`SLOW_FRAGMENTS`; return them."""
    names = list(SLOW_FRAGMENTS)
    lines = [f"{base}/slow.html?i={i // 3}#{names[i % 3]}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def expected_outcomes(lines: list[str]) -> dict[int, str]:
    """Each line's outcome, by line number, for a list of :func:`slow_fragment_list`."""
    return {line: SLOW_FRAGMENTS[url.partition("#")[2]] for line, url in enumerate(lines, 1)}


@pytest.mark.parametrize("stop", ["Ctrl-C", "second Ctrl-C"])
def test_a_stopped_run_resumed_gives_each_fragment_entry_its_row_once(
    site: tuple[str, Site], tmp_path: Path, stop: str
) -> None:
    base, _ = site
    urls = tmp_path / "urls.txt"
    lines = slow_fragment_list(base, urls, 3000)
    out = tmp_path / "out.jsonl"
    crawl = (
        "crawl", "urls", "-a", f"urls={urls}", "-a", f"resume={out}", "-o", str(out),
        "-s", "CONCURRENT_REQUESTS=32", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32",
        "-s", "LOG_LEVEL=WARNING",
    )  # fmt: skip
    first = start_scrapy(*crawl, stderr=subprocess.DEVNULL)
    wait_for_lines(out, 100, first)
    for _ in range(1 if stop == "Ctrl-C" else 2):  # the second one stops at once
        first.send_signal(signal.SIGINT)
    first.wait(60)
    assert len(read_rows(out)) < len(lines)  # the stop came mid-run
    second = start_scrapy(*crawl)
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 2, stderr.decode()[-2000:]
    rows = by_line(read_rows(out))
    assert {line: row["outcome"] for line, row in rows.items()} == expected_outcomes(lines)


class FewWaiting(FragmentEntries):
    """At most two entries wait; records the most that ever did."""

    def __init__(self) -> None:
        super().__init__(max_waiting=2)
        self.most = 0

    def wait(self, entry: UrlEntry, page: int, fragment: str) -> bool:
        waits = super().wait(entry, page, fragment)
        self.most = max(self.most, self.waiting)
        return waits


class FewWaitingSpider(UrlsSpider):
    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.fragment_entries = FewWaiting()
        return spider


@coroutine_test
async def test_the_list_is_read_on_only_once_fewer_entries_wait_for_their_pages(
    site: tuple[str, Site], tmp_path: Path
) -> None:
    base, served = site
    urls = tmp_path / "urls.txt"
    lines = slow_fragment_list(base, urls, 30)
    out = tmp_path / "out.csv"
    settings = project_settings_dict(FEEDS={str(out): {"format": "csv"}})
    crawler = get_crawler(FewWaitingSpider, settings)
    await crawler.crawl_async(urls=str(urls))
    assert isinstance(crawler.spider, FewWaitingSpider)
    entries = crawler.spider.fragment_entries
    assert isinstance(entries, FewWaiting)
    assert entries.most == 2  # the bound was reached, never passed
    rows = by_line(read_rows(out))
    assert {line: row["outcome"] for line, row in rows.items()} == expected_outcomes(lines)
    assert served.requests_of("/slow.html") == 10
    assert crawler.stats is not None
    assert crawler.stats.get_value(ENTRIES_STAT) == len(lines)


def test_a_fragment_is_anchored_by_an_id_an_a_name_or_the_top() -> None:
    anchors = html_anchors(PAGE)
    assert anchors == frozenset({"present", "named", "caf%C3%A9"})
    assert anchored("present", anchors)
    assert anchored("named", anchors)
    assert anchored("top", anchors)
    assert anchored("Top", frozenset())
    assert anchored(":~:text=anything", frozenset())
    assert anchored("café", frozenset({"café"}))
    assert anchored("caf%C3%A9", frozenset({"café"}))
    assert not anchored("missing", anchors)
    assert not anchored("Present", anchors)  # ids are case-sensitive


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://h/p#a", "a"),
        ("http://h/p#a#b", "a#b"),
        ("http://h/p", None),
        ("http://h/p#", None),
        ("http://h/p#top", None),
        ("http://h/p#:~:text=x", None),
    ],
)
def test_the_fragment_checked_is_one_a_page_must_hold(url: str, fragment: str | None) -> None:
    assert checked_fragment(url) == fragment


def test_the_page_store_keeps_the_last_pages_only() -> None:
    store: PageStore[int] = PageStore(max_pages=2)
    for page in (1, 2, 3):
        store.keep(page, page * 10)
    assert (store.get(1), store.get(2), store.get(3)) == (None, 20, 30)


def _page_result(anchors: frozenset[str] | None, **fields: Any) -> PageResult:
    row = UrlResult(url="http://h/p#a", source="s", line=1, status=200, **fields)
    return PageResult.of(row, anchors)


def test_an_entry_read_after_its_page_came_back_gets_its_row_at_once() -> None:
    entries = FragmentEntries(max_waiting=1)
    first = UrlEntry(url="http://h/p#a", source="s", line=1)
    assert entries.known(first, 7, "a") is None
    assert not entries.wait(first, 7, "a")  # not in flight: the entry fetches it
    entries.fetching(7)
    waiting = UrlEntry(url="http://h/p#b", source="s", line=2)
    assert entries.known(waiting, 7, "b") is None
    assert entries.wait(waiting, 7, "b")
    assert entries.full
    owner = UrlResult(url=first.url, source="s", line=1, status=200)
    rows = entries.page_done(7, "a", owner, frozenset({"a"}))
    assert [(row.line, row.outcome) for row in rows] == [(1, None), (2, Outcome.MISSING_FRAGMENT)]
    assert entries.waiting == 0
    assert not entries.full
    later = entries.known(UrlEntry(url="http://h/p#a", source="s", line=3), 7, "a")
    assert isinstance(later, UrlResult)
    assert (later.line, later.outcome, later.status) == (3, None, 200)


def test_a_page_that_was_not_parsed_gives_its_outcome_to_its_fragments() -> None:
    result = _page_result(None, outcome=Outcome.TIMEOUT, error="timed out")
    row = result.row(UrlEntry(url="http://h/p#a", source="s", line=2), "a")
    assert (row.outcome, row.error, row.status) == (Outcome.TIMEOUT, "timed out", 200)
