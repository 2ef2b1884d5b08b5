"""The fingerprint set behaves like a set, in bounded memory, and cleans up after itself."""

from __future__ import annotations

import os
import random
import tracemalloc
from pathlib import Path

import pytest

from crawler.fingerprints import FingerprintSet


def _open_files() -> set[str]:
    """Paths of this process's open file descriptors (Linux)."""
    fds = Path("/proc/self/fd")
    found = set()
    for fd in fds.iterdir():
        try:
            found.add(os.readlink(fd))
        except OSError:  # the descriptor iterdir() itself used, closed since
            continue
    return found


def test_behaves_like_a_set_across_spills() -> None:
    rng = random.Random(7)
    values = [rng.getrandbits(64) for _ in range(5000)]
    # A tiny Bloom filter: most lookups of absent values get past it and ask SQLite.
    fingerprints = FingerprintSet(buffer_size=64, bloom_bits=1024)
    reference: set[int] = set()
    for value in values + values[:1000] + values[-500:]:
        assert (value in fingerprints) == (value in reference)
        if value not in fingerprints:
            fingerprints.add(value)
        reference.add(value)
    assert len(fingerprints) == len(reference) == 5000
    assert all(value in fingerprints for value in values)
    assert not any(rng.getrandbits(64) in fingerprints for _ in range(2000))
    fingerprints.close()


def test_extreme_and_foreign_values() -> None:
    fingerprints = FingerprintSet(buffer_size=2)
    for value in (0, 2**64 - 1, 2**63, 2**63 - 1):
        fingerprints.add(value)  # 4 values: 2 spills, all of them in SQLite
    assert all(value in fingerprints for value in (0, 2**64 - 1, 2**63, 2**63 - 1))
    assert 1 not in fingerprints
    assert 2**64 not in fingerprints
    assert -1 not in fingerprints
    assert "not an int" not in fingerprints
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        fingerprints.add(2**64)
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        fingerprints.add(-1)
    fingerprints.close()


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        FingerprintSet(bloom_bits=1000)
    with pytest.raises(ValueError, match="buffer_size"):
        FingerprintSet(buffer_size=0)


def test_close_deletes_the_table_and_empties_the_set() -> None:
    before = _open_files()
    fingerprints = FingerprintSet(buffer_size=16, cache_kib=16)
    for value in range(5000):  # 80 KiB of table over a 16 KiB cache: it reaches the file
        fingerprints.add(value)
    opened = _open_files() - before
    assert opened, "the table should be in a temporary file by now"
    # SQLite unlinked the file as soon as it made it: even a killed run leaves nothing behind.
    assert all(path.endswith(" (deleted)") for path in opened), opened
    fingerprints.close()
    assert _open_files() - before == set()
    assert len(fingerprints) == 0
    assert 1 not in fingerprints
    fingerprints.add(1)  # usable again
    assert 1 in fingerprints
    fingerprints.close()
    fingerprints.close()  # twice is fine


def test_a_short_list_never_opens_sqlite() -> None:
    before = _open_files()
    fingerprints = FingerprintSet(buffer_size=100)
    for value in range(99):
        fingerprints.add(value)
    assert _open_files() == before
    assert 98 in fingerprints
    assert 99 not in fingerprints


def test_python_memory_does_not_grow_with_the_number_of_fingerprints() -> None:
    rng = random.Random(8)
    fingerprints = FingerprintSet(buffer_size=1024, bloom_bits=1 << 16)
    for _ in range(2048):
        fingerprints.add(rng.getrandbits(64))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(100_000):
            fingerprints.add(rng.getrandbits(64))  # 64 random bits: no repeats in practice
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(fingerprints) == 102_048
    assert grown < 200_000  # at most a buffer's worth, whatever the count; a set would be 8 MB
    fingerprints.close()
