"""A worker's side of a job: lease entries from the stream, renew, acknowledge, take over.

Entries are read through one consumer group, so each is delivered to one worker and stays
in the group's pending list until that worker acknowledges it, which it does once the
entry's row is written. A heartbeat renews the worker's leases; entries whose lease ran out
(the worker was killed, or lost Redis) are claimed by the next worker that looks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from crawler.redact import redact
from crawler.scale.redis.config import CONSUMER_GROUP, INTERRUPTED, RedisUnavailableError
from crawler.sources import UrlEntry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.statscollectors import StatsCollector

    from crawler.scale.redis.config import RedisJob

logger = logging.getLogger(__name__)

STATS_PREFIX = "crawler/redis/"
ACK_DELAY = 0.05
"""Seconds acknowledgements wait to go in one batch (a kill within it costs a re-check)."""
CLOSE_TIMEOUT = 15.0
"""Seconds a worker may spend leaving Redis when it stops."""
JOB_WAIT = 10.0
"""Seconds a worker waits for a job that does not exist yet (its feeder may be starting)."""
Messages = list[tuple[str, dict[str, str]]]
"""Stream messages as the client returns them (``decode_responses=True``)."""
_IDLE_POLL_MS = 1000
_ACK_ADDING_ROWS = """
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 and ARGV[i + 1] ~= '' then
    redis.call('XADD', KEYS[2], '*', 'row', ARGV[i + 1])
  end
end
"""
"""Acknowledge entries (ARGV: group, then message id and row pairs), adding the row of each
entry this call acknowledged: run again (a retry after a lost reply), it adds nothing."""
HEARTBEAT_TASK = "crawler-redis-heartbeat"


@dataclass(frozen=True, slots=True)
class LeasedEntry:
    """An entry this worker holds, and what the feeder or the lease history says of it."""

    entry: UrlEntry
    duplicate: bool = False
    """An earlier entry of the list has the same URL (decided once, by the feeder)."""
    abandoned_after: int = 0
    """When not 0: deliveries after which the entry is given up (workers died on it)."""


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _entry(fields: dict[str, str]) -> UrlEntry:
    return UrlEntry(
        url=fields.get("url", ""),
        source=fields.get("source", "?"),
        line=int(fields.get("line", 0)),
        error=fields.get("error"),
    )


class WorkQueue:
    """The entries of ``job`` this worker takes, renews and acknowledges."""

    def __init__(self, job: RedisJob, stats: StatsCollector) -> None:
        self.job = job
        self.consumer = _consumer_name()
        self._stats = stats
        self._client: aioredis.Redis = aioredis.from_url(
            job.url,
            decode_responses=True,
            socket_timeout=max(10.0, _IDLE_POLL_MS / 1000 * 3),
            socket_connect_timeout=5,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=4),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        self._ack_adding_rows = self._client.register_script(_ACK_ADDING_ROWS)
        self._held: dict[tuple[str, int], str] = {}
        self._to_ack: list[tuple[str, str | None]] = []
        self._acking: set[str] = set()
        """Entries whose rows are written and whose acknowledgement is queued or under way."""
        self._next_take_over = 0.0
        self._closing = False
        self._warned_interrupted = False
        self._ack_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.failure: RedisUnavailableError | None = None
        self._failure_told = False
        """The failure is logged, or was raised to the caller of :meth:`entries` (who logs it)."""
        self._iterating = False

    def _unavailable(self, error: redis.RedisError) -> RedisUnavailableError:
        return RedisUnavailableError(
            f"Redis at {redact(self.job.url)} stopped answering ({error}); entries this "
            f"worker held go to the other workers after CRAWLER_REDIS_LEASE={self.job.lease:g} s"
        )

    async def open(self) -> None:
        """Check the server and the job, and start the heartbeat and acknowledgement tasks."""
        try:
            await self._client.ping()
            await self._wait_for_job()
            try:
                await self._client.xgroup_create(
                    self.job.entries_key, CONSUMER_GROUP, id="0", mkstream=True
                )
            except redis.ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise
        except redis.RedisError as e:
            raise RedisUnavailableError(
                f"Redis at {redact(self.job.url)} is unreachable: {e}"
            ) from e
        self._tasks = [
            asyncio.create_task(self._heartbeat(), name=HEARTBEAT_TASK),
            asyncio.create_task(self._acknowledge(), name="crawler-redis-ack"),
        ]
        logger.info(
            "Worker %s takes entries of job %r from %s (lease %g s)",
            self.consumer,
            self.job.name,
            redact(self.job.url),
            self.job.lease,
        )

    async def _wait_for_job(self) -> None:
        """Give a feeder started at the same time ``JOB_WAIT`` seconds to create the job."""
        deadline = time.monotonic() + JOB_WAIT
        while await self._client.hget(self.job.meta_key, "state") is None:
            if self.job.wait:
                return
            if time.monotonic() >= deadline:
                raise RedisUnavailableError(
                    f"job {self.job.name!r} has no entries in Redis at {redact(self.job.url)}: "
                    "load the list first with `scrapy feed FILE`"
                )
            await asyncio.sleep(0.2)

    async def entries(self) -> AsyncIterator[LeasedEntry]:
        """Leased entries, until the job is drained (or forever with ``wait``).

        Raises :class:`RedisUnavailableError` when Redis stops answering, also when a
        background task met it: the caller logs it, once (the queue logs what it cannot raise).
        """
        idle = False
        self._iterating = True
        try:
            while True:
                if self.failure is not None:
                    self._failure_told = True  # the caller logs it
                    raise self.failure
                try:
                    leased = await self._take_over(force=idle) or await self._take_new(block=idle)
                    if not leased and await self._drained():
                        return
                except redis.RedisError as e:
                    self._fail(e)
                    continue
                idle = not leased
                for item in leased:
                    yield item
        finally:
            self._iterating = False

    async def _take_new(self, *, block: bool) -> list[LeasedEntry]:
        response = cast(
            "list[tuple[str, Messages]] | None",
            await self._client.xreadgroup(
                CONSUMER_GROUP,
                self.consumer,
                {self.job.entries_key: ">"},
                count=self.job.batch,
                block=_IDLE_POLL_MS if block else None,
            ),
        )
        leased = []
        for _stream, messages in response or ():
            for message_id, fields in messages:
                leased.append(self._hold(message_id, fields, dup=fields.get("dup") == "1"))
        self._stats.inc_value(f"{STATS_PREFIX}entries_leased_count", len(leased))
        return leased

    async def _take_over(self, *, force: bool) -> list[LeasedEntry]:
        """Entries whose lease ran out (their worker died), claimed for this worker.

        This worker's own entries count too when it does not hold them: Redis delivered them
        but the reply was lost (the connection broke and the client retried the read). No
        worker died on those, so their deliveries do not count towards giving them up.
        Looked for when idle, else at most every quarter lease: a lease cannot run out sooner.
        """
        now = time.monotonic()
        if not force and now < self._next_take_over:
            return []
        self._next_take_over = now + self.job.lease / 4
        lease_ms = int(self.job.lease * 1000)
        expired: list[dict[str, Any]] = await self._client.xpending_range(
            self.job.entries_key,
            CONSUMER_GROUP,
            min="-",
            max="+",
            count=self.job.batch,
            idle=lease_ms,
        )
        mine = set(self._held.values()) | self._acking
        lost = {
            p["message_id"]
            for p in expired
            if p["consumer"] == self.consumer and p["message_id"] not in mine
        }
        deliveries = {
            p["message_id"]: p["times_delivered"]
            for p in expired
            if p["consumer"] != self.consumer or p["message_id"] in lost
        }
        if not deliveries:
            return []
        claimed = cast(
            "Messages",
            await self._client.xclaim(
                self.job.entries_key,
                CONSUMER_GROUP,
                self.consumer,
                lease_ms,
                list(deliveries),
            ),
        )
        leased = []
        for message_id, fields in claimed:
            if not fields:  # deleted from the stream meanwhile
                await self._client.xack(self.job.entries_key, CONSUMER_GROUP, message_id)
                continue
            given_up = 0 if message_id in lost else self._given_up(deliveries[message_id])
            leased.append(
                self._hold(message_id, fields, dup=fields.get("dup") == "1", given_up=given_up)
            )
            logger.info(
                "Took over %s line %s (%s) %s",
                fields.get("source"),
                fields.get("line"),
                redact(fields.get("url", "")),
                "whose delivery to this worker was lost"
                if message_id in lost
                else "from a worker whose lease ran out",
            )
        self._stats.inc_value(f"{STATS_PREFIX}entries_taken_over_count", len(leased))
        return leased

    def _given_up(self, times_delivered: int) -> int:
        """The deliveries an entry taken from a dead worker is given up after (0: check it).

        Never called for an entry whose delivery to this worker was lost: no worker died on it.
        """
        delivered = int(times_delivered)
        return delivered if delivered >= self.job.max_deliveries else 0

    def _hold(
        self, message_id: str, fields: dict[str, str], *, dup: bool, given_up: int = 0
    ) -> LeasedEntry:
        entry = _entry(fields)
        self._held[entry.source, entry.line] = message_id
        return LeasedEntry(entry, duplicate=dup, abandoned_after=given_up)

    async def _drained(self) -> bool:
        """No entry left to take, none held elsewhere, and the feeder has finished (or died)."""
        if self.job.wait:
            return False
        state = await self._client.hget(self.job.meta_key, "state")
        if state == INTERRUPTED:
            self._warn_interrupted()
        elif state != "fed":
            return False
        pending = await self._client.xpending(self.job.entries_key, CONSUMER_GROUP)
        held_elsewhere = int(pending["pending"]) - len(self._held) - len(self._acking)
        return held_elsewhere <= 0

    def _warn_interrupted(self) -> None:
        """Say once that the job's feed stopped short: this worker checks what was fed."""
        if not self._warned_interrupted:
            self._warned_interrupted = True
            logger.warning(
                "The feed of job %r was interrupted: checking the entries it added, then "
                "stopping; feed the list again with `scrapy feed --reset`",
                self.job.name,
            )

    def done(self, source: str, line: int, row: dict[str, Any] | None = None) -> None:
        """The row of entry ``(source, line)`` is written: acknowledge it (in the background)."""
        message_id = self._held.pop((source, line), None)
        if message_id is None:
            return
        self._to_ack.append((message_id, json.dumps(row) if self.job.rows and row else None))
        self._acking.add(message_id)
        self._ack_wanted.set()

    async def _acknowledge(self) -> None:
        """Acknowledge written rows in batches until closing, then once more, and return."""
        while not self._closing:
            await self._ack_wanted.wait()
            if not self._closing:
                await asyncio.sleep(ACK_DELAY)  # gather the rows written meanwhile
            self._ack_wanted.clear()
            await self._flush_acks()
        await self._flush_acks()

    async def _flush_acks(self) -> None:
        if self.failure is not None:  # Redis is gone: those entries go to other workers
            return
        batch, self._to_ack = self._to_ack, []
        if not batch:
            return
        try:
            if self.job.rows:
                await self._ack_adding_rows(
                    keys=[self.job.entries_key, self.job.rows_key],
                    args=[CONSUMER_GROUP, *(v for m, row in batch for v in (m, row or ""))],
                )
            else:
                await self._client.xack(
                    self.job.entries_key, CONSUMER_GROUP, *(m for m, _ in batch)
                )
        except redis.RedisError as e:
            self._fail(e)
            return
        finally:
            self._acking.difference_update(m for m, _ in batch)
        self._stats.inc_value(f"{STATS_PREFIX}entries_acked_count", len(batch))

    async def _heartbeat(self) -> None:
        lease_ms = int(self.job.lease * 1000)
        while True:
            await asyncio.sleep(self.job.lease / 3)
            held = list(self._held.values())
            try:
                for start in range(0, len(held), 1000):
                    await self._client.xclaim(
                        self.job.entries_key,
                        CONSUMER_GROUP,
                        self.consumer,
                        0,
                        cast("list[Any]", held[start : start + 1000]),
                        justid=True,
                    )
            except redis.RedisError as e:
                self._fail(e)
                return
            if held:
                logger.debug("Renewed %d leases (%d ms)", len(held), lease_ms)

    def _fail(self, error: redis.RedisError) -> None:
        """Remember the first failure; log it unless :meth:`entries` will raise it to its caller."""
        if self.failure is None:
            self.failure = self._unavailable(error)
            if not self._iterating:
                self._tell_failure()

    def _tell_failure(self) -> None:
        if self.failure is not None and not self._failure_told:
            self._failure_told = True
            logger.error("%s", self.failure)

    async def close(self) -> None:
        """Acknowledge what is written, stop the tasks and leave the group.

        Bounded by ``CLOSE_TIMEOUT``: a worker never hangs on its way out (what it did not
        acknowledge goes to the other workers after the lease).
        """
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._close()
        except TimeoutError:
            logger.warning(
                "Leaving Redis took over %s s; %d rows were not acknowledged",
                CLOSE_TIMEOUT,
                len(self._acking),
            )
        self._tell_failure()  # a failure no caller of entries() was told of

    async def _close(self) -> None:
        # The heartbeat only sleeps between renewals: cancel it. The acknowledgements are let
        # finish (never cancelled in the middle of a Redis command), then flushed once more.
        self._closing = True
        self._ack_wanted.set()
        for task in self._tasks:
            if task.get_name() == HEARTBEAT_TASK:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.failure is None and not self._tasks:  # never opened: nothing acknowledged yet
            await self._flush_acks()
        if self.failure is None:
            try:
                await self._leave_group()
            except redis.RedisError as e:
                logger.debug("Could not leave the consumer group: %s", e)
        await self._client.aclose()

    async def _leave_group(self) -> None:
        """Delete this worker's consumer, unless Redis still lists entries under its name.

        Deleting a consumer drops its pending entries, and Redis may hold some this worker
        never saw (a read whose reply was lost): those stay, for the others to take over.
        """
        pending = await self._client.xpending_range(
            self.job.entries_key,
            CONSUMER_GROUP,
            min="-",
            max="+",
            count=1,
            consumername=self.consumer,
        )
        if pending:
            logger.info(
                "Leaving entries pending under %s: other workers take them over after %g s",
                self.consumer,
                self.job.lease,
            )
            return
        await self._client.xgroup_delconsumer(self.job.entries_key, CONSUMER_GROUP, self.consumer)
