"""Judge each result row against the accepted statuses and count rows into stats."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals

from crawler.checker.accept import StatusRanges
from crawler.checker.hosts import HostTable
from crawler.checker.outcomes import judge
from crawler.checker.slo import Slo, SloPolicy
from crawler.items import ENTRIES_RESUMED_STAT, ENTRIES_STAT, UrlResult
from crawler.names import SETTINGS
from crawler.output.cells import exportable_row
from crawler.output.exporters import ROWS_EXPORT_FAILED
from crawler.output.feeds import local_path
from crawler.output.resume import RESUMABLE_SUFFIXES
from crawler.urls import host_of

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


STOPPED = "shutdown"
"""``finish_reason`` of a crawl stopped by Ctrl-C, SIGTERM or ``crawler.stop()``."""
ROWS_STAT = "crawler/rows_count"
ROWS_NOT_OK_STAT = "crawler/rows_not_ok_count"
OUTCOME_STAT = "crawler/outcome_count/{}"
"""Stats key of the rows of one outcome (``.format(outcome)``)."""
STATUS_STAT = "crawler/status_count/{}"
"""Stats key of the rows of one final HTTP status (``.format(status)``)."""
ROWS_MISSING = "crawler/rows_missing_count"
"""Entries without a row in a run that was not stopped: a bug, or a killed run."""
ENTRIES_NOT_STARTED = "crawler/entries_not_started_count"
"""Entries a stopped run (Ctrl-C, SIGTERM) did not finish: left to ``resume``."""


class ResultPipeline:
    """Makes every row safe for every output (:func:`crawler.output.cells.exportable_row`), fills
    ``ok``/``outcome`` from ``CRAWLER_ACCEPT`` (or the spider's ``accept``, or the ``accept`` of
    the URL's host in ``CRAWLER_HOSTS``) and ``CRAWLER_ACCEPT_TIMEOUTS``, and counts.

    Accepted rows that miss their SLO (``CRAWLER_SLO``, ``CRAWLER_SLO_HOSTS``, the spider's
    ``slo``) become ``slow``, not ok.

    Stats: ``crawler/rows_count``, ``crawler/rows_not_ok_count``,
    ``crawler/outcome_count/<outcome>``, ``crawler/status_count/<status>``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.default_accept = StatusRanges.parse(
            crawler.settings.get("CRAWLER_ACCEPT", SETTINGS["CRAWLER_ACCEPT"])
        )
        self.accept_timeouts = crawler.settings.getbool(
            "CRAWLER_ACCEPT_TIMEOUTS", SETTINGS["CRAWLER_ACCEPT_TIMEOUTS"]
        )
        self.slo = SloPolicy.from_settings(crawler.settings)
        self.hosts = HostTable.from_settings(crawler.settings)
        self._spider_rules: tuple[StatusRanges, SloPolicy] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the pipeline (Scrapy's component factory)."""
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def _run_rules(self) -> tuple[StatusRanges, SloPolicy]:
        """The run's accepted statuses and SLO policy: the spider's ``accept`` and ``slo``
        arguments over the settings, read at the first row (the spider takes them when it
        is built)."""
        if self._spider_rules is None:
            spider = self.crawler.spider
            accept = getattr(spider, "accept", None)
            slo = getattr(spider, "slo", None)
            self._spider_rules = (
                accept if isinstance(accept, StatusRanges) else self.default_accept,
                self.slo.with_default(slo if isinstance(slo, Slo) else None),
            )
        return self._spider_rules

    def process_item(self, item: Any) -> Any:
        """Make a :class:`UrlResult` exportable, judge and count it; pass anything else through."""
        if not isinstance(item, UrlResult):
            return item
        exportable_row(item)
        accept, slo = self._run_rules()
        if self.hosts and (rule := self.hosts.match(host_of(item.url))) and rule.accept:
            accept = rule.accept
        judge(item, accept, accept_timeouts=self.accept_timeouts)
        slo.apply(item)
        self.stats.inc_value(ROWS_STAT)
        self.stats.inc_value(OUTCOME_STAT.format(item.outcome))
        if item.status is not None:
            self.stats.inc_value(STATUS_STAT.format(item.status))
        if item.ok is False:
            self.stats.inc_value(ROWS_NOT_OK_STAT)
        return item

    def spider_closed(self, reason: str) -> None:
        """Log whether every entry got its row; a stopped run's entries without a row are
        left to ``resume``, not counted missing."""
        stats = self.stats
        entries = stats.get_value(ENTRIES_STAT, 0) - stats.get_value(ENTRIES_RESUMED_STAT, 0)
        rows = stats.get_value(ROWS_STAT, 0)
        not_ok = stats.get_value(ROWS_NOT_OK_STAT, 0)
        counts = f"{entries} entries, {rows} rows, {not_ok} not ok"
        if unwritten := stats.get_value(ROWS_EXPORT_FAILED, 0):
            logger.info("%s, %d not written (an output failed)", counts, unwritten)
        elif reason == STOPPED and entries > rows:
            stats.set_value(ENTRIES_NOT_STARTED, entries - rows)
            logger.info(
                "%s; %d entries not started: %s", counts, entries - rows, self._resume_hint()
            )
        elif entries == rows:
            logger.info("%s", counts)
        else:
            stats.set_value(ROWS_MISSING, entries - rows)
            logger.error("%d entries but %d rows: %d missing", entries, rows, entries - rows)

    def _resume_hint(self) -> str:
        """How the entries a stopped run did not start get their rows."""
        spider = self.crawler.spider
        if getattr(spider, "redis_job", None) is not None:
            return "they go back to the job when their leases run out"
        if getattr(spider, "shard", None) is not None:
            return "they are left to resume (see the workers' parent)"
        for uri in self.crawler.settings.getdict("FEEDS"):
            path = local_path(str(uri))
            if path is not None and path.suffix in RESUMABLE_SUFFIXES:
                return f"resume with -a resume={path} -o {path}"
        return "resume them from a .csv or .jsonl output (-a resume=OUTPUT -o OUTPUT)"
