"""64-bit URL fingerprints (:func:`url_fingerprint`) and a set of them in bounded memory, for
duplicate detection.

Recent fingerprints sit in a small ``set``; when it fills, they are written (sorted, in one
transaction) to a private temporary SQLite database: its page cache is capped, the rest of the
table lives in a file that SQLite deletes itself (unlinked as soon as it is created, so not
even a killed run leaves it behind). A fixed-size Bloom filter in front of the table answers
most lookups of new URLs without asking SQLite. Memory stays flat whatever the number of URLs
(``docs/benchmarks.md``); a list with no more URLs than the buffer never opens SQLite at all.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING

from crawler.scratch import scratch_database
from crawler.urls import canonical_url

if TYPE_CHECKING:
    import sqlite3

BUFFER_SIZE = 4096
"""Fingerprints kept in memory before they are written to the table."""
BLOOM_BITS = 1 << 22
"""Size of the Bloom filter (512 KiB): below 1 % false positives up to 300,000 URLs, 13 % at a
million (each false positive costs one SQLite lookup, a few µs)."""
CACHE_KIB = 512
"""SQLite page cache of the table, in KiB."""


# The last result is kept: a worker's shard check and its duplicate check ask for the same URL
# one after the other, and canonicalising is the dearest step of reading an entry.
@functools.lru_cache(maxsize=1)
def url_fingerprint(url: str) -> int:
    """A 64-bit fingerprint of ``url``'s canonical form (equal for duplicate URLs)."""
    digest = hashlib.blake2b(canonical_url(url).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


_SIGN = 1 << 63  # SQLite integers are signed: fingerprints are shifted into its range
_MAX = 1 << 64


class _BloomFilter:
    """Three bit positions per fingerprint, taken from its (already random) bits."""

    __slots__ = ("_bits", "_mask")

    def __init__(self, bits: int) -> None:
        if bits < 8 or bits & (bits - 1):
            raise ValueError(f"Bloom filter size must be a power of two >= 8, got {bits}")
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1

    def add(self, fingerprint: int) -> None:
        bits, mask = self._bits, self._mask
        index = fingerprint & mask
        bits[index >> 3] |= 1 << (index & 7)
        index = (fingerprint >> 21) & mask
        bits[index >> 3] |= 1 << (index & 7)
        index = (fingerprint >> 42) & mask
        bits[index >> 3] |= 1 << (index & 7)

    def __contains__(self, fingerprint: int) -> bool:
        bits, mask = self._bits, self._mask
        index = fingerprint & mask
        if not bits[index >> 3] & (1 << (index & 7)):
            return False
        index = (fingerprint >> 21) & mask
        if not bits[index >> 3] & (1 << (index & 7)):
            return False
        index = (fingerprint >> 42) & mask
        return bool(bits[index >> 3] & (1 << (index & 7)))


class FingerprintSet:
    """Membership and insertion of unsigned 64-bit integers, in bounded memory.

    :meth:`close` deletes the temporary table (the spider calls it when it closes); the set
    is empty afterwards and can be used again.
    """

    def __init__(
        self,
        buffer_size: int = BUFFER_SIZE,
        *,
        bloom_bits: int = BLOOM_BITS,
        cache_kib: int = CACHE_KIB,
    ) -> None:
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
        _BloomFilter(bloom_bits)  # checks the size now, not at the first spill
        self._buffer_size = buffer_size
        self._bloom_bits = bloom_bits
        self._cache_kib = cache_kib
        self._recent: set[int] = set()
        self._bloom: _BloomFilter | None = None
        self._db: sqlite3.Connection | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, fingerprint: object) -> bool:
        if fingerprint in self._recent:
            return True
        if self._db is None or self._bloom is None or not isinstance(fingerprint, int):
            return False
        if not 0 <= fingerprint < _MAX or fingerprint not in self._bloom:
            return False
        found = self._db.execute("SELECT 1 FROM seen WHERE fp = ?", (fingerprint - _SIGN,))
        return found.fetchone() is not None

    def add(self, fingerprint: int) -> None:
        """Add a ``fingerprint`` that is not in the set yet (callers test membership first)."""
        if not 0 <= fingerprint < _MAX:
            raise ValueError(f"a fingerprint is an unsigned 64-bit integer, got {fingerprint}")
        self._recent.add(fingerprint)
        self._count += 1
        if len(self._recent) >= self._buffer_size:
            self._spill()

    def close(self) -> None:
        """Delete the temporary table and forget every fingerprint."""
        if self._db is not None:
            self._db.close()
        self._db = None
        self._bloom = None
        self._recent = set()
        self._count = 0

    def _spill(self) -> None:
        if self._db is None or self._bloom is None:
            self._db = self._open()
            self._bloom = _BloomFilter(self._bloom_bits)
        bloom = self._bloom
        for fingerprint in self._recent:
            bloom.add(fingerprint)
        rows = ((fingerprint - _SIGN,) for fingerprint in sorted(self._recent))
        with self._db:  # one transaction per batch, in key order: fewer pages touched
            self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", rows)
        self._recent = set()  # a fresh set: clear() would keep the grown table

    def _open(self) -> sqlite3.Connection:
        db = scratch_database(self._cache_kib)
        db.execute("CREATE TABLE seen (fp INTEGER PRIMARY KEY)")
        return db
