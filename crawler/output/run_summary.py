"""The end-of-run summary: logged, and written as JSON and reports when settings ask.

``CRAWLER_SUMMARY_FILE`` (a ``.json`` path) receives the summary; ``CRAWLER_REPORT_FILES``
(comma-separated ``.html``/``.md``/``.xml`` paths) receive the reports. Rows are counted by
:class:`RunSummaryPipeline`, the last item pipeline stage, or through the ``item_scraped``
signal when a project orders a pipeline after it.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.conf import build_component_list

from crawler.console import failure_lines
from crawler.items import UrlResult
from crawler.names import SETTINGS
from crawler.output.report import check_report_path, examples_of, write_report
from crawler.output.summary import RunSummary, log_lines
from crawler.tuning import LeanCoreStats

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from crawler.output.report import FailingRows, PlacesRows

logger = logging.getLogger(__name__)

SUMMARY_PIPELINE = "crawler.output.run_summary.RunSummaryPipeline"
SUMMARY_PIPELINE_ORDER = 1000
"""Its place in ``ITEM_PIPELINES``: after any project pipeline of a lower order, so that
a row one of them drops is not counted."""


def counted_last(settings: BaseSettings) -> bool:
    """Whether :class:`RunSummaryPipeline` is the last stage of ``ITEM_PIPELINES``: then every
    row it sees is scraped, as the ``item_scraped`` signal would say, at a lower cost."""
    pipelines = build_component_list(settings.getwithbase("ITEM_PIPELINES"))
    return bool(pipelines) and pipelines[-1] in (SUMMARY_PIPELINE, RunSummaryPipeline)


def failures_shown(settings: BaseSettings) -> int:
    """``CRAWLER_FAILURES_SHOWN``, checked (``ValueError``): 0 lists none."""
    shown = settings.getint("CRAWLER_FAILURES_SHOWN", SETTINGS["CRAWLER_FAILURES_SHOWN"])
    if shown < 0:
        raise ValueError(f"CRAWLER_FAILURES_SHOWN must be >= 0, got {shown}")
    return shown


def publish_summary(
    data: dict[str, Any],
    paths: Iterable[Path],
    *,
    failing: FailingRows | None = None,
    shown: int = SETTINGS["CRAWLER_FAILURES_SHOWN"],
    extra: dict[str, Any] | None = None,
    places: PlacesRows | None = None,
) -> None:
    """Write the summary ``data``, with the ``failing`` rows and the ``places`` of a site
    crawl, to each of ``paths`` (a write error is logged), then log the first ``shown`` failed
    URLs and the summary: the last lines of a run."""
    for path in paths:
        try:
            write_report(data, path, failing, places)
        except OSError as e:
            logger.error("Cannot write %s: %s", path, e, extra=extra)
        else:
            logger.info("Wrote %s", path, extra=extra)
    failing = failing or examples_of(data)
    rows = itertools.chain.from_iterable(failing(outcome) for outcome in data["failures"])
    exports = list(data.get("run", {}).get("exports", []))
    for line in failure_lines(rows, data["not_ok"], shown, exports):
        logger.info("%s", line, extra=extra)
    for line in log_lines(data):
        logger.info("%s", line, extra=extra)


def _slo_text(crawler: Crawler, spider: Spider) -> str | None:
    parts = []
    run_slo = getattr(spider, "slo", None) or crawler.settings.get(
        "CRAWLER_SLO", SETTINGS["CRAWLER_SLO"]
    )
    if run_slo:
        parts.append(str(run_slo))
    parts += [
        f"{host}: {slo}"
        for host, slo in crawler.settings.getdict(
            "CRAWLER_SLO_HOSTS", SETTINGS["CRAWLER_SLO_HOSTS"]
        ).items()
    ]
    return "; ".join(parts) or None


class RunSummaryExtension:
    """Counts every result row into a :class:`~crawler.output.summary.RunSummary`; logs it at
    the end. The rows come from :class:`RunSummaryPipeline` when it is the last item pipeline
    stage, else from the ``item_scraped`` signal (``by_signal``)."""

    def __init__(self, crawler: Crawler, summary_file: Path | None, reports: list[Path]) -> None:
        self.crawler = crawler
        self.by_signal = not counted_last(crawler.settings)
        self.summary = RunSummary()
        self.shown = failures_shown(crawler.settings)
        self.summary_file = summary_file
        self.reports = reports

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read ``CRAWLER_SUMMARY_FILE`` and ``CRAWLER_REPORT_FILES``; connect the signals."""
        settings = crawler.settings
        summary_file = (
            settings.get("CRAWLER_SUMMARY_FILE", SETTINGS["CRAWLER_SUMMARY_FILE"]) or None
        )
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
            for name in settings.getlist("CRAWLER_REPORT_FILES", SETTINGS["CRAWLER_REPORT_FILES"])
            if str(name).strip()
        ]
        extension = cls(crawler, summary_path, reports)
        if extension.by_signal:
            crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        return extension

    def spider_opened(self) -> None:
        """Connect ``spider_closed`` now, after every component built before the crawl: signal
        receivers run in the order they were connected, and the summary is logged last."""
        self.crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

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
                data,
                paths,
                failing=self.summary.failing_rows,
                shown=self.shown,
                extra={"spider": spider},
                places=getattr(spider, "broken_places", None),
            )
        finally:
            self.summary.close()


class RunSummaryPipeline:
    """The last item pipeline stage (``ITEM_PIPELINES``, order :data:`SUMMARY_PIPELINE_ORDER`):
    hands each row to :class:`RunSummaryExtension`, which then needs no ``item_scraped``
    receiver, a dispatch per row. A row a pipeline drops before it is not counted, as with the
    signal; a pipeline ordered after it turns it off and the extension back to the signal."""

    def __init__(self, extension: RunSummaryExtension, core: LeanCoreStats | None) -> None:
        self.extension = extension
        self.core = core

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Find the summary extension; ``NotConfigured`` without it or when not last. Count
        ``item_scraped_count`` here too, for :class:`~crawler.tuning.LeanCoreStats`."""
        extension = crawler.get_extension(RunSummaryExtension)
        if extension is None or extension.by_signal:
            raise NotConfigured
        core = crawler.get_extension(LeanCoreStats)
        if core is not None:
            core.count_items_here()
        return cls(extension, core)

    def process_item(self, item: Any) -> Any:
        """Count ``item`` (in the summary when it is a result row); pass it on as it is."""
        self.extension.item_scraped(item)
        if self.core is not None:
            self.core.item_scraped(item)
        return item
