"""Which worker checks which entry: every entry exactly one, duplicates together."""

from __future__ import annotations

import pytest

from crawler.scale.shard import Shard, parse_workers, url_fingerprint
from crawler.sources import UrlEntry


def entries() -> list[UrlEntry]:
    urls = [f"http://h{i % 7}.example/p?b=2&a={i}" for i in range(300)]
    urls += ["http://h3.example/p?a=3&b=2", "HTTP://h3.example/p?b=2&a=3"]  # = line 4's URL
    urls += ["not a url", "", "http://[::1"]
    found = [UrlEntry(url, "list.txt", line) for line, url in enumerate(urls, 1)]
    found.append(UrlEntry("", "list.txt", len(found) + 1, error="undecodable bytes"))
    return found


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_every_entry_has_exactly_one_worker(count: int) -> None:
    shards = [Shard(index, count) for index in range(count)]
    for entry in entries():
        assert sum(shard.owns(entry) for shard in shards) == 1, entry


def test_duplicates_of_a_url_meet_in_one_worker_and_work_is_spread() -> None:
    shards = [Shard(index, 3) for index in range(3)]
    by_line = {entry.line: entry for entry in entries()}
    first, again, again_cased = by_line[4], by_line[301], by_line[302]
    assert len({url_fingerprint(e.url) for e in (first, again, again_cased)}) == 1
    owners = [[s.owns(e) for s in shards] for e in (first, again, again_cased)]
    assert owners[0] == owners[1] == owners[2]
    shares = [sum(shard.owns(entry) for entry in entries()) for shard in shards]
    assert min(shares) > len(entries()) / 3 * 0.7, shares


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_a_bad_shard_is_one_line(text: str) -> None:
    with pytest.raises(ValueError, match="must look like 2/4"):
        Shard.parse(text)


def test_shards_read_as_users_count() -> None:
    assert Shard.parse("2/4") == Shard(1, 4)
    assert str(Shard(1, 4)) == "2/4"


def test_workers_setting() -> None:
    assert parse_workers("3") == 3
    assert parse_workers(" auto ") >= 1
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match="CRAWLER_WORKERS must be a number of processes"):
            parse_workers(bad)
