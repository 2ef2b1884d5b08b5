"""The run summary against a known data set, and as a real crawl logs and writes it."""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import math
import random
import statistics
import tracemalloc
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from scrapy.exporters import JsonLinesItemExporter

from crawler.items import FIELDS, UrlResult
from crawler.output.exporters import FlatCsvItemExporter
from crawler.output.report import render_html, render_markdown
from crawler.output.report.reader import read_results
from crawler.output.report.reader import read_rows as read_rows_as_written
from crawler.output.summary import (
    PERCENTILES,
    RELATIVE_ACCURACY,
    PhaseSummary,
    RunSummary,
    SortedRuns,
    _bin,
    log_lines,
)
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, read_rows
from tests._known_rows import known_rows

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

EDGES = [m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5)]


def exact_percentile(values: list[float], p: int) -> float:
    """Percentile ``p`` interpolated between ranks, as ``statistics.quantiles`` computes it."""
    if p == 50:
        return statistics.median(values)
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return known_rows()


@pytest.fixture(scope="module")
def summary(rows: list[dict]) -> dict:
    with RunSummary(slowest=10, examples=5) as run:
        for row in rows:
            run.add(row)
        return run.as_dict()


def test_counts(rows: list[dict], summary: dict) -> None:
    assert summary["rows"] == 1000
    assert summary["outcomes"] == dict(Counter(r["outcome"] for r in rows).most_common())
    assert summary["outcomes"] == {"ok": 860, "timeout": 100, "http_error": 40}
    assert (summary["ok"], summary["not_ok"]) == (860, 140)
    assert summary["success_rate"] == 0.86
    assert summary["status_classes"] == {"2xx": 860, "4xx": 40, "none": 100}
    expected_hosts = Counter(r["url"].split("/")[2] for r in rows)
    assert {h: c["rows"] for h, c in summary["hosts"].items()} == expected_hosts
    not_ok = Counter(r["url"].split("/")[2] for r in rows if r["ok"] is False)
    assert {h: c["not_ok"] for h, c in summary["hosts"].items()} == not_ok


@pytest.mark.parametrize("phase", ["dns_ms", "ttfb_ms", "download_ms", "total_ms"])
def test_phase_figures_are_exact_for_a_small_run(
    rows: list[dict], summary: dict, phase: str
) -> None:
    values = [r[phase] for r in rows if r[phase] is not None]
    figures = summary["phases"][phase]
    assert figures["count"] == len(values)
    assert figures["min"] == pytest.approx(min(values), abs=1e-3)
    assert figures["max"] == pytest.approx(max(values), abs=1e-3)
    assert figures["mean"] == pytest.approx(sum(values) / len(values), abs=1e-3)
    assert figures["exact"] is True
    for p in PERCENTILES:
        assert figures[f"p{p}"] == pytest.approx(exact_percentile(values, p), abs=1e-3), p


def test_a_result_row_counts_as_its_export_row(rows: list[dict], summary: dict) -> None:
    """The summary reads a :class:`UrlResult`'s attributes as it reads an export row's keys."""
    fields = set(FIELDS)
    with RunSummary(slowest=10, examples=5) as run:
        for row in rows:
            run.add(UrlResult(**{name: value for name, value in row.items() if name in fields}))
        counted = run.as_dict()
    assert {**counted, "generated_at": None} == {**summary, "generated_at": None}


def test_p99_of_18_values_is_near_their_maximum() -> None:
    """Issue 16: 18 values up to 15,000 ms had a sketched p99 of 3,012 ms (the 17th value)."""
    values = [float(v) for v in (*range(100, 1700, 100), 3012, 15000)]
    with RunSummary() as run:
        for value in values:
            run.add({"url": "http://a/", "outcome": "ok", "ok": True, "total_ms": value})
        figures = run.as_dict()["phases"]["total_ms"]
    assert figures["p99"] == pytest.approx(exact_percentile(values, 99), abs=1e-3)
    assert figures["p99"] > 12000  # between the two largest, nearer the maximum
    assert figures["p50"] == pytest.approx(statistics.median(values), abs=1e-3)


@pytest.mark.parametrize("count", [10, 11, 5000])
def test_percentiles_are_sketched_beyond_the_values_kept(count: int) -> None:
    values = [float(v) for v in range(1, count + 1)]
    phase = PhaseSummary(exact=10)
    for value in values:
        phase.add(value)
    figures = phase.as_dict()
    assert figures["exact"] is (count <= 10)
    assert phase.values is None or len(phase.values) == count
    for p in PERCENTILES:
        expected = exact_percentile(values, p)
        assert figures[f"p{p}"] == pytest.approx(expected, rel=RELATIVE_ACCURACY, abs=1), p


def _phase_of(values: list[float]) -> PhaseSummary:
    phase = PhaseSummary()
    for value in values:
        phase.add(value)
    return phase


@pytest.mark.parametrize("count", [1, 2, 8192, 8193, 30_001])
def test_exact_percentiles_equal_those_of_the_sorted_values(count: int) -> None:
    draw = random.Random(count)
    values = [round(draw.lognormvariate(1, 1.5), 3) for _ in range(count)]
    values[count // 2 :] = values[: count - count // 2]  # many equal values
    ordered = sorted(values)
    figures = _phase_of(values).as_dict()
    assert figures["exact"] is True
    for p in PERCENTILES:
        position = p / 100 * (count - 1)
        below = int(position)
        above = min(below + 1, count - 1)
        expected = ordered[below] + (ordered[above] - ordered[below]) * (position - below)
        assert figures[f"p{p}"] == round(expected, 3), p


def test_the_exact_percentiles_of_a_large_run_build_no_sorted_copy_of_its_values() -> None:
    """A sorted list of every value (a float object and a pointer each) was the peak of a long
    run's memory, at its very end."""
    values = [(i * 7919 % 100_003) / 7 for i in range(100_000)]
    phase = _phase_of(values)
    tracemalloc.start()
    try:
        figures = phase.as_dict()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert figures["p50"] == round(statistics.median(values), 3)
    assert peak < 1_200_000  # the values themselves take 800,000 bytes


@pytest.mark.parametrize("phase", ["dns_ms", "total_ms", "queue_ms"])
def test_histogram_counts_every_value_in_its_bin(
    rows: list[dict], summary: dict, phase: str
) -> None:
    values = [r[phase] for r in rows if r[phase] is not None]
    histogram = summary["phases"][phase]["histogram"]
    assert sum(b["count"] for b in histogram) == len(values)
    for previous, following in itertools.pairwise(histogram):
        assert previous["hi"] == following["lo"]
    for bin_ in histogram:
        inside = [v for v in values if bin_["lo"] <= v < bin_["hi"]]
        if bin_["lo"] == 0.0:
            inside = [v for v in values if v < bin_["hi"]]
        assert bin_["count"] == len(inside), bin_
        assert bin_["hi"] in EDGES
        assert bin_["lo"] == 0.0 or EDGES[bisect.bisect_left(EDGES, bin_["lo"])] == bin_["lo"]


def test_histogram_of_kept_values_bins_each_value_as_bin_does() -> None:
    """The kept values' histogram is the one :func:`_bin` gives value by value, over several
    sorted runs, values at bin edges and on either side of them, zeros and duplicates."""
    rng = random.Random(1205)
    edges = [10.0 ** (i // 3) * (1.0, 2.0, 5.0)[i % 3] for i in range(-12, 24)]
    values = [0.0, 0.0, 1e-12, 0.0005, 0.001]
    for edge in edges:
        values += [edge, math.nextafter(edge, 0.0), math.nextafter(edge, math.inf)]
        values += [round(edge, 3), round(edge - 0.001, 3), round(edge + 0.001, 3)]
    values += [round(rng.lognormvariate(2, 3), 3) for _ in range(3 * SortedRuns.RUN)]
    values = [v for v in values if v >= 0.0]
    rng.shuffle(values)
    expected = Counter(map(_bin, values))
    histogram = _phase_of(values).as_dict()["histogram"]
    counts = {_bin(b["lo"]) if b["lo"] else -9: b["count"] for b in histogram}
    assert {k: v for k, v in counts.items() if v} == dict(expected)


def test_slowest_retries_and_failure_examples(rows: list[dict], summary: dict) -> None:
    slowest = sorted((r for r in rows if r["ok"]), key=lambda r: -r["total_ms"])[:10]
    assert [s["url"] for s in summary["slowest"]] == [r["url"] for r in slowest]
    assert summary["slowest"][0]["ttfb_ms"] == slowest[0]["ttfb_ms"]
    assert summary["retries"]["redirects"] == sum(r["redirects"] for r in rows)
    assert summary["retries"]["retried_urls"] == 20
    assert summary["retries"]["retries"] == 20
    timeouts = summary["failures"]["timeout"]
    assert timeouts["count"] == 100
    assert [e["url"] for e in timeouts["examples"]] == [
        r["url"] for r in rows if r["outcome"] == "timeout"
    ][:5]
    assert list(summary["failures"]) == ["timeout", "http_error"]  # the largest group first


def test_csv_strings_give_the_same_summary(rows: list[dict], summary: dict) -> None:
    as_csv = [
        {
            k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in r.items()
        }
        for r in rows
    ]
    with RunSummary(slowest=10, examples=5) as run:
        for row in as_csv:
            run.add(row)
        again = run.as_dict()
    for key in ("rows", "ok", "not_ok", "outcomes", "status_classes", "hosts", "phases", "retries"):
        assert again[key] == summary[key], key


def test_slowest_lists_accepted_urls_only() -> None:
    """A timeout's total_ms is the time limit, not a slow page: it stays out of "slowest"."""
    with RunSummary(slowest=2) as run:
        run.add({"url": "http://a/timeout", "outcome": "timeout", "ok": False, "total_ms": 9e3})
        run.add({"url": "http://a/dup", "outcome": "duplicate", "ok": None, "total_ms": 8e3})
        assert run.slowest() == []
        summary = run.as_dict()
        run.add({"url": "http://a/ok", "outcome": "ok", "ok": True, "total_ms": 5.0})
        assert [s["url"] for s in run.slowest()] == ["http://a/ok"]
    assert "## Slowest URLs\n\nNo accepted URL has a total time.\n" in render_markdown(summary)
    assert "No accepted URL has a total time." in render_html(summary)


def test_memory_is_bounded_by_hosts_not_rows() -> None:
    with RunSummary(slowest=3, examples=2) as run:
        for i in range(20000):
            ok = i % 2 == 0
            run.add({"url": f"http://h{i % 4}/{i}", "outcome": "x", "ok": ok, "total_ms": i})
        assert len(run.slowest()) == 3
        assert [s["total_ms"] for s in run.slowest()] == [19998, 19996, 19994]
        assert len(run.as_dict()["failures"]["x"]["examples"]) == 2
        assert len(run.hosts) == 4
        assert sum(1 for _ in run.failing_rows()) == 10000  # from the temporary file


def test_log_lines_are_terse(summary: dict) -> None:
    lines = log_lines(summary)
    assert lines[0] == (
        "Summary: 1000 rows, 860 ok, 140 not ok (86.0% ok); ok 860, timeout 100, http_error 40"
    )
    assert lines[1] == "Status classes: 2xx 860, 4xx 40, none 100"
    assert lines[2].startswith("Timing p50/p90/p99 ms: queue 0.00/0.00/0.00, dns ")
    assert len(lines) <= 6


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


@coroutine_test
async def test_crawl_logs_and_writes_the_summary(
    site: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/redirect/2\n{site}/status/404\n{site}/ok\nnot a url\n")
    out = tmp_path / "results.jsonl"
    summary_file = tmp_path / "results.summary.json"
    reports = [tmp_path / "report.html", tmp_path / "report.md", tmp_path / "junit.xml"]
    caplog.set_level(logging.INFO, logger="crawler.output.run_summary")
    await crawl_urls(
        out,
        str(urls),
        CRAWLER_SUMMARY_FILE=str(summary_file),
        CRAWLER_REPORT_FILES=",".join(map(str, reports)),
    )
    rows = read_rows(out)
    summary = json.loads(summary_file.read_text())
    assert summary["rows"] == len(rows) == 5
    assert summary["outcomes"] == dict(Counter(r["outcome"] for r in rows).most_common())
    assert summary["retries"]["redirects"] == 2
    assert summary["phases"]["total_ms"]["count"] == 3
    assert summary["run"]["finish_reason"] == "finished"
    assert summary["run"]["source"] == str(urls)
    assert all(path.stat().st_size > 0 for path in reports)
    messages = [r.getMessage() for r in caplog.records if r.name == "crawler.output.run_summary"]
    # the reports are written first; then the failed URLs; the summary is logged last
    summary_at = next(n for n, text in enumerate(messages) if text.startswith("Summary: "))
    assert "Summary: 5 rows, 2 ok, 2 not ok (50.0% ok); " in messages[summary_at]
    assert messages.index(f"Wrote {summary_file}") < messages.index("2 URLs not ok:") < summary_at


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("CRAWLER_REPORT_FILES", "report.pdf", "cannot tell the report format of 'report.pdf'"),
        (
            "CRAWLER_SUMMARY_FILE",
            "summary.md",
            "CRAWLER_SUMMARY_FILE='summary.md' must name a .json",
        ),
    ],
)
def test_bad_report_settings_name_the_fix(setting: str, value: str, message: str) -> None:
    from scrapy.utils.test import get_crawler

    from crawler.output.run_summary import RunSummaryExtension

    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        RunSummaryExtension.from_crawler(get_crawler(settings_dict={setting: value}))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_an_export_read_as_text_rows_sums_up_like_its_typed_rows(
    rows: list[dict], tmp_path: Path, suffix: str
) -> None:
    """Merged workers are summed up from their export's cells as written (read_rows)."""
    path = tmp_path / f"rows{suffix}"
    exporter_class = FlatCsvItemExporter if suffix == ".csv" else JsonLinesItemExporter
    with path.open("wb") as stream:
        exporter = exporter_class(stream, fields_to_export=list(FIELDS), encoding="utf-8")
        exporter.start_exporting()
        for row in rows:
            exporter.export_item(UrlResult(**row))
        exporter.finish_exporting()
    with (
        RunSummary(slowest=10, examples=5) as as_text,
        RunSummary(slowest=10, examples=5) as typed,
        RunSummary(slowest=10, examples=5) as original,
    ):
        for text_row in read_rows_as_written(path):
            as_text.add(text_row)
        for result in read_results(path):
            typed.add(result)
        for row in rows:
            original.add(row)
        assert as_text.as_dict() == typed.as_dict() == original.as_dict()
        assert as_text.rows == len(rows)
        assert list(as_text.failing_rows()) == list(typed.failing_rows())


class DropNotFound:
    """A user pipeline that drops the rows of 404 answers."""

    def process_item(self, item: UrlResult) -> UrlResult:
        from scrapy.exceptions import DropItem

        if item.status == 404:
            raise DropItem("not found")
        return item


@pytest.mark.parametrize("order", [800, 1100])
@coroutine_test
async def test_the_summary_counts_the_rows_every_pipeline_passed(
    site: str, tmp_path: Path, order: int
) -> None:
    """Counted by the last pipeline stage (no ``item_scraped`` receiver per row) when it is
    last; by the ``item_scraped`` signal when a project's pipeline comes after it."""
    from pydispatch.dispatcher import getAllReceivers, liveReceivers
    from scrapy import signals

    from crawler.output.run_summary import SUMMARY_PIPELINE, SUMMARY_PIPELINE_ORDER

    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n{site}/status/500\n")
    out = tmp_path / "results.jsonl"
    summary_file = tmp_path / "results.summary.json"
    pipelines = {
        "crawler.checker.pipeline.ResultPipeline": 300,
        SUMMARY_PIPELINE: SUMMARY_PIPELINE_ORDER,
        f"{__name__}.DropNotFound": order,
    }
    crawler = await crawl_urls(
        out, str(urls), ITEM_PIPELINES=pipelines, CRAWLER_SUMMARY_FILE=str(summary_file)
    )
    rows = read_rows(out)
    summary = json.loads(summary_file.read_text())
    assert summary["rows"] == len(rows) == 2
    assert summary["outcomes"] == {"ok": 1, "http_error": 1}
    receivers = [
        getattr(receiver, "__qualname__", "")
        for receiver in liveReceivers(getAllReceivers(crawler.signals.sender, signals.item_scraped))
    ]
    by_signal = "RunSummaryExtension.item_scraped" in receivers
    assert by_signal is (order > SUMMARY_PIPELINE_ORDER)


def test_the_project_counts_the_summary_in_its_last_pipeline() -> None:
    from scrapy.utils.conf import build_component_list

    import crawler.settings as project_settings
    from crawler.output.run_summary import SUMMARY_PIPELINE

    assert build_component_list(project_settings.ITEM_PIPELINES)[-1] == SUMMARY_PIPELINE
