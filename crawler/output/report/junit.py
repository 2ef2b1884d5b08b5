"""The summary as JUnit XML, for CI test views: every failing row is a failed test case.

Written piece by piece (a million failures need not fit in memory); every text and attribute
is cleaned of the characters XML 1.0 forbids, which a list or a server header can carry.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from crawler.output.report.formatting import where
from crawler.output.summary import host_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from crawler.output.report import FailingRows, PlacesRows

_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: Any) -> str:
    """``value`` as text XML 1.0 allows: each forbidden character becomes ``\\xNN``/``\\uNNNN``."""
    text = "" if value is None else str(value)
    return _FORBIDDEN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _attr(value: Any) -> str:
    return quoteattr(xml_safe(value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _case(failure: Mapping[str, Any]) -> str:
    host = host_of(failure["url"])
    classname = (failure.get("source") or "urls") if host == "(none)" else host
    outcome = failure["outcome"]
    status = failure["status"] if failure["status"] is not None else "none"
    text = f"{where(failure)}\noutcome: {outcome}\nstatus: {status}\n"
    if failure.get("error"):
        text += f"error: {failure['error']}\n"
    return (
        f"    <testcase classname={_attr(classname)} name={_attr(failure['url'])}>\n"
        f"      <failure type={_attr(outcome)} message={_attr(failure.get('error') or outcome)}>"
        f"{escape(xml_safe(text))}</failure>\n"
        "    </testcase>\n"
    )


def _place_case(place: Mapping[str, Any]) -> str:
    outcome = place["outcome"]
    status = place["status"] if place["status"] is not None else "none"
    name = f"{place['url']} ({place['element']}, line {place['line']})"
    text = (
        f"{place['page']}:{place['line']} {place['element']} {place['text']!r}\n"
        f"link: {place['url']}\noutcome: {outcome}\nstatus: {status}\n"
        f"places of this link: {place['found_count']}\n"
    )
    return (
        f"    <testcase classname={_attr(place['page'])} name={_attr(name)}>\n"
        f"      <failure type={_attr(outcome)} message={_attr(f'{outcome}: ' + place['url'])}>"
        f"{escape(xml_safe(text))}</failure>\n"
        "    </testcase>\n"
    )


def stream_junit(
    summary: Mapping[str, Any], failing: FailingRows, places: PlacesRows | None = None
) -> Iterator[str]:
    """One ``<testsuite name="urls">``: a failing case per failing row, one passing case.

    A failing case is named by its URL, classed by its host (by its source file when the URL
    has none) and its text starts with ``source:line``. Accepted rows are one passing case
    (``<N> URLs ok``). With ``places`` (a site crawl's), a second ``<testsuite name="broken
    links by page">`` has a failing case per place, classed by its page.
    """
    failures = sum(sum(1 for _ in failing(outcome)) for outcome in summary["failures"])
    tests = failures + (1 if summary["ok"] else 0)
    placed = 0 if places is None else sum(1 for _ in places())
    yield "<?xml version='1.0' encoding='utf-8'?>\n"
    yield (
        f'<testsuites name="url check" tests="{tests + placed}" failures="{failures + placed}">\n'
    )
    yield (
        f'  <testsuite name="urls" tests="{tests}" failures="{failures}" errors="0" skipped="0">\n'
    )
    if summary["ok"]:
        yield f'    <testcase classname="urls" name="{summary["ok"]} URLs ok" />\n'
    for outcome in summary["failures"]:
        for failure in failing(outcome):
            yield _case(failure)
    yield "  </testsuite>\n"
    if places is not None:
        yield (
            f'  <testsuite name="broken links by page" tests="{placed}" failures="{placed}" '
            'errors="0" skipped="0">\n'
        )
        for place in places():
            yield _place_case(place)
        yield "  </testsuite>\n"
    yield "</testsuites>\n"
