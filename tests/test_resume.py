"""Kills and resume: after any stop, one resumed run gives every entry exactly one row."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from typing import TYPE_CHECKING

import pytest

from crawler.output.resume import done_entries, drop_cut_line, entry_key
from tests._apps import checker_app, paced_url_list
from tests._crawl import read_rows
from tests._scrapy import scrapy_crawl, start_scrapy, wait_for_lines

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

ENTRIES = 2000


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def crawl(urls: Path, out: Path, *, stderr: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return start_scrapy(
        "crawl", "urls", "-a", f"urls={urls}", "-a", f"resume={out}", "-o", str(out),
        "-s", "CONCURRENT_REQUESTS=32", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32",
        "-s", "LOG_LEVEL=WARNING", stderr=stderr,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stop", "suffix"),
    [
        (signal.SIGKILL, ".jsonl"),
        (signal.SIGKILL, ".csv"),
        (signal.SIGTERM, ".jsonl"),
        (signal.SIGINT, ".csv"),
        ("second Ctrl-C", ".jsonl"),
    ],
)
def test_stop_anywhere_then_resume_gives_one_row_per_entry(
    site: str, tmp_path: Path, stop: signal.Signals | str, suffix: str
) -> None:
    urls = tmp_path / "urls.txt"
    expected = paced_url_list(site, urls, ENTRIES)
    out = tmp_path / f"results{suffix}"
    first = crawl(urls, out, stderr=subprocess.DEVNULL)
    wait_for_lines(out, random.Random(f"{stop}{suffix}").randint(100, ENTRIES // 2), first)
    if isinstance(stop, str):  # Ctrl-C twice: the second one stops at once
        first.send_signal(signal.SIGINT)
        first.send_signal(signal.SIGINT)
    else:
        first.send_signal(stop)
    first.wait(60)
    before = len(read_rows(out)) if out.stat().st_size else 0
    assert before < ENTRIES  # the stop came mid-run

    second = crawl(urls, out)
    _, stderr = second.communicate(timeout=120)
    rows = read_rows(out)
    # Exit 2: the job's rows, the stopped run's and the resumed run's, include the bad lines.
    assert second.returncode == 2, stderr.decode()[-2000:]

    lines = sorted(int(row["line"]) for row in rows)
    assert lines == expected  # every entry exactly once: nothing lost, nothing twice
    if suffix == ".csv":
        assert out.read_text().count("url,source,line,") == 1  # one header line
    assert sum(row["outcome"] == "invalid_url" for row in rows) == len(range(0, ENTRIES, 97))


def test_cut_off_last_line_is_dropped(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    complete = json.dumps({"url": "http://a/", "source": "s", "line": 1, "outcome": "ok"})
    out.write_text(complete + "\n" + '{"url": "http://b/", "sou')
    drop_cut_line(out)
    assert out.read_text() == complete + "\n"
    assert entry_key("s", 1) in done_entries(str(out))
    assert entry_key("s", 2) not in done_entries(str(out))


def test_resume_refuses_json_arrays(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    out.write_text("[")
    with pytest.raises(ValueError, match=r"resume reads \.csv or \.jsonl outputs"):
        done_entries(str(out))
    assert os.path.exists(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-O", "{out}"), "-O {out} would delete the rows being resumed: append to it with -o"),
        (("-a", "workers=2", "-O", "{out}"), "{out} is the file being resumed, and workers"),
        (("-a", "workers=2", "-o", "{out}"), "{out} is the file being resumed, and workers"),
    ],
)
def test_resuming_into_a_file_that_would_be_replaced_is_refused(
    site: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n")
    out = tmp_path / "results.csv"
    earlier = f"url,source,line,outcome,ok\n{site}/ok,{urls},1,ok,true\n"
    out.write_text(earlier)
    given = [arg.format(out=out) for arg in args]
    result = scrapy_crawl("-a", f"urls={urls}", "-a", f"resume={out}", *given)
    assert result.returncode == 1, result.stderr[-2000:]
    assert message.format(out=out) in result.stderr
    assert "Traceback" not in result.stderr
    assert "Spider opened" not in result.stderr  # nothing crawled
    assert out.read_text() == earlier


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("earlier_list", ["same", "other"])
def test_a_not_ok_row_of_the_earlier_run_makes_the_resumed_run_exit_2(
    site: str, tmp_path: Path, suffix: str, earlier_list: str
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/status/404\n{site}/ok?3\n")
    source = str(urls) if earlier_list == "same" else "other.txt"
    earlier = [
        {"url": f"{site}/ok", "source": str(urls), "line": 1, "outcome": "ok", "ok": True},
        {"url": f"{site}/status/404", "source": source, "line": 2, "outcome": "http_error",
         "ok": False},
    ]  # fmt: skip
    out = tmp_path / f"results{suffix}"
    if suffix == ".csv":
        out.write_text(
            "url,source,line,outcome,ok\n"
            + "".join(
                f"{r['url']},{r['source']},{r['line']},{r['outcome']},{str(r['ok']).lower()}\n"
                for r in earlier
            )
        )
    else:
        out.write_text("".join(json.dumps(row) + "\n" for row in earlier))
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-a", f"resume={out}", "-o", str(out), "-s", "CRAWLER_SCRAPY_LOG=True"
    )  # fmt: skip  # with Scrapy's stats dump
    if earlier_list == "same":  # only line 3 is checked, and it is ok: line 2 is not
        assert result.returncode == 2, result.stderr[-2000:]
        assert "'crawler/rows_resumed_not_ok_count': 1" in result.stderr
        assert [row["line"] for row in read_rows(out)] in ([1, 2, 3], ["1", "2", "3"])
    else:  # line 2 of another list is no row of this job: lines 2 and 3 are checked
        assert result.returncode == 2, result.stderr[-2000:]  # line 2 is a 404 here too
        assert "crawler/rows_resumed_not_ok_count" not in result.stderr


@pytest.mark.parametrize(
    ("name", "listing"),
    [
        ("urls.csv", "url\n{site}/ok\n{site}/ok?2"),
        ("urls.jsonl", '{{"url": "{site}/ok"}}\n{{"url": "{site}/ok?2"}}'),
    ],
)
def test_resume_given_the_input_list_leaves_it_untouched(
    site: str, tmp_path: Path, name: str, listing: str
) -> None:
    """The list itself passed as ``resume`` (saved without a final newline, as editors do)."""
    urls = tmp_path / name
    urls.write_text(listing.format(site=site))
    before = urls.read_bytes()
    out = tmp_path / f"results{urls.suffix}"
    result = scrapy_crawl("-a", f"urls={urls}", "-a", f"resume={urls}", "-o", str(out))
    assert result.returncode == 1, result.stderr[-2000:]
    (error,) = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert f"resume={urls} is not an output of this checker" in error
    assert "Spider opened" not in result.stderr  # nothing crawled
    assert urls.read_bytes() == before  # the last URL is still there


def test_a_cut_off_row_of_a_resume_file_read_only_is_dropped_in_memory(
    site: str, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/ok?2\n")
    earlier = tmp_path / "earlier.jsonl"
    row = {"url": f"{site}/ok", "source": str(urls), "line": 1, "outcome": "ok", "ok": True}
    earlier.write_text(json.dumps(row) + "\n" + json.dumps({**row, "line": 2})[:30])
    before = earlier.read_bytes()
    rest = tmp_path / "rest.jsonl"
    result = scrapy_crawl("-a", f"urls={urls}", "-a", f"resume={earlier}", "-O", str(rest))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [row["line"] for row in read_rows(rest)] == [2]
    assert earlier.read_bytes() == before  # not an output of this run: never changed


def test_a_typo_in_resume_with_o_onto_an_existing_output_is_refused(
    site: str, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n{site}/ok?2\n")
    out = tmp_path / "results.csv"
    earlier = f"url,source,line,outcome,ok\n{site}/ok,{urls},1,ok,true\n"
    out.write_text(earlier)
    typo = tmp_path / "resluts.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-a", f"resume={typo}", "-o", str(out))
    assert result.returncode == 1, result.stderr[-2000:]
    (error,) = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert f"-o {out} appends to a file with rows that resume={typo} does not name" in error
    assert "Spider opened" not in result.stderr  # nothing crawled
    assert out.read_text() == earlier


def test_appending_to_an_empty_output_or_a_header_alone_with_a_new_resume_file(
    site: str, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n")
    out = tmp_path / "results.csv"
    out.write_text("url,source,line,outcome,ok\n")  # a run stopped before its first row
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-a", f"resume={tmp_path / 'new.csv'}", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert [row["line"] for row in read_rows(out)] == ["1"]
