"""The site spider: the checker with a growing list, fed by the links of the pages it fetches.

Seeds come from ``urls`` as in the ``urls`` spider; pages on the seeds' hosts are fetched with
GET and parsed (:mod:`crawler.site.extract`), every distinct link found gets one request and
one row. Links found wait in the frontier (:mod:`crawler.site.frontier`) until ``start()`` hands
them to the engine. See ``docs/site.md``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy.http import TextResponse
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.checker.fragments import PageStore, anchored, fragment_key, missing_error
from crawler.checker.methods import CHECK_METHOD_META_KEY, WHOLE_HTML_META_KEY, is_html
from crawler.checker.outcomes import Outcome
from crawler.checker.pipeline import STOPPED
from crawler.checker.read_ahead import POLL_SECONDS, engine_busy, wait_for_room
from crawler.checker.spider import (
    DUPLICATE,
    ENTRY_META_KEY,
    INPUT_ERROR,
    UrlCheckSpider,
)
from crawler.items import ENTRIES_RESUMED_STAT, ENTRIES_STAT, ROWS_RESUMED_NOT_OK_STAT, UrlResult
from crawler.names import SETTINGS, SITE_ARGUMENTS, SPIDER_ARGUMENTS
from crawler.site.extract import LinkReader
from crawler.site.frontier import Frontier, Queued, Waiting
from crawler.site.places import SitePlaces, link_fingerprint
from crawler.site.resume import ResumedLinks, done_links, duplicate_key, row_key
from crawler.site.scope import Scope
from crawler.site.sitemaps import SitemapReader
from crawler.sources import UrlEntry, UrlSourceError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

LINK_META_KEY = "site_link"
"""``request.meta`` key of the :class:`Link` a request checks."""
DEFAULT_DEPTH = 10
DEFAULT_MAX_PAGES = 100_000
PAGES_STAT = "crawler/site/pages_count"
"""Stats key: pages fetched to be parsed."""
LINKS_STAT = "crawler/site/links_count"
"""Stats key: links read on the pages (every place, repeats included)."""
REREAD_STAT = "crawler/site/pages_reread_count"
"""Stats key: pages a resumed crawl fetched again to read their links (they have a row)."""
REREAD_ERRORS_STAT = "crawler/site/reread_errors_count"
"""Stats key: pages fetched again that could not be read this time (a WARNING each)."""
SITE_SETTINGS: dict[str, Any] = {
    "METAREFRESH_ENABLED": False,
    "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
    "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
}
"""Scrapy settings a site crawl changes where the project leaves them at Scrapy's default."""
MAX_PENDING_FRAGMENTS = 256
"""Fragments of a page waited for while it is in flight (the first places linking to them)."""
ONE_PROCESS = ("workers", "shard", "redis", "job")
"""``urls`` arguments a site crawl does not take: it runs in one process."""
SEEN_URLS = 16_384
"""Links found lately, as written, kept with their fingerprint: found again, they are known
seen without canonicalising them again."""
SEED_SOURCE = "urls"
"""``source`` of the seeds given as URLs on the command line."""
_SEED_SPLIT = re.compile(r",(?=https?://)", re.IGNORECASE)


def seed_urls(spec: str | None) -> list[str] | None:
    """The URLs of a ``urls`` value made of URLs (``https://a/,https://b/``), or ``None`` when
    it names files."""
    if spec is None or not re.match(r"https?://", spec.strip(), re.IGNORECASE):
        return None
    return [url.strip() for url in _SEED_SPLIT.split(spec.strip()) if url.strip()]


def _count(given: Mapping[str, str], name: str, default: int) -> int:
    value = given.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class SiteArguments:
    """The ``site`` spider's own arguments, parsed."""

    depth: int = DEFAULT_DEPTH
    max_pages: int = DEFAULT_MAX_PAGES
    allow: str | None = None
    deny: str | None = None
    sitemaps: tuple[str, ...] = ()

    @classmethod
    def parse(cls, given: Mapping[str, str]) -> Self:
        """``ValueError`` (one line) for a bad value or a ``urls`` argument a crawl cannot take."""
        if refused := sorted(name for name in ONE_PROCESS if name in given):
            raise ValueError(
                f"-a {refused[0]}=… is not taken by the site spider: a site crawl runs in one "
                "process (drop it)"
            )
        Scope.parse(given.get("allow"), given.get("deny"))
        sitemaps = seed_urls(given.get("sitemap"))
        if "sitemap" in given and not sitemaps:
            raise ValueError(f"sitemap must be http(s):// URLs, got {given['sitemap']!r}")
        return cls(
            depth=_count(given, "depth", DEFAULT_DEPTH),
            max_pages=_count(given, "max_pages", DEFAULT_MAX_PAGES),
            allow=given.get("allow"),
            deny=given.get("deny"),
            sitemaps=tuple(sitemaps or ()),
        )


@dataclass(slots=True)
class Link:
    """A distinct link (a seed or a link found on a page) while its request is in flight."""

    fingerprint: int
    depth: int
    found_on: str | None = None
    """The first page it was found on, redacted; ``None`` for a seed."""
    count: int = 0
    """Places it was found at so far."""
    nofollow: bool = False
    page: bool = False
    """Fetched with GET to be parsed."""
    fragments: dict[str, Place] | None = None
    """Fragments linked to while it was in flight, with the first place linking to each."""
    resumed: bool = False
    """A page with a row in the ``resume`` outputs, fetched again only to read its links."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a link to a fragment was found."""

    url: str
    """The link, without its fragment."""
    source: str
    """The page it is on (redacted)."""
    line: int
    depth: int
    """The depth of the link."""


def _wait_for(link: Link, fragment: str, place: Place) -> None:
    """Remember that ``place`` links to ``fragment`` of the in-flight page ``link``."""
    if link.fragments is None:
        link.fragments = {}
    if fragment not in link.fragments and len(link.fragments) < MAX_PENDING_FRAGMENTS:
        link.fragments[fragment] = place


class SiteCheckSpider(UrlCheckSpider):
    """Checks every link of a site, starting from the ``urls`` seeds.

    Arguments: those of :class:`~crawler.checker.UrlCheckSpider` but ``workers``, ``shard``,
    ``redis`` and ``job``, plus its own (:data:`crawler.names.SITE_ARGUMENTS`).
    """

    name = "sitecheck"
    arguments: ClassVar[Mapping[str, str]] = {**SPIDER_ARGUMENTS, **SITE_ARGUMENTS}
    list_fragments: ClassVar[bool] = False  # the fragments of links are checked as links

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Breadth first: the frontier gives links by depth, and the scheduler takes them in
        turn (a link's priority is minus its depth; Scrapy's queues, when the project sets its
        scheduler, are FIFO); a page's ``<meta http-equiv=refresh>`` is one of its links, not a
        redirect of its own check. Project settings still win. ``ROBOTSTXT_OBEY`` is on unless
        given on the command line (the links leaving the scope are checked regardless)."""
        settings.set("ROBOTSTXT_OBEY", True, "spider")  # -s ROBOTSTXT_OBEY=False still wins
        super().update_settings(settings)  # before the queues below: they are for Scrapy's
        for name, value in SITE_SETTINGS.items():  # scheduler, kept when the project sets one
            if (settings.getpriority(name) or 0) <= SETTINGS_PRIORITIES["default"]:
                settings.set(name, value, "spider")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        own = {name: kwargs.pop(name) for name in SITE_ARGUMENTS if name in kwargs}
        super().__init__(*args, **kwargs)
        self.site = SiteArguments.parse(own)
        self.scope = Scope.parse(self.site.allow, self.site.deny)
        """The URLs whose pages are parsed."""
        self._in_flight: dict[int, Link] = {}
        self._found: Link | None = None
        self._pages = 0
        self._anchors: PageStore[frozenset[str]] = PageStore()
        self.check_fragments = True
        """``CRAWLER_FRAGMENTS``: links to ``page#fragment`` need that anchor on the page."""
        self.places: SitePlaces | None = None
        """Where each link was found (:mod:`crawler.site.places`)."""
        self.sitemaps = SitemapReader(self)
        self._done: ResumedLinks | None = None
        """The links the ``resume`` outputs hold a row for."""
        self.frontier = Frontier()
        self._reader = LinkReader()
        self._seen_urls: dict[str, int] = {}
        """Links found lately (absolute, no fragment; :data:`SEEN_URLS` at most) and their
        fingerprint, every one of them in the seen set."""
        """The links found and not requested yet (:mod:`crawler.site.frontier`)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Build the spider; the result cache is not used (a cached page is not parsed)."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._cache = None
        spider.check_fragments = crawler.settings.getbool(
            "CRAWLER_FRAGMENTS", SETTINGS["CRAWLER_FRAGMENTS"]
        )
        spider.places = SitePlaces.from_crawler(crawler)
        spider.sitemaps = SitemapReader(
            spider, max_size=crawler.settings.getint("DOWNLOAD_MAXSIZE")
        )
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        return spider

    def _closed(self, reason: str) -> None:
        if reason == STOPPED and (waiting := len(self.frontier)):
            logger.info(
                "%d links found were not checked yet: resume the crawl to check them",
                waiting,
                extra={"spider": self},
            )
        self.frontier.close()
        if self._done is not None:
            self._done.close()

    def broken_places(self) -> Iterator[dict[str, Any]]:
        """Every place of every link that is not ok, by page then line, once the spider
        closed (the reports' "broken links by page")."""
        return self.places.rows() if self.places is not None else iter(())

    @classmethod
    def check_arguments(cls, **given: str) -> None:
        """Raise ``ValueError`` (one line) for a bad argument."""
        SiteArguments.parse(given)
        if seed_urls(given.get("urls")) is not None or (  # no file to open
            "urls" not in given and "sitemap" in given
        ):
            given = {name: value for name, value in given.items() if name != "urls"}
            given["urls"] = "-"
        super().check_arguments(**given)

    def url_entries(self) -> Iterable[UrlEntry | str | None]:
        """The seeds: the URLs given as ``urls``, or the entries of its files."""
        seeds = seed_urls(self.urls)
        if self.urls is None and self.site.sitemaps:
            return  # the sitemaps' pages are the seeds
        if seeds is None:
            yield from super().url_entries()
            return
        logger.info("Checking the site of %s", ", ".join(seeds), extra={"spider": self})
        for line, url in enumerate(seeds, 1):
            yield UrlEntry(url=url, source=SEED_SOURCE, line=line)

    async def start(self) -> AsyncIterator[Any]:
        """Every seed into the frontier (their hosts are the scope), then a request per link
        of the frontier, breadth first, as the engine has room, until no page in flight can
        find more; then, with ``urls``, the sitemaps, and their pages the same way (so that
        the pages no page links to say so). With ``sitemap`` alone, the sitemaps first.

        With ``resume``, the links those outputs hold a row for get none (:meth:`_new_link`).
        """
        places = self.places.store if self.places is not None else None
        self._done = self.read_resume(
            lambda spec, appended: done_links(
                spec, appended, places.add_row if places is not None else None
            )
        )
        if self.urls is None:
            for request in self.sitemaps.start(self.site.sitemaps):
                yield request
        broken: UrlSourceError | None = None
        try:
            async for row in self._read_seeds():
                yield row
        except UrlSourceError as e:  # an input broke off: crawl from what was read, then stop
            logger.error("%s", e, extra={"spider": self})
            broken = e
        async for step in self._frontier_steps():
            yield step
        if broken is not None:
            raise CloseSpider(INPUT_ERROR) from broken

    async def _frontier_steps(self) -> AsyncIterator[Request | UrlResult]:
        """A step per link of the frontier, as the engine has room; done when the frontier
        is empty and the engine idle (no page in flight that could add links)."""
        while self._engine_running():
            queued = self.frontier.pop()
            if queued is None:
                if engine_busy(self.crawler):
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                if not (sitemaps := self.sitemaps.start(self.site.sitemaps)):
                    return
                for request in sitemaps:  # the crawl from the seeds ran dry
                    yield request
                continue
            link = Link(
                queued.fingerprint,
                depth=queued.depth,
                found_on=None if queued.seed else queued.source,
                count=queued.count,
                nofollow=queued.nofollow,
            )
            step = self._new_link(link, UrlEntry(queued.url, queued.source, queued.line))
            if step is None:
                continue
            await wait_for_room(self.crawler, self._read_ahead)
            yield step

    async def _read_seeds(self) -> AsyncIterator[UrlResult]:
        """Every seed of :meth:`url_entries` into the frontier (the rows of those that
        cannot be, at once)."""
        async for entry in self.list_entries():
            if (row := self._seed(entry)) is not None:
                yield row

    def _seed(self, entry: UrlEntry) -> UrlResult | None:
        """Queue the seed ``entry``; its row at once when it is not a URL or a duplicate."""
        fingerprint = link_fingerprint(entry.url)
        if entry.error is not None:
            step = self._new_link(Link(fingerprint, depth=0), entry)
            return step if isinstance(step, UrlResult) else None
        if fingerprint not in self._seen:
            self._seen.add(fingerprint)
            self.scope.add_seed(entry.url)
            self.frontier.push(
                Queued(fingerprint, entry.url, entry.source, entry.line, 0, True, False, 0)
            )
            return None
        self.crawler.stats.inc_value(ENTRIES_STAT)  # a seed given again: a row of its own
        if self._is_done(duplicate_key(entry.source, entry.line)):
            return None
        return self._entry_row(entry, Outcome.DUPLICATE, DUPLICATE)

    def _is_done(self, key: int) -> bool:
        """Whether the ``resume`` outputs hold the row of ``key`` (counted as resumed)."""
        if self._done is None or key not in self._done:
            return False
        stats = self.crawler.stats
        stats.inc_value(ENTRIES_RESUMED_STAT)
        if key in self._done.not_ok:  # a row of this job: it counts in the exit status
            stats.inc_value(ROWS_RESUMED_NOT_OK_STAT)
        return True

    def sitemap_page(self, url: str, sitemap: str, position: int) -> None:
        """Queue a page named by a sitemap, a seed found there, unless it was found before
        (``position``: its place in the sitemap, the row's ``line``)."""
        fingerprint = link_fingerprint(url)
        if fingerprint in self._seen:
            self._found_again(fingerprint)
            return
        self._seen.add(fingerprint)
        self.scope.add_seed(url)
        source = self.redactor.url(sitemap)
        self.frontier.push(Queued(fingerprint, url, source, position, 0, False, False))

    def _found_again(self, fingerprint: int) -> Link | None:
        """Count another place of a link seen before; its :class:`Link` if it is in flight."""
        if (known := self._in_flight.get(fingerprint)) is not None:
            known.count += 1
            return known
        self.frontier.found_again(fingerprint)
        return None

    def _new_link(self, link: Link, entry: UrlEntry) -> Request | UrlResult | None:
        """The first step of a link seen for the first time (a request, or its row at once:
        ``mailto:``, excluded, invalid), counted as an entry and marked as seen.

        A link with a row in the ``resume`` outputs gets none: ``None``, or the request that
        fetches its page again to read its links when it was parsed (:attr:`Link.resumed`).
        """
        self.crawler.stats.inc_value(ENTRIES_STAT)
        key = row_key(self.redactor.url(entry.url)) if self._done is not None else 0
        if self._is_done(key):
            link.resumed = True
            if self._done is None or key not in self._done.pages:
                self._seen.add(link.fingerprint)
                return None
        self._found = link
        step: Request | UrlResult | None
        try:
            step = self._first_step(entry, dedupe=False)  # seen when found: duplicates are not
        finally:
            self._found = None
        if link.fingerprint not in self._seen:
            self._seen.add(link.fingerprint)
        if link.resumed and (isinstance(step, UrlResult) or not link.page):
            step = None  # nothing to read again
        if step is None or isinstance(step, UrlResult):
            self._in_flight.pop(link.fingerprint, None)
        if isinstance(step, UrlResult):
            _fill(step, link)
        elif step is not None and link.resumed:
            self.crawler.stats.inc_value(REREAD_STAT)
        if step is not None and not isinstance(step, UrlResult) and link.page:
            for waiting in self.frontier.waiting(link.fingerprint):
                at = Place(waiting.url, waiting.source, waiting.line, waiting.depth)
                _wait_for(link, waiting.fragment, at)
        return step

    def countable_inputs(self) -> str | None:
        """``None``: a site's links are not known ahead."""
        return None

    def make_request(self, entry: UrlEntry) -> Request:
        """The request of a seed or of a link found on a page: pages in scope are fetched with
        GET, read whole when HTML, and parsed; other links are checked with ``method``."""
        request = super().make_request(entry)
        link = self._found
        if link is None:  # a seed
            link = Link(link_fingerprint(entry.url), depth=0)
            self.scope.add_seed(entry.url)
        in_scope = entry.url in self.scope
        link.page = (
            not link.nofollow
            and link.depth <= self.site.depth
            and self._pages < self.site.max_pages
            and in_scope
        )
        meta = request.meta
        if not in_scope:
            meta["dont_obey_robotstxt"] = True  # robots.txt speaks for the site's own pages
        meta[LINK_META_KEY] = link
        self._in_flight[link.fingerprint] = link
        request.priority = -link.depth  # set, not replaced: a copy costs as much as the request
        if not link.page:
            return request
        self._pages += 1
        self.crawler.stats.inc_value(PAGES_STAT)
        meta[CHECK_METHOD_META_KEY] = "get"
        meta[WHOLE_HTML_META_KEY] = True
        request.method = "GET"
        return request

    def parse_result(self, response: Response) -> list[Any]:
        """The link's row, then the requests and rows of the new links of a parsed page (only
        those of a page fetched again on resume: it has its row)."""
        rows: list[Any] = super().parse_result(response)
        link = response.meta.get(LINK_META_KEY)
        if not isinstance(link, Link):
            return rows
        self._finish(rows, link)
        if link.resumed:
            rows = []
        if (
            link.page
            and 200 <= response.status < 300
            and isinstance(response, TextResponse)
            and is_html(response.headers.get(b"Content-Type"))
            and (response.url == _entry_url(response) or response.url in self.scope)
            and "download_stopped" not in response.flags
        ):
            rows.extend(self._links_of(response, link))
        elif link.resumed:
            answer = response.status
            self._reread_failed(
                response.url, f"HTTP {answer}" if not 200 <= answer < 300 else "not an HTML page"
            )
        return rows

    def failed_result(self, failure: Failure) -> list[UrlResult]:
        """The link's row of a request that failed (none for a page fetched again on
        resume: it has its row)."""
        rows = super().failed_result(failure)
        request: Request = failure.request  # type: ignore[attr-defined]
        link = request.meta.get(LINK_META_KEY)
        if isinstance(link, Link):
            self._finish(rows, link)
            if link.resumed:
                if rows:  # none: the crawl is stopping
                    row = rows[0]
                    status = f"HTTP {row.status}" if row.status is not None else None
                    self._reread_failed(request.url, status or row.error or str(row.outcome))
                return []
        return rows

    def _reread_failed(self, url: str, reason: str) -> None:
        self.crawler.stats.inc_value(REREAD_ERRORS_STAT)
        logger.warning(
            "%s has its row in the resumed output, but reading it again failed (%s): the "
            "links found only on it are not checked",
            self.redactor.url(url),
            self.redactor.text(reason),
            extra={"spider": self},
        )

    def _finish(self, rows: list[UrlResult], link: Link) -> None:
        self._in_flight.pop(link.fingerprint, None)
        for row in rows:
            _fill(row, link)

    def _links_of(self, response: TextResponse, page: Link) -> list[Request | UrlResult]:
        found = self._reader.page_links(response.text, response.url)
        source = self.redactor.url(response.url)
        steps: list[Request | UrlResult] = self._keep_anchors(page, found.anchors)
        stats = self.crawler.stats
        stats.inc_value(LINKS_STAT, len(found.links))
        depth = page.depth + 1
        seen_urls = self._seen_urls
        if len(seen_urls) >= SEEN_URLS:
            seen_urls.clear()
        places: list[tuple[int, str | None, int, str, str]] = []
        for place in found.links:
            url = place.url
            fingerprint = seen_urls.get(url)
            seen = fingerprint is not None
            if fingerprint is None:
                fingerprint = link_fingerprint(url)
                seen = fingerprint in self._seen
            places.append((fingerprint, place.fragment, place.line, place.element, place.text))
            fragment = place.fragment if self.check_fragments else None
            at: Place | None = None
            if fragment is not None:
                at = Place(url, source, place.line, depth)
                if missing := self._fragment(fingerprint, fragment, at):
                    steps.append(missing)
            if seen:
                seen_urls[url] = fingerprint
                known = self._found_again(fingerprint)
                if fragment is None or at is None:
                    continue
                if known is not None:
                    if known.page:
                        _wait_for(known, fragment, at)
                elif fingerprint not in self._anchors:  # waiting in the frontier, maybe
                    self._wait_in_frontier(fingerprint, fragment, at)
                continue
            self._seen.add(fingerprint)
            seen_urls[url] = fingerprint
            self.frontier.push(
                Queued(
                    fingerprint,
                    url,
                    source,
                    place.line,
                    depth,
                    False,
                    found.nofollow or place.nofollow,
                )
            )
            if fragment is not None and at is not None:
                self._wait_in_frontier(fingerprint, fragment, at)
        if self.places is not None:
            self.places.store.add_page(source, places)
        return steps

    def _wait_in_frontier(self, fingerprint: int, fragment: str, place: Place) -> None:
        waiting = Waiting(fragment, place.url, place.source, place.line, place.depth)
        self.frontier.wait_for(fingerprint, waiting)

    def _keep_anchors(self, page: Link, anchors: frozenset[str]) -> list[Request | UrlResult]:
        """Keep the anchors of a parsed page; the rows of the fragments linked to while it was
        in flight that it has no anchor for."""
        self._anchors.keep(page.fingerprint, anchors)
        pending, page.fragments = page.fragments or {}, None
        return [
            row
            for fragment, place in pending.items()
            if (row := self._fragment(page.fingerprint, fragment, place)) is not None
        ]

    def _fragment(self, fingerprint: int, fragment: str, place: Place) -> UrlResult | None:
        """The ``missing_fragment`` row of a link from ``place`` to ``fragment`` of a parsed
        page that has no anchor for it (once per page and fragment); ``None`` otherwise, or
        while the page is not parsed yet."""
        anchors = self._anchors.get(fingerprint)
        if anchors is None or anchored(fragment, anchors):
            return None
        key = fragment_key(fingerprint, fragment)
        if key in self._seen:
            return None
        self._seen.add(key)
        self.crawler.stats.inc_value(ENTRIES_STAT)
        url = f"{place.url}#{fragment}"
        if self._done is not None and self._is_done(
            row_key(self.redactor.url(url), Outcome.MISSING_FRAGMENT)
        ):
            return None
        row = self._entry_row(
            UrlEntry(url=url, source=place.source, line=place.line),
            Outcome.MISSING_FRAGMENT,
            missing_error(fragment),
        )
        _fill(row, Link(fingerprint, depth=place.depth, found_on=place.source, count=1))
        return row


def _fill(row: UrlResult, link: Link) -> None:
    row.found_on = link.found_on
    row.found_count = link.count
    row.depth = link.depth


def _entry_url(response: Response) -> str | None:
    """The URL of the link a response answers, as found (before any redirect): it was in scope
    when requested, and stays so (the scope only grows)."""
    entry = response.meta.get(ENTRY_META_KEY)
    return entry.url if isinstance(entry, UrlEntry) else None
