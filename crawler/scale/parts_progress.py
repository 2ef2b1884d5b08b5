"""The whole run's progress while local workers check their shares of one list.

Each worker knows only its share, so the parent counts: the rows the workers' parts of the first
output hold so far (each part read once, as it grows) against the list's entries, counted in a
background thread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from crawler.output.progress import count_entries, eta_clock

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

_READ_SIZE = 1 << 20


class PartsProgress:
    """Rows written to ``parts`` (``header_lines`` each, e.g. a CSV header, not counted), plus
    ``already`` rows of an earlier run, against the entries of ``spec`` (``None``: unknown)."""

    def __init__(
        self, parts: list[Path], spec: str | None, *, header_lines: int, already: int = 0
    ) -> None:
        self.parts = parts
        self.header_lines = header_lines
        self.already = already
        self.total: int | None = None
        self.started = self.last = time.monotonic()
        """When the run started, and when a line was last logged."""
        self._read = dict.fromkeys(parts, 0)
        self._lines = dict.fromkeys(parts, 0)
        self._stop = threading.Event()
        self._counter: threading.Thread | None = None
        if spec is not None:
            self._counter = threading.Thread(
                target=self._count, args=(spec,), name="crawler-count", daemon=True
            )
            self._counter.start()

    def _count(self, spec: str) -> None:
        try:
            self.total = count_entries(spec, self._stop)
        except (OSError, ValueError) as e:  # the workers report unreadable inputs themselves
            logger.debug("Cannot count the entries of %s: %s", spec, e)

    def rows(self) -> int:
        """Rows the parts hold so far (complete lines only)."""
        for part in self.parts:
            self._read_new_lines(part)
        new = sum(max(lines - self.header_lines, 0) for lines in self._lines.values())
        return self.already + new

    def _read_new_lines(self, part: Path) -> None:
        try:
            with part.open("rb") as stream:
                if stream.seek(0, 2) < self._read[part]:  # rewritten since: count it again
                    self._read[part] = self._lines[part] = 0
                stream.seek(self._read[part])
                while chunk := stream.read(_READ_SIZE):
                    end = chunk.rfind(b"\n") + 1  # a line still being written waits
                    self._lines[part] += chunk.count(b"\n", 0, end)
                    self._read[part] += end
                    if end < len(chunk):
                        break
        except FileNotFoundError:
            return

    def line(self) -> str:
        """``Progress: 1,200/5,000 rows (24.0%), 310.0/s, ETA 0:12 (2 workers)``."""
        rows, total = self.rows(), self.total
        if total:
            rows = min(rows, total)  # a CSV cell holding a newline counts as two lines
        rate = max(rows - self.already, 0) / max(time.monotonic() - self.started, 1e-9)
        text = (
            f"Progress: {rows:,}/{total:,} rows ({rows / total:.1%})"
            if total
            else (f"Progress: {rows:,} rows")
        )
        text += f", {rate:,.1f}/s"
        if total and rate > 0:
            text += f", ETA {eta_clock(max(total - rows, 0) / rate)}"
        return f"{text} ({len(self.parts)} workers)"

    def log(self) -> None:
        """Log one progress line."""
        self.last = time.monotonic()
        logger.info("%s", self.line())

    def stop(self) -> None:
        """Stop counting the entries, if it is still under way."""
        self._stop.set()
        if self._counter is not None:
            self._counter.join(timeout=5)
