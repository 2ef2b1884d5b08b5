"""Bot walls: their own ``blocked`` outcome, never retried, never mistaken for a plain 403."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from scrapy.http import HtmlResponse

from crawler.checker.botwall import SIGN_CHARS, bot_wall_sign
from tests._apps import politeness_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.mark.parametrize(
    ("status", "headers", "body", "sign"),
    [
        (403, {"cf-mitigated": "challenge"}, b"", "cf-mitigated: challenge"),
        (429, {"x-amzn-waf-action": "captcha"}, b"", "x-amzn-waf-action: captcha"),
        (403, {"x-datadome": "protected"}, b"", "x-datadome: protected"),
        (
            503,
            {},
            b"<HTML><TITLE>Just a moment...</TITLE>",
            "'<title>just a moment...</title>' in the body",
        ),
        (403, {}, b'<div class="h-captcha">', "'captcha' in the body"),
        (403, {}, b"<h1>Forbidden</h1>", None),
        (403, {}, b" " * 1024 + b"captcha", None),  # beyond the first KiB
        (200, {"cf-mitigated": "challenge"}, b"captcha", None),  # not a refusal
        (404, {}, b"captcha", None),
    ],
)
def test_signs(status: int, headers: dict[str, str], body: bytes, sign: str | None) -> None:
    response = HtmlResponse("http://a.example/", status=status, headers=headers, body=body)
    assert bot_wall_sign(response) == sign


@coroutine_test
async def test_bot_walls_are_blocked_rows_and_not_retried(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(politeness_app())
    urls = tmp_path / "urls.txt"
    kinds = ["cloudflare", "aws", "captcha", "plain"]
    urls.write_text("".join(f"{site}/wall/{kind}\n" for kind in kinds))
    out = tmp_path / "out.jsonl"
    crawler = await crawl_urls(out, str(urls), RETRY_TIMES=2, CRAWLER_BACKOFF_BASE=0)
    rows = {row["url"].rsplit("/", 1)[1]: row for row in read_rows(out)}
    assert {kind: (row["outcome"], row["ok"], row["attempts"]) for kind, row in rows.items()} == {
        "cloudflare": ("blocked", False, 1),
        "aws": ("blocked", False, 1),  # a 429 behind a wall: waiting does not open it
        "captcha": ("blocked", False, 1),
        "plain": ("http_error", False, 1),
    }
    assert rows["cloudflare"]["error"] == (
        "blocked by a bot wall (HTTP 403, cf-mitigated: challenge)"
    )
    assert crawler.stats.get_value("crawler/outcome_count/blocked") == 3
    assert crawler.stats.get_value("crawler/politeness/backoff_count") is None


@coroutine_test
async def test_an_accepted_status_is_ok_even_behind_a_wall(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(politeness_app())
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/wall/cloudflare\n")
    out = tmp_path / "out.jsonl"
    await crawl_urls(out, str(urls), CRAWLER_ACCEPT="200..=299,403")
    (row,) = read_rows(out)
    assert (row["outcome"], row["ok"], row["error"]) == ("ok", True, None)


def test_a_huge_bot_wall_header_is_cut_in_the_sign() -> None:
    """Issue 17: a blocked row's error carried up to 64 KB of the server's header."""
    value = "challenge-" + "x" * 60_000
    response = HtmlResponse("https://a.example/", status=403, headers={"cf-mitigated": value})
    sign = bot_wall_sign(response)
    assert sign is not None
    assert sign.startswith("cf-mitigated: challenge-xxx")
    assert len(sign) <= len("cf-mitigated: ") + SIGN_CHARS + 1
    assert sign.endswith("…")
