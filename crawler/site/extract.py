"""The links of an HTML page, read with parsel: every URL a reader follows or a browser loads.

See ``docs/site.md`` for the elements read and how URLs are resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import urldefrag, urljoin, urlsplit

from crawler.checker.fragments import html_selector, selector_anchors

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

LINK_ATTRIBUTES: Final[dict[str, tuple[str, ...]]] = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "script": ("src",),
    "iframe": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "object": ("data",),
    "embed": ("src",),
}
"""The attributes read for links, by element (``meta http-equiv=refresh`` is read too)."""

IGNORED_SCHEMES: Final = ("javascript:", "data:")
"""Links that name no resource to check."""

TEXT_CHARS: Final = 80
"""Characters of a link's text kept (whitespace collapsed; a longer text ends with ``…``)."""

RESOLVED_CACHE_SIZE: Final = 16_384
"""Link values kept resolved by :class:`LinkReader` (for the pages of the same host or folder)."""

_TAGS: Final = (*LINK_ATTRIBUTES, "meta")
_ONE_URL: Final = {
    tag: (names[0], f"{tag}@{names[0]}")
    for tag, names in LINK_ATTRIBUTES.items()
    if len(names) == 1 and names[0] != "srcset"
}
"""The elements with one attribute holding one URL: that attribute and the link's ``element``."""
_REFRESH_URL: Final = re.compile(r"""^\s*\d*(?:\.\d*)?\s*[;,]?\s*url\s*=\s*['"]?([^'"]*)""", re.I)
_ASCII_WHITESPACE: Final = re.compile(r"[\t\n\r]")
_ON_HOST: Final = re.compile(r"/(?!/)|[A-Za-z][A-Za-z0-9+.-]*://[^/?#]")
"""A value whose URL is the same on every page of a scheme and host (RFC 3986, 5.2.2): an
absolute path, or a URL with its host."""
_MISSING: Final[tuple[str, str | None]] = ("", None)
"""Not kept (compared by identity)."""
_Kept = dict[str, tuple[str, str | None] | None]


class FoundLink(NamedTuple):
    """One link of a page."""

    url: str
    """Absolute, without its fragment."""
    element: str
    """Where it is, as ``tag@attribute`` (``img@srcset``, ``meta@content``)."""
    line: int
    """The line of its element in the page (1 when the parser cannot say)."""
    nofollow: bool = False
    """The element has ``rel=nofollow``."""
    fragment: str | None = None
    """The fragment it points at (``""`` for a bare ``#``), ``None`` without one."""
    text: str = ""
    """What a reader sees of it: its text, else its ``alt`` or ``title`` (:data:`TEXT_CHARS`)."""


@dataclass(slots=True)
class Page:
    """What a page says about its links."""

    links: list[FoundLink] = field(default_factory=list)
    nofollow: bool = False
    """``<meta name=robots content=nofollow>``: none of its links is followed."""
    anchors: frozenset[str] = frozenset()
    """The fragments it holds a target for: every ``id``, and the ``name`` of ``<a>``."""


def srcset_urls(value: str) -> list[str]:
    """The candidate URLs of a ``srcset`` value (each followed by an optional descriptor)."""
    urls: list[str] = []
    position, end = 0, len(value)
    while position < end:
        while position < end and (value[position].isspace() or value[position] == ","):
            position += 1
        start = position
        while position < end and not value[position].isspace():
            position += 1
        url = value[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # skip the descriptors up to the next comma (parentheses aside)
            depth = 0
            while position < end and (value[position] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[position], 0)
                position += 1
        if url:
            urls.append(url)
    return urls


def _absolute(base: str, value: str) -> tuple[str, str | None] | None:
    """``value`` resolved against ``base``, without its fragment, and the fragment (``None``
    without one); ``None`` for a link that names nothing to check. A value urljoin cannot
    read is kept as written."""
    value = _ASCII_WHITESPACE.sub("", value).strip()
    if not value or value.lower().startswith(IGNORED_SCHEMES):
        return None
    try:
        absolute = urljoin(base, value)
    except ValueError:
        return value, None
    url, fragment = urldefrag(absolute)
    return url, (fragment if "#" in absolute else None)


def _refresh(get: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """``(element, URL as written)`` of a ``<meta http-equiv=refresh>``, if it is one."""
    if (get("http-equiv") or "").strip().lower() != "refresh":
        return []
    match = _REFRESH_URL.match(get("content") or "")
    return [("meta@content", match.group(1))] if match and match.group(1).strip() else []


def _values(tag: str, get: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """``(element, URL as written)`` of each URL of one element (``element``: FoundLink's)."""
    found: list[tuple[str, str]] = []
    for name in LINK_ATTRIBUTES[tag]:
        value = get(name)
        if value is None:
            continue
        if name == "srcset":
            found.extend((f"{tag}@{name}", url) for url in srcset_urls(value))
        else:
            found.append((f"{tag}@{name}", value))
    return found


def bounded_text(text: str) -> str:
    """``text`` with whitespace collapsed, cut to :data:`TEXT_CHARS` (ending with ``…``)."""
    text = " ".join(text[: TEXT_CHARS * 4].split())
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1].rstrip() + "\u2026"


def _text(element: Any, get: Callable[[str], str | None]) -> str:
    """The text of a link element (its first characters), else its ``alt`` or ``title``."""
    if len(element):
        parts: list[str] = []
        size = 0
        for part in element.itertext():
            parts.append(str(part))
            size += len(part)
            if size > TEXT_CHARS * 4:
                break
        text = "".join(parts)
    else:  # no child: its text alone
        text = element.text or ""
    if text and (text := bounded_text(text)):
        return text
    return bounded_text(get("alt") or get("title") or "")


def page_links(html: str, url: str) -> Page:
    """The links of the HTML page ``html`` found at ``url`` (:meth:`LinkReader.page_links`)."""
    return LinkReader().page_links(html, url)


class LinkReader:
    """Reads the links of pages, in one pass over each page's tree.

    The URLs that values resolved to are kept (:data:`RESOLVED_CACHE_SIZE` at most) and used
    again wherever the result cannot differ: an absolute path (``/docs/``) or a URL with its
    host on any page of the same scheme and host, a relative path (``../a.html``, no ``:``)
    on any page of the same folder; a value that is only a ``?query`` or ``#fragment`` is
    resolved each time.
    """

    def __init__(self, cache_size: int = RESOLVED_CACHE_SIZE) -> None:
        self._cache_size = cache_size
        self._resolved: dict[tuple[str, ...], _Kept] = {}
        self._size = 0

    def page_links(self, html: str, url: str) -> Page:
        """The links of the HTML page ``html`` found at ``url``, in document order.

        ``<base href>`` (the first one) is honoured; ``javascript:`` and ``data:`` links are
        left out; ``mailto:`` and the like are kept (the checker says what it does with them).
        """
        selector = html_selector(html)
        root = selector.root
        page = Page()
        base = url
        href = next((h for b in root.iter("base") if (h := b.get("href")) is not None), None)
        if href is not None and href.strip():  # the first <base href>, as //base/@href
            base = (_absolute(url, href) or (url, None))[0]
        page.anchors = selector_anchors(selector)
        on_host, in_folder = self._kept(base)
        links = page.links
        for element in root.iter(*_TAGS):
            tag = element.tag
            get = element.get  # an HTML tree: attribute names are lower case already
            values: Sequence[tuple[str, str]]
            if (one := _ONE_URL.get(tag)) is not None:
                if (value := get(one[0])) is None:
                    continue
                values = ((one[1], value),)
            elif tag == "meta":
                if (get("name") or "").strip().lower() == "robots":
                    page.nofollow = page.nofollow or "nofollow" in (get("content") or "").lower()
                    continue
                values = _refresh(get)
            else:
                values = _values(tag, get)
            if not values:
                continue
            line = element.sourceline or 1
            rel = get("rel")
            nofollow = rel is not None and "nofollow" in rel.lower().split()
            text: str | None = None
            for label, value in values:
                absolute = on_host.get(value, _MISSING)
                if absolute is _MISSING:
                    absolute = in_folder.get(value, _MISSING)
                    if absolute is _MISSING:
                        absolute = self._resolve(base, value, on_host, in_folder)
                if absolute is not None:
                    if text is None:
                        text = _text(element, get)
                    links.append(FoundLink(absolute[0], label, line, nofollow, absolute[1], text))
        return page

    def _kept(self, base: str) -> tuple[_Kept, _Kept]:
        """The values kept resolved for the host of ``base``, and for its folder."""
        try:
            parts = urlsplit(base)
        except ValueError:
            return {}, {}  # resolved each time
        if self._size >= self._cache_size or len(self._resolved) >= self._cache_size:
            self._resolved.clear()  # a value, or a folder, past the bound: start again
            self._size = 0
        on_host = self._resolved.setdefault((parts.scheme, parts.netloc), {})
        folder = parts.path[: parts.path.rfind("/") + 1]
        return on_host, self._resolved.setdefault((parts.scheme, parts.netloc, folder), {})

    def _resolve(
        self, base: str, value: str, on_host: _Kept, in_folder: _Kept
    ) -> tuple[str, str | None] | None:
        """:func:`_absolute`, kept for the pages of the host or folder where it is the same."""
        absolute = _absolute(base, value)
        written = _ASCII_WHITESPACE.sub("", value).strip()
        if _ON_HOST.match(written):
            on_host[value] = absolute
            self._size += 1
        elif written and written[0] > " " and written[0] not in "/?#" and ":" not in written:
            in_folder[value] = absolute  # a relative path: resolved from the folder
            self._size += 1
        return absolute
