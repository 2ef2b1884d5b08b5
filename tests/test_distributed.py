"""Workers sharing one list through a real Redis: feeding, leases, take-over, merge, faults."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest
import redis
from scrapy.utils.test import get_crawler

from crawler.checker.spider import UrlCheckSpider
from crawler.scale.redis.config import CONSUMER_GROUP, RedisJob
from crawler.scale.redis.feed import feed
from crawler.scale.redis.worker import LeasedEntry, WorkQueue
from crawler.sources import UrlEntry
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import read_rows, urls_crawler
from tests._scrapy import run_scrapy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from scrapy.crawler import Crawler

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def feed_lines(url: str, lines: list[str], *, job: str = "urls") -> RedisJob:
    """Feed ``lines`` (as lines of ``list.txt``) into ``job``."""
    redis_job = RedisJob.checked(url=url, name=job)
    entries = [UrlEntry(url=line, source="list.txt", line=n) for n, line in enumerate(lines, 1)]
    with client_for(url) as client:
        feed(client, redis_job, entries, ["list.txt"])
    return redis_job


CRAWL_DEADLINE = 60
"""Seconds an in-process worker may take: a hang fails its test, not the reactor of the rest."""


async def crawl_within_deadline(crawler: Crawler) -> None:
    """Run the crawl; past ``CRAWL_DEADLINE``, fail with where every asyncio task waits."""
    crawl = asyncio.ensure_future(crawler.crawl_async())
    done, _ = await asyncio.wait({crawl}, timeout=CRAWL_DEADLINE)
    if crawl in done:
        crawl.result()
        return
    stacks = "\n".join(
        f"{task.get_name()}: "
        + " <- ".join(
            f"{frame.f_code.co_name}:{frame.f_lineno}" for frame in task.get_stack(limit=8)
        )
        for task in asyncio.all_tasks()
    )
    crawl.cancel()
    pytest.fail(f"the crawl ran over {CRAWL_DEADLINE} s; asyncio tasks:\n{stacks}")


async def run_worker(url: str, out: Path, **settings: Any) -> Crawler:
    crawler = urls_crawler(out, CRAWLER_REDIS_URL=url, **settings)
    await crawl_within_deadline(crawler)
    return crawler


def test_feed_keeps_order_and_marks_later_duplicates(redis_url: str) -> None:
    job = feed_lines(redis_url, ["http://a.test/", "http://b.test/x", "http://A.test/", "oops"])
    with client_for(redis_url) as client:
        messages = client.xrange(job.entries_key)
        meta = client.hgetall(job.meta_key)
    fields = [message for _, message in messages]
    assert [f["line"] for f in fields] == ["1", "2", "3", "4"]
    assert [f.get("dup") for f in fields] == [None, None, "1", None]  # a.test == A.test
    assert float(meta.pop("fed_at")) > 0
    assert meta == {"state": "fed", "entries": "4", "duplicates": "1", "sources": "list.txt"}


def test_feed_refuses_a_job_that_exists(redis_url: str) -> None:
    job = feed_lines(redis_url, ["http://a.test/"])
    with client_for(redis_url) as client, pytest.raises(ValueError, match="--reset"):
        feed(client, job, [UrlEntry("http://b.test/", "b.txt", 1)], ["b.txt"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"url": "http://127.0.0.1:6379"}, "must start with redis://"),
        ({"url": "redis://h", "name": "a b"}, "CRAWLER_REDIS_JOB"),
        ({"url": "redis://h", "lease": 0.5}, "CRAWLER_REDIS_LEASE must be >= 1"),
        ({"url": "redis://h", "batch": 0}, "CRAWLER_REDIS_BATCH"),
        ({"url": "redis://h", "max_deliveries": 0}, "CRAWLER_REDIS_MAX_DELIVERIES"),
    ],
)
def test_bad_settings_name_the_setting(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RedisJob.checked(**values)


def test_a_worker_takes_no_list_of_its_own() -> None:
    with pytest.raises(ValueError, match="drop urls="):
        UrlCheckSpider.check_arguments(urls="links.txt", redis="redis://127.0.0.1:6379/0")


@coroutine_test
async def test_one_worker_checks_the_job_and_acknowledges_every_row(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    lines = [f"{site}/ok", f"{site}/status/404", f"{site}/ok", "not a url", f"{site}/redirect/1"]
    job = feed_lines(redis_url, lines)
    out = tmp_path / "worker.jsonl"
    crawler = await run_worker(redis_url, out, CRAWLER_REDIS_ROWS=True)

    rows = {row["line"]: row for row in read_rows(out)}
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert [rows[n]["outcome"] for n in range(1, 6)] == [
        "ok", "http_error", "duplicate", "invalid_url", "ok",
    ]  # fmt: skip
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert stats["crawler/redis/entries_acked_count"] == 5
    with client_for(redis_url) as client:
        assert client.xpending(job.entries_key, CONSUMER_GROUP)["pending"] == 0
        streamed = [json.loads(f["row"]) for _, f in client.xrange(job.rows_key)]
    assert sorted(row["line"] for row in streamed) == [1, 2, 3, 4, 5]
    assert {row["line"]: row["status"] for row in streamed}[2] == 404


@coroutine_test
async def test_leases_of_a_dead_worker_are_taken_over(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    job = feed_lines(redis_url, [f"{site}/ok?i={i}" for i in range(20)])
    with client_for(redis_url) as client:  # a worker that takes 5 entries and dies
        taken = client.xreadgroup(CONSUMER_GROUP, "dead", {job.entries_key: ">"}, count=5)
    assert len(taken[0][1]) == 5

    out = tmp_path / "survivor.jsonl"
    crawler = await run_worker(redis_url, out, CRAWLER_REDIS_LEASE=1)

    assert sorted(row["line"] for row in read_rows(out)) == list(range(1, 21))
    assert {row["outcome"] for row in read_rows(out)} == {"ok"}
    assert crawler.stats.get_value("crawler/redis/entries_taken_over_count") == 5
    with client_for(redis_url) as client:
        assert client.xpending(job.entries_key, CONSUMER_GROUP)["pending"] == 0


@coroutine_test
async def test_an_entry_that_outlives_its_workers_is_abandoned(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    job = feed_lines(redis_url, [f"{site}/ok?poison", f"{site}/ok?fine"])
    with client_for(redis_url) as client:
        taken = client.xreadgroup(CONSUMER_GROUP, "dead-1", {job.entries_key: ">"}, count=1)
        poison = taken[0][1][0][0]
        for dead in ("dead-2", "dead-3"):  # two more workers take it over and die
            client.xclaim(job.entries_key, CONSUMER_GROUP, dead, 0, [poison])

    out = tmp_path / "survivor.jsonl"
    crawler = await run_worker(redis_url, out, CRAWLER_REDIS_LEASE=1)

    rows = {row["line"]: row for row in read_rows(out)}
    assert rows[1]["outcome"] == "abandoned"
    assert "3 workers" in rows[1]["error"]
    assert rows[1]["ok"] is False
    assert rows[2]["outcome"] == "ok"
    assert crawler.stats.get_value("crawler/rows_not_ok_count") == 1


@coroutine_test
async def test_a_worker_waits_while_the_list_is_still_being_fed(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    job = RedisJob.checked(url=redis_url)
    release = threading.Event()
    lines = [f"{site}/ok?i={i}" for i in range(30)]

    def entries() -> Any:
        yield from (UrlEntry(url, "list.txt", n) for n, url in enumerate(lines[:10], 1))
        release.wait(30)  # the feeder stalls until the worker has checked the first ten
        yield from (UrlEntry(url, "list.txt", n) for n, url in enumerate(lines[10:], 11))

    def feeder() -> None:
        with client_for(redis_url) as client:
            feed(client, job, entries(), ["list.txt"], batch_size=10)

    out = tmp_path / "worker.jsonl"
    crawler = urls_crawler(out, CRAWLER_REDIS_URL=redis_url, CRAWLER_REDIS_BATCH=10)
    seen: list[int] = []

    def row_written(item: Any) -> None:
        seen.append(item.line)
        if len(seen) == 10:
            release.set()

    from scrapy import signals

    crawler.signals.connect(row_written, signal=signals.item_scraped)
    thread = threading.Thread(target=feeder)
    thread.start()
    await crawl_within_deadline(crawler)
    thread.join(30)
    assert release.is_set()  # the worker checked the first ten while the feed was stalled
    assert sorted(row["line"] for row in read_rows(out)) == list(range(1, 31))


@coroutine_test
async def test_entries_whose_delivery_was_lost_on_the_way_come_back(redis_url: str) -> None:
    feed_lines(redis_url, [f"http://127.0.0.1/{n}" for n in range(10)])
    job = RedisJob.checked(url=redis_url, lease=1, batch=4)
    stats = get_crawler().stats
    assert stats is not None
    queue = WorkQueue(job, stats)
    await queue.open()
    with client_for(redis_url) as client:
        # Redis hands four entries to this worker, but the reply never reaches it (the
        # connection broke and the client retried the read): they are pending under its name.
        client.xreadgroup(CONSUMER_GROUP, queue.consumer, {job.entries_key: ">"}, count=4)

    async def take_all() -> list[int]:
        lines = []
        async for leased in queue.entries():
            lines.append(leased.entry.line)
            queue.done(leased.entry.source, leased.entry.line)
        return lines

    try:
        lines = await asyncio.wait_for(take_all(), CRAWL_DEADLINE)
    finally:
        await queue.close()
    assert sorted(lines) == list(range(1, 11))
    with client_for(redis_url) as client:
        assert client.xpending(job.entries_key, CONSUMER_GROUP)["pending"] == 0
    assert stats.get_value("crawler/redis/entries_taken_over_count") == 4


async def opened_queue(job: RedisJob) -> WorkQueue:
    """A work queue of ``job``, open, with the stats of a throwaway crawler."""
    stats = get_crawler().stats
    assert stats is not None
    queue = WorkQueue(job, stats)
    await queue.open()
    return queue


def lose_a_read(url: str, queue: WorkQueue, count: int) -> list[str]:
    """Deliver ``count`` entries to ``queue``'s consumer as a read whose reply was lost."""
    with client_for(url) as client:
        response = client.xreadgroup(
            CONSUMER_GROUP, queue.consumer, {queue.job.entries_key: ">"}, count=count
        )
    return [message_id for message_id, _ in response[0][1]]


async def check_all(queue: WorkQueue) -> list[LeasedEntry]:
    """Take every entry of ``queue``'s job, acknowledging each as if its row were written."""
    taken = []
    async for leased in queue.entries():
        taken.append(leased)
        queue.done(leased.entry.source, leased.entry.line)
    return taken


@coroutine_test
async def test_a_stopping_worker_leaves_entries_it_never_saw_to_the_others(
    redis_url: str,
) -> None:
    feed_lines(redis_url, [f"http://127.0.0.1/{n}" for n in range(5)])
    queue = await opened_queue(RedisJob.checked(url=redis_url))
    lost = lose_a_read(redis_url, queue, 3)
    await queue.close()  # as on Ctrl-C: it holds nothing, but Redis lists three under its name

    with client_for(redis_url) as client:
        pending = client.xpending_range(queue.job.entries_key, CONSUMER_GROUP, "-", "+", 10)
    assert [p["message_id"] for p in pending] == lost
    assert {p["consumer"] for p in pending} == {queue.consumer}


@coroutine_test
async def test_a_stopping_worker_with_nothing_pending_leaves_the_group(redis_url: str) -> None:
    job = feed_lines(redis_url, ["http://127.0.0.1/1"])
    queue = await opened_queue(job)
    try:
        await asyncio.wait_for(check_all(queue), CRAWL_DEADLINE)
    finally:
        await queue.close()

    with client_for(redis_url) as client:
        assert client.xinfo_consumers(job.entries_key, CONSUMER_GROUP) == []


@coroutine_test
async def test_a_lost_delivery_does_not_count_as_a_dead_worker(redis_url: str) -> None:
    feed_lines(redis_url, [f"http://127.0.0.1/{n}" for n in range(3)])
    queue = await opened_queue(RedisJob.checked(url=redis_url, lease=1, max_deliveries=1))
    lose_a_read(redis_url, queue, 3)

    try:
        taken = await asyncio.wait_for(check_all(queue), CRAWL_DEADLINE)
    finally:
        await queue.close()
    assert sorted(leased.entry.line for leased in taken) == [1, 2, 3]
    assert [leased.abandoned_after for leased in taken] == [0, 0, 0]


class FeedBroke(Exception):
    """The list a test feeds fails to read half-way."""


def feed_interrupted(url: str, lines: list[str]) -> RedisJob:
    """Feed ``lines`` (one per batch) into job ``urls``, failing after the last of them."""
    job = RedisJob.checked(url=url)

    def entries() -> Iterator[UrlEntry]:
        yield from (UrlEntry(line, "list.txt", n) for n, line in enumerate(lines, 1))
        raise FeedBroke

    with client_for(url) as client, pytest.raises(FeedBroke):
        feed(client, job, entries(), ["list.txt"], batch_size=1)
    return job


def test_a_feed_that_stops_short_marks_the_job_interrupted(redis_url: str) -> None:
    job = feed_interrupted(redis_url, ["http://a.test/", "http://b.test/"])
    with client_for(redis_url) as client:
        assert client.hget(job.meta_key, "state") == "interrupted"
        assert client.xlen(job.entries_key) == 2
        with pytest.raises(ValueError, match=r"interrupted .*`scrapy feed --reset`"):
            feed(client, job, [UrlEntry("http://c.test/", "list.txt", 1)], ["list.txt"])


@coroutine_test
async def test_workers_check_what_an_interrupted_feed_added_then_stop(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    job = feed_interrupted(redis_url, [f"http://127.0.0.1/{n}" for n in range(3)])
    queue = await opened_queue(job)
    try:
        taken = await asyncio.wait_for(check_all(queue), CRAWL_DEADLINE)
    finally:
        await queue.close()
    assert sorted(leased.entry.line for leased in taken) == [1, 2, 3]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "interrupted" in warnings[0]


def test_merge_reports_an_interrupted_feed(site: str, redis_url: str, tmp_path: Path) -> None:
    feed_interrupted(redis_url, [f"{site}/ok"])
    part = tmp_path / "part.jsonl"
    part.write_text(json.dumps({"url": f"{site}/ok", "source": "list.txt", "line": 1}) + "\n")
    result = run_scrapy("merge", "--redis", redis_url, "-O", str(tmp_path / "m.jsonl"), str(part))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "interrupted" in result.stderr
    assert "`scrapy feed --reset`" in result.stderr


@coroutine_test
async def test_an_acknowledgement_sent_again_adds_no_second_row(redis_url: str) -> None:
    feed_lines(redis_url, ["http://127.0.0.1/1", "http://127.0.0.1/2"])
    queue = await opened_queue(RedisJob.checked(url=redis_url, rows=True))
    try:
        async for leased in queue.entries():
            row = {"line": leased.entry.line}
            queue.done(leased.entry.source, leased.entry.line, row)
            if leased.entry.line == 2:
                break
        batch = list(queue._to_ack)
        await queue._flush_acks()
        # The client retries a command whose reply was lost: the same acknowledgements again.
        queue._to_ack = batch
        await queue._flush_acks()
    finally:
        await queue.close()
    with client_for(redis_url) as client:
        rows = [json.loads(fields["row"]) for _, fields in client.xrange(queue.job.rows_key)]
        assert client.xpending(queue.job.entries_key, CONSUMER_GROUP)["pending"] == 0
    assert rows == [{"line": 1}, {"line": 2}]


def test_merge_drops_rows_of_no_entry_of_the_job(site: str, redis_url: str, tmp_path: Path) -> None:
    feed_lines(redis_url, [f"{site}/ok?new=1", f"{site}/ok?new=2"])

    def row(line: int, url: str) -> str:
        return json.dumps({"url": url, "source": "list.txt", "line": line, "outcome": "ok"})

    old_part, part = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    # A part of an earlier job (before feed --reset): same (source, line), other URLs, one more.
    old_part.write_text(f"{row(1, f'{site}/ok?old=1')}\n{row(3, f'{site}/ok?old=3')}\n")
    part.write_text(f"{row(1, f'{site}/ok?new=1')}\n{row(2, f'{site}/ok?new=2')}\n")
    merged = tmp_path / "merged.jsonl"
    result = run_scrapy("merge", "--redis", redis_url, "-O", str(merged), str(old_part), str(part))
    assert result.returncode == 0, result.stderr
    assert "2 rows of no entry of the job dropped" in result.stdout
    assert "0 duplicate rows dropped" in result.stdout
    assert [(r["line"], r["url"]) for r in read_rows(merged)] == [
        (1, f"{site}/ok?new=1"),
        (2, f"{site}/ok?new=2"),
    ]


@coroutine_test
async def test_a_worker_whose_output_fails_acknowledges_only_rows_on_disk(
    site: str, redis_url: str, tmp_path: Path
) -> None:
    job = feed_lines(redis_url, ["http://bücher.invalid/", *(f"{site}/ok?i={i}" for i in range(5))])
    out = tmp_path / "worker.csv"  # the first URL's row cannot be written in ASCII
    crawler = await run_worker(redis_url, out, FEED_EXPORT_ENCODING="ascii")

    assert crawler.stats.get_value("finish_reason") == "export_failed"
    written = {int(row["line"]) for row in read_rows(out)}
    assert 1 not in written
    assert crawler.stats.get_value("crawler/redis/entries_acked_count", 0) == len(written)
    with client_for(redis_url) as client:
        pending = client.xpending_range(job.entries_key, CONSUMER_GROUP, "-", "+", 100)
        lines = {
            int(client.xrange(job.entries_key, p["message_id"], p["message_id"])[0][1]["line"])
            for p in pending
        }
    assert 1 in lines  # left for another worker
    assert not lines & written
