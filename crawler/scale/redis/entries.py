"""A Redis job as a worker's entry source: entries leased as the engine has room for them, each
acknowledged once its row is on disk (see ``docs/scale.md``)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from scrapy import signals

from crawler.items import ENTRIES_STAT, UrlResult
from crawler.output.exporters import ROWS_EXPORT_FAILED
from crawler.scale.redis.config import REDIS_ERRORS_STAT, RedisUnavailableError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler

    from crawler.scale.redis.config import RedisJob
    from crawler.scale.redis.worker import LeasedEntry, WorkQueue

BACKOUT_POLL = 0.02
"""Seconds between looks at the engine while a worker waits for room to send more."""


def _work_queue(crawler: Crawler, job: RedisJob) -> WorkQueue:
    """The job's work queue; Redis support is an extra (``pip install ...[redis]``)."""
    try:
        from crawler.scale.redis.worker import WorkQueue
    except ImportError as e:
        raise RedisUnavailableError(
            f"a Redis worker needs redis-py and scrapy-redis ({e}): "
            "pip install 'scrapy-aiohttp-timing[redis]'"
        ) from e
    return WorkQueue(job, crawler.stats)


class RedisEntries:
    """The entries one worker leases from ``job``; rows written are acknowledged."""

    def __init__(self, crawler: Crawler, job: RedisJob) -> None:
        self.crawler = crawler
        self.job = job
        self.work: WorkQueue | None = None

    async def leased(self) -> AsyncIterator[LeasedEntry]:
        """Lease entries no faster than the engine can send them; ``RedisUnavailableError``
        (one line) when Redis cannot be used."""
        engine, crawler_signals = self.crawler.engine, self.crawler.signals
        work = self.work = _work_queue(self.crawler, self.job)
        # Connected now, after the feed exporters: a row is on disk before its ack.
        crawler_signals.connect(self._row_written, signal=signals.item_scraped)
        crawler_signals.connect(self._close, signal=signals.spider_closed)
        await work.open()
        async for leased in work.entries():
            self.crawler.stats.inc_value(ENTRIES_STAT)
            yield leased
            # Lease no more than the engine can send: wait while it backs out. Polled, not
            # signal-driven: a closing engine sends no scheduler_empty, and a worker must
            # never wait on a signal that will not come.
            while engine is not None and engine.needs_backout():
                if not engine.running or work.failure is not None:
                    break
                await asyncio.sleep(BACKOUT_POLL)

    def _row_written(self, item: Any) -> None:
        # The exporters ran first (connected earlier); once one failed, rows are not on disk
        # and stay unacknowledged, for another worker to check.
        if self.work is None or not isinstance(item, UrlResult):
            return
        if self.crawler.stats.get_value(ROWS_EXPORT_FAILED):
            return
        self.work.done(item.source, item.line, asdict(item) if self.job.rows else None)

    async def _close(self) -> None:
        if self.work is not None:
            await self.work.close()
            stats = self.crawler.stats
            if self.work.failure is not None and not stats.get_value(REDIS_ERRORS_STAT):
                stats.inc_value(REDIS_ERRORS_STAT)  # a failure after the entries ended
