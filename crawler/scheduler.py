"""A lean scheduler: the request order of Scrapy's default one, kept in memory at a fraction of
its cost per request. The spiders use it unless the project chooses its own scheduler, its
queues, a duplicate filter or a ``JOBDIR``; see ``docs/settings.md``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from scrapy.core.scheduler import BaseScheduler
from scrapy.settings import SETTINGS_PRIORITIES

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.core.downloader import Downloader
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

__all__ = ["LEAN_SCHEDULER", "LeanScheduler", "use_lean_scheduler"]

LEAN_SCHEDULER = "crawler.scheduler.LeanScheduler"
SCRAPY_SCHEDULER_SETTINGS = (
    "SCHEDULER",
    "SCHEDULER_PRIORITY_QUEUE",
    "SCHEDULER_MEMORY_QUEUE",
    "SCHEDULER_START_MEMORY_QUEUE",
    "DUPEFILTER_CLASS",
)
"""Settings only Scrapy's scheduler reads: a project that sets one keeps that scheduler."""
ENQUEUED_STAT = "scheduler/enqueued"
ENQUEUED_MEMORY_STAT = "scheduler/enqueued/memory"
DEQUEUED_STAT = "scheduler/dequeued"
DEQUEUED_MEMORY_STAT = "scheduler/dequeued/memory"
"""Scrapy's scheduler stats, written once, when the crawl closes."""


class _SlotQueue:
    """The requests of one download slot: highest priority first, first in first out."""

    __slots__ = ("by_priority", "top")

    def __init__(self) -> None:
        self.by_priority: dict[int, deque[Request]] = {}
        self.top = 0

    def push(self, request: Request) -> None:
        priority = request.priority
        queue = self.by_priority.get(priority)
        if queue is None:
            queue = self.by_priority[priority] = deque()
            if len(self.by_priority) == 1 or priority > self.top:
                self.top = priority
        queue.append(request)

    def pop(self) -> Request:
        queue = self.by_priority[self.top]
        request = queue.popleft()
        if not queue:
            del self.by_priority[self.top]
            if self.by_priority:
                self.top = max(self.by_priority)
        return request


class LeanScheduler(BaseScheduler):
    """Scrapy's scheduler for a crawl that needs neither a disk queue nor a duplicate filter.

    The order is that of Scrapy's default priority queue (``DownloaderAwarePriorityQueue``):
    the next request is one of a download slot with room (fewer active requests than its
    concurrency; the least busy slot when all are full), so that a list sorted by host keeps
    the other hosts busy; within a slot, the highest :attr:`~scrapy.Request.priority` first,
    and first in first out within a priority (start requests and the others alike). Nothing is
    filtered: every request is queued (the spiders mark their duplicates themselves).

    ``JOBDIR`` needs Scrapy's scheduler, which keeps the queue on disk: this one refuses it.
    """

    def __init__(self, stats: StatsCollector | None = None) -> None:
        self.stats = stats
        self.downloader: Downloader | None = None
        """Where the slots and their active requests are; ``None`` puts every request in one
        slot (priority order alone)."""
        self._crawler: Crawler | None = None
        self._slots: dict[str, _SlotQueue] = {}
        self._queued = 0
        self._enqueued = 0
        self._dequeued = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the scheduler; ``ValueError`` with a ``JOBDIR``."""
        if crawler.settings.get("JOBDIR"):
            raise ValueError(
                f"SCHEDULER={LEAN_SCHEDULER!r} keeps requests in memory only and cannot resume "
                "a JOBDIR: set SCHEDULER = 'scrapy.core.scheduler.Scheduler' or drop JOBDIR"
            )
        scheduler = cls(crawler.stats)
        scheduler._crawler = crawler
        return scheduler

    def open(self, spider: Spider) -> None:
        """Find the downloader whose slots decide which host goes next."""
        engine = self._crawler.engine if self._crawler is not None else None
        if engine is not None:
            self.downloader = engine.downloader

    def close(self, reason: str) -> None:
        """Write Scrapy's scheduler stats; requests still queued are dropped (with Ctrl-C, the
        ``resume`` argument checks them in the next run)."""
        self._slots.clear()
        self._queued = 0
        if self.stats is None:
            return
        for key, count in (
            (ENQUEUED_STAT, self._enqueued),
            (ENQUEUED_MEMORY_STAT, self._enqueued),
            (DEQUEUED_STAT, self._dequeued),
            (DEQUEUED_MEMORY_STAT, self._dequeued),
        ):
            if count:
                self.stats.inc_value(key, count)

    def has_pending_requests(self) -> bool:
        """Whether a request is queued."""
        return self._queued > 0

    def __len__(self) -> int:
        return self._queued

    def enqueue_request(self, request: Request) -> bool:
        """Queue ``request`` behind those of its slot and priority; always ``True``."""
        key = self.downloader.get_slot_key(request) if self.downloader is not None else ""
        queue = self._slots.get(key)
        if queue is None:
            queue = self._slots[key] = _SlotQueue()
        queue.push(request)
        self._queued += 1
        self._enqueued += 1
        return True

    def next_request(self) -> Request | None:
        """The next request (see the class), or ``None`` when none is queued."""
        if not self._queued:
            return None
        key = self._next_slot()
        queue = self._slots.pop(key)
        request = queue.pop()
        if queue.by_priority:
            self._slots[key] = queue  # at the end: the other slots with room go first
        self._queued -= 1
        self._dequeued += 1
        return request

    def _next_slot(self) -> str:
        """The first queued slot with room, else the least busy; in queue order, so the slots
        take turns. Only full slots are passed over: at most ``CONCURRENT_REQUESTS`` of them."""
        slots = self._slots
        first = next(iter(slots))
        if self.downloader is None or len(slots) == 1:
            return first
        active_slots = self.downloader.slots
        busiest: tuple[int, str] | None = None
        for key in slots:
            slot = active_slots.get(key)
            if slot is None:
                return key
            active = len(slot.active)
            if active < slot.concurrency:
                return key
            if busiest is None or active < busiest[0]:
                busiest = (active, key)
        return busiest[1] if busiest is not None else first


def use_lean_scheduler(settings: BaseSettings) -> None:
    """``SCHEDULER = LeanScheduler`` (at the ``"spider"`` priority), unless the project set
    ``SCHEDULER``, one of the settings only Scrapy's scheduler reads (its queues,
    ``DUPEFILTER_CLASS``) or a ``JOBDIR``: those keep Scrapy's scheduler."""
    if settings.get("JOBDIR"):
        return
    default = SETTINGS_PRIORITIES["default"]
    if any((settings.getpriority(name) or 0) > default for name in SCRAPY_SCHEDULER_SETTINGS):
        return
    settings.set("SCHEDULER", LEAN_SCHEDULER, "spider")
