"""An input that breaks off mid-crawl, or a resume file that cannot be read: one line, exit 1."""

from __future__ import annotations

import gzip
import re
from typing import TYPE_CHECKING

import pytest

from tests._apps import checker_app
from tests._crawl import read_rows
from tests._scrapy import scrapy_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop


@pytest.fixture(scope="module")
def site(server_loop: ServerLoop) -> str:
    return server_loop.http(checker_app())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "] ERROR: " in line]


def test_a_list_cut_off_mid_crawl_keeps_every_row_read(site: str, tmp_path: Path) -> None:
    whole = gzip.compress("".join(f"{site}/ok?i={i}\n" for i in range(3000)).encode())
    urls = tmp_path / "urls.txt.gz"
    urls.write_bytes(whole[: len(whole) // 2])  # past the first 8 KiB checked when opened
    out = tmp_path / "out.csv"
    result = scrapy_crawl("-a", f"urls={urls}", "-O", str(out))
    assert result.returncode == 1, result.stderr[-3000:]
    (error,) = error_lines(result.stderr)
    read = re.search(r"is unreadable after line (\d+)", error)
    assert read, error
    assert "Traceback" not in result.stderr
    assert "Stopped before the end: input_error" in result.stderr
    rows = read_rows(out)
    assert sorted(int(row["line"]) for row in rows) == list(range(1, int(read[1]) + 1))
    assert {row["outcome"] for row in rows} == {"ok"}


@pytest.mark.parametrize("kind", ["directory", "not utf-8"])
def test_a_resume_file_that_cannot_be_read(site: str, tmp_path: Path, kind: str) -> None:
    earlier = tmp_path / "earlier.csv"
    if kind == "directory":
        earlier.mkdir()
    else:
        earlier.write_bytes(b"url,source,line,outcome\n\xff\xfe,a,1,ok\n")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site}/ok\n")
    result = scrapy_crawl(
        "-a", f"urls={urls}", "-a", f"resume={earlier}", "-O", str(tmp_path / "o.csv")
    )
    assert result.returncode == 1, result.stderr[-3000:]
    (error,) = error_lines(result.stderr)
    assert f"resume={earlier} cannot be read" in error
    assert "Traceback" not in result.stderr
