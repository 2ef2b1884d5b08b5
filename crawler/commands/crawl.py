"""``scrapy crawl`` with a checker's exit status: 0 all accepted, 2 some not, 1 on errors."""

from __future__ import annotations

import asyncio
import atexit
import gc
import logging
import sys
from typing import TYPE_CHECKING, NoReturn

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.misc import load_object

from crawler.checker.pipeline import ROWS_MISSING, ROWS_NOT_OK_STAT
from crawler.checker.spider import UrlCheckSpider
from crawler.console import quiet_scrapy_log
from crawler.items import ROWS_RESUMED_NOT_OK_STAT
from crawler.names import SETTINGS
from crawler.output.cells import CsvConfig
from crawler.output.exporters import EXPORTS_FAILED
from crawler.output.feeds import check_outputs, check_resume_outputs
from crawler.output.progress import progress_settings
from crawler.scale.redis.config import REDIS_ERRORS_STAT, check_worker_outputs
from crawler.scale.shard import watch_parent, workers_wanted
from crawler.site.sitemaps import SITEMAP_ERRORS_STAT

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

    from crawler.scale.workers import WorkerPlan

logger = logging.getLogger(__name__)


def exit_status(crawler: Crawler) -> int:
    """The process exit status a crawl deserves: 1 unless it finished (a forced stop, a second
    Ctrl-C, never closes it, so it has no ``finish_reason`` and its rows were never counted)."""
    stats = crawler.stats
    if stats.get_value("finish_reason") != "finished":
        return 1
    if stats.get_value(ROWS_MISSING, 0):
        return 1
    if stats.get_value(EXPORTS_FAILED, 0):
        return 1
    if stats.get_value(REDIS_ERRORS_STAT, 0):
        return 1
    if stats.get_value(SITEMAP_ERRORS_STAT, 0):  # a site crawl's seeds left unread
        return 1
    if stats.get_value(ROWS_NOT_OK_STAT, 0) or stats.get_value(ROWS_RESUMED_NOT_OK_STAT, 0):
        return crawler.settings.getint(
            "CRAWLER_FAILURE_EXIT_CODE", SETTINGS["CRAWLER_FAILURE_EXIT_CODE"]
        )
    return 0


class Command(ScrapyCrawlCommand):
    """Scrapy's ``crawl``, unchanged but for its exit status and a one-line input check."""

    parser: argparse.ArgumentParser | None = None

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """Scrapy's options; the parser is kept to report usage errors with exit status 1.
        ``-h`` also lists the arguments of the spider named before it."""
        super().add_options(parser)
        parser.add_argument(
            "-h",
            "--help",
            action="store_true",
            dest="help_wanted",
            help="show this help and the spider's arguments (scrapy crawl urls -h), then exit",
        )
        self.parser = parser

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Scrapy's options; then the ``ASYNCIO_EVENT_LOOP`` loop is made the current one, so
        Scrapy does not create a default loop first and leave it to be collected (with uvloop
        that printed "Exception ignored in BaseEventLoop.__del__" on early exits)."""
        if opts.help_wanted:
            self._print_help(args)
        try:
            super().process_options(args, opts)
        except UsageError as e:  # e.g. -O out.xyz
            self._usage_error(str(e))
        if self.settings is None:
            return
        quiet_scrapy_log(self.settings)
        if path := self.settings.get("ASYNCIO_EVENT_LOOP"):
            asyncio.set_event_loop(load_object(path)())

    def _print_help(self, args: list[str]) -> NoReturn:
        """Scrapy's help for ``crawl``, then the arguments of the spider in ``args``, if any."""
        assert self.parser is not None
        text = self.parser.format_help()
        if args and self.settings is not None:
            try:
                spidercls = get_spider_loader(self.settings).load(args[0])
            except KeyError:
                text += f"\nNo spider named {args[0]!r}: `scrapy list` names them.\n"
            else:
                text += _arguments_help(args[0], getattr(spidercls, "arguments", {}))
        sys.stdout.write(text)
        sys.exit(0)

    def _usage_error(self, message: str) -> NoReturn:
        """Scrapy's usage line and error, with exit status 1: 2 means "some rows not ok"."""
        if self.parser is None:
            raise UsageError(message)
        self.parser.print_usage(sys.stderr)
        self.parser.exit(1, f"{self.parser.prog}: error: {message}\n")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        watch_parent()  # a worker of `-a workers=N` stops when its parent dies
        # The interpreter's last collections, at exit, walk every object of Scrapy, Twisted and
        # aiohttp more than once, to free what the exit frees anyway: a crawl has closed what
        # it opened. Frozen first (atexit calls it before them), they are left alone.
        atexit.register(gc.freeze)
        if unknown := [arg for arg in args if arg.startswith("-")]:
            self._usage_error(f"unrecognized arguments: {' '.join(unknown)}")
        if len(args) != 1:
            self._usage_error("run one spider: scrapy crawl <spider>")
        assert self.crawler_process
        spidercls = self.crawler_process.spider_loader.load(args[0])
        settings = self.crawler_process.settings
        try:
            plan = (
                _checked_plan(args[0], spidercls, opts.spargs, settings)
                if issubclass(spidercls, UrlCheckSpider)
                else None
            )
            check_outputs(settings.getdict("FEEDS"))
            CsvConfig.from_settings(settings)
        except ValueError as e:
            logger.error("%s", e)
            self.exitcode = 1
            return
        if plan is not None:
            from crawler.scale.workers import run_workers

            self.exitcode = run_workers(plan, settings)
            return
        try:
            crawler = self.crawler_process.create_crawler(spidercls)
        except ValueError as e:  # a bad setting, e.g. CRAWLER_HOSTS, read by update_settings
            logger.error("%s", e)
            self.exitcode = 1
            return
        started = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(started, asyncio.Future):
            started.add_done_callback(_report_bad_value)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        else:
            self.exitcode = exit_status(crawler)


def _report_bad_value(crawl: asyncio.Future[None]) -> None:
    """A bad value found while the crawl is built (``ValueError``, e.g. from the spider's
    ``from_crawler``) is one error line, not an asyncio traceback; the run exits 1."""
    if not crawl.cancelled() and isinstance(error := crawl.exception(), ValueError):
        logger.error("%s", error)
    elif not crawl.cancelled() and (error := crawl.exception()) is not None:
        logger.error("The crawl could not start", exc_info=error)


def _arguments_help(spider: str, arguments: Mapping[str, str]) -> str:
    if not arguments:
        return f"\nThe spider {spider!r} lists no arguments.\n"
    width = max(len(name) for name in arguments) + len("-a =VALUE")
    lines = [f"  {f'-a {name}=VALUE':<{width}}  {text}" for name, text in arguments.items()]
    return f"\nArguments of the {spider!r} spider:\n" + "\n".join(lines) + "\n"


def _checked_plan(
    spider: str, spidercls: type[UrlCheckSpider], arguments: dict[str, str], settings: Settings
) -> WorkerPlan | None:
    """Check a URL check run's arguments and settings (``ValueError``); its workers' plan."""
    spidercls.check_arguments(**arguments)
    spidercls.check_settings(settings)
    progress_settings(settings)
    if arguments.get("redis") or settings.get("CRAWLER_REDIS_URL", SETTINGS["CRAWLER_REDIS_URL"]):
        check_worker_outputs(settings)
    workers = workers_wanted(arguments, settings)
    if resume := arguments.get("resume"):
        check_resume_outputs(settings.getdict("FEEDS"), resume, workers=workers)
    if workers <= 1:
        return None
    from crawler.scale.workers import WorkerPlan  # the parent's side: not in a plain run

    return WorkerPlan.from_run(spider, arguments, settings, workers)
