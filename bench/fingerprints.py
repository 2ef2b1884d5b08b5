"""Micro-benchmark of duplicate detection: CPU per URL and memory, against a plain ``set``.

Run from the project root: ``python -m bench.fingerprints [--urls N] [--smoke]``. Each
structure runs in a fresh process that does what the spider does for N distinct URLs (a
lookup, then an add) and then 100,000 lookups of absent and of present fingerprints; it
reports CPU microseconds per operation (the cost of drawing the random numbers taken out) and
how much its resident memory grew. Prints a Markdown table, with each figure's ratio to the
plain ``set``.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STRUCTURES = ("set", "FingerprintSet")
LOOKUPS = 100_000


def _rss_mib() -> float:
    """Resident memory now (Linux); 0 where /proc is missing."""
    try:
        with Path("/proc/self/status").open() as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(structure: str, urls: int) -> dict[str, Any]:
    """Figures of one structure, in this process."""
    from crawler.fingerprints import FingerprintSet

    seen: Any = set() if structure == "set" else FingerprintSet()
    add = seen.add
    rng = random.Random(1)
    before = _rss_mib()
    started = time.process_time()
    for _ in range(urls):
        fingerprint = rng.getrandbits(64)
        if fingerprint not in seen:
            add(fingerprint)
    per_url = (time.process_time() - started) / urls
    grown = _rss_mib() - before

    def per_lookup(draw: random.Random) -> float:
        started = time.process_time()
        for _ in range(LOOKUPS):
            draw.getrandbits(64) in seen  # noqa: B015 - the lookup is what is timed
        return (time.process_time() - started) / LOOKUPS

    baseline_started = time.process_time()
    draw = random.Random(2)
    for _ in range(LOOKUPS):
        draw.getrandbits(64)
    baseline = (time.process_time() - baseline_started) / LOOKUPS
    miss = per_lookup(random.Random(2)) - baseline
    hit = per_lookup(random.Random(1)) - baseline
    if isinstance(seen, FingerprintSet):
        seen.close()
    return {
        "structure": structure,
        "us_per_url": (per_url - baseline) * 1e6,
        "us_per_miss": miss * 1e6,
        "us_per_hit": hit * 1e6,
        "rss_grown_mib": grown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000, help="distinct URLs (1,000,000)")
    parser.add_argument("--smoke", action="store_true", help="a tiny run, to check it works")
    parser.add_argument("--one", choices=STRUCTURES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    urls = 20_000 if args.smoke else args.urls
    if args.one:
        print(json.dumps(measure(args.one, urls)))
        return
    results = []
    for structure in STRUCTURES:
        child = subprocess.run(
            [sys.executable, "-m", "bench.fingerprints", "--one", structure, "--urls", str(urls)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(child.stdout))
    reference = results[0]
    print(f"{urls:,} distinct fingerprints; CPU µs per operation, resident memory grown\n")
    print("| structure | lookup + add per URL | absent lookup | present lookup | RSS grown MiB |")
    print("|---|---|---|---|---|")
    for result in results:
        cells = [
            f"{result[key]:.2f} µs ({result[key] / reference[key]:.1f}x)"
            if reference[key] > 0
            else f"{result[key]:.2f} µs"
            for key in ("us_per_url", "us_per_miss", "us_per_hit")
        ]
        print(f"| {result['structure']} | {' | '.join(cells)} | {result['rss_grown_mib']:.1f} |")


if __name__ == "__main__":
    main()
