"""Which entries of a list one of several worker processes checks (``-a shard=I/N``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.fingerprints import url_fingerprint

if TYPE_CHECKING:
    from crawler.sources import UrlEntry

__all__ = ["Shard", "parse_workers", "url_fingerprint"]


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
