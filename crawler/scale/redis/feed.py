"""Load a URL list into a job's Redis stream, marking duplicates once for all workers."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import redis
from scrapy import Request
from scrapy_redis.connection import get_redis
from scrapy_redis.dupefilter import RFPDupeFilter

from crawler.redact import redact
from crawler.scale.redis.config import CONSUMER_GROUP, INTERRUPTED, RedisUnavailableError
from crawler.urls import NOT_UNICODE, exportable

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from crawler.scale.redis.config import RedisJob
    from crawler.sources import UrlEntry

logger = logging.getLogger(__name__)

FEED_BATCH = 1000


@dataclass(slots=True)
class FeedResult:
    """What one feed added to a job."""

    entries: int = 0
    duplicates: int = 0
    seconds: float = 0.0


def connect(job: RedisJob) -> redis.Redis:
    """A checked synchronous client for ``job``'s server (raises :class:`RedisUnavailableError`)."""
    client: redis.Redis = get_redis(
        url=job.url, decode_responses=True, socket_timeout=30, socket_connect_timeout=10
    )
    try:
        client.ping()
    except redis.RedisError as e:
        raise RedisUnavailableError(f"Redis at {redact(job.url)} is unreachable: {e}") from e
    return client


def ensure_group(client: redis.Redis, job: RedisJob) -> None:
    """Create the job's stream and consumer group (from the first entry) unless they exist."""
    try:
        client.xgroup_create(job.entries_key, CONSUMER_GROUP, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def _fingerprint(dupefilter: RFPDupeFilter, url: str) -> str | None:
    """scrapy-redis's request fingerprint of ``url``; ``None`` for URLs no worker will fetch."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    try:
        return str(dupefilter.request_fingerprint(Request(url)))
    except ValueError:
        return None


def _batches(entries: Iterable[UrlEntry], size: int) -> Iterator[list[UrlEntry]]:
    batch: list[UrlEntry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def feed(
    client: redis.Redis,
    job: RedisJob,
    entries: Iterable[UrlEntry],
    sources: Iterable[str],
    *,
    batch_size: int = FEED_BATCH,
) -> FeedResult:
    """Add ``entries`` to ``job``: the stream workers lease from, in input order.

    Entries are sent ``batch_size`` at a time; workers may start before the feed ends.

    The first entry of each URL is checked; later ones are marked duplicates, through
    scrapy-redis's :class:`~scrapy_redis.dupefilter.RFPDupeFilter` fingerprints kept in
    the job's dupefilter set. Refuses a job that already has entries (``reset_job`` first).
    A feed that stops short (an exception, Ctrl-C) marks the job ``interrupted``.
    """
    _refuse_existing(client, job)
    started = time.monotonic()
    ensure_group(client, job)
    client.hset(
        job.meta_key,
        mapping={"state": "feeding", "entries": 0, "sources": ",".join(sources)},
    )
    finished = False
    try:
        result = _add_entries(client, job, entries, batch_size)
        finished = True
    finally:
        if not finished:
            _mark_interrupted(client, job)
    result.seconds = time.monotonic() - started
    return result


def _refuse_existing(client: redis.Redis, job: RedisJob) -> None:
    """Raise ``ValueError`` (one line, naming ``--reset``) when ``job`` already exists."""
    if not client.exists(job.meta_key):
        return
    state = cast("str | None", client.hget(job.meta_key, "state"))
    if state == INTERRUPTED:
        raise ValueError(
            f"job {job.name!r} was interrupted while being fed; start over with "
            "`scrapy feed --reset` (deletes its entries and rows)"
        )
    raise ValueError(
        f"job {job.name!r} already exists in Redis ({state}); check it to the end, "
        "or start over with --reset (deletes its entries and rows)"
    )


def _mark_interrupted(client: redis.Redis, job: RedisJob) -> None:
    """Tell workers and ``scrapy merge`` the feed stopped short (best effort: Redis may be gone)."""
    try:
        client.hset(job.meta_key, "state", INTERRUPTED)
    except redis.RedisError as e:
        logger.debug("Could not mark job %r interrupted: %s", job.name, e)


def _add_entries(
    client: redis.Redis, job: RedisJob, entries: Iterable[UrlEntry], batch_size: int
) -> FeedResult:
    dupefilter = RFPDupeFilter(client, key=job.dupefilter_key)
    result = FeedResult()
    for batch in _batches(entries, batch_size):
        fingerprints = [_fingerprint(dupefilter, entry.url) for entry in batch]
        seen = client.pipeline(transaction=False)
        for fingerprint in fingerprints:
            if fingerprint is not None:
                seen.sadd(job.dupefilter_key, fingerprint)
        added = iter(seen.execute())
        adding = client.pipeline(transaction=True)
        for entry, fingerprint in zip(batch, fingerprints, strict=True):
            fields: dict[Any, Any] = {
                "url": exportable(entry.url),  # Redis takes UTF-8 only
                "source": entry.source,
                "line": entry.line,
            }
            if entry.error is not None:
                fields["error"] = entry.error
            elif fields["url"] != entry.url:
                fields["error"] = NOT_UNICODE
            if fingerprint is not None and not next(added):
                fields["dup"] = 1
                result.duplicates += 1
            adding.xadd(job.entries_key, fields)
        adding.hincrby(job.meta_key, "entries", len(batch))
        adding.execute()
        result.entries += len(batch)
    client.hset(
        job.meta_key,
        mapping={"state": "fed", "duplicates": result.duplicates, "fed_at": time.time()},
    )
    return result


def reset_job(client: redis.Redis, job: RedisJob) -> int:
    """Delete every key of ``job``; the number of keys deleted."""
    return int(client.delete(*job.keys))
