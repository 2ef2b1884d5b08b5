"""The checker: one input entry, one request, one row, judged.

``crawler.checker.UrlCheckSpider`` is the base spider to subclass (see ``docs/checking.md``); it
is imported on first use, so the checker's rules (accept, outcomes, rows) load without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.checker.spider import UrlCheckSpider

__all__ = ["UrlCheckSpider"]


def __getattr__(name: str) -> Any:
    if name == "UrlCheckSpider":
        from crawler.checker.spider import UrlCheckSpider

        return UrlCheckSpider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
