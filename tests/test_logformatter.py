"""The per-URL DEBUG lines are made only when the log shows DEBUG."""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawler.tuning import QuietLogFormatter


@pytest.mark.parametrize(("level", "shown"), [("DEBUG", True), ("INFO", False), (20, False)])
def test_crawled_and_scraped_lines_follow_the_log_level(level: str | int, shown: bool) -> None:
    formatter = QuietLogFormatter.from_crawler(get_crawler(settings_dict={"LOG_LEVEL": level}))
    request = Request("http://a.example/")
    response = TextResponse("http://a.example/", body=b"x", request=request)
    spider = Spider("s")
    crawled = formatter.crawled(request, response, spider)
    scraped = formatter.scraped({"url": response.url}, response, spider)
    if shown:
        assert crawled is not None
        assert "Crawled" in crawled["msg"]
        assert scraped is not None
        assert "Scraped from" in scraped["msg"]
    else:
        assert crawled is None
        assert scraped is None
