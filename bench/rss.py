"""Run a command and report its memory: peak RSS and RSS at the end of the run.

``python -m bench.rss COMMAND...`` runs COMMAND as its only child, reads the child's resident
set size from ``/proc`` every :data:`INTERVAL` seconds, and prints to stderr, after the child
exits, ``max_rss_kb=N`` (the largest RSS of the child or any process it waited for, from
``getrusage``) and ``final_rss_kb=N`` (the last reading, taken at most :data:`INTERVAL`
before the child exited; ``0`` where ``/proc`` is missing). Its exit status is the child's.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path
from typing import IO

INTERVAL = 0.1
"""Seconds between two readings of the child's RSS."""


def rss_kb(pid: int) -> int | None:
    """The resident set size of process ``pid`` in KiB, ``None`` once it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None  # a zombie has no VmRSS line


def poll_rss(
    command: list[str],
    *,
    cwd: Path | None = None,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
) -> tuple[int, list[int]]:
    """Run ``command`` to its end, reading its RSS every :data:`INTERVAL` seconds; return its
    exit status and the readings (KiB), in order."""
    child = subprocess.Popen(command, cwd=cwd, stdout=stdout, stderr=stderr)
    readings: list[int] = []
    while True:
        try:
            child.wait(INTERVAL)
        except subprocess.TimeoutExpired:
            if (reading := rss_kb(child.pid)) is not None:
                readings.append(reading)
            continue
        return child.returncode, readings


def main() -> None:
    returncode, readings = poll_rss(sys.argv[1:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"max_rss_kb={peak} final_rss_kb={readings[-1] if readings else 0}", file=sys.stderr)
    sys.exit(returncode)


if __name__ == "__main__":
    main()
