"""Run project commands (``scrapy crawl``, ``feed``, ``merge``) as subprocesses, as users do."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def scrapy_command(*args: str) -> list[str]:
    """The command line of ``scrapy ARGS`` with this interpreter."""
    return [sys.executable, "-m", "scrapy", *args]


def run_scrapy(
    *args: str, stdin: str | None = None, cwd: Path = PROJECT_ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy ARGS`` in the project to the end; output captured as text."""
    try:
        return subprocess.run(
            scrapy_command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        output = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        pytest.fail(
            f"scrapy {' '.join(args)} ran over {timeout} s; its log ends:\n{output}"[-6000:]
        )


def run_elsewhere(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to the end in a user's own directory ``cwd`` (not this project), with
    the project importable as an install makes it; output captured as text."""
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


def start_scrapy(*args: str, stderr: int | None = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start ``scrapy ARGS`` in the project; the caller waits for it."""
    return subprocess.Popen(
        scrapy_command(*args), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=stderr
    )


def wait_for_lines(
    path: Path, count: int, process: subprocess.Popen[bytes], *, within: float = 60
) -> None:
    """Wait (polling the file, for ``within`` seconds at most) until ``path`` holds ``count`` lines."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"{path} never reached {count} lines")


def wait_for_text(log: Path, text: str, process: subprocess.Popen[bytes], count: int = 1) -> None:
    """Wait (polling the log, with a deadline) until ``log`` holds ``text`` ``count`` times."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if log.exists() and log.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"{text!r} never logged {count} times; the log ends:\n{log.read_text()[-3000:]}")


def scrapy_crawl(
    *args: str, stdin: bytes | None = None, cwd: Path = PROJECT_ROOT
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy crawl urls ARGS`` in the project, as a user would."""
    text = stdin.decode() if stdin is not None else None
    return run_scrapy("crawl", "urls", "-s", "LOG_LEVEL=INFO", *args, stdin=text, cwd=cwd)
