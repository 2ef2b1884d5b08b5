"""Seeds from sitemaps: a sitemap, a sitemap index (read recursively), either gzipped, or the
``Sitemap:`` lines of a robots.txt, read with Scrapy's sitemap utilities (``docs/site.md``,
"Sitemaps")."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.checker import outcomes

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.http import Response
    from twisted.python.failure import Failure

    from crawler.site.spider import SiteCheckSpider

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
MAX_SITEMAPS = 1000
"""Sitemaps read in one crawl, indexes included (an index naming more is cut there)."""
SITEMAP_META_KEY = "site_sitemap"
"""``request.meta`` key of a sitemap request: the sitemap's URL as named."""
SITEMAP_PRIORITY = 100
"""Sitemaps go ahead of the pages waiting in the queue."""
SITEMAPS_STAT = "crawler/site/sitemaps_count"
"""Stats key: sitemaps read (indexes and robots.txt included)."""
SITEMAP_ERRORS_STAT = "crawler/site/sitemap_errors_count"
"""Stats key: sitemaps that could not be read (the crawl's exit status is 1)."""


class SitemapError(ValueError):
    """A sitemap that cannot be read (one line)."""


@dataclass(slots=True)
class SitemapLinks:
    """What one sitemap names."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    """More sitemaps: the entries of an index, or the ``Sitemap:`` lines of a robots.txt."""


def is_robots_txt(url: str) -> bool:
    """Whether ``url`` names a robots.txt (read for its ``Sitemap:`` lines)."""
    return urlsplit(url).path.endswith("/robots.txt")


def read_sitemap(url: str, body: bytes, *, max_size: int = 0) -> SitemapLinks:
    """The pages and sitemaps named by the sitemap (or robots.txt) ``body`` found at ``url``.

    A gzipped body (a ``.xml.gz`` sent without ``Content-Encoding``) is unpacked first, up
    to ``max_size`` bytes (0: no bound). ``SitemapError`` for a body that is no sitemap.
    """
    if is_robots_txt(url):
        return SitemapLinks(sitemaps=list(sitemap_urls_from_robots(body, base_url=url)))
    if body.startswith(GZIP_MAGIC):
        try:
            body = gunzip(body, max_size=max_size)
        except (OSError, EOFError, ValueError) as e:  # DecompressionMaxSizeExceeded is one
            raise SitemapError(f"cannot be unpacked ({e})") from None
    try:
        sitemap = Sitemap(body)
    except (
        SyntaxError,
        StopIteration,
        AttributeError,
        ValueError,
    ):  # lxml's errors are SyntaxError
        raise SitemapError("is not XML") from None
    locations = [urljoin(url, entry["loc"]) for entry in sitemap if entry.get("loc")]
    if sitemap.type == "sitemapindex":
        return SitemapLinks(sitemaps=locations)
    if sitemap.type == "urlset":
        return SitemapLinks(pages=locations)
    raise SitemapError(f"is not a sitemap (its root element is <{sitemap.type}>)")


class SitemapReader:
    """Requests a crawl's sitemaps (each once, indexes followed) and hands the pages they
    name to the spider (:meth:`~crawler.site.spider.SiteCheckSpider.sitemap_page`). A sitemap
    that cannot be read is one ERROR line and exit status 1; it gets no row (it is no link of
    the site)."""

    def __init__(self, spider: SiteCheckSpider, *, max_size: int = 0) -> None:
        self.spider = spider
        self.max_size = max_size
        """``DOWNLOAD_MAXSIZE``: the bound of an unpacked ``.gz`` sitemap."""
        self.started = False
        self.asked: set[str] = set()

    def start(self, urls: Iterable[str]) -> list[Request]:
        """The requests of the sitemaps ``urls`` the first time; then none."""
        if self.started:
            return []
        self.started = True
        return [request for url in urls if (request := self.request(url)) is not None]

    def request(self, url: str) -> Request | None:
        """The request of the sitemap ``url``; ``None`` if it was asked for already, or once
        :data:`MAX_SITEMAPS` were. robots.txt is not asked: a sitemap is meant for crawlers."""
        if url in self.asked:
            return None
        if len(self.asked) >= MAX_SITEMAPS:
            if len(self.asked) == MAX_SITEMAPS:
                self.asked.add("")  # warn once
                logger.warning(
                    "More than %d sitemaps: the others are not read",
                    MAX_SITEMAPS,
                    extra={"spider": self.spider},
                )
            return None
        self.asked.add(url)
        return Request(
            url,
            callback=self.read,
            errback=self.failed,
            dont_filter=True,
            priority=SITEMAP_PRIORITY,
            meta={"dont_obey_robotstxt": True, SITEMAP_META_KEY: url},
        )

    def read(self, response: Response) -> list[Any]:
        """The requests of the sitemaps an index names; its pages go to the spider."""
        url: str = response.meta[SITEMAP_META_KEY]
        if not 200 <= response.status < 300:
            self._cannot_read(url, f"HTTP {response.status}")
            return []
        try:
            found = read_sitemap(response.url, response.body, max_size=self.max_size)
        except SitemapError as e:
            self._cannot_read(url, str(e))
            return []
        self.spider.crawler.stats.inc_value(SITEMAPS_STAT)
        steps: list[Any] = [
            request for named in found.sitemaps if (request := self.request(named)) is not None
        ]
        for position, page in enumerate(found.pages, 1):
            self.spider.sitemap_page(page, url, position)
        return steps

    def failed(self, failure: Failure) -> list[Any]:
        """No steps: one ERROR line saying why."""
        request: Request = failure.request  # type: ignore[attr-defined]
        error: BaseException = failure.value  # type: ignore[assignment]
        reason = (
            f"HTTP {error.response.status}"
            if isinstance(error, HttpError) and error.response is not None
            else outcomes.describe(error)
        )
        self._cannot_read(request.meta[SITEMAP_META_KEY], reason)
        return []

    def _cannot_read(self, url: str, reason: str) -> None:
        self.spider.crawler.stats.inc_value(SITEMAP_ERRORS_STAT)
        logger.error(
            "sitemap %s cannot be read (%s): its pages are not seeds",
            self.spider.redactor.url(url),
            self.spider.redactor.text(reason),
            extra={"spider": self.spider},
        )
