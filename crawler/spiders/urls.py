"""``scrapy crawl urls -a urls=FILE -O results.csv``: check every URL of a list."""

from __future__ import annotations

from crawler.checker import UrlCheckSpider


class UrlsSpider(UrlCheckSpider):
    """Checks the URLs of the files named by ``-a urls=…`` (``-`` for standard input)."""

    name = "urls"
