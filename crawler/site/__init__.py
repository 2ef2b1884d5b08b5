"""Site crawls: the checker fed by the links of the pages it fetches (``docs/site.md``).

``crawler.site.SiteCheckSpider`` is imported on first use, so the extraction loads without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.site.spider import SiteCheckSpider

__all__ = ["SiteCheckSpider"]


def __getattr__(name: str) -> Any:
    if name == "SiteCheckSpider":
        from crawler.site.spider import SiteCheckSpider

        return SiteCheckSpider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
