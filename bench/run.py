"""The benchmark: contenders side by side on one loopback server, interleaved, medians.

``python -m bench.run`` runs every scenario and prints a Markdown table; ``--smoke`` runs a
tiny version of each (used by the test suite so the benchmark never rots). The server runs
pinned to CPU 0, each contender in a fresh process pinned to the other CPUs (``taskset``;
CPU 1 on a 2-core machine).

Scenarios: S1 CPU cost per URL (no latency, 1 KiB bodies, concurrency 64); S2 latency-bound
(50 ms per response, concurrency 100, against the ideal N x latency / C); S3 memory of the
product over a long list (peak RSS, and RSS at the end: see :mod:`bench.rss`); S4 the product
with timing capture on and off; S1-all and S2-all: S1 and S2 with nothing pinned, so that
``product-workers`` (the product with ``-a workers=auto``, one process per CPU) can use every
core, CPU 0 included, which it shares with the server.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass
class Run:
    """One contender's run: wall and crawl seconds, peak and final RSS, URLs answered 200."""

    wall: float
    elapsed: float
    max_rss_mb: float
    final_rss_mb: float
    ok: int


@dataclass
class Scenario:
    name: str
    urls: int
    concurrency: int
    latency: float = 0.0
    contenders: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)
    pinned: bool = True


def pinned(cpus: str, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cpus, *command]
    return command


def contender_cpus() -> str:
    """Every CPU but the server's (CPU 0): just CPU 1 on a 2-core machine."""
    count = os.cpu_count() or 1
    return "1" if count <= 2 else f"1-{count - 1}"


BUSY_LOOP = "s = 0\nfor i in range({}):\n    s += i"


def parallel_capacity(iterations: int = 20_000_000) -> float:
    """CPUs' worth of work the machine gives at once right now: N busy loops against one.

    A shared virtual machine may show N CPUs and give far less when all are busy; the
    ``-all`` scenarios can only gain what this allows.
    """
    count = os.cpu_count() or 1

    def loops(n: int) -> float:
        started = time.perf_counter()
        running = [subprocess.Popen([PY, "-c", BUSY_LOOP.format(iterations)]) for _ in range(n)]
        for process in running:
            process.wait()
        return time.perf_counter() - started

    return count * loops(1) / loops(count)


def compile_project() -> None:
    """Byte-compile the project's own modules, as their first run on a user's machine does.

    Installed libraries (Scrapy, aiohttp) were compiled by pip; where ``PYTHONDONTWRITEBYTECODE``
    is set, every contender process would otherwise compile the project's modules again.
    """
    for package in ("crawler", "spiders", "middlewares", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)


def ok_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as rows:
        return sum(1 for row in csv.DictReader(rows) if row["outcome"] == "ok")


def url_list(directory: Path, port: int, count: int, latency: float) -> Path:
    path = directory / f"urls-{count}-{latency}.txt"
    if not path.exists():
        query = f"?latency={latency}&size=1024" if latency else "?size=1024"
        with path.open("w") as out:
            out.writelines(f"http://127.0.0.1:{port}/b/{i}{query}\n" for i in range(count))
    return path


def command(contender: str, urls: Path, concurrency: int, out: Path) -> list[str]:
    c = str(concurrency)
    minimal = [PY, "-m", "bench.minimal_spider", str(urls)]
    if contender in ("scrapy-default", "scrapy-aiohttp", "ours-minimal", "engine-floor"):
        handler = {
            "scrapy-default": "default",
            "scrapy-aiohttp": "scrapy-aiohttp",
            "engine-floor": "ours-floor",
        }.get(contender, "ours")
        return [*minimal, handler, c]
    if contender == "raw-aiohttp":
        return [PY, "-m", "bench.raw_aiohttp", str(urls), c]
    product = [PY, "-m", "scrapy", "crawl", "urls", "-a", f"urls={urls}", "-O", str(out)]
    settings = {
        "CONCURRENT_REQUESTS": c,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c,
        "LOG_LEVEL": "INFO",
        "CRAWLER_SCRAPY_LOG": "True",  # the stats dump holds the crawl's elapsed time
        "LOGSTATS_INTERVAL": "0",
    }
    if contender == "product-notiming":
        settings["CRAWLER_TIMING_ENABLED"] = "False"
    if contender == "product-workers":
        product += ["-a", "workers=auto"]
    return product + [arg for k, v in settings.items() for arg in ("-s", f"{k}={v}")]


def run_one(contender: str, urls: Path, scenario: Scenario, work: Path) -> Run:
    out = work / f"{contender}.csv"
    line = command(contender, urls, scenario.concurrency, out)
    started = time.perf_counter()
    process = subprocess.run(
        [PY, "-m", "bench.rss", *(pinned(contender_cpus(), line) if scenario.pinned else line)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    wall = time.perf_counter() - started
    stdout, stderr = process.stdout, process.stderr
    peak_kb, final_kb = re.findall(r"max_rss_kb=(\d+) final_rss_kb=(\d+)", stderr)[-1]
    if contender.startswith("product"):
        if process.returncode != 0:
            raise RuntimeError(f"{contender} exited {process.returncode}: {stderr[-2000:]}")
        if contender == "product-workers":  # the slowest worker's crawl, then the merge
            crawls = re.findall(r"'elapsed_time_seconds': ([\d.]+)", stderr)
            merges = re.findall(r"Merged \d+ rows from \d+ workers into .* in ([\d.]+) s", stderr)
            elapsed = max(map(float, crawls)) + sum(map(float, merges))
        else:
            elapsed = float(re.findall(r"'elapsed_time_seconds': ([\d.]+)", stderr)[-1])
        ok = ok_rows(out)
    else:
        match = re.search(r"ok=(\d+) elapsed=([\d.]+)", stdout)
        if match is None:
            raise RuntimeError(f"{contender} printed no result: {stderr[-2000:]}")
        ok, elapsed = int(match[1]), float(match[2])
    if ok != scenario.urls:
        raise RuntimeError(f"{contender}: {ok} of {scenario.urls} URLs answered 200")
    return Run(wall, elapsed, int(peak_kb) / 1024, int(final_kb) / 1024, ok)


def scenarios(smoke: bool, large: bool) -> list[Scenario]:
    every = (
        "scrapy-default",
        "scrapy-aiohttp",
        "ours-minimal",
        "product",
        "engine-floor",
        "raw-aiohttp",
    )
    all_cores = ("scrapy-default", "scrapy-aiohttp", "product", "product-workers", "raw-aiohttp")
    scale = 50 if smoke else 1
    found = [
        Scenario("S1", 5000 // scale, 64, contenders=every),
        Scenario("S2", 2000 // scale, 100, latency=0.05, contenders=every),
        Scenario("S1-all", 5000 // scale, 64, contenders=all_cores, pinned=False),
        Scenario("S2-all", 2000 // scale, 100, latency=0.05, contenders=all_cores, pinned=False),
        Scenario("S4", 5000 // scale, 64, contenders=("product", "product-notiming")),
        Scenario("S3-100k", 100_000 // (scale * 20 if smoke else 1), 64, contenders=("product",)),
    ]
    if large:
        found.append(Scenario("S3-1M", 1_000_000, 64, contenders=("product",)))
    return found


def measure(scenario: Scenario, rounds: int, port: int, work: Path) -> dict[str, list[Run]]:
    urls = url_list(work, port, scenario.urls, scenario.latency)
    runs: dict[str, list[Run]] = {name: [] for name in scenario.contenders}
    order = list(scenario.contenders)
    for round_number in range(rounds):
        shift = round_number % len(order)
        for contender in order[shift:] + order[:shift]:
            runs[contender].append(run_one(contender, urls, scenario, work))
    return runs


def report(scenario: Scenario, runs: dict[str, list[Run]]) -> list[str]:
    base = runs.get("scrapy-default") or runs.get("product-notiming") or next(iter(runs.values()))
    lines = []
    ideal = scenario.urls * scenario.latency / scenario.concurrency
    for name, results in runs.items():
        wall = statistics.median(r.wall for r in results)
        elapsed = statistics.median(r.elapsed for r in results)
        ratios = [b.wall / r.wall for b, r in zip(base, results, strict=True)]
        rate = scenario.urls / elapsed
        extra = f"{ideal / elapsed:.2f} of ideal" if scenario.latency else ""
        peak = statistics.median(r.max_rss_mb for r in results)
        final = statistics.median(r.final_rss_mb for r in results)
        lines.append(
            f"| {scenario.name} | {name} | {scenario.urls} | {wall:.2f} | {elapsed:.2f} | "
            f"{rate:,.0f} | {statistics.median(ratios):.2f}x | {extra} | {peak:.0f} | {final:.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny lists, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also S3 at 1M URLs (slow)")
    parser.add_argument("--only", help="comma-separated scenario names")
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    compile_project()
    server = subprocess.Popen(
        pinned("0", [PY, "-m", "bench.server"]), cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            capacity = parallel_capacity(10_000 if args.smoke else 20_000_000)
            print(
                f"Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs "
                f"(giving {capacity:.2f} CPUs' worth when all are busy), "
                f"Python {sys.version.split()[0]}, {rounds} round(s), medians"
            )
            print()
            print(
                "| scenario | contender | URLs | wall s | crawl s | URLs/s (crawl) | "
                "speed vs scrapy-default (wall) | S2 | peak RSS MB | final RSS MB |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|")
            wanted = set(args.only.split(",")) if args.only else None
            for scenario in scenarios(args.smoke, args.large):
                if wanted and scenario.name not in wanted:
                    continue
                # memory is not noisy: one round of the long lists is enough
                scenario_rounds = 1 if scenario.name.startswith("S3") else rounds
                runs = measure(scenario, scenario_rounds, port, Path(tmp))
                for line in report(scenario, runs):
                    print(line, flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
