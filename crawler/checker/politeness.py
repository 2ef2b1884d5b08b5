"""Politeness per host: how long a 429/503 holds its host back, and the retry budget.

Read once from ``CRAWLER_RETRY_AFTER_MAX``, ``CRAWLER_BACKOFF_BASE`` and
``CRAWLER_HOST_RETRY_BUDGET``; ``middlewares.politeness.PoliteRetryMiddleware`` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.names import SETTINGS

if TYPE_CHECKING:
    from typing import Self

    from scrapy.settings import BaseSettings

BACKOFF_STATUSES = frozenset({429, 503})
STATS_PREFIX = "crawler/politeness/"


@dataclass(frozen=True, slots=True)
class PolitenessConfig:
    """``CRAWLER_RETRY_AFTER_MAX``, ``CRAWLER_BACKOFF_BASE`` and ``CRAWLER_HOST_RETRY_BUDGET``."""

    max_wait: float
    """The longest wait made; a longer ``Retry-After`` is reported at once."""
    backoff_base: float
    """First wait without ``Retry-After``; each further retry of the URL doubles it."""
    host_retry_budget: int
    """Retries allowed per host over the whole crawl; 0 for no limit."""

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read and check the settings; ``ValueError`` names the bad one."""
        max_wait = settings.getfloat("CRAWLER_RETRY_AFTER_MAX", SETTINGS["CRAWLER_RETRY_AFTER_MAX"])
        if max_wait < 0:
            raise ValueError(
                f"CRAWLER_RETRY_AFTER_MAX must be >= 0 (0: never wait), got {max_wait}"
            )
        base = settings.getfloat("CRAWLER_BACKOFF_BASE", SETTINGS["CRAWLER_BACKOFF_BASE"])
        if base < 0:
            raise ValueError(f"CRAWLER_BACKOFF_BASE must be >= 0 seconds, got {base}")
        budget = settings.getint("CRAWLER_HOST_RETRY_BUDGET", SETTINGS["CRAWLER_HOST_RETRY_BUDGET"])
        if budget < 0:
            raise ValueError(f"CRAWLER_HOST_RETRY_BUDGET must be >= 0 (0: no limit), got {budget}")
        return cls(max_wait=max_wait, backoff_base=base, host_retry_budget=budget)
