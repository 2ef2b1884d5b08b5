"""The benchmark's smoke mode runs end to end, so it never rots (nothing is timed here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nginx_server import MISSING, REQUIRE

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def smoke(module: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m MODULE --smoke [ARGUMENTS]`` in the project."""
    return subprocess.run(
        [sys.executable, "-m", module, "--smoke", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


LYCHEE_INSTALLED = bool(
    shutil.which("lychee") or os.access(Path(sys.executable).parent / "lychee", os.X_OK)
)
TARGETS = (
    "S1 product crawl / engine-floor crawl",
    "S1 product speed vs scrapy-default (wall)",
    "S1 ours-minimal speed vs scrapy-aiohttp (crawl)",
    "S5 product wall / lychee wall",
    "S3-100k product peak RSS MB",
    "S4 timing on / timing off (crawl)",
)


def table(stdout: str) -> list[tuple[str, str]]:
    """The (scenario, contender) of each row of the benchmark's table (the targets block after
    it left out)."""
    lines = stdout.partition("| target |")[0].splitlines()
    rows = [line.split("|")[1:3] for line in lines if line.startswith("| S")]
    return [(scenario.strip(), contender.strip()) for scenario, contender in rows]


def targets(stdout: str) -> dict[str, list[str]]:
    """The targets block: each target's cells after its name."""
    block = stdout[stdout.index("| target |") :].splitlines()[2:]
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]] for line in block if line.startswith("|")
    ]
    return {row[0]: row[1:] for row in rows}


def test_benchmark_smoke_mode_prints_every_contender() -> None:
    result = smoke("bench.run")
    assert result.returncode == 0, result.stderr[-3000:]
    lychee = ("lychee",) if LYCHEE_INSTALLED else ()
    pinned = ("scrapy-default", "scrapy-aiohttp", "ours-minimal", "product", "engine-floor")
    floors = ("product-floor", "raw-aiohttp")
    all_cores = ("scrapy-default", "scrapy-aiohttp", "product", "product-workers")
    s5 = (*lychee, "product", "engine-floor", "product-floor", "raw-aiohttp")
    assert table(result.stdout) == [
        *[("S1", c) for c in (*pinned, *floors, *lychee)],
        *[("S2", c) for c in (*pinned, *floors)],
        *[("S5", c) for c in s5],
        *[(scenario, c) for scenario in ("S1-all", "S2-all") for c in (*all_cores, "raw-aiohttp")],
        ("S4", "product"),
        ("S4", "product-notiming"),
        ("S3-100k", "product"),
    ]
    for line in result.stdout.partition("| target |")[0].splitlines():
        if line.startswith("| S"):
            cells = line.split("|")
            if cells[2].strip() == "lychee" and cells[-2].strip() == "-":
                continue  # over before bench.rss's first reading
            peak, final = (float(cell) for cell in cells[-3:-1])
            # RSS read in the run's last 0.1 s; the kernel's peak (getrusage) is kept by other
            # accounting, so the two may differ by a little either way
            assert 0 < final <= peak * 1.05 + 1, line
    assert re.search(
        r"^Machine at start: .*load average [\d.]+ .*idle over 1 s: CPU0 \d+ %", result.stdout, re.M
    )
    assert re.search(r"^Machine at end: .*load average", result.stdout, re.M)
    found = targets(result.stdout)
    assert list(found) == list(TARGETS)
    for name, (measured, _goal, verdict) in found.items():
        if name.startswith("S5") and not LYCHEE_INSTALLED:
            assert (measured, verdict) == ("-", "not measured"), name
        else:
            float(measured)
            assert verdict in {"met", "not met", "no target"}, (name, verdict)
    if LYCHEE_INSTALLED:
        assert re.search(r"^S1 crawl time per URL: .*lychee [\d.]+ ms", result.stdout, re.M)


def test_benchmark_without_lychee_skips_it_in_one_line(tmp_path: Path) -> None:
    result = smoke("bench.run", "--only", "S5", "--lychee", str(tmp_path / "lychee"))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "lychee" in line.lower()]
    assert len([line for line in lines if "not installed" in line]) == 1, result.stdout
    assert table(result.stdout) == [
        ("S5", c) for c in ("product", "engine-floor", "product-floor", "raw-aiohttp")
    ]
    assert targets(result.stdout)["S5 product wall / lychee wall"] == [
        "-",
        "<= 1.3",
        "not measured",
    ]


def test_benchmark_drops_a_round_where_a_contender_did_not_finish() -> None:
    false = shutil.which("false")
    assert false is not None
    result = smoke("bench.run", "--only", "S5", "--lychee", false)
    assert result.returncode == 0, result.stderr[-3000:]
    assert table(result.stdout) == []
    notes = [line for line in result.stdout.splitlines() if "dropped" in line]
    assert len(notes) == 1, result.stdout
    assert notes[0].startswith("S5 round 1 dropped: lychee exited 1"), notes
    assert "S5: no complete round" in result.stdout
    assert targets(result.stdout)["S5 product wall / lychee wall"] == [
        "-",
        "<= 1.3",
        "not measured",
    ]


def test_scale_out_smoke_mode_runs_one_and_two_workers() -> None:
    result = smoke("bench.scale_out")
    if "redis-server is not installed" in result.stderr + result.stdout:
        pytest.skip("redis-server is not installed")
    assert result.returncode == 0, result.stderr[-3000:]
    workers = [line.split("|")[1].strip() for line in result.stdout.splitlines()[4:]]
    assert workers == ["1", "2"]


def test_fingerprints_benchmark_smoke_mode_measures_both_structures() -> None:
    result = smoke("bench.fingerprints")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1].strip() for line in result.stdout.splitlines()[4:]]
    assert rows == ["set", "FingerprintSet"]


def test_site_benchmark_smoke_mode_crawls_the_generated_site_with_each_contender() -> None:
    result = smoke("bench.site")
    if MISSING in result.stderr + result.stdout:
        if os.environ.get(REQUIRE):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ")]
    contenders = [row[0].strip() for row in rows[1:]]
    installed = (
        shutil.which("linkchecker") or (Path(sys.executable).parent / "linkchecker").exists()
    )
    assert contenders == (["product", "linkchecker"] if installed else ["product"])
    for row in rows[1:]:
        urls, broken = int(row[5]), int(row[6])
        assert (urls, broken) == (204, 4), row  # 200 pages, the home page by "/", 4 broken
    if installed:
        assert "Broken URLs: the same." in result.stdout, result.stdout
