"""A private temporary SQLite database, for what a crawl must keep but not hold in memory
(duplicate fingerprints, a site's link places): SQLite deletes its file itself, even after a
kill, and its page cache is capped."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3


def scratch_database(cache_kib: int) -> sqlite3.Connection:
    """A new private database: no journal, no syncing, one connection, ``cache_kib`` of cache."""
    import sqlite3  # only crawls that outgrow their memory buffers need it

    db = sqlite3.connect("")  # "": a private temporary database
    for pragma in (
        "journal_mode = OFF",
        "synchronous = OFF",
        "locking_mode = EXCLUSIVE",
        f"cache_size = -{cache_kib}",
    ):
        db.execute(f"PRAGMA {pragma}")
    return db
