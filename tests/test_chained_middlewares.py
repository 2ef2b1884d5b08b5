"""Scrapy's request-side downloader middlewares called as one (``crawler.tuning``): the same
requests on the wire, and left apart wherever that could change what a middleware sees."""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from scrapy.utils.conf import build_component_list

from crawler import settings as project
from crawler.tuning import CHAINED_MIDDLEWARE, CHAINED_MIDDLEWARES
from tests._crawl import read_rows, urls_crawler
from tests._scrapy import scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

CHAINED_LOG = f"Called as one by {CHAINED_MIDDLEWARE}"
USER_AGENT = "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware"


def header_recorder(seen: dict[str, list[tuple[str, str]]]) -> web.Application:
    """``/h/{key}`` records the request's raw headers (order and repeats kept); ``/moved/{key}``
    redirects there, and ``/refresh/{key}`` is a gzip-compressed page whose meta refresh
    leads there (followed only once the body is decompressed)."""

    async def record(request: web.Request) -> web.Response:
        seen[request.match_info["key"]] = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers
        ]
        return web.Response(text="recorded")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/h/{request.match_info['key']}")

    async def refresh(request: web.Request) -> web.Response:
        page = f'<html><head><meta http-equiv="refresh" content="0; url=/h/{request.match_info["key"]}">'
        return web.Response(
            body=gzip.compress(page.encode()),
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
        )

    app = web.Application()
    app.router.add_get("/h/{key}", record)
    app.router.add_get("/moved/{key}", moved)
    app.router.add_get("/refresh/{key}", refresh)
    return app


def unchained_middlewares() -> str:
    """The project's downloader middlewares plus Scrapy's user agent one at its own order:
    a project that names one of the chained middlewares keeps them all apart."""
    return json.dumps({**project.DOWNLOADER_MIDDLEWARES, USER_AGENT: 500})


@pytest.mark.parametrize(
    "settings",
    [
        [],
        [
            "-s",
            "USER_AGENT=checker-test/1",
            "-s",
            'DEFAULT_REQUEST_HEADERS={"Accept": "text/html", "X-Extra": "1"}',
            "-s",
            "HTTPAUTH_USER=user",
            "-s",
            "HTTPAUTH_PASS=pass",
            "-s",
            "HTTPAUTH_DOMAIN=127.0.0.1",
        ],
        ["-s", "COMPRESSION_ENABLED=False", "-s", "CRAWLER_METHOD=head"],
    ],
    ids=["defaults", "headers-and-auth", "no-compression-head"],
)
def test_requests_carry_the_same_headers_chained_or_not(
    server_loop: ServerLoop, tmp_path: Path, settings: list[str]
) -> None:
    hops = same_requests_chained_or_not(server_loop, tmp_path, settings)
    assert ("refreshed" in hops) is ("CRAWLER_METHOD=head" not in settings)


def same_requests_chained_or_not(
    server_loop: ServerLoop, tmp_path: Path, settings: list[str]
) -> set[str]:
    """Crawl the same pages with the middlewares chained and apart: the hops each run reached
    (the same) and their request headers (the same, in the same order)."""
    seen: dict[str, list[tuple[str, str]]] = {}
    site = server_loop.http(header_recorder(seen))
    logs = {}
    for run, extra in (
        ("chained", []),
        ("apart", ["-s", f"DOWNLOADER_MIDDLEWARES={unchained_middlewares()}"]),
    ):
        urls = tmp_path / f"{run}.txt"
        urls.write_text(
            f"{site}/h/{run}-direct\n{site}/moved/{run}-moved\n{site}/refresh/{run}-refreshed\n"
        )
        out = tmp_path / f"{run}.jsonl"
        result = scrapy_crawl(
            "-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_SCRAPY_LOG=True", *settings, *extra
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        assert [row["outcome"] for row in read_rows(out)] == ["ok"] * 3
        logs[run] = result.stderr
    assert CHAINED_LOG in logs["chained"]
    assert CHAINED_LOG not in logs["apart"]
    hops = {key.removeprefix("apart-") for key in seen if key.startswith("apart-")}
    assert {key.removeprefix("chained-") for key in seen if key.startswith("chained-")} == hops
    assert hops >= {"direct", "moved"}  # and "refreshed" where a GET reads the page whole
    for hop in hops:  # a redirect's Referer names its run's URL
        chained = [(n, v.replace("chained-", "apart-")) for n, v in seen[f"chained-{hop}"]]
        assert chained == seen[f"apart-{hop}"]
    assert "User-Agent" in [name for name, _ in seen["chained-direct"]]
    return hops


def test_the_chain_is_named_with_scrapy_s_start_up_lines_only(
    tmp_path: Path, server_loop: ServerLoop
) -> None:
    site = server_loop.http(header_recorder({}))
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/h/one\n")
    for shown, extra in ((False, []), (True, ["-s", "CRAWLER_SCRAPY_LOG=True"])):
        result = scrapy_crawl("-a", f"urls={urls}", "-O", str(tmp_path / "out.csv"), *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        assert (CHAINED_LOG in result.stderr) is shown
        assert ("Enabled downloader middlewares" in result.stderr) is shown


def enabled(tmp_path: Path, **overrides: Any) -> list[str]:
    crawler = urls_crawler(tmp_path / "out.csv", **overrides)
    components = crawler.settings.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES")
    return [str(path) for path in build_component_list(components)]


class EarlyHeaders:
    """A project middleware between the user agent middleware and the compression one."""

    def process_request(self, request: Any) -> None:
        return None


class ResponsesOnly:
    """A project middleware between them that sees responses only."""

    def process_response(self, request: Any, response: Any) -> Any:
        return response


def test_the_project_settings_chain_them(tmp_path: Path) -> None:
    paths = enabled(tmp_path)
    assert CHAINED_MIDDLEWARE in paths
    assert not set(CHAINED_MIDDLEWARES) & set(paths)


def also(component: str, order: int) -> dict[str, Any]:
    """The project's settings with ``component`` added to its downloader middlewares."""
    return {"DOWNLOADER_MIDDLEWARES": {**project.DOWNLOADER_MIDDLEWARES, component: order}}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(also(f"{__name__}.EarlyHeaders", 450), id="process-request-between"),
        pytest.param(also(f"{__name__}.EarlyHeaders", 700), id="before-the-proxy"),
        pytest.param(also(USER_AGENT, 500), id="named-by-the-project"),
        pytest.param(also(f"{__name__}.ResponsesOnly", 590), id="same-order"),
        pytest.param(also(f"{__name__}.ResponsesOnly", 595), id="process-response-between"),
        pytest.param({"ADDONS": {"crawler.addon.Addon": 0}}, id="add-ons"),
    ],
)
def test_they_stay_apart_where_order_could_matter(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    paths = enabled(tmp_path, **overrides)
    assert CHAINED_MIDDLEWARE not in paths
    assert USER_AGENT in paths


def test_a_middleware_between_with_no_process_request_leaves_them_chained(
    tmp_path: Path,
) -> None:
    paths = enabled(tmp_path, **also(f"{__name__}.ResponsesOnly", 450))
    assert CHAINED_MIDDLEWARE in paths
    assert f"{__name__}.ResponsesOnly" in paths
