"""The handler's ``crawler/handler/*`` stats, added up in memory and written when the spider
closes: a call to Scrapy's stats collector for every connection event and every download costs
more than the event itself."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

STATS_PREFIX = "crawler/handler/"


class HandlerStats:
    """Counts and seconds of the handler, written to ``stats`` by :meth:`write`."""

    __slots__ = ("__weakref__", "_counts", "_seconds", "_stats")  # weakref: a signal receiver

    def __init__(self, stats: StatsCollector) -> None:
        self._stats = stats
        self._counts: Counter[str] = Counter()
        self._seconds: defaultdict[str, float] = defaultdict(float)

    def count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to ``crawler/handler/<name>``."""
        self._counts[name] += amount

    def add_seconds(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to ``crawler/handler/<name>``."""
        self._seconds[name] += seconds

    def write(self) -> None:
        """Add the totals so far to the crawl's stats (what stayed at zero is left out)."""
        counts, seconds = self._counts, self._seconds
        self._counts, self._seconds = Counter(), defaultdict(float)
        stats = self._stats
        for name, amount in counts.items():
            if amount:
                stats.inc_value(f"{STATS_PREFIX}{name}", amount)
        for name, total in seconds.items():
            key = f"{STATS_PREFIX}{name}"
            stats.set_value(key, stats.get_value(key, 0.0) + total)
