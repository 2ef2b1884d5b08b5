"""Hostile lists: URLs whose parse could route a secret to another host or show it in clear."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest
import yarl
from aiohttp import web
from scrapy.settings import Settings
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.test import get_crawler

from crawler.checker.slo import SloPolicy
from crawler.checker.spider import UrlCheckSpider, _url_problem
from crawler.redact import Redactor
from crawler.sources import UrlEntry
from crawler.urls import host_of
from tests._crawl import project_settings_dict, read_rows
from tests._scrapy import run_scrapy, scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


class Seen:
    """What a recording server received: path and query, and the headers of each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []

    def headers_of(self, path: str) -> dict[str, str]:
        found = [headers for seen, headers in self.requests if seen == path]
        assert len(found) == 1, (path, self.requests)
        return found[0]


def any_path_app(seen: Seen) -> web.Application:
    """Answers 200 on every path, recording the request."""

    async def record(request: web.Request) -> web.Response:
        seen.requests.append((request.path_qs, dict(request.headers)))
        return web.Response(text="recorded", content_type="text/plain")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    return app


def rows_by_line(path: Path) -> dict[int, dict[str, Any]]:
    return {int(row["line"]): row for row in read_rows(path)}


AUTHORITIES = [
    # (URL as listed, the host its request connects to; None: no request is made)
    ("http://127.0.0.1:8080\\@trusted.example/", "127.0.0.1"),
    ("http:\\\\trusted.example\\x", "trusted.example"),
    ("http://trusted.example\\@127.0.0.1/", "trusted.example"),
    ("http://bob:p@ssw0rd@trusted.example/", "trusted.example"),
    ("http://u:p@127.0.0.1@trusted.example#@evil.example/", "trusted.example"),
    ("http://trusted.example?@evil.example/", "trusted.example"),
    ("http://trusted.example#@evil.example/", "trusted.example"),
    ("http://trusted.example:80@evil.example/", "evil.example"),
    ("http://a%40b:c%40d@trusted.example/", "trusted.example"),
    ("http://evil.example%40trusted.example/", None),
    ("https://ghp_TOKEN@trusted.example:8443/", "trusted.example"),
    ("http://[fe80::1%25eth0]:8080/", "fe80::1%25eth0"),
    ("http://trusted%2Eexample/", None),  # browsers decode it, aiohttp does not
    ("http://[::1]@trusted.example/", None),  # urlsplit refuses it
    ("http://trusted\uff0eexample/", "trusted.example"),
    ("http://trusted\u3002example\uff61/", "trusted.example."),
    ("HTTP://TRUSTED.Example:80/", "trusted.example"),
    ("http://b\u00fccher.example/", "xn--bcher-kva.example"),
    ("http://trusted.example\t@evil.example/", None),
    ("http://trus\tted.example/", None),
    ("http://trusted.example\n/", None),
    ("http://[fe80::1/", None),
    ("http://trusted.example:99999/", None),
]


@pytest.mark.parametrize(("url", "connects_to"), AUTHORITIES)
def test_every_per_host_decision_takes_the_host_the_request_connects_to(
    url: str, connects_to: str | None
) -> None:
    problem = _url_problem(url, 2083)
    if connects_to is None:
        assert problem is not None
        assert problem[0] == "invalid_url"
        return
    assert problem is None
    rules = {connects_to: {"headers": {"X-Rule": "mine"}, "timeout": 7}}
    settings = project_settings_dict(CRAWLER_HOSTS=rules)
    spider = UrlCheckSpider.from_crawler(get_crawler(UrlCheckSpider, settings))
    request = spider.make_request(UrlEntry(url=url, source="list", line=1))
    # The connection (aiohttp reads the URL with yarl) and Scrapy's downloader slot
    assert yarl.URL(request.url).raw_host == connects_to
    assert urlparse_cached(request).hostname == connects_to
    # ... and every decision: CRAWLER_HOSTS, then the row's accept and SLO (from its url)
    assert request.headers.get("X-Rule") == b"mine"
    assert request.meta["download_timeout"] == 7
    shown = Redactor().url(url)
    assert host_of(url) == host_of(shown) == connects_to
    slo = SloPolicy.from_settings(Settings({"CRAWLER_SLO_HOSTS": {connects_to: "ttfb_ms<5"}}))
    assert str(slo.for_url(shown)) == "ttfb_ms<5"


def test_a_backslash_before_at_sends_no_header_of_the_host_after_it(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    seen = Seen()
    site = server_loop.http(any_path_app(seen))  # http://127.0.0.1:PORT
    port = site.rsplit(":", 1)[1]
    urls = tmp_path / "urls.txt"
    # Python's urlsplit reads line 1's host as trusted.example; the request (WHATWG: "\" is "/")
    # goes to 127.0.0.1. Line 2 checks that trusted hosts still get their settings.
    urls.write_text(f"{site}\\@trusted.example/hostile\nhttp://localhost:{port}/trusted\n")
    hosts = {
        "trusted.example": {"headers": {"Authorization": "Bearer trusted-secret"}, "accept": "201"},
        "localhost": {"headers": {"Authorization": "Bearer local-secret"}},
    }
    out = tmp_path / "out.jsonl"
    result = scrapy_crawl(
        "-a",
        f"urls={urls}",
        "-s",
        f"CRAWLER_HOSTS={json.dumps(hosts)}",
        "-s",
        'CRAWLER_SLO_HOSTS={"trusted.example": "total_ms<0.001"}',
        "-O",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Authorization" not in seen.headers_of("/@trusted.example/hostile")
    assert seen.headers_of("/trusted")["Authorization"] == "Bearer local-secret"
    rows = rows_by_line(out)
    # Judged by the default accept and no SLO: trusted.example's settings are not its own.
    assert (rows[1]["outcome"], rows[1]["status"]) == ("ok", 200)
    assert rows[1]["url"] == f"{site}\\@trusted.example/hostile"  # no password to mask in it
    assert rows[1]["final_url"] == f"{site}/@trusted.example/hostile"


SECRETS = ("ssw0rd", "ghp_TOKEN1", "S3cret", "TOKEN2", "TOKEN3", "TOKEN4", "Zm9vYmFy")


def test_passwords_user_name_tokens_and_query_secrets_are_masked_everywhere(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    seen = Seen()
    site = server_loop.http(any_path_app(seen))
    host = site.removeprefix("http://")
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"http://bob:p@ssw0rd@{host}/password-with-at\n"
        f"http://ghp_TOKEN1@{host}/token-as-user\n"
        f"//gina:S3cret@{host}/x\n"
        f"frank:S3cret@{host}/x\n"
        f"{site}/query?token=TOKEN2&page=1\n"
        f"{site}/query?API_KEY=TOKEN3\n"
        f"{site}/fragment#access_token=TOKEN4&state=1\n"
        f"{site}/session?sessionid=Zm9vYmFy\n"
    )
    out, cache = tmp_path / "out.jsonl", tmp_path / "cache.sqlite"
    reports = [tmp_path / "report.html", tmp_path / "report.md"]
    result = scrapy_crawl(
        "-a",
        f"urls={urls}",
        "-s",
        "LOG_LEVEL=DEBUG",
        "-s",
        f"CRAWLER_CACHE={cache}",
        "-s",
        f"CRAWLER_REPORT_FILES={','.join(map(str, reports))}",
        "-s",
        "CRAWLER_REDACT_PARAMS=token,api_key,access_token,sessionid",
        "-O",
        str(out),
    )
    rows = rows_by_line(out)
    assert [rows[line]["url"] for line in sorted(rows)] == [
        f"http://bob:***@{host}/password-with-at",
        f"http://***@{host}/token-as-user",
        f"//gina:***@{host}/x",
        f"frank:***@{host}/x",
        f"{site}/query?token=***&page=1",
        f"{site}/query?API_KEY=***",
        f"{site}/fragment#access_token=***&state=1",
        f"{site}/session?sessionid=***",
    ]
    assert [rows[line]["outcome"] for line in sorted(rows)] == [
        "ok",
        "ok",
        "invalid_url",
        "unsupported_scheme",
        "ok",
        "ok",
        "ok",
        "ok",
    ]
    # The secrets were sent: the user name and password as Basic auth, the rest in the query.
    assert seen.headers_of("/password-with-at")["Authorization"] == "Basic Ym9iOnBAc3N3MHJk"
    assert "/query?token=TOKEN2&page=1" in [path for path, _ in seen.requests]
    shown = {
        "log": result.stderr,
        "output": out.read_text(encoding="utf-8"),
        "cache": cache.read_bytes().decode("latin-1"),
        **{report.name: report.read_text(encoding="utf-8") for report in reports},
    }
    assert "Crawled (200)" in shown["log"]  # the request lines were logged, masked
    leaks = {
        (where, secret) for where, text in shown.items() for secret in SECRETS if secret in text
    }
    assert leaks == set()
    with sqlite3.connect(cache) as connection:
        stored = [url for (url,) in connection.execute("SELECT url FROM results")]
    assert stored == []  # URLs with secrets are never cached


def test_a_cached_row_of_a_private_address_is_not_served_when_they_are_excluded(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    seen = Seen()
    site = server_loop.http(any_path_app(seen))
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/private\n")
    cache = tmp_path / "cache.sqlite"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    setting = f"CRAWLER_CACHE={cache}"
    result = scrapy_crawl("-a", f"urls={urls}", "-s", setting, "-O", str(first))
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows_by_line(first)[1]["outcome"] == "ok"
    excluded = ("-s", "CRAWLER_EXCLUDE_PRIVATE=True")
    result = scrapy_crawl("-a", f"urls={urls}", "-s", setting, *excluded, "-O", str(second))
    row = rows_by_line(second)[1]
    assert (row["outcome"], row["cached"], row["ip"]) == ("excluded", False, None)
    assert "127.0.0.1 is not a public address" in row["error"]
    assert len(seen.requests) == 1
    third = tmp_path / "third.jsonl"  # a run without the exclusion still gets the stored row
    result = scrapy_crawl("-a", f"urls={urls}", "-s", setting, "-O", str(third))
    assert rows_by_line(third)[1]["cached"] is True


def test_merge_redis_merges_a_job_of_credentialed_and_escaped_urls(
    server_loop: ServerLoop, redis_url: str, tmp_path: Path
) -> None:
    site = server_loop.http(any_path_app(Seen()))
    host = site.removeprefix("http://")
    urls = tmp_path / "urls.jsonl"  # JSON escapes can spell half a character
    urls.write_text(
        json.dumps({"url": f"http://bob:s3cret@{host}/a"})
        + "\n"
        + json.dumps({"url": f"http://ghp_TOKEN@{host}/b"})
        + "\n"
        + json.dumps({"url": f"{site}/c?token=TOKEN"})
        + "\n"
        + f'{{"url": "{site}/d?\\ud800"}}\n'
        + json.dumps({"url": f"{site}/e"})
        + "\n"
    )
    fed = run_scrapy("feed", "--redis", redis_url, str(urls))
    assert fed.returncode == 0, fed.stderr[-3000:]
    part = tmp_path / "part.jsonl"
    worker = run_scrapy("crawl", "urls", "-a", f"redis={redis_url}", "-O", str(part))
    assert worker.returncode == 2, worker.stderr[-3000:]  # line 4 is invalid
    merged = tmp_path / "merged.jsonl"
    result = run_scrapy("merge", "--redis", redis_url, "-O", str(merged), str(part))
    assert result.returncode == 0, result.stderr
    assert "0 rows of no entry of the job dropped" in result.stdout
    rows = rows_by_line(merged)
    assert {line: row["outcome"] for line, row in rows.items()} == {
        1: "ok",
        2: "ok",
        3: "ok",
        4: "invalid_url",
        5: "ok",
    }
    assert rows[4]["url"] == f"{site}/d?\\ud800"
    assert "s3cret" not in merged.read_text()
    assert "TOKEN" not in merged.read_text()
