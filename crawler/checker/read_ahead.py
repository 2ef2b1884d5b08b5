"""Lazy reading of the inputs: the spider yields its next entry only when the engine needs it.

While its downloader is full, Scrapy's engine keeps pulling requests out of ``start()`` without
waiting, into the scheduler: on any list whose servers are slower than the crawl, the whole
list ends up queued in memory (``docs/benchmarks.md`` has the figures). :func:`wait_for_room`
holds the spider back instead, as Scrapy's documentation on lazy start requests suggests,
keeping ``CRAWLER_READ_AHEAD`` requests queued so the downloader never waits for the spider.
A generous reserve also keeps hosts mixed in the queue: requests waiting in the slot of a
held-back host (429/503) count towards ``CONCURRENT_REQUESTS``, and a queue holding only that
host's URLs would fill the free places with them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from crawler.names import SETTINGS

if TYPE_CHECKING:
    from scrapy.core.scheduler import BaseScheduler
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


POLL_SECONDS = 0.02
"""How often a waiting spider looks again. Polled, not signal-driven: a closing engine sends
no signal a waiting spider could rely on."""


def read_ahead(settings: BaseSettings) -> int:
    """``CRAWLER_READ_AHEAD``, checked: at least 1."""
    value = settings.getint("CRAWLER_READ_AHEAD", SETTINGS["CRAWLER_READ_AHEAD"])
    if value < 1:
        raise ValueError(f"CRAWLER_READ_AHEAD must be >= 1 (requests queued ahead), got {value!r}")
    return value


def _queued(scheduler: BaseScheduler, reserve: int) -> int:
    """Requests waiting in ``scheduler``; ``reserve`` if it only says whether it has any."""
    try:
        return len(scheduler)  # type: ignore[arg-type]
    except TypeError:  # a scheduler without __len__: one queued request is enough
        return reserve if scheduler.has_pending_requests() else 0


async def wait_for_room(crawler: Crawler, reserve: int) -> None:
    """Return once the engine can use another request from ``start()``.

    Waits while the engine backs out (its downloader is full) and its scheduler already holds
    ``reserve`` requests; returns at once otherwise, and when the engine stops.
    """
    engine = crawler.engine
    while engine is not None and engine.running and engine.needs_backout():
        scheduler = engine.scheduler
        if scheduler is None or _queued(scheduler, reserve) < reserve:
            return
        await asyncio.sleep(POLL_SECONDS)


async def until_the_rest_is_done(crawler: Crawler) -> None:
    """Return once every request already given to the engine has its row (or it stops).

    For a ``start()`` that must stop early: raising ``CloseSpider`` at once would drop the
    requests still queued or downloading, and with them their rows.
    """
    while engine_busy(crawler):
        await asyncio.sleep(POLL_SECONDS)


def engine_busy(crawler: Crawler) -> bool:
    """Whether the running engine still has requests queued or downloading, or responses
    being processed (whose callbacks may find more)."""
    engine = crawler.engine
    if engine is None or not engine.running:
        return False
    scheduler, scraper = engine.scheduler, engine.scraper
    return bool(
        engine.downloader.active
        or (scheduler is not None and scheduler.has_pending_requests())
        or (scraper.slot is not None and not scraper.slot.is_idle())
    )
