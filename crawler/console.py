"""What a run shows on the console: the failed URLs, then the summary, and little else.

Scrapy's own start-up and stats dumps are left out at the project's default log level
(``CRAWLER_SCRAPY_LOG`` or ``-L DEBUG`` brings them back); its warnings and errors always show.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

QUIET_LOGGERS = (
    "scrapy.utils.log",  # "Scrapy … started", versions, reactor
    "scrapy.addons",  # enabled add-ons
    "scrapy.middleware",  # enabled extensions, middlewares, pipelines
    "scrapy.core.engine",  # spider opened, closing, closed
    "scrapy.extensions.logstats",  # "Crawled 0 pages"
    "scrapy.extensions.telnet",
    "scrapy.extensions.feedexport",  # "Stored csv feed": after the summary
    "scrapy.statscollectors",  # the stats dump
)
"""Scrapy's loggers whose INFO lines are its start-up and closing dumps."""
SETTINGS_DUMP = "Overridden settings"
"""The start of ``scrapy.crawler``'s settings dump; its other lines (Ctrl-C) stay."""
ERROR_WIDTH = 200
"""Characters of a failed row's error shown on its console line."""


class _ScrapyDumps(logging.Filter):
    """Drops a Scrapy logger's INFO and DEBUG records, or only its settings dump."""

    def __init__(self, *, settings_dump_only: bool = False) -> None:
        super().__init__()
        self.settings_dump_only = settings_dump_only

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if self.settings_dump_only:
            return not str(record.msg).startswith(SETTINGS_DUMP)
        return False


def quiet_scrapy_log(settings: BaseSettings) -> None:
    """Leave Scrapy's dumps out of this process's log, unless ``CRAWLER_SCRAPY_LOG`` is on or
    ``LOG_LEVEL`` is ``DEBUG``. Filters, not levels: Scrapy's logging set-up resets levels."""
    level = logging.getLevelName(str(settings.get("LOG_LEVEL", "DEBUG")).upper())
    if settings.getbool("CRAWLER_SCRAPY_LOG") or level == logging.DEBUG:
        return
    for name in QUIET_LOGGERS:
        logging.getLogger(name).addFilter(_ScrapyDumps())
    logging.getLogger("scrapy.crawler").addFilter(_ScrapyDumps(settings_dump_only=True))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class FailureList:
    """The first ``shown`` not-ok rows by input position (source, line), and how many there were.

    Rows arrive as they finish; the list is cut back to the ``shown`` earliest whenever it holds
    twice as many, so memory stays bounded.
    """

    def __init__(self, shown: int) -> None:
        self.shown = shown
        self.count = 0
        self._kept: list[tuple[str, int, str]] = []

    def add(self, row: Any) -> None:
        """Count a row if it is not ok (a :class:`~crawler.items.UrlResult` or export row)."""
        data: Mapping[str, Any] = row if isinstance(row, Mapping) else _fields(row)
        if str(data.get("ok")).lower() != "false":
            return
        self.count += 1
        if not self.shown:
            return
        try:
            line = int(data.get("line") or 0)
        except ValueError:
            line = 0
        source = _text(data.get("source"))
        self._kept.append((source, line, _line(data, source, line)))
        if len(self._kept) >= 2 * self.shown:
            self._kept = sorted(self._kept)[: self.shown]

    def lines(self, outputs: list[str]) -> list[str]:
        """The console lines: a heading, one line per kept failure, and what was left out."""
        if not self.count or not self.shown:
            return []
        kept = [text for _, _, text in sorted(self._kept)[: self.shown]]
        heading = f"{self.count} URL{'s' if self.count != 1 else ''} not ok:"
        more = self.count - len(kept)
        tail = []
        if more:
            where = f", see {outputs[0]}" if outputs else ""
            tail = [f"… and {more} more{where}"]
        return [heading, *kept, *tail]


def _fields(row: Any) -> dict[str, Any]:
    names = ("ok", "source", "line", "status", "outcome", "url", "error")
    return {name: getattr(row, name, None) for name in names}


def _line(data: Mapping[str, Any], source: str, line: int) -> str:
    status = _text(data.get("status"))
    outcome = _text(data.get("outcome"))
    verdict = f"{status} {outcome}" if status else outcome
    error = " ".join(_text(data.get("error")).split())
    if len(error) > ERROR_WIDTH:
        error = error[: ERROR_WIDTH - 1] + "…"
    return f"  {source}:{line}  {verdict}  {_text(data.get('url'))}" + (
        f"  {error}" if error else ""
    )
