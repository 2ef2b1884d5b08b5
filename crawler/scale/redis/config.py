"""``CRAWLER_REDIS_*`` settings, read and checked once, and the Redis keys of a job."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.names import SETTINGS
from crawler.output.feeds import local_path

if TYPE_CHECKING:
    from typing import Self

    from scrapy.settings import BaseSettings

_JOB_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_SCHEMES = ("redis://", "rediss://", "unix://")

CONSUMER_GROUP = "workers"
"""The consumer group every worker of a job reads the entries stream through."""

INTERRUPTED = "interrupted"
"""A job's ``state`` when its feed stopped short (an error, Ctrl-C): workers drain what is there."""


REDIS_ERRORS_STAT = "crawler/redis/errors_count"
"""Stats key: Redis failed a worker, a feed or a merge (the run exits 1)."""


class RedisUnavailableError(RuntimeError):
    """Redis cannot be reached, or stopped answering: the worker stops cleanly."""


@dataclass(frozen=True, slots=True)
class RedisJob:
    """Where a job's entries live, and how workers lease them."""

    url: str
    """Redis server URL (``redis://host:port/db``)."""
    name: str = "urls"
    """The job: a namespace for its keys, so several lists can be checked at once."""
    lease: float = 60.0
    """Seconds a taken entry stays with a worker that stopped renewing it (heartbeats)."""
    wait: bool = False
    """Keep waiting for new entries when the list is drained, instead of stopping."""
    batch: int = 16
    """Entries taken per round trip."""
    max_deliveries: int = 3
    """Workers that may die on one entry before it is given up (``abandoned`` row)."""
    rows: bool = False
    """Also add every row to the job's rows stream as it is acknowledged."""

    @property
    def key_prefix(self) -> str:
        """Prefix of every key of this job."""
        return f"crawler:{self.name}"

    @property
    def entries_key(self) -> str:
        """Stream of the entries (fields ``url``, ``source``, ``line``, ``error``, ``dup``)."""
        return f"{self.key_prefix}:entries"

    @property
    def meta_key(self) -> str:
        """Hash: ``state`` (``feeding``/``fed``/``interrupted``), ``entries``, ``sources``…"""
        return f"{self.key_prefix}:meta"

    @property
    def dupefilter_key(self) -> str:
        """Set of request fingerprints (scrapy-redis's ``RFPDupeFilter``)."""
        return f"{self.key_prefix}:dupefilter"

    @property
    def rows_key(self) -> str:
        """Stream of finished rows (JSON in field ``row``), with ``CRAWLER_REDIS_ROWS``."""
        return f"{self.key_prefix}:rows"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key of the job."""
        return (self.entries_key, self.meta_key, self.dupefilter_key, self.rows_key)

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, *, url: str | None = None, name: str | None = None
    ) -> Self | None:
        """The job the settings (or the ``redis``/``job`` arguments) name; ``None``: no Redis."""
        url = url or settings.get("CRAWLER_REDIS_URL", SETTINGS["CRAWLER_REDIS_URL"]) or None
        if url is None:
            return None
        name = name or settings.get("CRAWLER_REDIS_JOB", SETTINGS["CRAWLER_REDIS_JOB"])
        lease = settings.getfloat("CRAWLER_REDIS_LEASE", SETTINGS["CRAWLER_REDIS_LEASE"])
        batch = settings.getint("CRAWLER_REDIS_BATCH", SETTINGS["CRAWLER_REDIS_BATCH"])
        max_deliveries = settings.getint(
            "CRAWLER_REDIS_MAX_DELIVERIES", SETTINGS["CRAWLER_REDIS_MAX_DELIVERIES"]
        )
        return cls.checked(
            url=url,
            name=str(name),
            lease=lease,
            wait=settings.getbool("CRAWLER_REDIS_WAIT", SETTINGS["CRAWLER_REDIS_WAIT"]),
            batch=batch,
            max_deliveries=max_deliveries,
            rows=settings.getbool("CRAWLER_REDIS_ROWS", SETTINGS["CRAWLER_REDIS_ROWS"]),
        )

    @classmethod
    def checked(cls, **values: object) -> Self:
        """A job from ``values``, each checked (``ValueError`` naming the setting and the fix)."""
        job = cls(**values)  # type: ignore[arg-type]
        if not job.url.startswith(_SCHEMES):
            raise ValueError(
                f"CRAWLER_REDIS_URL must start with {', '.join(_SCHEMES)}, got {job.url!r} "
                "(e.g. redis://127.0.0.1:6379/0)"
            )
        if not _JOB_NAME.fullmatch(job.name):
            raise ValueError(
                "CRAWLER_REDIS_JOB must be 1-100 letters, digits, '_', '.' or '-', "
                f"got {job.name!r}"
            )
        if job.lease < 1:
            raise ValueError(f"CRAWLER_REDIS_LEASE must be >= 1 (seconds), got {job.lease!r}")
        if job.batch < 1:
            raise ValueError(f"CRAWLER_REDIS_BATCH must be >= 1, got {job.batch!r}")
        if job.max_deliveries < 1:
            raise ValueError(
                f"CRAWLER_REDIS_MAX_DELIVERIES must be >= 1, got {job.max_deliveries!r}"
            )
        return job


def check_worker_outputs(settings: BaseSettings) -> None:
    """Refuse to let a worker overwrite (``-O``) an output that already holds rows.

    Rows a worker wrote were acknowledged in Redis: overwriting the file would lose them for
    good. Raises ``ValueError`` (one line, naming the fix).
    """
    for uri, options in settings.getdict("FEEDS").items():
        if not (options or {}).get("overwrite"):
            continue
        text = str(uri)
        path = local_path(text)
        if path is not None and path.is_file() and path.stat().st_size > 0:
            raise ValueError(
                f"-O {text} would overwrite rows a Redis worker already wrote and acknowledged; "
                "give each worker run a new output file, or append with -o"
            )
