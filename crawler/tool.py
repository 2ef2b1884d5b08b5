"""``scrapy-urls INPUT… [OPTIONS]``: the URL checker as an installed command, from any folder.

It runs ``scrapy crawl urls`` with the project's settings (``crawler.settings``, found through
``SCRAPY_SETTINGS_MODULE``, so no ``scrapy.cfg`` is needed) and so with the project's commands:
exit status 0, 2 or 1 and one-line errors. Positional arguments become ``-a urls=INPUT,…``;
every option of ``scrapy crawl`` works as there. See the README, "Install as a tool".
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, NoReturn

from scrapy.cmdline import execute
from scrapy.utils.project import get_project_settings

from crawler.commands.crawl import Command as CrawlCommand

if TYPE_CHECKING:
    from scrapy.settings import Settings

PROG = "scrapy-urls"
SETTINGS_MODULE = "crawler.settings"
SPIDER = "urls"
# Only the checker's spiders: a `spiders` package in the folder the tool runs in is not its own
# (workers run `python -m scrapy`, which puts that folder first on sys.path).
SPIDER_MODULES = "crawler.spiders"

USAGE = f"""usage: {PROG} [INPUT ...] [OPTIONS]

Check every URL of the INPUT files (- for standard input): `scrapy crawl {SPIDER}` with
`-a urls=INPUT,...`. Every option and spider argument below works as there.

"""


def main(argv: list[str] | None = None) -> NoReturn:
    """The ``scrapy-urls`` console script: exits with ``scrapy crawl``'s status."""
    args = sys.argv[1:] if argv is None else argv
    os.environ["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE  # inherited by workers
    settings = get_project_settings()
    settings.set("SPIDER_MODULES", SPIDER_MODULES, priority="cmdline")  # workers get it too
    inputs, options, opts = split_inputs(args, settings)
    if opts.help_wanted:
        sys.stdout.write(USAGE)
        sys.stdout.flush()
    named = {argument.split("=", 1)[0] for argument in opts.spargs}
    if inputs and "urls" in named:
        _usage_error("give the inputs as arguments or as -a urls=..., not both")
    if inputs:
        options = ["-a", f"urls={','.join(inputs)}", *options]
    # without inputs, `scrapy crawl urls` checks the repository's example list: not installed
    elif not (opts.help_wanted or "urls" in named or _redis_worker(named, opts.set)):
        _usage_error("name the INPUT files to check (- for standard input), or -a redis=URL")
    execute([PROG, "crawl", SPIDER, *options], settings)
    raise AssertionError("scrapy.cmdline.execute returned")  # it always exits


def split_inputs(
    args: list[str], settings: Settings
) -> tuple[list[str], list[str], argparse.Namespace]:
    """The positional inputs of ``args``, its other arguments (in their order) and the parsed
    options, split by the parser of ``scrapy crawl`` itself (values, ``--`` and abbreviations as
    there): each possible positional is replaced by a marker holding its index first."""
    parser = argparse.ArgumentParser(
        prog=PROG, add_help=False, conflict_handler="resolve", exit_on_error=False
    )
    command = CrawlCommand()
    command.settings = settings
    command.add_options(parser)
    end = args.index("--") if "--" in args else len(args)
    marked = [
        f"\0{index}" if arg == "-" or not arg.startswith("-") else arg
        for index, arg in enumerate(args[:end])
    ]
    try:
        opts, rest = parser.parse_known_args(marked)
    except argparse.ArgumentError as e:
        _usage_error(str(e))
    positional = {int(arg[1:]) for arg in rest if arg.startswith("\0")}
    for name in ("spargs", "set"):  # NAME=VALUE lists: their values, not their markers
        setattr(opts, name, [_unmarked(value, args) for value in getattr(opts, name)])
    inputs = [args[index] for index in sorted(positional)] + args[end + 1 :]
    options = [arg for index, arg in enumerate(args[:end]) if index not in positional]
    return inputs, options, opts


def _unmarked(value: str, args: list[str]) -> str:
    return args[int(value[1:])] if value.startswith("\0") else value


def _redis_worker(spider_arguments: set[str], settings: list[str]) -> bool:
    """Whether the run takes its entries from a Redis job (``-a redis=URL`` or the setting)."""
    return "redis" in spider_arguments or any(
        setting.startswith("CRAWLER_REDIS_URL=") for setting in settings
    )


def _usage_error(message: str) -> NoReturn:
    """One line and exit status 1, as ``scrapy crawl``'s own usage errors (2 means "not ok")."""
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.exit(1)
