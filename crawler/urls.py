"""One parse of a URL for every decision about it: the parse of the request that checks it.

A Scrapy ``Request`` sends w3lib's ``safe_url_string`` of its URL, which reads it the WHATWG
way (``\\`` is ``/``, the user info ends at the last ``@`` before the path, fullwidth dots are
dots, a Unicode host is IDNA-encoded). :func:`host_of` takes the host from that form, so every
per-host setting (``CRAWLER_HOSTS``, ``CRAWLER_SLO_HOSTS``) applies to the host the request
connects to, never to the one Python's ``urlsplit`` reads in the raw text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from urllib.parse import SplitResult

NOT_UNICODE = "URL is not valid Unicode (a lone surrogate)"
"""The error of an entry whose URL holds half a character (JSON's ``"\\ud800"``)."""


def request_url(url: str) -> str:
    """``url`` as a ``Request`` for it sends it; ``ValueError`` when none can be made."""
    return safe_url_string(url, "utf-8")


def exportable(text: str) -> str:
    """``text``, with lone surrogates escaped (``\\ud800``): no output encoding can write them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


@lru_cache(maxsize=1024)  # a URL is asked about by the spider, then by the pipeline
def request_parts(url: str) -> SplitResult | None:
    """The parts of :func:`request_url` of ``url``; ``None`` when it cannot be parsed."""
    try:
        parts = urlsplit(request_url(url))
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts


def host_of(url: str) -> str | None:
    """The host (lower case) the request for ``url`` connects to; ``None`` without one."""
    parts = request_parts(url)
    return (parts.hostname or None) if parts is not None else None


def authority_of(url: str) -> str | None:
    """``host``, or ``host:port`` when ``url`` names a port, of :func:`host_of`."""
    host = host_of(url)
    if host is None:
        return None
    parts = request_parts(url)
    port = parts.port if parts is not None else None
    return f"{host}:{port}" if port else host
