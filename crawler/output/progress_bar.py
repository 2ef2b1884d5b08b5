"""The rich progress bar of :mod:`crawler.output.progress`, imported only when a bar is shown."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import Task


class _RateColumn(ProgressColumn):
    """Rows per second, as rich estimates it."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("?/s" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


class ProgressBar:
    """A bar on standard error: rows done / entries, rate, time left, not ok, in flight.

    While it is shown, Scrapy's log handler writes through rich's proxy of standard error,
    so log lines print above the bar instead of through it; :meth:`stop` puts it back.
    """

    def __init__(self) -> None:
        console = Console(file=sys.stderr)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]URLs"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("[red]{task.fields[not_ok]} not ok"),
            TextColumn("{task.fields[in_flight]} in flight"),
            console=console,
            refresh_per_second=4,
            redirect_stdout=False,
        )
        self._task = self._progress.add_task("URLs", total=None, not_ok=0, in_flight=0)
        self._progress.start()
        self._redirected: list[tuple[logging.StreamHandler[Any], Any]] = []
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                stream = handler.stream
                if stream in (sys.__stderr__, console.file) and sys.stderr is not stream:
                    self._redirected.append((handler, handler.setStream(sys.stderr)))

    def update(self, *, completed: int, total: int | None, not_ok: int, in_flight: int) -> None:
        """Show new figures (rich redraws at its own pace)."""
        self._progress.update(
            self._task, completed=completed, total=total, not_ok=not_ok, in_flight=in_flight
        )

    def stop(self) -> None:
        """Remove the bar and give the log handlers their streams back."""
        self._progress.stop()
        for handler, stream in self._redirected:
            handler.setStream(stream)
        self._redirected.clear()
