"""A row's timing columns: each phase is :func:`~crawler.handler.timing.to_ms` of its
seconds, whatever the value (the row builder writes the rounding out for speed)."""

from __future__ import annotations

import random

from crawler.checker.rows import timing_fields
from crawler.handler.timing import DownloadTiming, to_ms

PHASES = ("queue", "dns", "connect", "tls", "ttfb", "download")


def _seconds(rng: random.Random) -> float | None:
    kind = rng.randrange(6)
    if kind == 0:
        return None
    if kind == 1:
        return 0.0
    if kind == 2:  # on a rounding edge: n.nnn5 ms
        return (rng.randrange(10**6) + 0.5) / 10**6
    return rng.uniform(0, 10) * 10.0 ** -rng.randrange(7)


def test_each_phase_column_is_to_ms_of_its_seconds() -> None:
    rng = random.Random(20261205)
    for _ in range(20_000):
        timing = DownloadTiming(started_at=1.0e9, reused=rng.random() < 0.5, bytes_received=7)
        for phase in PHASES:
            setattr(timing, phase, _seconds(rng))
        fields = timing_fields(timing)
        for phase in PHASES:
            value, expected = fields[f"{phase}_ms"], to_ms(getattr(timing, phase))
            assert value == expected, (phase, timing)
            assert type(value) is type(expected), (phase, timing)
        assert fields["cert_expires"] is None
        assert fields["connection_reused"] is timing.reused
        assert fields["bytes"] == 7
