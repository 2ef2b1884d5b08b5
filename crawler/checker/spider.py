"""The base spider: at most one request per input entry, and exactly one result row per entry."""

from __future__ import annotations

import asyncio
import csv
import functools
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import CloseSpider, StopDownload
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.checker import outcomes
from crawler.checker.accept import StatusRanges
from crawler.checker.arguments import SpiderArguments
from crawler.checker.cache import CacheConfig, CacheReader, ResultCache
from crawler.checker.fragments import (
    FRAGMENT_META_KEY,
    FragmentEntries,
    checked_fragment,
    fragment_key,
    response_anchors,
)
from crawler.checker.hosts import HostTable, add_download_slots
from crawler.checker.methods import (
    CHECK_METHOD_META_KEY,
    HTTP_METHODS,
    WHOLE_HTML_META_KEY,
    CheckMethod,
    check_method,
)
from crawler.checker.outcomes import Outcome
from crawler.checker.politeness import PolitenessConfig
from crawler.checker.read_ahead import (
    POLL_SECONDS,
    read_ahead,
    until_the_rest_is_done,
    wait_for_room,
)
from crawler.checker.rows import entry_row, request_row
from crawler.checker.rules import UrlFilter
from crawler.exceptions import NotStartedError
from crawler.fingerprints import FingerprintSet, url_fingerprint
from crawler.items import ENTRIES_RESUMED_STAT, ENTRIES_STAT, ROWS_RESUMED_NOT_OK_STAT
from crawler.names import (
    SETTINGS,
    SPIDER_ARGUMENTS,
    check_setting_names,
)
from crawler.output.feeds import appended_outputs
from crawler.output.resume import ResumedEntries, done_entries, entry_key, resume_paths
from crawler.output.run_summary import failures_shown
from crawler.redact import Redactor
from crawler.scale.redis.config import REDIS_ERRORS_STAT, RedisJob, RedisUnavailableError
from crawler.scale.redis.entries import RedisEntries
from crawler.scheduler import use_lean_scheduler
from crawler.sources import STDIN, UrlEntry, UrlSourceError, input_names, open_sources
from crawler.tuning import leave_out_unused_middlewares, use_lean_stats
from crawler.urls import NOT_UNICODE, host_of, request_parts, request_url, sent_as_is

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

    from crawler.items import UrlResult
    from crawler.scale.redis.worker import LeasedEntry

logger = logging.getLogger(__name__)

_Done = TypeVar("_Done")

VERBATIM_URL = "verbatim_url"
"""Scrapy's ``request.meta`` key for a URL the ``Request`` takes as it is."""
ENTRY_META_KEY = "url_entry"
"""``request.meta`` key of the :class:`~crawler.sources.UrlEntry` a request checks."""

EXAMPLE_URLS = Path(__file__).resolve().parents[2] / "examples" / "urls.txt"
CHECKED_SCHEMES = frozenset({"http", "https"})
PAUSE_EVERY = 1000
"""Entries and skipped lines read between two pauses of ``start()`` in which the event loop
runs (downloads, timeouts, signals): skipping needs no request, so nothing else pauses it."""


INPUT_ERROR = "input_error"
"""``finish_reason`` of a crawl stopped by an input that broke off or cannot be read."""
DUPLICATE = "same URL as an earlier entry, checked once there"
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
"""Characters no URL holds, which URL parsers drop silently (tab, CR, LF) or refuse."""


def _url_problem(
    url: str, max_length: int, unchecked: frozenset[str] = frozenset()
) -> tuple[str, str] | None:
    """``(outcome, error)`` when ``url`` cannot be checked, else ``None``; ``unchecked`` are
    the schemes whose URLs are reported as not checked rather than as unsupported.

    Scheme and host are those of the request (:func:`crawler.urls.request_parts`). A plain
    URL (:func:`crawler.urls.sent_as_is`: http or https, a plain host and port, no control
    character) has no problem but its length.
    """
    if not url:
        return Outcome.INVALID_URL, "empty URL"
    if max_length and len(url) > max_length:
        return (
            Outcome.URL_TOO_LONG,
            f"URL is {len(url)} characters long (URLLENGTH_LIMIT={max_length})",
        )
    if sent_as_is(url):
        return None
    if control := _CONTROL_CHARACTER.search(url):
        return Outcome.INVALID_URL, (
            f"URL contains the control character {control.group()!r} at {control.start() + 1}"
            + (" (a file with CR line ends? save it with LF line ends)" if "\r" in url else "")
        )
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        return Outcome.INVALID_URL, NOT_UNICODE
    parts = request_parts(url)
    if parts is None:
        return Outcome.INVALID_URL, f"cannot parse URL: {_parse_error(url)}"
    if not parts.scheme:
        return Outcome.INVALID_URL, "relative URL (no scheme); write it as http://… or https://…"
    if (scheme := parts.scheme.lower()) in unchecked:
        return Outcome.UNCHECKED, f"{scheme}: links are not checked (CRAWLER_UNCHECKED_SCHEMES)"
    if scheme not in CHECKED_SCHEMES:
        return (
            Outcome.UNSUPPORTED_SCHEME,
            f"scheme {parts.scheme!r} is not checked (http and https are)",
        )
    if not parts.hostname:
        return Outcome.INVALID_URL, "URL has no host"
    return _host_problem(parts.hostname)


def _parse_error(url: str) -> str:
    """Why ``url`` cannot be parsed (:func:`crawler.urls.request_parts` said it cannot)."""
    try:
        urlsplit(request_url(url)).port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        return str(e)
    return "not a URL"


@functools.lru_cache(maxsize=1024)  # most entries share their host with others
def _host_problem(host: str) -> tuple[str, str] | None:
    """``(outcome, error)`` for a host no request can be sent to, else ``None``."""
    if ":" in host:  # an IPv6 literal: urlsplit has checked it
        return None
    if "%" in host:  # browsers decode it, aiohttp sends it as it is
        return Outcome.INVALID_URL, f"host {host!r} holds a percent-escape"
    labels = host.rstrip(".").split(".")
    if all(label.isdigit() for label in labels) and len(labels) != 4:
        return Outcome.INVALID_URL, f"host {host!r} is neither a name nor an IPv4 address"
    try:
        host.encode("idna")
    except UnicodeError:
        return Outcome.INVALID_URL, f"host {host!r} has an empty label or one over 63 characters"
    return None


def unchecked_schemes(settings: BaseSettings) -> frozenset[str]:
    """``CRAWLER_UNCHECKED_SCHEMES``, lower-cased; ``ValueError`` for http or https."""
    schemes = frozenset(
        name.strip().lower().rstrip(":")
        for name in settings.getlist(
            "CRAWLER_UNCHECKED_SCHEMES", SETTINGS["CRAWLER_UNCHECKED_SCHEMES"]
        )
        if name.strip()
    )
    if checked := sorted(schemes & CHECKED_SCHEMES):
        raise ValueError(
            f"CRAWLER_UNCHECKED_SCHEMES holds {', '.join(checked)}: those URLs are checked; "
            "list only schemes like mailto, tel"
        )
    return schemes


def _default_list(urls: str | None) -> Path | None:
    """The example list when no ``urls`` argument was given at all (``urls=`` is an error)."""
    return EXAMPLE_URLS if urls is None else None


class UrlCheckSpider(Spider):
    """Check every URL of :meth:`url_entries`; subclasses override that one method.

    Arguments: ``urls`` (comma-separated files, ``-`` for stdin; default: the example list),
    ``accept`` (accepted statuses, e.g. ``200..=299,403``; default ``CRAWLER_ACCEPT``),
    ``resume`` (earlier .csv/.jsonl outputs whose entries are skipped), ``include`` and
    ``exclude`` (one regular expression each, added to ``CRAWLER_INCLUDE``/``CRAWLER_EXCLUDE``),
    ``slo`` (thresholds like ``ttfb_ms<500,total_ms<2000``; default ``CRAWLER_SLO``),
    ``method`` (``get``, ``head`` or ``headers``; default ``CRAWLER_METHOD``), ``workers``
    (processes to split the list across, handled by ``scrapy crawl``: see
    :mod:`crawler.scale.workers`), ``shard`` (``I/N``: check only worker I's share) and
    ``redis``/``job`` (take the entries of a job fed into Redis instead: see
    :mod:`crawler.scale.redis`).
    """

    name = "urlcheck"
    arguments: ClassVar[Mapping[str, str]] = SPIDER_ARGUMENTS
    """Every ``-a NAME=VALUE`` argument the spider takes, with its one-line help; a subclass
    with arguments of its own extends it (``{**UrlCheckSpider.arguments, "depth": "…"}``)."""
    list_fragments: ClassVar[bool] = True
    """Whether list entries with a ``#fragment`` get a row of their own saying whether the
    page holds it (``CRAWLER_FRAGMENTS``): :class:`~crawler.checker.fragments.FragmentEntries`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name in SPIDER_ARGUMENTS if name in kwargs}
        super().__init__(*args, **kwargs)
        options = self.options = SpiderArguments.parse(given)
        if options.workers is not None:
            logger.warning(
                "workers=%s is handled by `scrapy crawl`; this run checks the list itself",
                given["workers"],
            )
        self.shard = options.shard
        self.urls = options.urls
        self.resume = options.resume
        self.include = options.include
        self.exclude = options.exclude
        self.url_filter = UrlFilter()
        self.accept = options.accept
        self.redis_url = options.redis
        self.redis_job_name = options.job
        self.redis_job: RedisJob | None = None
        self.entry_source: RedisEntries | None = None
        self.slo = options.slo
        self._seen = FingerprintSet()
        self._max_url_length = 0
        self._cache: CacheReader | None = None
        self._default_accept = StatusRanges.parse("200..=299")
        self.method: CheckMethod | None = options.method
        self._hosts = HostTable()
        self.redactor = Redactor()
        self._read_ahead = int(SETTINGS["CRAWLER_READ_AHEAD"])
        self._unchecked_schemes: frozenset[str] = frozenset(SETTINGS["CRAWLER_UNCHECKED_SCHEMES"])
        self.fragment_entries: FragmentEntries | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Build the spider; settings are read here, once."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._max_url_length = crawler.settings.getint("URLLENGTH_LIMIT")
        spider.redis_job = RedisJob.from_settings(
            crawler.settings, url=spider.redis_url, name=spider.redis_job_name
        )
        spider.url_filter = UrlFilter.from_settings(
            crawler.settings, spider.include, spider.exclude
        )
        spider._default_accept = StatusRanges.parse(
            crawler.settings.get("CRAWLER_ACCEPT", SETTINGS["CRAWLER_ACCEPT"])
        )
        spider._cache = CacheReader.from_crawler(crawler)
        if spider.method is None:
            spider.method = check_method(
                crawler.settings.get("CRAWLER_METHOD", SETTINGS["CRAWLER_METHOD"])
            )
        spider._hosts = HostTable.from_settings(crawler.settings)
        spider.redactor = Redactor.from_settings(crawler.settings)
        if cls.list_fragments and crawler.settings.getbool(
            "CRAWLER_FRAGMENTS", SETTINGS["CRAWLER_FRAGMENTS"]
        ):
            spider.fragment_entries = FragmentEntries(redactor=spider.redactor)
        crawler.signals.connect(spider._seen.close, signal=signals.spider_closed)
        spider._read_ahead = read_ahead(crawler.settings)
        spider._unchecked_schemes = unchecked_schemes(crawler.settings)
        return spider

    @classmethod
    def check_settings(cls, settings: BaseSettings) -> None:
        """Raise ``ValueError`` (one line, naming the fix) for bad ``CRAWLER_*`` settings."""
        check_setting_names(settings)
        failures_shown(settings)
        unchecked_schemes(settings)
        UrlFilter.from_settings(settings)
        RedisJob.from_settings(settings)
        read_ahead(settings)
        Redactor.from_settings(settings)
        if settings.getint("CONCURRENT_REQUESTS_PER_IP"):
            raise ValueError(
                "CONCURRENT_REQUESTS_PER_IP is not supported: the handler resolves names "
                "itself, so Scrapy's per-IP slots would be per host name; limit hosts with "
                "CONCURRENT_REQUESTS_PER_DOMAIN or CRAWLER_HOSTS"
            )
        if cache := CacheConfig.from_settings(settings):
            ResultCache.open(cache.path).close()

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Apply ``custom_settings``, check ``CRAWLER_METHOD`` and the politeness settings,
        add the ``CRAWLER_HOSTS`` slots to ``DOWNLOAD_SLOTS`` (a bad value stops the run before
        it starts, with one line), leave out the cookies middleware when cookies are off, and
        use the lean stats components and the lean scheduler (:mod:`crawler.scheduler`) unless
        the project chose them."""
        super().update_settings(settings)
        check_method(settings.get("CRAWLER_METHOD", SETTINGS["CRAWLER_METHOD"]))
        PolitenessConfig.from_settings(settings)
        add_download_slots(settings)
        leave_out_unused_middlewares(settings)
        use_lean_stats(settings)
        use_lean_scheduler(settings)

    @classmethod
    def check_arguments(cls, **given: str) -> None:
        """Raise ``ValueError`` (one line, naming the fix) for a bad argument, one the spider
        does not take, or an input or resume file that cannot be read."""
        options = SpiderArguments.parse(given, known=cls.arguments, spider=cls.name)
        if options.redis is not None or options.job is not None:
            return
        if options.resume is not None:
            resume_paths(options.resume)  # the outputs themselves are read when crawling starts
        if STDIN not in input_names(options.urls):  # stdin can be read only once: by the crawl
            open_sources(options.urls, default=_default_list(options.urls)).close()

    def countable_inputs(self) -> str | None:
        """The ``urls`` spec whose entries can be counted ahead for a progress total, or
        ``None`` when the count would not be this run's: standard input, a subclass's own
        source, a Redis worker (the job's entries are shared) or a shard of a list."""
        if type(self).url_entries is not UrlCheckSpider.url_entries:
            return None
        if self.redis_job is not None or self.shard is not None:
            return None
        if STDIN in input_names(self.urls):
            return None
        return self.urls if self.urls is not None else str(EXAMPLE_URLS)

    def url_entries(self) -> Iterable[UrlEntry | str | None]:
        """The URLs to check, lazily. Override this to take them from anywhere.

        Yield :class:`~crawler.sources.UrlEntry` objects, or plain URL strings (their
        ``source`` is the spider's name and ``line`` their position). ``None`` stands for
        input read that holds no entry (a blank line, a comment): it lets the crawl run on
        (downloads, timeouts, Ctrl-C) while a long stretch of them is skipped.
        """
        with open_sources(self.urls, default=_default_list(self.urls)) as sources:
            if self.urls is None:
                logger.info(
                    "No input given (-a urls=FILE): checking the example list %s",
                    EXAMPLE_URLS,
                    extra={"spider": self},
                )
            else:
                logger.info("Checking URLs from %s", sources.describe(), extra={"spider": self})
            yield from sources.read()

    async def start(self) -> AsyncIterator[Any]:
        """One request, or one row straight away, per entry of :meth:`url_entries`.

        With ``resume``, entries that already have a row in those outputs are skipped
        (counted in ``crawler/entries_resumed_count``). Entries are read only as the engine
        needs them (``CRAWLER_READ_AHEAD`` queued ahead), so memory does not grow with the list.
        """
        if self.redis_job is not None:
            async for step in self._redis_steps(self.redis_job):
                yield step
            return
        done = self.read_resume(done_entries)
        try:
            async for step in self._list_steps(done):
                yield step
        except UrlSourceError as e:  # an input broke off: finish what was read, then stop
            logger.error("%s", e, extra={"spider": self})
            await until_the_rest_is_done(self.crawler)
            raise CloseSpider(INPUT_ERROR) from e

    def read_resume(self, read: Callable[[str, Collection[Path]], _Done]) -> _Done | None:
        """``read(resume, the outputs this run appends to)``; ``None`` without ``resume``.

        Outputs that cannot be read are one ERROR line and stop the crawl (``CloseSpider``).
        """
        if not self.resume:
            return None
        try:
            return read(self.resume, appended_outputs(self.crawler.settings.getdict("FEEDS")))
        except (OSError, ValueError, csv.Error) as e:  # UnicodeDecodeError, NotAnOutputError
            logger.error("resume=%s cannot be read: %s", self.resume, e, extra={"spider": self})
            raise CloseSpider(INPUT_ERROR) from e

    async def list_entries(self) -> AsyncIterator[UrlEntry]:
        """The entries of :meth:`url_entries` (a plain URL numbered by its place), read as the
        crawl goes: the event loop runs every :data:`PAUSE_EVERY` lines, skipped ones too, and
        reading ends when the engine stops."""
        position = 0
        for read, given in enumerate(self.url_entries(), 1):
            if read % PAUSE_EVERY == 0:  # whatever was skipped since the last pause
                await asyncio.sleep(0)
                if not self._engine_running():
                    return
            if given is None:
                continue
            position += 1
            yield (
                UrlEntry(url=given, source=self.name, line=position)
                if isinstance(given, str)
                else given
            )

    async def _list_steps(self, done: ResumedEntries | None) -> AsyncIterator[Request | UrlResult]:
        stats, shard = self.crawler.stats, self.shard
        async for entry in self.list_entries():
            if shard is not None and not shard.owns(entry):
                continue
            stats.inc_value(ENTRIES_STAT)
            if done is not None and (key := entry_key(entry.source, entry.line)) in done:
                stats.inc_value(ENTRIES_RESUMED_STAT)
                if key in done.not_ok:  # a row of this job: it counts in the exit status
                    stats.inc_value(ROWS_RESUMED_NOT_OK_STAT)
                continue
            await wait_for_room(self.crawler, self._read_ahead)
            if self.fragment_entries is not None and self.fragment_entries.full:
                await self._until_fewer_wait()
            if (step := self._list_step(entry)) is not None:
                yield step

    async def _until_fewer_wait(self) -> None:
        """Hold the list back while too many entries wait for their page (or the crawl stops)."""
        fragments = self.fragment_entries
        while fragments is not None and fragments.full and self._engine_running():
            await asyncio.sleep(POLL_SECONDS)

    def _engine_running(self) -> bool:
        engine = self.crawler.engine
        return engine is not None and engine.running

    async def _redis_steps(self, job: RedisJob) -> AsyncIterator[Request | UrlResult]:
        """Steps for the entries leased from ``job`` (:class:`~crawler.scale.redis.entries
        .RedisEntries`, which acknowledges each once its row is written)."""
        # kept by the spider: the crawl's signals hold only weak references to its receivers
        self.entry_source = RedisEntries(self.crawler, job)
        try:
            async for leased in self.entry_source.leased():
                yield self._leased_step(leased)
        except RedisUnavailableError as e:
            logger.error("%s", e, extra={"spider": self})
            self.crawler.stats.inc_value(REDIS_ERRORS_STAT)
            raise CloseSpider("redis_unavailable") from e

    def _leased_step(self, leased: LeasedEntry) -> Request | UrlResult:
        entry = leased.entry
        if leased.abandoned_after:
            return self._entry_row(
                entry,
                Outcome.ABANDONED,
                f"given up after {leased.abandoned_after} workers took it and stopped "
                "before writing its row (CRAWLER_REDIS_MAX_DELIVERIES)",
            )
        if leased.duplicate:
            return self._entry_row(entry, Outcome.DUPLICATE, DUPLICATE)
        return self._first_step(entry, dedupe=False)  # the feeder marked the duplicates

    def _list_step(self, entry: UrlEntry) -> Request | UrlResult | None:
        """The first step of a list entry; ``None`` for an entry with a fragment that waits
        for its page in flight (its row comes with the page's).

        An entry with a fragment (:func:`~crawler.checker.fragments.checked_fragment`) is a
        duplicate only of the same page with the same fragment; the page, listed later
        without it, is a duplicate of it. The first of a page's fragments fetches the page
        with GET, read whole, unless its result is still kept; never from the result cache.
        """
        fragments = self.fragment_entries
        fragment = checked_fragment(entry.url) if fragments is not None else None
        if fragments is None or fragment is None:
            return self._first_step(entry)
        if (row := self._entry_problem(entry)) is not None:
            return row
        page = url_fingerprint(entry.url)  # without the fragment
        if (key := fragment_key(page, fragment)) in self._seen:
            return self._entry_row(entry, Outcome.DUPLICATE, DUPLICATE)
        self._seen.add(key)
        if page not in self._seen:
            self._seen.add(page)
        if (row := fragments.known(entry, page, fragment)) is not None:
            return row
        if fragments.wait(entry, page, fragment):
            return None
        try:
            request = self.make_request(entry)
        except ValueError as e:
            return self._entry_row(entry, Outcome.INVALID_URL, outcomes.describe(e))
        fragments.fetching(page)
        request.meta[CHECK_METHOD_META_KEY] = "get"
        request.meta[WHOLE_HTML_META_KEY] = True
        request.meta[FRAGMENT_META_KEY] = (page, fragment)
        return request.replace(method="GET")

    def _entry_problem(self, entry: UrlEntry) -> UrlResult | None:
        """The row of an entry that is not checked (invalid, unsupported, excluded), else
        ``None``."""
        if entry.error is not None:
            return self._entry_row(entry, Outcome.INVALID_URL, entry.error)
        if problem := _url_problem(entry.url, self._max_url_length, self._unchecked_schemes):
            return self._entry_row(entry, *problem)
        if reason := self.url_filter.reason(entry.url):
            return self._entry_row(entry, Outcome.EXCLUDED, reason)
        return None

    def _first_step(self, entry: UrlEntry, *, dedupe: bool = True) -> Request | UrlResult:
        if (row := self._entry_problem(entry)) is not None:
            return row
        fingerprint = url_fingerprint(entry.url) if dedupe else None
        if fingerprint is not None and fingerprint in self._seen:
            return self._entry_row(entry, Outcome.DUPLICATE, DUPLICATE)
        if self._cache and (
            cached := self._cache.row_for(entry, self.accept or self._default_accept)
        ):
            if fingerprint is not None:
                self._seen.add(fingerprint)
            return cached
        try:
            request = self.make_request(entry)
        except ValueError as e:
            return self._entry_row(entry, Outcome.INVALID_URL, outcomes.describe(e))
        if fingerprint is not None:
            self._seen.add(fingerprint)
        return request

    def _entry_row(
        self, entry: UrlEntry, outcome: str | None = None, error: str | None = None
    ) -> UrlResult:
        return entry_row(entry, outcome, error, redactor=self.redactor)

    def make_request(self, entry: UrlEntry) -> Request:
        """The request that checks ``entry`` (override to change method, headers...).

        The ``CRAWLER_HOSTS`` entry of the host the request connects to
        (:func:`crawler.urls.host_of`), if any, sets its method, headers,
        ``download_timeout`` and ``download_slot``.
        """
        method = self.method or "get"
        meta: dict[str, Any] = {ENTRY_META_KEY: entry}
        headers: tuple[tuple[str, str], ...] = ()
        if self._hosts and (rule := self._hosts.match(host_of(entry.url))):
            method = rule.method or method
            headers = rule.headers
            if rule.timeout is not None:
                meta["download_timeout"] = rule.timeout
            if rule.slot is not None:
                meta["download_slot"] = rule.slot
        meta[CHECK_METHOD_META_KEY] = method
        as_is = sent_as_is(entry.url)
        if as_is:  # the Request need not make it safe (w3lib's full parse) to find it is
            meta[VERBATIM_URL] = True
        request = Request(
            entry.url,
            method=HTTP_METHODS[method],
            headers=dict(headers),
            callback=self.parse_result,
            errback=self.failed_result,
            dont_filter=True,
            meta=meta,
        )
        if as_is:  # read when it was built; its copies (redirects, retries) make theirs safe
            del request.meta[VERBATIM_URL]
        return request

    # Callbacks return lists, not generators: Scrapy inspects the source of generator
    # callbacks on every response (looking for return values), which costs ~8 % of a crawl.

    def parse_result(self, response: Response) -> list[UrlResult]:
        """The row of a URL that got a response (its status is judged by the pipeline)."""
        entry: UrlEntry = response.meta[ENTRY_META_KEY]
        row = request_row(
            entry, response.request or Request(response.url), response, redactor=self.redactor
        )
        return self._page_rows(row, response.meta, response)

    def failed_result(self, failure: Failure) -> list[UrlResult]:
        """The row of a URL that ended in an exception; none for a request the crawl did not
        send because it was stopping (its entry is left to ``resume``)."""
        error: BaseException = failure.value  # type: ignore[assignment]
        request: Request = failure.request  # type: ignore[attr-defined]
        if isinstance(error, NotStartedError):
            check = request.meta.get(FRAGMENT_META_KEY)
            if check is not None and self.fragment_entries is not None:
                self.fragment_entries.page_dropped(check[0])
            return []
        entry: UrlEntry = request.meta[ENTRY_META_KEY]
        if isinstance(error, (HttpError, StopDownload)) and error.response is not None:
            row = request_row(entry, request, error.response, redactor=self.redactor)
            return self._page_rows(row, request.meta, error.response)
        row = request_row(entry, request, None, redactor=self.redactor)
        row.outcome = outcomes.classify(error, [hop["url"] for hop in row.chain])
        row.error = self.redactor.text(outcomes.describe(error))
        return self._page_rows(row, request.meta, None)

    def _page_rows(
        self, row: UrlResult, meta: Mapping[str, Any], response: Response | None
    ) -> list[UrlResult]:
        """``row``, or, for a page fetched for list entries with fragments, the rows of all
        of them (:meth:`~crawler.checker.fragments.FragmentEntries.page_done`)."""
        check = meta.get(FRAGMENT_META_KEY)
        if check is None or self.fragment_entries is None:
            return [row]
        page, fragment = check
        anchors = (
            response_anchors(response) if response is not None and row.outcome is None else None
        )
        return self.fragment_entries.page_done(page, fragment, row, anchors)
