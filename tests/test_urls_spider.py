"""The ``urls`` spider end to end, in-process, against loopback servers."""

from __future__ import annotations

import gzip
import random
import socket
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import signals
from scrapy.utils.conf import build_component_list

from crawler.checker.outcomes import OUTCOMES
from crawler.items import FIELDS
from crawler.tuning import COOKIES_MIDDLEWARE
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows, urls_crawler
from tests.faults import fault_server

if TYPE_CHECKING:
    import trustme

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def by_line(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(row["line"]): row for row in rows}


@coroutine_test
async def test_every_kind_of_entry_gets_its_row(site: str, tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{closed_port()}/"
    lines = [
        "# a comment, skipped",
        f"{site}/ok",
        f"{site}/status/404",
        f"{site}/redirect/2",
        f"{site}/loop/a",
        f"{site}/flaky?key=one",
        refused,
        "not a url",
        "ftp://example.com/file",
        "",
        f"{site}/ok",
        f"{site}/slow?s=5",
    ]
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls), DOWNLOAD_TIMEOUT=0.5, REDIRECT_MAX_TIMES=5)

    rows = by_line(read_rows(out))
    assert sorted(rows) == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert all(row["source"] == str(urls) for row in rows.values())

    ok = rows[2]
    assert (ok["outcome"], ok["status"], ok["ok"], ok["error"]) == ("ok", 200, True, None)
    assert ok["final_url"] == f"{site}/ok"
    assert (ok["method"], ok["attempts"], ok["redirects"]) == ("GET", 1, 0)
    assert ok["chain"] == [{"url": f"{site}/ok", "status": 200, "ms": ok["chain"][0]["ms"]}]
    assert ok["content_type"] == "text/html; charset=utf-8"
    assert (ok["content_length"], ok["bytes"]) == (5, 5)
    assert (ok["http_version"], ok["ip"]) == ("HTTP/1.1", "127.0.0.1")
    assert ok["started_at"].endswith("+00:00")
    for phase in ("queue_ms", "ttfb_ms", "download_ms", "total_ms"):
        assert isinstance(ok[phase], float)
    assert ok["total_ms"] >= ok["ttfb_ms"]
    assert ok["tls_ms"] is None

    not_found = rows[3]
    assert (not_found["outcome"], not_found["status"], not_found["ok"]) == (
        "http_error",
        404,
        False,
    )
    assert not_found["error"] == "HTTP status 404 is not accepted (200..=299)"

    redirected = rows[4]
    assert (redirected["outcome"], redirected["status"], redirected["redirects"]) == ("ok", 200, 2)
    assert [(hop["url"], hop["status"]) for hop in redirected["chain"]] == [
        (f"{site}/redirect/2", 302),
        (f"{site}/redirect/1", 302),
        (f"{site}/ok", 200),
    ]
    assert redirected["final_url"] == f"{site}/ok"
    assert redirected["attempts"] == 3
    assert redirected["total_ms"] >= sum(hop["ms"] for hop in redirected["chain"])

    loop = rows[5]
    assert (loop["outcome"], loop["ok"], loop["status"]) == ("redirect_loop", False, None)
    assert loop["error"] == "max redirections reached"
    assert len(loop["chain"]) == 6

    flaky = rows[6]
    assert (flaky["outcome"], flaky["status"], flaky["attempts"]) == ("ok", 200, 2)

    refused_row = rows[7]
    assert (refused_row["outcome"], refused_row["ok"], refused_row["attempts"]) == (
        "refused",
        False,
        1,  # not worth retrying
    )
    assert refused_row["url"] in refused_row["error"]

    assert (rows[8]["outcome"], rows[8]["ok"]) == ("invalid_url", False)
    assert "relative URL" in rows[8]["error"]
    assert rows[9]["outcome"] == "unsupported_scheme"
    assert (rows[11]["outcome"], rows[11]["ok"], rows[11]["status"]) == ("duplicate", None, None)

    slow = rows[12]
    assert (slow["outcome"], slow["ok"], slow["attempts"]) == ("timeout", False, 2)
    assert "0.5 seconds" in slow["error"]

    stats = crawler.stats.get_stats()
    assert stats["crawler/entries_count"] == stats["crawler/rows_count"] == 10
    assert stats["crawler/rows_not_ok_count"] == 6
    outcome_counts = {k: v for k, v in stats.items() if k.startswith("crawler/outcome_count/")}
    assert sum(outcome_counts.values()) == 10
    assert outcome_counts["crawler/outcome_count/ok"] == 3


@coroutine_test
async def test_csv_cells_are_flat_and_columns_fixed(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/redirect/1\n")
    out = tmp_path / "out.csv"
    await crawl_urls(out, str(urls))
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(FIELDS)
    (row,) = read_rows(out)
    assert (row["outcome"], row["ok"], row["status"], row["redirects"]) == (
        "ok",
        "true",
        "200",
        "1",
    )
    first, second = row["chain"].split(" -> ")
    assert first.startswith(f"302 {site}/redirect/1 (")
    assert first.endswith(" ms)")
    assert second.startswith(f"200 {site}/ok (")
    assert row["dns_ms"] == ""


@coroutine_test
async def test_json_keeps_structure(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/redirect/1\n{site}/status/500\n")
    out = tmp_path / "out.json"
    await crawl_urls(out, str(urls), RETRY_TIMES=0)
    rows = by_line(read_rows(out))
    assert [hop["status"] for hop in rows[1]["chain"]] == [302, 200]
    assert (rows[2]["status"], rows[2]["outcome"], rows[2]["attempts"]) == (500, "http_error", 1)


@coroutine_test
async def test_accept_argument_widens_accepted_statuses(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/status/403\n{site}/status/404\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_ACCEPT="200..=299,403")
    rows = by_line(read_rows(out))
    assert (rows[1]["ok"], rows[1]["outcome"], rows[1]["error"]) == (True, "ok", None)
    assert (rows[2]["ok"], rows[2]["outcome"]) == (False, "http_error")


@coroutine_test
async def test_one_row_per_entry_on_a_large_mixed_list(site: str, tmp_path: Path) -> None:
    rng = random.Random(20261125)
    refused = f"http://127.0.0.1:{closed_port()}/x"
    kinds = [
        lambda i: f"{site}/ok?i={i}",
        lambda i: f"{site}/ok?i={i % 50}",  # many duplicates
        lambda i: f"{site}/status/{rng.choice([200, 204, 404, 410])}?i={i}",
        lambda i: f"{site}/redirect/{1 + i % 3}?i={i}",
        lambda i: refused,
        lambda i: f"nonsense {i}",
        lambda i: f"mailto:user{i}@example.com",
        lambda i: f"ftp://example.com/{i}",
        lambda i: f"http://[::1:{i}",
        lambda i: "# comment",
        lambda i: "   ",
    ]
    lines = [rng.choice(kinds)(i) for i in range(1400)]
    urls = tmp_path / "mixed.txt"
    urls.write_text("\n".join(lines) + "\n")
    expected_lines = {
        n for n, text in enumerate(lines, 1) if text.strip() and not text.startswith("#")
    }
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls), RETRY_TIMES=0)

    rows = read_rows(out)
    assert len(rows) == len(expected_lines) > 1000
    assert {row["line"] for row in rows} == expected_lines
    assert {row["outcome"] for row in rows} <= set(OUTCOMES)
    assert {"ok", "http_error", "refused", "invalid_url", "unsupported_scheme", "unchecked"} | {
        "duplicate"
    } <= {row["outcome"] for row in rows}
    stats = crawler.stats.get_stats()
    assert stats["crawler/entries_count"] == stats["crawler/rows_count"] == len(expected_lines)
    outcome_total = sum(v for k, v in stats.items() if k.startswith("crawler/outcome_count/"))
    assert outcome_total == len(expected_lines)
    assert len(crawler.spider._seen) == 0  # released when the spider closed


@coroutine_test
async def test_robots_txt_filtered_urls_get_their_row(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/private\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), ROBOTSTXT_OBEY=True)
    rows = by_line(read_rows(out))
    assert (rows[1]["outcome"], rows[1]["ok"]) == ("ok", True)
    assert (rows[2]["outcome"], rows[2]["ok"], rows[2]["error"]) == (
        "robots",
        False,
        "Forbidden by robots.txt",
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@coroutine_test
async def test_rows_reach_the_file_while_the_crawl_goes_on(
    server_loop: ServerLoop, tmp_path: Path, suffix: str
) -> None:
    release = threading.Event()
    held_site = server_loop.http(checker_app(release))
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{held_site}/hold\n{held_site}/ok\n")
    out = tmp_path / f"out{suffix}"
    crawler = urls_crawler(out)
    seen_on_disk: list[list[dict[str, Any]]] = []

    def on_row(item: Any) -> None:
        if item.url.endswith("/ok"):
            seen_on_disk.append(read_rows(out))
            release.set()

    crawler.signals.connect(on_row, signal=signals.item_scraped)
    try:
        await crawler.crawl_async(urls=str(urls))
    finally:
        release.set()
    assert [[row["url"] for row in rows] for rows in seen_on_disk] == [[f"{held_site}/ok"]]
    assert sorted(row["url"] for row in read_rows(out)) == [f"{held_site}/hold", f"{held_site}/ok"]


@coroutine_test
async def test_gzip_csv_and_jsonl_inputs_together(site: str, tmp_path: Path) -> None:
    csv_gz = tmp_path / "links.csv.gz"
    csv_gz.write_bytes(
        gzip.compress(f"title,url\nhome,{site}/ok\ngone,{site}/status/410\n".encode())
    )
    jsonl = tmp_path / "links.jsonl"
    jsonl.write_text(f'{{"url": "{site}/redirect/1"}}\n{{"href": "x"}}\n')
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, f"{csv_gz},{jsonl}")
    rows = {(row["source"], row["line"]): row for row in read_rows(out)}
    assert {key: (row["outcome"], row["status"]) for key, row in rows.items()} == {
        (str(csv_gz), 2): ("ok", 200),
        (str(csv_gz), 3): ("http_error", 410),
        (str(jsonl), 1): ("ok", 200),
        (str(jsonl), 2): ("invalid_url", None),
    }
    assert rows[(str(jsonl), 2)]["error"] == 'line has no "url" string'


@coroutine_test
async def test_certificates_are_verified_by_default(
    server_loop: ServerLoop, tls_server_cert: trustme.LeafCert, tmp_path: Path
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_server_cert.configure_cert(context)
    secure = server_loop.http(checker_app(), context)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{secure}/ok\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), RETRY_TIMES=0)
    (row,) = read_rows(out)
    assert (row["outcome"], row["ok"], row["status"]) == ("tls", False, None)
    assert "certificate verify failed" in row["error"]
    relaxed = tmp_path / "relaxed.jsonl"
    await crawl_urls(relaxed, str(urls), DOWNLOAD_VERIFY_CERTIFICATES=False)
    (row,) = read_rows(relaxed)
    assert (row["outcome"], row["status"], row["tls_version"]) == ("ok", 200, "TLSv1.3")
    assert row["cert_expires"] is not None
    assert row["tls_ms"] is not None


@coroutine_test
async def test_only_outcomes_worth_retrying_are_retried(
    site: str, server_loop: ServerLoop, tmp_path: Path
) -> None:
    faults = fault_server(server_loop)
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"http://127.0.0.1:{closed_port()}/\n{site}/status/500\n{faults}/429\n"
        f"{site}/status/502\n{site}/slow?s=5\n{faults}/reset-before-reply\n"
    )
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), RETRY_TIMES=2, DOWNLOAD_TIMEOUT=0.3)
    attempts = {row["line"]: (row["outcome"], row["attempts"]) for row in read_rows(out)}
    assert attempts == {
        1: ("refused", 1),
        2: ("http_error", 1),
        3: ("rate_limited", 1),
        4: ("http_error", 3),
        5: ("timeout", 3),
        6: ("reset", 3),
    }


@coroutine_test
async def test_a_retry_goes_ahead_of_the_queued_entries(site: str, tmp_path: Path) -> None:
    lines = [f"{site}/ok?i={n}" for n in range(300)]
    lines[4] = f"{site}/flaky?key=ahead"  # a 503, then a 200
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(
        out, str(urls), CONCURRENT_REQUESTS=2, CONCURRENT_REQUESTS_PER_DOMAIN=2,
        CRAWLER_BACKOFF_BASE=0,
    )  # fmt: skip
    written = [row["line"] for row in read_rows(out)]  # rows are written as URLs finish
    assert sorted(written) == list(range(1, 301))
    flaky = next(row for row in read_rows(out) if row["line"] == 5)
    assert (flaky["outcome"], flaky["attempts"]) == ("ok", 2)
    # behind the ~295 queued entries (Scrapy's RETRY_PRIORITY_ADJUST=-1) it would finish last
    assert written.index(5) < 30, written.index(5)


@coroutine_test
async def test_awkward_urls_each_get_their_row(site: str, tmp_path: Path) -> None:
    port = site.rsplit(":", 1)[1]
    lines = {
        f"{site}/ok?q=with spaces": "ok",
        f"http://[::1]:{closed_port()}/": "refused",
        "http://bücher.invalid/": "dns",
        "javascript:alert(1)": "unsupported_scheme",
        "mailto:someone@example.com": "unchecked",
        "ftp://example.com/file": "unsupported_scheme",
        "//example.com/no-scheme": "invalid_url",
        "/relative/path": "invalid_url",
        f"http://127.0.0.1:{port}:{port}/": "invalid_url",
        "http://[::1/": "invalid_url",
        "http:///no-host": "invalid_url",
        "http://1.2.3.4.5/": "invalid_url",
        "http://a..b/": "invalid_url",
        f"http://{'a' * 64}.example/": "invalid_url",
    }
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), RETRY_TIMES=0)
    rows = {row["url"]: row for row in read_rows(out)}
    assert {url: row["outcome"] for url, row in rows.items()} == lines
    assert all(row["error"] for row in rows.values() if row["outcome"] != "ok")


@coroutine_test
async def test_control_characters_and_broken_unicode_are_invalid_not_lost(
    site: str, tmp_path: Path
) -> None:
    text = tmp_path / "urls.txt"  # classic Mac line ends: three URLs in one line, and a tab
    text.write_bytes(
        f"{site}/ok?a\r{site}/ok?b\r{site}/ok?c\r\n{site}/ok?tab\there\n{site}/ok?d\n".encode()
    )
    lines = tmp_path / "urls.jsonl"  # JSON escapes can spell half a character
    lines.write_text(
        f'{{"url": "{site}/ok?e"}}\n{{"url": "{site}/ok?\\ud800"}}\n{{"url": "\\udc00"}}\n'
        f'{{"url": "{site}/ok?f"}}\n'
    )
    out = tmp_path / "out.csv"
    await crawl_urls(out, f"{text},{lines}")
    rows = {(Path(row["source"]).name, int(row["line"])): row for row in read_rows(out)}
    assert {key: row["outcome"] for key, row in rows.items()} == {
        ("urls.txt", 1): "invalid_url",
        ("urls.txt", 2): "invalid_url",
        ("urls.txt", 3): "ok",
        ("urls.jsonl", 1): "ok",
        ("urls.jsonl", 2): "invalid_url",
        ("urls.jsonl", 3): "invalid_url",
        ("urls.jsonl", 4): "ok",
    }
    assert "CR line ends" in rows["urls.txt", 1]["error"]
    assert "'\\t'" in rows["urls.txt", 2]["error"]
    assert rows["urls.jsonl", 2]["url"].endswith("?\\ud800")  # shown escaped, exported
    assert "not valid Unicode" in rows["urls.jsonl", 3]["error"]


@coroutine_test
async def test_retry_after_is_honoured_up_to_the_cap(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/retry-after?key=short&wait=1\n{site}/retry-after?key=long&wait=60\n")
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls), RETRY_TIMES=2, CRAWLER_RETRY_AFTER_MAX=5)
    rows = {row["line"]: row for row in read_rows(out)}
    waited = rows[1]
    assert (waited["outcome"], waited["status"], waited["attempts"]) == ("ok", 200, 2)
    assert waited["total_ms"] >= 1000
    too_long = rows[2]
    assert (too_long["outcome"], too_long["attempts"], too_long["retry_after"]) == (
        "rate_limited",
        1,
        60,
    )
    assert crawler.stats.get_value("crawler/politeness/backoff_count/127.0.0.1") == 1


@pytest.mark.parametrize("cookies", [False, True])
def test_the_cookies_middleware_is_loaded_only_when_cookies_are_on(
    tmp_path: Path, cookies: bool
) -> None:
    crawler = urls_crawler(tmp_path / "out.csv", COOKIES_ENABLED=cookies)
    enabled = build_component_list(crawler.settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert (COOKIES_MIDDLEWARE in enabled) is cookies
    assert "middlewares.politeness.PoliteRetryMiddleware" in enabled  # the rest is untouched
