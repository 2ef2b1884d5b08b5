"""Fragments: whether a page holds the anchor that a link's ``#fragment`` points at.

Both spiders check them (``CRAWLER_FRAGMENTS``): the ``site`` spider for the links it finds
(``docs/site.md``), the ``urls`` spider for the list entries that carry a fragment, each page
fetched once, with GET, for all of its entries (:class:`FragmentEntries`,
``docs/checking.md``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, TypeVar
from urllib.parse import unquote

from parsel import Selector
from scrapy.http import TextResponse

from crawler.checker.methods import is_html
from crawler.checker.outcomes import Outcome
from crawler.checker.rows import entry_row
from crawler.redact import DEFAULT, Redactor

if TYPE_CHECKING:
    from typing import Self

    from scrapy.http import Response

    from crawler.items import UrlResult
    from crawler.sources import UrlEntry

FRAGMENT_ALWAYS_THERE: Final = frozenset({"", "top"})
"""Fragments a browser scrolls to without any element (HTML: the top of the page)."""
TEXT_FRAGMENT: Final = ":~:"
"""How a text fragment (``#:~:text=…``) starts: it names text on the page, not an anchor."""
MAX_PAGES_WITH_ANCHORS: Final = 10_000
"""Pages whose anchors are kept for the fragments read later (the oldest go first)."""
MAX_WAITING_ENTRIES: Final = 10_000
"""List entries waiting for their page's response; the list is read on once fewer wait."""
FRAGMENT_META_KEY: Final = "checked_fragment"
"""``request.meta`` key of ``(page fingerprint, fragment)`` on the request of a page fetched
for the fragments of list entries."""
_ANCHORS: Final = "//@id|//a/@name"

V = TypeVar("V")


def anchored(fragment: str, anchors: frozenset[str]) -> bool:
    """Whether a page with ``anchors`` holds the target of ``#fragment``: an ``id`` or an
    ``<a name>`` equal to it, as written or percent-decoded. The top of the page (``#``,
    ``#top``) and text fragments are always there."""
    if fragment.lower() in FRAGMENT_ALWAYS_THERE or fragment.startswith(TEXT_FRAGMENT):
        return True
    return fragment in anchors or unquote(fragment) in anchors


def checked_fragment(url: str) -> str | None:
    """The fragment of ``url`` that its page must hold an anchor for; ``None`` for a URL
    without one, or with one that is always there (:func:`anchored`)."""
    _, hash_sign, fragment = url.partition("#")
    if not hash_sign or anchored(fragment, frozenset()):
        return None
    return fragment


def fragment_key(page: int, fragment: str) -> int:
    """A fingerprint of ``page#fragment``, ``page`` being the page's URL fingerprint."""
    digest = hashlib.blake2b(f"{page}#{fragment}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def missing_error(fragment: str) -> str:
    """The ``error`` of a ``missing_fragment`` row."""
    return f"the page has no element with id={fragment[:100]!r} (nor <a name>)"


def html_selector(html: str) -> Selector:
    """The page ``html`` parsed as HTML, whatever its text looks like: never a JSON document
    (a page whose text is a JSON array), never namespaced XML (an XHTML page after its XML
    declaration, whose elements would match no HTML name)."""
    return Selector(text=html, type="html")


def selector_anchors(selector: Selector) -> frozenset[str]:
    """The fragments a parsed page holds a target for: every ``id``, and the ``name`` of
    ``<a>``."""
    return frozenset(selector.root.xpath(_ANCHORS, smart_strings=False))


def html_anchors(html: str) -> frozenset[str]:
    """:func:`selector_anchors` of the HTML text ``html``."""
    return selector_anchors(html_selector(html))


def response_anchors(response: Response) -> frozenset[str] | None:
    """The anchors of a 2xx HTML response read whole; ``None`` for any other response (its
    fragments cannot be looked for)."""
    if (
        200 <= response.status < 300
        and isinstance(response, TextResponse)
        and is_html(response.headers.get(b"Content-Type"))
        and "download_stopped" not in response.flags
    ):
        return html_anchors(response.text)
    return None


class PageStore(Generic[V]):
    """What is kept of the last pages read, by page fingerprint, in bounded memory: past
    ``max_pages``, the page kept first goes."""

    def __init__(self, max_pages: int = MAX_PAGES_WITH_ANCHORS) -> None:
        self.max_pages = max_pages
        self._pages: OrderedDict[int, V] = OrderedDict()

    def keep(self, page: int, value: V) -> None:
        """Keep ``value`` for ``page``."""
        self._pages[page] = value
        if len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)

    def get(self, page: int) -> V | None:
        """What was kept for ``page``, or ``None``."""
        return self._pages.get(page)

    def __contains__(self, page: object) -> bool:
        return page in self._pages


@dataclass(frozen=True, slots=True)
class PageResult:
    """What a page fetched for the fragments of list entries says to each of them."""

    anchors: frozenset[str] | None
    """``None`` when the page was not read (not 2xx, not HTML, failed): its fragments take
    its outcome."""
    status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    outcome: str | None = None
    """The outcome of the page's row before it is judged (``None`` for a response)."""
    error: str | None = None

    @classmethod
    def of(cls, row: UrlResult, anchors: frozenset[str] | None) -> Self:
        """The result of the page whose row (not judged yet) is ``row``."""
        return cls(anchors, row.status, row.final_url, row.content_type, row.outcome, row.error)

    def judge(self, row: UrlResult, fragment: str) -> None:
        """Make ``row`` ``missing_fragment`` when the page was read and has no anchor for
        ``fragment``; leave it otherwise (the pipeline judges its status)."""
        if self.anchors is not None and not anchored(fragment, self.anchors):
            row.outcome, row.error = Outcome.MISSING_FRAGMENT, missing_error(fragment)

    def row(self, entry: UrlEntry, fragment: str, *, redactor: Redactor = DEFAULT) -> UrlResult:
        """The row of ``entry`` (the page with ``#fragment``), which made no request of its
        own: the page's status, final URL (with this fragment), content type and outcome, no
        timings."""
        row = entry_row(entry, redactor=redactor)
        row.status, row.content_type = self.status, self.content_type
        if self.final_url is not None:
            row.final_url = redactor.url(f"{self.final_url.partition('#')[0]}#{fragment}")
        row.outcome, row.error = self.outcome, self.error
        self.judge(row, fragment)
        return row


class FragmentEntries:
    """The list entries with a fragment of a ``urls`` crawl: one request per page for all.

    The first entry of a page fetches it; the entries read while it is in flight wait for it
    and get their rows with its own (:meth:`page_done`); those read later get theirs at once
    from its :class:`PageResult`, kept for the last :data:`MAX_PAGES_WITH_ANCHORS` pages.
    """

    def __init__(
        self,
        *,
        max_pages: int = MAX_PAGES_WITH_ANCHORS,
        max_waiting: int = MAX_WAITING_ENTRIES,
        redactor: Redactor = DEFAULT,
    ) -> None:
        self.results: PageStore[PageResult] = PageStore(max_pages)
        self.max_waiting = max_waiting
        self.redactor = redactor
        self.waiting = 0
        """Entries waiting for their page."""
        self._in_flight: dict[int, list[tuple[UrlEntry, str]]] = {}

    @property
    def full(self) -> bool:
        """Whether :data:`MAX_WAITING_ENTRIES` entries wait: read no more entries for now."""
        return self.waiting >= self.max_waiting

    def known(self, entry: UrlEntry, page: int, fragment: str) -> UrlResult | None:
        """The row of ``entry`` when its page's result is kept, else ``None``."""
        result = self.results.get(page)
        return None if result is None else result.row(entry, fragment, redactor=self.redactor)

    def wait(self, entry: UrlEntry, page: int, fragment: str) -> bool:
        """Let ``entry`` wait for its page if that is in flight; ``False`` if it is not."""
        waiting = self._in_flight.get(page)
        if waiting is None:
            return False
        waiting.append((entry, fragment))
        self.waiting += 1
        return True

    def fetching(self, page: int) -> None:
        """Mark ``page`` in flight: the entries read from now on wait for it."""
        self._in_flight.setdefault(page, [])

    def page_done(
        self, page: int, fragment: str, row: UrlResult, anchors: frozenset[str] | None
    ) -> list[UrlResult]:
        """The rows of a page's response or failure: ``row``, that of the entry that fetched
        it (for ``#fragment``), then those of the entries that waited for it."""
        result = PageResult.of(row, anchors)
        self.results.keep(page, result)
        result.judge(row, fragment)
        waited = self._in_flight.pop(page, [])
        self.waiting -= len(waited)
        return [row, *(result.row(entry, name, redactor=self.redactor) for entry, name in waited)]

    def page_dropped(self, page: int) -> None:
        """Forget the entries waiting for a page the crawl stopped before fetching (their rows
        are left to ``resume``)."""
        self.waiting -= len(self._in_flight.pop(page, []))
