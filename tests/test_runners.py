"""The handler under each way of running Scrapy, closing cleanly: no unclosed session warnings."""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from tests._apps import checker_app
from tests._scrapy import run_elsewhere

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

SCRIPT = """
import sys
from scrapy import Spider
from scrapy.crawler import {runner}

class Once(Spider):
    name = "once"

    async def start(self):
        yield self.make_request()

    def make_request(self):
        from scrapy import Request
        return Request(sys.argv[1], callback=self.parse)

    def parse(self, response):
        timing = response.meta["download_timing"]
        print("RESULT", response.status, response.body.decode(), timing.ttfb is not None, flush=True)

process = {runner}(settings={{
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "DOWNLOAD_HANDLERS": {{
        "http": "crawler.handler.AiohttpDownloadHandler",
        "https": "crawler.handler.AiohttpDownloadHandler",
    }},
    "LOG_LEVEL": "WARNING",
}})
process.crawl(Once)
process.start()
"""


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


@pytest.mark.parametrize("runner", ["CrawlerProcess", "AsyncCrawlerProcess"])
def test_runner_downloads_and_closes_cleanly(site: str, runner: str, tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT.format(runner=runner)))
    result = run_elsewhere(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", str(script), f"{site}/ok"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RESULT 200 hello True" in result.stdout
    assert "Unclosed" not in result.stderr
    assert "ResourceWarning" not in result.stderr
