"""CRAWLER_EXCLUDE_PRIVATE: loopback servers are private, so they are the case to test."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest
from aiohttp.abc import AbstractResolver

from crawler.handler.addresses import NonPublicAddressesError, PublicOnlyResolver, is_public
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows

if TYPE_CHECKING:
    from pathlib import Path

    from aiohttp.abc import ResolveResult

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # link-local: cloud metadata
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),  # multicast
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:8.8.8.8", True),
        ("not an address", False),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(address) is public


class FixedResolver(AbstractResolver):
    """Answers every name with the same addresses (no network)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


@coroutine_test
async def test_resolver_keeps_public_addresses_only() -> None:
    resolver = PublicOnlyResolver(FixedResolver(["10.0.0.1", "8.8.8.8", "::1"]))
    results = await resolver.resolve("mixed.test", 80)
    assert [result["host"] for result in results] == ["8.8.8.8"]
    resolver = PublicOnlyResolver(FixedResolver(["10.0.0.1", "::1"]))
    with pytest.raises(
        NonPublicAddressesError,
        match=r"private\.test resolves only to non-public addresses \(10\.0\.0\.1, ::1\)",
    ):
        await resolver.resolve("private.test", 80)


@coroutine_test
async def test_private_addresses_are_excluded_only_when_asked(site: str, tmp_path: Path) -> None:
    port = site.rsplit(":", 1)[1]
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site}/ok\nhttp://localhost:{port}/ok\nhttp://localhost:{port}/status/204\n"
        f"http://[::1]:{port}/ok\n"
    )
    allowed = tmp_path / "allowed.jsonl"
    await crawl_urls(allowed, str(urls), RETRY_TIMES=0)
    outcomes = {row["line"]: row["outcome"] for row in read_rows(allowed)}
    assert outcomes == {1: "ok", 2: "ok", 3: "ok", 4: "refused"}  # the site is on IPv4 only

    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls), RETRY_TIMES=0, CRAWLER_EXCLUDE_PRIVATE=True)
    rows = {row["line"]: row for row in read_rows(out)}
    assert {line: (row["outcome"], row["ok"], row["status"]) for line, row in rows.items()} == {
        line: ("excluded", None, None) for line in (1, 2, 3, 4)
    }
    assert rows[1]["error"].startswith("excluded: 127.0.0.1 is not a public address")
    assert rows[2]["error"].startswith(
        "excluded: localhost resolves only to non-public addresses (127.0.0.1"
    )
    assert rows[3]["error"] == rows[2]["error"].replace("/ok", "/status/204")  # nothing cached
    assert rows[4]["error"].startswith("excluded: ::1 is not a public address")
    stats = crawler.stats.get_stats()
    assert "crawler/handler/connections_created_count" not in stats
    assert stats["crawler/outcome_count/excluded"] == 4
    assert stats.get("crawler/rows_not_ok_count", 0) == 0
