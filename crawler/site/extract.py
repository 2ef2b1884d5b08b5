"""The links of an HTML page, read with parsel: every URL a reader follows or a browser loads.

See ``docs/site.md`` for the elements read and how URLs are resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urldefrag, urljoin

from parsel import Selector

from crawler.checker.fragments import selector_anchors

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

_XPATH: Final = "|".join(f"//{tag}" for tag in (*LINK_ATTRIBUTES, "meta"))
_REFRESH_URL: Final = re.compile(r"""^\s*\d*(?:\.\d*)?\s*[;,]?\s*url\s*=\s*['"]?([^'"]*)""", re.I)
_ASCII_WHITESPACE: Final = re.compile(r"[\t\n\r]")


@dataclass(frozen=True, slots=True)
class FoundLink:
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


def _values(tag: str, attributes: dict[str, str]) -> list[tuple[str, str]]:
    """``(attribute, URL as written)`` of one element."""
    if tag == "meta":
        if attributes.get("http-equiv", "").strip().lower() != "refresh":
            return []
        match = _REFRESH_URL.match(attributes.get("content", ""))
        return [("content", match.group(1))] if match and match.group(1).strip() else []
    found: list[tuple[str, str]] = []
    for name in LINK_ATTRIBUTES.get(tag, ()):
        value = attributes.get(name)
        if value is None:
            continue
        if name == "srcset":
            found.extend((name, url) for url in srcset_urls(value))
        else:
            found.append((name, value))
    return found


def bounded_text(text: str) -> str:
    """``text`` with whitespace collapsed, cut to :data:`TEXT_CHARS` (ending with ``…``)."""
    text = " ".join(text[: TEXT_CHARS * 4].split())
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1].rstrip() + "\u2026"


def _text(root: object, attributes: dict[str, str]) -> str:
    """The text of a link element (its first characters), else its ``alt`` or ``title``."""
    parts: list[str] = []
    size = 0
    itertext = getattr(root, "itertext", None)
    for part in itertext() if itertext is not None else ():
        parts.append(str(part))
        size += len(part)
        if size > TEXT_CHARS * 4:
            break
    text = bounded_text("".join(parts))
    return text or bounded_text(attributes.get("alt") or attributes.get("title") or "")


def page_links(html: str, url: str) -> Page:
    """The links of the HTML page ``html`` found at ``url``, in document order.

    ``<base href>`` (the first one) is honoured; ``javascript:`` and ``data:`` links are left
    out; ``mailto:`` and the like are kept (the checker says what it does with them).
    """
    selector = Selector(text=html)
    page = Page()
    base = url
    if (href := selector.xpath("//base/@href").get()) is not None and href.strip():
        base = (_absolute(url, href) or (url, None))[0]
    page.anchors = selector_anchors(selector)
    for element in selector.xpath(_XPATH):
        root = element.root
        tag = str(getattr(root, "tag", "")).lower()
        attributes = {str(k).lower(): str(v) for k, v in element.attrib.items()}
        if tag == "meta" and attributes.get("name", "").strip().lower() == "robots":
            page.nofollow = page.nofollow or "nofollow" in attributes.get("content", "").lower()
            continue
        line = getattr(root, "sourceline", None) or 1
        nofollow = "nofollow" in attributes.get("rel", "").lower().split()
        text: str | None = None
        for name, value in _values(tag, attributes):
            if (absolute := _absolute(base, value)) is not None:
                target, fragment = absolute
                if text is None:
                    text = _text(root, attributes)
                page.links.append(
                    FoundLink(target, f"{tag}@{name}", int(line), nofollow, fragment, text)
                )
    return page
