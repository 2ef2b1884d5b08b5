"""``scrapy feed``: load URL lists into a Redis job that ``scrapy crawl urls`` workers share."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.redact import redact
from crawler.scale.redis.config import RedisJob, RedisUnavailableError
from crawler.sources import open_sources

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from types import FrameType


def job_from_options(command: ScrapyCommand, opts: argparse.Namespace) -> RedisJob:
    """The job named by ``--redis``/``--job`` or the ``CRAWLER_REDIS_*`` settings."""
    assert command.settings is not None
    job = RedisJob.from_settings(command.settings, url=opts.redis, name=opts.job)
    if job is None:
        raise ValueError(
            "no Redis server: pass --redis redis://HOST:PORT/DB or set CRAWLER_REDIS_URL"
        )
    return job


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """``--redis`` and ``--job``, shared by the commands that address a job."""
    parser.add_argument("--redis", metavar="URL", help="Redis server (default: CRAWLER_REDIS_URL)")
    parser.add_argument("--job", metavar="NAME", help="job name (default: CRAWLER_REDIS_JOB, urls)")


@contextmanager
def redis_failures(job: RedisJob, doing: str) -> Iterator[None]:
    """Raise a Redis error met while ``doing`` as :class:`RedisUnavailableError` (one line)."""
    import redis

    try:
        yield
    except redis.RedisError as e:
        raise RedisUnavailableError(
            f"Redis at {redact(job.url)} failed while {doing} job {job.name!r}: {e}"
        ) from e


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interruptible() -> None:
    """Make SIGINT and SIGTERM raise ``KeyboardInterrupt``, as ``scrapy crawl`` stops on both.

    Set explicitly: a process started with SIGINT ignored (a background job of a script, some
    CI runners) inherits that, and Python then leaves it ignored.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)


def fail(command: ScrapyCommand, message: str) -> None:
    """Print a one-line error and set the exit status to 1."""
    print(f"error: {message}", file=sys.stderr)
    command.exitcode = 1


class Command(ScrapyCommand):
    """Feed URL lists (any format ``urls`` reads) into a Redis job, in order."""

    requires_project = True
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--redis URL] [--job NAME] [--reset] FILE [FILE ...]"

    def short_desc(self) -> str:
        return "Load URL lists into Redis for `scrapy crawl urls -a redis=URL` workers"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        add_job_options(parser)
        parser.add_argument(
            "--reset", action="store_true", help="delete the job's entries and rows first"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name the URL lists to feed (- for standard input)")
        interruptible()
        try:
            job = job_from_options(self, opts)
            self._feed(job, args, reset=opts.reset)
        except (ValueError, RedisUnavailableError) as e:  # UrlSourceError is a ValueError
            fail(self, str(e))
        except KeyboardInterrupt:
            fail(self, "feed interrupted (Ctrl-C); feed the list again with `scrapy feed --reset`")

    def _feed(self, job: RedisJob, names: list[str], *, reset: bool) -> None:
        from crawler.scale.redis.feed import connect, feed, reset_job

        client = connect(job)
        try:
            with redis_failures(job, "feeding"):
                if reset:
                    reset_job(client, job)
                with open_sources(",".join(names)) as sources:
                    result = feed(client, job, sources, sources.names)
        finally:
            client.close()
        print(
            f"Fed {result.entries} entries ({result.duplicates} duplicates) into job "
            f"{job.name!r} at {redact(job.url)} in {result.seconds:.1f} s"
        )
