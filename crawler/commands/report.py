"""``scrapy report results.jsonl -o report.html``: reports from an earlier run's export."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.checker.slo import Slo, SloPolicy
from crawler.output.report import check_report_path, write_report
from crawler.output.report.reader import read_results
from crawler.output.summary import RunSummary, log_lines

if TYPE_CHECKING:
    import argparse

logger = logging.getLogger(__name__)


class Command(ScrapyCommand):
    """Summarise CSV / JSON Lines / JSON exports into HTML, Markdown, JUnit XML or JSON."""

    requires_project = False
    requires_crawler_process = False

    def syntax(self) -> str:
        return "<export.csv|.jsonl|.json>... -o report.html [-o report.md -o junit.xml]"

    def short_desc(self) -> str:
        return "Write the summary and reports (HTML, Markdown, JUnit XML, JSON) of an export"

    def long_desc(self) -> str:
        return (
            "Read the rows of one or more exports of `scrapy crawl urls` and write each "
            "-o FILE in the format its suffix names: .html (a self-contained page), .md "
            "(Markdown), .xml (JUnit) or .json (the summary). Without -o, print the summary. "
            "--slo re-judges accepted rows against thresholds (they become 'slow'); --check "
            "exits 2 when some rows are not ok."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o",
            "--output",
            dest="outputs",
            action="append",
            default=[],
            metavar="FILE",
            help="write a report: .html, .md, .xml (JUnit) or .json (summary); repeatable",
        )
        parser.add_argument("--slo", metavar="THRESHOLDS", help="e.g. 'ttfb_ms<500,total_ms<2000'")
        parser.add_argument("--check", action="store_true", help="exit 2 when some rows are not ok")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name at least one export: scrapy report results.jsonl -o report.html")
        with RunSummary() as summary:
            self._report(args, opts, summary)

    def _report(self, args: list[str], opts: argparse.Namespace, summary: RunSummary) -> None:
        try:
            outputs = [check_report_path(name) for name in opts.outputs]
            policy = SloPolicy(Slo.parse(opts.slo, name="--slo")) if opts.slo else SloPolicy()
            for name in args:
                for row in read_results(name):
                    policy.apply(row)
                    summary.add(row)
        except ValueError as e:
            print(f"scrapy report: {e}", file=sys.stderr)
            self.exitcode = 1
            return
        data = summary.as_dict()
        data["run"] = {"source": ", ".join(args), "slo": opts.slo}
        if not outputs:
            print("\n".join(log_lines(data)))
        for path in outputs:
            try:
                write_report(data, path, summary.failing_rows)
            except OSError as e:
                print(f"scrapy report: cannot write {path}: {e}", file=sys.stderr)
                self.exitcode = 1
                return
            print(f"Wrote {path}", file=sys.stderr)
        if opts.check and data["not_ok"]:
            self.exitcode = 2
