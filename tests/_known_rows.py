"""A known data set of result rows (as an export holds them) for the summary and report tests."""

from __future__ import annotations

import random
from typing import Any

HOSTS = ("a.example", "b.example:8443", "c.example")


def known_rows(count: int = 1000) -> list[dict[str, Any]]:
    """``count`` rows: every 10th a timeout, every 25th (from 1) a 404, the rest ok.

    Timings are drawn from a seeded log-normal distribution; every 4th row has DNS time,
    every 7th followed a redirect, every 50th was retried once.
    """
    rng = random.Random(8)
    rows = []
    for i in range(count):
        host = HOSTS[i % len(HOSTS)]
        total = round(rng.lognormvariate(4, 1), 3)
        row: dict[str, Any] = {
            "url": f"https://{host}/page/{i}",
            "source": "urls.txt",
            "line": i + 1,
            "outcome": "ok",
            "ok": True,
            "status": 200,
            "error": None,
            "attempts": 1 + (i % 7 == 0) + (i % 50 == 0),
            "redirects": int(i % 7 == 0),
            "queue_ms": 0.0,
            "dns_ms": round(rng.uniform(0.5, 30), 3) if i % 4 == 0 else None,
            "ttfb_ms": round(total * rng.uniform(0.2, 0.8), 3),
            "download_ms": round(rng.uniform(0.1, 5), 3),
            "total_ms": total,
        }
        if i % 10 == 0:
            row.update(outcome="timeout", ok=False, status=None, error=f"took too long ({i})")
            row.update(ttfb_ms=None, download_ms=None)
        elif i % 25 == 1:
            row.update(outcome="http_error", ok=False, status=404, error="HTTP status 404")
        rows.append(row)
    return rows
