"""Hold each downloader slot to its concurrency, before a download's clock starts.

Scrapy 2.19 on asyncio starts the downloads of a slot's queue as tasks, and counts them as
transferring only once they run: a slot given many requests at once starts them all, whatever
its concurrency (``CONCURRENT_REQUESTS_PER_DOMAIN``, a ``CRAWLER_HOSTS`` ``concurrency``). The
handler's connection pool then held them back, so the wait was in their ``queue_ms`` and
``total_ms``, and a host limited to fewer connections than the pool allows got more.

Requests waiting together take their turns by priority, as in Scrapy's scheduler (a retry,
priority 1, before entries at 0; Scrapy's slot queue hands them over in arrival order), and a
slot held back after a 429/503 (its ``lastseen`` moved into the future, see
:mod:`crawler.handler.holds`) starts none of them until then. Scrapy counts the waiting requests as
transferring, so it hands a slot nothing more until they are done: a retry waits at most for
one such batch (up to ``CONCURRENT_REQUESTS`` requests of its host), never for the list.

Once the crawl stops (Ctrl-C, SIGTERM: Scrapy's engine stops running), no request waiting here,
in a held-back slot or in Scrapy's slot queues (``DOWNLOAD_DELAY``) is sent: each fails with
:class:`~crawler.exceptions.NotStartedError`, so only the requests already on the wire are
waited for, and ``resume`` checks the others.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import TYPE_CHECKING, Any

from crawler.exceptions import NotStartedError

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

SLOT_META_KEY = "download_slot"
"""Where Scrapy's downloader writes the slot of a request before handing it over."""
STOP_POLL = 0.05
"""Seconds between looks at whether the engine still runs. Polled: Scrapy sends no signal
when a crawl begins to stop, only once it has stopped."""
NOT_STARTED = "not sent: the crawl is stopping"


def _finish(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Turns:
    """The places of one slot: ``free`` of them, and the requests waiting, by priority."""

    __slots__ = ("free", "users", "waiting")

    def __init__(self, places: int) -> None:
        self.free = places
        self.users = 0
        self.waiting: list[tuple[int, int, asyncio.Future[None]]] = []

    def hand_on(self) -> None:
        """Give a freed place to the first waiter still waiting, else keep it free."""
        while self.waiting:
            _, _, future = heapq.heappop(self.waiting)
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


class SlotLimits:
    """The turns of every downloader slot in use, sized to that slot's concurrency.

    A slot's turns live while a request holds or waits for one: memory follows the requests
    in flight, not the hosts of the list.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._turns: dict[str, _Turns] = {}
        self._order = itertools.count()
        self._holds: set[asyncio.Future[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    def stopping(self) -> bool:
        """Whether the crawl is stopping: its engine no longer runs (Ctrl-C, SIGTERM)."""
        try:
            engine = self.crawler.engine
        except RuntimeError:  # Scrapy 2.19: no engine before the crawl starts
            return False
        return engine is not None and not engine.running

    async def _watch_for_stop(self) -> None:
        while not self.stopping():
            await asyncio.sleep(STOP_POLL)
        self._drop_waiting()

    def _drop_waiting(self) -> None:
        """Fail every request that waits for its turn, a hold, or in Scrapy's slot queues."""
        for turns in self._turns.values():
            for _, _, future in turns.waiting:
                if not future.done():
                    future.set_exception(NotStartedError(NOT_STARTED))
        for future in self._holds:
            if not future.done():
                future.set_exception(NotStartedError(NOT_STARTED))
        engine = self.crawler.engine
        for slot in list(engine.downloader.slots.values()) if engine is not None else []:
            while slot.queue:  # not yet handed to the handler (a DOWNLOAD_DELAY, a hold)
                request, queued = slot.queue.popleft()
                queued.errback(NotStartedError(f"{request.url} {NOT_STARTED}"))

    def close(self) -> None:
        """Stop watching for the crawl to stop."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _slot(self, request: Request) -> tuple[str, Any, Any] | None:
        """The key, downloader slot and engine of ``request``; ``None`` outside a crawl."""
        key = request.meta.get(SLOT_META_KEY)
        if key is None:
            return None  # not sent by Scrapy's downloader (a test, a direct call)
        try:
            engine = self.crawler.engine
        except RuntimeError:  # Scrapy 2.19: no engine before the crawl starts
            return None
        slot = engine.downloader.slots.get(key) if engine is not None else None
        return None if slot is None else (key, slot, engine)

    def turn(self, request: Request) -> Turn:
        """``async with`` it: wait for ``request``'s turn in its slot (by priority, after any
        hold), and keep it while in the block."""
        return Turn(self, request)

    async def _begin(self, request: Request) -> tuple[str, _Turns] | None:
        """Wait for ``request``'s turn; the place to give back, ``None`` when unlimited."""
        found = self._slot(request)
        if found is None:
            return None
        key, slot, engine = found
        if not engine.running:  # stopping (see stopping())
            raise NotStartedError(f"{request.url} {NOT_STARTED}")
        if self._watch is None:
            self._watch = asyncio.ensure_future(self._watch_for_stop())
        turns = self._turns.get(key)
        if turns is None:
            turns = self._turns[key] = _Turns(max(1, int(slot.concurrency)))
        turns.users += 1
        waited = not turns.free  # a place is free only when no one waits (hand_on gives it on)
        if waited:
            try:
                await self._take(turns, request.priority)
            except BaseException:
                self._leave(key, turns)
                raise
        else:
            turns.free -= 1
        try:
            if (held := slot.lastseen - time.monotonic()) > 0:  # backing off this host
                waited = True
                await self._hold(held)
            if waited and not engine.running:  # without a wait, nothing ran since the check
                raise NotStartedError(f"{request.url} {NOT_STARTED}")
        except BaseException:
            self._end((key, turns))
            raise
        return key, turns

    def _end(self, place: tuple[str, _Turns]) -> None:
        """Give a place taken by :meth:`_begin` to the next waiter."""
        key, turns = place
        turns.hand_on()
        self._leave(key, turns)

    def _leave(self, key: str, turns: _Turns) -> None:
        turns.users -= 1
        if not turns.users:
            del self._turns[key]

    async def _hold(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, _finish, future)
        self._holds.add(future)
        try:
            await future
        finally:
            timer.cancel()
            self._holds.discard(future)

    async def _take(self, turns: _Turns, priority: int) -> None:
        """Wait for a place given on by :meth:`_Turns.hand_on` (none is free)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(turns.waiting, (-priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                turns.hand_on()  # the place came as it was cancelled: pass it on
            raise


class Turn:
    """One request's turn in its downloader slot, as an async context manager (a class, not a
    generator: one is entered for every download)."""

    __slots__ = ("_limits", "_place", "_request")

    def __init__(self, limits: SlotLimits, request: Request) -> None:
        self._limits = limits
        self._request = request
        self._place: tuple[str, _Turns] | None = None

    async def __aenter__(self) -> None:
        self._place = await self._limits._begin(self._request)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._place is not None:
            self._limits._end(self._place)
            self._place = None
