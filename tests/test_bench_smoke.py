"""The benchmark's smoke mode runs end to end, so it never rots (nothing is timed here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.nginx_server import MISSING, REQUIRE

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def smoke(module: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m MODULE --smoke`` in the project."""
    return subprocess.run(
        [sys.executable, "-m", module, "--smoke"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_benchmark_smoke_mode_prints_every_contender() -> None:
    result = smoke("bench.run")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:3] for line in result.stdout.splitlines() if line.startswith("| S")]
    pinned = ("scrapy-default", "scrapy-aiohttp", "ours-minimal", "product", "engine-floor")
    all_cores = ("scrapy-default", "scrapy-aiohttp", "product", "product-workers")
    assert [(s.strip(), c.strip()) for s, c in rows] == [
        *[(scenario, c) for scenario in ("S1", "S2") for c in (*pinned, "raw-aiohttp")],
        *[(scenario, c) for scenario in ("S1-all", "S2-all") for c in (*all_cores, "raw-aiohttp")],
        ("S4", "product"),
        ("S4", "product-notiming"),
        ("S3-100k", "product"),
    ]
    for line in result.stdout.splitlines():
        if line.startswith("| S"):
            peak, final = (float(cell) for cell in line.split("|")[-3:-1])
            # RSS read in the run's last 0.1 s; the kernel's peak (getrusage) is kept by other
            # accounting, so the two may differ by a little either way
            assert 0 < final <= peak * 1.05 + 1, line


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
