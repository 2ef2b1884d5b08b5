"""``scrapy merge``: the workers' outputs as one export with one row per input entry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.commands.feed import (
    add_job_options,
    fail,
    interruptible,
    job_from_options,
    redis_failures,
)
from crawler.names import SETTINGS
from crawler.output.cells import CsvConfig, row_url
from crawler.redact import Redactor
from crawler.scale.redis.config import INTERRUPTED, RedisUnavailableError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

    import redis

    from crawler.output.merge import MergeReport
    from crawler.scale.redis.config import RedisJob


def _job_entries(
    client: redis.Redis, job: RedisJob, shown: Callable[[str], str]
) -> Iterator[tuple[str, int, str]]:
    """The job's entries, each with its URL as its row shows it (``shown``)."""
    start = "-"
    while True:
        messages = cast(
            "list[tuple[str, dict[str, str]]]",
            client.xrange(job.entries_key, min=start, count=10_000),
        )
        for message_id, fields in messages:
            yield fields["source"], int(fields["line"]), shown(fields.get("url", ""))
            start = f"({message_id}"
        if len(messages) < 10_000:
            return


class Command(ScrapyCommand):
    """Merge workers' CSV/JSONL outputs; with a Redis job, check every entry has its row."""

    requires_project = True
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "-O OUTPUT [--redis URL] [--job NAME] PART [PART ...]"

    def short_desc(self) -> str:
        return "Merge the outputs of many workers into one export, one row per entry"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-O",
            dest="output",
            metavar="FILE",
            required=True,
            help="merged output (.csv, .jsonl or .json)",
        )
        add_job_options(parser)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name the workers' outputs to merge")
        parts, output = [Path(arg) for arg in args], Path(opts.output)
        assert self.settings is not None
        interruptible()
        try:
            if (
                opts.redis
                or opts.job
                or self.settings.get("CRAWLER_REDIS_URL", SETTINGS["CRAWLER_REDIS_URL"])
            ):
                self._merge_job(job_from_options(self, opts), parts, output)
            else:
                from crawler.output.merge import merge  # here: every command loads at start

                report = merge(parts, output, escape_formulas=self._escape_formulas())
                self._print(report, output)
        except (ValueError, RedisUnavailableError) as e:
            fail(self, str(e))
        except KeyboardInterrupt:
            fail(self, f"merge interrupted (Ctrl-C); {output} was not written")

    def _merge_job(self, job: RedisJob, parts: list[Path], output: Path) -> None:
        from crawler.output.merge import merge
        from crawler.scale.redis.feed import connect

        assert self.settings is not None
        redactor = Redactor.from_settings(self.settings)  # rows show URLs as it does
        client = connect(job)
        try:
            with redis_failures(job, "merging"):
                meta = cast("dict[str, str]", client.hgetall(job.meta_key))
                if not meta:
                    raise ValueError(f"job {job.name!r} does not exist in Redis (fed nothing yet?)")
                order = meta.get("sources", "").split(",")
                entries = _job_entries(client, job, lambda url: row_url(url, redactor))
                report = merge(
                    parts,
                    output,
                    source_order=order,
                    entries=entries,
                    escape_formulas=self._escape_formulas(),
                )
        finally:
            client.close()
        self._print(report, output, job=True)
        if meta.get("state") == INTERRUPTED:
            fail(
                self,
                f"the feed of job {job.name!r} was interrupted: its entries are not the whole "
                "list; feed it again with `scrapy feed --reset`, check it, then merge",
            )
        elif meta.get("state") != "fed":
            fail(self, f"job {job.name!r} is still being fed: merge again when it is done")
        elif report.missing_count:
            shown = ", ".join(f"{source}:{line}" for source, line in report.missing)
            fail(
                self,
                f"{report.missing_count} entries of job {job.name!r} have no row yet "
                f"({shown}...): run a worker to finish them, then merge again",
            )

    def _escape_formulas(self) -> bool:
        assert self.settings is not None
        return CsvConfig.from_settings(self.settings).escape_formulas

    def _print(self, report: MergeReport, output: Path, *, job: bool = False) -> None:
        foreign = f", {report.foreign} rows of no entry of the job dropped" if job else ""
        print(
            f"Merged {report.parts} parts into {output}: {report.rows_written} rows "
            f"({report.rows_read} read, {report.duplicates} duplicate rows dropped, "
            f"{report.cut_lines} cut-off lines dropped{foreign})"
        )
