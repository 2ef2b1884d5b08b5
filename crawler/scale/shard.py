"""A worker process of a run split in several: how many a run wants, which entries of the
list each checks (``-a shard=I/N``), and its watch on its parent. The parent's side is
:mod:`crawler.scale.workers`, imported only by a run that starts workers."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.fingerprints import url_fingerprint
from crawler.names import SETTINGS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

    from crawler.sources import UrlEntry

__all__ = [
    "PARENT_FD_VARIABLE",
    "Shard",
    "parse_workers",
    "url_fingerprint",
    "watch_parent",
    "workers_wanted",
]

logger = logging.getLogger(__name__)

PARENT_FD_VARIABLE = "CRAWLER_WORKER_PARENT_FD"
"""Environment variable naming a worker's end of the pipe only its parent writes to."""


def parse_workers(value: object, *, name: str = "CRAWLER_WORKERS") -> int:
    """The number of worker processes ``value`` asks for: a positive integer or ``auto``."""
    text = str(value).strip().lower()
    if text == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"{name} must be a number of processes >= 1 or 'auto', got {value!r}")
    return workers


def workers_wanted(arguments: Mapping[str, str], settings: BaseSettings) -> int:
    """The ``workers`` spider argument, else ``CRAWLER_WORKERS`` (``ValueError`` if bad)."""
    if "workers" in arguments:
        return parse_workers(arguments["workers"], name="workers")
    return parse_workers(settings.get("CRAWLER_WORKERS", SETTINGS["CRAWLER_WORKERS"]))


def watch_parent() -> None:
    """In a worker: stop as on Ctrl-C (SIGTERM) once the parent is gone, however it died.

    The parent passes the read end of a pipe it alone writes to; the kernel closes the write
    end when the parent exits, SIGKILL included, and the read returns.
    """
    fd = os.environ.pop(PARENT_FD_VARIABLE, None)
    if fd is None or not fd.isdigit():
        return

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(int(fd), 1):
                pass
        logger.warning("The parent of this worker is gone: stopping, its rows so far are kept")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="crawler-parent-watch", daemon=True).start()


@dataclass(frozen=True, slots=True)
class Shard:
    """Worker ``index`` (0-based) of ``count``: it owns the entries whose URL hashes to it.

    Duplicates of a URL hash alike, so they land in the same worker, which marks them as
    usual. Entries that are not a URL at all (unreadable lines) are spread by line number.
    """

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, *, name: str = "shard") -> Shard:
        """Parse ``I/N`` (1-based, as users and logs count: ``1/4`` … ``4/4``)."""
        number, _, count = str(text).partition("/")
        try:
            shard = cls(int(number) - 1, int(count))
        except ValueError:
            shard = cls(-1, 0)
        if not 0 <= shard.index < shard.count:
            raise ValueError(f"{name} must look like 2/4 (worker 2 of 4), got {text!r}")
        return shard

    def owns(self, entry: UrlEntry) -> bool:
        """Whether this worker checks ``entry``."""
        if entry.error is None and entry.url:
            try:
                return url_fingerprint(entry.url) % self.count == self.index
            except ValueError:  # not a URL w3lib can parse: the worker reports it by line
                pass
        return entry.line % self.count == self.index  # str hashes differ between processes

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"
