"""A stats collector without the per-access cost of Scrapy 2.19's deprecation shim."""

from __future__ import annotations

from scrapy.statscollectors import MemoryStatsCollector

__all__ = ["LeanStatsCollector"]


class LeanStatsCollector(MemoryStatsCollector):
    """Scrapy's :class:`~scrapy.statscollectors.MemoryStatsCollector`, minus one shim.

    Since Scrapy 2.19, ``StatsCollector.__getattribute__`` wraps every method on every
    attribute access (even ``self._stats``) to warn about the deprecated ``spider``
    argument: about 3.7 µs per ``inc_value`` against 0.2 µs here. A crawl makes dozens of
    stats calls per request, so the shim cost about a tenth of the product's CPU time. The
    ``spider`` argument is still accepted (and ignored), only without the warning.

    Enabled in the project's settings with ``STATS_CLASS``.
    """

    __getattribute__ = object.__getattribute__
