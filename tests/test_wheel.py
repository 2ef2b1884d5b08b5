"""The built wheel in a fresh virtual environment, run from folders with no ``scrapy.cfg``: the
checker as a command (``scrapy-urls``), its help, and the add-on in a foreign project."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings

from crawler.names import SPIDER_ARGUMENTS
from crawler.tool import split_inputs
from tests._apps import checker_app
from tests._scrapy import run_scrapy

if TYPE_CHECKING:
    from tests.servers import ServerLoop

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# what a clean checkout holds, less its environments and build leftovers: setuptools builds in
# the source tree and keeps build/lib between builds, which can carry deleted modules along
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".scrapy"
)


@dataclass(frozen=True)
class Installed:
    """A virtual environment holding the wheel; its dependencies come from this interpreter's
    site-packages through a plain ``.pth`` path line (not processed for ``.pth`` files, so an
    editable install of the project there stays out)."""

    wheel: Path
    venv: Path
    site_packages: Path

    def run(
        self, *command: str, cwd: Path, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (a script of the environment's ``bin``) as a user would there."""
        env = {
            name: value
            for name, value in os.environ.items()
            if name != "PYTHONPATH" and not name.startswith("SCRAPY_")
        }
        return subprocess.run(
            [str(self.venv / "bin" / command[0]), *command[1:]],
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _checked(command: list[str | Path]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"[-3000:]
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from a copy of the source tree, installed in a new environment."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=NOT_SOURCE)
    _checked([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root), source])
    (wheel,) = root.glob("scrapy_aiohttp_timing-*.whl")
    venv = root / "venv"
    _checked([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = str(venv / "bin" / "python")
    site = _checked([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    site_packages = Path(site.stdout.strip())
    ours = sysconfig.get_paths()
    (site_packages / "test_dependencies.pth").write_text(
        "\n".join(sorted({ours["purelib"], ours["platlib"]})) + "\n"
    )
    # --ignore-installed: the project as installed here (editable) is neither used nor touched
    install = ["install", "-q", "--no-deps", "--no-index", "--ignore-installed", str(wheel)]
    _checked([python, "-m", "pip", *install])
    return Installed(wheel, venv, site_packages)


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def test_the_wheel_ships_the_checker_its_templates_and_no_spiders_package(
    installed: Installed, tmp_path: Path
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top_level == {"crawler", "middlewares"}
    assert {"crawler/py.typed", "crawler/spiders/urls.py"} <= names
    templates = {
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in PROJECT_ROOT.glob("crawler/**/templates/**/*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {Path(name).suffix for name in templates} >= {".tmpl", ".j2", ".css", ".js"}
    assert templates <= names, sorted(templates - names)
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "scrapy-urls = crawler.tool:main" in scripts
    # in the environment, from elsewhere: the installed copy, and no `spiders` package
    found = installed.run(
        "python",
        "-c",
        "import crawler, importlib.util as u; print(crawler.__file__, u.find_spec('spiders'))",
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == [
        str(installed.site_packages / "crawler" / "__init__.py"),
        "None",
    ]


def test_scrapy_urls_checks_lists_from_any_folder(
    installed: Installed, site: str, tmp_path: Path
) -> None:
    (tmp_path / "links.txt").write_text(f"{site}/ok\n{site}/status/404\n")
    # a `spiders` package where the tool runs is not the tool's: never imported, even by the
    # workers (`python -m scrapy` puts their folder first on sys.path)
    (tmp_path / "spiders").mkdir()
    (tmp_path / "spiders" / "__init__.py").write_text("")
    (tmp_path / "spiders" / "boom.py").write_text("raise RuntimeError('a folder spider ran')\n")

    two = installed.run(
        "scrapy-urls", "links.txt", "-a", "workers=2", "-O", "out.csv", cwd=tmp_path
    )
    assert two.returncode == 2, two.stderr[-3000:]  # the project's crawl command: some not ok
    assert "a folder spider ran" not in two.stderr
    with (tmp_path / "out.csv").open(newline="") as rows:
        outcomes = {row["url"]: row["outcome"] for row in csv.DictReader(rows)}
    assert outcomes == {f"{site}/ok": "ok", f"{site}/status/404": "http_error"}

    # options first, standard input as `-`, a setting: all ok, exit 0
    one = installed.run(
        "scrapy-urls",
        "-s",
        "CRAWLER_PROGRESS=off",
        "-O",
        "ok.jsonl",
        "-",
        cwd=tmp_path,
        stdin=f"{site}/ok\n",
    )
    assert one.returncode == 0, one.stderr[-3000:]
    (row,) = [json.loads(line) for line in (tmp_path / "ok.jsonl").read_text().splitlines()]
    assert (row["url"], row["outcome"], row["source"]) == (f"{site}/ok", "ok", "-")

    # bad input: one error line and exit 1, from the project's command and from the tool
    for args, error in [
        (("links.txt", "-O", "out.xyz"), "Unrecognized output format 'xyz'"),
        (("links.txt", "-O"), "expected one argument"),
        (("links.txt", "-a", "urls=other.txt"), "not both"),
        ((), "name the INPUT files to check"),
    ]:
        bad = installed.run("scrapy-urls", *args, cwd=tmp_path)
        assert bad.returncode == 1, (args, bad.stderr[-3000:])
        assert error in bad.stderr, (args, bad.stderr[-3000:])
        assert "Traceback" not in bad.stderr


def test_scrapy_urls_help_lists_every_argument(installed: Installed, tmp_path: Path) -> None:
    shown = installed.run("scrapy-urls", "-h", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: scrapy-urls [INPUT ...] [OPTIONS]")
    for name in SPIDER_ARGUMENTS:
        assert f"-a {name}=VALUE" in shown.stdout, name
    for option in ("-O FILE", "-s NAME=VALUE", "--logfile FILE"):
        assert option in shown.stdout


SPIDER = """
import crawler
import scrapy
from crawler import timing_fields


class TimedSpider(scrapy.Spider):
    name = "timed"

    async def start(self):
        yield scrapy.Request({url!r})

    def parse(self, response):
        yield {{"status": response.status, "package": crawler.__file__, **timing_fields(response)}}
"""


def test_the_addon_in_a_foreign_project(installed: Installed, site: str, tmp_path: Path) -> None:
    made = installed.run("python", "-m", "scrapy", "startproject", "demo", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "demo"
    settings = project / "demo" / "settings.py"
    settings.write_text(settings.read_text() + '\nADDONS = {"crawler.addon.Addon": 0}\n')
    (project / "demo" / "spiders" / "timed.py").write_text(SPIDER.format(url=f"{site}/ok"))
    listed = installed.run("python", "-m", "scrapy", "list", cwd=project)
    assert listed.stdout.split() == ["timed"], listed.stderr  # its own spiders, not the checker
    crawled = installed.run(
        "python", "-m", "scrapy", "crawl", "timed", "-O", "items.jsonl", cwd=project
    )
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    (item,) = [json.loads(line) for line in (project / "items.jsonl").read_text().splitlines()]
    assert item["package"] == str(installed.site_packages / "crawler" / "__init__.py")
    assert (item["status"], item["ip"]) == (200, "127.0.0.1")
    assert item["ttfb_ms"] > 0
    assert "crawler.addon.Addon" in crawled.stderr


def test_the_repository_lists_the_checker_once() -> None:
    listed = run_scrapy("list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["site", "urls"]
    assert "several spiders with the same name" not in listed.stderr


@pytest.mark.parametrize(
    ("args", "inputs", "options"),
    [
        (["links.txt", "-O", "out.csv"], ["links.txt"], ["-O", "out.csv"]),
        (["-O", "out.csv", "a.txt", "b.csv"], ["a.txt", "b.csv"], ["-O", "out.csv"]),
        (["-", "-aworkers=2", "--out=x.jsonl"], ["-"], ["-aworkers=2", "--out=x.jsonl"]),
        (
            ["--overwrite", "x.csv", "a.txt", "-L", "INFO"],
            ["a.txt"],
            ["--overwrite", "x.csv", "-L", "INFO"],
        ),
        (["--nolog", "a.txt", "-s", "A=1"], ["a.txt"], ["--nolog", "-s", "A=1"]),
        (["-O", "x.csv", "--", "-odd.txt", "b.txt"], ["-odd.txt", "b.txt"], ["-O", "x.csv"]),
        (["--bogus", "a.txt"], ["a.txt"], ["--bogus"]),  # `scrapy crawl` reports it
    ],
)
def test_inputs_are_split_from_options_as_scrapy_crawl_parses_them(
    args: list[str], inputs: list[str], options: list[str]
) -> None:
    split, rest, opts = split_inputs(args, Settings())
    assert (split, rest) == (inputs, options)
    assert "".join(opts.spargs + opts.set).isprintable()  # values, not their markers
