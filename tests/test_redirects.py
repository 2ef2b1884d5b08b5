"""Redirect chains: every hop's status and time, and permanent moves to update in the source."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from aiohttp import web

from crawler.checker.rows import permanent_move
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

SLOW_HOP_S = 0.3


def redirect_app() -> web.Application:
    """``/to/<status>/<path>`` redirects with that status; ``/slow/...`` after a delay;
    ``/self/<status>`` to itself (``?empty=1``: with an empty ``Location``);
    ``/elsewhere?to=URL`` to any URL."""

    async def to(request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        return web.Response(status=status, headers={"Location": "/" + request.match_info["rest"]})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_HOP_S)
        return await to(request)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="here")

    async def elsewhere(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": request.query["to"]})

    async def to_itself(request: web.Request) -> web.Response:
        location = "" if request.query.get("empty") else request.path_qs
        return web.Response(
            status=int(request.match_info["status"]), headers={"Location": location}
        )

    app = web.Application()
    app.router.add_get("/to/{status}/{rest:.*}", to)
    app.router.add_get("/slow/{status}/{rest:.*}", slow)
    app.router.add_get("/ok", ok)
    app.router.add_get("/self/{status}", to_itself)
    app.router.add_get("/elsewhere", elsewhere)
    return app


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(redirect_app())


@coroutine_test
async def test_each_hop_has_its_own_status_and_time(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/to/307/slow/308/to/303/ok\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls))
    (row,) = read_rows(out)
    assert [(hop["url"], hop["status"]) for hop in row["chain"]] == [
        (f"{site}/to/307/slow/308/to/303/ok", 307),
        (f"{site}/slow/308/to/303/ok", 308),
        (f"{site}/to/303/ok", 303),
        (f"{site}/ok", 200),
    ]
    times = [hop["ms"] for hop in row["chain"]]
    assert times[1] >= SLOW_HOP_S * 1000  # the slow hop carries its own delay...
    assert max(times[0], times[2], times[3]) < times[1]  # ...and no other hop does
    assert row["total_ms"] >= sum(times)


@coroutine_test
async def test_permanent_redirects_say_where_the_url_moved(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/ok\n"
        f"{site}/to/301/ok\n"
        f"{site}/to/308/to/301/to/302/ok\n"
        f"{site}/to/302/to/301/ok\n"  # the given URL moved only temporarily
        f"{site}/to/307/ok\n"
        f"{site}/to/301/to/301/to/301/ok\n"
    )
    out = tmp_path / "out.csv"
    await crawl_urls(out, str(urls), REDIRECT_MAX_TIMES=2)
    rows = {int(row["line"]): row for row in read_rows(out)}
    assert {line: (row["permanent_redirect"], row["moved_to"]) for line, row in rows.items()} == {
        1: ("false", ""),
        2: ("true", f"{site}/ok"),
        3: ("true", f"{site}/to/302/ok"),
        4: ("false", ""),
        5: ("false", ""),
        6: ("true", ""),  # too many redirects: where they end is not known
    }
    assert rows[6]["outcome"] == "too_many_redirects"


def test_permanent_move_of_a_loop_has_no_target() -> None:
    chain = [{"url": "http://a/", "status": 301}, {"url": "http://b/", "status": 308}]
    assert permanent_move(chain) == (True, None)
    assert permanent_move([]) == (False, None)


@coroutine_test
async def test_a_redirect_to_itself_is_a_loop(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/self/302\n{site}/self/301\n{site}/self/307?empty=1\n{site}/to/302/ok\n"
    )
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), REDIRECT_MAX_TIMES=3)
    rows = {row["line"]: row for row in read_rows(out)}
    assert [rows[n]["outcome"] for n in (1, 2, 3, 4)] == ["redirect_loop"] * 3 + ["ok"]
    assert [len(rows[n]["chain"]) for n in (1, 2, 3)] == [4, 4, 4]  # the URL and 3 redirects
    assert rows[1]["redirects"] == 3


@coroutine_test
async def test_a_redirect_to_another_scheme_ends_the_chain_with_its_target(
    site: str, tmp_path: Path
) -> None:
    targets = ["mailto:someone@example.com", "ftp://example.com/f", "data:,x", "javascript:x()"]
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "".join(f"{site}/elsewhere?to={quote(t)}\n" for t in targets) + f"{site}/to/302/ok\n"
    )
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls))
    rows = {row["line"]: row for row in read_rows(out)}
    for line, target in enumerate(targets, 1):
        row = rows[line]
        assert (row["outcome"], row["status"], row["ok"]) == ("unsupported_scheme", 302, False)
        assert row["error"] == f"HTTP 302 redirects to {target}: only http and https are checked"
        assert len(row["chain"]) == 1
    assert rows[5]["outcome"] == "ok"


@coroutine_test
async def test_a_redirects_wait_for_a_turn_in_its_hosts_slot_is_not_in_its_total_time(
    site: str, tmp_path: Path
) -> None:
    """Issue 16: a 2-hop redirect whose hops took 5.9 and 2.6 ms reported total_ms 786."""
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/to/302/to/302/ok\n" + "".join(f"{site}/slow/302/ok?n={n}\n" for n in range(8))
    )
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CONCURRENT_REQUESTS_PER_DOMAIN=2)
    rows = {row["line"]: row for row in read_rows(out)}
    assert [row["outcome"] for row in rows.values()] == ["ok"] * 9
    redirected = rows[1]
    assert len(redirected["chain"]) == 3
    hops_ms = sum(hop["ms"] for hop in redirected["chain"])
    # its later hops waited for slow requests of the same host to free a place: not its time
    assert redirected["total_ms"] >= hops_ms
    assert redirected["total_ms"] < hops_ms + SLOW_HOP_S * 1000 / 2, redirected
