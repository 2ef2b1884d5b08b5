"""One worker against two on one Redis job: the scale-out benchmark (``python -m bench.scale_out``).

A loopback server (``bench.server``) and a private ``redis-server`` start first. Each round
feeds the same list into a fresh job and times the workers from the first start to the last
exit, for 1 worker and for 2 workers (order alternating by round); the table shows medians
and the speed-up of 2 workers measured in the same rounds. Every run must give every entry
exactly one row (checked with ``scrapy merge`` against the job) or the benchmark stops.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.run import ROOT, url_list
from tests.redis_server import RedisServer

PY = sys.executable


def scrapy(*args: str) -> list[str]:
    return [PY, "-m", "scrapy", *args]


def feed(redis_url: str, urls: Path) -> None:
    subprocess.run(
        scrapy("feed", "--redis", redis_url, "--reset", str(urls)),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def crawl(redis_url: str, workers: int, work: Path, concurrency: int) -> tuple[float, list[Path]]:
    """Wall seconds for ``workers`` processes to drain the job, and their outputs."""
    parts = [work / f"part-{workers}-{n}.csv" for n in range(workers)]
    for part in parts:  # a worker refuses to overwrite rows of an earlier round
        part.unlink(missing_ok=True)
    settings = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "LOG_LEVEL": "WARNING",
        "CRAWLER_REDIS_BATCH": 32,
    }
    options = [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            scrapy("crawl", "urls", "-a", f"redis={redis_url}", "-O", str(part), *options),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for part in parts
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=3600)
        if process.returncode != 0:
            raise RuntimeError(f"a worker exited {process.returncode}: {stderr[-2000:]!r}")
    return time.perf_counter() - started, parts


def check_merge(redis_url: str, parts: list[Path], work: Path, entries: int) -> None:
    merged = work / "merged.csv"
    result = subprocess.run(
        scrapy("merge", "--redis", redis_url, "-O", str(merged), *map(str, parts)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r": (\d+) rows", result.stdout)
    if result.returncode != 0 or match is None or int(match[1]) != entries:
        raise RuntimeError(f"merge failed: {result.stdout} {result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny list, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--urls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    rounds, count = (1, 200) if args.smoke else (args.rounds, args.urls)
    server = subprocess.Popen(
        [PY, "-m", "bench.server"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis_server = RedisServer(work)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            urls = url_list(work, port, count, 0.0)
            walls: dict[int, list[float]] = {1: [], 2: []}
            for round_number in range(rounds):
                for workers in (1, 2) if round_number % 2 == 0 else (2, 1):
                    feed(redis_server.url, urls)
                    wall, parts = crawl(redis_server.url, workers, work, args.concurrency)
                    check_merge(redis_server.url, parts, work, count)
                    walls[workers].append(wall)
        finally:
            redis_server.stop()
            server.terminate()
            server.wait(10)
    speedups = [one / two for one, two in zip(walls[1], walls[2], strict=True)]
    print(
        f"Scale-out {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{count} URLs, concurrency {args.concurrency} per worker, {rounds} round(s), medians"
    )
    print()
    print("| workers | wall s | URLs/s | speed-up vs 1 worker | per round |")
    print("|---|---|---|---|---|")
    for workers, measured in walls.items():
        wall = statistics.median(measured)
        speedup = statistics.median(speedups) if workers == 2 else 1.0
        rounds_text = ", ".join(f"{r:.2f}x" for r in speedups) if workers == 2 else ""
        print(f"| {workers} | {wall:.2f} | {count / wall:,.0f} | {speedup:.2f}x | {rounds_text} |")


if __name__ == "__main__":
    main()
