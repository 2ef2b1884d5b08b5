"""One-line integration for any Scrapy project: ``ADDONS = {"crawler.addon.Addon": 0}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.handler.timing_stats import TimingStats
from middlewares.tracking import UrlTrackingMiddleware

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings, Settings

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
HANDLER = "crawler.handler.AiohttpDownloadHandler"
FALLBACK_SETTINGS = {
    "http": "CRAWLER_FALLBACK_HTTP_HANDLER",
    "https": "CRAWLER_FALLBACK_HTTPS_HANDLER",
}


class Addon:
    """Switch http and https to our handler, on the asyncio reactor, with timing stats.

    Everything is written with the ``"addon"`` priority, so the project's own settings win.
    The handlers it replaces are kept in ``CRAWLER_FALLBACK_HTTP(S)_HANDLER`` so that
    add-ons can chain.
    """

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        """Ask for the asyncio reactor; refuse a project that forces another one."""
        if not settings.getbool("TWISTED_REACTOR_ENABLED", True):
            return  # no reactor: Scrapy runs on asyncio itself
        reactor = settings.get("TWISTED_REACTOR")
        if reactor not in (None, ASYNCIO_REACTOR):
            raise ValueError(
                f"crawler.addon.Addon needs the asyncio reactor, but TWISTED_REACTOR is "
                f"{reactor!r}: set TWISTED_REACTOR = {ASYNCIO_REACTOR!r} or remove the add-on"
            )
        settings.set("TWISTED_REACTOR", ASYNCIO_REACTOR, "addon")

    def update_settings(self, settings: Settings) -> None:
        """Install the handler, the URL tracking middleware and the timing stats."""
        handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
        for scheme, fallback_name in FALLBACK_SETTINGS.items():
            current = handlers.get(scheme)
            if current != HANDLER and settings.get(fallback_name) is None:
                settings.set(fallback_name, current, "addon")
            settings["DOWNLOAD_HANDLERS"][scheme] = HANDLER
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", UrlTrackingMiddleware, 950
        )
        settings.setdefault_in_component_priority_dict("EXTENSIONS", TimingStats, 0)
