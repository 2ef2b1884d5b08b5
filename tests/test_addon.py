"""The add-on in a brand-new Scrapy project, its settings, and what the wheel installs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.addon import ASYNCIO_REACTOR, Addon
from crawler.handler.timing_stats import TimingStats
from tests._apps import checker_app

if TYPE_CHECKING:
    from tests.servers import ServerLoop

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HTTP11 = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"


def addon_settings(**project: Any) -> Settings:
    crawler = get_crawler(settings_dict={"ADDONS": {Addon: 0}, **project})
    crawler._apply_settings()
    return crawler.settings


def test_addon_installs_handler_and_keeps_fallbacks() -> None:
    settings = addon_settings()
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    assert handlers["http"] == handlers["https"] == "crawler.handler.AiohttpDownloadHandler"
    assert settings["CRAWLER_FALLBACK_HTTP_HANDLER"] == HTTP11
    assert settings["CRAWLER_FALLBACK_HTTPS_HANDLER"] == HTTP11
    assert settings.getpriority("CRAWLER_FALLBACK_HTTP_HANDLER") == 15  # "addon"
    assert TimingStats in settings.getdict("EXTENSIONS")


def test_project_settings_win() -> None:
    settings = addon_settings(
        CRAWLER_FALLBACK_HTTPS_HANDLER="myproject.handlers.Special",
        EXTENSIONS={"crawler.handler.timing_stats.TimingStats": None},
    )
    assert settings["CRAWLER_FALLBACK_HTTPS_HANDLER"] == "myproject.handlers.Special"
    assert settings.getdict("EXTENSIONS") == {"crawler.handler.timing_stats.TimingStats": None}


def test_incompatible_reactor_is_refused_clearly() -> None:
    settings = Settings({"TWISTED_REACTOR": "twisted.internet.selectreactor.SelectReactor"})
    with pytest.raises(ValueError, match="needs the asyncio reactor, but TWISTED_REACTOR is"):
        Addon.update_pre_crawler_settings(settings)
    compatible = Settings()
    Addon.update_pre_crawler_settings(compatible)
    assert compatible["TWISTED_REACTOR"] == ASYNCIO_REACTOR


SPIDER = """
import scrapy
from crawler import timing_fields


class TimedSpider(scrapy.Spider):
    name = "timed"

    async def start(self):
        yield scrapy.Request({url!r})

    def parse(self, response):
        yield {{"url": response.url, "status": response.status, **timing_fields(response)}}
"""


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def test_one_line_in_a_new_project(site: str, tmp_path: Path) -> None:
    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scrapy", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    made = run("startproject", "demo", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "demo"
    settings = project / "demo" / "settings.py"
    settings.write_text(settings.read_text() + '\nADDONS = {"crawler.addon.Addon": 0}\n')
    (project / "demo" / "spiders" / "timed.py").write_text(SPIDER.format(url=f"{site}/ok"))
    out = project / "items.jsonl"
    crawled = run("crawl", "timed", "-O", str(out), "-s", "LOG_LEVEL=INFO", cwd=project)
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    (item,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (item["status"], item["ip"], item["http_version"]) == (200, "127.0.0.1", "HTTP/1.1")
    assert item["ttfb_ms"] > 0
    # startproject obeys robots.txt: /robots.txt went first, on the same connection
    assert item["connection_reused"] is True
    assert "crawler.addon.Addon" in crawled.stderr
    assert "'crawler/handler/connections_created_count': 1" in crawled.stderr
    assert "'crawler/handler/connections_reused_count': 1" in crawled.stderr
    assert "'crawler/timing/ttfb_count': 2" in crawled.stderr
