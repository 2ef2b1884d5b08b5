"""The fault matrix: hostile servers, every URL ends in time with the right outcome and reason."""

from __future__ import annotations

import resource
import ssl
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import trustme
from scrapy import Request

from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows
from tests._handler import open_handler
from tests.faults import FAULTS, fault_server
from tests.test_urls_spider import closed_port

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from tests.servers import ServerLoop

TIMEOUT = 1.0
EXPECTED = {
    "/reset-before-reply": ("reset", "connection"),
    "/reset-mid-body": ("dataloss", "received 5000 bytes"),
    "/short-body": ("dataloss", "received 10 bytes"),
    "/broken-chunked": ("dataloss", "Invalid character in chunk size"),
    # aiohttp 3.14's C parser stalls on a bad chunk that arrives after the headers (even past
    # the server's FIN; aio-libs/aiohttp#10355 family): the download timeout ends it.
    "/broken-chunked-later": ("timeout", "took longer than 1.0 seconds"),
    "/garbage": ("invalid_response", "invalid HTTP response"),
    "/empty-reply": ("reset", "server closed the connection"),
    "/bad-header": ("invalid_response", "invalid HTTP response"),
    "/slow-headers": ("timeout", "took longer than 1.0 seconds"),
    "/endless-trickle": ("timeout", "took longer than 1.0 seconds"),
    "/huge-with-length": ("too_large", "larger than download max size"),
    "/huge-without-length": ("too_large", "larger than download max size"),
    "/gzip-bomb": ("too_large", "exceeded DOWNLOAD_MAXSIZE"),
    "/429": ("rate_limited", "rate limited (HTTP 429, Retry-After 120 s)"),
    "/503": ("rate_limited", "rate limited (HTTP 503, Retry-After 60 s)"),
    "/continue-flood": ("invalid_response", "more than 32 informational (1xx) responses"),
    # 405 to HEAD, 200 to GET: the checker sends GET, so it is not fooled (HEAD mode: issue 7)
    "/head-differs": ("ok", ""),
}


def tls_site(server_loop: ServerLoop, cert: trustme.LeafCert) -> str:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return server_loop.http(checker_app(), context).replace("127.0.0.1", "localhost")


@coroutine_test
async def test_every_fault_gets_its_outcome_in_time(
    server_loop: ServerLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trusted, untrusted = trustme.CA(), trustme.CA()
    ca_file = tmp_path / "ca.pem"
    trusted.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    now = datetime.now(UTC)
    tls_cases = {
        "expired": trusted.issue_cert(
            "localhost", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
        ),
        "self-signed": untrusted.issue_cert("localhost"),
        "wrong-host": trusted.issue_cert("other.example"),
        "good": trusted.issue_cert("localhost"),
    }
    faults = fault_server(server_loop)
    site = server_loop.http(checker_app())
    urls = {f"{faults}{path}": expected for path, expected in EXPECTED.items()}
    urls[f"http://127.0.0.1:{closed_port()}/"] = ("refused", "Connect call failed")
    urls["http://no-such-host.invalid/"] = ("dns", "DNS lookup failed")
    urls[f"{site}/loop/a"] = ("redirect_loop", "max redirections reached")
    urls[f"{site}/redirect/9"] = ("too_many_redirects", "max redirections reached")
    for name, cert in tls_cases.items():
        reason = {
            "expired": "certificate has expired",
            "self-signed": "unable to get local issuer certificate",
            "wrong-host": "Hostname mismatch",
        }.get(name)
        expected = ("ok", "") if reason is None else ("tls", reason)
        urls[tls_site(server_loop, cert) + f"/ok?{name}"] = expected
    listing = tmp_path / "faults.txt"
    listing.write_text("".join(f"{url}\n" for url in urls))
    out = tmp_path / "out.jsonl"
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    crawler = await crawl_urls(
        out,
        str(listing),
        DOWNLOAD_TIMEOUT=TIMEOUT,
        DOWNLOAD_MAXSIZE=1024 * 1024,
        RETRY_TIMES=0,
        REDIRECT_MAX_TIMES=5,
        CRAWLER_FULL_BODIES=True,  # a body cut after its first bytes: test_methods.py
    )

    peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    rows = {row["url"]: row for row in read_rows(out)}
    assert set(rows) == set(urls)
    got = {url: rows[url]["outcome"] for url in urls}
    assert got == {url: outcome for url, (outcome, _) in urls.items()}
    for url, (_, reason) in urls.items():
        assert reason in (rows[url]["error"] or ""), (url, rows[url]["error"])
        assert rows[url]["total_ms"] is None or rows[url]["total_ms"] < (TIMEOUT + 1) * 1000
    assert crawler.stats.get_value("crawler/rows_count") == len(urls)
    assert peak_growth_mb < 150  # 2 x 512 MiB bodies and a 64 MiB gzip bomb were refused
    assert len(FAULTS) == len(EXPECTED)


@coroutine_test
async def test_the_head_fault_is_real(server_loop: ServerLoop) -> None:
    url = fault_server(server_loop) + "/head-differs"
    async with open_handler() as handler:
        head = await handler.download_request(Request(url, method="HEAD"))
        get = await handler.download_request(Request(url))
    assert (head.status, get.status, get.body) == (405, 200, b"hello")
