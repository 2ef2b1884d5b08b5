"""Scrapy's own download-handler test bases, run against our handler.

The bases live in Scrapy's source distribution (``tests/utils/bases/download_handlers_http.py``),
not in the installed package, so this test fetches the sdist of the installed Scrapy version
from PyPI (or takes ``SCRAPY_SDIST=path/to/scrapy-X.tar.gz``), unpacks it, adds a module that
subclasses the bases with our handler (``scrapy_bases/test_our_handler.py.tmpl``) and runs it
with Scrapy's own pytest configuration, in a subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from tests._scrapy import PROJECT_ROOT

if TYPE_CHECKING:
    import pytest

TEMPLATE = Path(__file__).parent / "scrapy_bases" / "test_our_handler.py.tmpl"
MIN_PASSED = 240


def scrapy_sdist(cache: Path) -> Path:
    """The installed Scrapy version's sdist: ``SCRAPY_SDIST``, cached, or downloaded."""
    if given := os.environ.get("SCRAPY_SDIST"):
        return Path(given)
    wanted = f"scrapy-{version('scrapy')}.tar.gz"
    cached = cache / wanted
    if not cached.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"scrapy=={version('scrapy')}",
                "--dest",
                str(cache),
            ],
            check=True,
            timeout=300,
        )
    return cached


def filters(root: Path) -> str:
    """Scrapy's own strict warning filters, plus one for a pytest deprecation its fixtures hit.

    Scrapy 2.19's session-scoped proxy fixtures are instance methods, which pytest 9.2
    deprecates (an error under ``filterwarnings = error``); it says nothing of our handler.
    """
    config = tomllib.loads((root / "pyproject.toml").read_text())
    scrapy_filters: list[str] = config["tool"]["pytest"]["ini_options"]["filterwarnings"]
    return "\n".join([*scrapy_filters, "ignore::pytest.PytestRemovedIn10Warning"])


def unpack(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    (root,) = into.iterdir()
    return root


def test_scrapy_handler_test_bases_pass(tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crawler-tests"
    cache.mkdir(parents=True, exist_ok=True)
    root = unpack(scrapy_sdist(cache), tmp_path_factory.mktemp("scrapy-sdist"))
    module = root / "tests" / "test_our_handler.py"
    module.write_text(TEMPLATE.read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # Scrapy's tests package first; then this checkout, ahead of any installed copy of it
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(PROJECT_ROOT)])
    imported = subprocess.run(
        [sys.executable, "-c", "import crawler; print(crawler.__file__)"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert Path(imported).parent == PROJECT_ROOT / "crawler", imported
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(module.relative_to(root)),
            "--reactor=asyncio",
            "-p",
            "no:cacheprovider",
            "-q",
            "-n",
            "2",
            "-m",
            "not requires_internet",
            "-o",
            f"filterwarnings={filters(root)}",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    print(f"Scrapy {version('scrapy')} handler bases against our handler: {summary}")
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", summary)}
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert counts.get("failed", 0) == counts.get("errors", counts.get("error", 0)) == 0
    assert counts.get("passed", 0) >= MIN_PASSED, summary
