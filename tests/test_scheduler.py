"""The lean scheduler: Scrapy's request order (slot with room, priority, arrival), in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.test import get_crawler

from crawler.scheduler import LEAN_SCHEDULER, LeanScheduler
from crawler.spiders.site import SiteSpider
from tests._apps import checker_app
from tests._asyncio import coroutine_test
from tests._crawl import crawl_urls, project_settings_dict, read_rows, urls_crawler

if TYPE_CHECKING:
    from pathlib import Path

    from tests.servers import ServerLoop

SCRAPY_SCHEDULER = "scrapy.core.scheduler.Scheduler"


def _request(name: str, priority: int = 0, host: str = "a.example") -> Request:
    return Request(f"http://{host}/{name}", priority=priority, dont_filter=True)


def _drain(scheduler: LeanScheduler) -> list[str]:
    names = []
    while (request := scheduler.next_request()) is not None:
        names.append(request.url.rsplit("/", 1)[1])
    return names


def _scheduler_with_slots() -> tuple[LeanScheduler, Downloader]:
    scheduler = LeanScheduler()
    scheduler.downloader = downloader = Downloader(get_crawler())
    return scheduler, downloader


def _busy(downloader: Downloader, host: str, concurrency: int, active: int) -> None:
    downloader.slots[host] = slot = Slot(concurrency, 0.0)
    slot.active.update(_request(f"busy{i}", host=host) for i in range(active))


def test_higher_priority_first_and_first_in_first_out_within_a_priority() -> None:
    scheduler = LeanScheduler()
    for name, priority in [("a", 0), ("b", 0), ("c", 1), ("d", -1), ("e", 1), ("f", 0)]:
        assert scheduler.enqueue_request(_request(name, priority)) is True
    assert scheduler.next_request().url.endswith("/c")  # type: ignore[union-attr]
    scheduler.enqueue_request(_request("g", 2))  # a redirect or retry queued meanwhile
    scheduler.enqueue_request(_request("h", 0))
    assert _drain(scheduler) == ["g", "e", "a", "b", "f", "h", "d"]


def test_breadth_first_with_minus_depth_as_priority() -> None:
    scheduler = LeanScheduler()
    scheduler.enqueue_request(_request("seed", 0))
    scheduler.next_request()
    for name, depth in [("p1", 1), ("p2", 1)]:
        scheduler.enqueue_request(_request(name, -depth))
    scheduler.next_request()  # p1's page yields its links, deeper
    for name in ("p1-a", "p1-b"):
        scheduler.enqueue_request(_request(name, -2))
    assert _drain(scheduler) == ["p2", "p1-a", "p1-b"]


def test_queued_count_and_scrapy_stats() -> None:
    crawler = get_crawler(settings_dict={"STATS_CLASS": "crawler.tuning.LeanStatsCollector"})
    scheduler = LeanScheduler.from_crawler(crawler)
    assert (len(scheduler), scheduler.has_pending_requests()) == (0, False)
    for name in "abc":
        scheduler.enqueue_request(_request(name))
    scheduler.next_request()
    assert (len(scheduler), scheduler.has_pending_requests()) == (2, True)
    scheduler.close("finished")
    assert crawler.stats.get_stats() == {
        "scheduler/enqueued": 3,
        "scheduler/enqueued/memory": 3,
        "scheduler/dequeued": 1,
        "scheduler/dequeued/memory": 1,
    }
    assert scheduler.next_request() is None


def test_slots_with_room_take_turns() -> None:
    scheduler, _ = _scheduler_with_slots()
    for name in ("a1", "a2", "a3"):
        scheduler.enqueue_request(_request(name, host="a.example"))
    for name in ("b1", "b2"):
        scheduler.enqueue_request(_request(name, host="b.example"))
    assert _drain(scheduler) == ["a1", "b1", "a2", "b2", "a3"]


def test_a_full_slot_lets_the_other_hosts_go_first() -> None:
    """A list sorted by host: the next request is one a free place in its slot can start."""
    scheduler, downloader = _scheduler_with_slots()
    _busy(downloader, "a.example", concurrency=2, active=2)
    _busy(downloader, "b.example", concurrency=2, active=1)
    for name in ("a1", "a2"):
        scheduler.enqueue_request(_request(name, priority=5, host="a.example"))
    scheduler.enqueue_request(_request("b1", host="b.example"))
    scheduler.enqueue_request(_request("c1", host="c.example"))
    assert _drain(scheduler) == ["b1", "c1", "a1", "a2"]


def test_when_every_slot_is_full_the_least_busy_goes_first() -> None:
    scheduler, downloader = _scheduler_with_slots()
    _busy(downloader, "a.example", concurrency=1, active=3)
    _busy(downloader, "b.example", concurrency=1, active=2)
    scheduler.enqueue_request(_request("a1", host="a.example"))
    scheduler.enqueue_request(_request("b1", host="b.example"))
    assert scheduler.next_request().url == "http://b.example/b1"  # type: ignore[union-attr]


def test_a_jobdir_is_refused_with_the_fix(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"JOBDIR": str(tmp_path / "job")})
    with pytest.raises(ValueError, match=r"JOBDIR: set SCHEDULER = 'scrapy\.core\.scheduler"):
        LeanScheduler.from_crawler(crawler)


@pytest.mark.parametrize(
    ("given", "scheduler"),
    [
        ({}, LEAN_SCHEDULER),
        ({"SCHEDULER": SCRAPY_SCHEDULER}, SCRAPY_SCHEDULER),
        ({"JOBDIR": "job"}, SCRAPY_SCHEDULER),
        ({"DUPEFILTER_CLASS": "scrapy.dupefilters.RFPDupeFilter"}, SCRAPY_SCHEDULER),
        ({"SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.LifoMemoryQueue"}, SCRAPY_SCHEDULER),
    ],
)
def test_the_spiders_use_it_unless_the_project_chose_scrapys(
    tmp_path: Path, given: dict[str, str], scheduler: str
) -> None:
    assert urls_crawler(tmp_path / "out.csv", **given).settings["SCHEDULER"] == scheduler
    site = get_crawler(SiteSpider, project_settings_dict(**given))
    assert site.settings["SCHEDULER"] == scheduler
    if "SCHEDULER_MEMORY_QUEUE" not in given:  # breadth first with Scrapy's scheduler too
        assert site.settings["SCHEDULER_MEMORY_QUEUE"] == "scrapy.squeues.FifoMemoryQueue"


@coroutine_test
async def test_a_crawl_through_it_gives_every_url_its_row(
    server_loop: ServerLoop, tmp_path: Path
) -> None:
    site = server_loop.http(checker_app())
    listed = tmp_path / "urls.txt"
    urls = [f"{site}/ok", f"{site}/redirect/2", f"{site}/flaky", f"{site}/ok?again"]
    listed.write_text("\n".join(urls) + "\n")
    crawler = await crawl_urls(tmp_path / "out.csv", str(listed))
    rows = read_rows(tmp_path / "out.csv")
    assert sorted(row["url"] for row in rows) == sorted(urls)
    stats = crawler.stats
    assert stats.get_value("scheduler/enqueued") == stats.get_value("scheduler/dequeued")
    assert stats.get_value("scheduler/enqueued") > len(urls)  # the redirect and the retries
