"""``scrapy crawl site`` against a generated static site served by a real nginx."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bench.rss import poll_rss
from tests._crawl import read_rows
from tests._scrapy import PROJECT_ROOT, run_scrapy, scrapy_command
from tests.nginx_server import REQUIRE, NginxServer, nginx_executable
from tests.site_generator import Planted, big_site, plant_site

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Planted]]:
    """The planted site under nginx, with an outside host (another port, by name) beside it."""
    directory = tmp_path_factory.mktemp("nginx")
    root, outside = directory / "site", directory / "outside"
    server = NginxServer(directory, [root, outside])
    base = server.url(0)
    plan = plant_site(root, outside, base, server.url(1, host="localhost"))
    server.start([plan.site_config, plan.outside_config])
    yield base, plan
    server.stop()


def test_a_site_crawl_under_nginx_finds_exactly_the_planted_broken_links(
    planted: tuple[str, Planted], tmp_path: Path
) -> None:
    base, plan = planted
    out = tmp_path / "links.csv"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/", "-O", str(out), "-s", "LOG_LEVEL=INFO"
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "entries but" not in result.stderr  # every link its row: none missing
    rows = read_rows(out)
    urls = [row["url"] for row in rows]
    assert len(urls) == len(set(urls))  # one row per distinct link
    assert set(urls) == plan.rows
    broken = {(row["url"], row["found_on"]) for row in rows if row["ok"] == "false"}
    assert broken == plan.broken
    fragments = {
        (row["url"], row["found_on"]) for row in rows if row["outcome"] == "missing_fragment"
    }
    assert fragments == plan.missing_fragments
    assert not plan.not_found & set(urls)  # nofollow, and nothing parsed past a redirect out
    by_url = {row["url"]: row for row in rows}
    assert by_url[f"{base}/old.html"]["ok"] == "true"  # a redirect inside, to a page that is
    assert by_url[f"{base}/css/site.css"]["ok"] == "true"
    assert by_url[f"{base}/img/logo-2x.png"]["ok"] == "true"  # from srcset
    assert by_url[f"{base}/other/d.html"]["ok"] == "true"  # through <base href>


def test_robots_txt_and_a_sitemap_index_with_a_gz_part_under_nginx(
    planted: tuple[str, Planted], tmp_path: Path
) -> None:
    base, plan = planted
    out = tmp_path / "links.csv"
    result = run_scrapy(
        "crawl", "site", "-a", f"urls={base}/", "-a", f"sitemap={plan.sitemap}",
        "-O", str(out), "-s", "LOG_LEVEL=INFO",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    rows = read_rows(out)
    urls = [row["url"] for row in rows]
    assert len(urls) == len(set(urls))
    # the seed's crawl, then the pages only the sitemaps name (the .gz part's orphan)
    assert set(urls) == plan.rows | {url for url, _ in plan.orphans}
    found = {(row["url"], row["found_on"]) for row in rows}
    assert plan.orphans <= found
    broken = {(row["url"], row["found_on"]) for row in rows if row["ok"] == "false"}
    assert broken == plan.broken | {pair for pair in plan.orphans if "broken" in pair[0]}
    by_url = {row["url"]: row for row in rows}
    assert by_url[f"{base}/private/secret.html"]["outcome"] == "robots"
    assert by_url[f"{base}/docs/a.html"]["found_on"] != f"{base}/sitemap-a.xml"  # linked first


def test_without_nginx_its_tests_skip_unless_ci_requires_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tests.nginx_server.EXECUTABLE", "/nonexistent/nginx")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install nginx-light"):
        nginx_executable()
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install nginx-light"):
        nginx_executable()


PAGES = 10_000
STATS_DUMP = ("-s", "CRAWLER_SCRAPY_LOG=True")
PEAK_RSS_BOUND_MB = 1024  # generous: a guard against keeping every edge, not a measurement


def test_a_site_of_ten_thousand_pages_gets_every_link_once_in_bounded_memory(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    directory = tmp_path_factory.mktemp("nginx-big")
    server = NginxServer(directory, [directory / "site"])
    site = big_site(directory / "site", server.url(), PAGES)
    server.start()
    out, log = tmp_path / "links.csv", tmp_path / "crawl.log"
    command = scrapy_command("crawl", "site", "-a", f"urls={server.url()}/", "-O", str(out))
    try:
        with log.open("wb") as stderr:
            returncode, readings = poll_rss(
                [*command, *STATS_DUMP], cwd=PROJECT_ROOT, stderr=stderr
            )
    finally:
        server.stop()
    stderr = log.read_text(errors="replace")
    assert returncode == 2, stderr[-3000:]  # the planted broken links
    rows = read_rows(out)
    urls = [row["url"] for row in rows]
    assert len(urls) == len(set(urls))  # every link exactly once
    assert set(urls) == site.urls
    assert f"'crawler/site/links_count': {site.links}," in stderr  # every link on every page read
    assert {row["url"] for row in rows if row["ok"] == "false"} == {
        url for url in site.urls if "/missing/" in url
    }
    peak = max(readings) // 1024
    quarters = [max(readings[: len(readings) * q // 4]) // 1024 for q in (1, 2, 3)]
    print(f"peak RSS by quarter of the crawl (MB): {[*quarters, peak]}")
    assert peak < PEAK_RSS_BOUND_MB
