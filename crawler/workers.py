"""``scrapy crawl urls -a workers=N``: one list checked by N processes, written as one output.

Scrapy runs a crawl on one core. With ``workers`` (or ``CRAWLER_WORKERS``) above 1,
``scrapy crawl`` starts that many ``scrapy crawl`` children instead, each with
``-a shard=I/N`` (it checks the entries whose URL hashes to it: duplicates meet in one
worker) and its own part file per output, then merges the parts into the outputs with
:func:`crawler.merge.merge` (one row per entry, in input order) and logs the summary of the
merged rows.

Each child gets ``CONCURRENT_REQUESTS`` divided up (rounded up) and
``CONCURRENT_REQUESTS_PER_DOMAIN`` divided down (at least 1), so the crawl as a whole keeps
to the per-host limit; per-host intervals and retry budgets apply per worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler._outputs import local_path
from crawler._workers_progress import PartsProgress
from crawler.merge import merge
from crawler.progress import progress_settings
from crawler.report import check_report_path
from crawler.report.reader import read_rows
from crawler.run_summary import publish_summary
from crawler.shard import parse_workers
from crawler.summary import RunSummary

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import FrameType


__all__ = ["Output", "WorkerPlan", "run_workers", "workers_wanted"]

logger = logging.getLogger(__name__)

SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonlines", ".jsonlines": "jsonlines"}
"""Output suffixes workers can merge into, and their feed format (``.jsonl`` is the alias)."""
PART_FORMATS = {"csv": ("csv", ".csv"), "json": ("jsonlines", ".jsonl")}
PART_FORMATS["jsonlines"] = PART_FORMATS["json"]


@dataclass(frozen=True, slots=True)
class Output:
    """One of the run's outputs and the part format its workers write."""

    path: Path
    part_format: str
    part_suffix: str

    def part(self, directory: Path, shard: int) -> Path:
        """Worker ``shard``'s part of this output."""
        return directory / f"{self.path.stem}.{shard}{self.part_suffix}"


def _outputs(feeds: Mapping[str, Any]) -> list[Output]:
    """The outputs of ``FEEDS``; ``ValueError`` for one that workers cannot merge into."""
    outputs = []
    for uri, options in feeds.items():
        path = local_path(str(uri))
        if path is None:
            raise ValueError(f"{uri}: with workers, outputs must be local files, no placeholders")
        suffix_format = SUFFIX_FORMATS.get(path.suffix.lower())
        feed_format = str((options or {}).get("format") or suffix_format)
        if suffix_format is None or SUFFIX_FORMATS.get(f".{feed_format}") != suffix_format:
            raise ValueError(
                f"{uri}: with workers, outputs must be .csv, .json or .jsonl files in the "
                "format their name says"
            )
        if not (options or {}).get("overwrite") and path.exists() and path.stat().st_size:
            raise ValueError(
                f"{path} already holds rows, and workers cannot append: write to a new file "
                f"(to finish its list: -a resume={path} -O rest{path.suffix}), or overwrite "
                "it with -O"
            )
        outputs.append(Output(path, *PART_FORMATS[suffix_format]))
    return outputs


def _setting_argument(value: Any) -> str:
    if isinstance(value, BaseSettings):  # a dict setting given on the command line
        value = value.copy_to_dict()
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class WorkerPlan:
    """How to start the workers of one run: their outputs and their ``scrapy crawl`` lines."""

    spider: str
    arguments: dict[str, str]
    workers: int
    outputs: list[Output]
    parts: Path
    settings: dict[str, str]

    @classmethod
    def from_run(
        cls, spider: str, arguments: Mapping[str, str], settings: BaseSettings, workers: int
    ) -> WorkerPlan:
        """Plan ``workers`` children for a ``scrapy crawl`` run; ``ValueError`` if they can't."""
        if "-" in [name.strip() for name in str(arguments.get("urls") or "").split(",")]:
            raise ValueError("workers cannot share standard input: save the list to a file first")
        if arguments.get("redis") or arguments.get("job") or settings.get("CRAWLER_REDIS_URL"):
            raise ValueError("a Redis worker is already one of many: drop workers= (or set 1)")
        outputs = _outputs(settings.getdict("FEEDS"))
        first = outputs[0].path if outputs else Path("crawl")
        parts = first.parent / f".{first.name}.workers"
        given = {
            name: _setting_argument(settings[name])
            for name in settings
            if name != "FEEDS" and settings.getpriority(name) == SETTINGS_PRIORITIES["cmdline"]
        }
        progress = str(settings.get("CRAWLER_PROGRESS", "auto")).strip().lower()
        log_format = str(settings.get("LOG_FORMAT"))
        return cls(
            spider=spider,
            arguments={k: str(v) for k, v in arguments.items() if k != "workers"},
            workers=workers,
            outputs=outputs,
            parts=parts,
            settings={
                **given,
                "CRAWLER_WORKERS": "1",
                "CONCURRENT_REQUESTS": str(
                    math.ceil(settings.getint("CONCURRENT_REQUESTS") / workers)
                ),
                "CONCURRENT_REQUESTS_PER_DOMAIN": str(
                    max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") // workers)
                ),
                # one bar per worker would fight over the terminal: log lines instead
                "CRAWLER_PROGRESS": "off" if progress == "off" else "log",
                "CRAWLER_SUMMARY_FILE": "",
                "CRAWLER_REPORT_FILES": "",
                "LOG_FORMAT": "[worker {shard}] "
                + log_format.replace("{", "{{").replace("}", "}}"),
            },
        )

    def command(self, shard: int) -> list[str]:
        """The ``scrapy crawl`` line of worker ``shard`` (0-based)."""
        label = f"{shard + 1}/{self.workers}"
        feeds = {
            str(output.part(self.parts, shard)): {"format": output.part_format, "overwrite": True}
            for output in self.outputs
        }
        settings = {**self.settings, "FEEDS": json.dumps(feeds)}
        settings["LOG_FORMAT"] = settings["LOG_FORMAT"].format(shard=label)
        line = [sys.executable, "-m", "scrapy", "crawl", self.spider]
        for name, value in {**self.arguments, "shard": label}.items():
            line += ["-a", f"{name}={value}"]
        for name, value in settings.items():
            line += ["-s", f"{name}={value}"]
        return line


def _status(returncodes: list[int], failure_code: int) -> int:
    """The run's exit status: 1 if a worker failed or died, else the worst row status."""
    if any(code not in (0, failure_code) for code in returncodes):
        return 1
    return failure_code if failure_code in returncodes else 0


class _Forwarder:
    """Passes SIGINT and SIGTERM on to the workers (each runs in its own session), as SIGTERM.

    Scrapy treats both alike (stop gracefully; again: at once), but a worker that has not yet
    installed its handlers dies quietly of SIGTERM where SIGINT prints a traceback.
    """

    def __init__(self, processes: list[subprocess.Popen[bytes]]) -> None:
        self.processes = processes
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _Forwarder:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._forward)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        logger.info("Passing %s on to the workers", signal.Signals(signum).name)
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)


def _summarise(output: Path, settings: BaseSettings, spider: str, source: str) -> None:
    """Log the summary of the merged rows; write the summary file and reports asked for."""
    with RunSummary() as summary:
        for row in read_rows(output):
            summary.add(row)
        data = summary.as_dict()
        data["run"] = {
            "spider": spider,
            "source": source,
            "finish_reason": "finished",
            "exports": [str(output)],
            "slo": settings.get("CRAWLER_SLO", ""),
        }
        names = [
            settings.get("CRAWLER_SUMMARY_FILE") or "",
            *settings.getlist("CRAWLER_REPORT_FILES"),
        ]
        paths = [check_report_path(str(n)) for n in names if str(n).strip()]
        publish_summary(data, paths, failing=summary.failing_rows)


def _progress(plan: WorkerPlan, settings: BaseSettings) -> PartsProgress | None:
    """The whole run's progress lines, unless progress is off or the log hides them.

    The total is unknown when resuming: the entries already done are the workers' to skip.
    """
    mode, _ = progress_settings(settings)  # checked before the workers started
    if mode == "off":
        return None
    level = logging.getLevelName(str(settings.get("LOG_LEVEL", "DEBUG")).upper())
    if not settings.getbool("LOG_ENABLED", True) or (
        isinstance(level, int) and level > logging.INFO
    ):
        return None
    if not plan.outputs:
        return None
    first = plan.outputs[0]
    parts = [first.part(plan.parts, shard) for shard in range(plan.workers)]
    spec = None if plan.arguments.get("resume") else plan.arguments.get("urls", "")
    return PartsProgress(parts, spec, header_lines=1 if first.part_format == "csv" else 0)


def _wait(
    processes: list[subprocess.Popen[bytes]], progress: PartsProgress | None, interval: float
) -> list[int]:
    """Wait for every worker; log the run's progress every ``interval`` seconds meanwhile."""
    for process in processes:
        while progress is not None:
            try:
                process.wait(timeout=max(interval - (time.monotonic() - progress.last), 0))
                break
            except subprocess.TimeoutExpired:
                progress.log()
    return [process.wait() for process in processes]


def run_workers(plan: WorkerPlan, settings: BaseSettings) -> int:
    """Run the workers of ``plan``, merge their parts, log the summary; the exit status."""
    shutil.rmtree(plan.parts, ignore_errors=True)  # parts of a run killed earlier
    plan.parts.mkdir(parents=True)
    started = time.monotonic()
    processes: list[subprocess.Popen[bytes]] = []
    with _Forwarder(processes):
        for shard in range(plan.workers):
            processes.append(subprocess.Popen(plan.command(shard), start_new_session=True))
        logger.info(
            "Started %d workers (pids %s); parts in %s",
            plan.workers,
            ", ".join(str(p.pid) for p in processes),
            plan.parts,
        )
        progress = _progress(plan, settings)
        try:
            returncodes = _wait(processes, progress, progress_settings(settings)[1])
        finally:
            if progress is not None:
                progress.stop()
    logger.info(
        "Workers finished in %.2f s, exit statuses %s", time.monotonic() - started, returncodes
    )
    for shard, code in enumerate(returncodes, 1):
        if code < 0:
            logger.error(
                "Worker %d/%d was stopped by %s: its rows so far are merged; finish the list "
                "with -a resume=<this output>",
                shard,
                plan.workers,
                signal.Signals(-code).name,
            )
    sources = [name.strip() for name in str(plan.arguments.get("urls") or "").split(",")]
    for output in plan.outputs:
        parts = [output.part(plan.parts, shard) for shard in range(plan.workers)]
        present = [part for part in parts if part.exists()]
        if not present:
            logger.error("No worker wrote a part of %s", output.path)
            with contextlib.suppress(OSError):
                plan.parts.rmdir()  # only if empty: parts of other outputs stay
            return 1
        merge_started = time.monotonic()
        report = merge(present, output.path, source_order=sources)
        logger.info(
            "Merged %d rows from %d workers into %s in %.2f s",
            report.rows_written,
            len(present),
            output.path,
            time.monotonic() - merge_started,
        )
    shutil.rmtree(plan.parts, ignore_errors=True)
    if plan.outputs:
        _summarise(plan.outputs[0].path, settings, plan.spider, ", ".join(sources))
    status = _status(returncodes, settings.getint("CRAWLER_FAILURE_EXIT_CODE", 2))
    logger.info("Elapsed %.2f s with %d workers", time.monotonic() - started, plan.workers)
    return status


def workers_wanted(arguments: Mapping[str, str], settings: BaseSettings) -> int:
    """The ``workers`` spider argument, else ``CRAWLER_WORKERS`` (``ValueError`` if bad)."""
    if "workers" in arguments:
        return parse_workers(arguments["workers"], name="workers")
    return parse_workers(settings.get("CRAWLER_WORKERS", 1))
