"""Documented features on the path a user takes: a real ``scrapy crawl`` subprocess each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests._apps import checker_app
from tests._crawl import read_rows
from tests._scrapy import scrapy_crawl

if TYPE_CHECKING:
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
