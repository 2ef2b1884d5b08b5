"""The result cache (``CRAWLER_CACHE``): rows of accepted URLs, reused by later runs.

One SQLite table keyed by the canonical URL (w3lib's ``canonicalize_url``) holds each ``ok``
row as JSON with its status and the time it was checked; URLs with credentials or secret query
parameters (:class:`~crawler.redact.Redactor`) are never stored. A row checked without
``CRAWLER_EXCLUDE_PRIVATE`` is not served to a run with it. A rerun within
``CRAWLER_CACHE_MAX_AGE`` serves those rows again (marked ``cached``) instead of requesting
the URLs; failures and new URLs are checked. The spider reads through :class:`CacheReader`
and :class:`CachePipeline` writes, each with its own connection: SQLite in WAL mode with a
busy timeout lets several runs share one cache file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.checker.fragments import checked_fragment
from crawler.checker.outcomes import Outcome
from crawler.items import FIELDS, UrlResult
from crawler.names import SETTINGS
from crawler.redact import DEFAULT, Redactor
from crawler.urls import canonical_url

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

    from crawler.checker.accept import StatusRanges
    from crawler.sources import UrlEntry

logger = logging.getLogger(__name__)

CACHE_HITS_STAT = "crawler/cache/hits_count"
CACHE_MISSES_STAT = "crawler/cache/misses_count"
CACHE_STORED_STAT = "crawler/cache/stored_count"
CACHE_PRUNED_STAT = "crawler/cache/pruned_count"
CACHE_ERRORS_STAT = "crawler/cache/errors_count"

SQLITE_HEADER = b"SQLite format 3\x00"
APPLICATION_ID = 0x55524C43  # "URLC": marks a file as our cache
BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another run's write to finish."""
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS results ("
    " url TEXT PRIMARY KEY,"  # canonical URL
    " status INTEGER,"
    " checked_at REAL NOT NULL,"  # UNIX time
    " row TEXT NOT NULL"  # the row as JSON
    ") WITHOUT ROWID"
)
_NOT_STORED = ("url", "source", "line", "cached")
PUBLIC_ONLY = "public_only"
"""Key, in a stored row, marking it checked with ``CRAWLER_EXCLUDE_PRIVATE``."""


class CacheError(ValueError):
    """The cache file cannot be used: not an SQLite database, another program's, unwritable."""


class _DamagedError(Exception):
    """The cache file is an SQLite database, damaged."""


_DAMAGED_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def cache_key(url: str, redactor: Redactor = DEFAULT) -> str | None:
    """The canonical form of ``url``; ``None`` for URLs with user info or a parameter
    ``redactor`` masks (never cached: the cache file would hold them)."""
    if redactor.hides(url):
        return None
    return canonical_url(url)


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """``CRAWLER_CACHE*`` settings, checked."""

    path: Path
    max_age: float
    skip_statuses: frozenset[int]
    public_only: bool = False
    """``CRAWLER_EXCLUDE_PRIVATE``: rows checked without it are not served."""
    redactor: Redactor = DEFAULT

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self | None:
        """The cache settings; ``None`` when ``CRAWLER_CACHE`` is not set."""
        path = settings.get("CRAWLER_CACHE", SETTINGS["CRAWLER_CACHE"])
        if not path:
            return None
        max_age = settings.getfloat("CRAWLER_CACHE_MAX_AGE", SETTINGS["CRAWLER_CACHE_MAX_AGE"])
        if max_age <= 0:
            raise ValueError(
                f"CRAWLER_CACHE_MAX_AGE must be > 0 seconds, got {max_age!r}; "
                "unset CRAWLER_CACHE to turn the cache off"
            )
        skip: set[int] = set()
        for value in settings.getlist(
            "CRAWLER_CACHE_SKIP_STATUSES", SETTINGS["CRAWLER_CACHE_SKIP_STATUSES"]
        ):
            try:
                skip.add(int(value))
            except (TypeError, ValueError):
                raise ValueError(
                    f"CRAWLER_CACHE_SKIP_STATUSES must list HTTP statuses, got {value!r}"
                ) from None
        return cls(
            Path(path),
            max_age,
            frozenset(skip),
            public_only=settings.getbool(
                "CRAWLER_EXCLUDE_PRIVATE", SETTINGS["CRAWLER_EXCLUDE_PRIVATE"]
            ),
            redactor=Redactor.from_settings(settings),
        )


def _one_line(reason: str, limit: int = 200) -> str:
    """SQLite's report on one line: its first problem and how many more it lists."""
    problems = [line.strip() for line in reason.splitlines() if line.strip()]
    problems = [line for line in problems if not line.startswith("***")] or problems or [reason]
    first = problems[0] if len(problems[0]) <= limit else problems[0][: limit - 1] + "…"
    return first + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")


def _reserve_aside(path: Path) -> Path:
    """A new ``<name>.corrupt-<time>[-N]`` beside ``path``, created empty: no one else's name."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for number in itertools.count(1):
        suffix = f"-{number}" if number > 1 else ""
        aside = path.with_name(f"{path.name}.corrupt-{stamp}{suffix}")
        try:
            with aside.open("x"):
                return aside
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def _move_aside(path: Path, reason: str) -> None:
    aside = _reserve_aside(path)
    try:
        os.replace(path, aside)
    except FileNotFoundError:  # another run has moved it already
        aside.unlink()
        return
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    logger.warning(
        "Result cache %s is damaged (%s): moved it to %s, starting afresh",
        path,
        _one_line(reason),
        aside,
    )


class ResultCache:
    """One connection to the cache file; every method is safe against other runs' writes."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open (or create) the cache at ``path``.

        Raise :class:`CacheError` when ``path`` is not an SQLite file, or another program's;
        a damaged cache is moved aside (``<name>.corrupt-<time>``) with a warning and a new
        one started.
        """
        try:
            return cls._open(path)
        except _DamagedError as e:
            _move_aside(path, str(e))
        except sqlite3.Error as e:
            raise CacheError(f"CRAWLER_CACHE={str(path)!r} cannot be opened: {e}") from e
        try:
            return cls._open(path)
        except (_DamagedError, sqlite3.Error) as e:
            raise CacheError(f"CRAWLER_CACHE={str(path)!r} cannot be opened: {e}") from e

    @classmethod
    def _open(cls, path: Path) -> Self:
        try:
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.OperationalError as e:
            raise CacheError(
                f"CRAWLER_CACHE={str(path)!r} cannot be opened ({e}); "
                "check that its directory exists and is writable"
            ) from e
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if (check := connection.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                raise _DamagedError(check)
            _prepare(connection, path)
        except sqlite3.DatabaseError as e:
            connection.close()
            code = getattr(e, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_NOTADB:
                _check_header(path)  # another kind of file: refused, never moved aside
            if code in _DAMAGED_CODES:
                raise _DamagedError(str(e)) from e
            raise
        except BaseException:
            connection.close()
            raise
        return cls(connection, path)

    def get(self, key: str, *, max_age: float, now: float | None = None) -> dict[str, Any] | None:
        """The stored row of ``key`` if checked within ``max_age`` seconds, else ``None``."""
        oldest = (time.time() if now is None else now) - max_age
        found = self.connection.execute(
            "SELECT row FROM results WHERE url = ? AND checked_at >= ?", (key, oldest)
        ).fetchone()
        if found is None:
            return None
        row: dict[str, Any] = json.loads(found[0])
        return row

    def put(
        self, key: str, row: UrlResult, *, now: float | None = None, public_only: bool = False
    ) -> None:
        """Store ``row`` under ``key`` (replacing an older one); ``public_only`` when it was
        checked with ``CRAWLER_EXCLUDE_PRIVATE``."""
        data = {k: v for k, v in dataclasses.asdict(row).items() if k not in _NOT_STORED}
        if public_only:
            data[PUBLIC_ONLY] = True
        self.connection.execute(
            "INSERT OR REPLACE INTO results (url, status, checked_at, row) VALUES (?, ?, ?, ?)",
            (key, row.status, time.time() if now is None else now, json.dumps(data)),
        )

    def prune(self, max_age: float) -> int:
        """Delete rows older than ``max_age`` seconds; return how many."""
        cursor = self.connection.execute(
            "DELETE FROM results WHERE checked_at < ?", (time.time() - max_age,)
        )
        return cursor.rowcount

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def _check_header(path: Path) -> None:
    """Raise :class:`CacheError` when ``path`` is not an SQLite file.

    Read only once SQLite has found no database there: closing a file of our own on the
    database would drop the POSIX locks of every SQLite connection to it in this process (the
    reader's and the pipeline's share one), and another process could then reset the WAL
    under them and lose their rows.
    """
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as e:
        raise CacheError(f"CRAWLER_CACHE={str(path)!r} cannot be read: {e}") from e
    if header and header != SQLITE_HEADER:
        raise CacheError(
            f"CRAWLER_CACHE={str(path)!r} is not an SQLite database (is it the right path?); "
            "give another path, or delete the file"
        )


def _not_writable(path: Path, error: sqlite3.OperationalError) -> Exception:
    """The one-line error of a cache that cannot be written (a damaged one is re-raised)."""
    if getattr(error, "sqlite_errorcode", None) in _DAMAGED_CODES:
        return error
    return CacheError(
        f"CRAWLER_CACHE={str(path)!r} cannot be written ({error}); "
        "give a path you can write to, or make the file writable"
    )


def _prepare(connection: sqlite3.Connection, path: Path) -> None:
    """In one write transaction, claim the database (:func:`_claim`), create the table and
    write a row that is rolled back: two runs opening a new cache at once never both find it
    unclaimed, and a cache that cannot be written (a read-only file, directory or file system)
    fails here, with one line, rather than at the first row stored."""
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            _claim(connection, path)
            connection.execute(_SCHEMA)
            connection.execute("SAVEPOINT probe")
            connection.execute("INSERT OR REPLACE INTO results VALUES ('', 0, 0, '')")
            connection.execute("ROLLBACK TO probe")
            connection.execute("RELEASE probe")
            connection.execute("COMMIT")
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
    except sqlite3.OperationalError as e:
        raise _not_writable(path, e) from e


def _claim(connection: sqlite3.Connection, path: Path) -> None:
    """Mark a new database as ours; refuse another program's."""
    app_id = connection.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        return
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != 0 or tables:
        raise CacheError(
            f"CRAWLER_CACHE={str(path)!r} is an SQLite database of another program; "
            "give another path"
        )
    connection.execute(f"PRAGMA application_id={APPLICATION_ID}")


class CacheReader:
    """The spider's side: rows of accepted URLs checked recently enough."""

    def __init__(self, crawler: Crawler, config: CacheConfig) -> None:
        self.config = config
        self.crawler = crawler
        self.cache: ResultCache | None = ResultCache.open(config.path)
        crawler.signals.connect(self.close, signal=signals.spider_closed)

    @property
    def stats(self) -> StatsCollector:
        """The crawl's stats: the spider builds this reader before ``scrapy crawl`` sets them."""
        return self.crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self | None:
        """A reader, or ``None`` when ``CRAWLER_CACHE`` is not set."""
        config = CacheConfig.from_settings(crawler.settings)
        return cls(crawler, config) if config else None

    def row_for(self, entry: UrlEntry, accept: StatusRanges) -> UrlResult | None:
        """The cached row for ``entry`` (this entry's ``url``/``source``/``line``, ``cached``
        true, left for the pipeline to judge), or ``None`` to check it."""
        key = cache_key(entry.url, self.config.redactor)
        if self.cache is None or key is None:
            return None
        try:
            stored = self.cache.get(key, max_age=self.config.max_age)
        except sqlite3.Error as e:
            self._fail(e)
            return None
        if (
            stored is None
            or stored.get("status") not in accept
            or (self.config.public_only and stored.get(PUBLIC_ONLY) is not True)
        ):
            self.stats.inc_value(CACHE_MISSES_STAT)
            return None
        self.stats.inc_value(CACHE_HITS_STAT)
        fields = {k: v for k, v in stored.items() if k in FIELDS and k not in _NOT_STORED}
        url = self.config.redactor.url(entry.url)
        row = UrlResult(url=url, source=entry.source, line=entry.line, **fields)
        row.outcome = row.error = row.ok = None
        row.cached = True
        return row

    def _fail(self, error: sqlite3.Error) -> None:
        logger.error(
            "Result cache %s failed (%s): not used for the rest of the run", self.config.path, error
        )
        self.stats.inc_value(CACHE_ERRORS_STAT)
        self.close()

    def close(self) -> None:
        """Close the connection (on ``spider_closed``)."""
        if self.cache is not None:
            self.cache.close()
            self.cache = None


class CachePipeline:
    """Item pipeline (after ``ResultPipeline``): stores ``ok`` rows in ``CRAWLER_CACHE``.

    Not stored: rows served from the cache (their age stays), statuses in
    ``CRAWLER_CACHE_SKIP_STATUSES``, URLs with secrets (:func:`cache_key`). Stats:
    ``crawler/cache/stored_count``, ``crawler/cache/pruned_count``.
    """

    def __init__(self, crawler: Crawler, config: CacheConfig) -> None:
        self.config = config
        self.stats = crawler.stats
        self.cache: ResultCache | None = ResultCache.open(config.path)
        pruned = self.cache.prune(config.max_age)
        if pruned:
            self.stats.set_value(CACHE_PRUNED_STAT, pruned)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the pipeline; ``NotConfigured`` when ``CRAWLER_CACHE`` is not set."""
        config = CacheConfig.from_settings(crawler.settings)
        if config is None:
            raise NotConfigured
        return cls(crawler, config)

    def process_item(self, item: Any) -> Any:
        """Store an ``ok`` :class:`UrlResult` that was checked in this run."""
        if not isinstance(item, UrlResult) or self.cache is None:
            return item
        if item.outcome != Outcome.OK or not item.ok or item.cached:
            return item
        if checked_fragment(item.url) is not None:
            return item  # its page's row, told for one anchor: the page's own row is stored
        key = cache_key(item.url, self.config.redactor)
        if item.status in self.config.skip_statuses or key is None:
            return item
        try:
            self.cache.put(key, item, public_only=self.config.public_only)
        except sqlite3.Error as e:
            logger.error(
                "Result cache %s failed (%s): not written for the rest of the run",
                self.config.path,
                e,
            )
            self.stats.inc_value(CACHE_ERRORS_STAT)
            self.close_spider()
            return item
        self.stats.inc_value(CACHE_STORED_STAT)
        return item

    def close_spider(self) -> None:
        """Close the connection."""
        if self.cache is not None:
            self.cache.close()
            self.cache = None
