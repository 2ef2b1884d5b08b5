"""Kills and resume: after any stop, one resumed run gives every entry exactly one row."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from typing import TYPE_CHECKING

import pytest

from crawler.resume import done_entries, drop_cut_line, entry_key
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
    # Exit 2 when the resumed run itself wrote a row that is not ok (the bad lines come out
    # first, so the stopped run may already have written every one of them).
    not_ok = [row for row in rows[before:] if row["ok"] in (False, "false")]
    assert second.returncode == (2 if not_ok else 0), stderr.decode()[-2000:]

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
