"""Extensions driven by signals: per-phase timing stats for every download."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals

from crawler.handler.timing import TIMING_META_KEY, DownloadTiming

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

PHASES = ("queue", "dns", "connect", "tls", "ttfb", "download", "total")


class TimingStats:
    """Adds up each timing phase of every download into stats.

    For each phase that happened: ``crawler/timing/<phase>_count``,
    ``crawler/timing/<phase>_seconds`` (sum) and ``crawler/timing/<phase>_max_seconds``.
    The sums are kept on the extension and written to the stats when the spider closes:
    21 stats calls per download cost more than the rest of this extension.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.counts = dict.fromkeys(PHASES, 0)
        self.sums = dict.fromkeys(PHASES, 0.0)
        self.maxima = dict.fromkeys(PHASES, 0.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the extension and connect it to ``request_left_downloader``."""
        extension = cls(crawler)
        crawler.signals.connect(extension.request_left, signal=signals.request_left_downloader)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def request_left(self, request: Request, spider: Spider) -> None:
        """Count the phases of the download that just ended, successful or not."""
        timing = request.meta.get(TIMING_META_KEY)
        if not isinstance(timing, DownloadTiming):
            return
        counts, sums, maxima = self.counts, self.sums, self.maxima
        for phase in PHASES:
            seconds = getattr(timing, phase)
            if seconds is None:
                continue
            counts[phase] += 1
            sums[phase] += seconds
            maxima[phase] = max(maxima[phase], seconds)

    def spider_closed(self) -> None:
        """Write the phases that happened to the stats."""
        for phase in PHASES:
            if not self.counts[phase]:
                continue
            prefix = f"crawler/timing/{phase}"
            self.stats.inc_value(f"{prefix}_count", self.counts[phase])
            seconds = self.stats.get_value(f"{prefix}_seconds", 0.0) + self.sums[phase]
            self.stats.set_value(f"{prefix}_seconds", seconds)
            self.stats.max_value(f"{prefix}_max_seconds", self.maxima[phase])
