"""The frontier of a site crawl: the links found and not yet requested, on disk.

A site's links are found far faster than they are checked; waiting as requests in Scrapy's
scheduler, each would hold a ``Request`` in memory until its turn. They wait here instead, in
a private temporary SQLite table (:mod:`crawler.scratch`: its page cache capped, its file
deleted by SQLite itself), and the spider takes them breadth first (by depth, then in the
order they were found) only as the engine has room. See ``docs/site.md``, "Memory".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.scratch import scratch_database

if TYPE_CHECKING:
    import sqlite3

BUFFER_SIZE = 1000
"""Links (and counts, and fragments) kept in memory before they are written to the table."""
BATCH = 100
"""Links taken from the table at once."""
CACHE_KIB = 1024
"""SQLite page cache of the table, in KiB."""
MAX_FRAGMENTS = 256
"""Fragments of a queued page kept, with the first place linking to each."""

_SIGN = 1 << 63  # SQLite integers are signed


@dataclass(slots=True)
class Queued:
    """A link waiting for its request."""

    fingerprint: int
    url: str
    source: str
    """The page it was first found on (redacted), the sitemap, or the seed's input."""
    line: int
    depth: int
    seed: bool
    """A seed: found on no page (its ``source`` is its input)."""
    nofollow: bool
    count: int = 1
    """Places it was found at so far."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """The first place linking to ``fragment`` of a queued page."""

    fragment: str
    url: str
    source: str
    line: int
    depth: int


class Frontier:
    """The links found and not yet requested, breadth first, in a temporary SQLite table."""

    def __init__(
        self, buffer_size: int = BUFFER_SIZE, batch: int = BATCH, cache_kib: int = CACHE_KIB
    ) -> None:
        self._buffer_size = buffer_size
        self._batch = batch
        self._cache_kib = cache_kib
        self._pushed: list[tuple[int, int, str, str, int, int, int, int]] = []
        self._counts: Counter[int] = Counter()
        self._fragments: dict[int, dict[str, Waiting]] = {}
        """Fragment waits not written yet, by link and fragment (the first place wins)."""
        self._buffered_fragments = 0
        self._stored_fragments = False
        self._taken: dict[int, Queued] = {}
        """The batch taken from the table, in order: a link found again there is counted here."""
        self._db: sqlite3.Connection | None = None
        self._length = 0

    def __len__(self) -> int:
        """Links waiting."""
        return self._length

    def push(self, link: Queued) -> None:
        """Queue ``link`` (seen for the first time)."""
        self._pushed.append(
            (
                link.depth,
                link.fingerprint - _SIGN,
                link.url,
                link.source,
                link.line,
                int(link.seed),
                int(link.nofollow),
                link.count,
            )
        )
        self._length += 1
        if len(self._pushed) >= self._buffer_size:
            self._flush()

    def found_again(self, fingerprint: int) -> None:
        """Count another place of the link ``fingerprint`` if it is waiting (nothing
        otherwise)."""
        if (taken := self._taken.get(fingerprint)) is not None:
            taken.count += 1
            return
        self._counts[fingerprint - _SIGN] += 1
        if len(self._counts) >= self._buffer_size:
            self._flush()

    def wait_for(self, fingerprint: int, place: Waiting) -> None:
        """Keep the first ``place`` linking to ``place.fragment`` of the page ``fingerprint``,
        for when it is parsed (kept until then, or forever for a link never parsed)."""
        buffered = self._fragments.setdefault(fingerprint, {})
        if place.fragment not in buffered:
            buffered[place.fragment] = place
            self._buffered_fragments += 1
            if self._buffered_fragments >= self._buffer_size:
                self._flush()

    def waiting(self, fingerprint: int) -> list[Waiting]:
        """The fragments of the page ``fingerprint`` linked to so far, with the first place
        linking to each (forgotten here)."""
        found: dict[str, Waiting] = {}
        if self._stored_fragments and self._db is not None:
            key = fingerprint - _SIGN
            with self._db:
                stored = self._db.execute(
                    "SELECT fragment, url, source, line, depth FROM fragments WHERE fp = ? "
                    "ORDER BY rowid LIMIT ?",
                    (key, MAX_FRAGMENTS),
                ).fetchall()
                if stored:
                    self._db.execute("DELETE FROM fragments WHERE fp = ?", (key,))
            found = {values[0]: Waiting(*values) for values in stored}
        if buffered := self._fragments.pop(fingerprint, None):
            self._buffered_fragments -= len(buffered)
            for fragment, place in buffered.items():
                found.setdefault(fragment, place)
        return list(found.values())[:MAX_FRAGMENTS]

    def pop(self) -> Queued | None:
        """The next link, breadth first, or ``None`` when none is waiting."""
        if not self._taken:
            if not self._length:
                return None
            self._take()
        fingerprint = next(iter(self._taken))
        self._length -= 1
        return self._taken.pop(fingerprint)

    def close(self) -> None:
        """Delete the temporary table."""
        if self._db is not None:
            self._db.close()
        self._db = None
        self._pushed, self._fragments, self._taken = [], {}, {}
        self._buffered_fragments = 0
        self._stored_fragments = False
        self._counts.clear()
        self._length = 0

    def _take(self) -> None:
        db = self._flush()
        with db:
            rows = db.execute(
                "SELECT rowid, fp, url, source, line, depth, seed, nofollow, count FROM links "
                "ORDER BY depth, rowid LIMIT ?",
                (self._batch,),
            ).fetchall()
            db.executemany("DELETE FROM links WHERE rowid = ?", [(row[0],) for row in rows])
        for _, key, url, source, line, depth, seed, nofollow, count in rows:
            fingerprint = key + _SIGN
            self._taken[fingerprint] = Queued(
                fingerprint, url, source, line, depth, bool(seed), bool(nofollow), count
            )

    def _flush(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        if self._pushed or self._counts or self._fragments:
            with self._db:
                self._db.executemany(
                    "INSERT INTO links (depth, fp, url, source, line, seed, nofollow, count) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    self._pushed,
                )
                self._db.executemany(
                    "UPDATE links SET count = count + ? WHERE fp = ?",
                    [(count, key) for key, count in self._counts.items()],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO fragments VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (key - _SIGN, w.fragment, w.url, w.source, w.line, w.depth)
                        for key, waits in self._fragments.items()
                        for w in waits.values()
                    ],
                )
            self._stored_fragments = self._stored_fragments or bool(self._fragments)
            self._pushed, self._fragments, self._buffered_fragments = [], {}, 0
            self._counts.clear()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = scratch_database(self._cache_kib)
        db.execute(
            "CREATE TABLE links (depth INTEGER, fp INTEGER, url TEXT, source TEXT, "
            "line INTEGER, seed INTEGER, nofollow INTEGER, count INTEGER)"
        )
        db.execute("CREATE INDEX links_by_depth ON links (depth)")
        db.execute("CREATE INDEX links_by_fp ON links (fp)")
        db.execute(
            "CREATE TABLE fragments (fp INTEGER, fragment TEXT, url TEXT, source TEXT, "
            "line INTEGER, depth INTEGER, PRIMARY KEY (fp, fragment))"
        )
        return db
