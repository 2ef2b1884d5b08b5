"""Accepted status ranges."""

from __future__ import annotations

import pytest

from crawler.checker.accept import StatusRanges


def test_inclusive_exclusive_and_single_statuses() -> None:
    ranges = StatusRanges.parse("200..=299, 403,500..502")
    assert [s for s in (199, 200, 299, 300, 403, 404, 500, 501, 502) if s in ranges] == [
        200,
        299,
        403,
        500,
        501,
    ]
    assert str(ranges) == "200..=299,403,500..=501"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "CRAWLER_ACCEPT is empty"),
        ("200-299", "cannot read '200-299'"),
        ("abc", "cannot read 'abc'"),
        ("300..=200", "'300..=200' is not a range of HTTP statuses"),
        ("42", "'42' is not a range of HTTP statuses"),
    ],
)
def test_bad_ranges_name_the_setting(text: str, message: str) -> None:
    with pytest.raises(
        ValueError, match=f"^CRAWLER_ACCEPT.*{message}" if message[0] != "C" else message
    ):
        StatusRanges.parse(text)


def test_status_that_is_not_an_int_is_not_accepted() -> None:
    assert None not in StatusRanges.parse("200")
