"""Reports: HTML, Markdown and JUnit content parsed back, the HTML drawn in headless Chromium,
and ``scrapy report`` on a real export."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html import unescape
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from markdown_it import MarkdownIt

from crawler.output.report import render_html, render_junit, render_markdown, write_report
from crawler.output.report.formatting import NONE
from crawler.output.report.junit import xml_safe
from crawler.output.summary import RunSummary, host_of
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows
from tests._known_rows import known_rows
from tests._scrapy import run_scrapy, scrapy_crawl

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterator
    from pathlib import Path

    from tests.servers import ServerLoop

HOSTILE_URL = "https://a.example/</script><script>alert(1)</script>?q=<b>&x=1"


@pytest.fixture(scope="module")
def run() -> Iterator[RunSummary]:
    rows = known_rows(200)
    rows[5].update(url=HOSTILE_URL, outcome="http_error", ok=False, status=500, error="<b>bad</b>")
    with RunSummary(slowest=10, examples=5) as run:
        for row in rows:
            run.add(row)
        yield run


@pytest.fixture(scope="module")
def summary(run: RunSummary) -> dict[str, Any]:
    data = run.as_dict()
    data["run"] = {"source": "results.jsonl", "slo": "ttfb_ms<500"}
    return data


class Page(HTMLParser):
    """Tables by section id (rows of cell texts), resources, scripts, the embedded JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.sections: list[str] = []
        self.external: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.data_json = ""
        self.figures: list[str] = []
        self.details: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_data = False
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            if attributes.get(name):
                self.external.append(f"{tag} {name}={attributes[name]}")
        if tag == "link":
            self.external.append("link")
        if tag == "section" and attributes.get("id"):
            self._section = str(attributes["id"])
            self.sections.append(self._section)
        elif tag == "table":
            self._table_key = str(attributes.get("id") or self._section)
            self.tables.setdefault(self._table_key, [])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "script":
            self.scripts.append(attributes)
            self._in_data = attributes.get("id") == "report-data"
        elif tag == "figure":
            self.figures.append(str(attributes.get("data-phase")))
        elif tag == "details":
            self.details.append(str(attributes.get("data-outcome")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table_key].append(self._row)
            self._row = None
        elif tag == "script":
            self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_data:
            self.data_json += data


def parse_html(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_html_tables_hold_the_summary(summary: dict[str, Any], run: RunSummary) -> None:
    page = parse_html(render_html(summary, run.failing_rows))
    assert page.external == []  # self-contained: nothing to fetch
    assert all(script.get("src") is None for script in page.scripts)
    assert page.sections[:4] == ["tiles", "failures", "outcomes", "status-classes"]
    outcomes = page.tables["outcomes"]
    assert outcomes[0] == ["outcome", "rows", "share"]
    assert {row[0]: int(row[1]) for row in outcomes[1:]} == summary["outcomes"]
    timing = {row[0]: row for row in page.tables["timing"][1:]}
    total = summary["phases"]["total_ms"]
    assert timing["total"][1] == str(total["count"])
    assert float(timing["total"][3].replace(",", "")) == pytest.approx(total["p50"], rel=0.01)
    assert float(timing["total"][5].replace(",", "")) == pytest.approx(total["p99"], rel=0.01)
    assert "DNS" in timing
    assert "TLS" not in timing
    hosts = {row[0]: int(row[1]) for row in page.tables["hosts"][1:]}
    assert hosts == {host: c["rows"] for host, c in summary["hosts"].items()}
    assert page.figures == [p for p, f in summary["phases"].items() if f["count"]]
    assert page.details == list(summary["failures"])
    slowest = page.tables["slowest"][1:]
    assert [row[0] for row in slowest] == [s["url"] for s in summary["slowest"]]


def test_html_escapes_urls_and_embeds_the_data(summary: dict[str, Any], run: RunSummary) -> None:
    text = render_html(summary, run.failing_rows)
    assert "<script>alert(1)</script>" not in text
    assert "&lt;b&gt;bad&lt;/b&gt;" in text
    page = parse_html(text)
    assert json.loads(page.data_json) == {k: summary[k] for k in ("phases", "slowest")}
    failures = page.tables["failures"]
    assert ["urls.txt:6", HOSTILE_URL, "500", "<b>bad</b>"] in failures


def failing_rows_of(rows: list[dict[str, Any]]) -> list[list[str]]:
    """``[source:line, url, status, error]`` of each failing row, grouped by outcome (largest first)."""
    by_outcome: dict[str, list[list[str]]] = {}
    for row in rows:
        if row["ok"] is False:
            cells = [f"{row['source']}:{row['line']}", row["url"], str(row["status"] or NONE)]
            by_outcome.setdefault(row["outcome"], []).append([*cells, row["error"] or ""])
    return [
        cells for group in sorted(by_outcome.values(), key=len, reverse=True) for cells in group
    ]


def test_reports_list_every_failing_row_with_source_and_line() -> None:
    rows = known_rows(500)
    expected = failing_rows_of(rows)
    assert len(expected) == 70  # more than the examples a summary keeps per outcome
    with RunSummary(examples=2) as run:
        for row in rows:
            run.add(row)
        summary = run.as_dict()
        html = parse_html(render_html(summary, run.failing_rows))
        markdown = markdown_tables(render_markdown(summary, run.failing_rows))
        junit = ET.fromstring(render_junit(summary, run.failing_rows))
    assert [r for r in html.tables["failures"] if r[0] != "where"] == expected
    listed = [
        [where.strip("`"), url.strip("`"), status, error.strip("`")]
        for heading, table in markdown.items()
        if heading.startswith("`") and heading.endswith(")")
        for where, url, status, error in table[1:]
    ]
    assert listed == [[w, u, "" if s == NONE else s, e] for w, u, s, e in expected]
    failed = [case for case in junit.iter("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == [cells[1] for cells in expected]
    assert [case.findtext("failure", "").split("\n")[0] for case in failed] == [
        cells[0] for cells in expected
    ]
    assert junit.get("failures") == "70"


@pytest.mark.parametrize(
    "rows", [[], [{"url": "not a url", "outcome": "invalid_url", "ok": False}]]
)
def test_reports_without_timings(rows: list[dict[str, Any]]) -> None:
    with RunSummary() as run:
        for row in rows:
            run.add(row)
        summary = run.as_dict()
    page = parse_html(render_html(summary))
    assert page.figures == []
    assert page.tables["timing"] == [["phase", "count", "min", "p50", "p90", "p99", "max", "mean"]]
    assert "## Outcomes" in render_markdown(summary)
    root = ET.fromstring(render_junit(summary))
    assert root.get("failures") == str(len(rows))


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Tables under each ``##``/``###`` heading, as rows of cells (separator rows dropped)."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            tables.setdefault(heading, []).append(cells)
    return tables


def test_markdown_tables(summary: dict[str, Any], run: RunSummary) -> None:
    text = render_markdown(summary, run.failing_rows)
    assert text.startswith("# URL check report\n\n**200** rows: **171** ok, **29** not ok")
    assert text.index("## Failures") < text.index("## Outcomes")
    tables = markdown_tables(text)
    assert tables["Outcomes"][0] == ["outcome", "rows", "share"]
    assert {row[0].strip("`"): int(row[1]) for row in tables["Outcomes"][1:]} == summary["outcomes"]
    timing = {row[0]: row for row in tables["Timing (ms)"][1:]}
    assert list(timing) == ["queue", "DNS", "TTFB", "download", "total"]
    assert float(timing["TTFB"][2]) == pytest.approx(summary["phases"]["ttfb_ms"]["p50"], rel=0.01)
    timeouts = tables[f"`timeout` ({summary['outcomes']['timeout']})"]
    assert len(timeouts) == 1 + summary["outcomes"]["timeout"]  # header + every row
    assert timeouts[1][:2] == ["`urls.txt:1`", "`https://a.example/page/0`"]
    assert all(len(row) == len(tables["Slowest URLs"][0]) for row in tables["Slowest URLs"])


def test_junit_cases(summary: dict[str, Any], run: RunSummary) -> None:
    root = ET.fromstring(render_junit(summary, run.failing_rows))
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "")) == len(cases)
    failed = [case for case in cases if case.find("failure") is not None]
    assert int(suite.get("failures", "")) == len(failed) == int(root.get("failures", ""))
    assert len(failed) == summary["not_ok"] == 29
    assert cases[0].get("name") == "171 URLs ok"
    by_type: dict[str | None, list[ET.Element]] = {}
    for case in failed:
        failure = case.find("failure")
        assert failure is not None
        by_type.setdefault(failure.get("type"), []).append(case)
    assert len(by_type["timeout"]) == summary["outcomes"]["timeout"]
    hostile = next(case for case in failed if case.get("name") == HOSTILE_URL)
    assert hostile.get("classname") == "a.example"
    assert hostile.find("failure").get("message") == "<b>bad</b>"  # type: ignore[union-attr]
    assert hostile.findtext("failure", "").startswith("urls.txt:6\noutcome: http_error\n")


CHROMIUM = shutil.which("chromium")
# CI installs chromium and sets CRAWLER_TESTS_REQUIRE_CHROMIUM: there a missing browser fails.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CRAWLER_TESTS_REQUIRE_CHROMIUM"),
    reason="chromium is not installed (apt-get install chromium)",
)


def chromium_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its scripts ran, from headless Chromium."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@needs_chromium
def test_html_renders_in_headless_chromium(summary: dict[str, Any], tmp_path: Path) -> None:
    page = write_report(summary, tmp_path / "report.html")
    dom = chromium_dom(page, tmp_path / "profile")
    root = parse_root_attributes(dom)
    assert "data-errors" not in root, root.get("data-errors")
    assert root.get("data-rendered") == "ok"
    drawn = sum(1 for f in summary["phases"].values() if f["count"]) + len(summary["slowest"])
    assert root.get("data-charts") == str(drawn)
    assert dom.count('class="histogram"') == drawn - len(summary["slowest"])
    assert dom.count('class="segment"') >= len(summary["slowest"])
    assert dom.count('class="bin"') == sum(
        len(f["histogram"]) for f in summary["phases"].values() if f["count"]
    )


@needs_chromium
def test_chromium_check_catches_a_broken_script(summary: dict[str, Any], tmp_path: Path) -> None:
    ttfb = dict(summary["phases"]["ttfb_ms"], histogram=[])  # the script cannot place p50
    broken = dict(summary, phases={**summary["phases"], "ttfb_ms": ttfb})
    page = write_report(broken, tmp_path / "broken.html")
    root = parse_root_attributes(chromium_dom(page, tmp_path / "profile"))
    assert root.get("data-rendered") == "failed"
    assert "TypeError" in root.get("data-errors", "")


def parse_root_attributes(dom: str) -> dict[str, str]:
    class Root(HTMLParser):
        attributes: dict[str, str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "html" and self.attributes is None:
                self.attributes = {k: v or "" for k, v in attrs}

    parser = Root()
    parser.feed(dom)
    assert parser.attributes is not None
    return parser.attributes


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


@coroutine_test
async def test_report_command_reads_csv_and_jsonl_exports(site: str, tmp_path: Path) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/slow?s=0.6\n{site}/status/404\n")
    for suffix in (".csv", ".jsonl", ".json"):
        await crawl_urls(tmp_path / f"results{suffix}", str(urls))
    assert len(read_rows(tmp_path / "results.csv")) == 3
    outputs = [tmp_path / name for name in ("r.html", "r.md", "junit.xml", "summary.json")]
    for export in ("results.csv", "results.jsonl", "results.json"):
        args = [str(tmp_path / export)]
        for path in outputs:
            args += ["-o", str(path)]
        result = run_scrapy("report", *args)
        assert result.returncode == 0, result.stderr[-2000:]
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["outcomes"] == {"ok": 2, "http_error": 1}
        assert summary["run"]["source"] == str(tmp_path / export)
        assert parse_html((tmp_path / "r.html").read_text()).tables["outcomes"][1:] == [
            ["ok", "2", "66.7 %"],
            ["http_error", "1", "33.3 %"],
        ]
        assert ET.parse(tmp_path / "junit.xml").getroot().get("failures") == "1"
    gated = run_scrapy("report", str(tmp_path / "results.jsonl"), "--slo", "ttfb_ms<300", "--check")
    assert gated.returncode == 2, gated.stderr[-2000:]
    assert gated.stdout.startswith("Summary: 3 rows, 1 ok, 2 not ok (33.3% ok); ")
    assert "slow 1" in gated.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("{d}/missing.jsonl", "-o", "r.html"),
            "'{d}/missing.jsonl' does not exist or is not a file",
        ),
        (("{d}/results.txt",), "'{d}/results.txt': reports read .csv, .jsonl or .json exports"),
        (
            ("{d}/missing.jsonl", "-o", "r.pdf"),
            "cannot tell the report format of 'r.pdf': name it .html, .md, .xml (JUnit) or .json (summary)",
        ),
        (
            ("{d}/missing.jsonl", "--slo", "fast"),
            "--slo: cannot read 'fast'; write METRIC<MS pairs like 'ttfb_ms<500,total_ms<2000' (metrics: queue_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, download_ms, total_ms)",
        ),
    ],
)
def test_report_command_bad_input_is_one_line(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    (tmp_path / "results.txt").write_text("x\n")
    result = run_scrapy("report", *(arg.format(d=tmp_path) for arg in args))
    assert result.returncode == 1
    assert result.stderr.strip() == f"scrapy report: {message.format(d=tmp_path)}"


def test_300_urls_with_43_failing_give_43_cases_and_rows_with_source_and_line(
    site: str, tmp_path: Path
) -> None:
    """Issue 16's check, through ``scrapy crawl`` and ``scrapy report`` as a user runs them."""
    lines = [f"{site}/status/404?n={n}" if n % 7 == 3 else f"{site}/ok?n={n}" for n in range(300)]
    failing = {f"{line}": number for number, line in enumerate(lines, 1) if "/status/" in line}
    assert len(failing) == 43
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(lines) + "\n")
    crawl_reports = [tmp_path / name for name in ("crawl.html", "crawl.md", "crawl.xml")]
    out = tmp_path / "results.csv"
    crawl = scrapy_crawl(
        "-a",
        f"urls={urls}",
        "-O",
        str(out),
        "-s",
        f"CRAWLER_REPORT_FILES={','.join(map(str, crawl_reports))}",
    )
    assert crawl.returncode == 2, crawl.stderr[-2000:]  # some rows are not ok
    later = [tmp_path / name for name in ("later.html", "later.md", "later.xml")]
    report = run_scrapy("report", str(out), *(arg for p in later for arg in ("-o", str(p))))
    assert report.returncode == 0, report.stderr[-2000:]
    expected = sorted([f"{urls}:{number}", url] for url, number in failing.items())
    for html, markdown, junit in (crawl_reports, later):
        listed = parse_html(html.read_text()).tables["failures"][1:]
        assert sorted(row[:2] for row in listed) == expected
        assert {row[2] for row in listed} == {"404"}
        tables = markdown_tables(markdown.read_text())
        assert (
            sorted([w.strip("`"), u.strip("`")] for w, u, *_ in tables["`http_error` (43)"][1:])
            == expected
        )
        root = ET.parse(junit).getroot()
        assert root.get("failures") == "43"
        cases = [case for case in root.iter("testcase") if case.find("failure") is not None]
        assert (
            sorted(
                [case.findtext("failure", "").split("\n")[0], case.get("name")] for case in cases
            )
            == expected
        )
        assert {case.get("classname") for case in cases} == {host_of(site)}


HOSTILE_HEADER = b"chal\x01lenge\x0b\x1b[31m" + b"x" * 8000


@pytest.fixture(scope="module")
def hostile_wall(server_loop: ServerLoop) -> str:
    """A bot wall whose header value carries control characters and 8 KB of text."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 403 Forbidden\r\ncf-mitigated: "
            + HOSTILE_HEADER
            + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    return f"http://127.0.0.1:{server_loop.tcp(handle)}"


def test_junit_stays_well_formed_with_control_characters_from_the_list_and_a_server(
    hostile_wall: str, tmp_path: Path
) -> None:
    """Issue 17: a control character or U+FFFE/U+FFFF made junit.xml ill-formed."""
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{hostile_wall}/wall\n{hostile_wall}/bell\x07here\n{hostile_wall}/\ufffe\uffff\n",
        encoding="utf-8",
    )
    out = tmp_path / "results.jsonl"
    junit = tmp_path / "junit.xml"
    crawl = scrapy_crawl(
        "-a", f"urls={urls}", "-O", str(out), "-s", f"CRAWLER_REPORT_FILES={junit}"
    )
    assert crawl.returncode == 2, crawl.stderr[-2000:]
    later = tmp_path / "later.xml"
    report = run_scrapy("report", str(out), "-o", str(later))
    assert report.returncode == 0, report.stderr[-2000:]
    rows = {row["line"]: row for row in read_rows(out)}
    assert rows[1]["outcome"] == "blocked"
    assert len(rows[1]["error"]) < 300  # the server's 8 KB header is cut where the row is made
    for path in (junit, later):
        root = ET.parse(path).getroot()  # raises on an ill-formed document
        cases = {
            case.findtext("failure", "").split("\n")[0]: case for case in root.iter("testcase")
        }
        assert root.get("failures") == "3"
        wall = cases[f"{urls}:1"].find("failure")
        assert wall is not None
        assert wall.get("message", "").startswith(
            "blocked by a bot wall (HTTP 403, cf-mitigated: chal\\x01lenge\\x0b\\x1b[31mxxx"
        )
        assert cases[f"{urls}:2"].get("name") == f"{hostile_wall}/bell\\x07here"
        assert cases[f"{urls}:3"].get("name") == f"{hostile_wall}/\\ufffe\\uffff"


@pytest.mark.parametrize(
    "text",
    ["\x00\x08\x0b\x0c\x1f", "\ud800", "\ufffe\uffff", "ok\t\n\r é \U0001f600"],
)
def test_xml_safe_keeps_only_what_xml_allows(text: str) -> None:
    cleaned = xml_safe(text)
    ET.fromstring(f"<a b={quoteattr(cleaned)}>{escape(cleaned)}</a>")
    if text.startswith("ok"):
        assert cleaned == text
    else:
        assert cleaned.isascii()
        assert cleaned.startswith("\\")


def markdown_html(text: str) -> str:
    """The Markdown rendered as CommonMark with tables, raw HTML allowed (as GitHub parses it)."""
    return MarkdownIt("commonmark").enable("table").render(text)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://a.example/<img src=x onerror=alert(1)>", "HTTP status 404"),
        ("https://a.example/x", "<script>alert(1)</script>"),
        ("https://a.example/[click](javascript:alert(1))", "![pixel](https://evil.example/t.gif)"),
        ("https://a.example/`<img src=x onerror=alert(1)>`", "| broken | table ``` `"),
    ],
)
def test_markdown_report_injection_is_shown_as_text(url: str, error: str) -> None:
    """Issue 17: URLs and server error text went into report.md as raw HTML and Markdown."""
    rows = [{"url": url, "source": "u.txt", "line": 1, "outcome": "http_error", "ok": False}]
    rows[0].update(status=404, error=error, total_ms=5.0)
    with RunSummary() as run:
        for row in rows:
            run.add(row)
        html = markdown_html(render_markdown(run.as_dict(), run.failing_rows))
    for tag in ("<img", "<script", "<a ", "<a>"):
        assert tag not in html, html
    failures = html[html.index("<h2>Failures</h2>") : html.index("<h2>Outcomes</h2>")]
    cells = re.findall(r"<td>(.*?)</td>", failures, flags=re.DOTALL)
    assert [unescape(re.sub("<[^>]+>", "", cell)) for cell in cells] == [
        "u.txt:1",
        url,
        "404",
        error,
    ]


@needs_chromium
def test_html_with_every_failure_and_no_accepted_url_renders_in_headless_chromium(
    tmp_path: Path,
) -> None:
    rows = [
        {
            "url": f"https://a.example/<img src=x onerror=alert({n})>",
            "source": "u.txt",
            "line": n,
            "outcome": "timeout",
            "ok": False,
            "error": "<script>document.title='owned'</script>",
            "total_ms": 1000.0 + n,
        }
        for n in range(1, 41)
    ]
    with RunSummary(examples=2) as run:
        for row in rows:
            run.add(row)
        page = write_report(run.as_dict(), tmp_path / "report.html", run.failing_rows)
    dom = chromium_dom(page, tmp_path / "profile")
    root = parse_root_attributes(dom)
    assert "data-errors" not in root, root.get("data-errors")
    assert root.get("data-rendered") == "ok"
    assert "owned" not in dom.split("</title>")[0]  # the error text ran nowhere
    parsed = parse_html(dom)
    assert parsed.external == []  # no <img> made it into the DOM
    assert parsed.sections[:2] == ["tiles", "failures"]
    listed = parsed.tables["failures"][1:]
    assert [row[0] for row in listed] == [f"u.txt:{n}" for n in range(1, 41)]
    assert listed[0][1] == rows[0]["url"]
    assert "No accepted URL has a total time." in dom
