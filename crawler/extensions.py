"""Extensions driven by signals: per-phase timing stats for every download."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals

from crawler._timing import TIMING_META_KEY, DownloadTiming

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

PHASES = ("queue", "dns", "connect", "tls", "ttfb", "download", "total")


class TimingStats:
    """Adds up each timing phase of every download into stats.

    For each phase that happened: ``crawler/timing/<phase>_count``,
    ``crawler/timing/<phase>_seconds`` (sum) and ``crawler/timing/<phase>_max_seconds``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the extension and connect it to ``request_left_downloader``."""
        extension = cls(crawler)
        crawler.signals.connect(extension.request_left, signal=signals.request_left_downloader)
        return extension

    def request_left(self, request: Request, spider: Spider) -> None:
        """Count the phases of the download that just ended, successful or not."""
        timing = request.meta.get(TIMING_META_KEY)
        if not isinstance(timing, DownloadTiming):
            return
        for phase in PHASES:
            seconds = getattr(timing, phase)
            if seconds is None:
                continue
            prefix = f"crawler/timing/{phase}"
            self.stats.inc_value(f"{prefix}_count")
            self.stats.set_value(
                f"{prefix}_seconds", self.stats.get_value(f"{prefix}_seconds", 0.0) + seconds
            )
            self.stats.max_value(f"{prefix}_max_seconds", seconds)
