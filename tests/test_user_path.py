"""Documented features on the path a user takes: a real ``scrapy crawl`` subprocess each."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from crawler.checker.spider import UrlCheckSpider
from tests._apps import checker_app
from tests._crawl import read_rows
from tests._scrapy import run_scrapy, scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


@pytest.mark.parametrize("workers", [None, "2"])
def test_the_result_cache_works_from_the_command_line(
    site: str, tmp_path: Path, workers: str | None
) -> None:
    urls = tmp_path / "links.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n{site}/redirect/1\n")
    cache = tmp_path / "c.sqlite"
    extra = ("-a", f"workers={workers}") if workers else ()
    runs = []
    for name in ("first.csv", "second.csv"):
        out = tmp_path / name
        result = scrapy_crawl(
            "-a", f"urls={urls}", "-s", f"CRAWLER_CACHE={cache}", "-O", str(out), *extra
        )
        assert result.returncode == 2, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        runs.append({row["line"]: row for row in read_rows(out)})
    first, second = runs
    assert sorted(first) == sorted(second) == ["1", "2", "3"]
    assert [first[line]["cached"] for line in ("1", "2", "3")] == ["false", "false", "false"]
    # accepted rows come from the cache; the 404 is checked again
    assert [second[line]["cached"] for line in ("1", "2", "3")] == ["true", "false", "true"]
    assert second["2"]["status"] == "404"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-a", "url=links.txt"), "unknown argument -a url=…; did you mean -a urls=…?"),
        (("-a", "timeout=5"), "unknown argument -a timeout=…; did you mean -s DOWNLOAD_TIMEOUT=…?"),
        (
            ("-s", "CRAWLER_ACCPET=200"),
            "unknown setting CRAWLER_ACCPET; did you mean CRAWLER_ACCEPT?",
        ),
        (("-a", "urls="), "no URL list given"),
        (("-a", "resume=earlier.csv"), "resume= needs the list it resumes: add -a urls=FILE"),
        (
            ("-a", "redis=redis://127.0.0.1:1", "-s", "CRAWLER_REDIS_LEASE=0.5"),
            "CRAWLER_REDIS_LEASE must be >= 1 (seconds), got 0.5",
        ),
    ],
)
def test_typos_and_missing_inputs_are_one_line_naming_the_fix(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    result = scrapy_crawl(*args, "-O", str(tmp_path / "out.csv"))
    assert result.returncode == 1, result.stderr[-3000:]
    (error,) = [line for line in result.stderr.splitlines() if " ERROR: " in line]
    assert message in error
    assert not (tmp_path / "out.csv").exists()


def test_the_example_list_is_checked_only_without_any_input_and_the_log_says_so(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.csv"
    # every example URL excluded: nothing leaves this machine
    result = scrapy_crawl("-s", "CRAWLER_EXCLUDE=.", "-O", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "No input given (-a urls=FILE): checking the example list" in result.stderr
    rows = read_rows(out)
    assert rows
    assert {row["outcome"] for row in rows} == {"excluded"}


def test_help_lists_every_argument_of_the_spider() -> None:
    result = run_scrapy("crawl", "urls", "-h")
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  -a ([a-z_]+)=VALUE  ", result.stdout, re.MULTILINE)
    assert listed == list(UrlCheckSpider.arguments)
    assert "--output" in result.stdout  # Scrapy's own options are still there


def test_mailto_and_tel_are_not_checked_and_not_failures(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "links.txt"
    urls.write_text(f"{site}/ok\nmailto:someone@example.org\ntel:+1-555-0100\nftp://h/x\n")
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_FAILURES_SHOWN=0")
    rows = {row["line"]: row for row in read_rows(out)}
    assert [(rows[n]["outcome"], rows[n]["ok"]) for n in "1234"] == [
        ("ok", "true"),
        ("unchecked", ""),
        ("unchecked", ""),
        ("unsupported_scheme", "false"),  # a scheme no one can check is still a failure
    ]
    assert result.returncode == 2
    urls.write_text(f"{site}/ok\nmailto:someone@example.org\n")
    assert scrapy_crawl("-a", f"urls={urls}", "-O", str(out)).returncode == 0
    strict = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_UNCHECKED_SCHEMES=")
    assert strict.returncode == 2
    assert {row["line"]: row["outcome"] for row in read_rows(out)}["2"] == "unsupported_scheme"


def test_a_handled_429_is_no_error_line(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "links.txt"
    urls.write_text(f"{site}/status/429\n{site}/status/503\n")
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_BACKOFF_BASE=0.01")
    assert result.returncode == 2, result.stderr[-3000:]
    rows = {row["line"]: row for row in read_rows(out)}
    assert (rows["1"]["outcome"], rows["1"]["attempts"]) == ("rate_limited", "3")
    assert (rows["2"]["outcome"], rows["2"]["attempts"]) == ("http_error", "3")
    assert " ERROR: " not in result.stderr


def _log_lines(stderr: str) -> list[str]:
    """The log's lines without their time stamp: ``[logger] LEVEL: message``."""
    return [line[20:] for line in stderr.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]


def test_the_console_lists_the_failures_by_line_then_the_summary_last(
    site: str, tmp_path: Path
) -> None:
    paths = ["/ok", "/status/404", "/redirect/2", "/status/500", "/ok"]
    lines = [f"{site}{paths[i % 5]}?n={i}" for i in range(28)]
    lines += ["http://127.0.0.1:1/refused", "mailto:someone@example.org"]
    urls = tmp_path / "links.txt"
    urls.write_text("\n".join(lines) + "\n")
    out = tmp_path / "results.csv"
    result = scrapy_crawl(
        "-a",
        f"urls={urls}",
        "-O",
        str(out),
        "-s",
        "CRAWLER_FAILURES_SHOWN=5",
        "-s",
        "RETRY_TIMES=0",
    )
    assert result.returncode == 2, result.stderr[-3000:]
    log = _log_lines(result.stderr)
    failed = [n for n, line in enumerate(lines, 1) if "/status/" in line or ":1/" in line]
    assert len(failed) == 12
    start = log.index("[crawler.output.run_summary] INFO: 12 URLs not ok:")
    shown = log[start + 1 : start + 6]
    assert [int(re.search(r"links\.txt:(\d+) ", line).group(1)) for line in shown] == failed[:5]
    assert f"links.txt:2  404 http_error  {site}/status/404?n=1  HTTP status 404" in shown[0]
    assert log[start + 6] == f"[crawler.output.run_summary] INFO: … and 7 more, see {out}"
    assert log[start + 7].startswith(
        "[crawler.output.run_summary] INFO: Summary: 30 rows, 17 ok, 12 not ok"
    )
    assert all(line.startswith("[crawler.output.run_summary] INFO: ") for line in log[start:])
    # Scrapy's start-up and stats dumps are one setting away, not on the console
    for dump in ("Versions:", "Overridden settings", "Enabled extensions", "Dumping Scrapy stats"):
        assert dump not in result.stderr
    full = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), "-s", "CRAWLER_SCRAPY_LOG=True")
    for dump in ("Versions:", "Overridden settings", "Enabled extensions", "Dumping Scrapy stats"):
        assert dump in full.stderr


def test_when_no_url_could_be_reached_the_summary_asks_if_the_machine_is_offline(
    tmp_path: Path,
) -> None:
    urls = tmp_path / "links.txt"
    urls.write_text("http://127.0.0.1:1/a\nhttp://127.0.0.1:1/b\n")
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert "No URL could be reached (DNS or connection refused): is this machine offline" in (
        result.stderr
    )


def test_robots_txt_holds_for_every_request_that_waited_for_it(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "links.txt"
    # 50 URLs of one host, all waiting for its robots.txt at once; it disallows /private
    urls.write_text("".join(f"{site}/{'private' if n % 2 else 'ok'}?n={n}\n" for n in range(50)))
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out), "-s", "ROBOTSTXT_OBEY=True")
    assert result.returncode == 2, result.stderr[-3000:]
    outcomes = {int(row["line"]): row["outcome"] for row in read_rows(out)}
    assert outcomes == {n: "robots" if (n - 1) % 2 else "ok" for n in range(1, 51)}


def test_a_robots_txt_that_cannot_be_loaded_is_one_warning(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    async def broken(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()  # the connection drops before any answer
        return web.Response()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="fine")

    app = web.Application()
    app.router.add_get("/robots.txt", broken)
    app.router.add_get("/{name}", page)
    host = server_loop.http(app)
    urls = tmp_path / "links.txt"
    urls.write_text(f"{host}/a\n{host}/b\n{host}/c\n")
    out = tmp_path / "out.csv"
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", "ROBOTSTXT_OBEY=True", "-s", "RETRY_TIMES=0"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [row["outcome"] for row in read_rows(out)] == ["ok"] * 3
    (warning,) = [
        line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line
    ]
    assert f"{host}/robots.txt could not be loaded" in warning
    assert "Traceback" not in result.stderr
