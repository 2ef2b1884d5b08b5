"""The names a user types: the ``urls`` spider's arguments and the ``CRAWLER_*`` settings,
each setting with its one default.

A misspelt name is one error line naming the nearest valid one, never a silently ignored
option. See ``docs/settings.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from crawler.redact import DEFAULT_PARAMS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from scrapy.settings import BaseSettings

SPIDER_ARGUMENTS: dict[str, str] = {
    "urls": "input files, comma-separated (.txt, .csv, .jsonl, .json, .gz), or - for "
    "standard input; with no input argument at all, the example list",
    "resume": "earlier .csv/.jsonl outputs, comma-separated: entries with a row there are skipped",
    "accept": "accepted statuses, e.g. 200..=299,403 (default: CRAWLER_ACCEPT)",
    "include": "a regular expression: check only the URLs it matches (with CRAWLER_INCLUDE)",
    "exclude": "a regular expression: URLs it matches get an excluded row (with CRAWLER_EXCLUDE)",
    "method": "get, head or headers (default: CRAWLER_METHOD)",
    "slo": "thresholds like ttfb_ms<500,total_ms<2000 (default: CRAWLER_SLO)",
    "workers": "processes to split the list across, a number or auto (default: CRAWLER_WORKERS)",
    "shard": "I/N: check only worker I's share of the list (set by workers=N)",
    "redis": "redis://… URL: take the entries of a job fed with `scrapy feed` instead",
    "job": "the Redis job's name (default: CRAWLER_REDIS_JOB)",
}
"""Every argument of the ``urls`` spider (``-a NAME=VALUE``), with its one-line help."""

SITE_ARGUMENTS: dict[str, str] = {
    "depth": "links followed from a seed before pages are only checked, not parsed (default: 10)",
    "max_pages": "pages parsed at most; links beyond are still checked (default: 100000)",
    "allow": "a regular expression: pages it matches are parsed too (beside the seeds' hosts)",
    "deny": "a regular expression: pages it matches are checked, not parsed",
    "sitemap": "sitemap, sitemap index (.xml, .xml.gz) or robots.txt URLs, comma-separated: "
    "their pages are seeds too",
}
"""The ``site`` spider's own arguments, on top of :data:`SPIDER_ARGUMENTS`."""


SETTINGS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "CRAWLER_ACCEPT": "200..=299",
        "CRAWLER_ACCEPT_TIMEOUTS": False,
        "CRAWLER_BACKOFF_BASE": 1.0,
        "CRAWLER_CACHE": None,
        "CRAWLER_CACHE_MAX_AGE": 86400.0,
        "CRAWLER_CACHE_SKIP_STATUSES": [429],
        "CRAWLER_CONNECT_TIMEOUT": 10.0,
        "CRAWLER_CSV_FORMULA_ESCAPE": True,
        "CRAWLER_DNS_CACHE_TTL": 10,
        "CRAWLER_DNS_RESOLVER": "threaded",
        "CRAWLER_EXCLUDE": [],
        "CRAWLER_EXCLUDE_PRIVATE": False,
        "CRAWLER_FAILURES_SHOWN": 20,
        "CRAWLER_FAILURE_EXIT_CODE": 2,
        "CRAWLER_FALLBACK_HTTPS_HANDLER": None,
        "CRAWLER_FALLBACK_HTTP_HANDLER": None,
        "CRAWLER_FRAGMENTS": True,
        "CRAWLER_FULL_BODIES": False,
        "CRAWLER_HOSTS": {},
        "CRAWLER_HOST_RETRY_BUDGET": 0,
        "CRAWLER_INCLUDE": [],
        "CRAWLER_KEEPALIVE_TIMEOUT": 15.0,
        "CRAWLER_METHOD": "get",
        "CRAWLER_PROGRESS": "auto",
        "CRAWLER_PROGRESS_INTERVAL": 10.0,
        "CRAWLER_READ_AHEAD": 1000,
        "CRAWLER_REDACT_PARAMS": list(DEFAULT_PARAMS),
        "CRAWLER_REDIS_BATCH": 16,
        "CRAWLER_REDIS_JOB": "urls",
        "CRAWLER_REDIS_LEASE": 60.0,
        "CRAWLER_REDIS_MAX_DELIVERIES": 3,
        "CRAWLER_REDIS_ROWS": False,
        "CRAWLER_REDIS_URL": None,
        "CRAWLER_REDIS_WAIT": False,
        "CRAWLER_REPORT_FILES": [],
        "CRAWLER_RETRY_AFTER_MAX": 10.0,
        "CRAWLER_SCRAPY_LOG": False,
        "CRAWLER_SITE_PLACES_FILE": None,
        "CRAWLER_SLO": "",
        "CRAWLER_SLO_HOSTS": {},
        "CRAWLER_SUMMARY_FILE": None,
        "CRAWLER_TIMING_ENABLED": True,
        "CRAWLER_UNCHECKED_SCHEMES": ["mailto", "tel"],
        "CRAWLER_WORKERS": 1,
    }
)
"""Every ``CRAWLER_*`` setting the project reads, with its one default: readers pass
``SETTINGS[name]`` as the default of ``settings.get…(name, …)``, and ``docs/settings.md`` shows
the same values (a test compares them)."""

CRAWLER_SETTINGS: Final = frozenset(SETTINGS)
"""Every ``CRAWLER_*`` setting the project reads."""

SETTING_PREFIX = "CRAWLER_"


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``, if any is close enough to be a likely typo."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def check_argument_names(
    given: Iterable[str], known: Mapping[str, str], *, spider: str = "urls"
) -> None:
    """Raise ``ValueError`` (one line) for an argument ``known`` does not hold."""
    for name in given:
        if name in known:
            continue
        hint = nearest(name, known)
        if hint is None and (setting := _setting_like(name)):
            hint = f"-s {setting}=…"
        raise ValueError(
            f"unknown argument -a {name}=…"
            + (
                f"; did you mean {hint if hint.startswith('-s') else f'-a {hint}=…'}?"
                if hint
                else ""
            )
            + f" (scrapy crawl {spider} -h lists the arguments)"
        )


def _setting_like(name: str) -> str | None:
    """A setting the argument ``name`` may have meant, e.g. ``timeout`` → ``DOWNLOAD_TIMEOUT``."""
    from scrapy.settings import default_settings

    upper = name.upper()
    for setting in (f"{SETTING_PREFIX}{upper}", f"DOWNLOAD_{upper}", f"CONCURRENT_{upper}"):
        if setting in CRAWLER_SETTINGS or hasattr(default_settings, setting):
            return setting
    return None


def check_setting_names(settings: BaseSettings) -> None:
    """Raise ``ValueError`` (one line) for a ``CRAWLER_*`` setting the project does not read."""
    for name in sorted(settings):
        if name.startswith(SETTING_PREFIX) and name not in CRAWLER_SETTINGS:
            hint = nearest(name, CRAWLER_SETTINGS)
            raise ValueError(
                f"unknown setting {name}"
                + (f"; did you mean {hint}?" if hint else "")
                + " (the README lists every CRAWLER_* setting)"
            )
