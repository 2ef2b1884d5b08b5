"""``scrapy crawl site``: a generated site with planted broken links, crawled as users do."""

from __future__ import annotations

import asyncio
import csv
import gzip
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from crawler.items import UrlResult
from crawler.site.extract import LinkReader, page_links, srcset_urls
from crawler.site.places import PlaceStore, link_fingerprint
from crawler.site.sitemaps import SitemapError, read_sitemap
from tests._crawl import read_rows
from tests._scrapy import run_scrapy

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

HTML = "text/html; charset=utf-8"


@dataclass
class Served:
    """A static site: path → (content type, body), and the requests each path got."""

    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    redirects: dict[str, str] = field(default_factory=dict)
    """path → the URL it redirects to (302)."""
    latency: float = 0.0
    """Seconds each answer waits."""

    def app(self) -> web.Application:
        async def serve(request: web.Request) -> web.Response:
            self.hits[request.path] += 1
            if self.latency:
                await asyncio.sleep(self.latency)
            if (target := self.redirects.get(request.path)) is not None:
                raise web.HTTPFound(target)
            if request.path not in self.files:
                return web.Response(status=404, text="not found")
            content_type, body = self.files[request.path]
            return web.Response(body=body, headers={"Content-Type": content_type})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", serve)
        return app


def _page(*body: str, head: str = "") -> tuple[str, bytes]:
    lines = "\n".join(body)
    return HTML, f"<!doctype html><html><head>{head}</head><body>\n{lines}\n</body></html>".encode()


def plant_site(site: Served, base: str, outside: Served, ext: str) -> set[tuple[str, str]]:
    """Fill ``site`` (at ``base``) and ``outside`` (at ``ext``, another host); return the
    broken links planted, as ``(url, first page linking to it)``."""
    site.files.update(
        {
            "/index.html": _page(
                '<a href="docs/a.html">relative</a>',
                '<a href="/docs/b.html#top">absolute path, with a fragment</a>',
                f'<a href="{base}/about.html">absolute URL</a>',
                '<a href="missing.html">broken internal</a>',
                f'<a href="{ext}/gone">broken external</a>',
                f'<a href="{ext}/fine">fine external</a>',
                '<a href="hidden.html" rel="nofollow">not followed</a>',
                '<img src="img/logo.png" srcset="img/logo.png 1x, img/logo2x.png 2x, '
                'img/nope3x.png 3x">',
                '<a href="mailto:me@example.org">mail</a>',
                '<a href="javascript:void(0)">script</a>',
                '<a href="docs/a.html">again</a>',
                '<a href="#intro">missing fragment on the page itself</a>',
                '<a href="docs/deep/c.html#named">a named anchor</a>',
                f'<a href="{ext}/fine#anything">outside: not parsed</a>',
                '<a href="docs/long.html">a long page</a>',
                head='<link rel="stylesheet" href="style.css">',
            ),
            "/docs/a.html": _page(
                '<a href="b.html">loop to B</a>',
                '<a href="../index.html">home</a>',
                '<a href="deep/c.html">deeper</a>',
                '<a href="b.html#nosuch">missing fragment</a>',
                '<a href="b.html#top">an id</a>',
                head='<meta http-equiv="refresh" content="30; url=refresh-target.html">',
            ),
            "/docs/b.html": _page(
                '<h2 id="top">B</h2>',
                '<a href="a.html">loop to A</a>',
                '<a href="/docs/gone.html">broken internal</a>',
            ),
            "/docs/deep/c.html": _page(
                '<a href="d.html">through base</a>',
                '<a href="x.html">broken through base</a>',
                '<a name="named">named</a>',
                head='<base href="/other/">',
            ),
            "/other/d.html": _page(f'<a href="{ext}/gone">the broken external again</a>'),
            "/docs/long.html": _page(
                "<p>" + "filler " * 20_000 + "</p>", '<a href="long-broken.html">read whole</a>'
            ),
            "/hidden.html": _page('<a href="hidden-broken.html">behind nofollow</a>'),
            "/about.html": _page(
                '<a href="about-child.html">checked, not followed</a>',
                head='<meta name="robots" content="noindex, nofollow">',
            ),
            "/about-child.html": _page('<a href="about-broken.html">behind nofollow</a>'),
            "/style.css": ("text/css", b"body { color: black }"),
            "/img/logo.png": ("image/png", b"\x89PNG" + b"\0" * 4000),
            "/img/logo2x.png": ("image/png", b"\x89PNG" + b"\0" * 4000),
        }
    )
    outside.files["/fine"] = (HTML, b'<a href="/never-crawled">outside</a>')
    return {
        (f"{base}/missing.html", f"{base}/index.html"),
        (f"{ext}/gone", f"{base}/index.html"),
        (f"{base}/img/nope3x.png", f"{base}/index.html"),
        (f"{base}/docs/refresh-target.html", f"{base}/docs/a.html"),
        (f"{base}/docs/gone.html", f"{base}/docs/b.html"),
        (f"{base}/other/x.html", f"{base}/docs/deep/c.html"),
        (f"{base}/index.html#intro", f"{base}/index.html"),
        (f"{base}/docs/long-broken.html", f"{base}/docs/long.html"),
        (f"{base}/docs/b.html#nosuch", f"{base}/docs/a.html"),
    }


@pytest.fixture(scope="module")
def planted(server_loop: ServerLoop) -> tuple[str, Served, Served, set[tuple[str, str]]]:
    site, outside = Served(), Served()
    base = server_loop.http(site.app())
    ext = server_loop.http(outside.app()).replace("127.0.0.1", "localhost")
    return base, site, outside, plant_site(site, base, outside, ext)


def test_the_links_of_a_page_are_every_url_a_reader_follows_or_a_browser_loads() -> None:
    html = (
        '<base href="/b/"><meta name="robots" content="nofollow">'
        '<meta http-equiv="refresh" content="0;URL=\'next.html\'">'
        '<a href="x.html#f">x</a><a href=" javascript:go()">j</a><area href="data:,x">'
        '<img src="i.png" srcset="i1.png 1x, i2.png 2x"><video src="v.mp4" poster="p.jpg">'
        '</video><audio src="a.ogg"></audio><source srcset="s.webp"><object data="o.svg">'
        '</object><embed src="e.swf"><iframe src="//other.example/f"></iframe>'
        '<script src="s.js"></script><a href="mailto:me@example.org" rel="nofollow">m</a>'
    )
    page = page_links(html, "https://h.example/dir/page.html")
    assert page.nofollow
    assert [(link.url, link.element) for link in page.links] == [
        ("https://h.example/b/next.html", "meta@content"),
        ("https://h.example/b/x.html", "a@href"),
        ("https://h.example/b/i.png", "img@src"),
        ("https://h.example/b/i1.png", "img@srcset"),
        ("https://h.example/b/i2.png", "img@srcset"),
        ("https://h.example/b/v.mp4", "video@src"),
        ("https://h.example/b/p.jpg", "video@poster"),
        ("https://h.example/b/a.ogg", "audio@src"),
        ("https://h.example/b/s.webp", "source@srcset"),
        ("https://h.example/b/o.svg", "object@data"),
        ("https://h.example/b/e.swf", "embed@src"),
        ("https://other.example/f", "iframe@src"),
        ("https://h.example/b/s.js", "script@src"),
        ("mailto:me@example.org", "a@href"),
    ]
    assert [link.nofollow for link in page.links][-1] is True


EVERY_KIND = f"""<!DOCTYPE html>
<HTML><head><TITLE>t</TITLE>
<link rel="stylesheet" HREF="/css/site.css"><meta NAME="Robots" content="index">
<meta http-equiv="Refresh" content="5; url=/next.html#top">
</head><body id="top">
<A Href="  page\t2.html ">two
  words</A>
<a href="/abs.html#sec" rel="external NoFollow"><b>bold</b> and <i>italic</i></a>
<a href="?q=1">query</a><a href="#">bare</a><a href="">empty</a><a href="#local">local</a>
<a href="../up.html" title="a title"></a><a href="//other.example/p">scheme-relative</a>
<a href="HTTPS://Other.Example/Case">upper</a><a href="JavaScript:void(0)">js</a>
<a href="mailto:me@example.org">mail</a><a name="named">named</a><a href="http://[bad/">v6</a>
<img src="i.png" alt="  an  image " srcset="i1.png 1x, i2.png 2x"><script src="s.js">var a = 1;</script>
<!-- <a href="commented.html">not a link</a> -->
<a href="long.html">{"word " * 40}</a>
<div id="sec"><iframe src="f.html"></iframe></div>
<base href="/b/"><base href="/ignored/">
</body></HTML>
"""


def test_the_links_of_a_page_are_read_exactly_in_document_order_with_line_and_text() -> None:
    page = page_links(EVERY_KIND, "https://h.example/dir/page.html")
    assert not page.nofollow
    assert page.anchors == frozenset({"top", "named", "sec"})
    assert [
        (link.url, link.element, link.line, link.nofollow, link.fragment, link.text)
        for link in page.links
    ] == [
        ("https://h.example/css/site.css", "link@href", 3, False, None, ""),
        ("https://h.example/next.html", "meta@content", 4, False, "top", ""),
        ("https://h.example/b/page2.html", "a@href", 6, False, None, "two words"),
        ("https://h.example/abs.html", "a@href", 8, True, "sec", "bold and italic"),
        ("https://h.example/b/?q=1", "a@href", 9, False, None, "query"),
        ("https://h.example/b/", "a@href", 9, False, None, "bare"),  # urljoin drops a bare #
        ("https://h.example/b/", "a@href", 9, False, "local", "local"),
        ("https://h.example/up.html", "a@href", 10, False, None, "a title"),
        ("https://other.example/p", "a@href", 10, False, None, "scheme-relative"),
        ("https://Other.Example/Case", "a@href", 11, False, None, "upper"),
        ("mailto:me@example.org", "a@href", 12, False, None, "mail"),
        ("http://[bad/", "a@href", 12, False, None, "v6"),
        ("https://h.example/b/i.png", "img@src", 13, False, None, "an image"),
        ("https://h.example/b/i1.png", "img@srcset", 13, False, None, "an image"),
        ("https://h.example/b/i2.png", "img@srcset", 13, False, None, "an image"),
        ("https://h.example/b/s.js", "script@src", 13, False, None, "var a = 1;"),
        ("https://h.example/b/long.html", "a@href", 15, False, None, "word " * 15 + "word\u2026"),
        ("https://h.example/b/f.html", "iframe@src", 16, False, None, ""),
    ]


def test_a_link_is_resolved_against_its_own_page_whatever_pages_came_before() -> None:
    reader = LinkReader()  # one reader for every page, as in a crawl
    html = '<a href="x.html">1</a><a href="/x.html">2</a><a href="?q">3</a><a href="//">4</a>'
    for url, folder, root in [
        ("https://h.example/a/one.html", "https://h.example/a/", "https://h.example/"),
        ("https://h.example/a/two.html?p", "https://h.example/a/", "https://h.example/"),
        ("https://h.example/b/two.html", "https://h.example/b/", "https://h.example/"),
        ("http://h.example/b/two.html", "http://h.example/b/", "http://h.example/"),
        ("https://other.example/b/", "https://other.example/b/", "https://other.example/"),
        ("https://other.example", "https://other.example/", "https://other.example/"),
    ]:
        page = url.split("?")[0]
        assert [link.url for link in reader.page_links(html, url).links] == [
            f"{folder}x.html",
            f"{root}x.html",
            f"{page}?q",
            url,
        ]
    # an absolute URL of the page's scheme is normalised (empty query dropped, host filled in)
    html = '<a href="https://h.example/p?">s</a><a href="http:///p">t</a>'
    assert [link.url for link in reader.page_links(html, "https://h.example/").links] == [
        "https://h.example/p",
        "http:///p",
    ]
    assert [link.url for link in reader.page_links(html, "http://h.example/").links] == [
        "https://h.example/p?",
        "http://h.example/p",
    ]


def test_srcset_candidates_keep_commas_inside_urls_and_skip_descriptors() -> None:
    assert srcset_urls(" a.png 1x,b.png  2x , c.png, d,e.png 100w, f.png (x, y)") == [
        "a.png",
        "b.png",
        "c.png",
        "d,e.png",
        "f.png",
    ]


def test_a_site_crawl_finds_exactly_the_planted_broken_links_each_checked_once(
    planted: tuple[str, Served, Served, set[tuple[str, str]]], tmp_path: Path
) -> None:
    base, site, outside, broken = planted
    out = tmp_path / "links.jsonl"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out), "-s", "LOG_LEVEL=INFO"
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "entries but" not in result.stderr  # every link its row: none missing
    rows = read_rows(out)
    urls = [row["url"] for row in rows]
    assert len(urls) == len(set(urls))  # one row per distinct link
    found = {(row["url"], row["found_on"]) for row in rows if row["ok"] is False}
    assert found == broken
    by_url = {row["url"]: row for row in rows}
    ext = next(url for url, _ in broken if url.endswith("/gone")).removesuffix("/gone")
    assert set(by_url) == {
        *(f"{base}{path}" for path in site.files),
        *(url for url, _ in broken),
        f"{ext}/fine",
        "mailto:me@example.org",
    }
    assert f"{base}/hidden-broken.html" not in by_url  # rel=nofollow
    assert f"{base}/about-broken.html" not in by_url  # <meta name=robots content=nofollow>
    assert by_url["mailto:me@example.org"]["outcome"] == "unchecked"
    assert {row["outcome"] for row in rows if "#" in row["url"]} == {"missing_fragment"}
    depths = {path: by_url[f"{base}{path}"]["depth"] for path in ("/index.html", "/other/d.html")}
    assert depths == {"/index.html": 0, "/other/d.html": 2}
    assert by_url[f"{base}/docs/b.html"]["found_on"] == f"{base}/index.html"
    assert by_url[f"{base}/docs/a.html"]["found_count"] >= 2  # twice on the index
    # every page and asset requested once, pages in full; nothing outside crawled
    assert set(site.hits.values()) == {1}, site.hits
    assert set(outside.hits) == {"/gone", "/fine"}
    assert set(outside.hits.values()) == {1}


def test_depth_bounds_the_pages_parsed_and_the_links_beyond_are_still_checked(
    planted: tuple[str, Served, Served, set[tuple[str, str]]], tmp_path: Path
) -> None:
    base, _, _, _ = planted
    out = tmp_path / "links.csv"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/index.html", "-a", "depth=0", "-O", str(out)
    )
    assert result.returncode == 2, result.stderr[-3000:]
    rows = read_rows(out)
    assert {row["found_on"] for row in rows} == {"", f"{base}/index.html"}  # only the seed parsed
    assert f"{base}/docs/a.html" in {row["url"] for row in rows}  # checked, not parsed


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("depth=-1", "depth must be a whole number >= 0, got '-1'"),
        ("max_pages=many", "max_pages must be a whole number >= 0, got 'many'"),
        ("workers=2", "-a workers=… is not taken by the site spider"),
        ("dept=2", "did you mean -a depth=…?"),
        ("sitemap=sitemap.xml", "sitemap must be http(s):// URLs, got 'sitemap.xml'"),
    ],
)
def test_a_bad_site_argument_is_one_error_line(argument: str, message: str) -> None:
    result = run_scrapy("crawl", "site", "-a", "urls=http://127.0.0.1:9/", "-a", argument)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_help_lists_the_site_arguments() -> None:
    result = run_scrapy("crawl", "site", "-h")
    assert result.returncode == 0, result.stderr
    assert "-a depth=VALUE" in result.stdout
    assert "-a max_pages=VALUE" in result.stdout


def _linked_site() -> Served:
    """A broken link on three pages (twice on one, on different lines and elements); an ok
    link on every page."""
    site = Served()
    site.files.update(
        {
            "/index.html": _page(
                '<a href="p1.html">one</a>', '<a href="p2.html">two</a>', '<a href="p3.html">3</a>'
            ),
            "/p1.html": _page(
                '<a href="ok.html">fine</a>',
                '<a href="gone.html">  the   first\n mention  </a>',
                "<p>text</p>",
                '<img src="gone.html" alt="a picture">',
            ),
            "/p2.html": _page('<a href="gone.html">' + "long " * 40 + "</a>", '<a href="ok.html">'),
            "/p3.html": _page('<a href="ok.html">fine</a>', '<a href="/gone.html">again</a>'),
            "/ok.html": _page("<p>fine</p>"),
        }
    )
    return site


def test_every_place_of_a_broken_link_is_in_the_fix_list_and_the_reports(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = _linked_site()
    base = server_loop.http(site.app())
    out = tmp_path / "links.csv"
    reports = [tmp_path / name for name in ("report.html", "report.md", "junit.xml")]
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out),
        "-s", f"CRAWLER_REPORT_FILES={','.join(map(str, reports))}",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    with (tmp_path / "links.places.csv").open(newline="", encoding="utf-8") as stream:
        places = list(csv.DictReader(stream))
    gone = f"{base}/gone.html"
    assert [
        (row["page"], row["line"], row["element"], row["text"], row["url"]) for row in places
    ] == [
        (f"{base}/p1.html", "3", "a@href", "the first mention", gone),
        (f"{base}/p1.html", "6", "img@src", "a picture", gone),
        (f"{base}/p2.html", "2", "a@href", ("long " * 16).strip() + "…", gone),
        (f"{base}/p3.html", "3", "a@href", "again", gone),
    ]
    assert {(row["outcome"], row["status"], row["found_count"]) for row in places} == {
        ("http_error", "404", "4")
    }
    html, markdown, junit = (path.read_text() for path in reports)
    assert "Broken links by page" in html
    assert "Broken links by page" in markdown
    for page in ("p1", "p2", "p3"):
        for text in (html, markdown, junit):
            assert f"{base}/{page}.html" in text, (page, text[-2000:])
    assert markdown.count(gone) >= 5  # the failure, and its four places
    assert junit.count(f'classname="{base}/p1.html"') == 2
    fix_list = markdown.split("## Broken links by page", 1)[1].split("## Outcomes", 1)[0]
    assert f"{base}/ok.html" not in fix_list  # an ok link has no places
    assert fix_list.count(gone) == 4


def test_a_missing_fragment_lists_the_places_of_that_fragment_only_in_the_places_file(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = Served()
    site.files.update(
        {
            "/index.html": _page(
                '<a href="ok.html#there">found</a>',
                '<a href="ok.html#nope">not there</a>',
                '<a href="ok.html">the page</a>',
            ),
            "/ok.html": _page('<h2 id="there">there</h2>'),
        }
    )
    base = server_loop.http(site.app())
    fix_list = tmp_path / "fix.jsonl"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/index.html", "-o", str(tmp_path / "links.csv"),
        "-s", f"CRAWLER_SITE_PLACES_FILE={fix_list}",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert not (tmp_path / "links.places.csv").exists()  # the setting names the file
    assert read_rows(fix_list) == [
        {
            "page": f"{base}/index.html",
            "line": 3,
            "element": "a@href",
            "text": "not there",
            "url": f"{base}/ok.html#nope",
            "outcome": "missing_fragment",
            "status": None,
            "found_count": 1,
        }
    ]


def test_a_places_file_that_is_neither_csv_nor_jsonl_is_one_error_line(tmp_path: Path) -> None:
    result = run_scrapy(
        "crawl", "site", "-a", "urls=http://127.0.0.1:9/",
        "-s", f"CRAWLER_SITE_PLACES_FILE={tmp_path / 'fix.txt'}",
    )  # fmt: skip
    assert result.returncode == 1
    assert "CRAWLER_SITE_PLACES_FILE=" in result.stderr
    assert "must name a .csv or .jsonl file" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("max_filtered", [100, 0])  # 0: every place read back, as many broken
def test_the_place_store_spills_to_disk_and_lists_places_by_page_then_line(
    max_filtered: int,
) -> None:
    store = PlaceStore(buffer_size=2, max_filtered=max_filtered)
    try:
        for page, line, url in [
            ("https://h/b", 9, "https://h/gone"),
            ("https://h/a", 7, "https://h/ok"),
            ("https://h/b", 2, "https://h/gone"),
            ("https://h/a", 5, "https://h/gone"),
            ("https://h/c", 1, "https://h/ok"),
        ]:
            store.add(link_fingerprint(url), None, page=page, line=line, element="a@href", text="t")
        store.add_page(
            "https://h/d",
            [
                (link_fingerprint("https://h/gone"), "x", 3, "img@src", ""),
                (1, None, 4, "a@href", ""),
            ],
        )
        store.add_row(UrlResult(url="https://h/gone", source="", line=0, outcome="http_error"))
        assert store.finish() == 4
        assert store.finish() == 4  # counted once
        assert [(p["page"], p["line"], p["found_count"]) for p in store.broken_places()] == [
            ("https://h/a", 5, 4),
            ("https://h/b", 2, 4),
            ("https://h/b", 9, 4),
            ("https://h/d", 3, 4),
        ]
    finally:
        store.close()
    assert list(store.broken_places()) == []


def test_allow_widens_and_deny_narrows_the_pages_parsed_and_links_outside_are_still_checked(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site, outside = Served(), Served()
    ext = server_loop.http(outside.app()).replace("127.0.0.1", "localhost")
    site.redirects["/moved.html"] = f"{ext}/landing.html"
    base = server_loop.http(site.app())
    site.files.update(
        {
            "/index.html": _page(
                '<a href="docs/a.html">in scope</a>',
                '<a href="private/p.html">denied: checked, not parsed</a>',
                f'<a href="{ext}/wide/w.html">allowed on another host</a>',
                f'<a href="{ext}/narrow.html">another host, not allowed</a>',
                '<a href="moved.html">redirected out of the scope</a>',
            ),
            "/docs/a.html": _page('<a href="a-child.html">parsed</a>'),
            "/docs/a-child.html": _page("leaf"),
            "/private/p.html": _page('<a href="p-child.html">never read</a>'),
        }
    )
    outside.files.update(
        {
            "/wide/w.html": _page('<a href="w-child.html">parsed: allowed</a>'),
            "/wide/w-child.html": _page("leaf"),
            "/narrow.html": _page('<a href="narrow-child.html">not parsed</a>'),
            "/landing.html": _page('<a href="landing-child.html">not parsed: out of scope</a>'),
        }
    )
    out = tmp_path / "links.jsonl"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out),
        "-a", r"allow=localhost:\d+/wide/", "-a", "deny=/private/|/nothing/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_rows(out)
    assert {row["url"] for row in rows} == {
        f"{base}/index.html",
        f"{base}/docs/a.html",
        f"{base}/docs/a-child.html",
        f"{base}/private/p.html",
        f"{ext}/wide/w.html",
        f"{ext}/wide/w-child.html",
        f"{ext}/narrow.html",
        f"{base}/moved.html",
    }
    assert all(row["ok"] for row in rows), rows
    moved = next(row for row in rows if row["url"] == f"{base}/moved.html")
    assert moved["final_url"] == f"{ext}/landing.html"  # followed for checking
    assert "/landing-child.html" not in outside.hits  # not for crawling
    assert set(outside.hits.values()) == {1}


def test_a_bad_scope_pattern_is_one_error_line() -> None:
    result = run_scrapy("crawl", "site", "-a", "urls=http://127.0.0.1:9/", "-a", "deny=(")
    assert result.returncode == 1
    assert "deny: '(' is not a valid regular expression" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_robots_txt_is_obeyed_for_the_pages_in_scope_and_links_outside_are_checked_regardless(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site, outside = Served(), Served()
    base, ext = server_loop.http(site.app()), server_loop.http(outside.app())
    ext = ext.replace("127.0.0.1", "localhost")
    site.files.update(
        {
            "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n"),
            "/index.html": _page(
                '<a href="private/p.html">disallowed</a>',
                '<a href="open.html">allowed</a>',
                f'<a href="{ext}/elsewhere.html">outside: robots.txt not asked</a>',
            ),
            "/open.html": _page("open"),
            "/private/p.html": _page('<a href="p-child.html">never read</a>'),
        }
    )
    outside.files["/robots.txt"] = ("text/plain", b"User-agent: *\nDisallow: /\n")
    outside.files["/elsewhere.html"] = _page("fine")
    out = tmp_path / "links.jsonl"
    result = run_scrapy("crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out))
    assert result.returncode == 2, result.stderr[-3000:]
    outcomes = {row["url"]: row["outcome"] for row in read_rows(out)}
    assert outcomes[f"{base}/private/p.html"] == "robots"
    assert outcomes[f"{ext}/elsewhere.html"] == "ok"
    assert set(outcomes) == {
        f"{base}{path}" for path in ("/index.html", "/open.html", "/private/p.html")
    } | {f"{ext}/elsewhere.html"}
    assert "/private/p.html" not in site.hits
    assert site.hits["/robots.txt"] == 1
    assert "/robots.txt" not in outside.hits

    # turned off: every page fetched
    site.hits.clear()
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out),
        "-s", "ROBOTSTXT_OBEY=False",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]  # p-child.html is broken
    assert site.hits["/private/p.html"] == 1
    assert "/robots.txt" not in site.hits


def _urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


@pytest.fixture(scope="module")
def mapped(server_loop: ServerLoop) -> tuple[str, Served]:
    """A site whose sitemap index (named by robots.txt) has a gzipped part listing a page no
    page links to."""
    site = Served()
    base = server_loop.http(site.app())
    index = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-1.xml</loc></sitemap>"
        f"<sitemap><loc>{base}/sitemap-2.xml.gz</loc></sitemap>"
        "</sitemapindex>"
    ).encode()
    site.files.update(
        {
            "/robots.txt": ("text/plain", f"User-agent: *\nSitemap: {base}/index.xml\n".encode()),
            "/index.xml": ("application/xml", index),
            "/sitemap-1.xml": ("application/xml", _urlset(f"{base}/", f"{base}/a.html")),
            "/sitemap-2.xml.gz": (
                "application/gzip",
                gzip.compress(_urlset(f"{base}/orphan.html")),
            ),
            "/": _page('<a href="a.html">linked</a>'),
            "/a.html": _page("linked"),
            "/orphan.html": _page('<a href="orphan-broken.html">crawled too</a>'),
        }
    )
    return base, site


def test_a_sitemap_index_seeds_the_crawl_and_its_orphan_pages_say_they_were_found_there_only(
    mapped: tuple[str, Served], tmp_path: Path
) -> None:
    base, site = mapped
    out = tmp_path / "links.jsonl"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/", "-a", f"sitemap={base}/robots.txt",
        "-O", str(out),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "entries but" not in result.stderr  # every page of the sitemaps its row
    rows = read_rows(out)
    found_on = {row["url"]: row["found_on"] for row in rows}
    assert found_on == {
        f"{base}/": None,  # the seed
        f"{base}/a.html": f"{base}/",
        f"{base}/orphan.html": f"{base}/sitemap-2.xml.gz",  # no page links to it
        f"{base}/orphan-broken.html": f"{base}/orphan.html",
    }
    assert [row["url"] for row in rows if not row["ok"]] == [f"{base}/orphan-broken.html"]
    assert all(site.hits[path] == 1 for path in site.files if path != "/robots.txt"), site.hits

    # the sitemap alone: its pages are the seeds
    result = run_scrapy("crawl", "site", "-a", f"sitemap={base}/index.xml", "-O", str(out))
    assert result.returncode == 2, result.stderr[-3000:]
    found_on = {row["url"]: row["found_on"] for row in read_rows(out)}
    assert found_on == {
        f"{base}/": f"{base}/sitemap-1.xml",
        f"{base}/a.html": f"{base}/sitemap-1.xml",
        f"{base}/orphan.html": f"{base}/sitemap-2.xml.gz",
        f"{base}/orphan-broken.html": f"{base}/orphan.html",
    }


def test_a_sitemap_that_cannot_be_read_is_one_error_line_and_the_seeds_are_still_crawled(
    mapped: tuple[str, Served], tmp_path: Path
) -> None:
    base, _ = mapped
    out = tmp_path / "links.jsonl"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/", "-a", f"sitemap={base}/nosuch.xml",
        "-O", str(out),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]  # the crawl is not what was asked
    assert {row["url"] for row in read_rows(out)} == {f"{base}/", f"{base}/a.html"}
    lines = [line for line in result.stderr.splitlines() if "nosuch.xml" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "ERROR: sitemap" in lines[0]
    assert "HTTP 404" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not xml", "is not XML"),
        (b"<html><body>a page</body></html>", "is not a sitemap (its root element is <html>)"),
        (gzip.compress(_urlset(*(f"http://h.example/{n}" for n in range(500)))), "unpacked"),
    ],
)
def test_a_body_that_is_no_sitemap_says_why_in_one_line(body: bytes, message: str) -> None:
    with pytest.raises(SitemapError, match=re.escape(message)):
        read_sitemap("http://h.example/sitemap.xml", body, max_size=1000)


def test_fragment_checks_can_be_turned_off(server_loop: ServerLoop, tmp_path: Path) -> None:
    site = Served()
    site.files.update(
        {
            "/index.html": _page('<a href="ok.html#nope">not there</a>'),
            "/ok.html": _page("<p>no anchor</p>"),
        }
    )
    base = server_loop.http(site.app())
    out = tmp_path / "links.csv"
    crawl = ("crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out))
    assert run_scrapy(*crawl).returncode == 2  # checked: the anchor is missing
    assert "missing_fragment" in {row["outcome"] for row in read_rows(out)}
    result = run_scrapy(*crawl, "-s", "CRAWLER_FRAGMENTS=False")
    assert result.returncode == 0, result.stderr[-3000:]
    assert {row["url"]: row["outcome"] for row in read_rows(out)} == {
        f"{base}/index.html": "ok",
        f"{base}/ok.html": "ok",
    }


def test_a_page_whose_html_is_json_text_gets_its_row_and_no_links(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = Served()
    site.files.update(
        {
            "/index.html": _page('<a href="list.html">a list</a><a href="map.html">a map</a>'),
            "/list.html": (HTML, b'["a.html"]'),  # parsel would read these as JSON documents
            "/map.html": (HTML, b'{"href": "b.html"}'),
        }
    )
    base = server_loop.http(site.app())
    out = tmp_path / "links.csv"
    result = run_scrapy("crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert {row["url"]: row["outcome"] for row in read_rows(out)} == {
        f"{base}/index.html": "ok",
        f"{base}/list.html": "ok",
        f"{base}/map.html": "ok",
    }


def test_an_xhtml_page_after_its_xml_declaration_has_its_links_and_anchors_read(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    xhtml = (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body id="top-of-page">'
        b'<a href="next.html">next</a><img src="missing.png" />'
        b'<a href="#top-of-page">up</a><a href="#nowhere">down</a></body></html>'
    )
    site = Served()
    site.files.update({"/index.html": (HTML, xhtml), "/next.html": _page("the end")})
    base = server_loop.http(site.app())
    out = tmp_path / "links.csv"
    result = run_scrapy("crawl", "site", "-a", f"urls={base}/index.html", "-O", str(out))
    assert result.returncode == 2, result.stderr[-3000:]
    assert {row["url"]: row["outcome"] for row in read_rows(out)} == {
        f"{base}/index.html": "ok",
        f"{base}/next.html": "ok",
        f"{base}/missing.png": "http_error",
        f"{base}/index.html#nowhere": "missing_fragment",
    }
