"""``scrapy crawl urls -a workers=N``: one list checked by N processes, written as one output.

Scrapy runs a crawl on one core. With ``workers`` (or ``CRAWLER_WORKERS``) above 1,
``scrapy crawl`` starts that many ``scrapy crawl`` children instead, each with
``-a shard=I/N`` (it checks the entries whose URL hashes to it: duplicates meet in one
worker) and its own part file per output, then merges the parts into the outputs with
:func:`crawler.output.merge.merge` (one row per entry, in input order) and logs the summary of the
merged rows.

Each child gets ``CONCURRENT_REQUESTS`` divided up (rounded up) and
``CONCURRENT_REQUESTS_PER_DOMAIN`` divided down (at least 1), so the crawl as a whole keeps
to the per-host limit; per-host intervals and retry budgets apply per worker.

A run that does not finish (Ctrl-C, a killed worker, a killed parent, a power cut) leaves its
rows in the parts folder; the same command again merges them into one journal per output
first (nothing is deleted before its rows are in the journal), lets the workers resume from it
and merges journal and new parts into the outputs. Workers die with their parent: each watches
a pipe whose other end only the parent holds (POSIX; the kernel closes it whatever kills the
parent), and stops as on Ctrl-C when it closes. The parent holds a lock on the folder that the
workers inherit, so no run starts there while workers of an earlier one still write.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler.console import shows_info, shows_scrapy_log
from crawler.names import SETTINGS
from crawler.output.cells import CsvConfig
from crawler.output.feeds import local_path
from crawler.output.progress import progress_settings
from crawler.output.run_summary import failures_shown, publish_summary
from crawler.output.summary import RunSummary
from crawler.scale.shard import PARENT_FD_VARIABLE, watch_parent, workers_wanted
from crawler.sources import STDIN, input_names

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import FrameType

    from crawler.scale.parts_progress import PartsProgress


__all__ = ["Output", "WorkerPlan", "run_workers", "watch_parent", "workers_wanted"]

logger = logging.getLogger(__name__)

SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonlines", ".jsonlines": "jsonlines"}
"""Output suffixes workers can merge into, and their feed format (``.jsonl`` is the alias)."""
PART_FORMATS = {"csv": ("csv", ".csv"), "json": ("jsonlines", ".jsonl")}
PART_FORMATS["jsonlines"] = PART_FORMATS["json"]
LOCK_NAME = ".lock"
RUN_NAME = "run.json"
"""What a parts folder was made for (spider and lists): another run's rows are never taken."""


@dataclass(frozen=True, slots=True)
class Output:
    """One of the run's outputs and the part format its workers write."""

    path: Path
    part_format: str
    part_suffix: str

    def part(self, directory: Path, shard: int) -> Path:
        """Worker ``shard``'s part of this output."""
        return directory / f"{self.path.stem}.{shard}{self.part_suffix}"

    def journal(self, directory: Path) -> Path:
        """The rows of this output's earlier, unfinished runs, merged."""
        return directory / f"{self.path.stem}.earlier{self.part_suffix}"

    def leftovers(self, directory: Path) -> list[Path]:
        """The parts and journal an unfinished run left in ``directory``, journal first."""
        found = sorted(directory.glob(f"{self.path.stem}.*{self.part_suffix}"))
        journal = self.journal(directory)
        return [journal] * (journal in found) + [path for path in found if path != journal]


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
        if STDIN in input_names(arguments.get("urls")):
            raise ValueError("workers cannot share standard input: save the list to a file first")
        if (
            arguments.get("redis")
            or arguments.get("job")
            or settings.get("CRAWLER_REDIS_URL", SETTINGS["CRAWLER_REDIS_URL"])
        ):
            raise ValueError("a Redis worker is already one of many: drop workers= (or set 1)")
        outputs = _outputs(settings.getdict("FEEDS"))
        first = outputs[0].path if outputs else Path("crawl")
        parts = first.parent / f".{first.name}.workers"
        given = {
            name: _setting_argument(settings[name])
            for name in settings
            if name != "FEEDS" and settings.getpriority(name) == SETTINGS_PRIORITIES["cmdline"]
        }
        progress = (
            str(settings.get("CRAWLER_PROGRESS", SETTINGS["CRAWLER_PROGRESS"])).strip().lower()
        )
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
                # one start-up and one summary, the parent's: workers show warnings and errors
                # unless Scrapy's own log is asked for
                "LOG_LEVEL": str(settings.get("LOG_LEVEL"))
                if shows_scrapy_log(settings)
                else "WARNING",
            },
        )

    def resuming(self, journal: Path) -> WorkerPlan:
        """This plan, its workers skipping the entries ``journal`` holds rows for."""
        resume = ",".join(filter(None, [self.arguments.get("resume"), str(journal)]))
        return dataclasses.replace(self, arguments={**self.arguments, "resume": resume})

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


def _lock(parts: Path) -> IO[bytes] | None:
    """Hold ``parts``' lock (the workers inherit it); ``ValueError`` while another run's
    processes hold it. ``None`` where there is no ``fcntl`` (Windows): no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    lock = (parts / LOCK_NAME).open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ValueError(
            f"{parts} is in use by another run, or by the workers of a run whose parent was "
            "killed (they stop within DOWNLOAD_TIMEOUT): run this again once they have exited"
        ) from None
    return lock


def _take_over(plan: WorkerPlan) -> int:
    """Merge what an unfinished earlier run left in ``plan.parts`` into each output's journal
    (the journal is written before any part is deleted); the journal's rows (first output).

    ``ValueError`` if the folder was left by a run of another list.
    """
    from crawler.output.merge import merge  # here: a crawl without workers needs none of it

    run = {"spider": plan.spider, "urls": plan.arguments.get("urls", "")}
    marker = plan.parts / RUN_NAME
    leftovers = {output: output.leftovers(plan.parts) for output in plan.outputs}
    if any(leftovers.values()):
        try:
            earlier = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            earlier = None
        if earlier != run:
            raise ValueError(
                f"{plan.parts} holds the rows of an unfinished run of another list "
                f"({earlier or 'unknown'}): finish it with its own command, or delete the "
                "folder to start over"
            )
    marker.write_text(json.dumps(run), encoding="utf-8")
    rows = 0
    for index, (output, found) in enumerate(leftovers.items()):
        if not found:
            continue
        journal = output.journal(plan.parts)
        merged = plan.parts / f".{journal.name}"
        report = merge(found, merged)
        os.replace(merged, journal)
        for path in found:
            if path != journal:
                path.unlink()
        rows = report.rows_written if index == 0 else rows
    return rows


def _summarise(
    output: Path, settings: BaseSettings, spider: str, source: str, finish_reason: str
) -> None:
    """Log the summary of the merged rows; write the summary file and reports asked for."""
    from crawler.output.report import check_report_path
    from crawler.output.report.reader import read_rows

    with RunSummary() as summary:
        for row in read_rows(output):
            summary.add(row)
        data = summary.as_dict()
        data["run"] = {
            "spider": spider,
            "source": source,
            "finish_reason": finish_reason,
            "exports": [str(output)],
            "slo": settings.get("CRAWLER_SLO", SETTINGS["CRAWLER_SLO"]),
        }
        names = [
            settings.get("CRAWLER_SUMMARY_FILE", SETTINGS["CRAWLER_SUMMARY_FILE"]) or "",
            *settings.getlist("CRAWLER_REPORT_FILES", SETTINGS["CRAWLER_REPORT_FILES"]),
        ]
        paths = [check_report_path(str(n)) for n in names if str(n).strip()]
        publish_summary(data, paths, failing=summary.failing_rows, shown=failures_shown(settings))


def _progress(plan: WorkerPlan, settings: BaseSettings, earlier: int) -> PartsProgress | None:
    """The whole run's progress lines, unless progress is off or the log hides them.

    The total is unknown when resuming from other outputs: the entries already done are the
    workers' to skip. ``earlier`` rows of an unfinished run of this output count as done.
    """
    from crawler.scale.parts_progress import PartsProgress

    mode, _ = progress_settings(settings)  # checked before the workers started
    if mode == "off":
        return None
    if not shows_info(settings):
        return None
    if not plan.outputs:
        return None
    first = plan.outputs[0]
    parts = [first.part(plan.parts, shard) for shard in range(plan.workers)]
    spec = None if plan.arguments.get("resume") else plan.arguments.get("urls", "")
    return PartsProgress(
        parts, spec, header_lines=1 if first.part_format == "csv" else 0, already=earlier
    )


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


def _merge_all(
    plan: WorkerPlan, sources: list[str], *, finished: bool, escape_formulas: bool
) -> bool:
    """Merge the journal and parts into each output; unless ``finished``, into the journal too
    (written before the parts are deleted). ``False`` if an output has no part at all."""
    from crawler.output.merge import merge

    for output in plan.outputs:
        present = output.leftovers(plan.parts)
        if not present:
            logger.error("No worker wrote a part of %s", output.path)
            return False
        merge_started = time.monotonic()
        report = merge(present, output.path, source_order=sources, escape_formulas=escape_formulas)
        logger.info(
            "Merged %d rows from %d workers into %s in %.2f s",
            report.rows_written,
            len(present),
            output.path,
            time.monotonic() - merge_started,
        )
        if not finished:  # the journal of the next run: the rows are safe before parts go
            journal = output.journal(plan.parts)
            merged = plan.parts / f".{journal.name}"
            merge(present, merged, escape_formulas=escape_formulas)
            os.replace(merged, journal)
            for path in present:
                if path != journal:
                    path.unlink()
    return True


def run_workers(plan: WorkerPlan, settings: BaseSettings) -> int:
    """Run the workers of ``plan``, merge their parts, log the summary; the exit status."""
    plan.parts.mkdir(parents=True, exist_ok=True)
    try:
        lock = _lock(plan.parts)
    except ValueError as e:
        logger.error("%s", e)
        return 1
    try:
        return _run(plan, settings, lock)
    finally:
        if lock is not None:
            lock.close()


def _start(plan: WorkerPlan, shard: int, inherited: tuple[int, ...]) -> subprocess.Popen[bytes]:
    """Start worker ``shard``; ``inherited[0]`` is its end of the parent's pipe (POSIX)."""
    if not inherited:
        return subprocess.Popen(plan.command(shard), start_new_session=True)
    env = {**os.environ, PARENT_FD_VARIABLE: str(inherited[0])}
    return subprocess.Popen(
        plan.command(shard), start_new_session=True, pass_fds=inherited, env=env
    )


def _run(plan: WorkerPlan, settings: BaseSettings, lock: IO[bytes] | None) -> int:
    try:
        earlier = _take_over(plan)
    except ValueError as e:
        logger.error("%s", e)
        return 1
    workers_plan = plan
    if plan.outputs and (journal := plan.outputs[0].journal(plan.parts)).exists():
        logger.info(
            "Resuming the unfinished run of this output: %d entries already have a row in %s "
            "(delete it to start over)",
            earlier,
            plan.parts,
        )
        workers_plan = plan.resuming(journal)
    started = time.monotonic()
    processes: list[subprocess.Popen[bytes]] = []
    watched, watching = os.pipe() if os.name == "posix" else (-1, -1)
    inherited = (watched,) + ((lock.fileno(),) if lock is not None else ()) if watched >= 0 else ()
    try:
        with _Forwarder(processes):
            for shard in range(plan.workers):
                processes.append(_start(workers_plan, shard, inherited))
            if watched >= 0:
                os.close(watched)
            logger.info(
                "Started %d workers (pids %s); parts in %s",
                plan.workers,
                ", ".join(str(p.pid) for p in processes),
                plan.parts,
            )
            progress = _progress(plan, settings, earlier)
            try:
                returncodes = _wait(processes, progress, progress_settings(settings)[1])
            finally:
                if progress is not None:
                    progress.stop()
    finally:
        if watching >= 0:
            os.close(watching)  # after the workers ended: they stop once it closes
    logger.info(
        "Workers finished in %.2f s, exit statuses %s", time.monotonic() - started, returncodes
    )
    for shard, code in enumerate(returncodes, 1):
        if code < 0:
            logger.error(
                "Worker %d/%d was stopped by %s: its rows so far are merged",
                shard,
                plan.workers,
                signal.Signals(-code).name,
            )
    failure_code = settings.getint(
        "CRAWLER_FAILURE_EXIT_CODE", SETTINGS["CRAWLER_FAILURE_EXIT_CODE"]
    )
    finished = all(code in (0, failure_code) for code in returncodes)
    sources = input_names(plan.arguments.get("urls"))
    escape_formulas = CsvConfig.from_settings(settings).escape_formulas  # checked at start
    if not _merge_all(plan, sources, finished=finished, escape_formulas=escape_formulas):
        shutil.rmtree(plan.parts, ignore_errors=True)  # nothing in it to keep
        return 1
    if finished:
        shutil.rmtree(plan.parts, ignore_errors=True)
    elif plan.outputs:
        logger.warning(
            "The run did not finish: its rows so far are in %s and kept in %s; run the same "
            "command again to check only the entries without a row",
            ", ".join(str(output.path) for output in plan.outputs),
            plan.parts,
        )
    logger.info("Elapsed %.2f s with %d workers", time.monotonic() - started, plan.workers)
    if plan.outputs:  # the summary is the last thing logged
        _summarise(
            plan.outputs[0].path,
            settings,
            plan.spider,
            ", ".join(sources),
            "finished" if finished else "unfinished",
        )
    return _status(returncodes, failure_code)
