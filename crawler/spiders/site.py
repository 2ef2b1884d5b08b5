"""``scrapy crawl site -a urls=https://docs.example.org/ -O links.csv``: check a whole site."""

from __future__ import annotations

from crawler.site import SiteCheckSpider


class SiteSpider(SiteCheckSpider):
    """Checks every link of the sites of the seeds named by ``-a urls=…`` (URLs or files)."""

    name = "site"
