"""The site crawl's frontier: links found wait on disk, breadth first, and seeds are all read
before the crawl, so every seed's host is in scope from the start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.site.frontier import Frontier, Queued, Waiting
from tests._crawl import read_rows
from tests._scrapy import run_scrapy
from tests.test_site import Served, _page

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


def _queued(fingerprint: int, depth: int) -> Queued:
    return Queued(fingerprint, f"http://h/{fingerprint}", "http://h/", 1, depth, False, False)


def test_the_frontier_gives_links_breadth_first_with_their_places_counted_on_disk() -> None:
    frontier = Frontier(buffer_size=2, batch=2)
    try:
        for fingerprint, depth in [(1, 1), (2, 2), (3, 1), (2**64 - 1, 2)]:
            frontier.push(_queued(fingerprint, depth))
        frontier.found_again(2)  # written to the table
        frontier.found_again(2)
        frontier.found_again(99)  # no such link: nothing
        assert len(frontier) == 4
        first = frontier.pop()
        assert first is not None
        frontier.push(_queued(4, 0))  # a sitemap's page, found late: its turn comes after
        frontier.found_again(3)  # taken from the table already, counted in memory
        frontier.wait_for(2, Waiting("a", "http://h/2", "http://h/p", 7, 2))
        frontier.wait_for(2, Waiting("a", "http://h/2", "http://h/q", 9, 2))  # not the first
        frontier.wait_for(2, Waiting("b", "http://h/2", "http://h/q", 9, 2))
        popped = [first, *(frontier.pop() for _ in range(4))]
        assert [(q.fingerprint, q.depth, q.count) for q in popped if q is not None] == [
            (1, 1, 1),
            (3, 1, 2),
            (4, 0, 1),
            (2, 2, 3),
            (2**64 - 1, 2, 1),
        ]
        assert frontier.pop() is None
        assert len(frontier) == 0
        assert [(w.fragment, w.source) for w in frontier.waiting(2)] == [
            ("a", "http://h/p"),
            ("b", "http://h/q"),
        ]
        assert frontier.waiting(2) == []  # handed over once
        frontier.wait_for(5, Waiting("c", "http://h/5", "http://h/r", 3, 1))  # in memory yet
        assert [(w.fragment, w.line) for w in frontier.waiting(5)] == [("c", 3)]
    finally:
        frontier.close()


def test_every_seed_host_is_in_scope_before_the_first_page_is_parsed(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    """The seed on the second host comes after the first host's pages in the seed file, and
    the first host's home page links to a page of the second host first."""
    first, second = Served(), Served()
    a, b = server_loop.http(first.app()), server_loop.http(second.app())
    b = b.replace("127.0.0.1", "localhost")
    first.files["/index.html"] = _page(f'<a href="{b}/other.html">the other site</a>')
    for n in range(5):
        first.files[f"/{n}.html"] = _page("filler")
    second.files["/index.html"] = _page("home")
    second.files["/other.html"] = _page('<a href="child.html">parsed: its host is a seed</a>')
    second.files["/child.html"] = _page("found")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(
        "".join(f"{a}/{path}\n" for path in ("index.html", *(f"{n}.html" for n in range(5))))
        + f"{b}/index.html\n"
    )
    out = tmp_path / "links.jsonl"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={seeds}", "-O", str(out),
        "-s", "CONCURRENT_REQUESTS=1", "-s", "CRAWLER_READ_AHEAD=1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["url"]: row for row in read_rows(out)}
    assert f"{b}/child.html" in rows, sorted(rows)
    assert rows[f"{b}/child.html"]["found_on"] == f"{b}/other.html"
    assert len(rows) == 9
    assert set(first.hits.values()) == {1}
    assert set(second.hits.values()) == {1}
