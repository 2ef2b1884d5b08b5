"""Users' own spiders: subclass the base spider, override ``url_entries``; the genspider template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.utils.test import get_crawler

from crawler.checker.spider import UrlCheckSpider
from crawler.sources import UrlEntry
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import project_settings_dict, read_rows

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tests.servers import ServerLoop

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


class ListSpider(UrlCheckSpider):
    name = "list"
    site = ""

    def url_entries(self) -> Iterable[UrlEntry | str]:
        yield f"{self.site}/ok"
        yield UrlEntry(f"{self.site}/status/404", source="api", line=7)
        yield "http://x/" + "a" * 3000


async def crawl(spider: type[UrlCheckSpider], site: str, out: Path, **settings: Any) -> None:
    spider.site = site  # type: ignore[attr-defined]
    crawler = get_crawler(
        spider, project_settings_dict(FEEDS={str(out): {"format": "jsonlines"}}, **settings)
    )
    await crawler.crawl_async()


@coroutine_test
async def test_a_subclass_yields_strings_or_entries(site: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    await crawl(ListSpider, site, out)
    rows = {(row["source"], row["line"]): row for row in read_rows(out)}
    assert {key: row["outcome"] for key, row in rows.items()} == {
        ("list", 1): "ok",
        ("api", 7): "http_error",
        ("list", 3): "url_too_long",
    }
    assert rows[("list", 3)]["error"] == "URL is 3009 characters long (URLLENGTH_LIMIT=2083)"


def test_genspider_makes_spiders_from_scrapys_templates_and_ours(tmp_path: Path) -> None:
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = crawler.settings\n")
    (tmp_path / "spiders").mkdir()
    (tmp_path / "spiders" / "__init__.py").write_text("")
    env = {"PYTHONPATH": f"{tmp_path}:{PROJECT_ROOT}", "PATH": "/usr/bin:/bin"}

    def scrapy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scrapy", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    made = scrapy("genspider", "-t", "urlcheck", "docs_links", "docs.example.org")
    assert made.returncode == 0, made.stderr
    source = (tmp_path / "spiders" / "docs_links.py").read_text()
    assert "class DocsLinksSpider(UrlCheckSpider):" in source
    assert 'yield "https://docs.example.org"' in source
    basic = scrapy("genspider", "example", "example.com")  # Scrapy's own "basic" template
    assert basic.returncode == 0, basic.stdout + basic.stderr
    assert (
        "class ExampleSpider(scrapy.Spider):" in (tmp_path / "spiders" / "example.py").read_text()
    )
    templates = scrapy("genspider", "--list")
    assert templates.stdout.split()[2:] == ["basic", "crawl", "csvfeed", "urlcheck", "xmlfeed"]
    listed = scrapy("list")
    assert listed.returncode == 0, listed.stderr
    checker = ["site", "urls"]  # the checker comes along
    assert listed.stdout.split() == ["docs_links", "example", *checker]
