"""One parse of a URL for every decision about it: the parse of the request that checks it.

A Scrapy ``Request`` sends w3lib's ``safe_url_string`` of its URL, which reads it the WHATWG
way (``\\`` is ``/``, the user info ends at the last ``@`` before the path, fullwidth dots are
dots, a Unicode host is IDNA-encoded). :func:`host_of` takes the host from that form, so every
per-host setting (``CRAWLER_HOSTS``, ``CRAWLER_SLO_HOSTS``) applies to the host the request
connects to, never to the one Python's ``urlsplit`` reads in the raw text.

Most URLs of a list are plain (``https://host/path?key=value``, nothing to escape or
normalise): :func:`request_url` and :func:`canonical_url` recognise them and return the answer
w3lib would give without its full parse, which is most of the cost of reading an entry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

from w3lib.url import canonicalize_url, safe_url_string

NOT_UNICODE = "URL is not valid Unicode (a lone surrogate)"
"""The error of an entry whose URL holds half a character (JSON's ``"\\ud800"``)."""


_PLAIN = re.compile(
    r"(?P<scheme>https?)://(?P<host>[a-z0-9.-]+)(?::(?P<port>[1-9][0-9]{0,4}))?"
    # no percent-escape, no ;params (and no dot segment: see _plain)
    r"(?P<path>(?:/[A-Za-z0-9._~!$&()*+,=:@-]*)*)"
    r"(?:\?(?P<query>[A-Za-z0-9._~-]+=[A-Za-z0-9._~-]*(?:&[A-Za-z0-9._~-]+=[A-Za-z0-9._~-]*)*))?"
)
"""A plain URL (with a plain host: :func:`_plain_host`): w3lib's ``safe_url_string`` returns
it as it is, and its canonical form (``canonicalize_url``) is itself with the query's pairs
sorted (``/`` for an empty path)."""
_PLAIN_NAME = re.compile(r"(?:(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z][a-z0-9-]{0,62}")
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_ADDRESS = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


@lru_cache(maxsize=1024)
def _plain_host(host: str) -> bool:
    """Whether ``host`` is a lower-case name whose last label starts with a letter (a number
    would make it an IPv4 address) or a dotted-quad IPv4 address: what w3lib keeps as it is."""
    if _PLAIN_ADDRESS.fullmatch(host):
        return True
    return (
        _PLAIN_NAME.fullmatch(host) is not None
        and not host.rpartition(".")[2].startswith("xn--")
        and not host.endswith("-")
    )


_DEFAULT_PORTS = {"http": "80", "https": "443"}


# An entry's URL is asked about a few times in a row when the spider reads it, and again when
# its row is counted: up to CRAWLER_READ_AHEAD (1,000) queued requests and those in flight later.
@lru_cache(maxsize=2048)
def _plain(url: str) -> re.Match[str] | None:
    """The match of a plain URL (:data:`_PLAIN`), or ``None`` for any other."""
    match = _PLAIN.fullmatch(url)
    if match is None or "/." in match["path"] or not _plain_host(match["host"]):
        return None
    if not match["path"] and match["query"] is not None:
        return None  # w3lib writes the "/" in front of the query
    port = match["port"]
    if port is not None and (int(port) > 65535 or port == _DEFAULT_PORTS[match["scheme"]]):
        return None
    return match


def sent_as_is(url: str) -> bool:
    """Whether a ``Request`` for ``url`` sends it as it is (:func:`request_url` is ``url``)."""
    return _plain(url) is not None


def request_url(url: str) -> str:
    """``url`` as a ``Request`` for it sends it; ``ValueError`` when none can be made."""
    if _plain(url) is not None:
        return url
    return safe_url_string(url, "utf-8")


def canonical_url(url: str) -> str:
    """w3lib's ``canonicalize_url`` of ``url`` (the same text for duplicate URLs)."""
    match = _plain(url)
    if match is None:
        return canonicalize_url(url)
    path, query = match["path"], match["query"]
    base = url[: match.start("path")] + (path or "/")
    if query is None:
        return base
    pairs = query.split("&")
    if len(pairs) > 1:
        pairs = ["=".join(pair) for pair in sorted(p.split("=", 1) for p in pairs)]
    return f"{base}?{'&'.join(pairs)}"


def exportable(text: str) -> str:
    """``text``, with lone surrogates escaped (``\\ud800``): no output encoding can write them."""
    if text.isascii():  # most text: no surrogate to look for
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


@lru_cache(maxsize=1024)  # a URL is asked about by the spider, then by the pipeline
def request_parts(url: str) -> SplitResult | None:
    """The parts of :func:`request_url` of ``url``; ``None`` when it cannot be parsed."""
    if (match := _plain(url)) is not None:  # urlsplit's answer, read off the match
        scheme = match["scheme"]
        netloc = url[len(scheme) + 3 : match.start("path")]
        return SplitResult(scheme, netloc, match["path"], match["query"] or "", "")
    try:
        parts = urlsplit(request_url(url))
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts


def host_of(url: str) -> str | None:
    """The host (lower case) the request for ``url`` connects to; ``None`` without one."""
    if (match := _plain(url)) is not None:
        return match["host"]
    parts = request_parts(url)
    return (parts.hostname or None) if parts is not None else None


def authority_of(url: str) -> str | None:
    """``host``, or ``host:port`` when ``url`` names a port, of :func:`host_of`."""
    if (match := _plain(url)) is not None:
        return url[len(match["scheme"]) + 3 : match.start("path")]
    host = host_of(url)
    if host is None:
        return None
    parts = request_parts(url)
    port = parts.port if parts is not None else None
    return f"{host}:{port}" if port else host
