"""Start-up: a plain ``scrapy crawl urls`` imports only what it uses."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list

from crawler.spiders.site import SiteSpider
from crawler.spiders.urls import UrlsSpider
from crawler.tuning import UNUSED_WHEN_OFF, OwnSpiderLoader
from tests._apps import checker_app
from tests._crawl import read_rows, urls_crawler
from tests._scrapy import PROJECT_ROOT

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

NOT_IMPORTED = (
    "aiohttp.web",  # Scrapy's remote control, turned off
    "twisted.conch.telnet",  # Scrapy's telnet console, turned off
    "tldextract",  # Scrapy's cookies middleware, turned off
    "crawler.output.merge",  # workers and `scrapy merge`
    "crawler.scale.parts_progress",  # workers
    "crawler.scale.workers",  # workers (the parent's side)
    "crawler.site.spider",  # the site spider
    "ddsketch",  # the summary of a phase with more than 100,000 values
)


@pytest.mark.parametrize("component", sorted(UNUSED_WHEN_OFF))
@pytest.mark.parametrize("enabled", [False, True])
def test_a_component_turned_off_is_not_even_loaded(
    tmp_path: Path, component: str, enabled: bool
) -> None:
    setting, _, base = UNUSED_WHEN_OFF[component]
    crawler = urls_crawler(tmp_path / "out.csv", **{setting: enabled})
    loaded = build_component_list(crawler.settings.getwithbase(base.removesuffix("_BASE")))
    assert (component in loaded) is enabled


def crawl_one_url(
    server_loop: ServerLoop, tmp_path: Path, python: list[str]
) -> subprocess.CompletedProcess[str]:
    """``python`` (an interpreter and its options) runs ``scrapy crawl urls`` on one URL that
    answers 200; the row is checked, the process returned."""
    site = server_loop.http(checker_app())
    listed = tmp_path / "urls.txt"
    listed.write_text(f"{site}/ok\n")
    out = tmp_path / "out.csv"
    done = subprocess.run(
        [*python, "crawl", "urls", "-a", f"urls={listed}", "-O", str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert [row["outcome"] for row in read_rows(out)] == ["ok"]
    return done


def test_a_plain_crawl_imports_no_module_it_does_not_use(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    done = crawl_one_url(
        server_loop, tmp_path, [sys.executable, "-X", "importtime", "-m", "scrapy"]
    )
    imported = set(re.findall(r"^import time:.*\|\s+(\S+)$", done.stderr, re.MULTILINE))
    assert "crawler.handler.download" in imported  # the import times were read
    assert sorted(imported & set(NOT_IMPORTED)) == []


EXIT_PROBE = """
import atexit, gc, sys

# registered first, so called last: after the crawl's own exit handlers
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count(), file=sys.stderr))
from scrapy.cmdline import execute

execute(["scrapy", *sys.argv[1:]])
"""


def test_a_crawl_leaves_its_heap_out_of_the_collections_at_exit(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    """The interpreter's last collections walk every object Scrapy, Twisted and aiohttp made,
    a large part of a short run's time: a crawl freezes them (``gc.freeze``) first."""
    done = crawl_one_url(server_loop, tmp_path, [sys.executable, "-c", EXIT_PROBE])
    frozen = re.search(r"frozen at exit: (\d+)", done.stderr)
    assert frozen is not None, done.stderr[-3000:]
    assert int(frozen[1]) > 10_000  # Scrapy's, Twisted's, aiohttp's objects: not 0


PROJECT_SPIDER = """
from scrapy import Spider


class MyUrls(Spider):
    name = "urls"
"""


def test_the_spider_loader_finds_ours_and_lets_a_project_spider_keep_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "loader_project_spiders"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mine.py").write_text(PROJECT_SPIDER)
    monkeypatch.syspath_prepend(str(tmp_path))
    ours = OwnSpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["crawler.spiders"]}))
    assert (ours.load("urls"), ours.load("site")) == (UrlsSpider, SiteSpider)
    with pytest.raises(KeyError, match="Spider not found: nope"):
        ours.load("nope")
    modules = ["crawler.spiders", "loader_project_spiders"]
    loader = OwnSpiderLoader.from_settings(Settings({"SPIDER_MODULES": modules}))
    assert loader.load("urls").__module__ == "loader_project_spiders.mine"  # as with Scrapy's
    assert loader.load("site") is SiteSpider
    with pytest.warns(UserWarning, match="several spiders with the same name"):
        assert sorted(loader.list()) == ["site", "urls"]  # Scrapy's loader, which warns
