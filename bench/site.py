"""The site-check benchmark: ``scrapy crawl site`` against LinkChecker on one generated site.

``python -m bench.site`` writes the generated site of ``tests/site_generator.py`` (``--pages``
pages of 20 links, a broken link on every 50th page), serves it with a real nginx pinned to
CPU 0, and crawls it from its home page with each contender in a fresh process pinned to the
other CPUs, in rotated order for ``--rounds`` rounds; it prints a Markdown table of medians:
wall, pages/s and links/s (over the wall), peak RSS (:mod:`bench.rss`), the distinct URLs each
reported and the distinct broken ones, the CPU seconds (user and system, which a busy machine
inflates less than the wall), and whether both found the same broken URLs. ``--smoke``
runs a tiny site once (the test suite does). ``--memory 10000,100000`` crawls sites of those
sizes with the product alone and prints its peak RSS at each tenth of each crawl.

LinkChecker (PyPI ``linkchecker``, the ``bench`` extra) runs recursive, logging every URL
(``-v``, as the product writes a row for every URL), with as many threads as
the product's concurrency, no robots.txt, CSV output. It throttles every host unless the server
answers with a ``LinkChecker`` header, which nginx sends here, so its rate is its own.
Without LinkChecker installed only the product runs.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.rss import poll_rss
from bench.run import compile_project, contender_cpus, pinned
from tests.nginx_server import NginxServer
from tests.site_generator import big_site

if TYPE_CHECKING:
    from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CONCURRENCY = 16
LINKCHECKER = shutil.which("linkchecker") or str(Path(PY).parent / "linkchecker")
LINKCHECKER_CONFIG = """[checking]
threads={threads}
maxrequestspersecond=1000000
[filtering]
checkextern=1
"""


@dataclass
class Run:
    wall: float
    cpu: float
    """User and system seconds of the contender's processes (the machine's load aside)."""
    max_rss_mb: float
    urls: int
    broken: int
    broken_urls: frozenset[str]


def product_command(base: str, out: Path, concurrency: int) -> list[str]:
    settings = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "LOG_LEVEL": "WARNING",
    }
    return [
        PY, "-m", "scrapy", "crawl", "site", "-a", f"urls={base}/", "-O", str(out),
        *(arg for k, v in settings.items() for arg in ("-s", f"{k}={v}")),
    ]  # fmt: skip


def product_counts(out: Path) -> tuple[int, frozenset[str]]:
    """Distinct URLs, and the broken ones, in the product's CSV."""
    with out.open(encoding="utf-8", newline="") as rows:
        read = list(csv.DictReader(rows))
    return len({r["url"] for r in read}), frozenset(r["url"] for r in read if r["ok"] == "false")


def linkchecker_command(base: str, config: Path, concurrency: int) -> list[str]:
    return [
        LINKCHECKER, "-f", str(config), "--no-robots", "--no-status", "--no-warnings",
        "-t", str(concurrency), "-v", "-o", "csv", f"{base}/",
    ]  # fmt: skip


def linkchecker_counts(out: Path) -> tuple[int, frozenset[str]]:
    """Distinct URLs, and the broken ones, in LinkChecker's CSV (a row per link found)."""
    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    read = list(csv.DictReader(lines, delimiter=";"))
    urls = {r["url"] or r["urlname"] for r in read}
    return len(urls), frozenset(r["url"] or r["urlname"] for r in read if r["valid"] == "False")


def run_one(contender: str, base: str, directory: Path, concurrency: int) -> Run:
    out = directory / f"{contender}.csv"
    out.unlink(missing_ok=True)
    stdout: IO[bytes] | int
    if contender == "product":
        command, stdout = product_command(base, out, concurrency), subprocess.DEVNULL
    else:
        config = directory / "linkcheckerrc"
        config.write_text(LINKCHECKER_CONFIG.format(threads=concurrency))
        command, stdout = linkchecker_command(base, config, concurrency), out.open("wb")
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        pinned(contender_cpus(), [PY, "-m", "bench.rss", *command]),
        cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=False, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = done.ru_utime - used.ru_utime + done.ru_stime - used.ru_stime
    if not isinstance(stdout, int):
        stdout.close()
    stderr = result.stderr.decode(errors="replace")
    if result.returncode not in (0, 1, 2):  # 1 and 2: broken links found
        raise RuntimeError(f"{contender} exited {result.returncode}:\n{stderr[-3000:]}")
    peak = re.search(r"max_rss_kb=(\d+)", stderr)
    assert peak is not None, stderr[-3000:]
    urls, broken = (product_counts if contender == "product" else linkchecker_counts)(out)
    return Run(wall, cpu, int(peak.group(1)) / 1024, urls, len(broken), broken)


def memory(sizes: list[int]) -> None:
    """The product's RSS over a crawl of a generated site of each size: the peak so far at each
    tenth of the crawl, to show where it levels off."""
    print("| pages | distinct URLs | links | crawl s | peak RSS MB at each tenth of the crawl |")
    print("|---|---|---|---|---|")
    for pages in sizes:
        with tempfile.TemporaryDirectory() as temp:
            directory = Path(temp)
            server = NginxServer(directory, [directory / "site"])
            site = big_site(directory / "site", server.url(), pages)
            server.start(cpus="0")
            command = product_command(server.url(), directory / "out.csv", CONCURRENCY)
            started = time.perf_counter()
            try:
                _, readings = poll_rss(pinned(contender_cpus(), command), cwd=ROOT)
            finally:
                server.stop()
            wall = time.perf_counter() - started
        tenths = [max(readings[: max(1, len(readings) * q // 10)]) // 1024 for q in range(1, 11)]
        print(f"| {pages:,} | {len(site.urls):,} | {site.links:,} | {wall:.0f} | "
              f"{', '.join(map(str, tenths))} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--smoke", action="store_true", help="a 200-page site, one round")
    parser.add_argument(
        "--memory", help="comma-separated site sizes: the product's RSS over each crawl, alone"
    )
    args = parser.parse_args()
    if args.memory:
        memory([int(size) for size in args.memory.split(",")])
        return
    pages, rounds = (200, 1) if args.smoke else (args.pages, args.rounds)
    contenders = ["product"]
    if os.access(LINKCHECKER, os.X_OK):
        contenders.append("linkchecker")
    else:
        print("LinkChecker is not installed (pip install -e '.[bench]'): product only")
    compile_project()
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        server = NginxServer(directory, [directory / "site"])
        site = big_site(directory / "site", server.url(), pages)
        server.start(["        add_header LinkChecker unthrottled always;\n"], cpus="0")
        runs: dict[str, list[Run]] = {c: [] for c in contenders}
        try:
            for round_ in range(rounds):
                order = (
                    contenders[round_ % len(contenders) :] + contenders[: round_ % len(contenders)]
                )
                for contender in order:
                    runs[contender].append(
                        run_one(contender, server.url(), directory, args.concurrency)
                    )
        finally:
            server.stop()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{stamp}, {pages} pages, {site.links} links, {len(site.urls)} distinct URLs, "
          f"concurrency {args.concurrency}, {rounds} rounds, medians")  # fmt: skip
    print()
    print("| contender | wall s | pages/s | links/s | peak RSS MB | URLs reported | broken | "
          "wall vs product | CPU s | CPU vs product |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    product_wall = statistics.median(r.wall for r in runs["product"])
    product_cpu = statistics.median(r.cpu for r in runs["product"])
    for contender, measured in runs.items():
        wall = statistics.median(r.wall for r in measured)
        cpu = statistics.median(r.cpu for r in measured)
        rss = statistics.median(r.max_rss_mb for r in measured)
        print(
            f"| {contender} | {wall:.1f} | {pages / wall:.0f} | {site.links / wall:.0f} "
            f"| {rss:.0f} | {measured[-1].urls} | {measured[-1].broken} "
            f"| {wall / product_wall:.2f} | {cpu:.1f} | {cpu / product_cpu:.2f} |"
        )
    if len(runs) > 1:
        ours, theirs = runs["product"][-1].broken_urls, runs["linkchecker"][-1].broken_urls
        same = "the same" if ours == theirs else (
            f"not the same ({len(ours - theirs)} only in the product's, "
            f"{len(theirs - ours)} only in LinkChecker's)"
        )  # fmt: skip
        print(f"\nBroken URLs: {same}.")


if __name__ == "__main__":
    main()
