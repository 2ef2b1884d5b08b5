"""Every ``scrapy`` command the README and ``docs/`` show, run as written against loopback servers.

The shell blocks of the docs are parsed; each command line that runs ``scrapy`` must be a step of
one of the ``SCENARIOS`` below, which run it with its file names turned into files of a temporary
folder and its Redis URL into the test server's, then check its exit status and what it wrote.
A command the docs show and no scenario runs fails ``test_every_documented_command_is_run``.
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

from tests._apps import checker_app
from tests._crawl import read_rows
from tests._scrapy import PROJECT_ROOT, run_scrapy

if TYPE_CHECKING:
    from tests.servers import ServerLoop

DOCS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNS_SCRAPY = re.compile(r"(?:^|\|\s*)scrapy\s")
FILE_NAME = re.compile(r"\.?[\w$()*-]+(?:\.[a-z]+)+")
DOC_REDIS = "redis://HOST:6379/0"
DOC_SITE = "https://docs.example.org/"
"""The site the docs check; a page of the loopback server stands in for it."""


def documented_commands() -> dict[str, list[str]]:
    """Each command line of a shell block that runs ``scrapy``, with the pages showing it."""
    commands: dict[str, list[str]] = {}
    for page in DOCS:
        for block in SHELL_BLOCK.findall(page.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                command = " ".join(re.sub(r"\s+#[^'\"]*$", "", line).split())
                if RUNS_SCRAPY.search(command):
                    commands.setdefault(command, []).append(page.name)
    return commands


Check = Callable[[Path, subprocess.CompletedProcess[str]], None]


@dataclass(frozen=True)
class Step:
    """One documented command, the exit status it must end with, and what it must have written."""

    command: str
    exit_status: int
    check: Check | None = None
    before: Callable[[Path, str], None] | None = None  # changes the files first


@dataclass(frozen=True)
class Scenario:
    """Input files (``{site}`` is the loopback server) and the steps run on them in order."""

    files: dict[str, str]
    steps: list[Step]
    redis: bool = False


def _rows(tmp_path: Path, name: str) -> dict[str, dict[str, Any]]:
    """The rows of an export, by their URL's path and query."""
    return {
        re.sub(r"^https?://[^/]+", "", str(row["url"])): row for row in read_rows(tmp_path / name)
    }


def _outcomes(tmp_path: Path, name: str) -> dict[str, str]:
    return {url: str(row["outcome"]) for url, row in _rows(tmp_path, name).items()}


def _append(*lines: str) -> Callable[[Path, str], None]:
    def append(tmp_path: Path, site: str) -> None:
        with (tmp_path / "links.txt").open("a") as file:
            file.writelines(f"{line.format(site=site)}\n" for line in lines)

    return append


LINKS = "{site}/ok\n{site}/status/404\n{site}/status/403\n{site}/redirect/2\n"
LINKS_OUTCOMES = {
    "/ok": "ok",
    "/status/404": "http_error",
    "/status/403": "http_error",
    "/redirect/2": "ok",
}


def _checks_links(name: str, expected: dict[str, str]) -> Check:
    def check(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
        assert _outcomes(tmp_path, name) == expected

    return check


def _accepts_403(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    rows = _rows(tmp_path, "results.csv")
    assert (rows["/status/403"]["outcome"], rows["/status/403"]["ok"]) == ("ok", "true")
    assert rows["/status/404"]["outcome"] == "http_error"


def _asked_with_head(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    rows = _rows(tmp_path, "results.csv")
    assert (rows["/ok"]["outcome"], rows["/ok"]["method"]) == ("ok", "HEAD")


def _in_input_order(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    rows = read_rows(tmp_path / "results.csv")
    assert [row["line"] for row in rows] == [str(n) for n in range(1, 13)]
    assert {row["outcome"] for row in rows} == {"ok"}


def _permanent_redirect(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    row = _rows(tmp_path, "results.jsonl")["/moved"]
    assert (row["outcome"], row["permanent_redirect"]) == ("ok", True)
    assert str(row["moved_to"]).endswith("/ok")


def _cached(*expected: str) -> Check:
    def check(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
        rows = sorted(read_rows(tmp_path / "results.csv"), key=lambda row: int(row["line"]))
        assert [row["cached"] for row in rows] == list(expected)
        assert (tmp_path / ".linkcache.sqlite").is_file()

    return check


def _line_count(name: str, count: int) -> Check:
    def check(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
        rows = read_rows(_path(tmp_path, name))
        assert sorted(int(row["line"]) for row in rows) == list(range(1, count + 1))

    return check


def _rest_of_the_list(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    _line_count("results.csv", 2)(tmp_path, result)
    assert [int(row["line"]) for row in read_rows(tmp_path / "rest.csv")] == [3, 4]


def _delete_reports(tmp_path: Path, site: str) -> None:
    for name in ("report.html", "report.md", "junit.xml"):
        (tmp_path / name).unlink()


def _row_count(name: str, count: int) -> Check:
    def check(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
        assert len(read_rows(_path(tmp_path, name))) == count

    return check


def _summary_file(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    data = json.loads((tmp_path / "results.summary.json").read_text())
    assert (data["rows"], data["ok"], data["not_ok"]) == (4, 2, 2)


def _printed_summary(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    assert "Summary: 4 rows, 2 ok, 2 not ok" in result.stdout + result.stderr


def _reports(*names: str) -> Check:
    def check(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
        for name in names:
            assert "/status/404" in (tmp_path / name).read_text(), name
        assert 'failures="2"' in (tmp_path / "junit.xml").read_text()

    return check


def _json_summary(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    _reports("report.html", "report.md", "junit.xml")(tmp_path, result)
    assert json.loads((tmp_path / "summary.json").read_text())["not_ok"] == 2


def _slow(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    rows = _rows(tmp_path, "results.csv")
    assert rows["/ok"]["outcome"] == "ok"
    assert rows["/slow?s=0.6"]["outcome"] == "slow"
    assert "SLO ttfb_ms<500" in rows["/slow?s=0.6"]["error"]


def _redis_merge(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    rows = read_rows(tmp_path / "results.csv")
    assert [(Path(row["source"]).name, row["line"], row["outcome"]) for row in rows] == [
        ("links.txt", "1", "ok"),
        ("links.txt", "2", "http_error"),
        ("more.csv.gz", "2", "ok"),
    ]


SCENARIOS: dict[str, Scenario] = {
    "check": Scenario(
        {"links.txt": LINKS},
        [
            Step(
                "scrapy crawl urls -a urls=links.txt -O results.csv",
                2,
                _checks_links("results.csv", LINKS_OUTCOMES),
            ),
            Step(
                "scrapy crawl urls -a urls=links.txt -a accept='200..=299,403' -O results.csv",
                2,
                _accepts_403,
            ),
            Step(
                "scrapy crawl urls -a urls=links.txt -a method=head -O results.csv",
                2,
                _asked_with_head,
            ),
        ],
    ),
    "inputs": Scenario(
        {"a.txt": "{site}/ok\n", "b.csv.gz": "url\n{site}/status/404\n", "links.txt": LINKS},
        [
            Step(
                "scrapy crawl urls -a urls=a.txt,b.csv.gz -O results.jsonl",
                2,
                _checks_links("results.jsonl", {"/ok": "ok", "/status/404": "http_error"}),
            ),
            Step(
                "cat links.txt | scrapy crawl urls -a urls=- -O results.json",
                2,
                _checks_links("results.json", LINKS_OUTCOMES),
            ),
        ],
    ),
    "include and exclude": Scenario(
        {"links.txt": "{site}/ok\nhttps://www.linkedin.com/in/nobody\n"},
        [
            Step(
                "scrapy crawl urls -a urls=links.txt "
                "-a exclude='^https?://(www\\.)?linkedin\\.com/' -O results.csv",
                0,
                _checks_links("results.csv", {"/ok": "ok", "/in/nobody": "excluded"}),
            ),
            Step(
                "scrapy crawl urls -a urls=links.txt "
                "-s 'CRAWLER_INCLUDE=^https://docs\\.example\\.org/' -O results.csv",
                0,
                _checks_links("results.csv", {"/ok": "excluded", "/in/nobody": "excluded"}),
            ),
        ],
    ),
    "workers": Scenario(
        {"big.txt": "".join(f"{{site}}/ok?n={n}\n" for n in range(12))},
        [
            Step(
                "scrapy crawl urls -a urls=big.txt -a workers=auto -O results.csv",
                0,
                _in_input_order,
            )
        ],
    ),
    "redirects": Scenario(
        {"links.txt": "{site}/moved\n"},
        [Step("scrapy crawl urls -a urls=links.txt -O results.jsonl", 0, _permanent_redirect)],
    ),
    "cache": Scenario(
        {"links.txt": "{site}/ok\n{site}/status/404\n"},
        [
            Step(
                "scrapy crawl urls -a urls=links.txt -s CRAWLER_CACHE=.linkcache.sqlite "
                "-O results.csv",
                2,
                _cached("false", "false"),
            ),
            Step(
                "scrapy crawl urls -a urls=links.txt -s CRAWLER_CACHE=.linkcache.sqlite "
                "-O results.csv",
                2,
                _cached("true", "false"),
            ),
        ],
    ),
    "resume": Scenario(
        {"links.txt": "{site}/ok?n=1\n{site}/ok?n=2\n"},
        [
            Step(
                "scrapy crawl urls -a urls=links.txt -O results.csv",
                0,
                _line_count("results.csv", 2),
            ),
            Step(
                "scrapy crawl urls -a urls=links.txt -a resume=results.csv -a workers=4 "
                "-O rest.csv",
                0,
                _rest_of_the_list,
                before=_append("{site}/ok?n=3", "{site}/ok?n=4"),
            ),
            Step("scrapy merge -O all.csv results.csv rest.csv", 0, _line_count("all.csv", 4)),
            Step(
                "scrapy crawl urls -a urls=links.txt -a resume=results.csv -o results.csv",
                2,
                _line_count("results.csv", 5),
                before=_append("{site}/status/404"),
            ),
        ],
    ),
    "outputs": Scenario(
        {"links.txt": LINKS},
        [
            Step(
                "scrapy crawl urls -a urls=links.txt -O results.csv "
                "-s CRAWLER_SUMMARY_FILE=results.summary.json",
                2,
                _summary_file,
            ),
            Step("scrapy report results.csv", 0, _printed_summary),
            Step("scrapy report results.csv --slo 'total_ms<2000' --check", 2, _printed_summary),
            Step(
                "scrapy crawl urls -a urls=links.txt -O results.jsonl "
                "-s CRAWLER_REPORT_FILES=report.html,report.md,junit.xml",
                2,
                _reports("report.html", "report.md", "junit.xml"),
            ),
            Step(
                "scrapy report results.jsonl -o report.html -o report.md -o junit.xml "
                "-o summary.json",
                0,
                _json_summary,
                before=_delete_reports,
            ),
        ],
    ),
    "slo": Scenario(
        {"links.txt": "{site}/ok\n{site}/slow?s=0.6\n"},
        [
            Step(
                "scrapy crawl urls -a urls=links.txt -a 'slo=ttfb_ms<500,total_ms<2000' "
                "-O results.csv",
                2,
                _slow,
            ),
            Step(
                "scrapy crawl urls -a urls=links.txt -s 'CRAWLER_SLO=total_ms<2000' -O results.csv",
                0,
                _checks_links("results.csv", {"/ok": "ok", "/slow?s=0.6": "ok"}),
            ),
        ],
    ),
    "site": Scenario(
        {"seeds.txt": "{site}/ok\n{site}/status/404\n"},
        [
            Step(
                f"scrapy crawl site -a urls={DOC_SITE} -O links.csv",
                0,
                _checks_links("links.csv", {"/ok": "ok"}),
            ),
            Step(  # finished already: no link gets a second row
                f"scrapy crawl site -a urls={DOC_SITE} -a resume=links.csv -o links.csv",
                0,
                _row_count("links.csv", 1),
            ),
            Step(
                "scrapy crawl site -a urls=seeds.txt -a depth=3 -a max_pages=500 -O links.jsonl",
                2,
                _checks_links("links.jsonl", {"/ok": "ok", "/status/404": "http_error"}),
            ),
        ],
    ),
    "redis": Scenario(
        {
            "links.txt": "{site}/ok\n{site}/status/404\n",
            "more.csv.gz": "url\n{site}/ok?more\n",
        },
        [
            Step("scrapy feed --redis redis://HOST:6379/0 links.txt more.csv.gz", 0),
            Step(
                "scrapy crawl urls -a redis=redis://HOST:6379/0 -O results-$(hostname)-$$.csv",
                2,
                _row_count("results-$(hostname)-$$.csv", 3),
            ),
            Step(
                "scrapy merge --redis redis://HOST:6379/0 -O results.csv results-*.csv",
                0,
                _redis_merge,
            ),
        ],
        redis=True,
    ),
}


def _path(tmp_path: Path, name: str) -> Path:
    """The temporary file a documented file name stands for."""
    return tmp_path / name.replace("$(hostname)-$$", "host-1")


def _arguments(tokens: list[str], tmp_path: Path, redis_url: str | None, site: str) -> list[str]:
    """The command's arguments with its file names, Redis URL and site made real."""
    arguments: list[str] = []
    for token in tokens:
        real = token.replace(DOC_REDIS, redis_url) if redis_url is not None else token
        if DOC_SITE in real:
            arguments.append(real.replace(DOC_SITE, f"{site}/ok"))
            continue
        if "*" in real and FILE_NAME.fullmatch(real):
            arguments += [str(path) for path in sorted(tmp_path.glob(real))]
            continue
        arguments.append(FILE_NAME.sub(lambda m: str(_path(tmp_path, m.group())), real))
    return arguments


def run_documented(
    command: str, tmp_path: Path, redis_url: str | None, site: str
) -> subprocess.CompletedProcess[str]:
    """Run a documented command line as written, in the project, on the files of ``tmp_path``."""
    stdin = None
    if "|" in command:
        source, command = (part.strip() for part in command.split("|", 1))
        program, name = shlex.split(source)
        assert program == "cat", source
        stdin = _path(tmp_path, name).read_text()
    program, *tokens = shlex.split(command)
    assert program == "scrapy", command
    return run_scrapy(*_arguments(tokens, tmp_path, redis_url, site), stdin=stdin)


def _write_inputs(scenario: Scenario, tmp_path: Path, site: str) -> None:
    for name, text in scenario.files.items():
        data = text.format(site=site).encode()
        _path(tmp_path, name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    app = checker_app()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/ok")

    app.router.add_get("/moved", moved)
    return server_loop.http(app)


def test_every_documented_command_is_run() -> None:
    run = {step.command for scenario in SCENARIOS.values() for step in scenario.steps}
    documented = documented_commands()
    assert sorted(set(documented) - run) == []  # shown in the docs, run by no scenario
    assert sorted(run - set(documented)) == []  # run here, shown nowhere any more


def test_the_docs_show_a_few_commands() -> None:
    commands = documented_commands()
    assert 0 < sum("README.md" in pages for pages in commands.values()) <= 8


@pytest.mark.parametrize("name", SCENARIOS)
def test_documented_commands_run_as_shown(
    name: str, site: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    scenario = SCENARIOS[name]
    redis_url = request.getfixturevalue("redis_url") if scenario.redis else None
    _write_inputs(scenario, tmp_path, site)
    for step in scenario.steps:
        if step.before is not None:
            step.before(tmp_path, site)
        result = run_documented(step.command, tmp_path, redis_url, site)
        output = (result.stdout + result.stderr)[-3000:]
        assert result.returncode == step.exit_status, f"{step.command}\n{output}"
        if step.check is not None:
            step.check(tmp_path, result)
