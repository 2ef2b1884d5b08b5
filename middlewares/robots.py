"""``ROBOTSTXT_OBEY`` that holds for every request waiting on the same robots.txt.

Scrapy 2.19's ``RobotsTxtMiddleware`` hands the parsed robots.txt of a host to the first of
the requests that waited for it; the others read "allowed". This middleware takes its place
(the project's settings swap them): one robots.txt download per host, shared by every waiter,
and a robots.txt that cannot be loaded is one WARNING per host, its URLs then checked.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

FORBIDDEN = "Forbidden by robots.txt"
"""The ``IgnoreRequest`` message of a disallowed URL (its row's outcome is ``robots``)."""
DOWNLOAD_PRIORITY = 1000
"""A robots.txt goes ahead of the URLs waiting for it."""
STATS_PREFIX = "robotstxt/"


class RobotsTxtMiddleware:
    """Downloader middleware: drops the requests a host's robots.txt disallows."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.user_agent: str | None = crawler.settings.get("ROBOTSTXT_USER_AGENT") or None
        self.default_user_agent = str(crawler.settings.get("USER_AGENT"))
        self.parser_class: type[RobotParser] = load_object(crawler.settings["ROBOTSTXT_PARSER"])
        self.parsers: dict[str, asyncio.Future[RobotParser | None]] = {}
        build_from_crawler(self.parser_class, crawler, b"")  # fails now if its library is missing

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the middleware; ``NotConfigured`` unless ``ROBOTSTXT_OBEY`` is on."""
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        """Raise ``IgnoreRequest`` for a URL its host's robots.txt disallows."""
        if request.meta.get("dont_obey_robotstxt") or not request.url.startswith("http"):
            return
        parser = await self.robot_parser(request)
        if parser is None:
            return
        agent = self.user_agent or request.headers.get(b"User-Agent") or self.default_user_agent
        if not parser.allowed(request.url, agent):
            self.crawler.stats.inc_value(f"{STATS_PREFIX}forbidden")
            raise IgnoreRequest(FORBIDDEN)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The parsed robots.txt of the request's host (``None``: it could not be loaded).
        The first request of a host downloads it; the others wait for the same result."""
        url = urlparse_cached(request)
        netloc = url.netloc
        if (loading := self.parsers.get(netloc)) is None:
            loading = self.parsers[netloc] = asyncio.ensure_future(
                self._load(f"{url.scheme}://{netloc}/robots.txt", request)
            )
        # shield: a waiter that is cancelled must not cancel the download the others wait for
        return await asyncio.shield(loading)

    async def _load(self, robots_url: str, request: Request) -> RobotParser | None:
        stats = self.crawler.stats
        robots = Request(
            robots_url,
            priority=DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True},
            callback=NO_CALLBACK,
        )
        assert self.crawler.engine is not None
        try:
            response = await self.crawler.engine.download_async(robots)
        except IgnoreRequest:
            return None
        except Exception as e:  # noqa: BLE001 - any failure: the host's URLs are checked
            stats.inc_value(f"{STATS_PREFIX}exception_count/{type(e).__name__}")
            logger.warning(
                "%s could not be loaded (%s): its host's URLs are checked as allowed",
                robots_url,
                " ".join(str(e).split()) or type(e).__name__,
                extra={"spider": self.crawler.spider},
            )
            return None
        finally:
            stats.inc_value(f"{STATS_PREFIX}request_count")
        stats.inc_value(f"{STATS_PREFIX}response_count")
        stats.inc_value(f"{STATS_PREFIX}response_status_count/{response.status}")
        parser = build_from_crawler(self.parser_class, self.crawler, response.body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request
        )
        return parser
