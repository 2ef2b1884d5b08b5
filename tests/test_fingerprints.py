"""The compact fingerprint set behaves like a set, in little memory."""

from __future__ import annotations

import random
import tracemalloc

from crawler._fingerprints import FingerprintSet


def test_behaves_like_a_set_across_flushes_and_merges() -> None:
    rng = random.Random(7)
    values = [rng.getrandbits(64) for _ in range(5000)]
    fingerprints = FingerprintSet(buffer_size=64)
    reference: set[int] = set()
    for value in values + values[:1000]:
        assert (value in fingerprints) == (value in reference)
        if value not in fingerprints:
            fingerprints.add(value)
        reference.add(value)
    assert len(fingerprints) == len(reference) == 5000
    assert all(value in fingerprints for value in values)
    assert not any(rng.getrandbits(64) in fingerprints for _ in range(2000))
    assert "not an int" not in fingerprints


def test_about_eight_bytes_per_fingerprint() -> None:
    rng = random.Random(8)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        fingerprints = FingerprintSet(buffer_size=4096)
        for _ in range(100_000):
            fingerprints.add(rng.getrandbits(64))  # 64 random bits: no repeats in practice
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(fingerprints) == 100_000
    assert grown / 100_000 < 16  # a set of ints would be 70-90 bytes each
