"""What a run shows on the console: the failed URLs, then the summary, and little else.

Scrapy's own start-up and stats dumps are left out at the project's default log level
(``CRAWLER_SCRAPY_LOG`` or ``-L DEBUG`` brings them back); its warnings and errors always show.
"""

from __future__ import annotations

import heapq
import logging
from typing import TYPE_CHECKING, Any

from crawler.names import SETTINGS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

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


def log_level(settings: BaseSettings) -> int | None:
    """``LOG_LEVEL`` as a number (given by name or in digits); ``None`` for a name that
    ``logging`` does not know."""
    given = str(settings.get("LOG_LEVEL", "DEBUG")).strip().upper()
    level = int(given) if given.isdigit() else logging.getLevelName(given)
    return level if isinstance(level, int) else None


def shows_info(settings: BaseSettings) -> bool:
    """Whether this process's log shows INFO lines (``LOG_ENABLED``, ``LOG_LEVEL``)."""
    level = log_level(settings)
    return settings.getbool("LOG_ENABLED", True) and (level is None or level <= logging.INFO)


def shows_scrapy_log(settings: BaseSettings) -> bool:
    """Whether Scrapy's own dumps are shown: ``CRAWLER_SCRAPY_LOG``, or ``LOG_LEVEL=DEBUG``."""
    return (
        settings.getbool("CRAWLER_SCRAPY_LOG", SETTINGS["CRAWLER_SCRAPY_LOG"])
        or log_level(settings) == logging.DEBUG
    )


def quiet_scrapy_log(settings: BaseSettings) -> None:
    """Leave Scrapy's dumps out of this process's log unless :func:`shows_scrapy_log`.
    Filters, not levels: Scrapy's logging set-up resets levels."""
    if shows_scrapy_log(settings):
        return
    for name in QUIET_LOGGERS:
        logging.getLogger(name).addFilter(_ScrapyDumps())
    logging.getLogger("scrapy.crawler").addFilter(_ScrapyDumps(settings_dump_only=True))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _position(row: Mapping[str, Any]) -> tuple[str, int]:
    line = row.get("line")
    return _text(row.get("source")), line if isinstance(line, int) else 0


def failure_lines(
    failing: Iterable[Mapping[str, Any]], count: int, shown: int, outputs: Sequence[str]
) -> list[str]:
    """The console lines of a run's ``count`` failed rows (``failing``, in any order): a
    heading, the first ``shown`` by input position (source, line), and how many were left out.
    Memory holds ``shown`` rows, however many failed."""
    if not count or not shown:
        return []
    first = heapq.nsmallest(shown, failing, key=_position)
    heading = f"{count} URL{'s' if count != 1 else ''} not ok:"
    lines = [heading, *(_line(row) for row in first)]
    if (more := count - len(first)) > 0:
        lines.append(f"… and {more} more" + (f", see {outputs[0]}" if outputs else ""))
    return lines


def _line(row: Mapping[str, Any]) -> str:
    source, line = _position(row)
    status = _text(row.get("status"))
    outcome = _text(row.get("outcome"))
    verdict = f"{status} {outcome}" if status else outcome
    error = " ".join(_text(row.get("error")).split())
    if len(error) > ERROR_WIDTH:
        error = error[: ERROR_WIDTH - 1] + "…"
    return f"  {source}:{line}  {verdict}  {_text(row.get('url'))}" + (
        f"  {error}" if error else ""
    )
