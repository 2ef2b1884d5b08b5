"""Hold each downloader slot to its concurrency, before a download's clock starts.

Scrapy 2.19 on asyncio starts the downloads of a slot's queue as tasks, and counts them as
transferring only once they run: a slot given many requests at once starts them all, whatever
its concurrency (``CONCURRENT_REQUESTS_PER_DOMAIN``, a ``CRAWLER_HOSTS`` ``concurrency``). The
handler's connection pool then held them back, so the wait was in their ``queue_ms`` and
``total_ms``, and a host limited to fewer connections than the pool allows got more.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy import Request
    from scrapy.crawler import Crawler

SLOT_META_KEY = "download_slot"
"""Where Scrapy's downloader writes the slot of a request before handing it over."""


class SlotLimits:
    """One semaphore per downloader slot in use, sized to that slot's concurrency.

    A slot's semaphore lives while a request holds or waits for it: memory follows the
    requests in flight, not the hosts of the list.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    def _concurrency(self, request: Request) -> tuple[str, int] | None:
        key = request.meta.get(SLOT_META_KEY)
        if key is None:
            return None  # not sent by Scrapy's downloader (a test, a direct call)
        try:
            engine = self.crawler.engine
        except RuntimeError:  # Scrapy 2.19: no engine before the crawl starts
            return None
        slot = engine.downloader.slots.get(key) if engine is not None else None
        return None if slot is None else (key, max(1, slot.concurrency))

    @asynccontextmanager
    async def turn(self, request: Request) -> AsyncIterator[None]:
        """Wait for a free place in ``request``'s slot, and hold it while in the block."""
        limit = self._concurrency(request)
        if limit is None:
            yield
            return
        key, concurrency = limit
        semaphore = self._semaphores.get(key)
        if semaphore is None:
            semaphore = self._semaphores[key] = asyncio.Semaphore(concurrency)
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with semaphore:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._semaphores[key]
