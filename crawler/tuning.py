"""Scrapy, minus costs a checker pays on every URL and never uses: a stats collector without
Scrapy 2.19's per-access shim, a log formatter that builds no DEBUG line above DEBUG, the
components a run has turned off left out, Scrapy's stock downloader middlewares called as
one, and :data:`FLOOR_SETTINGS`, all of them at once.
What each saves is in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import importlib
import logging
from importlib.util import find_spec
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, cast

from scrapy import signals
from scrapy.downloadermiddlewares.stats import DownloaderStats, get_header_size, get_status_size
from scrapy.exceptions import NotConfigured
from scrapy.extensions.corestats import CoreStats
from scrapy.http import Headers, Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.settings import SETTINGS_PRIORITIES, Settings
from scrapy.spiderloader import SpiderLoader
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.conf import build_component_list
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.python import global_object_name
from scrapy.utils.request import request_httprepr
from scrapy.utils.spider import iter_spider_classes

from crawler.console import log_level, shows_scrapy_log
from crawler.scheduler import LEAN_SCHEDULER

if TYPE_CHECKING:
    import builtins
    from collections.abc import Awaitable, Callable, Iterable, Sequence
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.signalmanager import SignalManager
    from scrapy.statscollectors import StatsCollector

__all__ = [
    "CHAINED_MIDDLEWARES",
    "FLOOR_SETTINGS",
    "ChainedMiddlewares",
    "LeanCoreStats",
    "LeanDownloaderStats",
    "LeanStatsCollector",
    "OwnSpiderLoader",
    "QuietLogFormatter",
    "chain_request_middlewares",
    "leave_out_unused_middlewares",
    "use_lean_stats",
]

COOKIES_MIDDLEWARE = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
"""Imports tldextract, requests and urllib3 even when ``COOKIES_ENABLED`` is off."""
TELNET_EXTENSION = "scrapy.extensions.telnet.TelnetConsole"
"""Imports Twisted's conch (telnet) even when ``TELNETCONSOLE_ENABLED`` is off."""
REMOTE_CONTROL_EXTENSION = "scrapy.extensions.remote_control.RemoteControl"
"""Imports aiohttp's web server even when ``REMOTE_CONTROL_ENABLED`` is off."""
HANDLER = "crawler.handler.AiohttpDownloadHandler"

logger = logging.getLogger(__name__)

FLOOR_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "ASYNCIO_EVENT_LOOP": "uvloop.Loop" if find_spec("uvloop") else None,
    "SCHEDULER": LEAN_SCHEDULER,
    "STATS_CLASS": "crawler.tuning.LeanStatsCollector",
    "LOG_FORMATTER": "crawler.tuning.QuietLogFormatter",
    # no middleware or extension but those that count responses and the crawl's time
    "DOWNLOADER_MIDDLEWARES_BASE": {"crawler.tuning.LeanDownloaderStats": 850},
    "SPIDER_MIDDLEWARES_BASE": {},
    "EXTENSIONS_BASE": {"scrapy.extensions.corestats.CoreStats": 0},
    "CONCURRENT_ITEMS": 1,
}
"""The lowest-cost Scrapy crawl with our handler: Scrapy's engine and our handler alone, for a
spider that needs no middleware (``bench/minimal_spider.py``'s ``product-floor``). A project
applies it with ``settings.update(FLOOR_SETTINGS)``; the ``urls`` project keeps the components
a checker needs (``crawler/settings.py``)."""


class LeanStatsCollector(MemoryStatsCollector):
    """Scrapy's :class:`~scrapy.statscollectors.MemoryStatsCollector`, minus one shim.

    Since Scrapy 2.19, ``StatsCollector.__getattribute__`` wraps every method on every
    attribute access (even ``self._stats``) to warn about the deprecated ``spider``
    argument, and a crawl makes dozens of stats calls per request. The ``spider`` argument is
    still accepted (and ignored), only without the warning. Enabled with ``STATS_CLASS``.
    """

    __getattribute__ = object.__getattribute__


class QuietLogFormatter(LogFormatter):
    """Skips the "Crawled" and "Scraped from" messages unless ``LOG_LEVEL`` shows DEBUG.

    Scrapy builds both for every response (the Referer lookup included) and creates their
    log records even when the handlers then drop them. Returning ``None`` tells Scrapy not to
    log; at DEBUG they are logged as usual. Enabled with ``LOG_FORMATTER``.
    """

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the formatter; ``LOG_LEVEL`` decides whether the per-URL lines are made."""
        level = log_level(crawler.settings)
        return cls(debug=level is None or level <= logging.DEBUG)

    def crawled(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider
    ) -> LogFormatterResult | None:
        """Scrapy's "Crawled (200) <GET …>" at DEBUG; nothing above it."""
        return super().crawled(request, response, spider) if self.debug else None

    def scraped(  # type: ignore[override]
        self, item: Any, response: Response | Any, spider: Spider
    ) -> LogFormatterResult | None:
        """Scrapy's "Scraped from <200 …>" at DEBUG; nothing above it."""
        return super().scraped(item, response, spider) if self.debug else None


UNUSED_WHEN_OFF: dict[str, tuple[str, str, str]] = {
    COOKIES_MIDDLEWARE: (
        "COOKIES_ENABLED",
        "DOWNLOADER_MIDDLEWARES",
        "DOWNLOADER_MIDDLEWARES_BASE",
    ),
    TELNET_EXTENSION: ("TELNETCONSOLE_ENABLED", "EXTENSIONS", "EXTENSIONS_BASE"),
    REMOTE_CONTROL_EXTENSION: ("REMOTE_CONTROL_ENABLED", "EXTENSIONS", "EXTENSIONS_BASE"),
}
"""Scrapy components its defaults list that their own setting can turn off: the setting, the
project's component dict that may name it, and Scrapy's base dict that lists it."""


def leave_out_unused_middlewares(settings: BaseSettings) -> None:
    """Take each component of :data:`UNUSED_WHEN_OFF` whose setting is off (the cookies
    middleware, the telnet console, the remote control) out of Scrapy's base dict, where
    Scrapy would otherwise import it, and what it imports, only to find it not configured.
    (Naming it in the project's dict, even as ``None``, imports it too.) A project that names
    it in its own dict keeps it as it set it."""
    for component, (enabled, project, base_name) in UNUSED_WHEN_OFF.items():
        if settings.getbool(enabled):
            continue
        if any(str(key) == component for key in settings.getdict(project)):
            continue
        base = settings.getdict(base_name)
        if base.pop(component, None) is None:
            continue
        priority = settings.getpriority(base_name) or 0
        settings.set(base_name, base, priority=max(priority, SETTINGS_PRIORITIES["spider"]))
    chain_request_middlewares(settings)


CHAINED_MIDDLEWARES: tuple[str, ...] = (
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware",
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware",
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware",
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware",
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware",
)
"""Scrapy's downloader middlewares that :class:`ChainedMiddlewares` calls as one, in
Scrapy's order (300 to 750)."""
CHAINED_MIDDLEWARE = "crawler.tuning.ChainedMiddlewares"
_COMPRESSION_MIDDLEWARE = CHAINED_MIDDLEWARES[5]
_CHAINED_METHODS = ("process_request", "process_response")


class ChainedMiddlewares:
    """The middlewares of :data:`CHAINED_MIDDLEWARES`, each built by its own
    ``from_crawler`` (its settings, signals and ``NotConfigured`` as ever), behind one
    downloader middleware, as Scrapy's middleware manager would call them: its
    ``process_request`` calls theirs in order up to the first result that is not ``None``,
    its ``process_response`` theirs in reverse order up to the first that returns a request.
    The manager pays a coroutine, a name lookup and a result check for every method it calls:
    twice per request here instead of nine times. Put in their place by
    :func:`chain_request_middlewares`, at the compression middleware's order.
    """

    process_request: Callable[[Request], Awaitable[Request | Response | None]]
    """Set when a middleware of the chain has a ``process_request``."""
    process_response: Callable[[Request, Response], Awaitable[Request | Response]]
    """Set when a middleware of the chain has a ``process_response``."""

    def __init__(self, members: Sequence[Any]) -> None:
        self.members = tuple(members)
        self._requests: tuple[Callable[[Request], Any], ...] = tuple(
            member.process_request for member in members if hasattr(member, "process_request")
        )
        self._responses: tuple[Callable[[Request, Response], Any], ...] = tuple(
            member.process_response
            for member in reversed(members)
            if hasattr(member, "process_response")
        )
        if self._requests:
            self.process_request = self._process_request
        if self._responses:
            self.process_response = self._process_response

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build each middleware of :data:`CHAINED_MIDDLEWARES` that is configured."""
        members = []
        for path in CHAINED_MIDDLEWARES:
            try:
                members.append(build_from_crawler(load_object(path), crawler))
            except NotConfigured as e:
                if e.args:  # as Scrapy's middleware manager says it
                    logger.warning("Disabled %s: %s", path, e.args[0], extra={"crawler": crawler})
        if not members:
            raise NotConfigured("every chained middleware is off")
        logger.log(
            logging.INFO if shows_scrapy_log(crawler.settings) else logging.DEBUG,
            "Called as one by %s: %s",
            CHAINED_MIDDLEWARE,
            ", ".join(global_object_name(type(member)) for member in members),
            extra={"crawler": crawler},
        )
        return cls(members)

    async def _process_request(self, request: Request) -> Request | Response | None:
        for process_request in self._requests:
            result = process_request(request)
            if result is None:
                continue
            if isawaitable(result):
                result = await result
                if result is None:
                    continue
            return cast("Request | Response", result)
        return None

    async def _process_response(self, request: Request, response: Response) -> Request | Response:
        result: Any = response
        for process_response in self._responses:
            result = process_response(request, result)
            if not isinstance(result, Response) and isawaitable(result):
                result = await result
            if not isinstance(result, Response):
                break  # a request (or what Scrapy's manager then refuses)
        return cast("Request | Response", result)


def _component_path(component: Any) -> str:
    return component if isinstance(component, str) else global_object_name(component)


def chain_request_middlewares(settings: BaseSettings) -> None:
    """Put :class:`ChainedMiddlewares` in the place of Scrapy's middlewares of
    :data:`CHAINED_MIDDLEWARES` in ``DOWNLOADER_MIDDLEWARES_BASE``, where that changes
    nothing a request or response goes through: every one of them is listed there, the
    project's ``DOWNLOADER_MIDDLEWARES`` names none of them (it keeps them as it set them),
    no add-on is enabled (add-ons add middlewares after this), they come in Scrapy's order,
    no other middleware between the first and the last of them with a ``process_request``
    has one, nor between the first and the last with a ``process_response``, and none has
    the compression middleware's order. Anything else leaves them as they are."""
    if settings.getdict("ADDONS"):
        return
    project = {_component_path(key) for key in settings.getdict("DOWNLOADER_MIDDLEWARES")}
    if project & {*CHAINED_MIDDLEWARES, CHAINED_MIDDLEWARE}:
        return
    base = settings.getdict("DOWNLOADER_MIDDLEWARES_BASE")
    if any(base.get(path) is None for path in CHAINED_MIDDLEWARES):
        return
    components = settings.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES")
    orders = {_component_path(key): order for key, order in components.items()}
    ordered = [_component_path(c) for c in build_component_list(components)]
    places = [ordered.index(path) for path in CHAINED_MIDDLEWARES]
    if places != sorted(places):
        return
    anchor = orders[_COMPRESSION_MIDDLEWARE]
    if any(orders[path] == anchor for path in ordered if path not in CHAINED_MIDDLEWARES):
        return
    try:
        classes = {path: load_object(path) for path in ordered[places[0] : places[-1] + 1]}
    except (ImportError, NameError, AttributeError, ValueError):
        return  # Scrapy reports it when it builds the middlewares
    if any(hasattr(classes[path], "process_exception") for path in CHAINED_MIDDLEWARES):
        return
    for method in _CHAINED_METHODS:
        having = [place for place in places if hasattr(classes[ordered[place]], method)]
        if not having:
            continue
        if not orders[ordered[having[0]]] <= anchor <= orders[ordered[having[-1]]]:
            return
        between = ordered[having[0] : having[-1] + 1]
        if any(
            hasattr(classes[path], method) for path in between if path not in CHAINED_MIDDLEWARES
        ):
            return
    for path in CHAINED_MIDDLEWARES:
        del base[path]
    base[CHAINED_MIDDLEWARE] = anchor
    priority = settings.getpriority("DOWNLOADER_MIDDLEWARES_BASE") or 0
    settings.set(
        "DOWNLOADER_MIDDLEWARES_BASE",
        base,
        priority=max(priority, SETTINGS_PRIORITIES["spider"]),
    )


OWN_SPIDERS = "crawler.spiders"
"""The checker's spider package: each spider in the module of its name (``urls``, ``site``)."""


class OwnSpiderLoader:
    """Scrapy's :class:`~scrapy.spiderloader.SpiderLoader`, but ``load("urls")`` imports the
    module of that name in :data:`OWN_SPIDERS` instead of every spider module (the site
    spider's parser, sitemaps and link store, for a list check that uses none of them).

    The project's own ``SPIDER_MODULES`` are read whole first, as Scrapy does, and a spider of
    theirs keeps the name it takes; ``list()``, ``find_by_request()`` and any name not found
    this way go through Scrapy's loader, which reads every module. ``SPIDER_LOADER_CLASS``.
    """

    def __init__(self, settings: BaseSettings) -> None:
        self.settings = settings
        self._every: SpiderLoader | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read nothing yet: spiders are looked up when asked for."""
        return cls(settings)

    def _scrapy_loader(self, modules: list[str] | None = None) -> SpiderLoader:
        if modules is None and self._every is not None:
            return self._every
        settings = Settings(  # all Scrapy's loader reads
            {
                "SPIDER_MODULES": self.settings.getlist("SPIDER_MODULES")
                if modules is None
                else modules,
                "SPIDER_LOADER_WARN_ONLY": self.settings.getbool("SPIDER_LOADER_WARN_ONLY"),
            }
        )
        loader = SpiderLoader.from_settings(settings)
        if modules is None:
            self._every = loader
        return loader

    def load(self, spider_name: str) -> type[Spider]:
        """The spider class named ``spider_name``; ``KeyError`` when there is none."""
        modules = self.settings.getlist("SPIDER_MODULES")
        if OWN_SPIDERS in modules and spider_name.isidentifier():
            others = [module for module in modules if module != OWN_SPIDERS]
            try:
                return self._scrapy_loader(others).load(spider_name)
            except KeyError:
                pass
            name = f"{OWN_SPIDERS}.{spider_name}"
            if find_spec(name) is not None:
                for spidercls in iter_spider_classes(importlib.import_module(name)):
                    if spidercls.name == spider_name:
                        return spidercls
        return self._scrapy_loader().load(spider_name)

    def list(self) -> list[str]:
        """Every spider's name (Scrapy's loader: every module is read)."""
        return self._scrapy_loader().list()

    def find_by_request(self, request: Request) -> builtins.list[str]:
        """The spiders that handle ``request`` (Scrapy's loader: every module is read)."""
        return self._scrapy_loader().find_by_request(request)


SCRAPY_DOWNLOADER_STATS = "scrapy.downloadermiddlewares.stats.DownloaderStats"
LEAN_DOWNLOADER_STATS = "crawler.tuning.LeanDownloaderStats"
SCRAPY_CORE_STATS = "scrapy.extensions.corestats.CoreStats"
LEAN_CORE_STATS = "crawler.tuning.LeanCoreStats"
_REQUEST_LINE_END = len(b" HTTP/1.1\r\n")
_HOST_LINE = len(b"Host: \r\n")


def _stored_headers(headers: Headers) -> Iterable[tuple[bytes, list[bytes]]]:
    """The ``(name, values)`` pairs of ``headers`` as stored (names normalised, values lists
    of bytes): what ``Headers.items()`` gives, without its lookup of every name again."""
    if type(headers) is Headers:
        return dict.items(headers)
    return headers.items()


def _header_size(headers: Headers) -> int:
    """:func:`~scrapy.downloadermiddlewares.stats.get_header_size` of ``headers``."""
    if type(headers) is not Headers:
        return get_header_size(headers)
    size = 0
    for key, values in dict.items(headers):
        size += (len(key) + 2) * len(values) + sum(map(len, values))
    return size + 2 * (len(headers) - 1)


class LeanDownloaderStats(DownloaderStats):
    """Scrapy's :class:`~scrapy.downloadermiddlewares.stats.DownloaderStats`: the same stats
    keys and values, ``downloader/request_bytes`` summed from the lengths of the parts of
    :func:`~scrapy.utils.request.request_httprepr` instead of building those bytes for every
    request, and without Scrapy 2.19's per-call shim for the deprecated ``spider`` argument.
    A URL whose parts are not all ASCII, or whose path starts with ``//`` (which
    ``urlunparse`` writes differently across Python versions), is measured by Scrapy's function.
    Swapped in by :func:`use_lean_stats`.
    """

    def __init__(self, stats: StatsCollector) -> None:
        super().__init__(stats)
        self._status_sizes: dict[int, int] = {}

    def _request_size(self, request: Request) -> int:
        parsed = urlparse_cached(request)
        path, params, query = parsed.path or "/", parsed.params, parsed.query
        host = parsed.hostname or ""
        method = request.method
        if path.startswith("//") or not (
            path.isascii() and params.isascii() and query.isascii() and host.isascii()
        ):
            return len(request_httprepr(request))
        size = len(method.encode()) + 1 + len(path) + _REQUEST_LINE_END + _HOST_LINE + 2
        if params:
            size += 1 + len(params)
        if query:
            size += 1 + len(query)
        size += len(host)
        headers = request.headers
        if headers:
            lines = 0
            for key, values in _stored_headers(headers):
                lines += len(values)
                size += (len(key) + 2) * len(values) + sum(map(len, values))
            size += 2 * max(lines, 1)  # the lines and their CRLFs
        return size + len(request.body)

    def process_request(
        self, request: Request, spider: Spider | None = None
    ) -> Request | Response | None:
        """Count the request, its method and its size."""
        inc = self.stats.inc_value
        inc("downloader/request_count")
        inc(f"downloader/request_method_count/{request.method}")
        inc("downloader/request_bytes", self._request_size(request))
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        """Count the response, its status and its size (as Scrapy's middleware does)."""
        status = response.status
        status_size = self._status_sizes.get(status)
        if status_size is None:
            status_size = self._status_sizes[status] = get_status_size(status)
        inc = self.stats.inc_value
        inc("downloader/response_count")
        inc(f"downloader/response_status_count/{status}")
        size = len(response.body) + _header_size(response.headers) + status_size + 4
        inc("downloader/response_bytes", size)
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        """Count the exception and its type."""
        inc = self.stats.inc_value
        inc("downloader/exception_count")
        inc(f"downloader/exception_type_count/{global_object_name(type(exception))}")
        return None


class LeanCoreStats(CoreStats):
    """Scrapy's :class:`~scrapy.extensions.corestats.CoreStats`, whose ``item_scraped_count``
    the last item pipeline stage may count instead of an ``item_scraped`` receiver (a dispatch
    per item): that stage calls :meth:`count_items_here` once and :meth:`item_scraped` for
    each item it passes on, which every item the signal would be sent for is. Swapped in by
    :func:`use_lean_stats`."""

    def __init__(self, stats: StatsCollector) -> None:
        super().__init__(stats)
        self._signals: SignalManager | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Connect the signals, as Scrapy's does."""
        extension = super().from_crawler(crawler)
        extension._signals = crawler.signals
        return extension

    def count_items_here(self) -> None:
        """Stop counting items through ``item_scraped``: the caller counts them."""
        if self._signals is not None:
            self._signals.disconnect(self.item_scraped, signal=signals.item_scraped)
            self._signals = None

    def item_scraped(self, item: Any, spider: Spider | None = None) -> None:
        """Count an item."""
        self.stats.inc_value("item_scraped_count")


LEAN_COMPONENTS: dict[str, tuple[str, str, str]] = {
    SCRAPY_DOWNLOADER_STATS: (
        LEAN_DOWNLOADER_STATS,
        "DOWNLOADER_MIDDLEWARES",
        "DOWNLOADER_MIDDLEWARES_BASE",
    ),
    SCRAPY_CORE_STATS: (LEAN_CORE_STATS, "EXTENSIONS", "EXTENSIONS_BASE"),
}
"""Scrapy components with a lean twin here: the twin, the project's component dict that may
name either, and Scrapy's base dict that lists the original."""


def use_lean_stats(settings: BaseSettings) -> None:
    """Put each twin of :data:`LEAN_COMPONENTS` (:class:`LeanDownloaderStats`,
    :class:`LeanCoreStats`) in the place of Scrapy's component in its base dict, unless the
    project names either in its own dict (it keeps them as it set them)."""
    for component, (lean, project, base_name) in LEAN_COMPONENTS.items():
        if {str(key) for key in settings.getdict(project)} & {component, lean}:
            continue
        base = settings.getdict(base_name)
        order = base.pop(component, None)
        if order is None:
            continue
        base[lean] = order
        priority = settings.getpriority(base_name) or 0
        settings.set(base_name, base, priority=max(priority, SETTINGS_PRIORITIES["spider"]))
