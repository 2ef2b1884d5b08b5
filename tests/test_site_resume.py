"""``scrapy crawl site`` stopped (SIGKILL, Ctrl-C) and resumed: every distinct link one row."""

from __future__ import annotations

import csv
import json
import signal
from typing import TYPE_CHECKING

import pytest

from tests._crawl import read_rows
from tests._scrapy import run_scrapy, start_scrapy, wait_for_lines
from tests.test_site import Served, _page, _urlset

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from tests.servers import ServerLoop

PAGES = 60
LATENCY = 0.05
"""Seconds each answer of the site waits: the crawl lasts long enough to be stopped mid-way."""
CRAWL = ("-s", "CONCURRENT_REQUESTS=4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4")


def _tree(site: Served) -> None:
    """A tree of pages (three children each), each with a broken link of its own, a link to
    a shared asset, a missing fragment every 7th page, and links back home and to a page
    robots.txt disallows."""
    site.files["/robots.txt"] = ("text/plain", b"User-agent: *\nDisallow: /private/\n")
    site.files["/logo.png"] = ("image/png", b"\x89PNG" + b"\0" * 100)
    site.files["/p/0.html"] = _page('<h2 id="here">home</h2>')
    for index in range(1, PAGES):
        children = [c for c in range(3 * index, 3 * index + 3) if c < PAGES]
        body = [f'<a href="/p/{child}.html">page {child}</a>' for child in children]
        body += [
            f'<a href="/gone/{index}.html">broken</a>',
            '<img src="/logo.png" alt="logo">',
            '<a href="/p/0.html#here">home</a>',
            '<a href="/private/secret.html">disallowed</a>',
        ]
        if index % 7 == 0:
            body.append(f'<a href="/p/{index}.html#nowhere">a missing anchor</a>')
        site.files[f"/p/{index}.html"] = _page(*body)
    site.files["/index.html"] = _page('<a href="/p/1.html">start</a>', '<a href="/p/2.html">2</a>')


@pytest.fixture(scope="module")
def slow(server_loop: ServerLoop) -> tuple[str, list[dict[str, Any]], list[dict[str, str]]]:
    """The site, and the rows and fix list of an uninterrupted crawl of it."""
    site = Served()
    _tree(site)
    site.latency = LATENCY
    base = server_loop.http(site.app())
    return base, *_uninterrupted(base)


def _uninterrupted(base: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "links.jsonl"
        result = run_scrapy(
            "crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out), *CRAWL
        )
        assert result.returncode == 2, result.stderr[-3000:]
        return read_rows(out), _places(Path(directory) / "links.places.csv")


def _places(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _outcomes(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {row["url"]: row["outcome"] for row in rows}


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_a_stopped_site_crawl_resumes_with_every_link_once_and_every_place_in_the_fix_list(
    slow: tuple[str, list[dict[str, Any]], list[dict[str, str]]],
    tmp_path: Path,
    stop: signal.Signals,
) -> None:
    base, whole, whole_places = slow
    out = tmp_path / "links.csv"
    command = (
        "crawl", "site", "-a", f"urls={base}/index.html", "-a", f"resume={out}", "-o", str(out),
        *CRAWL,
    )  # fmt: skip
    log = tmp_path / "first.log"
    with log.open("wb") as stderr:
        first = start_scrapy(*command, "-s", "LOG_LEVEL=INFO", stderr=stderr.fileno())
        wait_for_lines(out, 60, first)  # the header and rows, about a third of the crawl
        first.send_signal(stop)
        first.wait(60)
    if stop == signal.SIGINT:
        assert "links found were not checked yet: resume the crawl" in log.read_text()
    before = read_rows(out)
    assert 40 < len(before) < len(whole)  # stopped mid-way

    result = run_scrapy(*command, "-s", "CRAWLER_SCRAPY_LOG=True")
    assert result.returncode == 2, result.stderr[-3000:]  # broken links, in both runs
    assert "entries but" not in result.stderr, result.stderr[-3000:]
    assert f"'crawler/entries_resumed_count': {len(before)}," in result.stderr
    rows = read_rows(out)
    urls = [row["url"] for row in rows]
    assert len(urls) == len(set(urls))  # no link twice, none of the first run's again
    assert rows[: len(before)] == before
    assert _outcomes(rows) == _outcomes(whole)  # no link lost, same outcomes
    broken = {(row["url"], row["found_on"]) for row in rows if row["ok"] == "false"}
    assert broken == {(row["url"], row["found_on"]) for row in whole if row["ok"] is False}
    assert "robots" in _outcomes(rows).values()
    assert "missing_fragment" in _outcomes(rows).values()

    places = _places(tmp_path / "links.places.csv")
    fields = ("page", "line", "element", "url", "outcome", "status", "found_count")
    assert sorted(tuple(p[f] for f in fields) for p in places) == sorted(
        tuple(p[f] for f in fields) for p in whole_places
    )


def test_a_page_with_its_row_that_cannot_be_read_again_is_one_warning_and_no_second_row(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = Served()
    site.files["/index.html"] = _page('<a href="gone-now.html">was a page</a>', '<a href="n.html">')
    site.files["/n.html"] = _page("new")
    base = server_loop.http(site.app())
    out = tmp_path / "links.csv"
    out.write_text(
        "url,source,line,outcome,ok,status,content_type,found_on\n"
        f"{base}/index.html,urls,1,ok,true,200,text/html,\n"
        f"{base}/gone-now.html,{base}/index.html,1,ok,true,200,text/html; charset=utf-8,"
        f"{base}/index.html\n"
        f"{base}/index.html,urls,2,duplicate,,,,\n"
    )
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/index.html,{base}/index.html",
        "-a", f"resume={out}", "-o", str(out), "-s", "CRAWLER_SCRAPY_LOG=True",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if "reading it again failed" in line]
    assert len(warnings) == 1, result.stderr[-3000:]
    assert f"{base}/gone-now.html" in warnings[0]
    assert "404" in warnings[0]
    assert "'crawler/site/reread_errors_count': 1," in result.stderr
    assert "'crawler/site/pages_reread_count': 2," in result.stderr
    assert "'crawler/entries_resumed_count': 3," in result.stderr
    assert [row["url"] for row in read_rows(out)][3:] == [f"{base}/n.html"]  # the new link alone
    assert site.hits["/index.html"] == 1  # read again once


@pytest.mark.parametrize("kept", [1, 2, 3, 4])
def test_a_crawl_with_a_sitemap_cut_after_any_row_resumes_to_the_same_rows(
    server_loop: ServerLoop, tmp_path: Path, kept: int
) -> None:
    """A kill after the ``kept`` first rows (the seed's, its link's, the orphan page the
    sitemap alone names, the broken link on it), then the resume."""
    site = Served()
    base = server_loop.http(site.app())
    site.files.update(
        {
            "/robots.txt": ("text/plain", f"User-agent: *\nSitemap: {base}/map.xml\n".encode()),
            "/map.xml": ("application/xml", _urlset(f"{base}/", f"{base}/orphan.html")),
            "/": _page('<a href="a.html">linked</a>'),
            "/a.html": _page("linked"),
            "/orphan.html": _page('<a href="orphan-broken.html">only there</a>'),
        }
    )
    out = tmp_path / "links.jsonl"
    command = (
        "crawl", "site", "-a", f"urls={base}/", "-a", f"sitemap={base}/robots.txt",
        "-a", f"resume={out}", "-o", str(out),
    )  # fmt: skip
    assert run_scrapy(*command).returncode == 2
    whole = out.read_text().splitlines(keepends=True)
    assert [json.loads(line)["url"] for line in whole] == [
        f"{base}/",
        f"{base}/a.html",
        f"{base}/orphan.html",
        f"{base}/orphan-broken.html",
    ]
    cut = whole[kept][:20] if kept < len(whole) else ""
    out.write_text("".join(whole[:kept]) + cut)  # and a cut-off line
    result = run_scrapy(*command)
    assert result.returncode == 2, result.stderr[-3000:]  # orphan-broken.html, in either run
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[:kept] == [json.loads(line) for line in whole[:kept]]
    key = ("url", "outcome", "found_on", "depth", "source", "line")
    assert sorted(tuple(row[k] for k in key) for row in rows) == sorted(
        tuple(json.loads(line)[k] for k in key) for line in whole
    )
