"""Run the ``urls`` spider in-process with the project's settings, and read its exports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.utils.test import get_crawler

import crawler.settings as project_settings
from crawler.output.read import ExportReader
from spiders.urls import UrlsSpider

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler


def project_settings_dict(**overrides: Any) -> dict[str, Any]:
    """The project's settings module as a dict, with ``overrides`` applied."""
    settings = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    settings.update(LOG_LEVEL="WARNING", RETRY_TIMES=1, DOWNLOAD_TIMEOUT=5)
    settings.update(overrides)
    return settings


def urls_crawler(output: Path, **overrides: Any) -> Crawler:
    """A crawler of the ``urls`` spider with the project's settings, exporting to ``output``."""
    feed_format = output.suffix.lstrip(".")
    settings = project_settings_dict(FEEDS={str(output): {"format": feed_format}}, **overrides)
    return get_crawler(UrlsSpider, settings)


async def crawl_urls(output: Path, urls: str, **overrides: Any) -> Crawler:
    """Crawl ``urls`` with the project's settings, exporting to ``output`` (format by suffix)."""
    crawler = urls_crawler(output, **overrides)
    await crawler.crawl_async(urls=urls)
    return crawler


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The complete rows of a CSV, JSON or JSON Lines export, as written (CSV cells stay text),
    read as resume, merge and the reports read them: a cut-off last line is left out."""
    reader = ExportReader(path)
    rows = [record.row for record in reader]
    assert not reader.bad_lines, f"{path} has lines that are not JSON"
    return rows
