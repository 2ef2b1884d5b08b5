"""A set of 64-bit URL fingerprints at about 8 bytes each, for duplicate detection.

A Python ``set`` of ints costs 70-90 bytes an entry (90 MB at a million URLs). Here recent
fingerprints sit in a small set; when it fills, they become a sorted ``array('Q')`` run, and
runs of similar size are merged (as in a log-structured merge tree), so there are at most
log2(N / buffer) runs, each searched by bisection.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left


class FingerprintSet:
    """Membership and insertion of unsigned 64-bit integers."""

    def __init__(self, buffer_size: int = 65536) -> None:
        self._buffer_size = buffer_size
        self._recent: set[int] = set()
        self._runs: list[array[int]] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, fingerprint: object) -> bool:
        if fingerprint in self._recent:
            return True
        if not isinstance(fingerprint, int):
            return False
        for run in self._runs:
            index = bisect_left(run, fingerprint)
            if index < len(run) and run[index] == fingerprint:
                return True
        return False

    def add(self, fingerprint: int) -> None:
        """Add a ``fingerprint`` that is not in the set yet (callers test membership first)."""
        self._recent.add(fingerprint)
        self._count += 1
        if len(self._recent) >= self._buffer_size:
            self._flush()

    def _flush(self) -> None:
        run = array("Q", sorted(self._recent))
        self._recent.clear()
        while self._runs and len(self._runs[-1]) <= len(run):
            run = array("Q", heapq.merge(self._runs.pop(), run))
        self._runs.append(run)
