"""The plain-URL shortcut of ``crawler.urls`` gives w3lib's answer for every URL it takes."""

from __future__ import annotations

import itertools
from urllib.parse import urlsplit

from scrapy import Request
from w3lib.url import canonicalize_url, safe_url_string

from crawler.checker.spider import UrlCheckSpider
from crawler.sources import UrlEntry
from crawler.urls import (
    _plain,
    authority_of,
    canonical_url,
    host_of,
    request_parts,
    request_url,
)

ODD = [chr(c) for c in range(0x20, 0x7F)] + ["\t", "\x00", "\x7f", "\u00e9", "\uff0e", "\u200b"]
"""Every printable ASCII character and a few others, put in each part of a URL."""

HOSTS = [
    "http://example.com",
    "https://a.b-c.example.org",
    "http://127.0.0.1:8080",
    "http://localhost",
    "HTTP://Example.com",
    "http://EXAMPLE.com",
    "http://xn--caf-dma.com",
    "http://xn--a.com",
    "http://1.2.3",
    "http://1.2.3.4.5",
    "http://256.1.1.1",
    "http://0x7f.0.0.1",
    "http://01.2.3.4",
    "http://a.123",
    "http://a.0x1",
    "http://example.com.",
    "http://-a.com",
    "http://a-.com",
    "http://ab--cd.com",
    "http://" + "a" * 64 + ".com",
    "http://" + "a" * 63 + ".com",
    "http://example.com:80",
    "https://example.com:443",
    "https://example.com:80",
    "http://example.com:0",
    "http://example.com:65535",
    "http://example.com:65536",
    "http://example.com:08080",
    "http://example.com:",
    "http://user@example.com",
    "http://u:p@example.com",
    "https://[::1]:8443",
    "ftp://example.com",
    "mailto:x@example.com",
]
PATHS = [
    "",
    "/",
    "/a",
    "/a/b/",
    "/./a",
    "/../a",
    "/a/..",
    "/a/.",
    "/.well-known/x",
    "/a..b",
    "/a.",
    "/a;b",
    "/a%20b",
    "/a%2fb",
    "/%7e",
    "/~user",
    "/a b",
    "/caf\u00e9",
    "/a\\b",
    "//double",
    "/b/7",
    "/!$&()*+,=:@-_",
]
QUERIES = [
    "",
    "?size=1024",
    "?b=2&a=1",
    "?a=1&a=0",
    "?a=1&b=2&a=0",
    "?a",
    "?a=",
    "?a=1&",
    "?&a=1",
    "?a=1=2",
    "?a=b+c",
    "?a=%20",
    "?=v",
    "?a=1&b",
    "?z=1&y=2&x=3",
    "?a=1#f",
    "#frag",
    "?",
    "?a=1?b=2",
    "?B=1&a=2",
    "?a.b=1&a-b=2&a~b=3&a_b=4",
]


def corpus() -> list[str]:
    urls = ["".join(parts) for parts in itertools.product(HOSTS, PATHS, QUERIES)]
    for c in ODD:
        urls += [
            f"http://ex{c}ample.com/",
            f"http://example.com/a{c}b",
            f"http://example.com/{c}",
            f"http://example.com/a?k{c}=v",
            f"http://example.com/a?k=v{c}",
            f"http://example.com/a?k=v&{c}=w",
            f"{c}http://example.com/",
            f"http://example.com/{c}",
            f"http{c}://example.com/",
        ]
    return urls


def w3lib_or_error(function: object, url: str) -> str | type[Exception]:
    try:
        return function(url)  # type: ignore[operator, no-any-return]
    except ValueError as e:
        return type(e)


def test_request_url_is_safe_url_string() -> None:
    def theirs(url: str) -> str:
        return safe_url_string(url, "utf-8")

    mismatches = [
        url for url in corpus() if w3lib_or_error(request_url, url) != w3lib_or_error(theirs, url)
    ]
    assert mismatches == []


def test_canonical_url_is_canonicalize_url() -> None:
    mismatches = [
        url
        for url in corpus()
        if w3lib_or_error(canonical_url, url) != w3lib_or_error(canonicalize_url, url)
    ]
    assert mismatches == []


def test_request_parts_are_those_of_urlsplit() -> None:
    for url in corpus():
        try:
            theirs = urlsplit(safe_url_string(url, "utf-8"))
            theirs.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            assert request_parts(url) is None, url
        else:
            assert request_parts(url) == theirs, url


def test_host_and_authority_are_those_of_urlsplit() -> None:
    for url in corpus():
        try:
            theirs = urlsplit(safe_url_string(url, "utf-8"))
            port = theirs.port
        except ValueError:
            host = authority = None
        else:
            host = theirs.hostname or None
            authority = (f"{host}:{port}" if port else host) if host else None
        assert (host_of(url), authority_of(url)) == (host, authority), url


def test_the_shortcut_takes_the_common_urls() -> None:
    """The shortcut is taken (else it only costs time): plain URLs of names and addresses."""
    for url in (
        "http://127.0.0.1:8080/b/7?size=1024",
        "https://www.example.com/",
        "https://example.com",
        "https://docs.example.org/a/b-c_d.html?q=1&page=2",
    ):
        assert _plain(url) is not None, url
    taken = sum(_plain(url) is not None for url in corpus())
    assert taken > 1000


def test_requests_for_plain_urls_are_those_scrapy_makes() -> None:
    """The spider lets a ``Request`` take a plain URL as it is: the same URL, the same meta."""
    spider = UrlCheckSpider()
    for url in corpus():
        try:
            theirs = Request(url)
        except ValueError:
            continue
        ours = spider.make_request(UrlEntry(url=url, source="list", line=1))
        assert ours.url == theirs.url, url
        assert "verbatim_url" not in ours.meta
        assert ours.copy().url == theirs.url
