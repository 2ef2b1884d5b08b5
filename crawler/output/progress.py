"""Progress while a run goes: a rich progress bar on a terminal, periodic log lines otherwise.

``CRAWLER_PROGRESS``: ``"auto"`` (a bar when standard error is a terminal, log lines when it is
not, nothing with ``--nolog`` or a ``LOG_LEVEL`` above INFO), ``"bar"``, ``"log"`` or ``"off"``.
``CRAWLER_PROGRESS_INTERVAL``: seconds between log lines. Both show rows done / entries (the
total is counted in a background thread when the inputs are files; unknown for standard input
or a spider with its own ``url_entries``), the rate, the time left, rows not ok so far and
requests in flight.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawler.console import shows_info
from crawler.items import ENTRIES_RESUMED_STAT
from crawler.names import SETTINGS
from crawler.sources import open_sources

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from crawler.output.progress_bar import ProgressBar

logger = logging.getLogger(__name__)

MODES = ("auto", "bar", "log", "off")
_COUNT_CHECK_EVERY = 10_000
BAR_REFRESH = 0.1
"""Seconds between two updates of the bar's figures."""


def countable_inputs(spider: Spider) -> str | None:
    """The inputs (a ``urls`` spec) whose entries can be counted ahead for this run's total,
    as the spider says through its ``countable_inputs()`` method; ``None`` without one."""
    ask = getattr(spider, "countable_inputs", None)
    spec = ask() if callable(ask) else None
    return spec if isinstance(spec, str) else None


def progress_settings(settings: BaseSettings) -> tuple[str, float]:
    """``CRAWLER_PROGRESS`` and ``CRAWLER_PROGRESS_INTERVAL``, checked (``ValueError``)."""
    mode = str(settings.get("CRAWLER_PROGRESS", SETTINGS["CRAWLER_PROGRESS"])).strip().lower()
    if mode not in MODES:
        raise ValueError(
            f"CRAWLER_PROGRESS must be one of {', '.join(MODES)}, got "
            f"{settings.get('CRAWLER_PROGRESS')!r}"
        )
    interval = settings.getfloat("CRAWLER_PROGRESS_INTERVAL", SETTINGS["CRAWLER_PROGRESS_INTERVAL"])
    if interval <= 0:
        raise ValueError(f"CRAWLER_PROGRESS_INTERVAL must be > 0 seconds, got {interval!r}")
    return mode, interval


def count_entries(spec: str, stop: threading.Event | None = None) -> int | None:
    """How many entries the inputs of ``spec`` hold (a pass over them); ``None`` if stopped."""
    count = 0
    with open_sources(spec) as sources:
        for read, entry in enumerate(sources.read(), 1):  # blank lines too: a stop is seen
            if read % _COUNT_CHECK_EVERY == 0 and stop is not None and stop.is_set():
                return None
            count += entry is not None
    return count


def _resolve_mode(mode: str, crawler: Crawler) -> str:
    if mode != "auto":
        return mode
    if not shows_info(crawler.settings):
        return "off"
    return "bar" if sys.stderr is not None and sys.stderr.isatty() else "log"


def eta_clock(seconds: float) -> str:
    """``h:mm:ss``, or ``m:ss`` under an hour."""
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressExtension:
    """Shows how a run is going; see the module docstring for the settings."""

    def __init__(self, crawler: Crawler, mode: str, interval: float) -> None:
        self.crawler = crawler
        self.mode = mode
        self.interval = interval
        self.total: int | None = None
        self.started = time.monotonic()
        self._stop_counting = threading.Event()
        self._counter: threading.Thread | None = None
        self._bar: ProgressBar | None = None
        self._looping: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read ``CRAWLER_PROGRESS`` and ``CRAWLER_PROGRESS_INTERVAL``; connect the signals."""
        mode, interval = progress_settings(crawler.settings)
        mode = _resolve_mode(mode, crawler)
        if mode == "off":
            raise NotConfigured  # no message: Scrapy would log one line saying so
        extension = cls(crawler, mode, interval)
        connect = crawler.signals.connect
        connect(extension.spider_opened, signal=signals.spider_opened)
        connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    # Signals

    def spider_opened(self, spider: Spider) -> None:
        """Start counting the inputs, then the bar or the log lines."""
        self.started = time.monotonic()
        spec = countable_inputs(spider)
        if spec is not None:
            self._counter = threading.Thread(
                target=self._count, args=(spec,), name="crawler-progress-count", daemon=True
            )
            self._counter.start()
        if self.mode == "bar":
            self._start_bar()
            self._looping = create_looping_call(self._update_bar)
            self._looping.start(BAR_REFRESH, now=False)
        else:
            self._looping = create_looping_call(self.log_progress)
            self._looping.start(self.interval, now=False)

    def spider_closed(self, spider: Spider) -> None:
        """Stop: a last refresh of the bar, the counting thread, the log lines."""
        self._stop_counting.set()
        if self._looping is not None and self._looping.running:
            self._looping.stop()
        if self._bar is not None:
            self._update_bar()
            self._bar.stop()
            self._bar = None
        if self._counter is not None:
            self._counter.join(timeout=5)

    # Figures: read when shown, from the result pipeline's stats (no signal per row)

    def _stat(self, key: str) -> int:
        stats = self.crawler.stats
        return int(stats.get_value(key, 0)) if stats is not None else 0

    @property
    def rows(self) -> int:
        """Rows judged by the result pipeline so far in this run (``crawler/rows_count``)."""
        return self._stat("crawler/rows_count")

    @property
    def not_ok(self) -> int:
        """Rows not ok so far (``crawler/rows_not_ok_count``)."""
        return self._stat("crawler/rows_not_ok_count")

    @property
    def in_flight(self) -> int:
        """Requests in the downloader now (read when shown: no signal per request)."""
        engine = self.crawler.engine
        return len(engine.downloader.active) if engine is not None else 0

    def _count(self, spec: str) -> None:
        try:
            self.total = count_entries(spec, self._stop_counting)
        except (OSError, ValueError) as e:  # the crawl reports unreadable inputs itself
            logger.debug("Cannot count the entries of %s: %s", spec, e)

    @property
    def done(self) -> int:
        """Entries finished: rows written in this run plus entries resumed from earlier ones."""
        stats = self.crawler.stats
        resumed = stats.get_value(ENTRIES_RESUMED_STAT, 0) if stats else 0
        return self.rows + int(resumed)

    def line(self) -> str:
        """``Progress: 1,200/5,000 rows (24.0 %), 310/s, ETA 0:12, 3 not ok, 64 in flight``."""
        done, total = self.done, self.total
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.rows / elapsed
        parts = [f"Progress: {done:,}/{total:,} rows" if total else f"Progress: {done:,} rows"]
        if total:
            parts[0] += f" ({done / total:.1%})"
        parts.append(f"{rate:,.1f}/s")
        if total and rate > 0:
            parts.append(f"ETA {eta_clock(max(total - done, 0) / rate)}")
        parts += [f"{self.not_ok:,} not ok", f"{self.in_flight} in flight"]
        return ", ".join(parts)

    def log_progress(self) -> None:
        """Log one progress line (log mode)."""
        logger.info("%s", self.line(), extra={"crawler": self.crawler})

    # The bar

    def _start_bar(self) -> None:
        # rich (a few MB of memory) is imported only when a bar is shown, not in log mode.
        from crawler.output.progress_bar import ProgressBar

        self._bar = ProgressBar()

    def _update_bar(self) -> None:
        if self._bar is None:
            return
        self._bar.update(
            completed=self.done,
            total=self.total,
            not_ok=self.not_ok,
            in_flight=self.in_flight,
        )
