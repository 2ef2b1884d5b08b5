"""The end-of-run summary: logged, and written as JSON and reports when settings ask.

``CRAWLER_SUMMARY_FILE`` (a ``.json`` path) receives the summary; ``CRAWLER_REPORT_FILES``
(comma-separated ``.html``/``.md``/``.xml`` paths) receive the reports.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals

from crawler.items import UrlResult
from crawler.report import check_report_path, write_report
from crawler.summary import RunSummary, log_lines

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

    from crawler.report import FailingRows

logger = logging.getLogger(__name__)


def publish_summary(
    data: dict[str, Any],
    paths: Iterable[Path],
    *,
    failing: FailingRows | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Log the summary ``data`` and write it, with the ``failing`` rows, to each of ``paths``.

    A write error is logged.
    """
    for line in log_lines(data):
        logger.info("%s", line, extra=extra)
    for path in paths:
        try:
            write_report(data, path, failing)
        except OSError as e:
            logger.error("Cannot write %s: %s", path, e, extra=extra)
        else:
            logger.info("Wrote %s", path, extra=extra)


def _slo_text(crawler: Crawler, spider: Spider) -> str | None:
    parts = []
    run_slo = getattr(spider, "slo", None) or crawler.settings.get("CRAWLER_SLO")
    if run_slo:
        parts.append(str(run_slo))
    parts += [
        f"{host}: {slo}" for host, slo in crawler.settings.getdict("CRAWLER_SLO_HOSTS").items()
    ]
    return "; ".join(parts) or None


class RunSummaryExtension:
    """Counts every result row into a :class:`~crawler.summary.RunSummary`; logs it at the end."""

    def __init__(self, crawler: Crawler, summary_file: Path | None, reports: list[Path]) -> None:
        self.crawler = crawler
        self.summary = RunSummary()
        self.summary_file = summary_file
        self.reports = reports

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read ``CRAWLER_SUMMARY_FILE`` and ``CRAWLER_REPORT_FILES``; connect the signals."""
        settings = crawler.settings
        summary_file = settings.get("CRAWLER_SUMMARY_FILE") or None
        summary_path = None
        if summary_file is not None:
            summary_path = check_report_path(str(summary_file))
            if summary_path.suffix.lower() != ".json":
                raise ValueError(
                    f"CRAWLER_SUMMARY_FILE={summary_file!r} must name a .json file; "
                    "put reports in CRAWLER_REPORT_FILES"
                )
        reports = [
            check_report_path(name)
            for name in settings.getlist("CRAWLER_REPORT_FILES")
            if str(name).strip()
        ]
        extension = cls(crawler, summary_path, reports)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def item_scraped(self, item: Any) -> None:
        """Count a result row (after the pipelines judged it)."""
        if isinstance(item, UrlResult):
            self.summary.add(item)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Log the summary; write the summary file and the reports that were asked for."""
        if not self.summary.rows and not (self.summary_file or self.reports):
            return
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        data = self.summary.as_dict(stats)
        data["run"] = {
            "spider": spider.name,
            "source": getattr(spider, "urls", None) or spider.name,
            "finish_reason": reason,
            "exports": list(self.crawler.settings.getdict("FEEDS")),
            "slo": _slo_text(self.crawler, spider),
        }
        paths = [p for p in (self.summary_file,) if p] + self.reports
        try:
            publish_summary(
                data, paths, failing=self.summary.failing_rows, extra={"spider": spider}
            )
        finally:
            self.summary.close()
