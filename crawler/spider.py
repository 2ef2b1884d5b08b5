"""The base spider: one request per input entry, and exactly one result row per entry."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.exceptions import StopDownload
from scrapy.spidermiddlewares.httperror import HttpError
from w3lib.url import canonicalize_url

from crawler import outcomes
from crawler._fingerprints import FingerprintSet
from crawler._rows import entry_row, request_row
from crawler.accept import StatusRanges
from crawler.hosts import HostTable, add_download_slots
from crawler.methods import CHECK_METHOD_META_KEY, HTTP_METHODS, CheckMethod, check_method
from crawler.redact import redact
from crawler.resume import done_entries, entry_key, resume_paths
from crawler.sources import UrlEntry, open_sources
from middlewares.politeness import PolitenessConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from crawler.items import UrlResult

logger = logging.getLogger(__name__)

ENTRY_META_KEY = "url_entry"
"""``request.meta`` key of the :class:`~crawler.sources.UrlEntry` a request checks."""

EXAMPLE_URLS = Path(__file__).resolve().parent.parent / "examples" / "urls.txt"
CHECKED_SCHEMES = frozenset({"http", "https"})


def _url_problem(url: str, max_length: int) -> tuple[str, str] | None:
    """``(outcome, error)`` when ``url`` cannot be checked, else ``None``."""
    if not url:
        return "invalid_url", "empty URL"
    if max_length and len(url) > max_length:
        return "url_too_long", f"URL is {len(url)} characters long (URLLENGTH_LIMIT={max_length})"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        return "invalid_url", f"cannot parse URL: {e}"
    if not parts.scheme:
        return "invalid_url", "relative URL (no scheme); write it as http://… or https://…"
    if parts.scheme.lower() not in CHECKED_SCHEMES:
        return "unsupported_scheme", f"scheme {parts.scheme!r} is not checked (http and https are)"
    if not parts.hostname:
        return "invalid_url", "URL has no host"
    return None


def _fingerprint(url: str) -> int:
    digest = hashlib.blake2b(canonicalize_url(url).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class UrlCheckSpider(Spider):
    """Check every URL of :meth:`url_entries`; subclasses override that one method.

    Arguments: ``urls`` (comma-separated files, ``-`` for stdin; default: the example list),
    ``accept`` (accepted statuses, e.g. ``200..=299,403``; default ``CRAWLER_ACCEPT``),
    ``resume`` (earlier .csv/.jsonl outputs whose entries are skipped) and ``method``
    (``get``, ``head`` or ``headers``; default ``CRAWLER_METHOD``).
    """

    name = "urlcheck"

    def __init__(
        self,
        *args: Any,
        urls: str | None = None,
        accept: str | None = None,
        resume: str | None = None,
        method: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.urls = urls
        self.resume = resume
        self.accept = StatusRanges.parse(accept, name="accept") if accept is not None else None
        self._seen = FingerprintSet()
        self._max_url_length = 0
        self.method: CheckMethod | None = (
            check_method(method, name="method") if method is not None else None
        )
        self._hosts = HostTable()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Build the spider; settings are read here, once."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._max_url_length = crawler.settings.getint("URLLENGTH_LIMIT")
        if spider.method is None:
            spider.method = check_method(crawler.settings.get("CRAWLER_METHOD", "get"))
        spider._hosts = HostTable.from_settings(crawler.settings)
        return spider

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Apply ``custom_settings``, check ``CRAWLER_METHOD`` and the politeness settings, and
        add the ``CRAWLER_HOSTS`` slots to ``DOWNLOAD_SLOTS`` (a bad value stops the run before
        it starts, with one line)."""
        super().update_settings(settings)
        check_method(settings.get("CRAWLER_METHOD", "get"))
        PolitenessConfig.from_settings(settings)
        add_download_slots(settings)

    @classmethod
    def check_arguments(
        cls,
        urls: str | None = None,
        accept: str | None = None,
        resume: str | None = None,
        method: str | None = None,
        **_: Any,
    ) -> None:
        """Raise ``ValueError`` (one line, naming the fix) for bad ``urls``, ``accept``..."""
        if accept is not None:
            StatusRanges.parse(accept, name="accept")
        if method is not None:
            check_method(method, name="method")
        if resume is not None:
            resume_paths(resume)  # the outputs themselves are read once, when crawling starts
        names = [name.strip() for name in (urls or "").split(",")]
        if "-" not in names:  # standard input can be read only once: by the crawl
            open_sources(urls, default=EXAMPLE_URLS).close()

    def url_entries(self) -> Iterable[UrlEntry | str]:
        """The URLs to check, lazily. Override this to take them from anywhere.

        Yield :class:`~crawler.sources.UrlEntry` objects, or plain URL strings (their
        ``source`` is the spider's name and ``line`` their position).
        """
        with open_sources(self.urls, default=EXAMPLE_URLS) as sources:
            logger.info("Checking URLs from %s", sources.describe(), extra={"spider": self})
            yield from sources

    async def start(self) -> AsyncIterator[Any]:
        """One request, or one row straight away, per entry of :meth:`url_entries`.

        With ``resume``, entries that already have a row in those outputs are skipped
        (counted in ``crawler/entries_resumed_count``).
        """
        done = done_entries(self.resume) if self.resume else None
        stats = self.crawler.stats
        for position, given in enumerate(self.url_entries(), 1):
            entry = (
                UrlEntry(url=given, source=self.name, line=position)
                if isinstance(given, str)
                else given
            )
            stats.inc_value("crawler/entries_count")
            if done is not None and entry_key(entry.source, entry.line) in done:
                stats.inc_value("crawler/entries_resumed_count")
                continue
            yield self._first_step(entry)

    def _first_step(self, entry: UrlEntry) -> Request | UrlResult:
        if entry.error is not None:
            return entry_row(entry, "invalid_url", entry.error)
        if problem := _url_problem(entry.url, self._max_url_length):
            return entry_row(entry, *problem)
        fingerprint = _fingerprint(entry.url)
        if fingerprint in self._seen:
            return entry_row(entry, "duplicate", "same URL as an earlier entry, checked once there")
        try:
            request = self.make_request(entry)
        except ValueError as e:
            return entry_row(entry, "invalid_url", outcomes.describe(e))
        self._seen.add(fingerprint)
        return request

    def make_request(self, entry: UrlEntry) -> Request:
        """The request that checks ``entry`` (override to change method, headers...).

        The ``CRAWLER_HOSTS`` entry of the URL's host, if any, sets its method, headers,
        ``download_timeout`` and ``download_slot``.
        """
        method = self.method or "get"
        meta: dict[str, Any] = {ENTRY_META_KEY: entry}
        headers: tuple[tuple[str, str], ...] = ()
        if self._hosts and (rule := self._hosts.match(urlsplit(entry.url).hostname)):
            method = rule.method or method
            headers = rule.headers
            if rule.timeout is not None:
                meta["download_timeout"] = rule.timeout
            if rule.slot is not None:
                meta["download_slot"] = rule.slot
        meta[CHECK_METHOD_META_KEY] = method
        return Request(
            entry.url,
            method=HTTP_METHODS[method],
            headers=dict(headers),
            callback=self.parse_result,
            errback=self.failed_result,
            dont_filter=True,
            meta=meta,
        )

    # Callbacks return lists, not generators: Scrapy inspects the source of generator
    # callbacks on every response (looking for return values), which costs ~8 % of a crawl.

    def parse_result(self, response: Response) -> list[UrlResult]:
        """The row of a URL that got a response (its status is judged by the pipeline)."""
        entry: UrlEntry = response.meta[ENTRY_META_KEY]
        return [request_row(entry, response.request or Request(response.url), response)]

    def failed_result(self, failure: Failure) -> list[UrlResult]:
        """The row of a URL that ended in an exception."""
        error: BaseException = failure.value  # type: ignore[assignment]
        request: Request = failure.request  # type: ignore[attr-defined]
        entry: UrlEntry = request.meta[ENTRY_META_KEY]
        if isinstance(error, (HttpError, StopDownload)) and error.response is not None:
            return [request_row(entry, request, error.response)]
        row = request_row(entry, request, None)
        row.outcome = outcomes.classify(error, [hop["url"] for hop in row.chain])
        row.error = redact(outcomes.describe(error))
        return [row]
